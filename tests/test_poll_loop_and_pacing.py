"""The shared polling loop and submit pacing: one query budget for the process, no 429 from a burst of runs."""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from qwenvid.config import load_settings
from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread
from qwenvid.errors import StillRunning
from qwenvid.requests.priors import input_kind
from qwenvid.requests.shapes import T2VRequest
from qwenvid.store.pacing import SubmitPacer, handoff_interval, limits_for
from qwenvid.tasks.poll_loop import PollLoop, run_concurrently
from qwenvid.tasks.polling import PollSchedule, learn_estimate
from qwenvid.tasks.session import NullReporter, RunOptions, Session
from qwenvid.wire.client import TaskInfo
from tests.support.emulator import EmulatorFactory

# -- the loop -----------------------------------------------------------------------------------------


def test_one_loop_batches_due_queries_under_the_process_query_rate() -> None:
    clock = ManualClock(start=1000.0)
    loop = PollLoop(clock=clock, sleep=clock.sleep, qps=10)
    asked: list[float] = []
    lock = threading.Lock()

    def task(ends: float):  # type: ignore[no-untyped-def]
        def fetch() -> TaskInfo:
            with lock:
                asked.append(clock.time())
            return TaskInfo("t", "SUCCEEDED" if clock.time() - 1000.0 >= ends else "RUNNING")

        return fetch

    follows = [
        loop.follow(task(30 + n % 7), schedule=PollSchedule(30, learned=True), timeout=None) for n in range(40)
    ]
    for follow in follows:
        assert loop.wait(follow).status == "SUCCEEDED"
    per_second = Counter(int(t) for t in asked)
    assert max(per_second.values()) <= 10  # 40 tasks due together never exceed the budget
    assert loop.max_batch > 1 and loop.max_in_flight == 40  # batched, all followed at once
    assert loop.in_flight() == 0


def test_waiters_in_many_threads_share_one_driver() -> None:
    clock = ManualClock(start=0.0)
    loop = PollLoop(clock=clock, sleep=clock.sleep)
    drivers: set[str] = set()

    def fetch() -> TaskInfo:
        drivers.add(threading.current_thread().name)
        return TaskInfo("t", "SUCCEEDED" if clock.time() >= 20 else "RUNNING")

    results = run_concurrently(
        range(6), lambda _: loop.run(fetch, schedule=PollSchedule(20, learned=True), timeout=None).status
    )
    assert results == ["SUCCEEDED"] * 6
    assert clock.time() < 30  # followed together, not one after another


def test_the_loop_keeps_the_timeout_of_each_task() -> None:
    clock = ManualClock(start=0.0)
    loop = PollLoop(clock=clock, sleep=clock.sleep)
    short = loop.follow(lambda: TaskInfo("a", "RUNNING"), schedule=PollSchedule(60), timeout=10, task_id="a")
    long = loop.follow(
        lambda: TaskInfo("b", "SUCCEEDED" if clock.time() >= 40 else "RUNNING"), schedule=PollSchedule(60),
        timeout=None,
    )
    with pytest.raises(StillRunning):
        loop.wait(short)
    assert clock.time() == pytest.approx(10.0)
    assert loop.wait(long).status == "SUCCEEDED"


# -- submit pacing ---------------------------------------------------------------------------------------


def test_pacer_keeps_the_submit_rate_across_processes(tmp_path: Path) -> None:
    clock = ManualClock(start=5000.0)
    # Two pacers on one file stand for two processes (separate SQLite connections).
    first, second = (SubmitPacer(tmp_path / "ledger.sqlite3", clock=clock, sleep=clock.sleep) for _ in range(2))
    taken: list[float] = []
    for n in range(12):
        pacer = first if n % 2 else second
        pacer.acquire(f"run-{n}", model="wan2.6-t2v", service="s", rate=5, concurrency=100, lease=300)
        taken.append(clock.time())
    for n, at in enumerate(taken):
        assert sum(1 for other in taken if at - 1.0 < other <= at) <= 5, n
    assert taken[-1] - taken[0] >= 2.0  # 12 submits at 5/s need more than two seconds


def test_a_submit_answered_late_counts_in_the_rate_window_from_its_answer(tmp_path: Path) -> None:
    # Submit A leaves at 0 but is slowed on its way (the server counts it as late as its answer, 0.9 s);
    # B leaves at 0.5. A third submit at 1.2 s would be the server's third in one second (rate 2).
    clock = ManualClock(start=5000.0)
    here, there = (SubmitPacer(tmp_path / "ledger.sqlite3", clock=clock, sleep=clock.sleep) for _ in range(2))
    here.acquire("a", model="m", service="s", rate=2, concurrency=100, lease=300)
    clock.advance(0.5)
    there.acquire("b", model="m", service="s", rate=2, concurrency=100, lease=300)
    there.answered("b")
    clock.advance(0.4)
    here.answered("a")  # A's answer at 0.9 s
    clock.advance(0.3)
    there.acquire("c", model="m", service="s", rate=2, concurrency=100, lease=300)
    # Counted from when it left, A was out of the window at 1.15 s; from its answer, C waits for B's to pass.
    assert clock.time() - 5000.0 >= 0.5 + 1.0


def test_pacer_waits_for_a_running_slot_and_goes_when_one_frees(tmp_path: Path) -> None:
    clock = ManualClock(start=5000.0)
    path = tmp_path / "ledger.sqlite3"
    # The waiter re-checks on real time here (briefly), so the manual clock stays where the test puts it.
    here = SubmitPacer(path, clock=clock, sleep=clock.sleep)
    there = SubmitPacer(path, clock=clock, sleep=lambda _: time.sleep(0.005))
    for holder in ("a", "b"):
        here.acquire(holder, model="m", service="s", rate=10, concurrency=2, lease=1000)
    events: list[str] = []
    told: list[str] = []

    def third() -> None:
        there.acquire("c", model="m", service="s", rate=10, concurrency=2, lease=1000, on_wait=told.append)
        events.append("c acquired")

    waiter = threading.Thread(target=third)
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive() and not events  # both running slots taken: it waits
    assert here.waiting("m", "s") == 1  # and the holders can see that someone does
    events.append("a released")
    here.release("a")
    waiter.join(5)
    assert events == ["a released", "c acquired"]
    assert told and "waiting for one to end" in told[0]
    assert here.waiting("m", "s") == 0
    assert here.running("m", "s") == 2


def test_an_abandoned_slot_expires(tmp_path: Path) -> None:
    clock = ManualClock(start=5000.0)
    pacer = SubmitPacer(tmp_path / "ledger.sqlite3", clock=clock, sleep=clock.sleep)
    pacer.acquire("crashed", model="m", service="s", rate=5, concurrency=1, lease=120)
    clock.advance(100)
    pacer.renew("crashed", 60)  # a poll 100 s in keeps it to 160 s at least
    clock.advance(50)
    assert pacer.running("m", "s") == 1
    clock.advance(100)
    assert pacer.running("m", "s") == 0
    wait = pacer.acquire("next", model="m", service="s", rate=5, concurrency=1, lease=120)
    assert wait.seconds == 0


def test_limits_come_from_the_catalogue() -> None:
    assert limits_for("wan2.6-t2v") == ("wan2.6-t2v", 5, 5)
    assert limits_for("wanx2.1-t2v-turbo") == ("wan2.1-t2v-turbo", 2, 2)  # an alias shares its model's limits
    assert limits_for("wan9-unknown") == ("wan9-unknown", 1, 2)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"input": {"prompt": "p"}}, "text"),
        ({"input": {"prompt": "p", "img_url": "oss://a"}}, "img"),
        ({"input": {"media": [{"type": "first_frame", "url": "x"}, {"type": "driving_audio", "url": "y"}]}},
         "driving_audio+first_frame"),
        ({"input": {"function": "video_extension", "first_clip_url": "x"}}, "video_extension:first_clip"),
    ],
)
def test_input_kind(body: dict, kind: str) -> None:  # type: ignore[type-arg]
    assert input_kind(body) == kind


# -- end to end ---------------------------------------------------------------------------------------------


def session_for(emulator: EmulatorThread, clock: ManualClock, key: str) -> Session:
    return Session(load_settings(api_key=key, base_url=emulator.base_url), clock=clock, sleep=clock.sleep)


def test_a_burst_of_runs_meets_no_429_and_no_over_concurrency(
    make_emulator: EmulatorFactory, manual_clock: ManualClock, canary_key: str, isolated_env: Path, tmp_path: Path
) -> None:
    # Reject mode: a submit over the running-task limit is a 429 Throttling.Concurrency.
    emulator = make_emulator(
        EmulatorConfig(concurrency_mode="reject", running_seconds=3.0, results_dir=tmp_path / "emu"),
        clock=manual_clock,
    )
    request = T2VRequest(model="wan2.1-t2v-turbo", prompt="One kitten", size="832*480")  # 2 submits/s, 2 running
    with session_for(emulator, manual_clock, canary_key) as session:
        plan = session.plan(request)
        results = run_concurrently(
            range(6), lambda _: session.run(plan, RunOptions(output=tmp_path / "out"), NullReporter()), workers=6
        )
    assert [r.status for r in results] == ["SUCCEEDED"] * 6
    assert emulator.state.task_count() == 6
    hits = emulator.state.limit_counts()
    assert hits.get("submit.rate", 0) == 0 and hits.get("submit.concurrency", 0) == 0, hits


def test_resume_follows_every_unfinished_task_at_once(
    make_emulator: EmulatorFactory, manual_clock: ManualClock, canary_key: str, isolated_env: Path, tmp_path: Path
) -> None:
    emulator = make_emulator(EmulatorConfig(running_seconds=30.0, results_dir=tmp_path / "emu"), clock=manual_clock)
    with session_for(emulator, manual_clock, canary_key) as session:
        plans = [session.plan(T2VRequest(model="wan2.6-t2v", prompt=f"Kitten {n}", size="1280*720")) for n in range(4)]
        for plan in plans:
            session.run(plan, RunOptions(output=tmp_path / "out", detach=True), NullReporter())
        began = manual_clock.time()
        outcomes = session.resume(RunOptions(output=tmp_path / "out"), NullReporter())
        from qwenvid.tasks.poll_loop import shared_loop

        loop = shared_loop(session.clock, session.sleep)
    assert [o.result.status if o.result else o.error for o in outcomes] == ["SUCCEEDED"] * 4
    assert loop.max_in_flight == 4  # all four followed together by the one loop
    assert manual_clock.time() - began < 45  # about one render, not four in a row


# -- estimates from the ledger ------------------------------------------------------------------------


def test_estimates_are_learned_per_model_duration_resolution_and_input_kind(tmp_path: Path) -> None:
    from qwenvid.store.ledger import Ledger
    from qwenvid.store.sqlite_store import SqliteStore
    from qwenvid.tasks.estimates import estimate_for

    ledger = Ledger(tmp_path / "ledger.sqlite3")
    store = SqliteStore.of(ledger)

    def finished(seconds: float, *, kind: dict, duration: float = 5, tier: str = "720P",  # type: ignore[type-arg]
                 origin: str = "local") -> None:
        row = ledger.create(mode="i2v", model="wan2.6-i2v-flash", endpoint="/x", request_json={"input": kind},
                            duration=duration, tier=tier, origin=origin)
        ledger.mark_submitted(row.id, f"task-{row.id}")
        ledger.update_remote(row.id, "SUCCEEDED", submit_time="2026-01-01 10:00:00.000",
                             end_time=f"2026-01-01 10:{int(seconds) // 60:02d}:{int(seconds) % 60:02d}.000")

    image = {"prompt": "p", "img_url": "oss://a"}
    for seconds in (40, 42, 44):
        finished(seconds, kind=image)
    finished(300, kind={"prompt": "p", "img_url": "oss://a", "audio_url": "oss://b"})  # another input kind
    finished(500, kind=image, duration=10)  # another duration
    finished(600, kind=image, tier="1080P")  # another resolution
    finished(1, kind=image, origin="emulated")  # emulator runs teach nothing about the real service
    new = ledger.create(mode="i2v", model="wan2.6-i2v-flash", endpoint="/x", request_json={"input": image},
                        duration=5, tier="720P")
    warm = estimate_for(store, new)
    assert warm.learned and warm.seconds == 42.0
    other = ledger.create(mode="i2v", model="wan2.6-i2v-flash", endpoint="/x",
                          request_json={"input": {"prompt": "p", "img_url": "x", "audio_url": "y"}}, duration=5,
                          tier="720P")
    assert estimate_for(store, other).seconds == 300.0
    cold = ledger.create(mode="i2v", model="wan2.6-i2v-flash", endpoint="/x", request_json={"input": image},
                         duration=15, tier="720P")
    assert not estimate_for(store, cold).learned  # no history: the catalogue's typical time
    ledger.close()


def test_the_schedule_re_aims_at_the_end_once_the_task_runs() -> None:
    # History: queues vary (so submit-to-end is 25 +- 5 s), renders take 20 s.
    schedule = PollSchedule.for_estimate(learn_estimate([21, 25, 30], 180, [20.0, 20.1, 19.9]))
    assert schedule.estimate == 25 and schedule.window == pytest.approx(6.0)
    schedule.observe(TaskInfo("t", "PENDING", submit_time="2026-01-01 10:00:00.000"))
    assert schedule.estimate == 25
    schedule.observe(
        TaskInfo("t", "RUNNING", submit_time="2026-01-01 10:00:00.000", scheduled_time="2026-01-01 10:00:08.500")
    )
    assert schedule.estimate == pytest.approx(28.5) and schedule.window == pytest.approx(1.0)  # 8.5 s queued + 20 s


def test_render_times_are_remembered_from_server_times(tmp_path: Path) -> None:
    from qwenvid.store.ledger import Ledger
    from qwenvid.store.sqlite_store import SqliteStore
    from qwenvid.tasks.estimates import estimate_for

    ledger = Ledger(tmp_path / "ledger.sqlite3")
    store = SqliteStore.of(ledger)
    body = {"input": {"prompt": "p"}}
    for queued in (2, 9, 5):
        row = ledger.create(mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json=body, duration=5, tier="720P")
        ledger.mark_submitted(row.id, f"task-{row.id}")
        start, end = f"2026-01-01 10:00:0{queued}.000", f"2026-01-01 10:00:{30 + queued}.000"
        info = TaskInfo(f"task-{row.id}", "SUCCEEDED", submit_time="2026-01-01 10:00:00.000", scheduled_time=start,
                        end_time=end)
        ledger.update_remote(row.id, "SUCCEEDED", submit_time=info.submit_time, end_time=info.end_time)
        store.render_times.remember(ledger.get(row.id) or row, info)
    new = ledger.create(mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json=body, duration=5, tier="720P")
    estimate = estimate_for(store, new)
    assert estimate.seconds == 35 and estimate.render == 30
    ledger.close()


@pytest.mark.slow
def test_a_run_waiting_for_a_slot_says_so_in_a_real_terminal_and_goes_when_one_frees(
    make_emulator: EmulatorFactory, canary_key: str, isolated_env: Path, tmp_path: Path
) -> None:
    import os

    from tests.support.terminal import Terminal

    emulator = make_emulator(EmulatorConfig(running_seconds=0.5, results_dir=tmp_path / "emu"))
    # Another process (say) holds all five wan2.6-t2v running slots of this service.
    pacer = SubmitPacer(isolated_env / "ledger.sqlite3")
    for n in range(5):
        pacer.acquire(f"other-{n}", model="wan2.6-t2v", service=emulator.base_url, rate=5, concurrency=5, lease=600)
    assert (isolated_env / "ledger.sqlite3").stat().st_mode & 0o077 == 0  # prompts stay private
    env = {**os.environ, "DASHSCOPE_API_KEY": canary_key, "QWEN_BASE_URL": emulator.base_url, "TERM": "xterm"}
    args = ["t2v", "A fox in snow", "--model", "wan2.6-t2v", "--size", "1280*720", "--duration", "2", "-y",
            "-o", str(tmp_path / "fox.mp4")]
    screen = Terminal(*args, env=env, cwd=tmp_path)
    screen.expect("5 wan2.6-t2v tasks running (the account allows 5); waiting for one to end.")
    assert emulator.state.task_count() == 0  # nothing submitted while every slot is taken
    pacer.release("other-0")
    assert screen.finish() == 0
    assert (tmp_path / "fox.mp4").is_file() and emulator.state.task_count() == 1
    assert canary_key not in screen.text


def test_ctrl_c_in_the_driver_drops_its_own_task_and_the_others_go_on() -> None:
    clock = ManualClock(start=0.0)
    interrupt = [True]

    def sleep(seconds: float) -> None:
        if interrupt[0]:
            raise KeyboardInterrupt
        clock.advance(seconds)

    loop = PollLoop(clock=clock, sleep=sleep)
    done = lambda: TaskInfo("t", "SUCCEEDED" if clock.time() >= 10 else "RUNNING")  # noqa: E731
    mine = loop.follow(done, schedule=PollSchedule(10, learned=True), timeout=None)
    other = loop.follow(done, schedule=PollSchedule(10, learned=True), timeout=None)
    with pytest.raises(KeyboardInterrupt):
        loop.wait(mine)
    assert loop.in_flight() == 1  # only the other task is still followed
    interrupt[0] = False
    assert loop.wait(other).status == "SUCCEEDED"
    with pytest.raises(RuntimeError):
        loop.wait(mine)  # a dropped task is not waited for forever


def test_a_task_whose_slot_someone_waits_for_is_polled_closely() -> None:
    waiting = [False]
    schedule = PollSchedule(180, random.Random(1), urgent=lambda: waiting[0])  # cold: the SDK's cadence
    assert schedule.next_interval(30.0, 11) >= 4.0  # held to the SDK's count: 5 s apart at 30 s
    waiting[0] = True
    # Cold, the end may come any time: every HANDOFF (0.5 s), or 2 % of the time waited when that is longer.
    assert schedule.next_interval(5.0, 4) <= 0.5 * 1.15
    assert schedule.next_interval(30.0, 11) <= 0.6 * 1.15
    assert schedule.next_interval(200.0, 40) <= 4.0 * 1.15  # a hand-off costs ~1 % of the run at most


def test_a_warm_task_someone_waits_for_is_polled_closely_from_its_expected_end() -> None:
    estimate = learn_estimate([30.0, 30.2, 30.1], typical=180)  # learned: ends 30 s after submit, give or take
    schedule = PollSchedule.for_estimate(estimate, random.Random(2))
    schedule.urgent = lambda: True
    early = [schedule.next_interval(t, 3) for t in (10.0, 20.0)]
    assert all(0.5 * 1.15 < interval <= 1.5 * 1.15 for interval in early)  # far from the end: no denser than 1.5 s
    for t in (29.0, 30.0, 31.0, 40.0):  # inside the window and late: 0.5 s, or 2 % of the time waited
        assert schedule.next_interval(t, 12) <= max(0.5, 0.02 * t) * 1.15


def test_the_hand_off_interval_keeps_the_models_running_tasks_within_the_query_share() -> None:
    assert handoff_interval("wan2.6-t2v", 15) == 0.5  # 5 running x 2 queries/s = 10 <= 15
    assert handoff_interval("wan2.6-t2v", 2) == pytest.approx(2.5)  # 5 running within 2 queries/s
    schedule = PollSchedule(180, random.Random(3), urgent=lambda: True, handoff=handoff_interval("wan2.6-t2v", 2))
    assert schedule.next_interval(30.0, 11) >= 2.5 * 0.85  # not 0.5 s: 5 tasks x 2 queries/s would be 10


def test_a_holder_notices_its_end_within_a_hand_off_interval_while_someone_waits() -> None:
    """On an injected clock: the task ends at 30.3 s; the poll loop sees it about half a second later at most."""
    for seed in range(20):
        clock = ManualClock(start=0.0)
        loop = PollLoop(clock=clock, sleep=clock.sleep)
        ends = 30.3 + seed * 0.037
        fetch = lambda c=clock, e=ends: TaskInfo("t", "SUCCEEDED" if c.time() >= e else "RUNNING")  # noqa: E731
        schedule = PollSchedule(180, random.Random(seed), urgent=lambda: True)
        loop.run(fetch, schedule=schedule, timeout=None)
        assert clock.time() - ends <= 0.61 * 1.15


# -- slots of runs that died -------------------------------------------------------------------------


def _dead_owner_claim(ledger_path: Path, row_id: str, now: float) -> None:
    """The claim a killed run leaves behind: unexpired, its pid gone (a finished child process)."""
    import socket
    import sqlite3
    import subprocess
    import sys

    from qwenvid.store.claims import Claims

    Claims(ledger_path).was_claimed(row_id)  # the table exists
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    with sqlite3.connect(ledger_path) as conn:
        conn.execute(
            "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?, ?)",
            (row_id, "dead", child.pid, None, socket.gethostname(), now, now + 3600),
        )


def test_a_waiting_run_polls_the_tasks_of_dead_runs_and_takes_a_slot_when_one_ends(
    make_emulator: EmulatorFactory, manual_clock: ManualClock, canary_key: str, isolated_env: Path, tmp_path: Path
) -> None:
    emulator = make_emulator(
        EmulatorConfig(concurrency_mode="reject", running_seconds=20.0, results_dir=tmp_path / "emu"),
        clock=manual_clock,
    )
    request = T2VRequest(model="wan2.1-t2v-turbo", prompt="One kitten", size="832*480")  # 2 submits/s, 2 running
    with session_for(emulator, manual_clock, canary_key) as killed:
        # Two runs submitted and then died: their slots stay taken, nobody polls their tasks.
        rows = [killed.run(killed.plan(request), RunOptions(detach=True), NullReporter()).local_id for _ in range(2)]
        _dead_owner_claim(killed.ledger.path, rows[0], manual_clock.time())
    assert all(row for row in rows)
    with session_for(emulator, manual_clock, canary_key) as waiting:
        result = waiting.run(waiting.plan(request), RunOptions(output=tmp_path / "out"), NullReporter())
        orphans = [waiting.ledger.get(row) for row in rows if row]
    assert result.status == "SUCCEEDED" and emulator.state.task_count() == 3
    first_end = min(t.end_at for t in emulator.state.tasks if t.task_id != result.task_id and t.end_at)
    mine = next(t for t in emulator.state.tasks if t.task_id == result.task_id)
    # It went within a second of the first dead run's task ending, not when that slot's lease ran out (> 60 s).
    assert 0 <= mine.submit_at - first_end <= 1.0
    assert [row.remote_status for row in orphans if row] == ["SUCCEEDED", "SUCCEEDED"]  # recorded for resume
    hits = emulator.state.limit_counts()
    assert hits.get("submit.concurrency", 0) == 0, hits


def test_one_waiter_polls_a_dead_runs_task_and_leaves_live_runs_to_them(
    make_emulator: EmulatorFactory, manual_clock: ManualClock, canary_key: str, isolated_env: Path, tmp_path: Path
) -> None:
    from qwenvid.store.claims import Claims
    from qwenvid.store.pacing import limits_for
    from qwenvid.tasks.slot_orphans import OrphanProbe

    emulator = make_emulator(EmulatorConfig(running_seconds=20.0, results_dir=tmp_path / "emu"), clock=manual_clock)
    request = T2VRequest(model="wan2.1-t2v-turbo", prompt="One kitten", size="832*480")
    with session_for(emulator, manual_clock, canary_key) as session:
        results = [session.run(session.plan(request), RunOptions(detach=True), NullReporter()) for _ in range(2)]
        alive = Claims(session.ledger.path).acquire(results[0].local_id or "")  # a live run follows this one
        model, service = limits_for("wan2.1-t2v-turbo")[0], emulator.base_url.rstrip("/")
        for waiter in ("waiter-a", "waiter-b"):  # two runs wait for a slot of this model
            session.pacer()._mark_waiting(waiter, model, service)
        before = dict(emulator.state.queries)
        probes = [OrphanProbe(session, waiter, handoff=0.5) for waiter in ("waiter-b", "waiter-a")]
        for probe in probes:
            probe(model, service)
        alive.release()
    asked = {task: count - before.get(task, 0) for task, count in emulator.state.queries.items()}
    assert asked.get(results[0].task_id, 0) == 0  # followed by a live process: left alone
    assert asked.get(results[1].task_id, 0) == 1  # nobody follows it: one GET, by one of the two waiters
    assert [probe.polls for probe in probes] == [0, 1]  # the first waiter (lowest id) looks after it


def test_a_waiting_run_looks_every_tenth_of_a_second_but_writes_its_waiter_entry_once_a_second(
    tmp_path: Path,
) -> None:
    import sqlite3

    class Stop(Exception):
        pass

    clock = ManualClock(start=7000.0)
    path = tmp_path / "ledger.sqlite3"
    SubmitPacer(path, clock=clock, sleep=clock.sleep).acquire(
        "holder", model="m", service="s", rate=10, concurrency=1, lease=1000
    )
    seen: list[tuple[float, float]] = []
    looks = [0]

    def sleep(seconds: float) -> None:
        with sqlite3.connect(path) as conn:
            (at,) = conn.execute("SELECT seen_at FROM slot_waiters WHERE holder = 'waiter'").fetchone()
        seen.append((clock.time(), at))
        looks[0] += 1
        if looks[0] >= 25:
            raise Stop
        clock.sleep(seconds)

    waiter = SubmitPacer(path, clock=clock, sleep=sleep)
    with pytest.raises(Stop):
        waiter.acquire("waiter", model="m", service="s", rate=10, concurrency=1, lease=1000)
    assert all(abs(b - a - 0.1) < 1e-6 for (a, _), (b, _) in zip(seen, seen[1:], strict=False))  # every 0.1 s
    writes = sorted({at for _, at in seen})
    assert len(writes) == 3 and writes[1] - writes[0] >= 1.0 - 1e-6  # 2.4 s of waiting: 3 writes, not 25
    assert waiter.waiting("m", "s") == 0  # and a waiter that gives up is no longer listed
