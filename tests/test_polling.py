"""The poll schedule and the wait loop, on an injected clock and sleep (no real sleeping)."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from qwenvid.client import DashScopeClient, TaskInfo
from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.errors import ExitCode, NetworkError, QuotaError, ServerError, StillRunning, ThrottledError
from qwenvid.polling import MAX_TRANSIENT_FAILURES, PollSchedule, estimate_from_history, wait_for_task
from tests.support.emulator import EmulatorFactory


class NoJitter(random.Random):
    """random() == 0.5 puts the ±20 % jitter factor at exactly 1."""

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


def poll_times(estimate: float, until: float) -> list[float]:
    schedule = PollSchedule(estimate, NoJitter())
    elapsed, polls, times = 0.0, 0, []
    while elapsed < until:
        elapsed += schedule.next_interval(elapsed, polls)
        polls += 1
        times.append(round(elapsed, 1))
    return times


# -- the schedule ------------------------------------------------------------------------------------


def test_schedule_for_a_60_second_estimate() -> None:
    times = poll_times(60, 60)
    assert times == [1.5, 16.1, 27.1, 35.3, 41.5, 46.1, 49.6, 52.6, 55.6, 58.6, 61.6]


def test_schedule_for_a_600_second_estimate() -> None:
    times = poll_times(600, 600)
    assert times[:4] == [1.5, 31.5, 61.5, 91.5]  # sparse (capped at 30 s) while the render has far to go
    assert len(times) == 29
    intervals = [round(b - a, 1) for a, b in zip(times, times[1:], strict=False)]
    assert intervals[:16] == [30.0] * 16
    assert intervals[-4:] == [3.0, 3.0, 3.0, 3.0]  # tight near the estimate
    assert intervals == sorted(intervals, reverse=True)  # never looser as the estimate comes near


@pytest.mark.parametrize(
    ("estimate", "elapsed", "polls", "expected"),
    [
        (60, 0, 0, 1.5),  # first check fast
        (600, 0, 0, 1.5),
        (600, 1.5, 1, 30.0),  # capped at max_interval
        (60, 20, 3, 10.0),  # a quarter of the remaining 40 s
        (60, 59, 9, 3.0),  # near the estimate
        (60, 66, 12, 3.0),  # within the grace (6 s) past it
        (60, 76, 13, 3.0 + 0.2 * 10),  # then backs off slowly
        (60, 1000, 50, 30.0),  # ... up to max_interval
        (5, 5.5, 3, 3.0),
    ],
)
def test_base_interval(estimate: float, elapsed: float, polls: int, expected: float) -> None:
    assert PollSchedule(estimate, NoJitter()).base_interval(elapsed, polls) == pytest.approx(expected)


def test_jitter_stays_within_twenty_percent_and_the_bounds() -> None:
    schedule = PollSchedule(120, random.Random(3))
    seen = set()
    for elapsed in range(0, 400, 7):
        for polls in (0, 5):
            base = schedule.base_interval(elapsed, polls)
            value = schedule.next_interval(elapsed, polls)
            assert 0.8 * base - 1e-9 <= value <= min(1.2 * base, 30.0) + 1e-9
            assert 1.0 <= value <= 30.0
            seen.add(round(value / base, 3))
    assert len(seen) > 10  # really jittered


def test_min_interval_is_a_floor() -> None:
    schedule = PollSchedule(60, random.Random(1), min_interval=2.0)
    assert all(schedule.next_interval(0, 0) >= 2.0 for _ in range(50))


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
def test_estimate_from_history(durations: list[float], typical: float, expected: float) -> None:
    assert estimate_from_history(durations, typical) == expected


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
        schedule=PollSchedule(60, NoJitter()),
    )
    assert result.status == "SUCCEEDED"
    assert [status for status, _ in updates][:2] == ["PENDING", "RUNNING"]
    assert updates[-1] == ("SUCCEEDED", pytest.approx(52.6, abs=0.1))
    assert len(updates) == len(fake.sleeps) == 8
    assert fake.sleeps[0] == 1.5


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
        schedule=PollSchedule(600, NoJitter()),
    )
    assert len(polls) == 29
    assert polls[-1] == pytest.approx(600.1, abs=0.1)


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
    assert fake.sleeps[0] == 1.5
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
    assert updates == [pytest.approx(101.5)]


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
            schedule=PollSchedule(60, NoJitter()),
        )
    assert result.status == "SUCCEEDED" and result.video_url
    statuses = [status for status, _ in seen]
    assert statuses[0] == "PENDING" and "RUNNING" in statuses and statuses[-1] == "SUCCEEDED"
    assert len(seen) == 11  # the 60 s schedule: 1.5, 16.1, ... 58.6 s, then 61.6 s sees the finished task
    assert manual_clock.time() - began == pytest.approx(61.6, abs=0.2)
