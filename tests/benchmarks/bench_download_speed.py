"""Benchmark: `qwenvid fetch` of a 1 GiB result beside `curl -o` + `sync`, in one run, with peak RSS.

Run it as a script (pytest does not collect `bench_*.py`):

    python tests/benchmarks/bench_download_speed.py [--bytes N] [--rounds 5] [--baseline DIR]

An emulator subprocess serves one finished task whose MP4 is padded to N bytes (a trailing `free`
box). One untimed `qwenvid status TASK` first records the task and its result link in the ledger, as
a run (or any earlier status or fetch) does. Each round runs every contender once, in fresh files on
the same disk, in an order that rotates from round to round (none always follows another's writes):

  curl+sync   `curl -s -o FILE URL` then `sync` (the honest durable peer: qwenvid fsyncs its file)
  curl        the same transfer without the sync (for reference)
  fetch       the real CLI, `qwenvid fetch TASK -o DIR` in its own process: start-up, the ledger,
              the download, sha256, fsync, the MP4 probe and the sidecar all count
  library     download_video() alone in a child process (no CLI start-up, no ledger)
  baseline    with --baseline DIR: `qwenvid fetch` of another source tree of qwenvid (e.g. a
              `git worktree add /tmp/main main`), with its own ledger: before/after in one run (both then run
              with `python -P` and PYTHONPATH naming their tree)

The qwenvid packages are byte-compiled first, as `pip install` does: this environment sets
PYTHONDONTWRITEBYTECODE and a source checkout has no __pycache__, so every `qwenvid fetch` would
otherwise recompile ~20 modules (~0.2 s) that an installed copy never does.

It prints each round, then the medians in MiB/s, fetch ÷ curl+sync (goal >= 0.9), the CPU seconds
per run (user + system: they hardly depend on what else the machine does), the peak RSS of the
fetch and library processes (goal < 100 MB), and where one more `qwenvid --debug fetch` spent its
time (from its debug lines; "start-up and exit" is the wall time they do not cover). Exit status 1
when a goal is missed. Timings on a shared machine are noisy: compare the side-by-side figures of
one run, and the CPU seconds.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_download_rss import finished_video_url, start_emulator  # noqa: E402

GIB = 1 << 30
MIB = 1 << 20
KEY = "sk-bench-0123456789"
LIBRARY = """
import resource, sys, time, httpx
from pathlib import Path
from qwenvid.wire.deadlines import bounded_transport
from qwenvid.wire.download import download_video
url, folder = sys.argv[1], Path(sys.argv[2])
with httpx.Client(transport=bounded_transport(), timeout=60.0) as http:
    started = time.perf_counter()
    result = download_video(url, folder, http=http, name_hint="library")
    print(time.perf_counter() - started, result.size)
"""
# The --debug lines that time a phase of `qwenvid fetch` (qwenvid/tasks/fetch.py, qwenvid/wire/download.py).
PHASES = (
    ("status query", re.compile(r"status query ([\d.]+) s")),
    ("transfer + final fsync", re.compile(r"transfer ([\d.]+) s")),
    ("verify + MP4 probe", re.compile(r"verify \+ probe ([\d.]+) s")),
    ("rename + folder fsync", re.compile(r"rename \+ folder fsync ([\d.]+) s")),
    ("ledger + sidecar", re.compile(r"ledger \+ sidecar ([\d.]+) s")),
)

CPU: dict[str, list[float]] = {}


def run_child(command: list[str], env: dict[str, str] | None = None, name: str = "") -> tuple[float, float, str, str]:
    """(wall seconds, peak RSS MB of that child alone, stdout, stderr) — os.wait4 gives the child's own rusage.

    The child's CPU seconds (user + system) are kept under `name`: unlike wall time, they hardly
    depend on what else the machine is doing."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"{command[:4]} failed ({process.returncode}): {stderr[-2000:]}")
    rss = usage.ru_maxrss / (MIB if sys.platform == "darwin" else 1024)
    if name:
        CPU.setdefault(name, []).append(usage.ru_utime + usage.ru_stime)
    return wall, rss, stdout, stderr


def timed(command: list[str], name: str = "") -> float:
    return run_child(command, name=name)[0]


def sync() -> None:
    subprocess.run(["sync"], check=True)


class Contenders:
    """Each contender downloads the result once per call and returns its wall seconds."""

    def __init__(self, curl: str, url: str, task_id: str, work: Path, envs: dict[str, dict[str, str]]) -> None:
        self.curl, self.url, self.task_id, self.work, self.envs = curl, url, task_id, work, envs
        self.rss: dict[str, float] = {}
        # With a baseline, both trees are imported from PYTHONPATH, and -P keeps the working directory (perhaps
        # a checkout) off sys.path.
        self.launcher = [sys.executable, *(["-P"] if "baseline" in envs else []), "-m", "qwenvid"]

    def curl_sync(self, round_no: int) -> float:
        target = self.work / "curl.bin"
        seconds = timed([self.curl, "-s", "-o", str(target), self.url], "curl") + timed(["sync"])
        target.unlink()
        sync()
        return seconds

    def curl_alone(self, round_no: int) -> float:
        target = self.work / "curl.bin"
        seconds = timed([self.curl, "-s", "-o", str(target), self.url])
        target.unlink()
        sync()
        return seconds

    def fetch(self, round_no: int, name: str = "fetch", extra: tuple[str, ...] = ()) -> float:
        out = self.work / f"{name}-{round_no}"
        command = [*self.launcher, *extra, "fetch", self.task_id, "-o", str(out)]
        wall, peak, _, stderr = run_child(command, self.envs[name], name)
        shutil.rmtree(out)
        sync()
        self.rss[name] = max(self.rss.get(name, 0.0), peak)
        self.last_stderr = stderr
        return wall

    def baseline(self, round_no: int) -> float:
        return self.fetch(round_no, "baseline")

    def library(self, round_no: int) -> float:
        out = self.work / f"library-{round_no}"
        _, peak, printed, _ = run_child([sys.executable, "-c", LIBRARY, self.url, str(out)], name="library")
        shutil.rmtree(out)
        sync()
        self.rss["library"] = max(self.rss.get("library", 0.0), peak)
        return float(printed.split()[0])


def phase_breakdown(contenders: Contenders, wall: float) -> list[tuple[str, float]]:
    """The phases one `qwenvid --debug fetch` logged, and the wall time they leave (start-up, imports, exit)."""
    found = []
    for name, pattern in PHASES:
        match = pattern.search(contenders.last_stderr)
        if match:
            found.append((name, float(match.group(1))))
    if "no status query" in contenders.last_stderr:
        found.insert(0, ("status query", 0.0))
    found.append(("start-up, imports, claim, exit (the rest)", wall - sum(seconds for _, seconds in found)))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bytes", type=int, default=GIB, help="size of the served result (default 1 GiB)")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary folder in the cwd)")
    parser.add_argument("--baseline", default=None, help="a source tree of another qwenvid to time beside this one")
    args = parser.parse_args()
    curl = shutil.which("curl")
    if curl is None:
        raise SystemExit("curl is not installed")

    import qwenvid

    compileall.compile_dir(str(Path(qwenvid.__file__).parent), quiet=1)  # what an installed copy has
    if args.baseline:
        compileall.compile_dir(str(Path(args.baseline) / "qwenvid"), quiet=1)
    emulator, base_url = start_emulator(args.bytes)
    work = Path(tempfile.mkdtemp(prefix="qwenvid-bench-", dir=args.dir or "."))
    try:
        url = finished_video_url(base_url)
        task_id = url.split("/__results/")[1].split(".mp4")[0]
        common = {**os.environ, "QWEN_BASE_URL": base_url, "DASHSCOPE_API_KEY": KEY, "NO_COLOR": "1"}
        envs = {"fetch": {**common, "QWENVID_HOME": str(work / "home")}}
        if args.baseline:
            for name, tree in (("fetch", Path(qwenvid.__file__).parent.parent), ("baseline", Path(args.baseline))):
                envs[name] = {**common, "QWENVID_HOME": str(work / f"home-{name}"), "PYTHONPATH": str(tree.resolve())}
        contenders = Contenders(curl, url, task_id, work, envs)
        for env in envs.values():  # the ledger learns the task and its link, as after a run
            subprocess.run([*contenders.launcher, "status", task_id], env=env, check=True, stdout=subprocess.DEVNULL)
        runs: dict[str, Callable[[int], float]] = {
            "curl+sync": contenders.curl_sync,
            "curl": contenders.curl_alone,
            "fetch": contenders.fetch,
            "library": contenders.library,
        }
        if args.baseline:
            runs["baseline"] = contenders.baseline
        figures: dict[str, list[float]] = {name: [] for name in runs}
        names = list(runs)
        for round_no in range(1, args.rounds + 1):
            shift = (round_no - 1) % len(names)
            order = names[shift:] + names[:shift]  # each contender goes first in turn
            for name in order:
                figures[name].append(runs[name](round_no))
            print(f"round {round_no}: " + "  ".join(
                f"{name} {args.bytes / figures[name][-1] / MIB:.0f} MiB/s ({figures[name][-1]:.2f} s)" for name in names
            ), flush=True)
        debug_wall = contenders.fetch(0, extra=("--debug",))
        breakdown = phase_breakdown(contenders, debug_wall)
    finally:
        emulator.send_signal(signal.SIGINT)
        emulator.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)

    speed = {name: args.bytes / statistics.median(values) / MIB for name, values in figures.items()}
    ratio = speed["fetch"] / speed["curl+sync"]
    print(f"\nmedian of {args.rounds} rounds, {args.bytes:,} bytes (2 shared cores: noisy; compare side by side)")
    for name in names:
        low, high = min(figures[name]), max(figures[name])
        print(f"  {name:<10} {speed[name]:7.0f} MiB/s   ({low:.2f}-{high:.2f} s)")
    print(f"  qwenvid fetch / (curl -o + sync)   {ratio:.2f}  (goal >= 0.90)")
    if args.baseline:
        print(f"  baseline fetch / (curl -o + sync)  {speed['baseline'] / speed['curl+sync']:.2f}")
    print(f"  library       / (curl -o + sync)   {speed['library'] / speed['curl+sync']:.2f}")
    print("  CPU seconds per run (user + system, median): " + ", ".join(
        f"{name} {statistics.median(values[: args.rounds]):.2f}" for name, values in CPU.items()))
    peaks = ", ".join(f"{name} {mb:.0f} MB" for name, mb in contenders.rss.items())
    print(f"  peak RSS: {peaks}  (goal < 100 MB)")
    print(f"\none `qwenvid --debug fetch`: {debug_wall:.2f} s")
    for name, seconds in breakdown:
        print(f"  {name:<44} {seconds:6.3f} s")
    ok = ratio >= 0.9 and max(contenders.rss.values()) < 100
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
