"""One generation from request to verified MP4: the library's front door, composed of the task verbs.

The `Session` owns a settings object, a lazily created DashScope client and the store (its
TaskContext), and reports progress through a `Reporter` so that no display code lives here. It
composes the verbs of this package; none of them imports it back:

    plan() ──► submit (qwenvid/tasks/submit.py: row ─► uploads ─► slot ─► submitting ─► submitted)
           ──► follow (follow.py) ──► fetch (fetch.py: download, verify, sidecar)
    resume / reconcile (reconcile.py)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwenvid import errors
from qwenvid.requests.cost import estimate_cost, with_notes
from qwenvid.tasks.context import TaskContext
from qwenvid.tasks.outcomes import (
    TERMINAL,
    Plan,
    ResumeOutcome,
    RunOptions,
    RunResult,
    StatusReport,
    interrupted,
    result_from_row,
    task_id_of,
)
from qwenvid.tasks.reporting import NullReporter, Phase, Reporter

if TYPE_CHECKING:
    from qwenvid.requests.shapes import LocalInput
    from qwenvid.store.ledger import LedgerRow
    from qwenvid.tasks.submit import Guard
    from qwenvid.wire.client import TaskPage

__all__ = [
    "MASKED_AUTH", "TERMINAL", "NullReporter", "Phase", "Plan", "Reporter", "ResumeOutcome", "RunOptions",
    "RunResult", "Session", "StatusReport",
]  # fmt: skip

MASKED_AUTH = "Bearer sk-…"


@dataclass
class Session(TaskContext):
    """Settings + client + store: the operations behind every CLI command."""

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- planning ---------------------------------------------------------------------------------

    def plan(self, request: Any) -> Plan:
        """Validate the request (local files included) and build its payload; nothing is sent."""
        from qwenvid.catalogue import billable_seconds, get_model, resolution_tier, tier_of_size
        from qwenvid.requests.shapes import build_payload, local_inputs, validate_request
        from qwenvid.requests.wan3 import check_total_seconds

        warnings = validate_request(request)
        spec = get_model(request.model)
        inputs = local_inputs(request)
        placeholders = {item.path: f"oss://<upload of {Path(item.path).name}>" for item in inputs}
        payload = build_payload(request, placeholders)
        params = payload.body.get("parameters", {})
        size, resolution = params.get("size"), params.get("resolution")
        if spec is None:
            # An unknown model passes with a warning; bill what was asked for, as well as it can be read.
            duration = params.get("duration") or 5
            cost = estimate_cost(request.model, float(duration), resolution or tier_of_size(size or ""), None)
            return Plan(request, None, payload, inputs, list(warnings), cost)
        reference_seconds, input_seconds = _input_video_seconds(inputs)
        if spec.mode == "s2v":  # as long as the speech: its real length, the longest only for a URL
            from qwenvid.requests.performer_requests import speech_seconds

            input_seconds = speech_seconds(request)
        check_total_seconds(spec, params.get("duration"), reference_seconds + (input_seconds or 0.0))
        seconds = billable_seconds(
            spec, params.get("duration"), reference_seconds, input_video_seconds=input_seconds
        )
        tier = resolution_tier(spec, size=size, resolution=resolution)
        billed_references = reference_seconds if spec.mode == "r2v" or spec.bills_input_video else 0.0
        cost = estimate_cost(
            request.model, seconds, tier, self.settings.prices, reference_seconds=billed_references
        )
        cost = with_notes(cost, spec, params)
        return Plan(request, spec, payload, inputs, list(warnings), cost)

    def dry_run(self, plan: Plan) -> dict[str, Any]:
        """The §3 dry-run object: method, url, headers (key masked), payload, uploads."""
        from qwenvid.tasks.uploads import dry_run_body

        headers = {
            "Authorization": MASKED_AUTH,
            "Content-Type": "application/json",
            "X-DashScope-Async": "enable",
        }
        if plan.payload.oss_resolve or plan.local_inputs:
            headers["X-DashScope-OssResourceResolve"] = "enable"
        return {
            "method": "POST",
            "url": self.settings.base_url.rstrip("/") + plan.payload.endpoint_path,
            "headers": headers,
            "payload": dry_run_body(self.settings, plan.payload.body),  # a bucket's links, as masked placeholders
            "uploads": [
                {"path": str(item.path), "field": item.field, "kind": item.kind, "size": item.size}
                for item in plan.local_inputs
            ],
        }

    # -- generation -------------------------------------------------------------------------------

    def run(
        self, plan: Plan, options: RunOptions, reporter: Reporter, *, guards: Sequence[Guard] = ()
    ) -> RunResult:
        """Submit the plan (qwenvid/tasks/submit.py) and follow it to a verified MP4 (or detach).

        `guards` run before anything is written or paid (the CLI's confirmation, the pay-again check).
        """
        from qwenvid.tasks.follow import follow_row
        from qwenvid.tasks.reconcile import remember_key_id
        from qwenvid.tasks.submit import SubmitAttempt, holding, submit
        from qwenvid.wire.download import check_output_target

        started = self.clock()
        _ = self.client  # raises for a missing key before a ledger row exists
        # A video that cannot be saved is a paid video lost for a day: find out before paying.
        check_output_target(options.output or self.settings.output_dir, overwrite=options.overwrite)
        attempt = SubmitAttempt(
            plan,
            fingerprint=options.fingerprint,
            output_target=str(options.output) if options.output else None,
            guards=guards,
            reporter=reporter,
            expected_seconds=options.estimate,
        )
        deadline = started + options.timeout if options.timeout is not None else None
        outcome = submit(self, attempt, wait=True, deadline=deadline)
        with holding(attempt):
            from qwenvid.tasks.submit import Submitted, Unknown

            if isinstance(outcome, Unknown):
                exc = outcome.error or errors.SubmitOutcomeUnknown(outcome.message)
                exc.hint = (
                    "A task may have been created and billed. Do not resubmit: run `qwenvid resume`, "
                    "which looks it up in the account task list."
                )
                raise exc
            assert isinstance(outcome, Submitted)
            try:
                reporter.notice(f"Task {outcome.task_id} submitted ({plan.model}).")
                remember_key_id(self, outcome.task_id)  # once per key: tells this key's tasks from others' later
                if options.detach:
                    return result_from_row(outcome.row)
                if deadline is not None:  # --timeout bounds the whole command, the submit's wait included
                    options = _with_timeout(options, max(0.0, deadline - self.clock()))
                return follow_row(self, outcome.row, options, reporter)
            except KeyboardInterrupt:
                # Between the stored task id and the wait: the task exists, so say which one and how to go on.
                raise interrupted(outcome.task_id) from None

    def follow(self, ref: str, options: RunOptions, reporter: Reporter) -> RunResult:
        """Wait for a known task (ledger id or task id) and download its video."""
        _check_named_output(options)
        from qwenvid.tasks.follow import follow_row
        from qwenvid.tasks.reconcile import hold_row
        from qwenvid.tasks.video_file import verified_video
        from qwenvid.wire.client import check_task_id  # a malformed id is refused, never stored

        row = self.ledger.get(ref) or self.ledger.record_external(
            check_task_id(ref), base_url=self.settings.base_url
        )
        wait = options.timeout if options.timeout is not None else self.settings.wait_timeout
        with hold_row(self, row.id, wait, reporter):
            row = self.ledger.get(row.id) or row
            if row.remote_status == "SUCCEEDED" and verified_video(self.ledger, row) is not None:
                return result_from_row(self.ledger.get(row.id) or row)  # another process downloaded it meanwhile
            return follow_row(self, row, options, reporter)

    def fetch(self, ref: str, options: RunOptions, reporter: Reporter) -> RunResult:
        """Download the video of a finished task, also one the ledger never saw."""
        from qwenvid.tasks.fetch import fetch_held
        from qwenvid.tasks.reconcile import hold_row
        from qwenvid.tasks.video_file import verified_video
        from qwenvid.wire.client import check_task_id  # a malformed id is refused, never stored

        row = self.ledger.get(ref)
        if row is None:
            # A task this ledger never saw is asked about first: an id the service does not know leaves no row.
            info = self.client.get_task(check_task_id(ref))
            if info.status == "UNKNOWN":
                raise errors.task_failure(info.status, info.code, info.message, task_id=info.task_id or ref)
            row = self.ledger.record_external(info.task_id or ref, base_url=self.settings.base_url)
        task_id = task_id_of(row)
        wait = options.timeout if options.timeout is not None else self.settings.wait_timeout
        with hold_row(self, row.id, wait, reporter):
            row = self.ledger.get(row.id) or row
            video = verified_video(self.ledger, row)  # this task's video, by its sha256, wherever qwenvid moved it
            row = self.ledger.get(row.id) or row
            if video is not None and _same_target(options.output, str(video)):
                # Already on disk: say where, rather than writing a second copy of the same video.
                reporter.notice(f"Task {task_id} was already downloaded: {row.video_path} (not writing another copy).")
                return result_from_row(row)
            _check_named_output(options)
            return fetch_held(self, row, task_id, options, reporter)

    def status(self, ref: str) -> StatusReport:
        """The ledger row (if any) and the remote state (when a key is available)."""
        from qwenvid.tasks.reconcile import adopt_named

        row = self.ledger.get(ref) or adopt_named(self, ref)  # a candidate a reconciliation named: adopt it
        task_id = row.task_id if row and row.task_id else ref
        if row is not None and row.task_id is None:
            return StatusReport(row, None)
        info = self.client.get_task(task_id)
        if row is not None:
            self.record(row, info)
            row = self.ledger.get(row.id)
        return StatusReport(row, info)

    def cancel(self, ref: str) -> str:
        row = self.ledger.get(ref)
        task_id = row.task_id if row and row.task_id else ref
        request_id = self.client.cancel(task_id)
        if row is not None:
            self.ledger.update_remote(row.id, "CANCELED")
        return request_id

    def list_local(self, **filters: Any) -> list[LedgerRow]:
        return self.ledger.list(**filters)

    def list_remote(self, **filters: Any) -> TaskPage:
        return self.client.list_tasks(**filters)

    # -- resume and reconciliation ----------------------------------------------------------------

    def reconcile(self, reporter: Reporter) -> list[ResumeOutcome]:
        """Find the task each outcome-unknown submit created, or prove it made none (qwenvid/tasks/reconcile.py)."""
        from qwenvid.tasks.reconcile import reconcile

        return reconcile(self, reporter, timeout=self.settings.wait_timeout)

    def resume(self, options: RunOptions, reporter: Reporter) -> list[ResumeOutcome]:
        """Reconcile ambiguous submits, then follow and download everything unfinished (one process per task)."""
        from qwenvid.tasks.reconcile import resume

        return resume(self, options, reporter)


def _same_target(output: Path | None, video_path: str) -> bool:
    """No -o, or an -o naming the very file (or the folder) the video is already in."""
    if output is None:
        return True
    target, existing = Path(output).expanduser().resolve(), Path(video_path).resolve()
    return target == existing or target == existing.parent


def _check_named_output(options: RunOptions) -> None:
    """An -o given to a follow-up or fetch is held to the run's rules (.mp4, no silent second name)."""
    if options.output is not None:
        from qwenvid.wire.download import check_output_target

        check_output_target(options.output, overwrite=options.overwrite)


def _input_video_seconds(inputs: Iterable[LocalInput]) -> tuple[float, float | None]:
    """Seconds of local reference videos (r2v bills them) and of the video being edited (vace, videoedit)."""
    references, edited = 0.0, None
    for item in inputs:
        if item.kind != "video":
            continue
        from qwenvid.media.inputs import inspect_video  # only for video inputs: a prompt-only run starts without it

        seconds = inspect_video(Path(item.path)).duration
        if "reference" in item.field:
            references += seconds
        elif item.field in ("video_url", "media.video"):
            edited = seconds
    return references, edited


def _with_timeout(options: RunOptions, seconds: float) -> RunOptions:
    from dataclasses import replace

    return replace(options, timeout=seconds)
