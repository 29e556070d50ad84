"""The plan scheduler: runs every step as soon as its inputs are ready, within each model's limits.

One loop in one thread does all the talking to the service for the whole plan: it submits (paced per
model: concurrent tasks and submits per second, counting tasks other qwenvid processes have in flight),
and polls every task in flight on its own schedule through the client's account-wide query limiter.
Downloads and media operations run on a small worker pool so that the loop never waits on a disk or a
transfer. Time comes from the injected `clock`/`sleep`, so tests run it on the emulator's manual clock.

A step's life: waiting (inputs) -> queued (for a slot) -> submitting -> queued/running (on the
service) -> downloading -> done; or reused (same identity finished before), failed, skipped (an input
failed), detached (left running when the wait ended). Nothing is ever cancelled; a rerun picks up.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from qwenvid import errors
from qwenvid.plans.backend import Existing, Limits, NoSlot, Submitted, Unknown, model_limits, place_copy
from qwenvid.plans.graph import dependents
from qwenvid.plans.identity import file_sha256
from qwenvid.plans.manifest import (
    DETACHED,
    DONE,
    DOWNLOADING,
    FAILED,
    QUEUED,
    READY,
    REUSED,
    RUNNING,
    SKIPPED,
    SUBMITTING,
    WAITING,
    EventSink,
    Manifest,
    StepRecord,
    read_manifest,
    resumed_start,
)
from qwenvid.plans.prepare import Found, PreparedPlan, StepPlan, step_identity, step_mode
from qwenvid.plans.resolve import resolved_fields
from qwenvid.plans.steps import build_request

if TYPE_CHECKING:
    from qwenvid.requests.priors import Estimate

# Transient poll failures back off from this many seconds, doubling, up to the maximum.
POLL_RETRY_BASE, POLL_RETRY_MAX = 2.0, 60.0
# An ambiguous submit is looked up in the task list this many times, this far apart, before giving up.
RECONCILE_TRIES, RECONCILE_EVERY = 6, 5.0
# Another process follows a task we need: look at its ledger row this often.
WATCH_EVERY = 2.0
# Submits of one model per second are counted over a little more than a second: the service's clock is not ours.
RATE_WINDOW = 1.05
# manifest.json is rewritten at most this often while the plan runs (real seconds; a 200-step plan's
# manifest is big), and always at the end. Generation steps are found again through the ledger anyway.
MANIFEST_EVERY = 1.0
SMALL_PLAN = 50
QUERY_SHARE = 15.0  # queries per second this machine's hand-off polls may use (the default query_qps)
BUDGET_CODE = "BudgetExceeded"  # a step a [budget] limit stopped (nothing submitted); the plan exits 11
# The shortest nap of the loop when something is due "now" but could not be done (clock rounding).
MIN_SLEEP = 0.01
# Real seconds the loop waits for a worker (download, media op) before looking at the clock again.
WORKER_WAIT = 0.2


class Generations(Protocol):
    """What the scheduler needs from the service side (LedgerBackend implements it)."""

    def generation(self, identity: str) -> Found | None: ...

    def submit(
        self, request: Any, identity: str, target: Path, limits: Limits, *, force: bool = False
    ) -> Submitted | NoSlot | Existing | Unknown: ...

    def claim(self, local_id: str) -> bool: ...

    def release(self, local_id: str) -> None: ...

    def release_all(self) -> None: ...

    def row(self, local_id: str) -> Any: ...

    def estimate(self, local_id: str, default: float | None) -> Estimate: ...

    def poll(self, local_id: str) -> Any: ...

    def download(self, local_id: str, target: Path) -> tuple[Path, str, float | None]: ...

    def reconcile(self, local_id: str) -> Found | None: ...


class MediaOps(Protocol):
    def run(self, op: str, params: Mapping[str, Any], target: Path) -> None: ...


class MediaFinder(Protocol):
    def media(self, step_id: str, identity: str) -> Found | None: ...


@dataclass
class SchedulerOptions:
    fail_fast: bool = False
    timeout: float | None = None  # seconds for the whole run; then what runs is left running (exit 5)
    detach: bool = False  # submit what can start now, then stop waiting
    estimate: float | None = None  # render time to expect (the emulator's); None: history / catalogue
    force: frozenset[str] = frozenset()
    workers: int = 4


@dataclass
class _Task:
    """A step's task on the service, followed by this process."""

    local_id: str
    task_id: str | None
    schedule: Any
    started: float
    next_poll: float
    polls: int = 0
    failures: int = 0
    status: str = "PENDING"


@dataclass
class _Run:
    sp: StepPlan
    record: StepRecord
    identity: str | None = None
    request: Any | None = None
    task: _Task | None = None
    future: Future[Any] | None = None
    watch: str | None = None  # a ledger row another process follows for us
    next_check: float = 0.0
    reconcile_tries: int = 0
    unknown_row: str | None = None


@dataclass
class Stats:
    submits: int = 0
    throttled: int = 0
    polls: int = 0
    max_in_flight: dict[str, int] = field(default_factory=dict)


class PlanScheduler:
    """Runs a prepared plan to the end (or to its timeout) and keeps the manifest up to date."""

    def __init__(
        self,
        prepared: PreparedPlan,
        generations: Generations,
        media: MediaOps,
        media_finder: MediaFinder,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        events: EventSink | None = None,
        on_change: Callable[[StepRecord], None] | None = None,
        options: SchedulerOptions | None = None,
    ) -> None:
        self.prepared = prepared
        self.spec = prepared.spec
        self.folder = prepared.folder
        self.gen = generations
        self.media = media
        self.media_finder = media_finder
        self.clock = clock
        self.sleep = sleep
        self.events = events or EventSink(None)
        self.on_change = on_change
        self.options = options or SchedulerOptions()
        self.stats = Stats()
        self.runs: dict[str, _Run] = {}
        for sid in prepared.order:
            sp = prepared.steps[sid]
            step = sp.step
            record = StepRecord(
                id=sid,
                kind=step.kind,
                mode=step_mode(sp),
                op=step.op,
                model=sp.cost.model if sp.cost else None,
                tier=sp.cost.tier if sp.cost else None,
                hidden=step.hidden,
                billable_seconds=sp.cost.billable_seconds if sp.cost else 0.0,
                depends_on=step.depends_on,
                status=WAITING,
            )
            self.runs[sid] = _Run(sp, record)
        self.manifest = Manifest(
            plan=self.spec.name,
            source=str(self.spec.source) if self.spec.source else None,
            folder=str(self.folder),
            steps={sid: run.record for sid, run in self.runs.items()},
            picks=dict(self.spec.picks),
        )
        # A plan continued after --detach/--timeout/Ctrl-C counts from its first start, and the steps it
        # adopts in flight from when their tasks started (the previous manifest's clock, the same one).
        self.manifest.started_at = resumed_start(self.folder) or self.manifest.started_at
        self._earlier = read_manifest(self.folder) if resumed_start(self.folder) is not None else {}
        self._outputs: dict[str, str] = {}
        self._queue: deque[str] = deque()
        self._blocked: dict[str, float] = {}  # model -> clock time before which it gets no submit
        self._submit_times: dict[str, deque[float]] = {}
        self._stop_submitting = False
        self._stop_why = "not submitted (--fail-fast after a failure)"
        self._stop_code: str | None = None
        self._dirty = True
        self._written_at = 0.0
        self._pool = ThreadPoolExecutor(max_workers=max(1, self.options.workers), thread_name_prefix="qwenvid-plan")

    # -- the loop ------------------------------------------------------------------------------------

    def run(self) -> Manifest:
        start = self.clock()
        deadline = start + self.options.timeout if self.options.timeout is not None else None
        self.events.emit("plan_started", plan=self.spec.name, steps=len(self.runs), folder=str(self.folder))
        try:
            while True:
                self._reap()
                self._start_ready()
                self._submit()
                self._poll_due()
                self._check_watched()
                self._write_manifest()
                if all(run.record.finished for run in self.runs.values()):
                    break
                now = self.clock()
                if self.options.detach and not self._busy_here():
                    self._detach("detached (--detach)")
                    break
                if deadline is not None and now >= deadline:
                    self._detach("still running when --timeout ended")
                    break
                self._wait(deadline)
        except (KeyboardInterrupt, errors.Interrupted):
            self._detach("interrupted")
            raise
        finally:
            self._pool.shutdown(wait=True, cancel_futures=False)
            self.gen.release_all()
            self.manifest.finished_at = time.time()
            self.manifest.status = _overall(self.runs)
            self._dirty = True
            self._write_manifest(force=True)
            self.events.emit("plan_finished", plan=self.spec.name, status=self.manifest.status)
        return self.manifest

    def _busy_here(self) -> bool:
        """Work this process must finish before it may stop: submits that can go now, running workers."""
        if any(run.future is not None for run in self.runs.values()):
            return True
        now = self.clock()
        return any(self._blocked.get(self._model(sid), 0.0) <= now for sid in self._queue)

    def _wait(self, deadline: float | None) -> None:
        """Sleep until the next poll or submit is due; wake early when a worker finishes."""
        now = self.clock()
        due = [task.next_poll for run in self.runs.values() if (task := run.task) is not None]
        due += [run.next_check for run in self.runs.values() if run.watch or run.unknown_row]
        if self._queue:
            due += [max(now, self._blocked.get(self._model(sid), now)) for sid in self._queue]
        if deadline is not None:
            due.append(deadline)
        target = min(due) if due else None
        futures = [run.future for run in self.runs.values() if run.future is not None]
        if futures:
            # Workers run in real time; the clock may be a test's manual one: wait for them a little, then
            # let the clock move no further than the next thing due.
            timeout = WORKER_WAIT if target is None else max(0.0, min(target - now, WORKER_WAIT))
            done, _ = wait(futures, timeout=timeout, return_when=FIRST_COMPLETED)
            if done:
                return
            now = self.clock()
            if target is not None and target > now:
                self.sleep(min(target - now, WORKER_WAIT))
            return
        if target is None:
            self.sleep(WORKER_WAIT)
        else:
            # Never a zero sleep: the loop only comes here when nothing could be done right now.
            self.sleep(max(target - now, MIN_SLEEP))

    # -- state changes -------------------------------------------------------------------------------

    def _set(self, run: _Run, status: str, **fields: Any) -> None:
        record = run.record
        record.status = status
        for key, value in fields.items():
            setattr(record, key, value)
        now = time.time()
        # A step's time starts when its work does: the task accepted (queued), or the media step running;
        # never while it waits for a submit slot, so steps submitted together show equal times.
        if status in (QUEUED, RUNNING, DOWNLOADING) and record.started_at is None:
            earlier = self._earlier.get(record.id, {}) if record.task_id else {}
            same_task = earlier.get("task_id") == record.task_id and isinstance(earlier.get("started_at"), int | float)
            record.started_at = float(earlier["started_at"]) if same_task else now
        if record.finished:
            record.finished_at = now
            if record.started_at is not None:
                record.elapsed = round(now - record.started_at, 3)
        self._dirty = True
        self.events.emit(
            "step",
            step=record.id,
            status=status,
            kind=record.kind,
            model=record.model,
            task_id=record.task_id,
            file=record.file,
            error=record.error,
            reused=record.reused,
        )
        if self.on_change is not None:
            self.on_change(record)

    def _finish(self, run: _Run, path: Path, sha256: str, *, reused: bool, billed: float | None = None) -> None:
        self._outputs[run.record.id] = str(path)
        status = REUSED if reused else DONE
        self._set(run, status, file=str(path), sha256=sha256, reused=reused, billed_seconds=billed)

    def _fail(self, run: _Run, message: str, code: str | None = None) -> None:
        self._set(run, FAILED, error=message, error_code=code)
        if self.options.fail_fast:
            self._stop_submitting = True
        for sid in sorted(dependents(self.spec, run.record.id), key=list(self.runs).index):
            other = self.runs[sid]
            if not other.record.finished and other.task is None and other.future is None:
                if sid in self._queue:
                    self._queue.remove(sid)
                self._set(other, SKIPPED, error=f"its input {run.record.id!r} failed")

    def _budget_stop(self, run: _Run, exc: errors.BudgetExceeded) -> None:
        """A step would cross a [budget] limit: it and every step not yet submitted stop here (exit 11);
        what is in flight finishes."""
        self._set(run, SKIPPED, error=exc.message, error_code=BUDGET_CODE)
        self._stop_submitting = True
        self._stop_why, self._stop_code = "not submitted: the budget stopped the plan", BUDGET_CODE
        for other in self.runs.values():
            if other is not run and not other.record.finished and other.task is None and other.future is None:
                if other.record.id in self._queue:
                    self._queue.remove(other.record.id)
                if other.record.status in (WAITING, READY):
                    self._set(other, SKIPPED, error=self._stop_why, error_code=BUDGET_CODE)

    def _detach(self, why: str) -> None:
        for run in self.runs.values():
            if run.record.finished:
                continue
            if run.task is not None or run.watch is not None:
                self._set(run, DETACHED, error=why)
            elif run.future is None:
                self._set(run, DETACHED if run.record.status != WAITING else WAITING, error=why)

    def _write_manifest(self, *, force: bool = False) -> None:
        """Write manifest.json when something changed, at most once a second (and always at the end)."""
        now = time.monotonic()
        every = MANIFEST_EVERY if len(self.runs) > SMALL_PLAN else 0.0  # a small plan's manifest is always current
        if self._dirty and (force or now - self._written_at >= every):
            self._dirty = False
            self._written_at = now
            self.manifest.write(self.folder)

    # -- starting steps ------------------------------------------------------------------------------

    def _ready(self, run: _Run) -> bool:
        return all(dep in self._outputs for dep in run.sp.step.depends_on)

    def _start_ready(self) -> None:
        for run in self.runs.values():
            if run.record.status != WAITING or run.record.finished:
                continue
            if self._stop_submitting:
                self._set(run, SKIPPED, error=self._stop_why, error_code=self._stop_code)
                continue
            if not self._ready(run):
                continue
            try:
                self._start(run)
            except errors.QwenvidError as exc:
                self._fail(run, exc.message, exc.code)
            except (OSError, ValueError) as exc:
                self._fail(run, f"{type(exc).__name__}: {exc}")

    def _target(self, run: _Run) -> Path:
        return self.folder / run.sp.step.output_name()

    def _start(self, run: _Run) -> None:
        step = run.sp.step
        sid = step.id
        forced = sid in self.options.force
        inputs = {dep: self._outputs[dep] for dep in step.depends_on}
        run.identity = step_identity(self.spec, self.folder, run.sp, inputs)
        run.record.identity = run.identity
        target = self._target(run)
        if step.kind == "media":
            found = None if forced else self.media_finder.media(sid, run.identity)
            if found is not None and found.path is not None and found.sha256:
                if found.path.resolve() != target.resolve():
                    place_copy(found.path, target)
                self._finish(run, target, found.sha256, reused=True)
                return
            params = resolved_fields(self.spec, self.folder, step, inputs)
            self._set(run, RUNNING)
            run.future = self._pool.submit(self._run_media, step.op or "", params, target)
            return
        run.request = build_request(step, resolved_fields(self.spec, self.folder, step, inputs))
        found = None if forced else self.gen.generation(run.identity)
        self._take_up(run, found)

    def _take_up(self, run: _Run, found: Found | None) -> None:
        """Reuse a finished video, follow a task in flight, reconcile an unknown submit, or queue a submit."""
        target = self._target(run)
        if found is None:
            self._queue.append(run.record.id)
            self._set(run, READY)
            return
        if found.state == "done" and found.path is not None and found.sha256:
            if found.path.resolve() != target.resolve():
                place_copy(found.path, target)
            run.record.task_id = found.task_id
            run.record.local_id = found.local_id
            self._finish(run, target, found.sha256, reused=True, billed=None)
            return
        if found.state == "in_flight" and found.local_id:
            self._follow(run, found.local_id, found.task_id, adopted=True)
            return
        if found.state == "elsewhere":
            # Done and paid for on another machine of a shared ledger; its result link has expired.
            self._set(run, SKIPPED, task_id=found.task_id, local_id=found.local_id, error_code="DoneElsewhere",
                      error=f"done on {found.host} (task {found.task_id}); its video is there. "
                      f"--force {run.record.id} makes it anew (and pays again)")  # fmt: skip
            return
        if found.local_id:  # outcome unknown: find out before anything is sent again
            run.unknown_row = found.local_id
            run.next_check = self.clock()
            self._set(run, SUBMITTING, local_id=found.local_id)

    def _follow(self, run: _Run, local_id: str, task_id: str | None, *, adopted: bool = False) -> None:
        from qwenvid.store.pacing import handoff_interval
        from qwenvid.tasks.polling import PollSchedule

        if not self.gen.claim(local_id):
            run.watch = local_id  # another live process follows this task: wait for its result
            run.next_check = self.clock()
            self._set(run, RUNNING, local_id=local_id, task_id=task_id)
            return
        row = self.gen.row(local_id)
        now = self.clock()
        expected = self.gen.estimate(local_id, self.options.estimate)
        run.record.estimate = round(expected.seconds, 1)
        schedule = PollSchedule.for_estimate(expected)
        # While a step of the same model waits for a slot (here, or on another machine of a shared ledger,
        # which runs the same plan), this task's end frees it: polled at the hand-off rate near its end.
        model_of = run.record.model or ""
        schedule.urgent = lambda: any(self._model(sid) == model_of for sid in self._queue)
        schedule.handoff = handoff_interval(model_of, QUERY_SHARE)
        run.task = _Task(local_id, task_id, schedule, now, now if adopted else now + schedule.next_interval(0, 0))
        status = (row.remote_status if row is not None else None) or "PENDING"
        run.task.status = status
        self._set(run, RUNNING if status == "RUNNING" else QUEUED, local_id=local_id, task_id=task_id)
        model = run.record.model or ""
        in_flight = sum(1 for r in self.runs.values() if r.task is not None and r.record.model == model)
        self.stats.max_in_flight[model] = max(self.stats.max_in_flight.get(model, 0), in_flight)

    def _run_media(self, op: str, params: Mapping[str, Any], target: Path) -> tuple[Path, str]:
        self.media.run(op, params, target)
        return target, file_sha256(target)

    # -- submitting ----------------------------------------------------------------------------------

    def _model(self, sid: str) -> str:
        request = self.runs[sid].request
        return str(request.model) if request is not None else ""

    def _submit(self) -> None:
        if self._stop_submitting:
            while self._queue:
                run = self.runs[self._queue.popleft()]
                self._set(run, SKIPPED, error=self._stop_why, error_code=self._stop_code)
            return
        for sid in list(self._queue):
            if self._stop_submitting:
                break  # --fail-fast: the next pass marks the rest skipped
            model = self._model(sid)
            now = self.clock()
            if self._blocked.get(model, 0.0) > now:
                continue
            limits = model_limits(model)
            recent = self._submit_times.setdefault(model, deque())
            while recent and now - recent[0] >= RATE_WINDOW - 1e-6:
                recent.popleft()
            if len(recent) >= limits.submit_rps:
                self._blocked[model] = recent[0] + RATE_WINDOW
                continue
            run = self.runs[sid]
            self._submit_one(run, model, limits)

    def _submit_one(self, run: _Run, model: str, limits: Limits) -> None:
        sid = run.record.id
        self._set(run, SUBMITTING)
        try:
            outcome = self.gen.submit(
                run.request, run.identity or "", self._target(run), limits, force=sid in self.options.force
            )
        except errors.Interrupted:
            raise  # Ctrl-C while a submit was in flight: the plan stops (its row is outcome unknown)
        except errors.ThrottledError as exc:
            # A 429 on submit created nothing: wait and try again; it never fails the step.
            self.stats.throttled += 1
            self._blocked[model] = self.clock() + max(exc.retry_after or 0.0, 1.0)
            self._set(run, READY)
            return
        except errors.BudgetExceeded as exc:
            self._queue.remove(sid)
            self._budget_stop(run, exc)
            return
        except errors.QwenvidError as exc:
            self._queue.remove(sid)
            self._fail(run, exc.message, exc.code)
            return
        if isinstance(outcome, NoSlot):
            # Wait for one of our tasks of this model to end, or the other process's, whichever first.
            self._blocked[model] = self.clock() + outcome.retry_after
            self._set(run, READY)
            return
        self._queue.remove(sid)
        if isinstance(outcome, Existing):
            row = self.gen.row(outcome.local_id)
            self._take_up(run, _found_for_row(row))
            return
        self._submit_times.setdefault(model, deque()).append(self.clock())
        if isinstance(outcome, Unknown):
            self.stats.submits += 1
            run.unknown_row = outcome.local_id
            run.next_check = self.clock() + RECONCILE_EVERY
            self._set(run, SUBMITTING, local_id=outcome.local_id, error=outcome.message)
            return
        self.stats.submits += 1
        self.events.emit("submitted", step=sid, task_id=outcome.task_id, model=model)
        self._follow(run, outcome.local_id, outcome.task_id)

    # -- following -----------------------------------------------------------------------------------

    def _poll_due(self) -> None:
        from qwenvid.tasks.polling import THROTTLE_PAUSE

        due = sorted(
            (run for run in self.runs.values() if run.task is not None and run.task.next_poll <= self.clock()),
            key=lambda r: r.task.next_poll if r.task else 0.0,
        )
        for run in due:
            task = run.task
            assert task is not None
            now = self.clock()
            try:
                info = self.gen.poll(task.local_id)
            except errors.ThrottledError as exc:
                task.next_poll = now + max(exc.retry_after or 0.0, THROTTLE_PAUSE)
                continue
            except (errors.NetworkError, errors.ServerError) as exc:
                task.failures += 1
                task.next_poll = now + min(POLL_RETRY_BASE * 2 ** (task.failures - 1), POLL_RETRY_MAX)
                self.events.emit("poll_error", step=run.record.id, error=exc.message)
                continue
            except errors.QwenvidError as exc:
                self._drop_task(run)
                self._fail(run, exc.message, exc.code)
                continue
            self.stats.polls += 1
            task.failures = 0
            task.polls += 1
            task.schedule.observe(info)  # seen RUNNING: re-aim at its queue + the expected render
            elapsed = self.clock() - task.started
            if info.status != task.status:
                task.status = info.status
                if info.status == "RUNNING":
                    self._set(run, RUNNING)
            if info.status == "SUCCEEDED":
                self._drop_task(run, keep_claim=True)
                self._set(run, DOWNLOADING)
                run.future = self._pool.submit(self.gen.download, task.local_id, self._target(run))
                run.record.local_id = task.local_id
            elif info.status in ("FAILED", "CANCELED", "UNKNOWN"):
                self._drop_task(run)
                failure = errors.task_failure(info.status, info.code, info.message, task_id=info.task_id)
                self._fail(run, failure.message, info.code or info.status)
            else:
                task.next_poll = self.clock() + task.schedule.next_interval(elapsed, task.polls)

    def _drop_task(self, run: _Run, *, keep_claim: bool = False) -> None:
        task = run.task
        run.task = None
        if task is not None and not keep_claim:
            self.gen.release(task.local_id)
        # A slot of this model is free again: let queued steps of the model try at once.
        self._blocked.pop(run.record.model or "", None)
        if run.request is not None:
            self._blocked.pop(str(run.request.model), None)

    def _check_watched(self) -> None:
        now = self.clock()
        for run in self.runs.values():
            if run.watch is not None and run.next_check <= now:
                row = self.gen.row(run.watch)
                found = _found_for_row(row)
                if found is not None and found.state == "done":
                    run.watch = None
                    self._take_up(run, found)
                elif found is None:
                    run.watch = None
                    self._fail(run, "the task another qwenvid process followed for this step did not succeed")
                elif self.gen.claim(run.watch):  # the other process let go (ended): follow it ourselves
                    local_id, run.watch = run.watch, None
                    self.gen.release(local_id)
                    self._follow(run, local_id, row.task_id if row else None, adopted=True)
                else:
                    run.next_check = now + WATCH_EVERY
            elif run.unknown_row is not None and run.next_check <= now:
                self._reconcile(run)

    def _reconcile(self, run: _Run) -> None:
        local_id = run.unknown_row
        assert local_id is not None
        run.reconcile_tries += 1
        try:
            found = self.gen.reconcile(local_id)
        except errors.QwenvidError as exc:
            found = Found("unknown", local_id=local_id)
            self.events.emit("reconcile_error", step=run.record.id, error=exc.message)
        if found is not None and found.state == "in_flight":
            run.unknown_row = None
            self._follow(run, found.local_id or local_id, found.task_id, adopted=True)
        elif found is None:  # proven: no task was created, so submitting is safe
            run.unknown_row = None
            self._queue.append(run.record.id)
            self._set(run, READY, error=None)
        elif run.reconcile_tries >= RECONCILE_TRIES:
            run.unknown_row = None
            self._fail(
                run,
                f"the submit of {local_id} got no answer and its task is not in the account list yet; "
                "not submitted again (that could pay twice): run `qwenvid resume`, then this plan again",
                "OutcomeUnknown",
            )
        else:
            run.next_check = self.clock() + RECONCILE_EVERY

    def _reap(self) -> None:
        for run in self.runs.values():
            future = run.future
            if future is None or not future.done():
                continue
            run.future = None
            local_id = run.record.local_id
            try:
                result = future.result()
            except errors.QwenvidError as exc:
                self._fail(run, exc.message, exc.code)
            except Exception as exc:  # noqa: BLE001 - a worker's failure is this step's failure, not the plan's
                self._fail(run, f"{type(exc).__name__}: {exc}")
            else:
                if run.sp.step.kind == "media":
                    path, sha = result
                    self._finish(run, path, sha, reused=False)
                else:
                    path, sha, billed = result
                    self._finish(run, path, sha, reused=False, billed=billed)
            finally:
                if local_id and run.sp.step.kind == "generate":
                    self.gen.release(local_id)


def _found_for_row(row: Any) -> Found | None:
    """What a ledger row offers a step: its verified file, its task in flight, or nothing."""
    if row is None:
        return None
    if row.video_path and row.remote_status == "SUCCEEDED" and row.video_sha256:
        path = Path(row.video_path)
        if path.is_file():
            return Found("done", path, row.video_sha256, row.id, row.task_id, row.billed_seconds)
    if row.remote_status in ("FAILED", "CANCELED", "UNKNOWN") or row.local_state == "rejected":
        return None
    if row.task_id:
        return Found("in_flight", local_id=row.id, task_id=row.task_id)
    return Found("unknown", local_id=row.id)


def _overall(runs: Mapping[str, _Run]) -> str:
    statuses = {run.record.status for run in runs.values()}
    if statuses <= {DONE, REUSED}:
        return "done"
    if FAILED in statuses or SKIPPED in statuses:
        return "failed"
    return "incomplete"


def exit_status(manifest: Manifest) -> int:
    """0 all done; 10 the failures are moderation; 8 a step failed; 11 the budget stopped it; 5 steps left running
    or waiting."""
    from qwenvid.errors import MODERATION_CODES, ExitCode

    records = list(manifest.steps.values())
    failed = [r for r in records if r.status == FAILED]
    if not failed and any(r.error_code == BUDGET_CODE for r in records):
        return int(ExitCode.BUDGET)
    if failed:
        if all(r.error_code in MODERATION_CODES for r in failed):
            return int(ExitCode.MODERATION)
        return int(ExitCode.TASK_FAILED)
    if any(r.status == SKIPPED for r in records):
        return int(ExitCode.TASK_FAILED)
    if any(not r.finished for r in records):
        return int(ExitCode.STILL_RUNNING)
    return int(ExitCode.OK)
