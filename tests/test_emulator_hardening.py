"""The emulator as a server someone else may talk to: bounded bodies, policy before spooling, safe controls."""

from __future__ import annotations

import base64
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from qwenvid.emulator.config import EmulatorConfig
from qwenvid.emulator.server import EmulatorThread, exposure_warning
from tests.support.emulator import CANARY_KEY, T2V_PATH, api_client

BOUNDARY = "qwenvidboundary"


def raw_exchange(port: int, head: bytes, chunks: list[bytes] | None = None, wait: float = 3.0) -> bytes:
    """Send `head`, then `chunks` one by one while watching for an early answer; return what came back.

    An answer that arrives before the body is complete proves the server judged the request without it.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head)
        for chunk in chunks or []:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except OSError:
                break
        answer = b""
        while True:  # until the whole answer (headers and the body they announce) is in, or the peer is gone
            readable, _, _ = select.select([sock], [], [], wait)
            if not readable:
                return answer
            try:
                data = sock.recv(65536)
            except OSError:
                return answer
            if not data:
                return answer
            answer += data
            head, sep, body = answer.partition(b"\r\n\r\n")
            length = [line.split(b":", 1)[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:")]
            if sep and length and len(body) >= int(length[0]):
                return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def policy_for(emulator: EmulatorThread, model: str = "wan2.6-i2v-flash") -> dict[str, Any]:
    with api_client(emulator) as client:
        data: dict[str, Any] = client.get("/uploads", params={"action": "getPolicy", "model": model}).json()["data"]
    return data


def form_head(policy: dict[str, Any], signature: str) -> bytes:
    fields = {
        "OSSAccessKeyId": policy["oss_access_key_id"],
        "Signature": signature,
        "policy": policy["policy"],
        "key": f"{policy['upload_dir']}/big.png",
        "success_action_status": "200",
    }
    parts = [f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n'
                 "Content-Type: image/png\r\n\r\n")
    return "".join(parts).encode()


def http_head(path: str, length: int | None, content_type: str, extra: str = "") -> bytes:
    size = f"Content-Length: {length}\r\n" if length is not None else "Transfer-Encoding: chunked\r\n"
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n{size}{extra}\r\n").encode()


# --------------------------------------------------------------------------- uploads


def test_a_forged_upload_is_refused_before_its_file_is_received(emulator: EmulatorThread) -> None:
    policy = policy_for(emulator)
    forged = base64.b64encode(b"\0" * 20).decode()
    body_start = form_head(policy, forged)
    size = len(body_start) + (64 << 20)
    head = http_head("/__oss", size, f"multipart/form-data; boundary={BOUNDARY}")

    answer = raw_exchange(emulator.port, head + body_start, [bytes(1 << 20)] * 4)

    assert status_of(answer) == 403 and b"SignatureDoesNotMatch" in answer, answer[:300]
    assert emulator.state.upload_count() == 0


def test_an_upload_larger_than_the_policy_allows_is_refused_unread(make_emulator: Any) -> None:
    emulator = make_emulator(EmulatorConfig(max_upload_mb=1))
    head = http_head("/__oss", 50 << 20, f"multipart/form-data; boundary={BOUNDARY}")

    answer = raw_exchange(emulator.port, head)

    assert status_of(answer) == 400 and b"EntityTooLarge" in answer


def test_a_streamed_upload_is_cut_at_the_policy_size(make_emulator: Any) -> None:
    emulator = make_emulator(EmulatorConfig(max_upload_mb=1))
    policy = policy_for(emulator)
    body_start = form_head(policy, policy["signature"])
    head = http_head("/__oss", len(body_start) + (8 << 20), f"multipart/form-data; boundary={BOUNDARY}")

    answer = raw_exchange(emulator.port, head + body_start, [bytes(256 << 10)] * 32)

    assert status_of(answer) == 400 and b"EntityTooLarge" in answer
    assert emulator.state.upload_count() == 0


# --------------------------------------------------------------------------- submit bodies


def test_a_huge_submit_body_is_refused_by_its_length(emulator: EmulatorThread) -> None:
    extra = f"Authorization: Bearer {CANARY_KEY}\r\nX-DashScope-Async: enable\r\n"
    head = http_head("/api/v1" + T2V_PATH, 2 << 30, "application/json", extra)

    answer = raw_exchange(emulator.port, head)

    assert status_of(answer) == 413 and b"RequestEntityTooLarge" in answer
    assert emulator.state.task_count() == 0


def test_a_streamed_submit_body_is_cut_at_the_cap(emulator: EmulatorThread) -> None:
    extra = f"Authorization: Bearer {CANARY_KEY}\r\nX-DashScope-Async: enable\r\n"
    head = http_head("/api/v1" + T2V_PATH, None, "application/json", extra)
    chunk = b"%x\r\n%s\r\n" % (1 << 20, b" " * (1 << 20))

    answer = raw_exchange(emulator.port, head, [chunk] * 48)

    assert status_of(answer) == 413
    assert emulator.state.task_count() == 0


# --------------------------------------------------------------------------- control endpoints


@pytest.mark.parametrize("path", ["/__emulator/faults", "/__emulator/clock", "/__emulator/wait-rendered"])
def test_malformed_control_json_is_a_400(emulator: EmulatorThread, path: str) -> None:
    response = httpx.post(emulator.root_url + path, content=b"{not json",
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and "error" in response.json()


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "5xx", "target": "query", "count": "abc"},
        {"kind": "5xx", "target": "query", "count": 1.5},
        {"kind": "5xx", "target": "query", "count": 0},
        {"kind": "slow", "target": "query", "seconds": "soon"},
        {"kind": "explode", "target": "query"},
        {"kind": "5xx", "target": "everything"},
        {"kind": "5xx", "target": "query", "colour": "red"},
    ],
)
def test_a_bad_fault_is_refused_at_the_endpoint_and_breaks_nothing(emulator: EmulatorThread,
                                                                   fault: dict[str, Any]) -> None:
    response = httpx.post(emulator.root_url + "/__emulator/faults", json=fault)

    assert response.status_code == 400, response.text
    assert emulator.state.faults.armed() == []
    with api_client(emulator) as client:
        assert client.get("/tasks/abc").status_code == 200


def test_cross_origin_and_simple_posts_to_controls_are_refused(emulator: EmulatorThread) -> None:
    spec = json.dumps({"spec": "5xx:query:*"})
    cross = httpx.post(emulator.root_url + "/__emulator/faults", content=spec,
                       headers={"Content-Type": "text/plain", "Origin": "http://evil.example"})
    rebound = httpx.post(emulator.root_url + "/__emulator/faults", content=spec,
                         headers={"Content-Type": "application/json", "Origin": "http://evil.example:1234"})
    simple = httpx.post(emulator.root_url + "/__emulator/faults", content=spec,
                        headers={"Content-Type": "text/plain"})

    assert (cross.status_code, rebound.status_code, simple.status_code) == (403, 403, 415)
    assert emulator.state.faults.armed() == []
    local = httpx.post(emulator.root_url + "/__emulator/faults", content=spec,
                       headers={"Content-Type": "application/json", "Origin": "http://localhost:3000"})
    assert local.status_code == 200 and len(emulator.state.faults.armed()) == 1


def test_the_host_header_is_not_reflected_into_urls(emulator: EmulatorThread) -> None:
    with api_client(emulator, Host="evil.example:80") as client:
        policy = client.get("/uploads", params={"action": "getPolicy", "model": "wan2.6-i2v-flash"}).json()["data"]
    assert policy["upload_host"] == emulator.root_url + "/__oss"


# --------------------------------------------------------------------------- serving


def test_loopback_is_quiet_and_anything_else_warns() -> None:
    assert exposure_warning("127.0.0.1") is None and exposure_warning("::1") is None
    assert exposure_warning("localhost") is None
    for host in ("0.0.0.0", "::", "192.168.1.20", "example.com"):
        warning = exposure_warning(host)
        assert warning is not None and "any API key" in warning and "no authentication" in warning


def test_sigterm_removes_the_uploads_folder_like_sigint(tmp_path: Path) -> None:
    """`qwenvid emulator --host 0.0.0.0`: it warns, takes an upload, and SIGTERM leaves no temporary folder."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "qwenvid", "emulator", "--host", "0.0.0.0", "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        base = process.stdout.readline().strip().replace("0.0.0.0", "127.0.0.1")
        assert base.startswith("http://127.0.0.1:"), base
        headers = {"Authorization": f"Bearer {CANARY_KEY}"}
        policy = httpx.get(base + "/uploads", params={"action": "getPolicy", "model": "wan2.6-i2v-flash"},
                           headers=headers, timeout=20).json()["data"]
        fields = {"OSSAccessKeyId": policy["oss_access_key_id"], "Signature": policy["signature"],
                  "policy": policy["policy"], "key": f"{policy['upload_dir']}/a.png", "success_action_status": "200"}
        uploaded = httpx.post(policy["upload_host"], data=fields, files={"file": ("a.png", b"png", "image/png")})
        assert uploaded.status_code == 200, uploaded.text
        assert list(temp.glob("qwenvid-emulator-*/uploads/*")), "the upload is on disk"
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert "WARNING" in stderr and "0.0.0.0" in stderr
    assert list(temp.iterdir()) == [], "SIGTERM cleans the temporary folder"


def test_a_trickling_input_url_cannot_hold_a_render(monkeypatch: pytest.MonkeyPatch) -> None:
    from qwenvid.emulator import inputs
    from tests.support.hostile import HostileServer, head

    monkeypatch.setattr(inputs, "REMOTE_DEADLINE", 0.5)
    with HostileServer() as server:
        server.route("/img", lambda ex: ex.trickle(head(200, {"Content-Length": "500"}), b"x" * 500, every=0.05))
        started = time.monotonic()
        assert inputs.fetch_remote(server.url("/img")) is None
    assert time.monotonic() - started < 2.0
