"""A real pseudo-terminal for the console script (pexpect), and the screen a person would see there (pyte)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pexpect
import pyte

ROWS, COLUMNS = 40, 120


def qwenvid_argv() -> list[str]:
    """The console script of this environment, else `python -m qwenvid`."""
    beside = Path(sys.executable).with_name("qwenvid")
    script = str(beside) if beside.exists() else shutil.which("qwenvid")
    return [script] if script else [sys.executable, "-m", "qwenvid"]


class Terminal:
    """`qwenvid ARGS` in a 120x40 pseudo-terminal; `screen()` is what is drawn on it right now."""

    def __init__(self, *args: str, env: Mapping[str, str], cwd: Path) -> None:
        argv = qwenvid_argv()
        environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
        # pyte draws but does not answer cursor-position requests; tell prompt_toolkit not to ask.
        environment |= {"TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1", **env}
        self.screen_ = pyte.Screen(COLUMNS, ROWS)
        self.stream = pyte.ByteStream(self.screen_)
        self.child = pexpect.spawn(
            argv[0], [*argv[1:], *args], env=environment, cwd=str(cwd), dimensions=(ROWS, COLUMNS), timeout=30
        )
        self.raw = b""

    def pump(self, seconds: float = 0.05) -> None:
        """Read whatever the program drew in the next `seconds` onto the screen."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=max(0.0, deadline - time.monotonic()))
            except pexpect.TIMEOUT:
                return
            except pexpect.EOF:
                return
            self.raw += data
            self.stream.feed(data)
            if time.monotonic() >= deadline:
                return

    def screen(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen_.display)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """Wait until `text` is visible on the screen; return the screen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.1)
            if text in self.screen():
                return self.screen()
            if not self.child.isalive():
                self.pump(0.2)
                if text in self.screen():
                    return self.screen()
                break
        raise AssertionError(f"{text!r} never appeared on the screen:\n{self.screen()}")

    def type(self, keys: str) -> None:
        self.child.send(keys)

    def interrupt(self) -> None:
        self.child.sendintr()

    def finish(self, timeout: float = 60) -> int:
        """Read until the program exits; its exit code (128+N for a signal N)."""
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            self.pump(0.1)
        self.pump(0.2)
        self.child.close()
        if self.child.exitstatus is not None:
            return int(self.child.exitstatus)
        return 128 + int(self.child.signalstatus or 0)
