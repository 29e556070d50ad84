"""Adaptive, jittered polling of one task until it ends or the wait runs out."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from qwenvid.client import TERMINAL_STATUSES, TaskInfo
from qwenvid.errors import NetworkError, ServerError, StillRunning, ThrottledError

# After a 429 that survived the client's own retries, wait at least this long before the next poll.
THROTTLE_PAUSE = 5.0
MAX_THROTTLE_PAUSE = 120.0
# Network or server failures in a row (each already retried by the client) before the wait gives up.
MAX_TRANSIENT_FAILURES = 5


@dataclass
class PollSchedule:
    """When to poll next, from the time since submit and the expected render time (`estimate`).

    * The first check comes `first` (1.5 s) after submit: bad inputs and moderation fail fast.
    * While the estimate lies ahead, wait `lead` (a quarter) of the remaining estimated time, at least
      `near` (3 s) and at most `max_interval` (30 s): sparse while the render has far to go, tighter
      as the estimate comes near.
    * Around the estimate, up to a grace of 10 % of it (5-30 s) past it, poll every `near` seconds.
    * Well past it, back off slowly: `near` plus `backoff` (a fifth) of the time beyond the grace,
      up to `max_interval`.
    * Every interval is jittered by ±`jitter` (20 %) so tasks submitted together spread out, and kept
      within [`min_interval`, `max_interval`].

    For a 60 s estimate (no jitter) the polls land at 1.5, 16.1, 27.1, 35.3, 41.5, 46.1, 49.6, 52.6,
    55.6, 58.6, 61.6 s; for 600 s every 30 s until about 480 s, then tighter to every 3 s near 600 s.
    One task never polls more than once a second, and rarely more than once every 3 s.
    """

    estimate: float
    rng: random.Random = field(default_factory=random.Random)
    min_interval: float = 1.0
    max_interval: float = 30.0
    first: float = 1.5
    near: float = 3.0
    lead: float = 0.25
    backoff: float = 0.2
    jitter: float = 0.2

    @property
    def grace(self) -> float:
        return min(max(0.1 * self.estimate, 5.0), 30.0)

    def base_interval(self, elapsed: float, polls: int) -> float:
        """The interval before the next poll, without jitter."""
        if polls == 0:
            interval = self.first
        else:
            remaining = self.estimate - elapsed
            overdue = -remaining - self.grace
            if remaining > 0:
                interval = max(self.near, self.lead * remaining)
            elif overdue <= 0:
                interval = self.near
            else:
                interval = self.near + self.backoff * overdue
        return min(max(interval, self.min_interval), self.max_interval)

    def next_interval(self, elapsed: float, polls: int) -> float:
        """The jittered interval before poll number `polls` (0 = the first), `elapsed` s after submit."""
        factor = 1.0 + self.jitter * (2.0 * self.rng.random() - 1.0)
        return min(max(self.base_interval(elapsed, polls) * factor, self.min_interval), self.max_interval)


def estimate_from_history(durations: Iterable[float], typical: float) -> float:
    """The median render time of this user's finished tasks of the same kind, or the documented typical time."""
    usable = [value for value in durations if isinstance(value, int | float) and math.isfinite(value) and value > 0]
    return float(statistics.median(usable)) if usable else float(typical)


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
    """
    schedule = schedule or PollSchedule(estimate)
    start = clock()
    deadline = None if timeout is None else start + max(timeout, 0.0)
    last: TaskInfo | None = None
    polls = failures = 0
    pause = 0.0  # a longer wait imposed by throttling or failures
    while True:
        now = clock()
        interval = max(schedule.next_interval(already_elapsed + now - start, polls), pause)
        if deadline is not None:
            if now >= deadline:
                raise _still_running(last, task_id, now - start)
            interval = min(interval, deadline - now)
        sleep(interval)
        polls += 1
        try:
            info = fetch()
        except ThrottledError as exc:
            pause = min(max(2.0 * interval, exc.retry_after or 0.0, THROTTLE_PAUSE), MAX_THROTTLE_PAUSE)
            continue
        except (NetworkError, ServerError):
            failures += 1
            if failures > MAX_TRANSIENT_FAILURES:
                raise
            pause = min(max(2.0 * interval, THROTTLE_PAUSE), MAX_THROTTLE_PAUSE)
            continue
        failures, pause, last = 0, 0.0, info
        if on_update is not None:
            on_update(info, already_elapsed + clock() - start)
        if info.status in TERMINAL_STATUSES:
            return info


def _still_running(last: TaskInfo | None, task_id: str | None, waited: float) -> StillRunning:
    task_id = (last.task_id if last else None) or task_id
    name = task_id or "<task_id>"
    state = last.status if last else "queued or running (the wait ended before its first check)"
    return StillRunning(
        f"Task {name} is still {state} after waiting {waited:.0f} s; it keeps running on the server.",
        hint=f"Continue with `qwenvid status {name} --wait` (or `qwenvid resume`).",
        task_id=task_id,
    )
