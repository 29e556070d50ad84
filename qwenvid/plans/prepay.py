"""The checks a plan could otherwise fail only after paying, run before anything is sent (dry run and real run).

A plan's later steps run once earlier, paid steps have finished. Anything that would make them fail because
of what the plan says (an output name the download refuses, a tail of a still image, a trim past the end of a
generated clip, a referenced clip outside the model's limits) is found here, against the planned outputs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qwenvid.plans.model import PlanSpec, Problem, Ref, Step, is_reference, parse_reference
from qwenvid.plans.steps import build_request, local_path, map_inputs

VIDEO_SUFFIXES = (".mp4",)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
_PILLOW_FORMAT = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}
EPS = 0.1  # seconds: planned lengths are nominal; a render can be a few frames shorter (or longer)
LOCAL_EPS = 1e-3  # seconds: a local clip's length is known (the clip tools' own rounding)


def prepay_problems(plan: PlanSpec, plan_dir: Path) -> list[Problem]:
    """Every problem a run of `plan` would meet after its first submit, found now."""
    problems = output_name_problems(plan)
    for step in plan.steps.values():
        if step.hidden:
            continue
        problems += _reference_sources(plan, step)
        if step.kind == "media":
            problems += _media_params(step) + _media_lengths(plan, step)
        elif step.refs:
            problems += _referenced_inputs(plan, plan_dir, step)
    return problems


def output_name_problems(plan: PlanSpec) -> list[Problem]:
    """Each output ends as its kind must (the download takes only .mp4), and no name is another file's."""
    problems: list[Problem] = []
    taken: dict[str, str] = {}
    for step in plan.steps.values():
        name = step.output_name()
        allowed = IMAGE_SUFFIXES if step.op == "frame" else VIDEO_SUFFIXES
        if Path(name).suffix.lower() not in allowed:
            what = "a frame step makes an image" if step.op == "frame" else "the step makes a video"
            problems.append(Problem(f"output {name!r} must end in {' or '.join(allowed)} ({what})", step.id))
        taken.setdefault(name.lower(), step.id)
    for step in plan.steps.values():
        if step.kind != "generate":
            continue
        sidecar = step.output_name() + ".json"  # the download writes it beside the video
        owner = taken.get(sidecar.lower())
        if owner is not None and owner != step.id:
            problems.append(Problem(f"output {sidecar!r} is the sidecar of step {step.id!r}'s video", owner))
    return problems


def makes_image(plan: PlanSpec, step_id: str) -> bool:
    step = plan.steps.get(step_id)
    return step is not None and step.op == "frame"


def _reference_sources(plan: PlanSpec, step: Step) -> list[Problem]:
    """A reference part only a video has (its last frame, its last seconds) taken from a still image; sound
    taken from a step whose video has none."""
    problems: list[Problem] = []

    def check(value: str, kind: str) -> str:
        ref = parse_reference(value) if is_reference(value) else None
        if not isinstance(ref, Ref) or ref.step not in plan.steps:
            return value
        if ref.part != "video" and makes_image(plan, ref.step):
            part = ":last-frame" if ref.part == "last_frame" else f":last-{ref.seconds:g}s"
            problems.append(
                Problem(
                    f"{value}: step {ref.step!r} makes a still image, and {part} takes part of a video "
                    f"(use @{ref.step} itself)",
                    step.id,
                )
            )
        elif kind == "audio" and ref.part != "last_frame" and not makes_image(plan, ref.step):
            if has_audio(plan, ref.step) is False:
                problems.append(Problem(f"{value} has no sound track, and this input takes audio", step.id))
        return value

    map_inputs(step, check)
    return problems


def has_audio(plan: PlanSpec, step_id: str, _seen: frozenset[str] = frozenset()) -> bool | None:
    """Whether a step's output will carry sound (None: cannot tell before it exists)."""
    step = plan.steps.get(step_id)
    if step is None or step_id in _seen:
        return None
    seen = _seen | {step_id}
    if step.kind == "generate":
        from qwenvid.catalogue import get_model

        spec = get_model(str(step.fields.get("model") or ""))
        if spec is None:
            return None
        if step.fields.get("audio_file") or step.fields.get("audio_url"):
            return True
        if step.fields.get("audio") is False:
            return False
        return spec.has_audio_by_default
    if step.op == "frame":
        return False
    if step.op == "add_audio":
        return True
    inputs = step.fields.get("inputs") if step.op == "concat" else [step.fields.get("input")]
    answers = [_input_has_audio(plan, value, seen) for value in inputs or [] if isinstance(value, str)]
    if any(answer is True for answer in answers):
        return True
    return None if any(answer is None for answer in answers) else False


def _input_has_audio(plan: PlanSpec, value: str, seen: frozenset[str]) -> bool | None:
    if is_reference(value):
        ref = parse_reference(value)
        return has_audio(plan, ref.step, seen) if isinstance(ref, Ref) else None
    path = local_path(value, plan.base_dir)
    if path is None or not path.is_file():
        return None
    from qwenvid.errors import ValidationError
    from qwenvid.media.inputs import inspect_video

    try:
        return inspect_video(path).has_audio
    except ValidationError:
        return None


def planned_seconds(plan: PlanSpec, value: str) -> float:
    """How long a referenced output will be (0: unknown)."""
    from qwenvid.plans.resolve import input_seconds

    return input_seconds(plan, value)


def _media_params(step: Step) -> list[Problem]:
    """Parameters the clip tools refuse whatever the inputs (qwenvid.media.clips): said now, not mid-run."""
    fields, problems = step.fields, []

    def number(key: str) -> float | None:
        value = fields.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    if step.op == "concat" and isinstance(fields.get("inputs"), list) and len(fields["inputs"]) < 2:
        problems.append(Problem("concat needs at least two inputs", step.id))
    if step.op == "trim":
        start, end, duration = number("start") or 0.0, number("end"), number("duration")
        if end is not None and end <= start:
            problems.append(Problem(f"end {end:g} must be after start {start:g}", step.id))
        if duration is not None and duration <= 0:
            problems.append(Problem("duration must be more than 0 seconds", step.id))
    if step.op == "frame" and (at := number("at")) is not None and at < 0:
        problems.append(Problem(f"at {at:g} is before the start; allowed: first, last or 0 or more seconds", step.id))
    if step.op == "add_audio":
        volume = number("volume")
        if volume is not None and not 0 <= volume <= 10:
            problems.append(Problem(f"volume {volume:g} is out of range; allowed: 0-10", step.id))
    return problems


def _media_lengths(plan: PlanSpec, step: Step) -> list[Problem]:
    """Media parameters against the planned length of a referenced clip (local files are checked as they are)."""
    fields = step.fields
    problems: list[Problem] = []

    def length(value: Any, *, local: bool = False) -> float:
        """A referenced clip's planned length (and with `local`, a local clip's own; validation checks trims)."""
        if not isinstance(value, str) or not (local or is_reference(value)):
            return 0.0
        return planned_seconds(plan, value)

    if step.op == "trim":
        start, seconds = fields.get("start"), length(fields.get("input"))
        if isinstance(start, int | float) and seconds and start >= seconds - EPS:
            problems.append(
                Problem(
                    f"start {start:g} is at or past the end of {fields.get('input')} (planned {seconds:g} s)", step.id
                )
            )
    elif step.op == "frame":
        at, seconds = fields.get("at"), length(fields.get("input"), local=True)
        margin = -EPS if is_reference(fields.get("input")) else LOCAL_EPS  # a planned clip may come out shorter
        if isinstance(at, int | float) and not isinstance(at, bool) and seconds and at > seconds + margin:
            planned = "planned " if margin < 0 else ""
            problems.append(
                Problem(f"at {at:g} is past the end of {fields.get('input')} ({planned}{seconds:g} s)", step.id)
            )
    elif step.op == "concat":
        crossfade = fields.get("crossfade")
        if isinstance(crossfade, int | float) and crossfade > 0:
            lengths = [length(v, local=True) for v in fields.get("inputs") or []]
            known = [s for s in lengths if s]
            if known and crossfade >= min(known) - LOCAL_EPS - EPS * any(is_reference(v) for v in fields["inputs"]):
                problems.append(
                    Problem(
                        f"crossfade {crossfade:g} s is not shorter than the shortest clip ({min(known):g} s)", step.id
                    )
                )
    return problems


def _referenced_inputs(plan: PlanSpec, plan_dir: Path, step: Step) -> list[Problem]:
    """A generation step fed by other steps: the planned files against the model's limits, and its own local
    files as they are (validation could not check the request's files while some did not exist)."""
    from qwenvid.errors import ValidationError
    from qwenvid.media.inputs import check_local_file
    from qwenvid.plans.resolve import placeholder, resolved_fields
    from qwenvid.requests.shapes import input_slots, is_url

    planned = {placeholder(plan_dir, plan, ref): ref for ref in step.refs}
    try:
        request = build_request(step, resolved_fields(plan, plan_dir, step))
        slots = input_slots(request)
    except (ValidationError, TypeError, ValueError):
        return []  # validation reports the request itself
    problems: list[Problem] = []
    for option, value, kind, limits in slots:
        ref = planned.get(value)
        if ref is None:
            if is_url(value):
                continue
            try:
                check_local_file(Path(value).expanduser(), kind, limits, field=option)
            except ValidationError as exc:
                problems.append(Problem(exc.message, step.id))
            continue
        if limits is None:
            continue
        suffix = Path(value).suffix.lower()
        formats = getattr(limits, "formats", ())
        given = _PILLOW_FORMAT.get(suffix, suffix.lstrip(".").upper()) if kind == "image" else suffix.lstrip(".")
        if formats and given not in formats:
            problems.append(
                Problem(f"{option} {ref.text}: {given} is not accepted; allowed: {', '.join(formats)}", step.id)
            )
        if kind == "video":
            seconds = planned_seconds(plan, ref.text)
            low, high = getattr(limits, "min_seconds", 0.0), getattr(limits, "max_seconds", 0.0)
            if seconds and (seconds + EPS < low or (high and seconds - EPS > high)):
                allowed = f"{low:g}-{high:g} s" if low else f"at most {high:g} s"
                problems.append(Problem(f"{option} {ref.text} will be {seconds:g} s long; allowed: {allowed}", step.id))
    return problems
