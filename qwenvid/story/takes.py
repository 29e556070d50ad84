"""Takes in plans: `takes = N` makes N variations of a step; a pick says which one later steps build on."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PICKS_FILE = "picks.json"
MAX_TAKES = 20


def drawn_seed(source: str, sid: str) -> int:
    """A seed 'drawn' once per plan and step, the same on every rerun (so a rerun reuses, never pays again)."""
    return int.from_bytes(hashlib.sha256(f"{source}\0{sid}".encode()).digest()[:4], "big") % 2147483648


def take_variants(
    sid: str,
    table: Mapping[str, Any],
    fields: Mapping[str, Any],
    source: str,
    problem: Callable[..., None],
    line: int | None,
) -> list[tuple[str, int | None]] | None:
    """[(suffix, seed)] for `takes = N`: seeds seed, seed+1, ... (the step's seed) or drawn from plan and step."""
    takes = table.get("takes")
    if table.get("repeat") is not None or table.get("seeds") is not None:
        problem("give takes, repeat or seeds, not two of them", sid, line)
        return None
    if not isinstance(takes, int) or isinstance(takes, bool) or not 1 <= takes <= MAX_TAKES:
        problem(f"takes {takes!r} must be a whole number from 1 to {MAX_TAKES}", sid, line)
        return None
    seed = fields.get("seed")
    base = seed if isinstance(seed, int) and not isinstance(seed, bool) else drawn_seed(source, sid)
    return [(f"-take{n}", (base + n - 1) % 2147483648) for n in range(1, takes + 1)]


def read_picks(folder: Path) -> dict[str, int]:
    """The recorded picks of a plan folder: step -> take number."""
    path = folder / PICKS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    picks = data.get("picks") if isinstance(data, dict) else None
    if not isinstance(picks, dict):
        return {}
    return {str(k): int(v) for k, v in picks.items() if isinstance(v, int) and not isinstance(v, bool)}


def write_picks(folder: Path, picks: Mapping[str, int]) -> Path:
    """picks.json beside manifest.json (and the manifest itself, when there is one, names them too)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / PICKS_FILE
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps({"picks": dict(picks)}, indent=2) + "\n", encoding="utf-8")
    temp.replace(path)
    manifest = folder / "manifest.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return path
    if isinstance(data, dict):
        data["picks"] = {step: f"{step}-take{n}" for step, n in picks.items()}
        temp = manifest.with_name(".manifest-pick.tmp")
        temp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        temp.replace(manifest)
    return path


def _rename(value: Any, chosen: Mapping[str, str]) -> Any:
    if isinstance(value, str) and value.startswith("@"):
        match = re.match(r"^@([^:\s]+)(:.*)?$", value)
        if match and match.group(1) in chosen:
            return f"@{chosen[match.group(1)]}{match.group(2) or ''}"
        return value
    if isinstance(value, list):
        return [_rename(v, chosen) for v in value]
    if isinstance(value, dict):
        return {k: _rename(v, chosen) for k, v in value.items()}
    return value


def apply_picks(spec: Any, picks: Mapping[str, int], *, problem: Callable[[str, str], Any]) -> Any:
    """The plan with every `@STEP` of a step with takes pointing at its picked take (take 1 until one is picked).

    `problem(message, step)` makes the plan's kind of problem (plans sit above this package)."""
    chosen: dict[str, str] = {}
    problems = list(spec.problems)
    for base, takes in spec.takes.items():
        number = picks.get(base, 1)
        if not 1 <= number <= len(takes):
            problems.append(problem(f"picked take {number} but the step has {len(takes)} takes", base))
            number = 1
        chosen[base] = takes[number - 1]
    steps: dict[str, Any] = {}
    for sid, step in spec.steps.items():
        new_id = sid
        head, dot, rest = sid.partition(".")
        if step.hidden and dot and head in chosen:
            new_id = f"{chosen[head]}.{rest}"
        refs = [dataclasses.replace(r, step=chosen.get(r.step, r.step)) for r in step.refs]
        if new_id in steps:
            continue  # the same derived part of the picked take, asked for twice
        steps[new_id] = dataclasses.replace(step, id=new_id, fields=_rename(step.fields, chosen), refs=refs)
    return dataclasses.replace(
        spec, steps=steps, picks=dict(chosen), problems=problems
    )


def takes_sheet(videos: list[Path], output: Path, *, labels: list[str] | None = None, thumb_width: int = 320) -> Path:
    """The takes side by side: the middle frame of each, labelled, in one PNG."""
    from PIL import Image, ImageDraw

    from qwenvid.media.clips.frames import thumbnails

    cells = []
    for video in videos:
        frames = list(thumbnails(video, 3, width=thumb_width))
        cells.append(frames[len(frames) // 2][1])
    label, gap = 20, 6
    width = sum(c.width for c in cells) + gap * (len(cells) + 1)
    height = max(c.height for c in cells) + label + 2 * gap
    sheet = Image.new("RGB", (width, height), (16, 16, 16))
    draw = ImageDraw.Draw(sheet)
    x = gap
    for index, cell in enumerate(cells):
        sheet.paste(cell, (x, gap))
        text = labels[index] if labels else f"take {index + 1}"
        draw.text((x + 4, gap + cell.height + 4), text, fill=(230, 230, 230))
        x += cell.width + gap
    output.parent.mkdir(parents=True, exist_ok=True)
    temp = output.with_name(output.stem + ".tmp.png")
    sheet.save(temp, format="PNG")
    temp.replace(output)
    return output
