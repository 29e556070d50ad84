"""Adaptive, jittered polling of one task until it ends or the wait runs out."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from qwenvid.errors import StillRunning
from qwenvid.requests.priors import COLD_SPREAD, Estimate
from qwenvid.store.pacing import HANDOFF
from qwenvid.wire.client import TaskInfo

# After a 429 that survived the client's own retries, wait at least this long before the next poll.
THROTTLE_PAUSE = 5.0
MAX_THROTTLE_PAUSE = 120.0
# Network or server failures in a row (each already retried by the client) before the wait gives up.
MAX_TRANSIENT_FAILURES = 5


# The official SDK's `BaseAsyncApi.wait` (dashscope 1.26, client/base_api.py) queries at once, then
# sleeps 1, 1, 2, 2, 2, 4, 4, 4 and 5 s forever: queries at 0, 1, 2, 4, 6, 8, 12, 16, 20, 25, 30, ... s.
_SDK_EARLY = (0.0, 1.0, 2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 20.0)
_SDK_STEADY = 5.0


def sdk_query_time(index: int) -> float:
    """When the official SDK's `wait` makes its query number `index` (0 = the first), in seconds after submit."""
    if index < len(_SDK_EARLY):
        return _SDK_EARLY[max(index, 0)]
    return _SDK_EARLY[-1] + _SDK_STEADY * (index - len(_SDK_EARLY) + 1)


def next_sdk_query(seconds: float) -> float:
    """When the official SDK's `wait` queries next after `seconds` (strictly later)."""
    return sdk_query_time(sdk_queries_by(seconds))


def sdk_queries_by(seconds: float) -> int:
    """How many queries the official SDK's `wait` has made by `seconds` after submit (those at or before it)."""
    if seconds < 0:
        return 0
    if seconds < _SDK_EARLY[-1]:
        return sum(1 for t in _SDK_EARLY if t <= seconds)
    return len(_SDK_EARLY) + int((seconds - _SDK_EARLY[-1]) // _SDK_STEADY)


def sdk_queries_until(seconds: float) -> int:
    """How many queries the official SDK's `wait` makes to notice a task that ends `seconds` after submit."""
    index = 0
    while sdk_query_time(index) < seconds:
        index += 1
    return index + 1


# While another run waits for this task's running slot (pacing.contended), the task's end frees that
# slot, so noticing it soon matters more than the query budget. Where the end may come (anywhere when
# cold; from the start of the expected window when warm) the task is polled every HANDOFF seconds, or
# HANDOFF_RATIO of the time waited when that is longer: a hand-off then costs about 1 % of the task's
# run time on average. Before a warm window: at most every URGENT s, or URGENT_RATIO of the time waited.
# HANDOFF is a floor; the caller raises it so the model's running tasks together stay within the query
# share (pacing.handoff_interval).
HANDOFF_RATIO = 0.02
URGENT = 1.5
URGENT_RATIO = 0.05



@dataclass(frozen=True)
class Shape:
    """How a schedule is drawn for one kind of estimate (see PollSchedule)."""

    min_interval: float  # never poll one task more often than this (after the first check)
    ratio: float  # never far behind: the interval is at most `ratio` x the time already waited
    max_interval: float  # nor more than this
    dense: float  # the interval inside the window where the end is expected (its densest, with `spend`)
    lead: float  # before it: this share of the distance to the window
    # After the window (the task runs late): at most this interval (None: `lead` x the distance, as before it).
    late: float | None = None
    # Inside the window: spread the queries saved before it evenly over the rest of it (never denser than `dense`).
    spend: bool = False
    # Poll exactly when the official SDK's `wait` does (no jitter) until `sdk_share` of the estimate,
    # but at least `sdk_until` and at most `sdk_until_max` seconds after submit.
    sdk_until: float = 0.0
    sdk_share: float = 0.0
    sdk_until_max: float = 0.0


# Warm: the user's history says when the task ends, so polls are sparse until then and dense around it.
WARM = Shape(min_interval=2.0, ratio=0.5, max_interval=15.0, dense=2.0, lead=0.5)
# Cold: the prior (qwenvid/requests/priors.py) says roughly when, from the model, duration, size and inputs.
# * Up to 40 % of the prior (at least 25 s, at most 75 s): exactly the SDK's own query times (less its
#   useless first, at 0 s), so a task far shorter than its prior (the prior is a guess shaped to the
#   documentation; a quiet hour or a fast region beats it) is noticed when the SDK would notice it.
# * Then sparse: `lead` x the distance to the window, but never more than a quarter of the time
#   waited (a task that ends far sooner than its prior is noticed within ~29 % of its run time, with
#   jitter) nor 10 s; and never denser than the SDK's 5 s on the way, since what is saved is spent later.
# * Inside the window (prior +- its scatter): every query the SDK would have made by the window's end,
#   less ours, spread evenly over what is left of it (~2.5-3.5 s apart; never under `dense`).
# * After it (the task runs late): the SDK's 5 s.
# The query budget (`budget_floor`) holds throughout. Tuned by simulating tasks drawn around the
# priors (max_interval 10 vs 12 vs 15 s: 15 s spends ~15 % less delay inside the window, but a task
# ending at 60 s against a 3 min prior then waits 11 s instead of 6 s); the benchmark prints the result.
# Saving from 25 s on instead (simulated, 300 tasks a case): ~0.35 s less median delay for a 720P 5 s
# task when the prior is right (1.35 vs 1.7 s), but a task ending at a third of its prior waited 6.2 s
# instead of the SDK's 2.5 s: a guess must not cost more than it can win. Past 75 s the share stops
# growing, so long priors (1080P, VACE: 6-10 min) keep enough saved queries for a dense window.
COLD = Shape(
    min_interval=1.0,
    ratio=0.25,
    max_interval=10.0,
    dense=2.0,
    lead=0.75,
    late=_SDK_STEADY,
    spend=True,
    sdk_until=25.0,
    sdk_share=0.4,
    sdk_until_max=75.0,
)


@dataclass
class PollSchedule:
    """When to poll next, from the time since submit and the expected render time.

    * The first check comes `first` (1 s) after submit: bad inputs and moderation fail fast.
    * Never far behind: every interval is at most `ratio` of the time already waited (and at most
      `max_interval`: 10 s cold, 15 s warm), so a task that ends far sooner than expected is
      noticed within a fraction of its own run time, not tens of seconds later.
    * Dense around the expected end: inside the window `estimate ± spread` the interval is `dense`
      (cold: the queries saved so far, spread evenly over the rest of the window); outside it,
      `lead` times the distance to the window (sparse far away, tightening on approach, backing
      off again when the task runs late; cold: never denser than the SDK outside the window).
    * Jittered by ±`jitter` (15 %) so tasks submitted together spread out (cold: after its first
      stretch, 40 % of the prior within 25-75 s, which follows the SDK's own query times).
    * Query budget: the n-th poll never comes before the official SDK's n-th query
      (`sdk_query_time`), so however long a task runs this never makes more queries than the SDK's
      `wait` would have; the queries saved far from the estimate are what pays for the dense window.
    * Re-aimed once the task is seen RUNNING (`observe`): the queue is known then, and the window
      narrows to the render's own spread (learned, or the prior's scatter).

    A learned (warm) estimate uses the sparse WARM shape; a cold one (the request's prior,
    qwenvid/requests/priors.py) uses COLD, which keeps to the SDK's cadence early in case the prior is far off.
    """

    estimate: float
    rng: random.Random = field(default_factory=random.Random)
    spread: float | None = None
    learned: bool = False
    first: float = 1.0
    jitter: float = 0.15
    budget: bool = True
    shape: Shape | None = None
    render: float | None = None
    render_spread: float | None = None
    anchored: bool = False
    # True while another run waits for this task's running slot (pacing.contended): its end matters
    # more than the query budget then, so the interval drops to `handoff` near the end (see HANDOFF).
    urgent: Callable[[], bool] | None = None
    handoff: float = HANDOFF

    @classmethod
    def for_estimate(cls, estimate: Estimate, rng: random.Random | None = None) -> PollSchedule:
        return cls(
            estimate.seconds,
            rng or random.Random(),
            spread=estimate.spread,
            learned=estimate.learned,
            render=estimate.render,
            render_spread=estimate.render_spread,
        )

    def observe(self, info: TaskInfo) -> None:
        """Re-aim at the end once the task is seen running: its queue time (server times) + the expected render time."""
        if self.anchored or self.render is None or info.status == "PENDING":
            return
        from qwenvid.store.ledger import parse_server_time

        submitted, started = parse_server_time(info.submit_time), parse_server_time(info.scheduled_time)
        if submitted is None or started is None:
            return
        self.started_after((started - submitted).total_seconds())

    def started_after(self, queued: float) -> None:
        """Re-aim at `queued` seconds of queue (known now) + the expected render; once."""
        if self.anchored or self.render is None:
            return
        self.anchored = True
        self.estimate = max(queued, 0.0) + self.render
        if self.render_spread is not None:
            self.spread = self.render_spread

    @property
    def form(self) -> Shape:
        return self.shape or (WARM if self.learned else COLD)

    @property
    def window(self) -> float:
        if self.spread is not None:
            return max(self.spread, 0.0)
        return (0.05 if self.learned else COLD_SPREAD) * self.estimate

    def base_interval(self, elapsed: float, polls: int) -> float:
        """The interval before the next poll, without jitter or the query budget."""
        if polls == 0:
            return self.first
        shape = self.form
        window = self.window
        ahead = self.estimate - window - elapsed  # > 0: before the window
        behind = elapsed - self.estimate - window  # > 0: after it
        if ahead <= 0 and behind <= 0 and shape.spend and self.budget:
            wanted = self._spend(elapsed, polls, shape.dense)
        elif shape.late is not None and behind > 0:
            wanted = shape.late
        elif shape.late is not None and ahead > 0:
            # Approaching the window no denser than the SDK: what is saved here is spent inside it.
            wanted = max(shape.late, shape.lead * ahead)
        else:
            wanted = max(shape.dense, shape.lead * max(ahead, behind, 0.0))
        cap = min(shape.max_interval, max(shape.min_interval, shape.ratio * elapsed))
        return max(min(wanted, cap), min(shape.min_interval, shape.dense))

    def _spend(self, elapsed: float, polls: int, dense: float) -> float:
        """Inside the window: the queries the SDK will have made by its end, less ours, evenly over what is left."""
        left = self.estimate + self.window - elapsed
        spare = sdk_queries_by(self.estimate + self.window) - polls
        if spare <= 0:
            return _SDK_STEADY
        return max(dense, min(left / spare, _SDK_STEADY))

    def budget_floor(self, elapsed: float, polls: int) -> float:
        """The shortest interval that keeps poll number `polls + 1` at or after the SDK's query of that number."""
        if not self.budget or polls == 0:
            return 0.0
        return max(0.0, sdk_query_time(polls) - elapsed)

    def next_interval(self, elapsed: float, polls: int) -> float:
        """The jittered interval before poll number `polls` (0 = the first), `elapsed` s after submit."""
        form = self.form
        sdk_phase = max(form.sdk_until, min(form.sdk_share * self.estimate, form.sdk_until_max))
        if 0 < polls and elapsed < sdk_phase and not (self.urgent is not None and self.urgent()):
            # The SDK's own query times, one index on: its first query (at 0 s) finds nothing, and ours at
            # `first` (jittered, maybe a little before 1 s) stands for its second.
            return max(sdk_query_time(polls + 1), next_sdk_query(elapsed)) - elapsed
        factor = 1.0 + self.jitter * (2.0 * self.rng.random() - 1.0)
        interval = self.base_interval(elapsed, polls) * factor
        if polls > 0 and self.urgent is not None and self.urgent():
            return min(interval, self.urgent_cap(elapsed) * factor)
        late = self.form.late
        if late is not None and polls > 0 and elapsed >= self.estimate - self.window:
            # From the window on, jitter never makes a gap longer than the SDK's: once the saved queries
            # are spent the budget holds it to the SDK's own times, so a late task costs what it costs the SDK.
            interval = min(interval, late)
        return max(interval, self.budget_floor(elapsed, polls))

    def urgent_cap(self, elapsed: float) -> float:
        """The longest interval while another run waits for this task's slot (see HANDOFF)."""
        if self.learned and elapsed < self.estimate - self.window:
            return max(URGENT, URGENT_RATIO * elapsed)  # far before the expected end
        return max(self.handoff, HANDOFF_RATIO * elapsed)

    def poll_times(self, until: float, *, start: float = 0.0) -> list[float]:
        """The poll times (seconds after submit) up to the first at or after `until`: for tests and benchmarks."""
        times: list[float] = []
        elapsed = start
        while not times or times[-1] < until:
            elapsed += self.next_interval(elapsed, len(times))
            times.append(elapsed)
        return times


def learn_estimate(
    durations: Iterable[float], typical: float | Estimate, renders: Iterable[float] = ()
) -> Estimate:
    """An Estimate from this user's finished tasks of the same kind (median, spread from their scatter).

    `durations` are submit-to-end seconds, `renders` running-to-end seconds (when known). Without
    history it is `typical`: the task's cold prior (qwenvid/requests/priors.py), or a bare figure, marked cold.
    """
    total = _centre_and_spread(durations)
    if total is None:
        return typical if isinstance(typical, Estimate) else Estimate.typical(typical)
    render = _centre_and_spread(renders)
    if render is None:
        return Estimate(total[0], total[1], learned=True)
    return Estimate(total[0], total[1], learned=True, render=render[0], render_spread=render[1])


def _centre_and_spread(values: Iterable[float]) -> tuple[float, float] | None:
    """Median and window half-width (1.5 x the median absolute deviation, at least 5 % and 1 s) of usable values."""
    usable = sorted(v for v in values if isinstance(v, int | float) and math.isfinite(v) and v > 0)
    if not usable:
        return None
    middle = float(statistics.median(usable))
    scatter = float(statistics.median(abs(v - middle) for v in usable))
    # One or two samples say little about the scatter: keep a wider window until there are more.
    share = 0.05 if len(usable) >= 3 else 0.1
    return middle, max(1.0, share * middle, 1.5 * scatter)


def still_running(last: TaskInfo | None, task_id: str | None, waited: float) -> StillRunning:
    task_id = (last.task_id if last else None) or task_id
    name = task_id or "<task_id>"
    state = last.status if last else "queued or running (the wait ended before its first check)"
    return StillRunning(
        f"Task {name} is still {state} after waiting {waited:.0f} s; it keeps running on the server.",
        hint=f"Continue with `qwenvid status {name} --wait` (or `qwenvid resume`).",
        task_id=task_id,
    )
