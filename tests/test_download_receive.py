"""The download's receive path: the body read from the connection's own socket (plain or TLS) into reusable
buffers, handed to the writer whole or when the line goes quiet (qwenvid/wire/download.py `_received_into`).

Real sockets on loopback (tests/support/hostile.py), a real https server with a trustme certificate.
"""

from __future__ import annotations

import hashlib
import os
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trustme

from qwenvid.wire import download
from qwenvid.wire.deadlines import bounded_transport
from qwenvid.wire.download import download_video
from tests.support.hostile import Exchange, HostileServer, head, serve_file
from tests.support.videos import make_mp4


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real MP4 padded with a trailing `free` box to over 5 MiB: many buffers' worth."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    make_mp4(path, seconds=1.0)
    clip = path.read_bytes()
    pad = 5 << 20
    return clip + pad.to_bytes(4, "big") + b"free" + os.urandom(pad - 8)


@pytest.fixture
def spied(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The sockets the fast receive path read from (the real function runs)."""
    seen: list[Any] = []
    real = download._received_into

    def spy(sock: Any, *args: Any) -> Iterator[memoryview]:
        seen.append(sock)
        return real(sock, *args)

    monkeypatch.setattr(download, "_received_into", spy)
    return seen


def test_a_body_many_times_the_buffers_arrives_whole_through_reused_buffers(
    big: bytes, tmp_path: Path, spied: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download, "RECEIVE_BUFFERS", 3)  # 3 x 256 KiB for 5 MiB: every buffer is reused
    taken: list[int] = []
    real_take = download._Buffers.take

    def take(self: Any, writer: Any) -> bytearray:
        buffer = real_take(self, writer)
        taken.append(id(buffer))
        return buffer

    monkeypatch.setattr(download._Buffers, "take", take)
    with HostileServer() as server, httpx.Client(transport=bounded_transport()) as http:
        server.route("/r/", lambda ex: serve_file(ex, big))
        result = download_video(server.url("/r/v.mp4"), tmp_path, http=http, name_hint="v")
    assert result.path.read_bytes() == big and result.sha256 == hashlib.sha256(big).hexdigest()
    assert len(spied) == 1 and len(set(taken)) <= 3 and len(taken) >= len(big) // download.RECEIVE_BUFFER


def test_an_https_body_is_received_from_the_tls_socket(big: bytes, tmp_path: Path, spied: list[Any]) -> None:
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    with HostileServer(tls=server_context) as server, httpx.Client(
        transport=bounded_transport(verify=client_context)
    ) as http:
        server.route("/r/", lambda ex: serve_file(ex, big))
        result = download_video(server.url("/r/v.mp4"), tmp_path, http=http, name_hint="v")
    assert result.path.read_bytes() == big
    assert [type(sock).__name__ for sock in spied] == ["SSLSocket"]


def test_what_arrived_before_the_line_went_quiet_is_on_disk_while_it_waits(big: bytes, tmp_path: Path) -> None:
    """A pause mid-buffer: the bytes before it are written at once, not held until the buffer fills."""
    resume = threading.Event()
    sizes: list[int] = []

    def pause_then_rest(ex: Exchange) -> None:
        ex.send(head(200, {"Content-Length": str(len(big)), "Content-Type": "video/mp4"}) + big[:1000])
        time.sleep(0.05)
        ex.send(big[1000:50_000])  # well under one buffer
        resume.wait(10)
        ex.send(big[50_000:])

    def watch() -> None:
        part = tmp_path / "v.mp4.part"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if part.exists() and part.stat().st_size >= 50_000:
                break
            time.sleep(0.02)
        sizes.append(part.stat().st_size if part.exists() else 0)
        resume.set()

    with HostileServer() as server, httpx.Client(transport=bounded_transport()) as http:
        server.route("/r/", pause_then_rest)
        watcher = threading.Thread(target=watch)
        watcher.start()
        result = download_video(server.url("/r/v.mp4"), tmp_path, http=http, name_hint="v")
        watcher.join()
    assert sizes == [50_000]
    assert result.path.read_bytes() == big
