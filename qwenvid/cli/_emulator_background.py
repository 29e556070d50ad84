"""`qwenvid emulator --background` and `qwenvid emulator stop [URL]`: an emulator server as a child process.

The child is `python -m qwenvid emulator ...` in its own session, with its own stdout pipe (so that
`URL=$(qwenvid emulator --background --port 0)` returns: nothing of the server holds the shell's pipe),
its stderr in a log file, and a record `$QWENVID_HOME/emulators/PORT.json` that `stop` reads.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from qwenvid.errors import ExitCode, QwenvidError, UsageError

START_SECONDS = 60.0  # a cold start on a loaded 2-core machine takes a few seconds; more means it failed
STOP_SECONDS = 10.0


@dataclass(frozen=True)
class Background:
    """A background emulator this state folder started."""

    base_url: str
    pid: int
    log: str
    record: Path

    def to_json(self) -> dict[str, object]:
        return {"base_url": self.base_url, "pid": self.pid, "log": self.log}


def registry(home: Path) -> Path:
    return home / "emulators"


def start(args: list[str], home: Path, *, timeout: float = START_SECONDS) -> Background:
    """Start `qwenvid emulator ARGS` in the background; return once it answers HTTP at its base URL."""
    folder = registry(home)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path = folder / f"starting-{os.getpid()}.log"
    with open(log_path, "ab") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "qwenvid", "emulator", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=log,
            start_new_session=True,  # Ctrl-C in the shell that started it does not stop it; `stop` does
            close_fds=True,
        )
    assert child.stdout is not None
    try:
        line = _first_line(child, timeout)
        base_url = line.strip()
        if not base_url.startswith("http"):
            raise _failed(child, log_path, f"it printed {line.strip()!r} instead of its URL")
        _wait_serving(base_url, child, log_path, deadline=time.monotonic() + timeout)
    except BaseException:
        if child.poll() is None:
            child.terminate()
        raise
    finally:
        child.stdout.close()  # nothing more comes on it; the child never writes to stdout again
    port = urlsplit(base_url).port or 0
    final_log = folder / f"{port}.log"
    os.replace(log_path, final_log)  # the child keeps writing to the same open file
    record = folder / f"{port}.json"
    record.write_text(json.dumps({"base_url": base_url, "pid": child.pid, "log": str(final_log)}) + "\n")
    return Background(base_url, child.pid, str(final_log), record)


def _first_line(child: subprocess.Popen[bytes], timeout: float) -> str:
    assert child.stdout is not None
    deadline = time.monotonic() + timeout
    buffer = b""
    fd = child.stdout.fileno()
    while b"\n" not in buffer:
        left = deadline - time.monotonic()
        if left <= 0:
            raise QwenvidError(f"The emulator did not start within {timeout:g} s.", hint="See its log (state folder).")
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:  # it exited before printing its URL (port taken, bad option)
                child.wait(timeout=5)
                break
            buffer += chunk
    return buffer.split(b"\n", 1)[0].decode("utf-8", "replace")


def _failed(child: subprocess.Popen[bytes], log_path: Path, why: str) -> QwenvidError:
    try:
        said = [line for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    except OSError:
        said = []
    error = next((line[len("Error: ") :] for line in said if line.startswith("Error: ")), None)
    hint = next((line[len("Hint: ") :] for line in said if line.startswith("Hint: ")), None)
    code = child.poll()
    if error is not None:
        failure = QwenvidError(f"The emulator did not start: {error}", hint=hint)
        if code in {int(item) for item in ExitCode} and code:
            failure.exit_code = ExitCode(code)  # the child's own (2 for a port that is taken)
        return failure
    return QwenvidError(f"The emulator did not start: {why}.", hint=f"See its log: {log_path}.")


def _wait_serving(base_url: str, child: subprocess.Popen[bytes], log_path: Path, *, deadline: float) -> None:
    """Until the server answers HTTP (any status): the URL line comes out just before it serves."""
    probe = base_url.rstrip("/") + "/tasks/qwenvid-background-probe"
    while True:
        try:
            urllib.request.urlopen(probe, timeout=2).close()  # noqa: S310 - our own loopback (or chosen) server
            return
        except urllib.error.HTTPError:
            return  # an HTTP answer of any kind: it serves
        except (urllib.error.URLError, OSError):
            if child.poll() is not None:
                raise _failed(child, log_path, f"it exited with code {child.returncode}") from None
            if time.monotonic() > deadline:
                failure = QwenvidError(f"The emulator at {base_url} did not answer in time.", hint=f"See {log_path}.")
                raise failure from None
            time.sleep(0.05)


def recorded(home: Path) -> list[Background]:
    """Every background emulator this state folder has a record of (running or not)."""
    found = []
    for record in sorted(registry(home).glob("*.json")):
        try:
            data = json.loads(record.read_text(encoding="utf-8"))
            found.append(Background(str(data["base_url"]), int(data["pid"]), str(data.get("log", "")), record))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return found


def _same_server(a: str, b: str) -> bool:
    one, two = urlsplit(a.rstrip("/")), urlsplit(b.rstrip("/"))
    hosts = {"localhost", "127.0.0.1", "::1"}
    same_host = one.hostname == two.hostname or {one.hostname, two.hostname} <= hosts
    return same_host and one.port == two.port


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.exists():  # a pid reused by another program is not ours to stop
        try:
            return b"qwenvid" in cmdline.read_bytes()
        except OSError:
            return True
    return True


def stop(home: Path, url: str | None, *, say: Callable[[str], None]) -> list[Background]:
    """Stop the background emulator at `url` (every one this state folder started when None)."""
    servers = recorded(home)
    if url is not None:
        servers = [server for server in servers if _same_server(server.base_url, url)]
        if not servers:
            raise UsageError(
                f"No background emulator at {url} was started from this state folder ({registry(home)}).",
                hint="`qwenvid emulator stop` with no URL stops every one it started; a foreground one stops with "
                "Ctrl-C.",
            )
    stopped = []
    for server in servers:
        if alive(server.pid):
            os.kill(server.pid, signal.SIGTERM)  # it removes its temporary files on SIGTERM
            deadline = time.monotonic() + STOP_SECONDS
            while alive(server.pid) and time.monotonic() < deadline:
                _reap(server.pid)
                time.sleep(0.05)
            if alive(server.pid):
                os.kill(server.pid, signal.SIGKILL)
            say(f"Stopped the emulator at {server.base_url} (pid {server.pid}).")
        else:
            say(f"The emulator at {server.base_url} was not running any more.")
        server.record.unlink(missing_ok=True)
        stopped.append(server)
    if not servers:
        say("No background emulator is running from this state folder.")
    return stopped


def _reap(pid: int) -> None:
    """Collect the exit of a child of this very process (tests start and stop in one); others are not ours."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
