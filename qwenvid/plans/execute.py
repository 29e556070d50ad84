"""The front door for plans: prepare a plan against the ledger, and run it with the library's parts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwenvid.plans.backend import ClipOps, LedgerBackend, ManifestFinder
from qwenvid.plans.manifest import EventSink, Manifest, StepRecord
from qwenvid.plans.model import PlanSpec
from qwenvid.plans.prepare import PreparedPlan, prepare_plan
from qwenvid.plans.scheduler import PlanScheduler, SchedulerOptions, Stats

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from qwenvid.tasks.session import Session
    from qwenvid.tasks.submit import Guard


def plan_folder(output_dir: Path, name: str) -> Path:
    return output_dir / name


def distinct_name(spec: PlanSpec, output_dir: Path) -> PlanSpec:
    """Two plan files with one stem (`batch.jsonl`, `batch.txt`) never share a folder and its manifest.

    The first keeps the stem; another file whose stem finds a folder made by a different file gets
    `STEM-SUFFIX` (`batch-txt`), on every run. A name given in the file or by --name is kept as it is.
    """
    import dataclasses
    import json

    if spec.source is None or spec.name != spec.source.stem:
        return spec
    try:
        data = json.loads((plan_folder(output_dir, spec.name) / "manifest.json").read_text(encoding="utf-8"))
        earlier = Path(str(data.get("source") or "")).name
    except (OSError, ValueError, AttributeError):
        return spec
    if not earlier or earlier == spec.source.name:
        return spec
    suffix = spec.source.suffix.lstrip(".").lower() or "plan"
    return dataclasses.replace(spec, name=f"{spec.name}-{suffix}")


def check_plan_folder(output_dir: Path, name: str) -> None:
    """Refuse, before anything is paid for, a plan folder that cannot be created or written (exit 2)."""
    from qwenvid.errors import ValidationError
    from qwenvid.writable import why_unusable

    folder = plan_folder(output_dir, name)
    problem = why_unusable(folder)
    if problem is not None:
        raise ValidationError(
            f"-o/--output {output_dir}: cannot write the plan's folder {folder}: {problem}",
            field="output",
            value=str(output_dir),
            hint="Choose a folder you can write to.",
        )


def prepare(
    session: Session,
    spec: PlanSpec,
    output_dir: Path,
    *,
    force: frozenset[str] = frozenset(),
    emulated: bool = False,
    guards: Sequence[Guard] = (),
    notice: Callable[[str], None] | None = None,
) -> tuple[PreparedPlan, LedgerBackend, ManifestFinder]:
    """Validate and cost the plan, and find what earlier runs left (needs the ledger, not the network).

    `guards` are checked before each step's submit (qwenvid/tasks/submit.py), after the process-wide ones;
    s2v steps always get their face check (its lines go to `notice`), whoever runs the plan.
    """
    from qwenvid.tasks.face_check import face_guard

    guards = (*guards, face_guard(session, notice or (lambda _line: None)))
    folder = plan_folder(output_dir, spec.name)
    if spec.takes:
        from qwenvid.plans.model import Problem
        from qwenvid.story.takes import apply_picks, read_picks

        spec = apply_picks(spec, read_picks(folder), problem=Problem)
    backend = LedgerBackend(session, emulated=emulated, guards=guards)
    finder = ManifestFinder(folder, backend)
    prepared = prepare_plan(spec, folder, prices=session.settings.prices, finder=finder, force=force)
    return prepared, backend, finder


def dry_run_requests(session: Session, prepared: PreparedPlan) -> dict[str, Any]:
    """Per generation step, the §3 dry-run object (inputs of other steps shown by their planned file)."""
    from qwenvid.requests.shapes import build_payload, local_inputs
    from qwenvid.tasks.session import MASKED_AUTH

    out: dict[str, Any] = {}
    for sid in prepared.order:
        sp = prepared.steps[sid]
        if sp.request is None:
            continue
        inputs = local_inputs(sp.request)
        payload = build_payload(sp.request, {i.path: f"oss://<upload of {Path(i.path).name}>" for i in inputs})
        headers = {"Authorization": MASKED_AUTH, "Content-Type": "application/json", "X-DashScope-Async": "enable"}
        if payload.oss_resolve or inputs:
            headers["X-DashScope-OssResourceResolve"] = "enable"
        out[sid] = {
            "method": "POST",
            "url": session.settings.base_url.rstrip("/") + payload.endpoint_path,
            "headers": headers,
            "payload": payload.body,
            "uploads": [{"path": i.path, "field": i.field, "kind": i.kind} for i in inputs],
        }
    return out


def execute(
    session: Session,
    prepared: PreparedPlan,
    backend: LedgerBackend,
    finder: ManifestFinder,
    *,
    options: SchedulerOptions,
    events: EventSink | None = None,
    on_change: Callable[[StepRecord], None] | None = None,
) -> tuple[Manifest, Stats]:
    """Run the plan to its end (or timeout); the manifest is written as it goes."""
    scheduler = PlanScheduler(
        prepared,
        backend,
        ClipOps(),
        finder,
        clock=session.clock,
        sleep=session.sleep,
        events=events,
        on_change=on_change,
        options=options,
    )
    from qwenvid.privacy import private_umask

    with private_umask():  # the plan's folder, outputs, superseded/, manifest and locks: private from the first byte
        manifest = scheduler.run()
    return manifest, scheduler.stats
