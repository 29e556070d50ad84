"""Detection delay and queries per task: qwenvid's poller (cold and warm) beside the official SDK's `wait`.

Every case runs against the real emulator over loopback, with a fixed render time (2, 20, 60, 180 s)
and a queue time drawn per task from U(QUEUE) s (the same draws for every client; default 0.3-5.3, so
end times fall anywhere in the SDK's 5 s cadence rather than always just after one of its queries).
To keep the long cases short, the emulator and both clients run on one *manual* clock: virtual time
that moves only when a client sleeps (the SDK's `time.sleep` is pointed at it too), one task at a
time. So there is no network latency in the figures, and they take seconds instead of hours.

Run: python tests/benchmarks/bench_poll_detection.py [TASKS_PER_CASE] [QUEUE_MIN QUEUE_MAX]

* delay   = when the client saw SUCCEEDED - when the task ended on the emulator (virtual seconds)
* queries = GET /tasks/{id} answers the emulator gave for that task
* cold    = no history: the catalogue's typical time (180 s for wan2.6-t2v) is the estimate
* warm    = the estimate learned (qwenvid.polling.learn_estimate) from this case's earlier runs, as the
            ledger would after the user ran the same kind of task before: submit-to-end and render
            (RUNNING-to-end) times, so the poller re-aims once it sees the task running

Goal (issue 9): median <= 1.5 s and p90 <= 4 s, never more queries than the SDK's `wait`.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import dashscope
from dashscope import VideoSynthesis
from dashscope.client import base_api

from qwenvid.client import DashScopeClient
from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread
from qwenvid.estimates import typical_seconds
from qwenvid.poll_loop import PollLoop
from qwenvid.polling import Estimate, PollSchedule, learn_estimate

MODEL = "wan2.6-t2v"
PATH = "/services/aigc/video-generation/video-synthesis"
BODY = {"model": MODEL, "input": {"prompt": "A lighthouse at dusk"}, "parameters": {"size": "1280*720", "duration": 2}}
KEY = "sk-benchmark-not-a-real-key"
RENDER_SECONDS = (2, 20, 60, 180)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(per_case: int, queue: tuple[float, float] = (0.3, 5.3)) -> None:
    clock = ManualClock()
    rng = random.Random(9)
    print((__doc__ or "").split("\n\n")[0])
    print("Virtual time (the emulator's manual clock, shared with both clients), one task at a time, no latency.")
    print(f"\nqueue time U({queue[0]:g}, {queue[1]:g}) s", end="; ")
    print(f"{per_case} tasks per case; real MP4 renders (cached); limits off so throttling plays no part.\n")
    print(f"{'render':>6}  {'client':<14} {'delay median':>12} {'p90':>6} {'max':>6}", end="  ")
    print(f"{'queries median':>14} {'max':>4}")
    with tempfile.TemporaryDirectory() as folder:
        for seconds in RENDER_SECONDS:
            config = EmulatorConfig(running_seconds=float(seconds), limits=False, results_dir=Path(folder))
            with EmulatorThread(config, clock=clock) as emulator:
                dashscope.base_http_api_url = emulator.base_url
                dashscope.api_key = KEY
                base_api.time = SimpleNamespace(sleep=clock.sleep, time=clock.time)  # the SDK sleeps on it too
                client = DashScopeClient(KEY, emulator.base_url, clock=clock, sleep=clock.sleep, query_qps=1000)
                pendings = [rng.uniform(*queue) for _ in range(per_case)]
                history: list[float] = []
                renders: list[float] = []
                rows = []
                for label in ("qwenvid cold", "qwenvid warm", "SDK wait"):
                    delays, queries = [], []
                    for pending in pendings:
                        emulator.state.config.pending_seconds = pending
                        if label == "SDK wait":
                            submitted = VideoSynthesis.async_call(
                                model=MODEL, prompt=BODY["input"]["prompt"], size="1280*720", duration=2
                            )
                            task_id = submitted.output.task_id
                            emulator.state.wait_rendered()
                            result = VideoSynthesis.wait(submitted)
                            assert result.output.task_status == "SUCCEEDED", result
                        else:
                            task_id = client.submit(PATH, BODY).task_id
                            emulator.state.wait_rendered()
                            estimate = (
                                Estimate.typical(typical_seconds(MODEL))
                                if label.endswith("cold")
                                else learn_estimate(history, typical_seconds(MODEL), renders)
                            )
                            loop = PollLoop(clock=clock, sleep=clock.sleep)
                            info = loop.run(
                                lambda task_id=task_id, client=client: client.get_task(task_id),
                                schedule=PollSchedule.for_estimate(estimate, random.Random(rng.random())),
                                timeout=None,
                            )
                            assert info.status == "SUCCEEDED", info
                        seen = clock.time()
                        task = emulator.state.get_task(task_id)
                        assert task is not None and task.end_at is not None
                        emulator.state.queries[task_id] -= 1  # our own look just now
                        delays.append(seen - task.end_at)
                        queries.append(emulator.state.queries[task_id])
                        if label == "qwenvid cold":
                            history.append(task.end_at - task.submit_at)
                            assert task.scheduled_at is not None
                            renders.append(task.end_at - task.scheduled_at)
                    rows.append((label, delays, queries))
                client.close()
            for label, delays, queries in rows:
                print(
                    f"{seconds:>5}s  {label:<14} {statistics.median(delays):>11.2f}s {percentile(delays, 0.9):>5.2f}s"
                    f" {max(delays):>5.2f}s  {statistics.median(queries):>14.1f} {max(queries):>4}"
                )
            sdk_queries = dict(zip(pendings, rows[2][2], strict=True))
            for label, _, queries in rows[:2]:
                over = sum(1 for pending, count in zip(pendings, queries, strict=True) if count > sdk_queries[pending])
                if over:
                    print(f"        {label}: {over} task(s) with more queries than the SDK's wait for the same task")
            print()


if __name__ == "__main__":
    started = time.perf_counter()
    queue = (float(sys.argv[2]), float(sys.argv[3])) if len(sys.argv) > 3 else (0.3, 5.3)
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20, queue)
    print(f"(benchmark wall time {time.perf_counter() - started:.1f} s)")
