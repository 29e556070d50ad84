"""Benchmark: `qwenvid fetch` of a 1 GiB result beside `curl -o` + `sync`, in one run, with peak RSS.

Run it as a script (pytest does not collect `bench_*.py`):

    python tests/benchmarks/bench_download_speed.py [--bytes N] [--rounds 3]

An emulator subprocess serves one finished task whose MP4 is padded to N bytes (a trailing `free`
box). Each round, interleaved, in fresh files on the same disk:

  curl+sync   `curl -s -o FILE URL` then `sync` (the honest durable peer: qwenvid fsyncs its file)
  curl        the same transfer without the sync (for reference)
  fetch       the real CLI, `qwenvid fetch TASK -o DIR` in its own process: start-up, the status
              query, the download, sha256, fsync, the MP4 probe and the sidecar all count
  library     download_video() alone in a child process (no CLI start-up, no status query)

The qwenvid package is byte-compiled first, as `pip install` does: this environment sets
PYTHONDONTWRITEBYTECODE and a source checkout has no __pycache__, so every `qwenvid fetch` would
otherwise recompile ~20 modules (~0.2 s) that an installed copy never does.

It prints each round, then the medians in MiB/s, fetch ÷ curl+sync (goal >= 0.9) and the peak
RSS of the fetch and library processes (goal < 100 MB). Exit status 1 when a goal is missed.
Timings on a shared machine are noisy: compare the side-by-side figures of one run.
"""

from __future__ import annotations

import argparse
import compileall
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_download_rss import finished_video_url, start_emulator  # noqa: E402

GIB = 1 << 30
MIB = 1 << 20
KEY = "sk-bench-0123456789"
LIBRARY = """
import resource, sys, time, httpx
from pathlib import Path
from qwenvid.deadlines import bounded_transport
from qwenvid.download import download_video
url, folder = sys.argv[1], Path(sys.argv[2])
with httpx.Client(transport=bounded_transport(), timeout=60.0) as http:
    started = time.perf_counter()
    result = download_video(url, folder, http=http, name_hint="library")
    print(time.perf_counter() - started, result.size)
"""


CPU: dict[str, list[float]] = {}


def run_child(command: list[str], env: dict[str, str] | None = None, name: str = "") -> tuple[float, float, str]:
    """(wall seconds, peak RSS MB of that child alone, stdout) — os.wait4 gives the child's own rusage.

    The child's CPU seconds (user + system) are kept under `name`: unlike wall time, they hardly
    depend on what else the machine is doing."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert process.stdout is not None and process.stderr is not None
    stdout = process.stdout.read()
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{command[:3]} failed ({process.returncode}): {stderr.decode()[-2000:]}")
    rss = usage.ru_maxrss / (MIB if sys.platform == "darwin" else 1024)
    if name:
        CPU.setdefault(name, []).append(usage.ru_utime + usage.ru_stime)
    return wall, rss, stdout.decode()


def timed(command: list[str], name: str = "") -> float:
    return run_child(command, name=name)[0]


def fetch_once(out: Path, task_id: str, env: dict[str, str], rss: dict[str, float]) -> float:
    """`qwenvid fetch` in its own process: its wall time (start-up included)."""
    wall, peak, _ = run_child([sys.executable, "-m", "qwenvid", "fetch", task_id, "-o", str(out)], env, "fetch")
    shutil.rmtree(out)
    subprocess.run(["sync"], check=True)
    rss["fetch"] = max(rss["fetch"], peak)
    return wall


def library_once(out: Path, url: str, rss: dict[str, float]) -> float:
    """download_video() in its own process: the seconds it took."""
    _, peak, printed = run_child([sys.executable, "-c", LIBRARY, url, str(out)], name="library")
    shutil.rmtree(out)
    subprocess.run(["sync"], check=True)
    rss["library"] = max(rss["library"], peak)
    return float(printed.split()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--bytes", type=int, default=GIB, help="size of the served result (default 1 GiB)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", default=None, help="where to write (default: a temporary folder in the cwd)")
    args = parser.parse_args()
    curl = shutil.which("curl")
    if curl is None:
        raise SystemExit("curl is not installed")

    import qwenvid

    compileall.compile_dir(str(Path(qwenvid.__file__).parent), quiet=1)  # what an installed copy has
    emulator, base_url = start_emulator(args.bytes)
    work = Path(tempfile.mkdtemp(prefix="qwenvid-bench-", dir=args.dir or "."))
    figures: dict[str, list[float]] = {"curl+sync": [], "curl": [], "fetch": [], "library": []}
    rss: dict[str, float] = {"fetch": 0.0, "library": 0.0}
    try:
        url = finished_video_url(base_url)
        task_id = url.split("/__results/")[1].split(".mp4")[0]
        env = {**os.environ, "QWEN_BASE_URL": base_url, "DASHSCOPE_API_KEY": KEY,
               "QWENVID_HOME": str(work / "home"), "NO_COLOR": "1"}
        for round_no in range(1, args.rounds + 1):
            target = work / "curl.bin"
            with_sync = timed([curl, "-s", "-o", str(target), url], "curl") + timed(["sync"])
            target.unlink()
            plain = timed([curl, "-s", "-o", str(target), url])
            target.unlink()
            subprocess.run(["sync"], check=True)

            # Alternate which of the two goes first, so neither always follows curl's writes.
            if round_no % 2:
                wall = fetch_once(work / f"fetch-{round_no}", task_id, env, rss)
                library = library_once(work / f"library-{round_no}", url, rss)
            else:
                library = library_once(work / f"library-{round_no}", url, rss)
                wall = fetch_once(work / f"fetch-{round_no}", task_id, env, rss)

            for name, seconds in (("curl+sync", with_sync), ("curl", plain), ("fetch", wall), ("library", library)):
                figures[name].append(seconds)
            print(f"round {round_no}: " + "  ".join(
                f"{name} {args.bytes / seconds / MIB:.0f} MiB/s ({seconds:.2f} s)" for name, seconds in
                (("curl+sync", with_sync), ("curl", plain), ("fetch", wall), ("library", library))
            ), flush=True)
    finally:
        emulator.send_signal(__import__("signal").SIGINT)
        emulator.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)

    speed = {name: args.bytes / statistics.median(values) / MIB for name, values in figures.items()}
    ratio = speed["fetch"] / speed["curl+sync"]
    print(f"\nmedian of {args.rounds} rounds, {args.bytes:,} bytes (2 shared cores: noisy; compare side by side)")
    for name in ("curl+sync", "curl", "fetch", "library"):
        print(f"  {name:<10} {speed[name]:7.0f} MiB/s")
    print(f"  qwenvid fetch / (curl -o + sync)   {ratio:.2f}  (goal >= 0.90)")
    print(f"  library       / (curl -o + sync)   {speed['library'] / speed['curl+sync']:.2f}")
    print("  CPU seconds per run (user + system, median): " + ", ".join(
        f"{name} {statistics.median(values):.2f}" for name, values in CPU.items()))
    print(f"  peak RSS: fetch {rss['fetch']:.0f} MB, library {rss['library']:.0f} MB  (goal < 100 MB)")
    ok = ratio >= 0.9 and max(rss.values()) < 100
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
