"""A real pseudo-terminal for the console script (pexpect), and the screen a person would see there (pyte)."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pexpect
import pyte

ROWS, COLUMNS = 40, 120
# Colour, cursor and title sequences: what `text` leaves out so a test can look for words in the stream.
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[@-Z\\-_=>]")


def qwenvid_argv() -> list[str]:
    """The console script of this environment, else `python -m qwenvid`."""
    beside = Path(sys.executable).with_name("qwenvid")
    script = str(beside) if beside.exists() else shutil.which("qwenvid")
    return [script] if script else [sys.executable, "-m", "qwenvid"]


class Terminal:
    """`qwenvid ARGS` in a pseudo-terminal (120x40 unless told); `screen()` is what is drawn on it right now.

    Two ways to wait: `wait_for` looks at the rendered screen (what a person sees now), `expect` at the stream
    of words written so far, in order (for text that scrolled away or was redrawn).
    """

    def __init__(
        self,
        *args: str,
        env: Mapping[str, str],
        cwd: Path,
        columns: int = COLUMNS,
        rows: int = ROWS,
        stdout: Path | None = None,
    ) -> None:
        argv = qwenvid_argv()
        if stdout is not None:
            # stdout to a file, stdin and stderr on the terminal: what `qwenvid ... > out.txt` does in a shell.
            argv = ["/bin/sh", "-c", 'out="$1"; shift; exec "$@" > "$out"', "sh", str(stdout), *argv]
        environment = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "LINES")}
        # pyte draws but does not answer cursor-position requests; tell prompt_toolkit not to ask.
        environment |= {"TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1", **env}
        # A history screen keeps what scrolled off the top: the scrollback a person can scroll back to.
        self.screen_ = pyte.HistoryScreen(columns, rows, history=10_000)
        self.stream = pyte.ByteStream(self.screen_)
        self.child = pexpect.spawn(
            argv[0], [*argv[1:], *args], env=environment, cwd=str(cwd), dimensions=(rows, columns), timeout=30
        )
        self.raw = b""
        self.mark = 0  # how far into `text` the last `expect` matched

    def pump(self, seconds: float = 0.05) -> bool:
        """Read whatever the program drew in the next `seconds` onto the screen; False once it closed the terminal."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                data = self.child.read_nonblocking(65536, timeout=max(0.0, deadline - time.monotonic()))
            except pexpect.TIMEOUT:
                return True
            except pexpect.EOF:
                return False
            self.raw += data
            self.stream.feed(data)
            if time.monotonic() >= deadline:
                return True

    @property
    def output(self) -> str:
        """Everything written to the terminal so far, escapes and all, with \\r\\n turned into \\n."""
        return self.raw.decode("utf-8", "replace").replace("\r\n", "\n")

    @property
    def text(self) -> str:
        """`output` without colour and cursor escapes."""
        return ESCAPES.sub("", self.output)

    def screen(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen_.display)

    def scrollback(self) -> list[str]:
        """Every line a person can see now or scroll back to: the history above the screen, then the screen."""
        columns = self.screen_.columns
        above = ["".join(row[x].data for x in range(columns)).rstrip() for row in self.screen_.history.top]
        return [*above, *(line.rstrip() for line in self.screen_.display)]

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

    def expect(self, *wanted: str, timeout: float = 60) -> str:
        """Wait for the first of `wanted` to be written after the last match; return which one."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.text
            found = [(text.index(w, self.mark), w) for w in wanted if w in text[self.mark :]]
            if found:
                at, word = min(found)
                self.mark = at + len(word)
                return word
            left = deadline - time.monotonic()
            if left <= 0 or not self.pump(min(0.1, left)):
                if any(w in self.text[self.mark :] for w in wanted):
                    continue  # the last of it came with the end of the program
                raise AssertionError(f"never saw {wanted!r}; the terminal ends with:\n{self.text[-1500:]}")

    def type(self, keys: str) -> None:
        self.child.send(keys)

    def interrupt(self) -> None:
        self.child.sendintr()

    def finish(self, timeout: float = 60) -> int:
        """Read until the program exits and closes the terminal; its exit code (128+N for a signal N)."""
        deadline = time.monotonic() + timeout
        while self.pump(0.1) and self.child.isalive() and time.monotonic() < deadline:
            pass
        grace = time.monotonic() + 1  # what it wrote just before exiting (a child of its own may keep the pty open)
        while self.pump(0.1) and time.monotonic() < grace:
            pass
        if self.child.isalive():
            self.child.close(force=True)
            raise AssertionError(f"still running after {timeout} s; the terminal ends with:\n{self.text[-1500:]}")
        self.child.close()
        if self.child.exitstatus is not None:
            return int(self.child.exitstatus)
        return 128 + int(self.child.signalstatus or 0)


@dataclass
class TerminalRun:
    returncode: int
    output: str  # everything written to the terminal (stdout and stderr, escapes kept), \r\n turned into \n
    screen: str  # what the terminal shows at the end, as pyte renders it

    @property
    def lines(self) -> list[str]:
        return self.output.split("\n")


def run_in_terminal(
    args: Sequence[str],
    *,
    columns: int = COLUMNS,
    rows: int = ROWS,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 60,
    stdout: Path | None = None,
) -> TerminalRun:
    """`qwenvid ARGS` with stdin, stdout and stderr on a `columns` x `rows` pseudo-terminal, run to its end
    (stdout into the file `stdout` instead, when given)."""
    terminal = Terminal(*args, env=env or {}, cwd=cwd or Path.cwd(), columns=columns, rows=rows, stdout=stdout)
    returncode = terminal.finish(timeout)
    return TerminalRun(returncode, terminal.output, terminal.screen())
