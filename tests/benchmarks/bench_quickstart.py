"""Wall time of the README's quick start, `qwenvid --emulator t2v "A kitten running in the moonlight"` (goal < 2.5 s).

Run: python tests/benchmarks/bench_quickstart.py [ROUNDS]
Each round runs, alternately in one run so machine load hits all alike, `python -c pass` (the floor
every Python program pays), the quick start with an empty render cache (a first run: the emulator
renders the 1080P 5 s video) and the quick start again with that video cached (a repeated prompt).
Every run uses a fresh working folder and its own QWENVID_HOME, with bytecode caching on as an
installed package has it (even if this shell sets PYTHONDONTWRITEBYTECODE). Medians are printed, and the render
of that video on its own, for scale.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = "A kitten running in the moonlight"
GOAL = 2.5


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds: user + system, every thread) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def render_alone() -> float:
    """Seconds to render the quick start's video in this process, without the emulator around it."""
    from qwenvid.emulator.render import RenderJob, render_video

    job = RenderJob("wan2.6-t2v", PROMPT, 1920, 1080, 5.0, True)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        render_video(job, Path(folder) / "video.mp4")
        return time.perf_counter() - start


def main(rounds: int = 7) -> dict[str, float]:
    """Print wall and CPU medians; return the wall medians."""
    quick = [sys.executable, "-m", "qwenvid", "--emulator", "t2v", PROMPT]
    bare = [sys.executable, "-c", "pass"]
    names = ("python -c pass", "quick start, first run", "quick start, cached")
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as root:
        home = Path(root) / "home"
        env = {**os.environ, "QWENVID_HOME": str(home)}
        for name in ("DASHSCOPE_API_KEY", "QWEN_BASE_URL", "QWEN_REGION", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        timed(quick, Path(root), env)  # warm the file cache (and write the bytecode) once
        for index in range(rounds):
            work = Path(root) / f"run-{index}"
            work.mkdir()
            runs[names[0]].append(timed(bare, work, env))
            shutil.rmtree(home / "emulator-renders", ignore_errors=True)
            runs[names[1]].append(timed(quick, work, env))
            runs[names[2]].append(timed(quick, work, env))
    walls = {name: statistics.median(run[0] for run in values) for name, values in runs.items()}
    print(f"medians of {rounds} runs; CPU = user + system time of the process, all threads")
    for name, values in runs.items():
        cpu = statistics.median(run[1] for run in values)
        spread = f"{min(run[0] for run in values):.2f}-{max(run[0] for run in values):.2f}"
        extra = "" if name == names[0] else f"  (+{walls[name] - walls[names[0]]:.2f} s over python -c pass)"
        print(f"{name:24} wall {walls[name]:5.2f} s (range {spread}), CPU {cpu:5.2f} s{extra}")
    render = statistics.median(render_alone() for _ in range(3))
    print(f"{'render alone (1080P 5 s)':24} wall {render:5.2f} s, median of 3, in this process")
    verdict = "meets" if walls[names[1]] < GOAL else "misses"
    print(f"goal: quick start < {GOAL} s end to end; the first run {verdict} it")
    return walls


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
