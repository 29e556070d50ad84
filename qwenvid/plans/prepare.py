"""A validated plan ready to run or preview: each step's request, cost, identity, and what can be reused."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from qwenvid.plans.graph import run_order
from qwenvid.plans.identity import file_sha256, generation_identity, media_identity
from qwenvid.plans.model import PlanSpec, Step, is_reference, parse_reference
from qwenvid.plans.parse import PlanInvalid
from qwenvid.plans.resolve import input_seconds, resolved_fields
from qwenvid.plans.steps import build_request, local_path, map_inputs
from qwenvid.plans.validate import validate_plan
from qwenvid.requests.cost import PRICING_URL, CostEstimate, estimate_cost


@dataclass(frozen=True)
class Found:
    """What an earlier run left for a step identity."""

    state: Literal["done", "in_flight", "unknown", "elsewhere"]
    path: Path | None = None
    sha256: str | None = None
    local_id: str | None = None
    task_id: str | None = None
    billed_seconds: float | None = None
    host: str | None = None  # "elsewhere": the machine of a shared ledger whose file it is


class ReuseFinder(Protocol):
    """Looks up earlier work by identity (the ledger for generations, the manifest for media steps)."""

    def generation(self, identity: str) -> Found | None: ...

    def media(self, step_id: str, identity: str) -> Found | None: ...


class NoReuse:
    def generation(self, identity: str) -> Found | None:
        return None

    def media(self, step_id: str, identity: str) -> Found | None:
        return None


@dataclass
class StepPlan:
    step: Step
    cost: CostEstimate | None = None
    identity: str | None = None
    found: Found | None = None
    request: Any | None = None  # generation: the request with placeholder paths for references
    occurrence: int = 0

    @property
    def new_seconds(self) -> float:
        if self.cost is None or self.found is not None:
            return 0.0
        return self.cost.billable_seconds


@dataclass
class PreparedPlan:
    spec: PlanSpec
    folder: Path
    steps: dict[str, StepPlan]
    order: list[str]
    warnings: list[str] = field(default_factory=list)

    @property
    def new_seconds(self) -> float:
        return sum(sp.new_seconds for sp in self.steps.values())

    @property
    def new_amount(self) -> tuple[float | None, str | None]:
        """The amount the new seconds cost by the user's price table, and its currency; None when any new
        step has no rate there (a partial sum would understate it; qwenvid never invents a price)."""
        new = [sp.cost for sp in self.steps.values() if sp.cost is not None and sp.new_seconds]
        if not new or any(cost.amount is None for cost in new):
            return None, None
        return round(sum(cost.amount or 0.0 for cost in new), 6), new[0].currency

    @property
    def reused_steps(self) -> int:
        """Steps whose finished output is reused (as the preview table shows them: visible steps only)."""
        return sum(1 for sp in self.steps.values() if sp.found is not None and sp.found.state == "done"
                   and not sp.step.hidden)  # fmt: skip

    def preview_json(self, dry_run: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One object: the plan, its steps (request, cost, reuse) and the totals."""
        steps = []
        for sid in self.order:
            sp = self.steps[sid]
            entry: dict[str, Any] = {
                "id": sid,
                "kind": sp.step.kind,
                "mode": step_mode(sp),
                "op": sp.step.op,
                "hidden": sp.step.hidden,
                "depends_on": sp.step.depends_on,
                "output": str(self.folder / sp.step.output_name()),
                "identity": sp.identity,
                "reuse": sp.found.state if sp.found else None,
                "billable_seconds": sp.new_seconds,
                "model": sp.cost.model if sp.cost else None,
                "tier": sp.cost.tier if sp.cost else None,
            }
            if sp.step.kind == "media":
                entry["params"] = sp.step.fields
            if dry_run is not None and sid in dry_run:
                entry["request"] = dry_run[sid]
            steps.append(entry)
        by_model: dict[str, float] = {}
        for sp in self.steps.values():
            if sp.cost is not None and sp.new_seconds:
                key = f"{sp.cost.model} {sp.cost.tier or ''}".strip()
                by_model[key] = by_model.get(key, 0.0) + sp.new_seconds
        return {
            "plan": self.spec.name,
            "folder": str(self.folder),
            "steps": steps,
            "generations": sum(1 for sp in self.steps.values() if sp.step.kind == "generate"),
            "reused": self.reused_steps,
            "billable_seconds": self.new_seconds,
            "amount": self.new_amount[0],
            "currency": self.new_amount[1],
            "billable_seconds_by_model": by_model,
            "pricing_url": PRICING_URL,
            "warnings": self.warnings,
        }


def step_mode(sp: StepPlan) -> str | None:
    """A generation step's mode, also when the plan left it to be inferred (a batch's t2v rows)."""
    if sp.step.kind != "generate":
        return None
    return sp.step.mode or getattr(sp.request, "mode", None)


def prepare_plan(
    spec: PlanSpec,
    folder: Path,
    *,
    prices: Mapping[str, object] | None = None,
    finder: ReuseFinder | None = None,
    force: frozenset[str] = frozenset(),
) -> PreparedPlan:
    """Validate the whole plan (PlanInvalid lists every problem), then cost it and find what is reused.

    `force` names steps to run again on purpose (`--force STEP`): they are never reused.
    """
    built: dict[str, Any] = {}
    problems = [*spec.problems, *validate_plan(spec, folder, built)]
    unknown_force = sorted(force - set(spec.steps))
    if unknown_force:
        from qwenvid.plans.model import Problem

        problems += [Problem(f"--force {sid}: the plan has no such step") for sid in unknown_force]
    if problems:
        raise PlanInvalid(problems, spec.source.name if spec.source else spec.name)
    finder = finder or NoReuse()
    order = run_order(spec)
    steps: dict[str, StepPlan] = {}
    warnings: list[str] = []
    occurrences: dict[str, int] = {}
    known: dict[str, tuple[str, str]] = {}  # producer -> (path, sha256) of outputs that exist already
    for sid in order:
        step = spec.steps[sid]
        sp = StepPlan(step)
        steps[sid] = sp
        if step.kind == "generate":
            key = json.dumps([step.mode, step.variant, step.fields], sort_keys=True, default=str)
            sp.occurrence = occurrences.get(key, 0)
            occurrences[key] = sp.occurrence + 1
            sp.request = built.get(sid) or build_request(step, resolved_fields(spec, folder, step))
            sp.cost, warned = step_cost(spec, folder, step, sp.request, prices)
            warnings += [f"step {sid!r}: {w}" for w in warned]
        if sid in force:
            continue
        inputs = {p: known[p] for p in step.depends_on if p in known}
        if len(inputs) != len(step.depends_on):
            continue  # an input is not made yet: the identity is known only when it is
        sp.identity = step_identity(spec, folder, sp, {p: v[0] for p, v in inputs.items()})
        sp.found = finder.generation(sp.identity) if step.kind == "generate" else finder.media(sid, sp.identity)
        if sp.found is not None and sp.found.state == "done" and sp.found.path and sp.found.sha256:
            known[sid] = (str(sp.found.path), sp.found.sha256)
    return PreparedPlan(spec, folder, steps, order, warnings)


def step_identity(spec: PlanSpec, folder: Path, sp: StepPlan, outputs: Mapping[str, str]) -> str:
    """The identity of a step whose inputs all exist (`outputs`: producer step -> its file)."""
    step = sp.step
    fields = resolved_fields(spec, folder, step, dict(outputs))
    if step.kind == "generate":
        from qwenvid.requests.shapes import local_inputs

        # Without references the request is the one prepared already (nothing in it changes when inputs exist).
        request = sp.request if sp.request is not None and not step.refs else build_request(step, fields)
        hashes = {item.path: file_sha256(item.path) for item in local_inputs(request)}
        return generation_identity(step, request, hashes, occurrence=sp.occurrence)

    def hashed(value: str, kind: str) -> str:
        if is_reference(value):
            ref = parse_reference(value)
            if not isinstance(ref, str):
                return "sha256:" + file_sha256(outputs[ref.producer])
        path = local_path(value, spec.base_dir)
        return "sha256:" + file_sha256(path) if path is not None else value

    return media_identity(step, map_inputs(step, hashed))




def step_cost(
    spec: PlanSpec, folder: Path, step: Step, request: Any, prices: Mapping[str, object] | None
) -> tuple[CostEstimate, list[str]]:
    """Billable seconds and tier of a generation step (referenced videos at their planned length)."""
    from qwenvid.catalogue import billable_seconds, get_model, resolution_tier, tier_of_size
    from qwenvid.requests.shapes import build_payload, local_inputs

    warnings: list[str] = []
    model_spec = get_model(request.model)
    placeholders = {item.path: "oss://plan/input" for item in local_inputs(request)}
    params = build_payload(request, placeholders).body.get("parameters", {})
    size, resolution = params.get("size"), params.get("resolution")
    if model_spec is None:
        warnings.append(f"unknown model {request.model!r} passed through unchecked (the catalogue may be behind)")
        seconds = float(params.get("duration") or 5)
        return estimate_cost(request.model, seconds, resolution or tier_of_size(size or ""), prices), warnings
    reference, edited = 0.0, None

    def measure(value: str, kind: str) -> str:
        nonlocal reference, edited
        if kind not in ("video", "any"):
            return value
        seconds = input_seconds(spec, value)
        from qwenvid.catalogue import guess_kind

        if kind == "any" and guess_kind(value) != "video" and not is_reference(value):
            return value
        if model_spec.mode == "r2v" or model_spec.protocol == "wan3":  # Wan 3.0: every video is a reference
            reference += seconds
        else:
            edited = seconds or edited
        return value

    map_inputs(step, measure)
    if model_spec.mode == "s2v":  # as long as the speech: its real length, the longest only for a URL
        from qwenvid.requests.performer_requests import speech_seconds

        edited = speech_seconds(request)
    if getattr(request, "function", None) == "video_extension":
        edited = None  # its clips are context, not the video edited: the output is always 5 s
    seconds = billable_seconds(model_spec, params.get("duration"), reference, input_video_seconds=edited)
    tier = resolution_tier(model_spec, size=size, resolution=resolution)
    billed_input = reference if model_spec.bills_input_video else 0.0
    return estimate_cost(request.model, seconds, tier, prices, reference_seconds=billed_input), warnings


def missing_inputs(spec: PlanSpec, step: Step) -> list[str]:
    """Local input files of a step that are gone (checked again right before the step runs)."""
    gone: list[str] = []

    def check(value: str, kind: str) -> str:
        path = local_path(value, spec.base_dir)
        if path is not None and not path.is_file():
            gone.append(value)
        return value

    map_inputs(step, check)
    return gone
