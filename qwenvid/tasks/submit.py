"""The write-ahead submit: the one place a generation is paid for (single runs, plans, `extend`, the wizard).

    guards ─► row "created" ─► uploads ─► slot ─► "submitting" ─► send ─► "submitted" (task id)
      │             │             │         │                         ├─► "outcome unknown" (resume reconciles)
    refused         └─────────────┴─────────┴─► "never submitted"     └─► "rejected" (refused: nothing created)

Every check that must pass before anything is paid is a *guard* (`Guard`, called as
`guard(ctx, attempt)`): the confirmation of the cost, the pay-again check after an earlier unknown
outcome (qwenvid/tasks/guards.py), budgets, idempotency. Guards run once per attempt, before its
row is written (after the in-flight check, when the caller asks for one): the process-wide ones
(`add_guard`) first, then the attempt's own (`SubmitAttempt.guards`). A guard refuses by raising a
QwenvidError; its `exit_code` is the command's. Nothing is written, uploaded or sent then.

The row is written before any upload, so an upload that fails (or a Ctrl-C) closes it as never
submitted. A request that never left (the slot wait ran out, a 429 back-off was cut short) is closed
as never submitted at once; while a 429 back-off waits, the row is back in "created", so a process
killed then leaves nothing that looks in flight. The slot is the pacer's (qwenvid/store/pacing.py),
held by the row id, for single runs and plans alike; whether a full model blocks (`wait=True`, up to
`deadline`) or answers NoSlot (`wait=False`, the row and its uploads kept for the next try) is the
caller's choice.

    attempt = SubmitAttempt(plan, output_target="out.mp4", guards=[confirm])
    outcome = submit(ctx, attempt)                   # Submitted | NoSlot | Existing | Unknown
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qwenvid import errors
from qwenvid.tasks.outcomes import plan_fingerprint
from qwenvid.tasks.reporting import NullReporter, Phase, Reporter

if TYPE_CHECKING:
    from qwenvid.requests.shapes import Payload
    from qwenvid.store.claims import Claim
    from qwenvid.store.ledger import LedgerRow
    from qwenvid.tasks.context import TaskContext
    from qwenvid.tasks.outcomes import Plan

Guard = Callable[["TaskContext", "SubmitAttempt"], None]
"""A check before anything is paid: gets the context and the attempt (plan, fingerprint); raises to refuse."""

_GUARDS: list[Guard] = []


def add_guard(guard: Guard) -> Callable[[], None]:
    """Run `guard` before every submit of this process (budgets, idempotency); returns its remover."""
    _GUARDS.append(guard)

    def remove() -> None:
        with contextlib.suppress(ValueError):
            _GUARDS.remove(guard)

    return remove


@dataclass
class SubmitAttempt:
    """One request on its way to the service, and what the submit has done for it so far."""

    plan: Plan
    fingerprint: str | None = None  # the request's identity; None: plan_fingerprint(plan)
    output_target: str | None = None
    guards: Sequence[Guard] = ()
    reporter: Reporter = field(default_factory=NullReporter)
    # Seconds the task is expected to take (the slot's lease); None: the ledger's estimate for the row.
    expected_seconds: float | None = None
    show_uploads: bool = True
    # What the submit has done: the row (written before any upload), the payload as sent, the row's claim.
    row: LedgerRow | None = field(default=None, init=False)
    payload: Payload | None = field(default=None, init=False)
    claim: Claim | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.fingerprint is None:
            self.fingerprint = plan_fingerprint(self.plan)

    @property
    def local_id(self) -> str | None:
        return self.row.id if self.row else None


@dataclass(frozen=True)
class Submitted:
    local_id: str
    task_id: str
    row: LedgerRow


@dataclass(frozen=True)
class NoSlot:
    """The model is at its limit (in this process or another): try again later; nothing was sent."""

    reason: str
    retry_after: float = 0.5


@dataclass(frozen=True)
class Unknown:
    """The submit left but no answer came back: a task may exist (reconcile before anything else)."""

    local_id: str
    message: str
    error: errors.SubmitOutcomeUnknown | None = None


@dataclass(frozen=True)
class Existing:
    """Another run made this very request meanwhile: follow or reuse that one instead of paying twice."""

    local_id: str


SubmitOutcome = Submitted | NoSlot | Existing | Unknown


def submit(
    ctx: TaskContext,
    attempt: SubmitAttempt,
    *,
    wait: bool = True,
    deadline: float | None = None,
    reuse_in_flight: bool = False,
    lock: str | None = None,
) -> SubmitOutcome:
    """Submit the attempt's request once, write-ahead; see the module docstring.

    `wait`: block for a slot of a full model (up to `deadline`, on `ctx.clock`; passing it ends with
    NotSubmitted, exit 5, the row closed) or answer NoSlot at once. `reuse_in_flight`: answer Existing
    when a row of the same fingerprint is in flight or unknown (plans; `--force` turns it off).
    `lock`: a store lock held from the in-flight check to the send's start, so two processes never
    submit one identity twice. A call after NoSlot continues the same attempt (row, uploads kept).
    Raises the service's refusal (ThrottledError for a 429 the retries did not get past: nothing
    was created), NotSubmitted, a guard's refusal, or KeyboardInterrupt before the request left (the
    row closed as never submitted); Ctrl-C while the request is in flight raises Interrupted.
    After Submitted or Unknown the caller holds the row's claim (`attempt.claim`; see `holding`).
    """
    if attempt.row is None:
        if reuse_in_flight:
            existing = _in_flight(ctx, attempt)
            if existing is not None:
                return existing  # nothing to pay for: no guard asks
        for guard in (*_GUARDS, *attempt.guards):
            guard(ctx, attempt)
        _prepare(ctx, attempt)
    assert attempt.row is not None and attempt.payload is not None
    row, payload = attempt.row, attempt.payload
    try:
        with ctx.store.lock(lock) if lock else contextlib.nullcontext():
            if reuse_in_flight:
                existing = _in_flight(ctx, attempt)
                if existing is not None:
                    _close(ctx, attempt, "another run submitted the same request meanwhile; never submitted")
                    return existing
            attempt.reporter.phase(Phase.SUBMITTING, attempt.plan.model)
            refused = _take_slot(ctx, attempt, wait=wait, deadline=deadline)
            if refused is not None:
                return refused
            _leaving(ctx, row.id, payload)
        return _send(ctx, attempt)
    except BaseException:
        if attempt.claim is not None and _unsent(ctx, row.id):
            _close(ctx, attempt, "stopped before the submit was sent; never submitted")
        raise


def abandon(ctx: TaskContext, attempt: SubmitAttempt, why: str) -> None:
    """The caller gives up an attempt that got NoSlot (its plan stopped): close its row, free its claim."""
    if attempt.row is not None and _unsent(ctx, attempt.row.id):
        _close(ctx, attempt, why)


# -- the steps ------------------------------------------------------------------------------------


def _prepare(ctx: TaskContext, attempt: SubmitAttempt) -> None:
    """Write the row, claim it, upload the inputs and build the body as it will be sent."""
    from qwenvid.requests.shapes import build_payload
    from qwenvid.requests.validation import check_body

    plan, reporter = attempt.plan, attempt.reporter
    row = ctx.ledger.create(
        mode=plan.mode,
        model=plan.model,
        endpoint=plan.payload.endpoint_path,
        request_json=plan.payload.body,
        fingerprint=attempt.fingerprint,
        output_target=attempt.output_target,
        prompt=getattr(plan.request, "prompt", None),
        duration=plan.payload.body.get("parameters", {}).get("duration"),
        tier=plan.cost.tier,
        billable_seconds_estimate=plan.cost.billable_seconds,
        base_url=ctx.settings.base_url,
        origin="emulated" if ctx.emulated else "local",
    )
    attempt.row = row
    # This process owns the row until it ends; a resume elsewhere sees it alive (qwenvid/store/claims.py).
    claims = ctx.store.claims()
    attempt.claim = claims.wait_acquire(row.id, timeout=10.0) or claims.acquire(row.id)
    try:
        uploaded: dict[str, str] = {}
        if plan.local_inputs:
            from qwenvid.tasks.uploads import upload_inputs

            # Each input once: an earlier upload is reused while it outlives the task (qwenvid/tasks/uploads.py).
            uploaded = upload_inputs(ctx, plan, reporter if attempt.show_uploads else None)
        payload = build_payload(plan.request, uploaded) if plan.local_inputs else plan.payload
        check_body(payload.endpoint_path, payload.body)
    except BaseException as exc:
        _close(ctx, attempt, f"not submitted: {exc}")
        raise
    attempt.payload = payload


def _take_slot(ctx: TaskContext, attempt: SubmitAttempt, *, wait: bool, deadline: float | None) -> NoSlot | None:
    """The model's submit slot (rate and running tasks, shared by every qwenvid process), held by the row id."""
    from qwenvid.store.pacing import handoff_interval, take_slot
    from qwenvid.store.seam import SlotDeadline
    from qwenvid.tasks.slot_orphans import OrphanProbe

    row, plan, reporter = attempt.row, attempt.plan, attempt.reporter
    assert row is not None
    pacer = ctx.pacer()
    if not wait:
        at = pacer.clock()
    elif deadline is not None:
        at = pacer.clock() + (deadline - ctx.clock())  # the same moment on the pacer's (wall) clock
    else:
        at = None
    expected = attempt.expected_seconds
    if expected is None:
        expected = ctx.estimate(row).seconds
    try:
        take_slot(
            pacer, row.id, plan.model, ctx.settings.base_url,
            expected_seconds=expected, on_wait=reporter.notice if wait else None,
            on_full=OrphanProbe(ctx, row.id, handoff=handoff_interval(plan.model, ctx.settings.query_qps)) if wait
            else None,
            deadline=at,
        )  # fmt: skip
    except SlotDeadline as exc:
        if not wait:
            # A full model frees when a task ends (the caller wakes then); only the rate frees by itself soon.
            full = exc.running >= exc.concurrency
            return NoSlot(f"{plan.model} is at its limit of {exc.concurrency} running tasks" if full
                          else f"{plan.model}: another submit just went", retry_after=0.5)  # fmt: skip
        _close(ctx, attempt, "the --timeout passed while waiting for a free slot; never submitted")
        raise errors.NotSubmitted(
            f"Nothing was submitted: {exc.running} {plan.model} tasks were still running "
            f"(the account allows {exc.concurrency}) when the time ran out.",
            hint="Nothing was billed; run the command again (with a longer --timeout, or later).",
        ) from None
    return None


def _send(ctx: TaskContext, attempt: SubmitAttempt) -> Submitted | Unknown:
    """Send the request the row says is leaving; the answer decides the row's state."""
    row, payload = attempt.row, attempt.payload
    assert row is not None and payload is not None
    ledger, pacer = ctx.ledger, ctx.pacer()

    def back_off(delay: float) -> None:
        # A 429 (or a request that never connected): nothing exists while we wait, and the row says so.
        ledger.mark_unsent(row.id)
        ctx.sleep(delay)
        _leaving(ctx, row.id, payload)

    try:
        submitted = ctx.client.submit(
            payload.endpoint_path, payload.body, oss_resolve=payload.oss_resolve, on_retry=back_off
        )
    except errors.SubmitOutcomeUnknown as exc:
        ledger.mark_outcome_unknown(row.id, exc.message)
        return Unknown(row.id, exc.message, exc)
    except KeyboardInterrupt:
        if _unsent(ctx, row.id):
            raise  # cut during a back-off: nothing was sent (the caller closes the row)
        ledger.mark_outcome_unknown(row.id, "interrupted while the submit request was in flight")
        _release_claim(attempt)
        raise errors.Interrupted(
            "Interrupted while submitting; a task may exist.",
            hint="Run `qwenvid resume` to find it in the account task list before submitting again.",
        ) from None
    except errors.QwenvidError as exc:
        # Refused (4xx, a 429 past the retries) or certainly never sent: nothing was created, nothing billed.
        ledger.mark_rejected(row.id, exc.code or type(exc).__name__, exc.message)
        pacer.release(row.id)
        _release_claim(attempt)
        raise
    pacer.answered(row.id)
    done = ledger.mark_submitted(row.id, submitted.task_id, submitted.request_id, submitted.task_status)
    attempt.row = done
    return Submitted(row.id, submitted.task_id, done)


def _leaving(ctx: TaskContext, local_id: str, payload: Payload) -> None:
    """The submit request is about to leave: the one place a row becomes "submitting"."""
    ctx.ledger.mark_submitting(local_id, request_json=payload.body)


# -- helpers --------------------------------------------------------------------------------------


def _in_flight(ctx: TaskContext, attempt: SubmitAttempt) -> Existing | None:
    """An earlier row of the same request that is submitting, unknown or alive on this service."""
    for row in ctx.ledger.by_fingerprint(attempt.fingerprint or ""):
        if row.id == attempt.local_id or not _same_service(ctx, row):
            continue
        if row.local_state in ("submitting", "outcome_unknown"):
            return Existing(row.id)
        if row.local_state == "submitted" and row.remote_status not in ("FAILED", "CANCELED", "UNKNOWN"):
            return Existing(row.id)
    return None


def _same_service(ctx: TaskContext, row: LedgerRow) -> bool:
    return (row.base_url or "").rstrip("/") == ctx.settings.base_url.rstrip("/")


def _unsent(ctx: TaskContext, local_id: str) -> bool:
    row = ctx.ledger.get(local_id)
    return row is not None and row.local_state == "created"


def _close(ctx: TaskContext, attempt: SubmitAttempt, why: str) -> None:
    """Close the attempt's row as never submitted (nothing left, nothing billed); free its slot and claim."""
    row = attempt.row
    if row is not None:
        ctx.ledger.mark_rejected(row.id, "NotSubmitted", why)
        with contextlib.suppress(Exception):
            ctx.pacer().release(row.id)
    _release_claim(attempt)


def _release_claim(attempt: SubmitAttempt) -> None:
    if attempt.claim is not None:
        attempt.claim.release()
        attempt.claim = None


@contextlib.contextmanager
def holding(attempt: SubmitAttempt) -> Iterator[None]:
    """Keep the attempt's row claim for the block (a single run follows its task under it), then free it."""
    try:
        yield
    finally:
        _release_claim(attempt)
