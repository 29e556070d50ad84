"""Reading plan files: TOML/JSON named steps, JSONL/CSV batches of skill-shaped requests, .txt prompt lists.

Every structural problem found while reading is collected (not raised one at a time) so that the user
sees all of them at once; `PlanInvalid` carries the list.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from qwenvid.errors import ValidationError
from qwenvid.plans.limits import (
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    MAX_PLAN_STEPS,
    MAX_ROW_BYTES,
    MAX_VARIANTS,
    PlanTooLarge,
    short_repr,
    too_deep,
)
from qwenvid.plans.model import GEN_MODES, MEDIA_OPS, STEP_ID, PlanSpec, Problem, Ref, Step, is_reference
from qwenvid.plans.model import parse_reference as _parse_ref
from qwenvid.suggest import did_you_mean

MAX_PROBLEMS = 200  # a batch with more broken rows stops being read (the first ones say what is wrong)
PLAN_SUFFIXES = (".toml", ".json", ".jsonl", ".ndjson", ".csv", ".txt")
# Keys of a step that belong to the plan, not to the request.
STEP_KEYS = frozenset({"id", "mode", "op", "output", "repeat", "seeds", "takes", "cast"})
TOP_KEYS = frozenset({"name", "defaults", "steps", "cast", "narration"})
# Parameters of each media step; the ones holding an input (or a list of inputs) are marked.
MEDIA_PARAMS: dict[str, dict[str, str]] = {
    "trim": {"input": "input", "start": "number", "end": "number", "duration": "number"},
    "tail": {"input": "input", "seconds": "number"},
    "frame": {"input": "input", "at": "at"},
    "concat": {"inputs": "inputs", "crossfade": "number"},
    "add_audio": {"video": "input", "audio": "input", "fit": "fit", "mix": "bool", "volume": "number"},
}
MEDIA_REQUIRED = {
    "trim": ("input", "start"),
    "tail": ("input", "seconds"),
    "frame": ("input",),
    "concat": ("inputs",),
    "add_audio": ("video", "audio"),
}
FIT_CHOICES = ("pad", "loop", "trim")


class PlanInvalid(ValidationError):
    """The plan has problems; every one of them is listed (exit 2, nothing spent)."""

    def __init__(self, problems: list[Problem], source: str = "") -> None:
        # In file order (a batch's rows top to bottom); problems without a line keep their place after them.
        problems = sorted(problems, key=lambda p: (p.line is None, p.line or 0))
        self.problems = problems
        self.source = source
        count = len(problems)
        lines = [p.text(source) for p in problems]
        head = f"The plan has {count} problem{'s' if count != 1 else ''}; nothing was submitted."
        super().__init__(head, hint="Fix them and run again (`--dry-run` checks a plan without spending).")
        self.lines = lines
        self.extra = {"problems": lines}  # the --json error object lists them too

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "problems": self.lines}


def _request_field_names() -> dict[str, frozenset[str]]:
    from qwenvid.requests import performer_requests as performers
    from qwenvid.requests import shapes as requests

    def names(*classes: type) -> frozenset[str]:
        return frozenset(f.name for cls in classes for f in dataclasses.fields(cls))

    return {
        "t2v": names(requests.T2VRequest),
        "i2v": names(requests.I2VRequest),
        "kf2v": names(requests.KF2VRequest),
        "r2v": names(requests.R2VRequest),
        "vace": names(requests.VaceRequest, requests.VideoEditRequest) | {"function"},
        "s2v": names(performers.S2VRequest),
        "animate": names(performers.AnimateRequest),
    }


# Keys of the skill's request JSON that are not already request field names (requests.request_from_skill_json).
SKILL_KEYS = frozenset(
    {
        "model",
        "input",
        "parameters",
        "media",
        "function",
        "audio_url",
        "img_url",
        "reference_image",
        "reference_urls",
        "reference_video_urls",
        "ref_images_url",
        "reference_images",
        "obj_or_bg",
        "first_frame_url",
        "last_frame_url",
        "first_clip_url",
        "last_clip_url",
        "driving_audio_url",
        "video_url",
        "mask_image_url",
        "mask_video_url",
        "template",
    }
)


def generation_keys(mode: str | None) -> frozenset[str]:
    fields = _request_field_names()
    if mode in fields:
        return fields[mode] | SKILL_KEYS
    return frozenset().union(*fields.values()) | SKILL_KEYS


def load_plan(
    path: Path,
    *,
    defaults: Mapping[str, Any] | None = None,
    name: str | None = None,
) -> PlanSpec:
    """Read a plan file into steps (references parsed, defaults applied); PlanInvalid lists every problem.

    `defaults` are command-line flags (`--model`, `--duration` ...): rows and steps override them.
    """
    source = path.name
    suffix = path.suffix.lower()
    if suffix not in PLAN_SUFFIXES:
        raise ValidationError(
            f"{path}: unknown plan format {suffix or '(no extension)'!r}",
            hint="Plans are .toml or .json (named steps), .jsonl/.csv (a batch of requests) "
            "or .txt (one prompt a line).",
        )
    builder = _Builder(source)
    plan_name = name
    try:
        if suffix in (".toml", ".json"):
            if path.stat().st_size > MAX_DOCUMENT_BYTES:
                raise PlanTooLarge(
                    f"{source}: the plan file is larger than {MAX_DOCUMENT_BYTES >> 20} MB",
                    hint="Split the work into several plans, or list many requests in a .jsonl batch.",
                )
            # utf-8-sig: Excel's "CSV UTF-8" (and Notepad) start a file with a BOM; it is not part of the plan
            data = _read_document(path.read_text(encoding="utf-8-sig"), suffix, builder)
            if data is not None:
                plan_name = plan_name or _plan_name(data, builder)
                builder.document(data, dict(defaults or {}))
        else:
            # A batch is read a row at a time, after a quick count: a huge file is refused before any row is built.
            _check_row_count(path, suffix, source)
            with path.open(encoding="utf-8-sig", newline="") as stream:
                for line, row in _read_rows(stream, suffix, builder):
                    builder.batch_row(row, line, dict(defaults or {}), prefix="row" if suffix == ".csv" else "line")
                    if len(builder.problems) >= MAX_PROBLEMS:
                        builder.problem(f"stopped reading after {MAX_PROBLEMS} problems", line=line)
                        break
    except OSError as exc:
        raise ValidationError(f"Cannot read the plan {path}: {exc.strerror or exc}.") from None
    except UnicodeDecodeError:
        raise ValidationError(f"The plan {path} is not UTF-8 text.") from None
    plan_name = plan_name or path.stem
    if not STEP_ID.match(plan_name):
        builder.problem(f"plan name {plan_name!r}: use letters, digits, '-' and '_' (a folder name)")
    builder.add_hidden_steps()
    builder.story(path.resolve().parent)
    if not builder.steps and not builder.problems:
        builder.problem("the plan has no steps")
    if not builder.steps:
        raise PlanInvalid(builder.problems, source)
    # The rest of the problems are listed together with what validation finds (prepare_plan).
    return PlanSpec(
        name=plan_name,
        steps=builder.steps,
        source=path,
        base_dir=path.resolve().parent,
        problems=builder.problems,
        takes=builder.takes,
        notes=builder.notes,
        narration=builder.narration,
        cast_files=builder.cast_files,
    )


def plan_from_data(data: Mapping[str, Any], *, name: str, base_dir: Path) -> PlanSpec:
    """A plan built in code (`qwenvid extend`, the wizard) from the same shape a TOML/JSON file holds."""
    builder = _Builder(name)
    builder.document(dict(data), {})
    builder.add_hidden_steps()
    builder.story(base_dir)
    if not builder.steps:
        raise PlanInvalid(builder.problems or [Problem("the plan has no steps")], name)
    return PlanSpec(
        name=name,
        steps=builder.steps,
        source=None,
        base_dir=base_dir,
        problems=builder.problems,
        takes=builder.takes,
        notes=builder.notes,
        narration=builder.narration,
        cast_files=builder.cast_files,
    )


# -- reading the file formats -------------------------------------------------------------------


_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def _no_duplicates(builder: _Builder) -> Any:
    """A JSON object hook that reports a repeated key (JSON itself would silently keep the last one)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                builder.problem(f"{key!r} appears twice in one object; JSON would keep only the last (rename one)")
            seen[key] = value
        return seen

    return pairs


def _read_document(text: str, suffix: str, builder: _Builder) -> dict[str, Any] | None:
    try:
        data: Any = (
            tomllib.loads(text) if suffix == ".toml" else json.loads(text, object_pairs_hook=_no_duplicates(builder))
        )
    except RecursionError:
        builder.problem(f"tables or lists nest too deeply (at most {MAX_DEPTH} levels)")
        return None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_LINE.search(message)
        builder.problem(
            f"TOML syntax error: {_TOML_LINE.sub('', message).strip()}", line=int(found[1]) if found else None
        )
        return None
    except json.JSONDecodeError as exc:
        builder.problem(f"JSON syntax error: {exc.msg} (column {exc.colno})", line=exc.lineno)
        return None
    if not isinstance(data, dict):
        builder.problem("the plan must be an object with a 'steps' table")
        return None
    if too_deep(data):
        builder.problem(f"tables or lists nest too deeply (at most {MAX_DEPTH} levels)")
        return None
    return data


def _check_row_count(path: Path, suffix: str, source: str) -> None:
    """Refuse a batch with more rows than a plan may have steps, counting lines without parsing them."""
    rows = 0
    with path.open(encoding="utf-8-sig", newline="") as stream:
        lines: Iterable[Any] = csv.reader(stream) if suffix == ".csv" else stream
        for line in lines:
            text = line if isinstance(line, str) else ",".join(line)
            if text.strip() and not text.lstrip().startswith("#"):
                rows += 1
                if rows > MAX_PLAN_STEPS + (1 if suffix == ".csv" else 0):  # a CSV's header is not a row
                    raise PlanTooLarge(f"{source}: the batch has more than {MAX_PLAN_STEPS} rows; that is the most")


def _read_rows(stream: Iterable[str], suffix: str, builder: _Builder) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rows of a batch file, one at a time, each with its line number."""
    if suffix == ".txt":
        for number, line in enumerate(stream, start=1):
            prompt = line.strip()
            if len(line) > MAX_ROW_BYTES:
                builder.problem(f"the line is longer than {MAX_ROW_BYTES >> 10} KB", line=number)
            elif prompt and not prompt.startswith("#"):
                yield number, {"prompt": prompt}
        return
    if suffix in (".jsonl", ".ndjson"):
        for number, line in enumerate(stream, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if len(line) > MAX_ROW_BYTES:
                builder.problem(f"the line is longer than {MAX_ROW_BYTES >> 10} KB", line=number)
                continue
            try:
                data = json.loads(line)
            except RecursionError:
                builder.problem(f"objects or lists nest too deeply (at most {MAX_DEPTH} levels)", line=number)
                continue
            except json.JSONDecodeError as exc:
                builder.problem(f"JSON syntax error: {exc.msg} (column {exc.colno})", line=number)
                continue
            if not isinstance(data, dict):
                builder.problem("each line must be a JSON object (a request)", line=number)
                continue
            if too_deep(data):
                builder.problem(f"objects or lists nest too deeply (at most {MAX_DEPTH} levels)", line=number)
                continue
            yield number, data
        return
    reader = csv.DictReader(stream)
    try:
        if not reader.fieldnames:
            builder.problem("the CSV file has no header row (prompt,model,duration,...)")
            return
        for data in reader:
            number = reader.line_num
            if None in data:
                builder.problem("more cells than header columns", line=number)
                continue
            cells = {
                key.strip(): _csv_value(key.strip(), value)
                for key, value in data.items()
                if key and value not in (None, "")
            }
            if cells:
                yield number, cells
    except csv.Error as exc:
        builder.problem(f"CSV error: {exc}", line=reader.line_num)


_CSV_INTS = frozenset({"duration", "seed", "repeat", "mask_frame_id"})
_CSV_FLOATS = frozenset({"strength", "expand_ratio", "top_scale", "bottom_scale", "left_scale", "right_scale"})
_CSV_BOOLS = frozenset({"prompt_extend", "watermark", "audio"})
_CSV_LISTS = frozenset({"refs", "ref_images", "reference_urls", "ref_images_url", "obj_or_bg", "seeds"})


def _csv_value(key: str, value: str) -> Any:
    """CSV cells are text: numbers, booleans and `;`-separated lists are read by column name."""
    text = value.strip()
    try:
        if key in _CSV_INTS:
            return int(text)
        if key in _CSV_FLOATS:
            return float(text)
    except ValueError:
        return text
    if key in _CSV_BOOLS and text.lower() in ("true", "false", "yes", "no", "1", "0"):
        return text.lower() in ("true", "yes", "1")
    if key in _CSV_LISTS:
        items = [part.strip() for part in text.split(";") if part.strip()]
        return [int(i) if key == "seeds" and i.isdigit() else i for i in items]
    return text


def _plan_name(data: Mapping[str, Any], builder: _Builder) -> str | None:
    name = data.get("name")
    if name is None:
        return None
    if not isinstance(name, str):
        builder.problem("'name' must be a string")
        return None
    return name


# -- building steps -----------------------------------------------------------------------------


class _Builder:
    """Turns raw step tables into Steps, collecting every problem on the way."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.steps: dict[str, Step] = {}
        self.problems: list[Problem] = []
        self.cast: list[str] = []  # the plan's `cast = [...]`
        self.step_cast: dict[str, list[str] | None] = {}  # a generation step's own `cast`, None when not given
        self.takes: dict[str, list[str]] = {}
        self.step_tables: dict[str, dict[str, Any]] = {}  # a generation step's own table (defaults not merged)
        self.notes: list[str] = []
        self.narration_table: Any = None
        self.cast_files: list[str] = []
        self.narration: Any = None

    def problem(self, message: str, step: str | None = None, line: int | None = None) -> None:
        self.problems.append(Problem(message, step, line))

    def document(self, data: dict[str, Any], cli_defaults: dict[str, Any]) -> None:
        for key in sorted(set(data) - TOP_KEYS - {"$schema"}):  # `$schema` names the schema for editors
            hint = did_you_mean(key, TOP_KEYS)
            self.problem(f"unknown top-level key {key!r}{hint} (allowed: name, defaults, steps)")
        defaults = data.get("defaults", {})
        if not isinstance(defaults, dict):
            self.problem("'defaults' must be a table")
            defaults = {}
        merged = {**cli_defaults, **defaults}
        self.narration_table = data.get("narration")
        cast = data.get("cast", [])
        if not isinstance(cast, list) or not all(isinstance(c, str) for c in cast):
            self.problem("'cast' must be a list of cast names, e.g. cast = [\"Mira\", \"Tom\"]")
        else:
            self.cast = list(cast)
        steps = data.get("steps")
        if steps is None:
            self.problem("the plan has no 'steps' table")
            return
        if isinstance(steps, dict):
            items = [(str(key), value) for key, value in steps.items()]
        elif isinstance(steps, list):
            items = []
            for index, value in enumerate(steps, start=1):
                sid = value.get("id") if isinstance(value, dict) else None
                items.append((str(sid) if sid is not None else f"step-{index}", value))
        else:
            self.problem("'steps' must be a table of named steps or a list of steps")
            return
        for sid, table in items:
            if not isinstance(table, dict):
                self.problem("a step must be a table of fields", sid)
                continue
            table = {k: v for k, v in table.items() if k != "id"}
            self.step(sid, table, merged, line=None)

    def batch_row(self, row: dict[str, Any], line: int, cli_defaults: dict[str, Any], prefix: str) -> None:
        sid = str(row.pop("id", None) or f"{prefix}-{line}")
        if "op" in row:
            self.problem("a batch row is one generation; media steps need a TOML or JSON plan", sid, line)
            return
        self.step(sid, row, cli_defaults, line=line)

    def step(self, sid: str, table: dict[str, Any], defaults: dict[str, Any], line: int | None) -> None:
        if not STEP_ID.match(sid):
            self.problem(
                "a step id uses letters, digits, '-' and '_' (at most 64, starting with a letter or digit)", sid, line
            )
            return
        op = table.get("op")
        if op is not None:
            self.media_step(sid, table, line)
        else:
            self.generation_step(sid, table, defaults, line)

    def _add(self, step: Step, line: int | None) -> None:
        if step.id in self.steps:
            self.problem("duplicate step id", step.id, line)
            return
        if len(self.steps) >= MAX_PLAN_STEPS:
            where = f" (at line {line})" if line is not None else ""
            raise PlanTooLarge(
                f"{self.source}: the plan has more than {MAX_PLAN_STEPS} steps{where}; at most {MAX_PLAN_STEPS}"
            )
        self.steps[step.id] = step

    # generation steps

    def generation_step(self, sid: str, table: dict[str, Any], defaults: dict[str, Any], line: int | None) -> None:
        mode = table.get("mode")
        if mode is not None and mode not in GEN_MODES:
            self.problem(f"unknown mode {mode!r} (allowed: {', '.join(GEN_MODES)}; media steps use op =)", sid, line)
            return
        allowed = generation_keys(mode) | STEP_KEYS
        bad = sorted(set(table) - allowed)
        for key in bad:
            self.problem(f"unknown field {key!r}{did_you_mean(key, allowed)}{_known_for(mode)}", sid, line)
        fields = {k: v for k, v in table.items() if k not in STEP_KEYS and k not in bad}
        fields = _with_defaults(fields, defaults, mode)
        output = table.get("output")
        if output is not None and (not isinstance(output, str) or not _safe_name(output)):
            self.problem(f"output {output!r} must be a file name inside the plan folder", sid, line)
            output = None
        variants = self._variants(sid, table, line)
        if variants is None:
            return
        if "takes" in table:
            from qwenvid.story.takes import take_variants

            takes = take_variants(sid, table, fields, self.source, self.problem, line)
            if takes is None:
                return
            variants = takes
            self.takes[sid] = [sid + suffix for suffix, _seed in takes]
        cast = table.get("cast")
        if cast is not None and (not isinstance(cast, list) or not all(isinstance(c, str) for c in cast)):
            self.problem("cast must be a list of cast names", sid, line)
            return
        refs = self._refs(sid, fields, line)
        for index, (suffix, seed) in enumerate(variants):
            vid = sid + suffix
            values = dict(fields)
            if seed is not None:
                values["seed"] = seed
            name = output
            if output and len(variants) > 1:
                stem, dot, ext = output.rpartition(".")
                name = f"{stem}{suffix}.{ext}" if dot else output + suffix
            variant = index + 1 if len(variants) > 1 else None
            self._add(
                Step(vid, "generate", values, mode=mode, output=name, variant=variant, refs=list(refs), line=line), line
            )
            self.step_cast[vid] = list(cast) if cast is not None else None
            self.step_tables[vid] = table

    def _variants(self, sid: str, table: dict[str, Any], line: int | None) -> list[tuple[str, int | None]] | None:
        repeat, seeds = table.get("repeat"), table.get("seeds")
        if repeat is not None and seeds is not None:
            self.problem("give either repeat or seeds, not both", sid, line)
            return None
        if repeat is not None:
            if not isinstance(repeat, int) or isinstance(repeat, bool) or not 1 <= repeat <= MAX_VARIANTS:
                self.problem(f"repeat {short_repr(repeat)} must be a whole number from 1 to {MAX_VARIANTS}", sid, line)
                return None
            return [(f"-{n}", None) for n in range(1, repeat + 1)] if repeat > 1 else [("", None)]
        if seeds is not None:
            if (
                not isinstance(seeds, list)
                or not seeds
                or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
            ):
                self.problem(f"seeds {short_repr(seeds)} must be a list of whole numbers", sid, line)
                return None
            if len(seeds) > MAX_VARIANTS:
                self.problem(f"seeds lists {len(seeds)} seeds; at most {MAX_VARIANTS}", sid, line)
                return None
            if len(set(seeds)) != len(seeds):
                self.problem("seeds lists the same seed twice", sid, line)
                return None
            return [(f"-{n}", seed) for n, seed in enumerate(seeds, start=1)]
        return [("", None)]

    def _refs(self, sid: str, fields: dict[str, Any], line: int | None) -> list[Ref]:
        refs: list[Ref] = []
        for value in _strings(fields):
            if is_reference(value):
                ref = _parse_ref(value)
                if isinstance(ref, str):
                    self.problem(ref, sid, line)
                else:
                    refs.append(ref)
        return refs

    # media steps

    def media_step(self, sid: str, table: dict[str, Any], line: int | None) -> None:
        op = table["op"]
        if op not in MEDIA_OPS:
            self.problem(f"unknown op {op!r} (allowed: {', '.join(MEDIA_OPS)})", sid, line)
            return
        params = MEDIA_PARAMS[op]
        for key in sorted(set(table) - set(params) - {"op", "output"}):
            suggestion = did_you_mean(key, [*params, "output"])
            allowed = ", ".join(params)
            self.problem(f"unknown field {key!r}{suggestion} for op {op} (allowed: {allowed}, output)", sid, line)
        for key in MEDIA_REQUIRED[op]:
            if table.get(key) in (None, "", []):
                self.problem(f"op {op} needs {key!r}", sid, line)
        if op == "trim" and table.get("end") is not None and table.get("duration") is not None:
            self.problem("trim takes end or duration, not both", sid, line)
        fields = {k: v for k, v in table.items() if k in params}
        for key, kind in params.items():
            value = fields.get(key)
            if value is None:
                continue
            if kind == "number" and (not isinstance(value, int | float) or isinstance(value, bool) or value < 0):
                self.problem(f"{key} {value!r} must be a number of seconds >= 0", sid, line)
            elif kind == "input" and not isinstance(value, str):
                self.problem(f"{key} must be a path, a URL or a reference like @step", sid, line)
            elif kind == "inputs" and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
                self.problem(f"{key} must be a list of paths or references", sid, line)
            elif kind == "fit" and value not in FIT_CHOICES:
                self.problem(f"fit {value!r} must be one of {', '.join(FIT_CHOICES)}", sid, line)
            elif kind == "bool" and not isinstance(value, bool):
                self.problem(f"{key} must be true or false", sid, line)
            elif kind == "at" and not (
                value in ("first", "last") or (isinstance(value, int | float) and not isinstance(value, bool))
            ):
                self.problem(f"at {value!r} must be first, last or a number of seconds", sid, line)
        if op == "tail" and isinstance(fields.get("seconds"), int | float) and fields["seconds"] <= 0:
            self.problem("seconds must be more than 0", sid, line)
        output = table.get("output")
        if output is not None and (not isinstance(output, str) or not _safe_name(output)):
            self.problem(f"output {output!r} must be a file name inside the plan folder", sid, line)
            output = None
        self._add(Step(sid, "media", fields, op=op, output=output, refs=self._refs(sid, fields, line)), line)

    def story(self, base_dir: Path) -> None:
        """The cast put into the steps that show it (qwenvid/story/plan_cast.py)."""
        if self.cast or any(c for c in self.step_cast.values()):
            from qwenvid.story.plan_cast import cast_steps

            cast_steps(self, base_dir)
        if self.narration_table is not None:
            from qwenvid.story.narration import read_narration

            try:
                self.narration = read_narration(self.narration_table, [*self.steps, *self.takes])
            except ValidationError as exc:
                self.problem(exc.message)

    def add_hidden_steps(self) -> None:
        """`@x:last-frame` and `@x:last-3s` become hidden frame/tail steps that the graph orders like any other."""
        for step in list(self.steps.values()):
            for ref in step.refs:
                derived = ref.derived_id
                if derived is None or derived in self.steps:
                    continue
                if ref.part == "last_frame":
                    fields: dict[str, Any] = {"input": f"@{ref.step}", "at": "last"}
                    op = "frame"
                else:
                    fields, op = {"input": f"@{ref.step}", "seconds": ref.seconds}, "tail"
                self.steps[derived] = Step(derived, "media", fields, op=op, hidden=True, refs=[Ref(ref.step)])


def _known_for(mode: str | None) -> str:
    if mode is None:
        return " (not a request field of any mode)"
    return f" (not a field of {mode} requests)"


def _safe_name(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and name not in (".", "..") and not name.startswith(".")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _with_defaults(fields: dict[str, Any], defaults: dict[str, Any], mode: str | None) -> dict[str, Any]:
    """Defaults under the step's own fields; a default model only joins steps of that model's mode."""
    from qwenvid.catalogue import get_model

    merged: dict[str, Any] = {}
    per_mode = defaults.get(mode) if mode else None
    flat = {k: v for k, v in defaults.items() if k not in GEN_MODES}
    if isinstance(per_mode, dict):
        flat = {**flat, **per_mode}
    step_mode = mode or _mode_hint(fields)
    for key, value in flat.items():
        if value is None:
            continue
        if key == "model":
            spec = get_model(str(value))
            if "model" in fields or (spec is not None and step_mode is not None and spec.mode != step_mode):
                continue
        merged[key] = value
    merged.update(fields)
    return merged


def _mode_hint(fields: Mapping[str, Any]) -> str | None:
    """The mode fields imply when the step gives no mode (used only to place a default model)."""
    from qwenvid.catalogue import get_model

    model = fields.get("model")
    spec = get_model(str(model)) if model else None
    if spec is not None and not spec.modes:
        return spec.mode
    return infer_mode(fields)


def infer_mode(fields: Mapping[str, Any]) -> str:
    """The mode of a generation step with no `mode`: its model's, else what its inputs say (skill rules)."""
    from qwenvid.catalogue import get_model
    from qwenvid.requests.shapes import detect_mode

    model = fields.get("model")
    spec = get_model(str(model)) if model else None
    if spec is not None and not spec.modes:  # an all-in-one model (Wan 3.0): its inputs say which mode
        return spec.mode
    if spec is not None and spec.mode in ("s2v", "animate"):  # their inputs would read as i2v or vace
        return spec.mode
    if fields.get("function") or fields.get("video") or fields.get("first_clip") or fields.get("mask_image"):
        return "vace"
    if fields.get("refs"):
        return "r2v"
    if fields.get("image") or fields.get("clip") or fields.get("driving_audio"):
        return "i2v"
    if fields.get("first_frame") and fields.get("last_frame"):
        return "kf2v"
    skill = {k: v for k, v in fields.items() if k in SKILL_KEYS}
    return detect_mode(skill) if skill else "t2v"
