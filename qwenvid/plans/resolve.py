"""Where a step's inputs will be: references to other steps' outputs resolved to files (placeholders until made)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qwenvid.plans.model import PlanSpec, Ref, Step, is_reference, parse_reference
from qwenvid.plans.steps import local_path, map_inputs


def placeholder(plan_dir: Path, plan: PlanSpec, ref: Ref) -> str:
    """Where a reference's file will be once its producer ran (validation only needs its name and kind)."""
    producer = plan.steps.get(ref.producer)
    name = producer.output_name() if producer is not None else ref.producer + ".mp4"
    return str(plan_dir / name)

def resolved_fields(
    plan: PlanSpec, plan_dir: Path, step: Step, outputs: dict[str, str] | None = None
) -> dict[str, Any]:
    """The step's fields with references replaced by their files (placeholders before they exist) and
    relative paths made absolute against the plan's folder."""

    def resolve(value: str, kind: str) -> str:
        if is_reference(value):
            ref = parse_reference(value)
            if isinstance(ref, str):
                return value
            if outputs is not None and ref.producer in outputs:
                return outputs[ref.producer]
            return placeholder(plan_dir, plan, ref)
        path = local_path(value, plan.base_dir)
        return str(path) if path is not None else value

    return map_inputs(step, resolve)


def expected_seconds(spec: PlanSpec, sid: str) -> float:
    """How long a step's output will be, as far as the plan tells (for costing steps that take it)."""
    from qwenvid.catalogue import expected_output, get_model

    step = spec.steps.get(sid)
    if step is None:
        return 0.0
    fields = step.fields
    if step.kind == "generate":
        spec_ = get_model(str(fields.get("model") or ""))
        duration = fields.get("duration")
        if isinstance(duration, int | float) and duration > 0:
            return float(duration)
        if spec_ is not None:
            out = expected_output(spec_.id, {"parameters": {}})
            if out is not None and out.duration:
                return float(out.duration)
            return float(spec_.durations.max_output or spec_.durations.default)
        return 5.0
    if step.op == "tail":
        return float(fields.get("seconds") or 0)
    if step.op == "trim":
        if fields.get("duration") is not None:
            return float(fields["duration"])
        if fields.get("end") is not None:
            return max(0.0, float(fields["end"]) - float(fields.get("start") or 0))
        return input_seconds(spec, fields.get("input")) - float(fields.get("start") or 0)
    if step.op == "concat":
        return sum(input_seconds(spec, v) for v in fields.get("inputs") or [])
    if step.op == "add_audio":
        return input_seconds(spec, fields.get("video"))
    return 0.0


def input_seconds(spec: PlanSpec, value: Any) -> float:
    if not isinstance(value, str):
        return 0.0
    if is_reference(value):
        ref = parse_reference(value)
        if isinstance(ref, str):
            return 0.0
        if ref.part == "tail":
            return float(ref.seconds or 0)
        return 0.0 if ref.part == "last_frame" else expected_seconds(spec, ref.step)
    path = local_path(value, spec.base_dir)
    if path is None or not path.is_file():
        return 0.0
    from qwenvid.media.inputs import inspect_video

    try:
        return inspect_video(path).duration
    except Exception:  # noqa: BLE001 - validation already reported unreadable files
        return 0.0
