"""Benchmark: time and peak RSS of a batch `--dry-run` as the batch grows (and of one over the step cap).

Run it as a script (pytest does not collect `bench_*.py`):

    python tests/benchmarks/bench_plan_size.py [--rows 1000 10000 100000] [--source CHECKOUT]

Each run is `python -m qwenvid --emulator run rows.jsonl --dry-run --json > /dev/null` in a fresh process
(its own ru_maxrss from wait4). `--source` runs another checkout's qwenvid (PYTHONPATH) for a before/after
comparison, e.g. `--source /work/main`. Rows are text-to-video requests in the skill's JSON shape.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_rows(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        for index in range(count):
            row = {
                "model": "wan2.1-t2v-turbo",
                "input": {"prompt": f"A kitten, take {index}"},
                "parameters": {"size": "832*480", "duration": 5},
            }
            out.write(json.dumps(row) + "\n")


def measure(batch: Path, source: str | None, home: Path) -> tuple[float, float, int]:
    """Seconds, peak RSS in MB and the exit code of one dry run."""
    env = {**os.environ, "QWENVID_HOME": str(home)}
    if source:
        env["PYTHONPATH"] = source
    started = time.perf_counter()
    with open(os.devnull, "w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "qwenvid", "--emulator", "run", str(batch), "--dry-run", "--json"],
            stdout=sink,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    return seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--source", help="a qwenvid checkout to run instead of the installed one")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        print(f"{'rows':>8} {'seconds':>8} {'peak MB':>8} {'exit':>5}")
        for count in args.rows:
            batch = root / f"rows-{count}.jsonl"
            write_rows(batch, count)
            seconds, peak, code = measure(batch, args.source, root / f"home-{count}")
            print(f"{count:>8} {seconds:>8.2f} {peak:>8.0f} {code:>5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
