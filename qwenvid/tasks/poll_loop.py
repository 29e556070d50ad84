"""One polling loop for every task in flight in the process: due queries batched under a shared query rate.

Each followed task has its own `PollSchedule`; the loop keeps one "next due" time per task, wakes at
the earliest, and queries every task that is due in one batch (concurrently when there are several),
taking at most `qps` queries per second for the whole process (the account allows 20, dashscope-api.md
§4.2; the rest is left for list, cancel and other processes). Tasks over the rate simply stay due and
go first in the next batch, most overdue first.

There is no background thread. Whoever waits drives: the first thread that calls `wait()` becomes the
driver and polls for everyone until its own task ends, then hands the loop to the next waiter
(leader/followers). So a single run sleeps in its own thread (Ctrl-C lands where it always did, an
injected `sleep` is called where tests expect it), and many runs in many threads still share one loop.

    loop = PollLoop(clock=time.monotonic, sleep=time.sleep, qps=15)
    handle = loop.follow(fetch, schedule=PollSchedule(60), timeout=1800, task_id="...")
    info = loop.wait(handle)          # the terminal TaskInfo, or raises StillRunning / the fetch error
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from qwenvid.errors import NetworkError, ServerError, ThrottledError
from qwenvid.tasks.polling import (
    MAX_THROTTLE_PAUSE,
    MAX_TRANSIENT_FAILURES,
    THROTTLE_PAUSE,
    PollSchedule,
    still_running,
)
from qwenvid.wire.client import TERMINAL_STATUSES, TaskInfo

T = TypeVar("T")
R = TypeVar("R")

# The driver naps at most this long on the real clock when nothing is due, so that a task followed
# from another thread is picked up promptly (an Event wakes it sooner).
MAX_NAP = 0.5
# Queries due within this much of each other go out in the same batch.
COALESCE = 0.05


@dataclass(eq=False)
class Follow:
    """One task followed by the loop: its schedule, its state, and (once done) its outcome."""

    fetch: Callable[[], TaskInfo]
    schedule: PollSchedule
    start: float
    due: float
    deadline: float | None
    task_id: str | None = None
    on_update: Callable[[TaskInfo, float], None] | None = None
    already_elapsed: float = 0.0
    polls: int = 0
    failures: int = 0
    pause: float = 0.0
    interval: float = 0.0  # the last wait before a poll, which a throttled retry doubles
    last: TaskInfo | None = None
    done: bool = False
    result: TaskInfo | None = None
    error: BaseException | None = field(default=None, repr=False)

    def elapsed(self, now: float) -> float:
        return self.already_elapsed + now - self.start


class PollLoop:
    """Follows many tasks with one clock, one driver at a time and one query budget; thread-safe."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        qps: float | None = None,
        workers: int = 8,
    ) -> None:
        if qps is not None and qps <= 0:
            raise ValueError("qps must be above 0")
        self.clock = clock
        self.sleep = sleep
        self.qps = qps
        self.workers = max(1, workers)
        self.queries = 0  # queries made since the loop was created (benchmarks, tests)
        self.max_batch = 0
        self.max_in_flight = 0
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._active: list[Follow] = []
        self._driving = False
        self._sent: deque[float] = deque()  # times of the queries of the last second (a sliding window)
        self._pool: ThreadPoolExecutor | None = None

    # -- following --------------------------------------------------------------------------------

    def follow(
        self,
        fetch: Callable[[], TaskInfo],
        *,
        schedule: PollSchedule,
        timeout: float | None,
        task_id: str | None = None,
        on_update: Callable[[TaskInfo, float], None] | None = None,
        already_elapsed: float = 0.0,
    ) -> Follow:
        """Start following a task; its first poll is due after the schedule's first interval."""
        now = self.clock()
        deadline = None if timeout is None else now + max(timeout, 0.0)
        item = Follow(fetch, schedule, now, now, deadline, task_id, on_update, already_elapsed)
        if deadline is not None and now >= deadline:
            self._finish(item, error=still_running(None, task_id, 0.0))
            return item
        item.due = self._next_due(item, now)
        with self._cond:
            self._active.append(item)
            self.max_in_flight = max(self.max_in_flight, len(self._active))
        self._wake.set()
        return item

    def wait(self, item: Follow) -> TaskInfo:
        """Block until `item` ends, driving the loop when no other thread is; its outcome or its error."""
        self.wait_any([item])
        if item.error is not None:
            raise item.error
        assert item.result is not None
        return item.result

    def wait_any(self, items: Sequence[Follow]) -> Follow:
        """Block until one of `items` ends (driving when needed); returns the first that has."""
        try:
            while True:
                with self._cond:
                    while True:
                        finished = next((i for i in items if i.done), None)
                        if finished is not None:
                            return finished
                        if not any(i in self._active for i in items):
                            raise RuntimeError("waiting for tasks this loop no longer follows")
                        if not self._driving:
                            self._driving = True
                            break
                        self._cond.wait()
                try:
                    self._drive(lambda: any(i.done for i in items))
                finally:
                    with self._cond:
                        self._driving = False
                        self._cond.notify_all()
        except BaseException:
            # Ctrl-C (or a bug) while waiting: the waiter gives up its own tasks, the others go on.
            for i in items:
                self.cancel(i)
            raise

    def run(self, fetch: Callable[[], TaskInfo], **kwargs: Any) -> TaskInfo:
        """follow() then wait(): one task to its end."""
        return self.wait(self.follow(fetch, **kwargs))

    def cancel(self, item: Follow) -> None:
        """Stop following `item` (its waiter went away); it is left as it is."""
        with self._cond:
            if item in self._active:
                self._active.remove(item)

    def in_flight(self) -> int:
        with self._cond:
            return len(self._active)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    # -- driving ----------------------------------------------------------------------------------

    def _drive(self, stop: Callable[[], bool]) -> None:
        while not stop():
            now = self.clock()
            batch = self._take_due(now)
            if batch:
                self._poll(batch)
                continue
            with self._cond:
                upcoming = min((i.due for i in self._active), default=None)
            if upcoming is None:  # nothing to follow: what we wait for ended or was cancelled
                return
            if self.qps is not None and self._sent and len(self._sent) >= self._per_second():
                upcoming = max(upcoming, self._sent[0] + 1.0)
            self._nap(max(upcoming - now, 0.001))

    def _nap(self, seconds: float) -> None:
        if self.sleep is time.sleep:
            # Real time: an Event wait, so a task followed meanwhile from another thread wakes the driver.
            self._wake.clear()
            self._wake.wait(min(seconds, MAX_NAP))
        else:
            self.sleep(seconds)

    def _take_due(self, now: float) -> list[Follow]:
        with self._cond:
            due = sorted((i for i in self._active if i.due <= now + COALESCE), key=lambda i: i.due)
            if self.qps is not None and due:
                # A sliding one-second window, as the server counts: never more than qps in any second.
                while self._sent and self._sent[0] <= now - 1.0:
                    self._sent.popleft()
                due = due[: max(0, self._per_second() - len(self._sent))]
                self._sent.extend([now] * len(due))
            return due

    def _per_second(self) -> int:
        return max(1, int(self.qps or 1))

    def _poll(self, batch: list[Follow]) -> None:
        self.queries += len(batch)
        self.max_batch = max(self.max_batch, len(batch))
        if len(batch) == 1:
            self._poll_one(batch[0])
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="qwenvid-poll")
        for future in [self._pool.submit(self._poll_one, item) for item in batch]:
            future.result()

    def _poll_one(self, item: Follow) -> None:
        try:
            info = item.fetch()
        except ThrottledError as exc:
            item.polls += 1
            item.pause = min(
                max(2.0 * item.interval, exc.retry_after or 0.0, THROTTLE_PAUSE), MAX_THROTTLE_PAUSE
            )
            self._reschedule(item)
            return
        except (NetworkError, ServerError) as exc:
            item.polls += 1
            item.failures += 1
            if item.failures > MAX_TRANSIENT_FAILURES:
                self._finish(item, error=exc)
                return
            item.pause = min(max(2.0 * item.interval, THROTTLE_PAUSE), MAX_THROTTLE_PAUSE)
            self._reschedule(item)
            return
        except Exception as exc:  # noqa: BLE001 - any other error ends this task's wait, not the loop
            self._finish(item, error=exc)
            return
        item.polls += 1
        item.failures, item.pause, item.last = 0, 0.0, info
        item.schedule.observe(info)
        try:
            if item.on_update is not None:
                item.on_update(info, item.elapsed(self.clock()))
        except Exception as exc:  # noqa: BLE001 - the waiter sees its own callback's error
            self._finish(item, error=exc)
            return
        if info.status in TERMINAL_STATUSES:
            self._finish(item, result=info)
        else:
            self._reschedule(item)

    def _reschedule(self, item: Follow) -> None:
        now = self.clock()
        if item.deadline is not None and now >= item.deadline:
            self._finish(item, error=still_running(item.last, item.task_id, now - item.start))
            return
        item.due = self._next_due(item, now)

    def _next_due(self, item: Follow, now: float) -> float:
        interval = max(item.schedule.next_interval(item.elapsed(now), item.polls), item.pause)
        if item.deadline is not None:
            interval = min(interval, max(item.deadline - now, 0.0))
        item.interval = interval
        return now + interval

    def _finish(self, item: Follow, *, result: TaskInfo | None = None, error: BaseException | None = None) -> None:
        with self._cond:
            item.result, item.error, item.done = result, error, True
            if item in self._active:
                self._active.remove(item)
            self._cond.notify_all()


# -- one loop per process (per clock) ------------------------------------------------------------------

_LOOPS: dict[tuple[object, object], PollLoop] = {}
_LOOPS_LOCK = threading.Lock()
# Loops kept for injected clocks (tests make many); idle ones beyond this are forgotten.
_MAX_LOOPS = 16


def shared_loop(
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    *,
    qps: float | None = None,
) -> PollLoop:
    """The process's polling loop for this clock and sleep (the real ones in production).

    Every Session of the process follows its tasks here, so their queries share one budget. Tests that
    inject a clock get a loop of their own with it. The lowest `qps` asked for is the budget.
    """
    key = (clock, sleep)
    with _LOOPS_LOCK:
        loop = _LOOPS.get(key)
        if loop is None:
            if len(_LOOPS) >= _MAX_LOOPS:
                for old_key, old in list(_LOOPS.items()):
                    if old.in_flight() == 0:
                        old.close()
                        del _LOOPS[old_key]
            loop = _LOOPS[key] = PollLoop(clock=clock, sleep=sleep, qps=qps)
        elif qps is not None and (loop.qps is None or qps < loop.qps):
            loop.qps = qps
        return loop


def run_concurrently(items: Iterable[T], work: Callable[[T], R], *, workers: int = 8) -> list[R]:
    """`work(item)` for every item on daemon threads, results in order; the first BaseException is re-raised.

    Daemon threads, so Ctrl-C in the caller ends the process at once: what they were doing (a wait, a
    download to a `.part` file) is left for `resume`, exactly as a single interrupted run leaves it.
    """
    todo = list(items)
    results: list[Any] = [None] * len(todo)
    errors: queue.Queue[BaseException] = queue.Queue()
    jobs: queue.Queue[int] = queue.Queue()
    for index in range(len(todo)):
        jobs.put(index)

    def worker() -> None:
        while True:
            try:
                index = jobs.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = work(todo[index])
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                errors.put(exc)
                return

    count = min(workers, len(todo))
    threads = [threading.Thread(target=worker, daemon=True, name="qwenvid-follow") for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.2)  # a timed join keeps Ctrl-C deliverable to this thread
            if not errors.empty():
                raise errors.get()
    if not errors.empty():
        raise errors.get()
    return results


class Serialized:
    """Calls the wrapped object's methods one at a time (a progress reporter shared by concurrent runs)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._lock = threading.RLock()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return value(*args, **kwargs)

        return call


def wait_for_task(
    fetch: Callable[[], TaskInfo],
    *,
    estimate: float,
    timeout: float | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    on_update: Callable[[TaskInfo, float], None] | None = None,
    schedule: PollSchedule | None = None,
    task_id: str | None = None,
    already_elapsed: float = 0.0,
) -> TaskInfo:
    """Poll `fetch` until the task is SUCCEEDED, FAILED, CANCELED or UNKNOWN, and return that answer.

    `on_update(info, elapsed)` sees every answer; `elapsed` counts from submit (`already_elapsed`
    is how long ago that was when the wait began). With a `timeout` the wait never sleeps past its
    deadline: it checks once more at the deadline and then raises `StillRunning`, which names the
    command to continue. Throttling is not fatal (the wait backs off and carries on); network and
    server failures are tolerated up to MAX_TRANSIENT_FAILURES in a row.

    One task on a loop of its own; `qwenvid.tasks.poll_loop.PollLoop` follows many at once the same way.
    """
    loop = PollLoop(clock=clock, sleep=sleep)
    try:
        return loop.run(
            fetch,
            schedule=schedule or PollSchedule(estimate),
            timeout=timeout,
            task_id=task_id,
            on_update=on_update,
            already_elapsed=already_elapsed,
        )
    finally:
        loop.close()
