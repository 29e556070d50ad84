"""Running slots nobody follows any more: a run waiting for a slot polls their tasks itself.

A run killed while its task renders (or one started with --detach) leaves its submit slot taken
(qwenvid/store/pacing.py): no process polls that task, so nobody sees it end, and the slot would stay
taken until its lease ran out (1.5 x the expected render time + 60 s). A run that waits for a slot
of that model looks at the slot holders instead: a holder whose ledger row no live process has
claimed (qwenvid/store/claims.py: pid + start time) has its task polled by the waiter, one GET at a time,
on the schedule of a task someone waits for (polling.HANDOFF). Of many waiting runs only one does
this (the lowest holder id among the fresh entries of `slot_waiters`), so twenty waiters do not
poll one task twenty times over. The answer is recorded as the run's own polls are (ledger row,
estimates), so an ended task frees its slot at once and a live one keeps it; `resume` downloads the
video later, as before.

    probe = OrphanProbe(ctx, row.id, handoff=0.5)
    take_slot(pacer, row.id, model, base_url, expected_seconds=60, on_full=probe)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qwenvid.errors import QwenvidError

if TYPE_CHECKING:
    from qwenvid.store.seam import RowClaims
    from qwenvid.tasks.context import TaskContext

# The slot table and claims are read at most this often while waiting (cheap SQLite reads, /proc).
LOOK_EVERY = 0.5


class OrphanProbe:
    """Called while a submit waits for a full model: polls the tasks of slots whose run is gone."""

    def __init__(self, ctx: TaskContext, holder: str, *, handoff: float) -> None:
        self.ctx = ctx
        self.holder = holder  # the waiting run's own slot holder id (its ledger row)
        self.handoff = handoff
        self.polls = 0  # queries made for others' tasks (tests, benchmarks)
        self._claims: RowClaims | None = None  # made at the first look: a submit that never waits pays nothing
        self._next_look = float("-inf")
        self._due: dict[str, float] = {}

    def __call__(self, model: str, service: str) -> None:
        pacer = self.ctx.pacer()  # the context's own pacer: its clock, its ledger file
        now = pacer.clock()
        if now < self._next_look:
            return
        self._next_look = now + LOOK_EVERY
        if pacer.first_waiter(model, service) != self.holder:
            return  # another waiting run looks after the slots (one poll per task, not one per waiter)
        if self._claims is None:
            self._claims = self.ctx.store.claims(clock=pacer.clock)
        for holder, submitted_at in pacer.holders(model, service):
            if now < self._due.get(holder, float("-inf")) or self._claims.holder(holder) is not None:
                continue  # not due yet, or a live process follows it (and will free the slot)
            try:
                row = self.ctx.ledger.get(holder)
            except QwenvidError:
                row = None  # an ambiguous prefix: not one of this ledger's rows
            if row is not None and row.id == holder and row.local_state in ("created", "rejected"):
                # Its run died before the request left (or it was closed since): no task holds this slot.
                pacer.release(holder)
                continue
            if row is None or row.id != holder or not row.task_id:
                # Not a ledger row, or a run that died mid-submit (a task may exist): its lease frees it.
                self._due[holder] = float("inf")
                continue
            self._due[holder] = now + self._interval(now - submitted_at)
            self.polls += 1
            try:
                self.ctx.poll_once(row)  # recorded as the run's own poll would be: an end frees the slot
            except QwenvidError:
                pass  # unreachable, throttled, ...: the next look tries again

    def _interval(self, elapsed: float) -> float:
        from qwenvid.tasks.polling import HANDOFF_RATIO

        return max(self.handoff, HANDOFF_RATIO * max(elapsed, 0.0))
