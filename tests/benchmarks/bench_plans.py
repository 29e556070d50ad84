"""Benchmark: `qwenvid run` of N equal t2v steps against the emulator with its per-model limits.

Run it as a script (pytest does not collect `bench_*.py`):

    python tests/benchmarks/bench_plans.py [--steps 50 200] [--render 60] [--model wan2.6-t2v] [--real]

Each task takes a fixed render time (the emulator's pending + running seconds). The ideal wall time
is ceil(N / concurrency) x render time: the model's concurrency limit used fully, back to back. The
script prints the measured time divided by that ideal (goal <= 1.1), the 429s the client received,
the queries per second, and the peak RSS of the process.

By default both the emulator and qwenvid run on one manual clock (simulated seconds: the scheduling is
measured, not the machine); `--real` uses the real clock (choose a short --render). The emulator is
in "reject" mode, so a submit over the concurrency limit would be a 429, not a silent queue.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import httpx
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from qwenvid.catalogue import get_model  # noqa: E402
from qwenvid.cli import _session, app  # noqa: E402
from qwenvid.emulator.config import EmulatorConfig, ManualClock  # noqa: E402
from qwenvid.emulator.server import EmulatorThread  # noqa: E402


class Counting(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests: Counter[str] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        kind = "query" if request.method == "GET" and "/tasks/" in request.url.path else request.method
        self.requests[kind] += 1
        self.requests[f"status {response.status_code}"] += 1
        return response


def one_run(steps: int, render: float, model: str, real: bool, size: str) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="bench-plans-"))
    os.chdir(work)
    os.environ["QWENVID_HOME"] = str(work / "home")
    clock = None if real else ManualClock()
    pending = 0.5
    emu = EmulatorThread(
        EmulatorConfig(pending_seconds=pending, running_seconds=render - pending, concurrency_mode="reject"),
        clock=clock,
    ).start()
    transport = Counting()
    injected: dict[str, object] = {"transport": transport}
    if clock is not None:

        def sleep(seconds: float) -> None:
            clock.sleep(seconds)
            emu.state.wait_rendered()

        injected |= {"clock": clock, "sleep": sleep}
    _session.INJECTED["session"] = injected
    os.environ["QWEN_BASE_URL"] = emu.base_url
    os.environ["DASHSCOPE_API_KEY"] = "sk-bench-0123456789"
    plan = work / f"bench{steps}.txt"
    plan.write_text("\n".join("A lighthouse in a storm, slow pan" for _ in range(steps)))
    now = clock if clock is not None else time.monotonic
    started = now()
    result = CliRunner().invoke(
        app, ["--quiet", "run", str(plan), "--yes", "--model", model, "--size", size, "--duration", "5"]
    )
    elapsed = now() - started
    emu.stop()
    if result.exit_code != 0:
        raise SystemExit(f"run failed ({result.exit_code}): {result.stderr[-2000:]}")
    spec = get_model(model)
    assert spec is not None
    ideal = math.ceil(steps / spec.concurrency_limit) * render
    return {
        "steps": steps,
        "elapsed": elapsed,
        "ideal": ideal,
        "ratio": elapsed / ideal,
        "tasks": emu.state.task_count(),
        "429": transport.requests["status 429"],
        "queries": transport.requests["query"],
        "qps": transport.requests["query"] / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, nargs="+", default=[50, 200])
    parser.add_argument("--render", type=float, default=60.0, help="seconds each task takes on the emulator")
    parser.add_argument("--model", default="wan2.6-t2v")
    parser.add_argument("--size", default="1280*720")
    parser.add_argument("--real", action="store_true", help="real clock instead of the shared manual clock")
    args = parser.parse_args()
    clock_kind = "real seconds" if args.real else "simulated seconds (manual clock)"
    print(f"model {args.model}, render {args.render:g} s per task, {clock_kind}; goal: ratio <= 1.1, zero 429s")
    for steps in args.steps:
        wall = time.monotonic()
        figures = one_run(steps, args.render, args.model, args.real, args.size)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"{steps:4d} steps: {figures['elapsed']:8.1f} s vs ideal {figures['ideal']:7.1f} s -> "
            f"ratio {figures['ratio']:.3f}; tasks {figures['tasks']}; 429s {figures['429']}; "
            f"queries {figures['queries']} ({figures['qps']:.2f}/s); peak RSS {peak_mb:.0f} MB; "
            f"took {time.monotonic() - wall:.1f} s of real time"
        )


if __name__ == "__main__":
    main()
