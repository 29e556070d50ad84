"""A hostile HTTP/1.1 server on loopback: raw sockets, so it can trickle, cut, lie and redirect at will.

    with HostileServer() as server:
        server.route("/api/v1/tasks/", lambda ex: ex.trickle(json_head(1000), b"{" * 1000, every=0.1))
        server.url("/api/v1")         # "http://127.0.0.1:PORT/api/v1"
        server.hits                   # [(method, path, headers), ...] in arrival order

A handler gets an `Exchange` (the parsed request and the socket) and writes whatever it likes; the
connection is closed when the handler returns. Handlers that trickle stop when the server stops.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[["Exchange"], None]


@dataclass
class Exchange:
    method: str
    path: str
    headers: dict[str, str]
    sock: socket.socket
    stopping: threading.Event

    def send(self, data: bytes) -> bool:
        """Send, returning False once the client has gone."""
        try:
            self.sock.sendall(data)
        except OSError:
            return False
        return True

    def answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send(head(status, {"Content-Length": str(len(body)), **(headers or {})}) + body)

    def json(self, body: Any, status: int = 200) -> None:
        self.answer(status, json.dumps(body).encode(), {"Content-Type": "application/json"})

    def trickle(self, first: bytes, then: bytes, every: float = 0.1) -> None:
        """Send `first` at once, then `then` one byte every `every` seconds (until the client goes)."""
        if not self.send(first):
            return
        for byte in then:
            if self.stopping.wait(every) or not self.send(bytes([byte])):
                return

    def hold(self, seconds: float = 60.0) -> None:
        """Keep the connection open without sending anything."""
        self.stopping.wait(seconds)

    @property
    def range_start(self) -> int:
        value = self.headers.get("range", "")
        return int(value.removeprefix("bytes=").split("-")[0]) if value.startswith("bytes=") else 0


def head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{name}: {value}" for name, value in headers.items()]
    lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def serve_file(ex: Exchange, data: bytes, *, stop_after: int | None = None, hang: bool = False) -> None:
    """Serve `data` honouring `Range: bytes=N-`; optionally send only up to byte `stop_after` of the
    file, then close (or hang with `hang`)."""
    start = ex.range_start
    if start and start >= len(data):
        ex.answer(416, b"", {"Content-Range": f"bytes */{len(data)}"})
        return
    piece = data[start:]
    headers = {"Content-Length": str(len(piece)), "Content-Type": "video/mp4"}
    status = 200
    if start:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
    sent = piece if stop_after is None else piece[: max(0, stop_after - start)]
    ex.send(head(status, headers) + sent)
    if hang:
        ex.hold()


@dataclass
class HostileServer:
    routes: list[tuple[str, Handler]] = field(default_factory=list)
    hits: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    port: int = 0
    # With a server-side TLS context the server speaks https (certificates from trustme in tests).
    tls: ssl.SSLContext | None = None

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._sock: socket.socket | None = None

    def route(self, prefix: str, handler: Handler) -> None:
        """Serve paths starting with `prefix` with `handler` (the latest matching route wins)."""
        self.routes.insert(0, (prefix, handler))

    def url(self, path: str = "") -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def count(self, prefix: str) -> int:
        return sum(1 for _, path, _ in self.hits if path.startswith(prefix))

    def __enter__(self) -> HostileServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        self._sock, self.port = sock, sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        if self._sock is not None:
            self._sock.close()

    def _accept(self) -> None:
        assert self._sock is not None
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        if self.tls is not None:
            try:
                conn = self.tls.wrap_socket(conn, server_side=True)
            except (OSError, ssl.SSLError):
                conn.close()
                return
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            header_text, _, rest = data.partition(b"\r\n\r\n")
            request_line, *lines = header_text.decode("latin-1").split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0") or 0)
            while len(rest) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                rest += chunk
            path = target.split("?", 1)[0]
            self.hits.append((method, path, headers))
            exchange = Exchange(method, path, headers, conn, self._stopping)
            for prefix, handler in self.routes:
                if path.startswith(prefix):
                    handler(exchange)
                    return
            exchange.answer(404, b"not here")
