"""Wall time of `qwenvid --help` against a bare Typer app with the same command names (goal: ratio <= 1.2).

Run: python tests/benchmarks/bench_help_startup.py [ROUNDS]
Both are started the same way (a fresh interpreter, `-m`/script, `--help`) and measured alternately in one
run, so machine load affects both alike. The median of each is compared.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = "t2v i2v kf2v r2v vace generate status fetch cancel tasks resume models doctor emulator wizard".split()

BARE_APP = '''
import typer

app = typer.Typer(help="Bare app with the same command names.")

def make(name: str):
    def command(prompt: str = typer.Argument("", help="prompt")) -> None:
        """A command."""
    command.__name__ = name
    return command

for name in {names!r}:
    app.command(name)(make(name))

if __name__ == "__main__":
    app()
'''


def wall_time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main(rounds: int = 15) -> float:
    with tempfile.TemporaryDirectory() as folder:
        bare = Path(folder) / "bare_app.py"
        bare.write_text(BARE_APP.format(names=COMMANDS), encoding="utf-8")
        ours = [sys.executable, "-m", "qwenvid", "--help"]
        theirs = [sys.executable, str(bare), "--help"]
        wall_time(ours), wall_time(theirs)  # warm the file cache for both
        ours_times, bare_times = [], []
        for _ in range(rounds):
            ours_times.append(wall_time(ours))
            bare_times.append(wall_time(theirs))
    ours_median, bare_median = statistics.median(ours_times), statistics.median(bare_times)
    ratio = ours_median / bare_median
    print(f"qwenvid --help: {ours_median * 1000:.0f} ms (median of {rounds})")
    print(f"bare Typer app: {bare_median * 1000:.0f} ms (median of {rounds})")
    print(f"ratio: {ratio:.2f} (goal <= 1.2)")
    return ratio


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)
