"""Running the emulator: `serve()` for `qwenvid emulator`, `EmulatorThread` for tests and `--emulator`."""

from __future__ import annotations

import ipaddress
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any, TextIO

import uvicorn

from qwenvid.emulator.app import API, create_app
from qwenvid.emulator.config import Clock, EmulatorConfig, ManualClock
from qwenvid.emulator.faults import Fault
from qwenvid.emulator.state import EmulatorState

STARTUP_TIMEOUT = 10.0


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto is IPPROTO_TCP,
    # and without it every response waits ~40 ms for a delayed ACK between headers and body.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{API}"


def _uvicorn_config(app: Any, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=2,
        server_header=False,
        date_header=False,  # the app sets Date from the emulator's own clock (emulator/date_header.py)
    )


def _app(state: EmulatorState, request_log: Callable[[str], None] | None) -> Any:
    from qwenvid.emulator.date_header import DateHeader

    app: Any = DateHeader(create_app(state=state), state.now)
    if request_log is not None:
        from qwenvid.emulator.request_log import RequestLog

        app = RequestLog(app, request_log)
    return app


def exposure_warning(host: str) -> str | None:
    """What to tell the user when the emulator listens beyond this machine; None on loopback."""
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = host.lower() == "localhost"
    if loopback:
        return None
    return (
        f"WARNING: the emulator listens on {host}, so anyone who can reach this machine can use it: it accepts "
        "any API key (unless --api-key is given), and its control endpoints (/__emulator/faults, /clock) have "
        "no authentication. Use --host 127.0.0.1 unless that is what you want."
    )


class Terminated(SystemExit):
    """SIGTERM, turned into an exception so the temporary folders are removed on the way out."""


@contextmanager
def _sigterm_cleans_up() -> Iterator[None]:
    """Make SIGTERM unwind like Ctrl-C does (uvicorn stops, then re-raises the signal it caught)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise Terminated(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    config: EmulatorConfig | None = None,
    *,
    clock: Clock | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    log_level: str = "warning",
    request_log: Callable[[str], None] | None = None,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Serve the emulator until interrupted or terminated; the first line on stdout is the base URL (real
    port if 0). Its temporary folders (uploads, results) are removed on SIGINT and SIGTERM alike.

    `on_listening(base_url)` runs once that line is out (the CLI prints how to use the emulator);
    `request_log(line)` gets one line per answered request (see request_log.py).
    """
    warning = exposure_warning(host)
    if warning:
        (err or sys.stderr).write(warning + "\n")
        (err or sys.stderr).flush()
    sock = _bind(host, port)
    state = EmulatorState(config, clock)
    stream = out or sys.stdout
    try:
        with _sigterm_cleans_up():
            base_url = _base_url(host, sock.getsockname()[1])
            stream.write(base_url + "\n")
            stream.flush()
            if on_listening is not None:
                on_listening(base_url)
            uvicorn.Server(_uvicorn_config(_app(state, request_log), log_level)).run(sockets=[sock])
    finally:
        sock.close()
        state.close()


class EmulatorThread:
    """The emulator on a free loopback port in a daemon thread, as a context manager.

    with EmulatorThread(EmulatorConfig(), clock=ManualClock()) as emu:
        emu.base_url      # "http://127.0.0.1:PORT/api/v1"
        emu.state         # EmulatorState: task_count(), tasks, wait_rendered()
        emu.arm("5xx:query:2")
    """

    def __init__(self, config: EmulatorConfig | None = None, clock: Clock | None = None,
                 host: str = "127.0.0.1", log_level: str = "error",
                 request_log: Callable[[str], None] | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.state = EmulatorState(self.config, clock)
        self.host = host
        self._log_level = log_level
        self._request_log = request_log
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.port = 0

    @property
    def clock(self) -> Clock:
        return self.state.clock

    @property
    def manual_clock(self) -> ManualClock:
        """The clock as a ManualClock (tests); TypeError when the emulator runs on real time."""
        if not isinstance(self.state.clock, ManualClock):
            raise TypeError("this emulator runs on the system clock")
        return self.state.clock

    @property
    def root_url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"

    @property
    def base_url(self) -> str:
        return _base_url(self.host, self.port)

    def arm(self, fault: Fault | str) -> Fault:
        """Arm a fault (a spec string such as 'throttle:submit:2', or a Fault)."""
        return self.state.faults.arm(fault)

    def start(self) -> EmulatorThread:
        self._sock = _bind(self.host, 0)
        self.port = self._sock.getsockname()[1]
        self._server = uvicorn.Server(_uvicorn_config(_app(self.state, self._request_log), self._log_level))
        self._thread = threading.Thread(target=self._serve, args=(self._server, self._sock),
                                        name=f"qwenvid-emulator-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the emulator did not start")
            time.sleep(0.005)
        return self

    @staticmethod
    def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
        try:
            server.run(sockets=[sock])
        finally:
            sock.close()  # the thread releases its own socket, so stop(wait=False) leaves nothing open

    def stop(self, wait: bool = True) -> None:
        """Stop serving. `wait=False` returns at once (the server needs ~0.2 s to wind down): call `join()`."""
        if self._server is not None:
            self._server.should_exit = True
        self.state.close(wait=wait)
        if wait:
            self.join()

    def join(self, timeout: float = 5.0) -> None:
        """Wait until the server thread has ended and release the socket."""
        if self._thread is not None:
            self._thread.join(timeout=timeout)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    def __enter__(self) -> EmulatorThread:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()
