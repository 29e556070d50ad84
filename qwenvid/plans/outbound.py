"""The local files a plan will send off the machine, and the ones among them outside the plan's folder.

A plan is a file people share: `image = "../secret/photo.png"` must not upload a private photo without a
word. Every file whose content leaves (sent itself, or cut by a media step whose output is sent) is listed
before the first upload; files outside the plan's folder need `--allow-outside` (product.md §3.1).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from qwenvid.errors import ValidationError
from qwenvid.plans.model import PlanSpec, Ref, is_reference, parse_reference
from qwenvid.plans.prepare import PreparedPlan
from qwenvid.plans.steps import local_path, map_inputs
from qwenvid.requests.outbound import Outbound


class OutsidePlanFolder(ValidationError):
    """The plan would upload local files from outside its own folder, and nobody allowed it (exit 2)."""

    def __init__(self, files: list[Outbound], folder: Path) -> None:
        names = ", ".join(item.path for item in files)
        count = len(files)
        super().__init__(
            f"The plan would upload {count} local file{'s' if count != 1 else ''} from outside its folder "
            f"{folder}: {names}; nothing was uploaded.",
            field="allow_outside",
            hint="Check them, then add --allow-outside to send them (--yes does not cover it), "
            "or move them into the plan's folder.",
        )
        self.code = "OutsidePlanFolder"
        self.files = files


def plan_outbound(prepared: PreparedPlan) -> list[Outbound]:
    """Every local file whose content a run of the plan sends, once each, in step order (reused steps send none)."""
    spec = prepared.spec
    found: dict[str, Outbound] = {}
    for sid in prepared.order:
        sp = prepared.steps[sid]
        step = sp.step
        if step.kind != "generate" or sp.found is not None:
            continue

        def collect(value: str, kind: str, sid: str = sid) -> str:
            use = f"step {sid!r} ({kind})"
            if is_reference(value):
                ref = parse_reference(value)
                if isinstance(ref, Ref):
                    for source, via in _sources(spec, ref.producer, frozenset()):
                        found.setdefault(source, Outbound(source, _size(source), use, via=via))
                return value
            path = local_path(value, spec.base_dir)
            if path is not None:
                text = str(path.resolve())
                found.setdefault(text, Outbound(text, _size(path), use))
            return value

        map_inputs(step, collect)
    return list(found.values())


def _sources(spec: PlanSpec, producer: str, seen: frozenset[str]) -> list[tuple[str, str]]:
    """Local files a media step's output is made from (a generation's output is the service's own video)."""
    step = spec.steps.get(producer)
    if step is None or step.kind != "media" or producer in seen:
        return []
    shown = producer.split(".")[0] if step.hidden else producer
    out: list[tuple[str, str]] = []

    def walk(value: str, kind: str) -> str:
        if is_reference(value):
            ref = parse_reference(value)
            if isinstance(ref, Ref):
                out.extend(_sources(spec, ref.producer, seen | {producer}))
            return value
        path = local_path(value, spec.base_dir)
        if path is not None:
            out.append((str(path.resolve()), f"cut by step {shown!r} ({step.op}) first"))
        return value

    map_inputs(step, walk)
    return out


def _size(path: str | Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return -1


def outside(items: Iterable[Outbound], folder: Path, own: Iterable[Path] = ()) -> list[Outbound]:
    """The files not under `folder` (the plan's own folder), except those the user named on the command line."""
    root = folder.resolve()
    allowed = {Path(p).resolve() for p in own}
    result = []
    for item in items:
        path = Path(item.path).resolve()
        if path in allowed or path.is_relative_to(root):
            continue
        result.append(item)
    return result
