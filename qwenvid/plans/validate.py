"""Whole-plan validation before anything is spent: every problem of every step, each in one line."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from qwenvid.errors import ValidationError
from qwenvid.plans.graph import cycle_problems, reference_problems
from qwenvid.plans.model import PlanSpec, Problem, Ref, Step, is_reference, parse_reference
from qwenvid.plans.prepay import prepay_problems
from qwenvid.plans.resolve import resolved_fields
from qwenvid.plans.steps import build_request, local_path, map_inputs


def output_kind(plan: PlanSpec, ref: Ref) -> str:
    """What a reference hands over: an image (a last frame, a frame step) or a video."""
    if ref.part == "last_frame":
        return "image"
    if ref.part == "tail":
        return "video"
    producer = plan.steps.get(ref.step)
    return "image" if producer is not None and producer.op == "frame" else "video"



def validate_plan(plan: PlanSpec, plan_dir: Path, built: dict[str, Any] | None = None) -> list[Problem]:
    """Every problem in the plan: references, cycles, output names, requests, local files.

    `built` collects each valid generation step's request (with placeholders), so preparing does not build it again.
    """
    problems = reference_problems(plan)
    if not problems:
        problems += cycle_problems(plan)
    problems += _output_collisions(plan)
    problems += prepay_problems(plan, plan_dir)  # what a run would otherwise meet after paying
    for step in plan.steps.values():
        if step.hidden:
            continue
        problems += _reference_kinds(plan, step)
        if step.kind == "generate":
            problems += _check_generation(plan, plan_dir, step, built)
        else:
            problems += _check_media(plan, step)
    return [_with_line(plan, p) for p in problems]


def _with_line(plan: PlanSpec, problem: Problem) -> Problem:
    step = plan.steps.get(problem.step or "")
    if problem.line is None and step is not None and step.line is not None:
        return Problem(problem.message, problem.step, step.line)
    return problem


def _output_collisions(plan: PlanSpec) -> list[Problem]:
    seen: dict[str, str] = {}
    problems: list[Problem] = []
    for step in plan.steps.values():
        name = step.output_name().lower()
        if name == "manifest.json":
            problems.append(Problem("output manifest.json is the plan's own manifest", step.id))
        elif name in seen:
            problems.append(
                Problem(f"output {step.output_name()!r} is also the output of step {seen[name]!r}", step.id)
            )
        else:
            seen[name] = step.id
    return problems


def _reference_kinds(plan: PlanSpec, step: Step) -> list[Problem]:
    problems: list[Problem] = []

    def check(value: str, kind: str) -> str:
        if not is_reference(value):
            return value
        ref = parse_reference(value)
        if isinstance(ref, str) or ref.step not in plan.steps:
            return value
        given = output_kind(plan, ref)
        if kind in ("image", "video") and given != kind:
            fix = f"use @{ref.step}:last-frame" if kind == "image" else "an image cannot go where a video is needed"
            names = {"image": "an image", "video": "a video"}
            message = f"{value} is {names[given]} but this input takes {names[kind]} ({fix})"
            problems.append(Problem(message, step.id))
        if kind == "audio" and given == "image":
            problems.append(Problem(f"{value} is an image but this input takes audio", step.id))
        return value

    map_inputs(step, check)
    return problems



def _check_generation(plan: PlanSpec, plan_dir: Path, step: Step, built: dict[str, Any] | None = None) -> list[Problem]:
    from qwenvid.requests.shapes import validate_request

    problems = _missing_files(plan, step)
    if problems:
        return problems
    try:
        request = build_request(step, resolved_fields(plan, plan_dir, step))
        # Referenced files do not exist yet: their rules are checked again, with the real files, before submit.
        validate_request(request, check_files=not step.refs)
        if built is not None:
            built[step.id] = request
    except ValidationError as exc:
        return [Problem(as_plan_fields(exc.message), step.id)]
    except (TypeError, ValueError) as exc:
        return [Problem(f"bad field value: {exc}", step.id)]
    return []


_FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9]*(?:-[a-z0-9]+)*)")


def as_plan_fields(message: str) -> str:
    """A request check speaks of flags (`--duration 7`); in a plan the same thing is a field (`duration 7`)."""
    return _FLAG.sub(lambda found: found.group(1).replace("-", "_"), message)


def _missing_files(plan: PlanSpec, step: Step) -> list[Problem]:
    problems: list[Problem] = []

    def check(value: str, kind: str) -> str:
        path = local_path(value, plan.base_dir)
        if path is not None and not path.is_file():
            problems.append(Problem(f"{value}: no such file (paths are relative to the plan's folder)", step.id))
        return value

    map_inputs(step, check)
    return problems


def _check_media(plan: PlanSpec, step: Step) -> list[Problem]:
    from qwenvid.media.inputs import inspect_audio, inspect_video

    problems = _missing_files(plan, step)
    if problems:
        return problems
    found: list[Problem] = []

    def inspect(value: str, kind: str) -> str:
        path = local_path(value, plan.base_dir)
        if path is None:
            return value
        try:
            if kind == "audio":
                inspect_audio(path, field=value)
            else:
                info = inspect_video(path, field=value)
                need = (
                    step.fields.get("seconds")
                    if step.op == "tail"
                    else step.fields.get("start")
                    if step.op == "trim"
                    else None
                )
                if isinstance(need, int | float) and need > info.duration + 0.05:
                    found.append(
                        Problem(f"{value} is {info.duration:g} s long; {step.op} asks for {need:g} s", step.id)
                    )
        except ValidationError as exc:
            found.append(Problem(exc.message, step.id))
        return value

    map_inputs(step, inspect)
    return found
