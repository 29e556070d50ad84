"""One generation from request to verified MP4: ledger row, uploads, submit, wait, download, sidecar.

The `Session` is the library's front door for the CLI and for scripts. It owns a settings object, a
lazily created DashScope client and the ledger, and reports progress through a `Reporter` so that no
display code lives here. Every path that can lose a paid task writes to the ledger first:

    create row ──► uploads ──► submitting ──► submit ──► submitted(task_id) ──► wait ──► download
                                   │                                    │
                                   └─► outcome_unknown (resume reconciles through the task list)
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from qwenvid import errors
from qwenvid.requests.cost import CostEstimate, estimate_cost
from qwenvid.timestamps import iso_utc, with_utc_times

if TYPE_CHECKING:
    import httpx

    from qwenvid.catalogue import ModelSpec
    from qwenvid.config import Settings
    from qwenvid.requests.shapes import LocalInput, Payload
    from qwenvid.store.ledger import Ledger, LedgerRow
    from qwenvid.store.pacing import SubmitPacer
    from qwenvid.tasks.polling import Estimate
    from qwenvid.wire.client import DashScopeClient, TaskInfo, TaskPage

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"})
MASKED_AUTH = "Bearer sk-…"


class Phase(StrEnum):
    VALIDATING = "validating"
    UPLOADING = "uploading"
    SUBMITTING = "submitting"
    QUEUED = "queued"
    RENDERING = "rendering"
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    DONE = "done"


class Reporter(Protocol):
    """Progress sink; the CLI implements it with Rich or plain lines."""

    def phase(self, phase: Phase, message: str = "") -> None: ...

    def task_update(self, info: TaskInfo, elapsed: float, estimate: float) -> None: ...

    def transfer(self, phase: Phase, done: int, total: int | None) -> None: ...

    def notice(self, text: str) -> None: ...

    def close(self) -> None: ...


class NullReporter:
    """Reports nothing (scripts, --quiet)."""

    def phase(self, phase: Phase, message: str = "") -> None:
        pass

    def task_update(self, info: TaskInfo, elapsed: float, estimate: float) -> None:
        pass

    def transfer(self, phase: Phase, done: int, total: int | None) -> None:
        pass

    def notice(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class RunOptions:
    """How to run: where the video goes, how long to wait (None: the configured wait_timeout), detach."""

    output: Path | None = None
    timeout: float | None = None
    detach: bool = False
    estimate: float | None = None
    # Replace an existing file named by `output` (otherwise naming an existing file is refused).
    overwrite: bool = False


@dataclass
class RunResult:
    """The outcome of a generation, a follow-up or a fetch; `to_json` is the §3 contract."""

    local_id: str | None
    task_id: str
    status: str
    mode: str | None
    model: str | None
    video_path: Path | None = None
    video_url: str | None = None
    usage: dict[str, Any] | None = None
    request_id: str | None = None
    billed_seconds: float | None = None
    sha256: str | None = None
    size: int | None = None
    actual_prompt: str | None = None
    sidecar_path: Path | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "status": self.status,
            "mode": self.mode,
            "model": self.model,
            "video_path": str(self.video_path) if self.video_path else None,
            "video_url": self.video_url,
            "usage": self.usage,
            "request_id": self.request_id,
            "local_id": self.local_id,
            "billed_seconds": self.billed_seconds,
            "sha256": self.sha256,
            "size": self.size,
            "actual_prompt": self.actual_prompt,
            "sidecar_path": str(self.sidecar_path) if self.sidecar_path else None,
        }


@dataclass
class Plan:
    """A validated request, its wire payload and what it will cost; built with no network."""

    request: Any
    spec: ModelSpec | None
    payload: Payload
    local_inputs: list[LocalInput]
    warnings: list[str]
    cost: CostEstimate

    @property
    def mode(self) -> str:
        return str(self.request.mode)

    @property
    def model(self) -> str:
        return str(self.request.model)


@dataclass
class StatusReport:
    row: LedgerRow | None
    remote: TaskInfo | None

    def to_json(self) -> dict[str, Any]:
        # One zone everywhere: the server's zone-less UTC+8 times become UTC.
        local = with_utc_times(self.row.to_dict()) if self.row else None
        data: dict[str, Any] = {"local": local, "remote": None}
        if self.remote is not None:
            data["remote"] = {
                "task_id": self.remote.task_id,
                "status": self.remote.status,
                "submit_time": iso_utc(self.remote.submit_time),
                "scheduled_time": iso_utc(self.remote.scheduled_time),
                "end_time": iso_utc(self.remote.end_time),
                "video_url": self.remote.video_url,
                "code": self.remote.code,
                "message": self.remote.message,
                "usage": self.remote.usage,
                "request_id": self.remote.request_id,
            }
        return data


@dataclass
class ResumeOutcome:
    ref: str
    result: RunResult | None = None
    error: errors.QwenvidError | None = None
    note: str | None = None


@dataclass
class Session:
    """Settings + client + ledger: the operations behind every CLI command."""

    settings: Settings
    transport: httpx.BaseTransport | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    emulated: bool = False
    _client: DashScopeClient | None = field(default=None, init=False, repr=False)
    _ledger: Ledger | None = field(default=None, init=False, repr=False)
    # One Session may drive many runs from many threads (batches): its client and ledger are made once.
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # -- plumbing ---------------------------------------------------------------------------------

    @property
    def client(self) -> DashScopeClient:
        with self._lock:
            return self._client_locked()

    def _client_locked(self) -> DashScopeClient:
        if self._client is None:
            from qwenvid.config import require_key
            from qwenvid.wire.client import DashScopeClient

            key = require_key(self.settings)
            self._client = DashScopeClient(
                key,
                self.settings.base_url,
                transport=self.transport,
                sleep=self.sleep,
                clock=self.clock,
                query_qps=self.settings.query_qps,
            )
        return self._client

    @property
    def ledger(self) -> Ledger:
        with self._lock:
            return self._ledger_locked()

    def _ledger_locked(self) -> Ledger:
        if self._ledger is None:
            from qwenvid.store.ledger_file import open_ledger

            self._ledger = open_ledger(self.settings.ledger_path)
        return self._ledger

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- planning ---------------------------------------------------------------------------------

    def plan(self, request: Any) -> Plan:
        """Validate the request (local files included) and build its payload; nothing is sent."""
        from qwenvid.catalogue import billable_seconds, get_model, resolution_tier, tier_of_size
        from qwenvid.requests.shapes import build_payload, local_inputs, validate_request

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
        seconds = billable_seconds(
            spec, params.get("duration"), reference_seconds, input_video_seconds=input_seconds
        )
        tier = resolution_tier(spec, size=size, resolution=resolution)
        billed_references = reference_seconds if spec.mode == "r2v" else 0.0
        cost = estimate_cost(
            request.model, seconds, tier, self.settings.prices, reference_seconds=billed_references
        )
        return Plan(request, spec, payload, inputs, list(warnings), cost)

    def dry_run(self, plan: Plan) -> dict[str, Any]:
        """The §3 dry-run object: method, url, headers (key masked), payload, uploads."""
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
            "payload": plan.payload.body,
            "uploads": [
                {"path": str(item.path), "field": item.field, "kind": item.kind, "size": item.size}
                for item in plan.local_inputs
            ],
        }

    # -- generation -------------------------------------------------------------------------------

    def run(self, plan: Plan, options: RunOptions, reporter: Reporter) -> RunResult:
        """Submit the plan and follow it to a verified MP4 (or detach)."""
        from qwenvid.store.claims import Claims
        from qwenvid.wire.download import check_output_target

        _ = self.client  # raises for a missing key before a ledger row exists
        # A video that cannot be saved is a paid video lost for a day: find out before paying.
        check_output_target(options.output or self.settings.output_dir, overwrite=options.overwrite)
        ledger = self.ledger
        row = ledger.create(
            mode=plan.mode,
            model=plan.model,
            endpoint=plan.payload.endpoint_path,
            request_json=plan.payload.body,
            fingerprint=_fingerprint(plan),
            output_target=str(options.output) if options.output else None,
            prompt=getattr(plan.request, "prompt", None),
            duration=plan.payload.body.get("parameters", {}).get("duration"),
            tier=plan.cost.tier,
            billable_seconds_estimate=plan.cost.billable_seconds,
            base_url=self.settings.base_url,
            origin="emulated" if self.emulated else "local",
        )
        # This process owns the row until it ends; a resume elsewhere sees it alive (qwenvid/store/claims.py).
        with Claims(ledger.path).wait_acquire(row.id, timeout=10.0) or Claims(ledger.path).acquire(row.id):
            return self._submit_row(row, plan, options, reporter)

    def _submit_row(self, row: LedgerRow, plan: Plan, options: RunOptions, reporter: Reporter) -> RunResult:
        from qwenvid.requests.shapes import build_payload
        from qwenvid.requests.validation import check_body
        from qwenvid.store.pacing import handoff_interval, take_slot
        from qwenvid.tasks.reconcile import remember_key_id
        from qwenvid.tasks.slot_orphans import OrphanProbe

        client, ledger = self.client, self.ledger
        try:
            uploaded: dict[str, str] = {}
            for item in plan.local_inputs:
                reporter.phase(Phase.UPLOADING, Path(item.path).name)
                uploaded[item.path] = client.upload_file(
                    Path(item.path),
                    plan.model,
                    on_progress=lambda done, total: reporter.transfer(Phase.UPLOADING, done, total),
                )
            payload = build_payload(plan.request, uploaded) if plan.local_inputs else plan.payload
            check_body(payload.endpoint_path, payload.body)
        except BaseException as exc:
            ledger.mark_rejected(row.id, "NotSubmitted", f"not submitted: {exc}")
            raise

        reporter.phase(Phase.SUBMITTING, plan.model)
        # Within the model's submit rate and running-task limit, shared with other qwenvid processes.
        take_slot(
            self._pacer(), row.id, plan.model, self.settings.base_url,
            expected_seconds=self._estimate(row, options).seconds, on_wait=reporter.notice,
            on_full=OrphanProbe(self, row.id, handoff=handoff_interval(plan.model, self.settings.query_qps)),
        )
        ledger.mark_submitting(row.id, request_json=payload.body)
        try:
            submitted = client.submit(payload.endpoint_path, payload.body, oss_resolve=payload.oss_resolve)
        except errors.SubmitOutcomeUnknown as exc:
            ledger.mark_outcome_unknown(row.id, exc.message)
            exc.hint = (
                "A task may have been created and billed. Do not resubmit: run `qwenvid resume`, "
                "which looks it up in the account task list."
            )
            raise
        except KeyboardInterrupt:
            ledger.mark_outcome_unknown(row.id, "interrupted while the submit request was in flight")
            raise errors.Interrupted(
                "Interrupted while submitting; a task may exist.",
                hint="Run `qwenvid resume` to find it in the account task list before submitting again.",
            ) from None
        except errors.QwenvidError as exc:
            # Refused (4xx) or certainly never sent (connect error): nothing was created.
            ledger.mark_rejected(row.id, exc.code or type(exc).__name__, exc.message)
            self._pacer().release(row.id)
            raise
        self._pacer().answered(row.id)
        row = ledger.mark_submitted(row.id, submitted.task_id, submitted.request_id, submitted.task_status)
        try:
            reporter.notice(f"Task {submitted.task_id} submitted ({plan.model}).")
            remember_key_id(self, submitted.task_id)  # once per key: tells this key's tasks from others' later
            if options.detach:
                return self._result_from_row(row)
            return self._follow_row(row, options, reporter)
        except KeyboardInterrupt:
            # Between the stored task id and the wait: the task exists, so say which one and how to go on.
            raise _interrupted(submitted.task_id) from None

    def follow(self, ref: str, options: RunOptions, reporter: Reporter) -> RunResult:
        """Wait for a known task (ledger id or task id) and download its video."""
        _check_named_output(options)
        from qwenvid.tasks.reconcile import hold_row
        from qwenvid.wire.client import check_task_id  # a malformed id is refused, never stored

        row = self.ledger.get(ref) or self.ledger.record_external(
            check_task_id(ref), base_url=self.settings.base_url
        )
        wait = options.timeout if options.timeout is not None else self.settings.wait_timeout
        with hold_row(self, row.id, wait, reporter):
            row = self.ledger.get(row.id) or row
            if row.video_path is not None and row.remote_status == "SUCCEEDED":
                return self._result_from_row(row)  # another process downloaded it while this one waited
            return self._follow_row(row, options, reporter)

    def fetch(self, ref: str, options: RunOptions, reporter: Reporter) -> RunResult:
        """Download the video of a finished task, also one the ledger never saw."""
        from qwenvid.tasks.fetch import fetch_held
        from qwenvid.tasks.reconcile import hold_row
        from qwenvid.wire.client import check_task_id  # a malformed id is refused, never stored

        row = self.ledger.get(ref)
        if row is None:
            # A task this ledger never saw is asked about first: an id the service does not know leaves no row.
            info = self.client.get_task(check_task_id(ref))
            if info.status == "UNKNOWN":
                raise errors.task_failure(info.status, info.code, info.message, task_id=info.task_id or ref)
            row = self.ledger.record_external(info.task_id or ref, base_url=self.settings.base_url)
        task_id = _task_id_of(row)
        wait = options.timeout if options.timeout is not None else self.settings.wait_timeout
        with hold_row(self, row.id, wait, reporter):
            row = self.ledger.get(row.id) or row
            if row.video_path and Path(row.video_path).is_file() and _same_target(options.output, row.video_path):
                # Already on disk: say where, rather than writing a second copy of the same video.
                reporter.notice(f"Task {task_id} was already downloaded: {row.video_path} (not writing another copy).")
                return self._result_from_row(row)
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
            self._record(row, info)
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

    # -- internals --------------------------------------------------------------------------------

    def _here(self, row: LedgerRow) -> bool:
        """Whether the row's task lives on the service this session talks to (a task exists in one place)."""
        return row.base_url is None or row.base_url.rstrip("/") == self.settings.base_url.rstrip("/")

    def _follow_row(self, row: LedgerRow, options: RunOptions, reporter: Reporter) -> RunResult:
        from dataclasses import replace

        from qwenvid.store.pacing import contended, handoff_interval
        from qwenvid.tasks.fetch import NotSucceeded, download_finished, download_task
        from qwenvid.tasks.poll_loop import shared_loop
        from qwenvid.tasks.polling import PollSchedule
        from qwenvid.wire.download import preload_prober

        task_id = _task_id_of(row)
        if row.remote_status == "SUCCEEDED" and row.video_url and not row.video_path:
            done = download_finished(self, row, options, reporter)  # the saved link first, else one query
            if not isinstance(done, NotSucceeded):
                return done
        expected = self._estimate(row, options)
        estimate = expected.seconds
        preload_prober()  # PyAV loads while the task renders, not between its end and the verified video
        last_status: list[str] = [row.remote_status or "PENDING"]
        # Show where the task stands from the start, not only after the first poll.
        reporter.phase(Phase.RENDERING if last_status[0] == "RUNNING" else Phase.QUEUED, task_id)
        sent = _as_datetime(row.submitting_at or row.created_at)
        already_elapsed = max(0.0, (datetime.now(UTC) - sent).total_seconds())

        def on_update(info: TaskInfo, elapsed: float) -> None:
            if info.status != last_status[0]:
                last_status[0] = info.status
                if info.status == "PENDING":
                    reporter.phase(Phase.QUEUED, task_id)
                elif info.status == "RUNNING":
                    reporter.phase(Phase.RENDERING, task_id)
            reporter.task_update(info, elapsed, estimate)

        try:
            # Every task of the process is followed by one loop, under one query budget.
            info = shared_loop(self.clock, self.sleep, qps=self.settings.query_qps).run(
                lambda: self._poll_once(row),
                schedule=replace(
                    PollSchedule.for_estimate(expected),
                    urgent=contended(self._pacer(), row.model or "", self.settings.base_url),
                    handoff=handoff_interval(row.model or "", self.settings.query_qps),
                ),
                timeout=options.timeout if options.timeout is not None else self.settings.wait_timeout,
                on_update=on_update,
                task_id=task_id,
                already_elapsed=already_elapsed,
            )
        except KeyboardInterrupt:
            raise _interrupted(task_id) from None
        except errors.StillRunning as exc:
            exc.task_id = task_id
            exc.hint = exc.hint or f"Continue with `qwenvid status {task_id} --wait`."
            raise
        if info.status != "SUCCEEDED":
            raise errors.task_failure(
                info.status, info.code, info.message, task_id=task_id, request_id=info.request_id
            )
        return download_task(self, self.ledger.get(row.id) or row, info, options, reporter)

    def _poll_once(self, row: LedgerRow) -> TaskInfo:
        info = self.client.get_task(_task_id_of(row))
        self._record(row, info)
        return info

    def _pacer(self) -> SubmitPacer:
        from qwenvid.store.pacing import pacer_for

        # Slots are compared across processes in epoch seconds; an injected test clock is used as it is.
        wall = time.time if self.clock is time.monotonic else self.clock
        return pacer_for(self.settings.ledger_path, clock=wall, sleep=self.sleep)

    def _record(self, row: LedgerRow, info: TaskInfo) -> None:
        from qwenvid.store.pacing import note_status
        from qwenvid.tasks.estimates import remember

        note_status(self._pacer(), row.id, info.status)
        remember(self.ledger.path, row, info)
        self.ledger.update_remote(
            row.id,
            info.status,
            submit_time=info.submit_time,
            end_time=info.end_time,
            error_code=info.code,
            error_message=info.message,
        )
        if info.status == "SUCCEEDED":
            self.ledger.set_result(
                row.id,
                video_url=info.video_url,
                usage=info.usage,
                actual_prompt=info.actual_prompt,
                end_time=info.end_time,
            )

    def _estimate(self, row: LedgerRow, options: RunOptions) -> Estimate:
        from qwenvid.tasks.estimates import estimate_for
        from qwenvid.tasks.polling import Estimate

        if options.estimate is not None:  # told by the caller (the in-process emulator's known timing)
            return Estimate.known(options.estimate)
        return estimate_for(self.ledger, row)

    def _result_from_row(self, row: LedgerRow) -> RunResult:
        return RunResult(
            local_id=row.id,
            task_id=row.task_id or "",
            status=row.remote_status or "PENDING",
            mode=row.mode,
            model=row.model,
            video_path=Path(row.video_path) if row.video_path else None,
            video_url=row.video_url,
            usage=row.usage,
            request_id=row.request_id,
            billed_seconds=row.billed_seconds,
            sha256=row.video_sha256,
            size=row.video_size,
            actual_prompt=row.actual_prompt,
        )


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


def _fingerprint(plan: Plan) -> str:
    """Hash of model + normalized body + local input contents, to recognise the same request again."""
    digest = hashlib.sha256()
    digest.update(plan.model.encode())
    digest.update(json.dumps(plan.payload.body, sort_keys=True, ensure_ascii=False).encode())
    for item in plan.local_inputs:
        with open(item.path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


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


def _task_id_of(row: LedgerRow) -> str:
    """The row's task id; a row without one has nothing on the server to follow yet."""
    if row.task_id:
        return row.task_id
    if row.local_state in ("outcome_unknown", "submitting"):
        raise errors.QwenvidError(
            f"{row.id} has no task id: its submit got no answer, so whether a task exists is not known yet.",
            hint="`qwenvid resume` looks for it in the account task list.",
        )
    raise errors.QwenvidError(
        f"{row.id} has no task id: it was never submitted ({row.error_message or row.local_state}).",
        hint="Nothing ran and nothing was billed; run the command again.",
    )


def _interrupted(task_id: str) -> errors.Interrupted:
    return errors.Interrupted(
        f"Stopped waiting for task {task_id}; it keeps running on the server.",
        hint=f"Continue with `qwenvid status {task_id} --wait` (or `qwenvid resume`).",
        task_id=task_id,
    )


def _as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)
