"""Overall deadlines for HTTP requests and whole commands, enforced on every socket read and write.

httpx's timeouts apply to each network operation, so a server that trickles one byte every few
seconds keeps a request alive forever. Here a deadline is an absolute moment (time.monotonic) kept in
a context variable; `bounded(seconds)` narrows it for the code inside (a request, a command), and the
network backend that `bounded_transport()` installs clamps every connect, read and write to what is
left, raising httpx's own timeout exceptions once it has passed. Callers therefore keep their usual
error handling: a deadline during connect is a ConnectTimeout (nothing was sent), during a read a
ReadTimeout (the request may have arrived).

    with bounded(30):                       # the whole command: `--timeout 30`
        with bounded(60):                   # one request: still ends at the 30 s of the command
            client.get(...)

Threads do not inherit the command deadline (context variables stay in their thread unless copied
with contextvars.copy_context()); per-request deadlines are set in the thread that sends, so they
always apply.
"""

from __future__ import annotations

import contextvars
import functools
import ssl
import time
import typing
from collections.abc import Iterator
from contextlib import contextmanager

import httpcore
import httpx

# Bigger reads than httpcore's 64 KiB mean fewer trips through the Python HTTP stack per GiB, but
# measured, 256 KiB and 1 MiB reads cost more system time: a buffer above glibc's 128 KiB mmap
# threshold is mapped, faulted in and unmapped on every read. Just under it is the sweet spot.
READ_SIZE = 120 << 10
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("qwenvid_deadline", default=None)


def deadline() -> float | None:
    """The current absolute deadline (time.monotonic seconds), or None when nothing bounds this code."""
    return _DEADLINE.get()


def remaining() -> float | None:
    """Seconds left before the current deadline (never negative), or None when unbounded."""
    at = _DEADLINE.get()
    return None if at is None else max(0.0, at - time.monotonic())


def expired() -> bool:
    at = _DEADLINE.get()
    return at is not None and time.monotonic() >= at


@contextmanager
def bounded(seconds: float | None) -> Iterator[float | None]:
    """Run the block under a deadline `seconds` from now (never later than an enclosing one); None: unchanged."""
    current = _DEADLINE.get()
    if seconds is None:
        yield current
        return
    at = time.monotonic() + max(0.0, seconds)
    if current is not None:
        at = min(at, current)
    token = _DEADLINE.set(at)
    try:
        yield at
    finally:
        _DEADLINE.reset(token)


@contextmanager
def shielded(seconds: float) -> Iterator[float]:
    """Run the block under its own deadline, `seconds` from now, whatever encloses it.

    For the one request that must not be cut short by a command's deadline: a submit stopped after it
    was sent leaves a task that may exist and be billed without its id, which is worse than a command
    that ends a little after its --timeout."""
    token = _DEADLINE.set(time.monotonic() + max(0.0, seconds))
    try:
        yield time.monotonic() + seconds
    finally:
        _DEADLINE.reset(token)


def clamp(timeout: float | None) -> float | None:
    """`timeout` shortened to the time left before the deadline."""
    left = remaining()
    if left is None:
        return timeout
    return left if timeout is None else min(timeout, left)


def _left_or_raise(timeout: float | None, error: type[Exception], what: str) -> float | None:
    clamped = clamp(timeout)
    if clamped is not None and clamped <= 0:
        raise error(_passed(what))
    return clamped


def _passed(what: str) -> str:
    return f"the overall deadline passed before the {what} finished"


@contextmanager
def _named(error: type[Exception], what: str) -> Iterator[None]:
    """A timeout caused by the deadline says so (the socket's own message is only "timed out")."""
    try:
        yield
    except error:
        if expired():
            raise error(_passed(what)) from None
        raise


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every operation ends at the current deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        left = _left_or_raise(timeout, httpcore.ReadTimeout, "answer")
        with _named(httpcore.ReadTimeout, "answer"):
            return self._inner.read(max(max_bytes, READ_SIZE), left)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # A write may take several sends; each is clamped by the inner stream to `left`, and a server
        # that accepts a byte at a time is stopped by the per-send timeout shrinking with the deadline.
        view = memoryview(buffer)
        step = 1 << 16
        for start in range(0, len(view), step):
            left = _left_or_raise(timeout, httpcore.WriteTimeout, "request")
            with _named(httpcore.WriteTimeout, "request"):
                self._inner.write(bytes(view[start : start + step]), left)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        left = _left_or_raise(timeout, httpcore.ConnectTimeout, "TLS handshake")
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network backend with every connection wrapped in a `_DeadlineStream`."""

    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[typing.Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = _left_or_raise(timeout, httpcore.ConnectTimeout, "connection")
        with _named(httpcore.ConnectTimeout, "connection"):
            return _DeadlineStream(self._inner.connect_tcp(host, port, left, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: typing.Iterable[typing.Any] | None = None
    ) -> httpcore.NetworkStream:
        left = _left_or_raise(timeout, httpcore.ConnectTimeout, "connection")
        return _DeadlineStream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """httpx's default (certifi) TLS context, built once per process and shared by every transport.

    Loading the CA bundle costs ~80 ms of CPU; a command opens up to three clients (queries, submits,
    downloads), and an SSLContext is safe to share between connections and threads."""
    return httpx.create_ssl_context()


def bounded_transport(**options: typing.Any) -> httpx.HTTPTransport:
    """An httpx.HTTPTransport (same options) whose connections honour the current deadline.

    httpx has no public hook for httpcore's network backend, so the pool's backend is wrapped after
    construction; should a future httpcore rename it, the transport still works, only without the
    socket-level deadline (the body-reading loops still check it between chunks).
    """
    if not {"verify", "cert", "trust_env"} & options.keys():
        options["verify"] = _default_ssl_context()
    transport = httpx.HTTPTransport(**options)
    pool = getattr(transport, "_pool", None)
    inner = getattr(pool, "_network_backend", None)
    if isinstance(inner, httpcore.NetworkBackend):
        pool._network_backend = _DeadlineBackend(inner)  # type: ignore[union-attr]
    return transport


__all__ = ["bounded", "bounded_transport", "clamp", "deadline", "expired", "remaining", "shielded"]
