"""The poll schedule and the wait loop, on an injected clock and sleep (no real sleeping)."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest

from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.errors import ExitCode, NetworkError, QuotaError, ServerError, StillRunning, ThrottledError
from qwenvid.requests.priors import SCATTER, Estimate, Prior, cold_prior
from qwenvid.tasks.poll_loop import wait_for_task
from qwenvid.tasks.polling import (
    MAX_TRANSIENT_FAILURES,
    PollSchedule,
    learn_estimate,
    sdk_queries_until,
    sdk_query_time,
)
from qwenvid.wire.client import DashScopeClient, TaskInfo
from tests.support.emulator import EmulatorFactory


class NoJitter(random.Random):
    """random() == 0.5 puts the jitter factor at exactly 1."""

    def random(self) -> float:
        return 0.5


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


def info(status: str, task_id: str = "task-1") -> TaskInfo:
    return TaskInfo(task_id=task_id, status=status)


def scripted(fake: FakeTime, finish_at: float, final: str = "SUCCEEDED") -> Callable[[], TaskInfo]:
    """A task that is PENDING for 5 s, RUNNING until `finish_at` s after the wait began, then `final`."""
    began = fake.now

    def fetch() -> TaskInfo:
        elapsed = fake.now - began
        if elapsed >= finish_at:
            return info(final)
        return info("PENDING" if elapsed < 5 else "RUNNING")

    return fetch


def poll_times(estimate: float, until: float, *, learned: bool = True) -> list[float]:
    schedule = PollSchedule(estimate, NoJitter(), learned=learned)
    return [round(t, 2) for t in schedule.poll_times(until)]


def delays(estimate: Estimate, ends: list[float], seeds: int = 40) -> tuple[list[float], list[int]]:
    """Detection delay and query count of the schedule for tasks ending at `ends` s, over jitter seeds."""
    found, counts = [], []
    for seed in range(seeds):
        for end in ends:
            times = PollSchedule.for_estimate(estimate, random.Random(seed)).poll_times(end)
            found.append(times[-1] - end)
            counts.append(len(times) - sdk_queries_until(end))
    return sorted(found), counts


# -- the schedule ------------------------------------------------------------------------------------


def test_sdk_query_times_are_those_of_the_official_wait_loop() -> None:
    # dashscope client/base_api.py `wait`: query, sleep 1, 1, 2, 2, 2, 4, 4, 4, then 5 s forever.
    assert [sdk_query_time(i) for i in range(12)] == [0, 1, 2, 4, 6, 8, 12, 16, 20, 25, 30, 35]
    assert sdk_queries_until(0) == 1
    assert sdk_queries_until(20.3) == 10  # noticed by the query at 25 s
    assert sdk_queries_until(60) == 17


@pytest.mark.parametrize("learned", [False, True])
@pytest.mark.parametrize("estimate", [2, 20, 60, 180, 600])
def test_never_more_queries_than_the_official_sdk_wait(estimate: float, learned: bool) -> None:
    ends = [0.5, 1.5, 2.3, 5.3, 11, 20.3, 33, 60.3, 95, 180.3, 300, 601]
    for seed in range(25):
        schedule = PollSchedule(estimate, random.Random(seed), learned=learned)
        for end in ends:
            assert len(schedule.poll_times(end)) <= sdk_queries_until(end), (seed, end)


def sdk_delay(end: float) -> float:
    """How long after `end` the official SDK's `wait` notices a task that ends then."""
    return sdk_query_time(sdk_queries_until(end) - 1) - end


@pytest.mark.parametrize("end", [2.3, 5.3, 11, 19.7, 20.3, 45, 60.3, 120])
def test_never_far_behind_a_task_that_ends_long_before_its_typical_time(end: float) -> None:
    # Cold: the prior says 3 min, the task ends much sooner. For the first 25 s the wait polls when the
    # SDK's `wait` does (the same delay); after that it never costs more than a quarter of the time
    # already waited (+15 % jitter), nor more than 10 s (+ jitter). (It used to follow the SDK's 5 s
    # for ever, which left no queries to spend around the prior: see test_cold_... below.)
    worst = max(delays(Estimate.typical(180), [end], seeds=60)[0])
    if end < 25:
        assert worst == pytest.approx(sdk_delay(end))
    assert worst <= max(sdk_delay(end), 0.25 * 1.15 * end) + 1e-9
    assert worst <= 10 * 1.15 + 1e-9


def test_a_learned_estimate_that_is_far_off_still_costs_a_fraction_of_the_time_waited() -> None:
    found, _ = delays(Estimate(600, 30, learned=True), [30.3])
    assert max(found) <= 0.5 * 30.3 * 1.15 + 0.1  # at most half the time waited (plus jitter)


@pytest.mark.parametrize("seconds", [2, 20, 60, 180, 600])
def test_dense_around_a_learned_estimate(seconds: float) -> None:
    # Warm: the task ends where history says (give or take a second); goal median <= 1.5 s, p90 <= 4 s.
    ends = [seconds + offset for offset in (-0.9, -0.4, 0.1, 0.3, 0.55, 0.8, 1.2)]
    found, excess = delays(Estimate(seconds, max(1.0, 0.05 * seconds), learned=True), ends)
    assert statistics.median(found) <= 1.5
    assert found[int(0.9 * len(found))] <= 4.0
    assert max(excess) <= 0  # and never a query more than the SDK


def test_schedule_for_a_learned_60_second_estimate() -> None:
    times = poll_times(60, 61)
    assert times[0] == 1.0  # first check fast: bad inputs and moderation fail at once
    assert times[1:4] == [3.0, 5.0, 7.5]  # then sparse, at most half the time already waited
    intervals = [round(b - a, 2) for a, b in zip(times, times[1:], strict=False)]
    near = [iv for t, iv in zip(times, intervals, strict=False) if 55 <= t <= 62]
    assert near and all(iv <= 2.0 for iv in near)  # dense around the estimate
    assert len(times) <= sdk_queries_until(61)


def test_schedule_without_history_follows_the_sdk_until_forty_percent_of_its_prior() -> None:
    # The SDK's own query times (less its first, at 0 s, which never finds a task done) up to 40 % of
    # the prior (at least 25 s, at most 75 s): a task far shorter than its prior costs what it costs the
    # SDK. (Was 1, 2, 3, 4, 6: one query more.) Then it saves: up to a quarter of the time waited, 10 s at most.
    sdk = [sdk_query_time(n) for n in range(1, 40)]
    short, long = poll_times(40, 60, learned=False), poll_times(600, 120, learned=False)
    assert short[:9] == sdk[:9] and short[8] == 25.0 and short[9] != sdk[9]  # 40 % of 40 s < 25 s: from 25 s on
    assert poll_times(180, 100, learned=False)[:16] == sdk[:16]  # 0.4 x 180 = 72 s: the SDK's 16th is at 70 s
    # 75 s at most; then 10 s at most
    assert long[:19] == sdk[:19] and long[18] == 75.0 and long[19] == pytest.approx(85.0)


def test_a_task_ending_at_a_third_of_its_prior_is_noticed_when_the_sdk_would() -> None:
    # The prior is a guess: when the task beats it by far, no later than the SDK (median 2.5 s then),
    # where saving queries from 25 s on had cost ~6 s.
    prior = cold_prior("wan2.6-t2v", duration=8, size="1280*720")
    rng = random.Random(4)
    for seed in range(60):
        queue = rng.uniform(0.3, 5.3)
        end = prior.seconds / 3 + queue
        times = cold_polls(prior, queue, seed, end)
        assert times[-1] == pytest.approx(next(t for t in (sdk_query_time(n) for n in range(200)) if t >= end))


def test_jitter_stays_within_fifteen_percent_and_above_the_budget() -> None:
    schedule = PollSchedule(120, random.Random(3), learned=True)
    seen = set()
    for elapsed in range(30, 400, 7):
        base = schedule.base_interval(elapsed, 40)
        value = schedule.next_interval(elapsed, 40)
        assert 0.85 * base - 1e-9 <= value <= 1.15 * base + 1e-9 or value == schedule.budget_floor(elapsed, 40)
        seen.add(round(value / base, 3))
    assert len(seen) > 10  # really jittered


@pytest.mark.parametrize(
    ("durations", "typical", "expected"),
    [
        ([], 120, 120.0),
        ([90.0], 120, 90.0),
        ([30.0, 90.0, 100.0], 120, 90.0),
        ([30.0, 90.0], 120, 60.0),
        ([0.0, -3.0, float("nan"), 50.0], 120, 50.0),
    ],
)
def test_the_estimate_is_the_median_of_usable_history(durations: list[float], typical: float, expected: float) -> None:
    assert learn_estimate(durations, typical).seconds == expected


def test_learned_estimates_are_warm_and_their_window_follows_the_scatter() -> None:
    cold = learn_estimate([], 180)
    assert (cold.seconds, cold.learned) == (180.0, False)
    tight = learn_estimate([60.0, 60.5, 59.8, 60.2], 180)
    assert tight.learned and tight.seconds == pytest.approx(60.1) and tight.spread == pytest.approx(3.005)
    loose = learn_estimate([40.0, 60.0, 90.0, 100.0], 180)
    assert loose.spread == pytest.approx(1.5 * 20.0)


# -- the wait loop -----------------------------------------------------------------------------------


def test_wait_returns_the_terminal_answer_and_reports_every_poll() -> None:
    fake = FakeTime()
    updates: list[tuple[str, float]] = []
    result = wait_for_task(
        scripted(fake, 50),
        estimate=60,
        timeout=None,
        clock=fake.clock,
        sleep=fake.sleep,
        on_update=lambda i, elapsed: updates.append((i.status, elapsed)),
        schedule=PollSchedule(60, NoJitter(), learned=True),
    )
    assert result.status == "SUCCEEDED"
    assert [status for status, _ in updates][:3] == ["PENDING", "PENDING", "RUNNING"]
    assert updates[-1] == ("SUCCEEDED", pytest.approx(52.24, abs=0.01))
    assert len(updates) == len(fake.sleeps) == 10
    assert fake.sleeps[0] == 1.0


@pytest.mark.parametrize("final", ["FAILED", "CANCELED", "UNKNOWN"])
def test_every_terminal_status_ends_the_wait(final: str) -> None:
    fake = FakeTime()
    result = wait_for_task(scripted(fake, 10, final), estimate=60, timeout=600, clock=fake.clock, sleep=fake.sleep)
    assert result.status == final


def test_a_600_second_render_takes_a_bounded_number_of_polls() -> None:
    fake = FakeTime()
    polls: list[float] = []
    wait_for_task(
        scripted(fake, 600),
        estimate=600,
        timeout=None,
        clock=fake.clock,
        sleep=fake.sleep,
        on_update=lambda i, elapsed: polls.append(elapsed),
        schedule=PollSchedule(600, NoJitter(), learned=True),
    )
    assert len(polls) == 62 <= sdk_queries_until(600)  # the SDK's wait would make 126
    assert polls[-1] == pytest.approx(601.2, abs=0.1)


def test_timeout_never_sleeps_past_the_deadline_and_raises_still_running() -> None:
    fake = FakeTime()
    began = fake.now
    with pytest.raises(StillRunning) as caught:
        wait_for_task(scripted(fake, 10_000), estimate=600, timeout=100, clock=fake.clock, sleep=fake.sleep)
    assert fake.now - began == pytest.approx(100.0)  # the last sleep stopped exactly at the deadline
    error = caught.value
    assert error.exit_code == ExitCode.STILL_RUNNING
    assert error.task_id == "task-1"
    assert error.hint is not None and "qwenvid status task-1 --wait" in error.hint
    assert "RUNNING" in error.message


def test_timeout_before_any_answer_still_names_the_task() -> None:
    fake = FakeTime()

    def throttled() -> TaskInfo:
        raise ThrottledError("Throttling: slow down", retry_after=None)

    with pytest.raises(StillRunning) as caught:
        wait_for_task(throttled, estimate=60, timeout=30, clock=fake.clock, sleep=fake.sleep, task_id="t-9")
    assert caught.value.task_id == "t-9"
    assert "qwenvid status t-9 --wait" in (caught.value.hint or "")


def test_throttling_is_not_fatal_and_waits_longer() -> None:
    fake = FakeTime()
    answers: list[TaskInfo | Exception] = [
        ThrottledError("Throttling", retry_after=12.0),
        ThrottledError("Throttling", retry_after=None),
        info("RUNNING"),
        info("SUCCEEDED"),
    ]

    def fetch() -> TaskInfo:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    result = wait_for_task(
        fetch, estimate=10, timeout=None, clock=fake.clock, sleep=fake.sleep, schedule=PollSchedule(10, NoJitter())
    )
    assert result.status == "SUCCEEDED"
    assert fake.sleeps[0] == 1.0
    assert fake.sleeps[1] == 12.0  # Retry-After honoured
    assert fake.sleeps[2] == 24.0  # then twice the last wait
    assert fake.sleeps[3] < fake.sleeps[2]  # back to the schedule once answers come again


def test_transient_failures_are_tolerated_up_to_a_bound() -> None:
    fake = FakeTime()
    calls = []

    def flaky() -> TaskInfo:
        calls.append(fake.now)
        if len(calls) <= MAX_TRANSIENT_FAILURES:
            raise NetworkError("connection reset") if len(calls) % 2 else ServerError("HTTP 502")
        return info("SUCCEEDED")

    assert wait_for_task(flaky, estimate=60, timeout=None, clock=fake.clock, sleep=fake.sleep).status == "SUCCEEDED"

    def broken() -> TaskInfo:
        raise NetworkError("unreachable")

    with pytest.raises(NetworkError, match="unreachable"):
        wait_for_task(broken, estimate=60, timeout=None, clock=fake.clock, sleep=fake.sleep)


def test_other_errors_end_the_wait_at_once() -> None:
    fake = FakeTime()

    def quota() -> TaskInfo:
        raise QuotaError("Arrearage")

    with pytest.raises(QuotaError):
        wait_for_task(quota, estimate=60, timeout=None, clock=fake.clock, sleep=fake.sleep)
    assert len(fake.sleeps) == 1


def test_already_elapsed_counts_from_submit() -> None:
    fake = FakeTime()
    updates: list[float] = []
    wait_for_task(
        lambda: info("SUCCEEDED"),
        estimate=60,
        timeout=None,
        clock=fake.clock,
        sleep=fake.sleep,
        on_update=lambda i, elapsed: updates.append(elapsed),
        schedule=PollSchedule(60, NoJitter()),
        already_elapsed=100.0,
    )
    assert updates == [pytest.approx(101.0)]


# -- against the real emulator, on one manual clock ------------------------------------------------------


def test_wait_follows_an_emulated_render_on_a_shared_manual_clock(
    make_emulator: EmulatorFactory, manual_clock: ManualClock, canary_key: str, tmp_path: Path
) -> None:
    emulator = make_emulator(
        EmulatorConfig(pending_seconds=5.0, running_seconds=55.0, results_dir=tmp_path), clock=manual_clock
    )
    client = DashScopeClient(canary_key, emulator.base_url, sleep=manual_clock.sleep, clock=manual_clock)
    seen: list[tuple[str, float]] = []
    with client:
        task_id = client.submit(
            "/services/aigc/video-generation/video-synthesis",
            {"model": "wan2.6-t2v", "input": {"prompt": "a slow dawn"}, "parameters": {"size": "1280*720"}},
        ).task_id
        assert emulator.state.wait_rendered()
        began = manual_clock.time()
        result = wait_for_task(
            lambda: client.get_task(task_id),
            estimate=60,
            timeout=600,
            clock=manual_clock,
            sleep=manual_clock.sleep,
            on_update=lambda i, elapsed: seen.append((i.status, elapsed)),
            schedule=PollSchedule(60, NoJitter(), learned=True),
        )
    assert result.status == "SUCCEEDED" and result.video_url
    statuses = [status for status, _ in seen]
    assert statuses[0] == "PENDING" and "RUNNING" in statuses and statuses[-1] == "SUCCEEDED"
    # the learned 60 s schedule: 1, 3, 5, 7.5, ... 58.6 s, then 60.6 s sees the task that ended at 60 s
    assert len(seen) == 14
    assert manual_clock.time() - began == pytest.approx(60.6, abs=0.2)


# -- cold: aiming at the request's prior (qwenvid/requests/priors.py) ------------------------------------------

COLD_PRIORS = {
    "turbo 480P 5 s": cold_prior("wan2.1-t2v-turbo", duration=5, size="832*480"),
    "720P 2 s": cold_prior("wan2.6-t2v", duration=2, size="1280*720"),
    "720P 5 s": cold_prior("wan2.6-t2v", duration=5, size="1280*720"),
    "1080P 10 s": cold_prior("wan2.6-t2v", duration=10, size="1920*1080"),
    "1080P 15 s multi-shot": cold_prior("wan2.6-t2v", duration=15, size="1920*1080", multi_shot=True),
    "VACE": cold_prior("wan2.1-vace-plus", kind="video_edit:video"),
}


def cold_polls(prior: Prior, queue: float, seed: int, until: float) -> list[float]:
    """Poll times of the cold schedule for a task that queues `queue` s (re-aimed when seen RUNNING)."""
    schedule = PollSchedule.for_estimate(prior.estimate(), random.Random(seed))
    times: list[float] = []
    elapsed = 0.0
    while elapsed < until:
        elapsed += schedule.next_interval(elapsed, len(times))
        times.append(elapsed)
        if elapsed >= queue:
            schedule.started_after(queue)
    return times


@pytest.mark.parametrize("name", list(COLD_PRIORS))
def test_cold_schedule_never_queries_more_than_the_sdk_for_any_end_time(name: str) -> None:
    prior = COLD_PRIORS[name]
    for seed in range(12):
        queue = (0.5, 4.0, 30.0, 0.5 * prior.seconds)[seed % 4]  # a quiet hour up to a long queue
        times = cold_polls(prior, queue, seed, 3 * prior.seconds)
        assert all(t >= sdk_query_time(n) - 1e-9 for n, t in enumerate(times)), (seed, times)
        for end in [0.05 * k for k in range(1, int(20 * 2 * prior.seconds), 7)]:
            made = next(n for n, t in enumerate(times) if t >= end) + 1
            assert made <= sdk_queries_until(end), (seed, end)


@pytest.mark.parametrize("name", list(COLD_PRIORS))
def test_cold_schedule_meets_the_goal_for_tasks_drawn_around_their_prior(name: str) -> None:
    # Tasks drawn as the realistic emulator draws them (queue a few s, render +-20 %): p90 <= 4 s for
    # every real configuration; the median <= 1.5 s once the prior is long enough to have saved
    # queries for its window (the shortest priors, ~1-2 min, come out near 1.5-1.8 s).
    prior = COLD_PRIORS[name]
    rng = random.Random(9)
    found = []
    for seed in range(150):
        queue, render = prior.draw(rng)
        end = queue + render
        times = cold_polls(prior, queue, seed, end)
        found.append(times[-1] - end)
    found.sort()
    assert found[int(0.9 * len(found))] <= 4.0
    assert statistics.median(found) <= (1.5 if prior.seconds >= 300 else 2.0)


def test_cold_schedule_is_sparse_far_from_the_window_and_dense_inside_it() -> None:
    prior = COLD_PRIORS["1080P 10 s"]
    estimate = prior.estimate()
    times = cold_polls(prior, 4.0, 1, prior.seconds + estimate.spread)
    start, end = estimate.seconds - estimate.spread, estimate.seconds + estimate.spread
    intervals = [(a, b - a) for a, b in zip(times, times[1:], strict=False)]
    before = [gap for t, gap in intervals if 60 <= t < start - 30]
    inside = [gap for t, gap in intervals if start <= t < end - 5]
    assert before and min(before) >= 5.0 * 0.85  # never denser than the SDK on the way: saving queries
    # Spending them: every query the SDK would make by the window's end, evenly over the window (~2.7 s).
    assert inside and max(inside) <= 3.0 * 1.15 and statistics.median(inside) <= 3.0
    assert len({round(gap, 3) for gap in inside}) > 10  # jittered


def test_cold_schedule_re_aims_when_it_sees_the_task_running_after_a_long_queue() -> None:
    # The prior is queue + render; a busy account queued 3 min: once RUNNING the window moves with it.
    prior = COLD_PRIORS["720P 5 s"]
    schedule = PollSchedule.for_estimate(prior.estimate(), NoJitter())
    schedule.started_after(180.0)
    assert schedule.estimate == pytest.approx(180.0 + prior.render)
    assert schedule.window == pytest.approx(SCATTER * prior.render)
    schedule.started_after(5.0)  # once only
    assert schedule.estimate == pytest.approx(180.0 + prior.render)


@pytest.mark.parametrize("seed", range(20))
def test_cold_schedule_makes_one_query_fewer_than_the_sdk_in_its_first_25_seconds(seed: int) -> None:
    # Whatever the jitter of the first check (0.85-1.15 s), the next ones are the SDK's own 2, 4, 6 ... s:
    # a first check at 0.9 s must not be followed by another at 1.0 s.
    times = PollSchedule.for_estimate(COLD_PRIORS["720P 5 s"].estimate(), random.Random(seed)).poll_times(24)
    assert 0.85 <= times[0] <= 1.15
    assert times[1:] == [2.0, 4.0, 6.0, 8.0, 12.0, 16.0, 20.0, 25.0]


@pytest.mark.parametrize("end", [260.3, 400.0, 611.7])
def test_cold_schedule_for_a_task_far_later_than_its_prior_is_never_behind_the_sdk(end: float) -> None:
    # The prior says ~2.4 min; the task takes far longer (a busy hour): past the window the gaps are
    # the SDK's 5 s at most, so it is noticed no later than the SDK's `wait` would notice it.
    prior = COLD_PRIORS["720P 5 s"]
    for seed in range(30):
        times = cold_polls(prior, 4.0, seed, end)
        assert times[-1] - end <= sdk_delay(end) + 1e-9 or times[-1] - end <= 5.0 + 1e-9
        assert max(b - a for a, b in zip(times, times[1:], strict=False) if a > 200) <= 5.0 + 1e-9
