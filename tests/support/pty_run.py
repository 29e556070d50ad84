"""Run the real console script in a pseudo-terminal of a chosen size and collect what it draws (stdlib only)."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import shutil
import struct
import subprocess
import termios
import time
from dataclasses import dataclass
from pathlib import Path

QWENVID = shutil.which("qwenvid") or str(Path(__file__).resolve().parents[2] / ".venv" / "bin" / "qwenvid")


@dataclass
class TerminalRun:
    returncode: int
    output: str  # everything written to the terminal (stdout and stderr), \r\n turned into \n

    @property
    def lines(self) -> list[str]:
        return self.output.split("\n")


def run_in_terminal(
    args: list[str], *, columns: int = 120, rows: int = 40, env: dict[str, str] | None = None, timeout: float = 60
) -> TerminalRun:
    """`qwenvid ARGS` with stdin, stdout and stderr on a pty of `columns` x `rows`."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    full_env = {**os.environ, **(env or {}), "COLUMNS": str(columns), "LINES": str(rows), "TERM": "xterm"}
    process = subprocess.Popen(
        [QWENVID, *args], stdin=follower, stdout=follower, stderr=follower, env=full_env, close_fds=True
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the follower side closed: the process is done writing
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    os.close(leader)
    returncode = process.wait(timeout=max(deadline - time.monotonic(), 1))
    return TerminalRun(returncode, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n"))
