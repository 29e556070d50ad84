"""20 runs at once against a model that allows 5 submits per second and 5 running tasks: wall vs ideal, 429s.

Run: python tests/benchmarks/bench_parallel_runs.py [RUNS] [RENDER_SECONDS] [processes|threads]

Real time. The emulator (over loopback, realistic limits: wan2.6-t2v 5 submits/s and 5 running) is
in *reject* mode, so a submit over the running-task limit is a 429 Throttling.Concurrency instead of a
silently queued task: every limit hit is counted. The runs are `qwenvid t2v` console-script processes
sharing one state folder (so their submit slots are coordinated through the ledger file), started
all at once; or (`threads`) one library Session per thread in this process, same state folder, which
leaves out 20 interpreter start-ups. Ideal = ceil(RUNS / 5) x (queue 0.3 s + render) — the fastest the account allows.

Also printed, to say where the time beyond the ideal goes: when the first and the last task of the
first wave were submitted (interpreter start-ups; qwenvid/store/startup_gate.py lets the first runs start
up first), the slot hand-offs (a task ends -> the next submit) split into "task end -> its run
released the slot" (the holder's detection, polling.HANDOFF while others wait) and "a release -> the
next submit arrived" (the waiter's look at the slot table + its submit), and the tail after the last
task ended (detection, download, verification, exit).

Goal (issue 9): wall <= 1.05 x ideal, zero 429s.
"""

from __future__ import annotations

import math
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

from qwenvid.emulator.config import EmulatorConfig
from qwenvid.emulator.server import EmulatorThread

MODEL = "wan2.6-t2v"
CONCURRENCY = 5
PENDING = 0.3


def detection_delays(ledger: Path) -> list[float]:
    """Seconds from each task's end (server time) to the moment its run recorded SUCCEEDED in the ledger."""
    from qwenvid.store.ledger import parse_server_time

    with sqlite3.connect(ledger) as conn:
        rows = conn.execute("SELECT end_time, status_changed_at FROM tasks WHERE remote_status = 'SUCCEEDED'")
        found = []
        for end_time, seen in rows:
            ended = parse_server_time(end_time)
            if ended is not None and seen:
                found.append((datetime.fromisoformat(seen) - ended).total_seconds())
    return found


class SlotWatch:
    """Reads the pacing table every half second (released slots are dropped after a minute): when each was freed."""

    def __init__(self, ledger: Path) -> None:
        self.ledger = ledger
        self.released: dict[str, float] = {}  # ledger row id -> epoch seconds its slot was released
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> SlotWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._read()

    def _watch(self) -> None:
        while not self._stop.wait(0.5):
            self._read()

    def _read(self) -> None:
        try:
            with sqlite3.connect(self.ledger, timeout=5.0) as conn:
                rows = conn.execute("SELECT holder, released_at FROM submit_slots WHERE released_at IS NOT NULL")
                self.released.update(dict(rows))
        except sqlite3.Error:
            pass  # not created yet, or busy: the next look catches up


def hand_offs(ledger: Path, tasks: list, released: dict[str, float]) -> tuple[list[float], list[float]]:
    """The two halves of the slot hand-offs: each task's end -> its run released the slot, and the n-th
    release -> the (concurrency + n)-th submit arrived (the waiting run that took the freed slot)."""
    with sqlite3.connect(ledger) as conn:
        rows = dict(conn.execute("SELECT task_id, id FROM tasks WHERE task_id IS NOT NULL"))
    freeing, frees = [], []
    for task in tasks:
        freed = released.get(rows.get(task.task_id, ""))
        if freed is not None and task.end_at is not None:
            freeing.append(freed - task.end_at)
            frees.append(freed)
    submits = sorted(t.submit_at for t in tasks)
    taking = [submit - freed for submit, freed in zip(submits[CONCURRENCY:], sorted(frees), strict=False)]
    return freeing, taking


def run_in_threads(runs: int, home: Path, base_url: str, out: Path) -> list[int]:
    """One Session per thread (as separate programs would have), all sharing the state folder."""
    from qwenvid.config import load_settings
    from qwenvid.requests.shapes import T2VRequest
    from qwenvid.tasks.poll_loop import run_concurrently
    from qwenvid.tasks.session import NullReporter, RunOptions, Session

    os.environ["QWENVID_HOME"] = str(home)
    request = T2VRequest(model=MODEL, prompt="A lighthouse at dusk", size="1280*720", duration=2)

    def one(_: int) -> int:
        with Session(load_settings(api_key="sk-benchmark-not-a-real-key", base_url=base_url)) as session:
            return 0 if session.run(session.plan(request), RunOptions(output=out), NullReporter()).video_path else 1

    return run_concurrently(range(runs), one, workers=runs)


def main(runs: int, render: float, processes: bool) -> None:
    print(__doc__.split("\n\n")[0])
    exe = shutil.which("qwenvid") or str(Path(sys.executable).with_name("qwenvid"))
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        config = EmulatorConfig(
            pending_seconds=PENDING, running_seconds=render, concurrency_mode="reject", results_dir=Path(folder) / "e"
        )
        with EmulatorThread(config) as emulator:
            env = {
                **os.environ,
                "QWENVID_HOME": str(home),
                "DASHSCOPE_API_KEY": "sk-benchmark-not-a-real-key",
                "QWEN_BASE_URL": emulator.base_url,
                "NO_COLOR": "1",
            }
            command = [exe, "--quiet", "t2v", "A lighthouse at dusk", "--model", MODEL, "--size", "1280*720",
                       "--duration", "2", "--yes", "-o", str(Path(folder) / "out")]
            started = time.perf_counter()
            launched = time.time()
            watch = SlotWatch(home / "ledger.sqlite3")
            with watch:
                if processes:
                    children = [
                        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                        for _ in range(runs)
                    ]
                    codes = [child.wait() for child in children]
                else:
                    children, codes = [], run_in_threads(runs, home, emulator.base_url, Path(folder) / "out")
            wall = time.perf_counter() - started
            finished = time.time()
            hits = emulator.state.limit_counts()
            detection = detection_delays(home / "ledger.sqlite3")
            tasks = emulator.state.tasks
            handed = hand_offs(home / "ledger.sqlite3", tasks, watch.released)
            failures = [
                child.stderr.read().decode()[-300:] for child, code in zip(children, codes, strict=False) if code
            ]
    ideal = math.ceil(runs / CONCURRENCY) * (PENDING + render)
    ends = sorted(t.end_at for t in tasks if t.end_at is not None)
    how = "processes" if processes else "threads (one Session each)"
    print(f"\n{runs} runs of {MODEL} ({render:g} s render), {CONCURRENCY} running at a time, "
          f"as {runs} {how} sharing one state folder")
    print(f"exit codes: {sorted(set(codes))}; tasks created: {len(tasks)}")
    print(f"wall {wall:.1f} s (launch to last exit)  vs ideal {ideal:.1f} s  ->  {wall / ideal:.3f} x")
    print(f"429 on submit: rate {hits.get('submit.rate', 0)}, concurrency {hits.get('submit.concurrency', 0)}; "
          f"429 on queries: {hits.get('query.rate', 0)}")
    print(f"queries: {sum(emulator.state.queries.values())} in all, "
          f"{sum(emulator.state.queries.values()) / max(len(tasks), 1):.1f} per task")
    if ends:
        first = min(t.submit_at for t in tasks)
        span = ends[-1] - first
        wave = sorted(t.submit_at for t in tasks)[:CONCURRENCY]
        print(f"first wave: submit 1 at {wave[0] - launched:.2f} s, submit {len(wave)} at {wave[-1] - launched:.2f} s "
              "after launch (interpreter start-ups share the cores)")
        print(f"first submit {first - launched:.1f} s after launch (interpreter start-up); last task ended "
              f"{span:.1f} s after the first submit ({span / ideal:.3f} x ideal); "
              f"last run done {finished - ends[-1]:.1f} s after that (detection, download, verification, exit)")
        submits = sorted(t.submit_at for t in tasks)
        gaps = [start - end for start, end in zip(submits[CONCURRENCY:], ends, strict=False)]
        if gaps:
            print(f"slot hand-off (a task ends -> the next submit arrives): median {statistics.median(gaps):.2f} s, "
                  f"max {max(gaps):.2f} s over {len(gaps)} hand-offs")
    freeing, taking = handed
    if freeing and taking:
        print(f"  of which: task end -> its run released the slot median {statistics.median(freeing):.2f} s, "
              f"max {max(freeing):.2f} s; a release -> the next submit arrived median "
              f"{statistics.median(taking):.2f} s, max {max(taking):.2f} s")
    if detection:
        print(f"detection delay (task ended -> its run saw SUCCEEDED): median {statistics.median(detection):.2f} s, "
              f"max {max(detection):.2f} s")
    for text in failures[:3]:
        print("failed run:", text)
    if processes:
        print("(2 shared CPU cores: the start-up of the interpreters is part of the wall time)")


if __name__ == "__main__":
    main(
        int(sys.argv[1]) if len(sys.argv) > 1 else 20,
        float(sys.argv[2]) if len(sys.argv) > 2 else 30.0,
        (sys.argv[3] if len(sys.argv) > 3 else "processes") != "threads",
    )
