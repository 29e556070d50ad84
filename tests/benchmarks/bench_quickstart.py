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
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = "A kitten running in the moonlight"
GOAL = 2.5


def wall_time(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def render_alone() -> float:
    """Seconds to render the quick start's video in this process, without the emulator around it."""
    from qwenvid.emulator.render import RenderJob, render_video

    job = RenderJob("wan2.6-t2v", PROMPT, 1920, 1080, 5.0, True)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        render_video(job, Path(folder) / "video.mp4")
        return time.perf_counter() - start


def main(rounds: int = 7) -> dict[str, float]:
    quick = [sys.executable, "-m", "qwenvid", "--emulator", "t2v", PROMPT]
    bare = [sys.executable, "-c", "pass"]
    times: dict[str, list[float]] = {"python -c pass": [], "quick start, first run": [], "quick start, cached": []}
    with tempfile.TemporaryDirectory() as root:
        home = Path(root) / "home"
        env = {**os.environ, "QWENVID_HOME": str(home)}
        for name in ("DASHSCOPE_API_KEY", "QWEN_BASE_URL", "QWEN_REGION", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        wall_time(quick, Path(root), env)  # warm the file cache (and compile the modules) once
        for index in range(rounds):
            work = Path(root) / f"run-{index}"
            work.mkdir()
            times["python -c pass"].append(wall_time(bare, work, env))
            shutil.rmtree(home / "emulator-renders", ignore_errors=True)
            times["quick start, first run"].append(wall_time(quick, work, env))
            times["quick start, cached"].append(wall_time(quick, work, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    floor = medians["python -c pass"]
    for name, value in medians.items():
        spread = f"{min(times[name]):.2f}-{max(times[name]):.2f}"
        extra = "" if name == "python -c pass" else f"  (+{value - floor:.2f} s over python -c pass)"
        print(f"{name:24} {value:5.2f} s median of {rounds} (range {spread}){extra}")
    render = statistics.median(render_alone() for _ in range(3))
    print(f"{'render alone (1080P 5 s)':24} {render:5.2f} s median of 3, in-process")
    verdict = "meets" if medians["quick start, first run"] < GOAL else "misses"
    print(f"goal: quick start < {GOAL} s end to end; the first run {verdict} it")
    return medians


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
