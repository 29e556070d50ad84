"""Reconciliation: what an ambiguous submit created, adopting a task only when it is provably this request's.

A submit that got no usable answer (read timeout, dropped connection, 5xx after sending, a process
killed mid-submit) leaves a ledger row "outcome unknown". The account task list (`GET /tasks`)
shows every task of the account, also those of other keys, machines and colleagues, so a task of the
same model in the same minutes is only a *candidate*. A candidate is adopted when everything the
service tells agrees with the row:

    not owned by another ledger row · same model · created within the submit window
    · made with this key (the list's `api_key_id`, learned from this key's first stored task)
    · the original prompt and the parameters the task query returns (waited for when not shown yet)

Rows that made the same request (same fingerprint) are resolved together: their verified tasks are
paired with them in time order, so two ambiguous submits of one prompt both end adopted. Whenever a
candidate cannot be proven, the row stays "outcome unknown" and the note says why and what to do.

"No task was created" is said only when the list was consulted after the whole submit window had
passed while the window was still inside the service's retention (DashScope keeps tasks 24 h); past
that the row ends "unknown, possibly billed". Rows left in `submitting` or `created` by a process
that is gone (see qwenvid/store/claims.py) are taken up at once: a `submitting` row becomes outcome
unknown and is reconciled; a `created` row was never submitted and is closed (nothing billed).

`resume()` runs this, then follows every unfinished row under its ledger claim, so one process at a
time follows and downloads a task. Failures are per row: one failing list call never stops the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from qwenvid import errors
from qwenvid.tasks.outcomes import ResumeOutcome

if TYPE_CHECKING:
    from qwenvid.store.claims import Claim, ClaimInfo
    from qwenvid.store.ledger import LedgerRow
    from qwenvid.store.seam import RowClaims
    from qwenvid.tasks.context import TaskContext
    from qwenvid.tasks.outcomes import Plan, RunOptions
    from qwenvid.tasks.reporting import Reporter

# Around the moment the submit left: the server's clock may run behind ours, and a submit that was
# answered late (or sat in a proxy) may create its task minutes later.
WINDOW_BEFORE = timedelta(minutes=2)
WINDOW_AFTER = timedelta(minutes=10)
# DashScope lists and answers tasks for 24 h (dashscope-api.md §5); keep a margin for clock skew.
RETENTION = timedelta(hours=24)
RETENTION_MARGIN = timedelta(minutes=15)
# A row younger than this with no claim yet is a run that is just starting, not a crashed one.
STARTUP_GRACE = timedelta(seconds=30)
# Unfinished tasks `resume` follows and downloads at the same time.
RESUME_WORKERS = 8
# error_code of a row whose outcome can no longer be known (final: not reconciled again).
POSSIBLY_BILLED = "OutcomeUnknown.PossiblyBilled"

# --------------------------------------------------------------------------- small stores


def key_ref(api_key: str) -> str:
    """A short one-way reference to a key, to remember its public id without storing the key."""
    return hashlib.sha256(b"qwenvid api_key_id\0" + api_key.encode()).hexdigest()[:24]


def _base(ctx: TaskContext) -> str:
    return ctx.settings.base_url.rstrip("/")


def known_key_id(ctx: TaskContext) -> str | None:
    """This key's `api_key_id` on this service, once learned."""
    key = ctx.settings.api_key
    return ctx.store.key_ids.key_id(key_ref(key), _base(ctx)) if key else None


def _store_key_id(ctx: TaskContext, key_id: str) -> None:
    key = ctx.settings.api_key
    if key:
        ctx.store.key_ids.set_key_id(key_ref(key), _base(ctx), key_id)


def remember_key_id(ctx: TaskContext, task_id: str) -> str | None:
    """Learn this key's `api_key_id` from the list entry of a task it just created (once per key)."""
    key = ctx.settings.api_key
    if not key or ctx.emulated:
        return None
    known = known_key_id(ctx)
    if known is not None:
        return known
    try:
        page = ctx.client.list_tasks(task_id=task_id, page_size=1)
    except errors.QwenvidError:
        return None  # best effort: the next stored task teaches it
    for item in page.items:
        key_id = item.raw.get("api_key_id")
        if item.task_id == task_id and key_id not in (None, ""):
            _store_key_id(ctx, str(key_id))
            return str(key_id)
    return None


def _save_candidates(ctx: TaskContext, row_id: str, candidates: Sequence[str], note: str) -> None:
    ctx.store.key_ids.save_candidates(row_id, candidates, note)


def _rows_naming(ctx: TaskContext, task_id: str) -> list[str]:
    return ctx.store.key_ids.rows_naming(task_id)


# --------------------------------------------------------------------------- evidence


@dataclass(frozen=True)
class Evidence:
    """What the service says about one candidate task, against the row's request."""

    task: Any  # RemoteTask
    verdict: str  # "match", "mismatch", "unverifiable"
    reason: str
    status: str | None = None  # the task's status when it was checked

    @property
    def task_id(self) -> str:
        return str(self.task.task_id)


def _sent(row: LedgerRow) -> datetime:
    value = datetime.fromisoformat(row.submitting_at or row.created_at)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _created(task: Any) -> datetime | None:
    from qwenvid.store.ledger import remote_created_at

    return remote_created_at(getattr(task, "gmt_create", None))


def _same_model(task: Any, row: LedgerRow) -> bool:
    from qwenvid.catalogue import get_model

    remote, local = str(getattr(task, "model_name", "") or ""), str(row.model or "")
    if not remote or not local:
        return False
    if remote.lower() == local.lower():
        return True
    a, b = get_model(remote), get_model(local)
    return a is not None and b is not None and a.id == b.id


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def _parameters_disagree(row: LedgerRow, usage: dict[str, Any]) -> str | None:
    """What the task's `usage` shows that this request did not ask for (duration, size, resolution)."""
    params = (row.request_json or {}).get("parameters") or {}
    duration = params.get("duration")
    made = usage.get("output_video_duration", usage.get("video_duration"))
    if isinstance(duration, int | float) and isinstance(made, int | float) and abs(float(made) - duration) > 0.5:
        return f"it made {made:g} s of video, this request asked for {duration:g} s"
    size = params.get("size")
    shown = usage.get("size") or usage.get("video_ratio")
    if isinstance(size, str) and isinstance(shown, str) and "*" in shown and shown != size:
        return f"its size is {shown}, this request asked for {size}"
    resolution = params.get("resolution")
    sr = usage.get("SR")
    if isinstance(resolution, str) and isinstance(sr, int) and resolution.upper() != f"{sr}P":
        return f"its resolution is {sr}P, this request asked for {resolution}"
    return None


def _verify(ctx: TaskContext, row: LedgerRow, task: Any, *, wait: bool, timeout: float | None) -> Evidence:
    """Compare the task's original prompt and parameters with the row; wait for them if not shown yet."""
    from qwenvid.tasks.estimates import estimate_for
    from qwenvid.tasks.poll_loop import wait_for_task
    from qwenvid.tasks.polling import PollSchedule

    client = ctx.client
    info = client.get_task(task.task_id)
    if info.orig_prompt is None and info.status in ("PENDING", "RUNNING") and wait:
        expected = estimate_for(ctx.store, row)
        try:
            info = wait_for_task(
                lambda: client.get_task(task.task_id),
                estimate=expected.seconds,
                schedule=PollSchedule.for_estimate(expected),
                timeout=timeout,
                clock=ctx.clock,
                sleep=ctx.sleep,
                task_id=task.task_id,
            )
        except errors.StillRunning:
            info = client.get_task(task.task_id)
    if info.orig_prompt is None:
        why = {
            "PENDING": "it is still queued and the service shows a task's prompt only once it has finished",
            "RUNNING": "it is still rendering and the service shows a task's prompt only once it has finished",
            "FAILED": "it FAILED (not billed) and the service does not show the prompt of a failed task",
        }.get(info.status, f"the service does not show its prompt ({info.status})")
        return Evidence(task, "unverifiable", why, info.status)
    if _norm(info.orig_prompt) != _norm(row.prompt):
        return Evidence(task, "mismatch", "its prompt is not this request's")
    disagree = _parameters_disagree(row, info.usage or {})
    if disagree:
        return Evidence(task, "mismatch", disagree)
    return Evidence(task, "match", "same key, model, submit window, prompt and parameters")


# --------------------------------------------------------------------------- reconciliation


def reconcile(
    ctx: TaskContext,
    reporter: Reporter,
    *,
    now: datetime | None = None,
    wait: bool = True,
    timeout: float | None = None,
    rows: Iterable[LedgerRow] | None = None,
) -> list[ResumeOutcome]:
    """Resolve every outcome-unknown row (and rows a dead process left mid-submit); never resubmits."""
    now = now or datetime.now(UTC)
    claims = ctx.store.claims()
    outcomes: list[ResumeOutcome] = []
    held: list[Claim] = []
    try:
        pending: list[LedgerRow] = []
        for row in rows if rows is not None else _unresolved(ctx):
            if not ctx.here(row):
                outcomes.append(ResumeOutcome(row.id, note=_elsewhere(row)))
                continue
            if _starting(row, claims, now):
                continue  # its run wrote the row a moment ago and is about to claim it: never take it first
            previous = claims.was_claimed(row.id)  # the process that left it, if it ever claimed it
            claim = claims.try_acquire(row.id)
            if claim is None:
                holder = claims.holder(row.id)
                pid = f" (pid {holder.pid})" if holder else ""
                outcomes.append(ResumeOutcome(row.id, note=f"another qwenvid process{pid} is working on it"))
                continue
            held.append(claim)
            row = ctx.ledger.get(row.id) or row  # as it is now that we hold it
            taken_up = _take_up(ctx, row, previous)
            if isinstance(taken_up, ResumeOutcome):
                outcomes.append(taken_up)
            elif taken_up is not None:
                pending.append(taken_up)
        for group in _groups(pending):
            outcomes.extend(_reconcile_group(ctx, group, reporter, now=now, wait=wait, timeout=timeout))
    finally:
        for claim in held:
            claim.release()
    return outcomes


def _unresolved(ctx: TaskContext) -> list[LedgerRow]:
    rows = ctx.ledger.list(status=["outcome_unknown", "submitting", "created"])
    return sorted(
        (r for r in rows if r.origin != "emulated" and r.error_code != POSSIBLY_BILLED and r.task_id is None),
        key=lambda r: (r.submitting_at or r.created_at, r.id),
    )


def _starting(row: LedgerRow, claims: RowClaims, now: datetime) -> bool:
    """A row in `created`/`submitting`, never claimed, and younger than the startup grace."""
    if row.local_state not in ("created", "submitting"):
        return False
    return claims.was_claimed(row.id) is None and now - datetime.fromisoformat(row.updated_at) < STARTUP_GRACE


def _take_up(ctx: TaskContext, row: LedgerRow, previous: ClaimInfo | None) -> LedgerRow | ResumeOutcome | None:
    """A row to reconcile, a closing note (never submitted), or None (nothing left to do for it)."""
    if row.local_state == "outcome_unknown":
        return row
    if row.local_state not in ("created", "submitting") or row.task_id is not None:
        return None
    who = f"the qwenvid process (pid {previous.pid})" if previous else "the qwenvid process"
    if row.local_state == "created":
        # Its request never left (an upload, a slot wait or a 429 back-off was cut short): nothing exists.
        ctx.ledger.mark_rejected(
            row.id, "NotSubmitted", f"{who} stopped before the submit was sent; never submitted"
        )
        ctx.pacer().release(row.id)  # the slot it held frees now, not when its lease runs out
        return ResumeOutcome(row.id, note="never submitted (stopped before it was sent); nothing was billed; closed")
    return ctx.ledger.mark_outcome_unknown(row.id, f"{who} that was submitting it stopped before an answer came")


def _groups(rows: list[LedgerRow]) -> list[list[LedgerRow]]:
    """Rows that made the same request (fingerprint, model, service) are resolved together, in time order."""
    groups: dict[tuple[Any, ...], list[LedgerRow]] = {}
    for row in rows:
        key = (row.fingerprint or row.id, row.model, row.base_url)
        groups.setdefault(key, []).append(row)
    return [sorted(group, key=_sent) for group in groups.values()]


def _reconcile_group(
    ctx: TaskContext, rows: list[LedgerRow], reporter: Reporter, *, now: datetime, wait: bool, timeout: float | None
) -> list[ResumeOutcome]:
    try:
        return _resolve(ctx, rows, reporter, now=now, wait=wait, timeout=timeout)
    except errors.Interrupted:
        raise
    except errors.QwenvidError as exc:
        exc.hint = exc.hint or "The row stays 'outcome unknown'; run `qwenvid resume` again later."
        return [ResumeOutcome(row.id, error=exc) for row in rows]


def _resolve(
    ctx: TaskContext, rows: list[LedgerRow], reporter: Reporter, *, now: datetime, wait: bool, timeout: float | None
) -> list[ResumeOutcome]:
    ledger, client = ctx.ledger, ctx.client
    first = rows[0]
    start = min(_sent(r) for r in rows) - WINDOW_BEFORE
    end = max(_sent(r) for r in rows) + WINDOW_AFTER
    listed = list(client.iter_tasks(start=start, end=min(end, now), model=first.model))
    taken = ledger.known_task_ids()
    my_key = known_key_id(ctx)
    excluded: list[str] = []
    evidence: list[Evidence] = []
    for task in sorted(listed, key=lambda t: _created(t) or now):
        created = _created(task)
        if task.task_id in taken or not _same_model(task, first) or created is None or not start <= created <= end:
            continue
        key_id = task.raw.get("api_key_id") if isinstance(getattr(task, "raw", None), dict) else None
        if my_key is not None and key_id not in (None, "") and str(key_id) != my_key:
            excluded.append(f"{task.task_id} (made with another API key)")
            continue
        found = _verify(ctx, first, task, wait=wait, timeout=timeout)
        if found.verdict == "mismatch":
            excluded.append(f"{task.task_id} ({found.reason})")
        else:
            evidence.append(found)
    matches = [e for e in evidence if e.verdict == "match"]
    unsure = [e for e in evidence if e.verdict == "unverifiable"]
    not_adopted = f" Not adopted: {'; '.join(excluded)}." if excluded else ""
    outcomes: list[ResumeOutcome] = []

    if len(matches) > len(rows):
        ids = [m.task_id for m in matches]
        note = (
            f"outcome unknown: {len(ids)} tasks with this request's model, prompt and parameters were created in its "
            f"submit window ({', '.join(ids)}), more than the {len(rows)} submit(s) of it in this ledger; "
            "another client may have sent the same request. Adopt the right one with `qwenvid status <task_id>`."
        )
        for row in rows:
            _save_candidates(ctx, row.id, ids, note)
            outcomes.append(ResumeOutcome(row.id, note=note + not_adopted))
        return outcomes

    remaining = list(rows)
    for match in matches:
        row = remaining.pop(0)
        ledger.adopt(row.id, match.task_id, match.task.status)
        key_id = match.task.raw.get("api_key_id") if isinstance(getattr(match.task, "raw", None), dict) else None
        if my_key is None and key_id not in (None, ""):
            my_key = str(key_id)  # a task proven to be this request's was made with this key
            _store_key_id(ctx, my_key)
        reporter.notice(f"Adopted task {match.task_id} for {row.id} ({match.reason}).")
        outcomes.append(ResumeOutcome(row.id, note=f"adopted task {match.task_id} ({match.reason})"))
    for row in remaining:
        outcomes.append(ResumeOutcome(row.id, note=_unresolved_note(ctx, row, unsure, not_adopted, now)))
    return outcomes


def _unresolved_note(ctx: TaskContext, row: LedgerRow, unsure: list[Evidence], not_adopted: str, now: datetime) -> str:
    """No proven task for this row: wait, prove none was created, or end it as possibly billed."""
    unbilled = [e for e in unsure if e.status in ("FAILED", "CANCELED")]
    if len(unbilled) < len(unsure):
        unbilled = []
    if unbilled:
        # Whether or not one of them was this submit's, nothing was billed: judge the row as if they were absent.
        failed = ", ".join(f"{e.task_id} ({e.status}, not billed)" for e in unbilled)
        not_adopted = f" Not adopted: {failed}.{not_adopted}"
        unsure = []
    if unsure:
        ids = [e.task_id for e in unsure]
        note = (
            "outcome unknown: "
            + "; ".join(f"task {e.task_id} may be this request's but cannot be checked yet: {e.reason}" for e in unsure)
            + ". Run `qwenvid resume` again once it has finished, or adopt it with `qwenvid status <task_id>`."
        )
        _save_candidates(ctx, row.id, ids, note)
        return note + not_adopted
    sent = _sent(row)
    window_end = sent + WINDOW_AFTER
    if now < window_end:
        return (
            "outcome unknown: this request's task is not in the task list yet; one could still appear "
            f"until {window_end:%H:%M} UTC. Run `qwenvid resume` again after that; do not submit again before."
            + not_adopted
        )
    gone = _retention_exceeded(ctx, row, now)
    if gone:
        ctx.ledger.mark_outcome_unknown(row.id, f"possibly billed: {gone}")
        _set_code(ctx, row.id)
        return (
            f"unknown, possibly billed: {gone}, so whether this submit created a task cannot be proven. "
            "Check the task list or the bill in the DashScope console before submitting it again." + not_adopted
        )
    ctx.ledger.mark_rejected(
        row.id, "NotCreated", "the submit created no task (the account task list was checked within its retention)"
    )
    if unbilled:
        return "no task was created, or only a failed one (not billed); it is safe to submit again." + not_adopted
    return "no task was created (checked the account task list); it is safe to submit again." + not_adopted


def _retention_exceeded(ctx: TaskContext, row: LedgerRow, now: datetime) -> str | None:
    """Why the task list can no longer prove absence for this row, or None when it still can."""
    window_start = _sent(row) - WINDOW_BEFORE
    if now - window_start >= RETENTION - RETENTION_MARGIN:
        return f"the service keeps tasks for 24 h and this submit was at {_sent(row):%Y-%m-%d %H:%M} UTC"
    # A witness: a task this ledger knows, sent before this submit. If the service has forgotten it, its
    # retention is shorter than 24 h here (an emulator with expire:task), and the list proves nothing.
    witness = _witness(ctx, _sent(row), now)
    if witness is not None and ctx.client.get_task(witness).status == "UNKNOWN":
        return f"the service no longer knows task {witness}, which is older than this submit"
    return None


def _witness(ctx: TaskContext, before: datetime, now: datetime) -> str | None:
    for other in ctx.ledger.list(status=["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED"], limit=200):
        if other.task_id and other.origin != "emulated" and ctx.here(other):
            sent = _sent(other)
            if sent <= before and now - sent < RETENTION - RETENTION_MARGIN:
                return other.task_id
    return None


def _set_code(ctx: TaskContext, row_id: str) -> None:
    """Mark a row's unknown outcome final (it is not reconciled again; `tasks` still lists it)."""
    ctx.ledger.set_error_code(row_id, POSSIBLY_BILLED)


def _elsewhere(row: LedgerRow) -> str:
    return f"submitted to {row.base_url}; resume it with `qwenvid --base-url {row.base_url} resume`"


def state_label(row: LedgerRow) -> str:
    """A row without a task, for people: whether anything was sent, and whether it may be billed."""
    if row.remote_status:
        return row.remote_status
    if row.local_state == "created":
        return "not submitted (nothing billed)"
    if row.local_state == "outcome_unknown":
        return "unknown, possibly billed" if row.error_code == POSSIBLY_BILLED else "outcome unknown"
    if row.local_state == "rejected":
        return {"NotCreated": "not created", "NotSubmitted": "never submitted"}.get(row.error_code or "", "rejected")
    return row.local_state


# --------------------------------------------------------------------------- entry points


def adopt_named(ctx: TaskContext, task_id: str) -> LedgerRow | None:
    """`qwenvid status <task_id>` for a candidate a reconciliation listed: adopt it into that row."""
    names = _rows_naming(ctx, task_id)
    rows = [r for r in (ctx.ledger.get(name) for name in names) if r and r.local_state == "outcome_unknown"]
    if not rows:
        return None
    row = sorted(rows, key=_sent)[0]
    info = ctx.client.get_task(task_id)
    if info.status == "UNKNOWN":
        raise errors.QwenvidError(
            f"Task {task_id} is unknown to the service (expired or never existed); it was not adopted.",
            task_id=task_id,
        )
    ctx.ledger.adopt(row.id, task_id, info.status)
    _save_candidates(ctx, row.id, [], f"adopted {task_id} by hand")
    return ctx.ledger.get(row.id)


def earlier_attempts(ctx: TaskContext, plan: Plan, reporter: Reporter) -> list[ResumeOutcome]:
    """Before a new submit: reconcile earlier outcome-unknown submits of the same request (no waiting)."""
    from qwenvid.tasks.outcomes import plan_fingerprint

    fingerprint = plan_fingerprint(plan)
    rows = [
        r
        for r in ctx.ledger.by_fingerprint(fingerprint)
        if r.local_state in ("outcome_unknown", "submitting") and r.task_id is None and r.origin != "emulated"
    ]
    if not rows:
        return []
    return reconcile(ctx, reporter, rows=sorted(rows, key=_sent), wait=False)


def resume(ctx: TaskContext, options: RunOptions, reporter: Reporter) -> list[ResumeOutcome]:
    """Reconcile, then follow and download every unfinished row that no other live process holds.

    The rows are followed all at once (their polls share the process's loop, their downloads overlap),
    each under its ledger claim.
    """
    from qwenvid.tasks.follow import follow_row
    from qwenvid.tasks.poll_loop import Serialized, run_concurrently
    timeout = options.timeout if options.timeout is not None else ctx.settings.wait_timeout
    outcomes = reconcile(ctx, reporter, timeout=timeout)
    claims = ctx.store.claims()
    shared = Serialized(reporter)

    def finish(row: LedgerRow) -> ResumeOutcome:
        ref = row.task_id or row.id
        if not ctx.here(row):
            return ResumeOutcome(ref, note=_elsewhere(row))
        claim = claims.try_acquire(row.id)
        if claim is None:
            holder = claims.holder(row.id)
            pid = f" (pid {holder.pid})" if holder else ""
            return ResumeOutcome(ref, note=f"another qwenvid process{pid} is following it")
        with claim:
            current = ctx.ledger.get(row.id) or row
            if current.video_path is not None:
                return ResumeOutcome(ref, note=f"downloaded by another qwenvid process: {current.video_path}")
            try:
                return ResumeOutcome(ref, result=follow_row(ctx, current, options, shared))
            except errors.Interrupted:
                raise
            except errors.QwenvidError as exc:
                return ResumeOutcome(ref, error=exc)

    outcomes += run_concurrently(ctx.ledger.unfinished(), finish, workers=RESUME_WORKERS)
    return outcomes


def hold_row(ctx: TaskContext, row_id: str, timeout: float | None, reporter: Reporter | None = None) -> Claim:
    """Claim a row to follow it, waiting up to `timeout` s for another process that follows it now."""
    claims = ctx.store.claims()
    claim = claims.try_acquire(row_id)
    if claim is not None:
        return claim
    holder = claims.holder(row_id)
    if reporter is not None and holder is not None:
        reporter.notice(f"Another qwenvid process (pid {holder.pid}) is following {row_id}; waiting for it.")
    claim = claims.wait_acquire(row_id, timeout=timeout or 0.0, sleep=ctx.sleep)
    if claim is None:
        return claims.acquire(row_id)  # raises ClaimHeld naming the holder
    return claim
