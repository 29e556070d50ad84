"""Deadlines, size limits and .part resume against a hostile server on loopback (tests/support/hostile.py).

These tests need a server that really trickles, so a few of them take about a second of real time:
the deadlines under test are real-time deadlines (a trickling socket cannot run on a manual clock).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import _session, app
from qwenvid.errors import DownloadError, NetworkError
from qwenvid.store.ledger import Ledger
from qwenvid.wire import client as client_module
from qwenvid.wire import deadlines
from qwenvid.wire.client import DashScopeClient
from qwenvid.wire.deadlines import bounded_transport
from qwenvid.wire.download import DownloadLimits, download_video, result_identity
from qwenvid.wire.http import RetryPolicy
from tests.support.hostile import Exchange, HostileServer, head, serve_file
from tests.support.videos import make_mp4

TASK = "0385dc79-5ff8-4d82-bcb6-0123456789ab"
KEY = "sk-hostile-0123456789abcdef"


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real 2 s 96x64 MP4 with audio, padded with a trailing `free` box to 64 KiB (room to cut it)."""
    data = make_mp4(tmp_path_factory.mktemp("clips") / "clip.mp4", width=96, height=64, seconds=2.0).read_bytes()
    pad = 65536 - len(data)
    return data + pad.to_bytes(4, "big") + b"free" + bytes(pad - 8)


@pytest.fixture
def dl(tmp_path: Path) -> Path:
    """An empty download folder (tmp_path also holds the isolated home and working folders)."""
    folder = tmp_path / "dl"
    folder.mkdir()
    return folder


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as hostile:
        yield hostile


@pytest.fixture
def cli_env(server: HostileServer, monkeypatch: pytest.MonkeyPatch) -> HostileServer:
    """The CLI pointed at the hostile server; the poller sleeps on a fake clock (only sockets take real time)."""
    monkeypatch.setenv("QWEN_BASE_URL", server.url("/api/v1"))
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    monkeypatch.setitem(_session.INJECTED, "session", {"clock": lambda: now[0], "sleep": sleep})
    return server


def succeeded_task(server: HostileServer, video_path: str = "/r/v.mp4") -> None:
    url = server.url(video_path) + "?Expires=4102444800&OSSAccessKeyId=x&Signature=abc"

    def answer(ex: Exchange) -> None:
        ex.json({"request_id": "r1", "output": {"task_id": TASK, "task_status": "SUCCEEDED", "video_url": url}})

    server.route(f"/api/v1/tasks/{TASK}", answer)


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def trickle_json(ex: Exchange) -> None:
    ex.trickle(head(200, {"Content-Length": "200", "Content-Type": "application/json"}), b" " * 200, every=0.05)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_in(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


# --------------------------------------------------------------------------- deadlines


def test_a_trickled_answer_ends_at_the_overall_deadline(server: HostileServer) -> None:
    server.route("/api/v1/tasks/", trickle_json)
    sleeps = Sleeps()
    client = DashScopeClient(KEY, server.url("/api/v1"), retry=RetryPolicy(max_retries=5), sleep=sleeps)

    started = time.monotonic()
    with deadlines.bounded(0.8), pytest.raises(NetworkError, match="deadline"):
        client.get_task(TASK)

    assert time.monotonic() - started < 2.5, "per-read timeouts must not keep a trickle alive"
    assert server.count("/api/v1/tasks/") == 1, "a passed deadline ends the retries"
    client.close()


def test_every_request_has_its_own_deadline_even_without_a_command_deadline(server: HostileServer) -> None:
    server.route("/slow", trickle_json)
    with httpx.Client(transport=bounded_transport(), base_url=server.url()) as http:
        from qwenvid.wire.http import send_bounded

        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            send_bounded(http, "GET", "/slow", budget=0.5)
    assert time.monotonic() - started < 2.0


def test_status_wait_timeout_bounds_a_trickling_query(cli_env: HostileServer) -> None:
    cli_env.route("/api/v1/tasks/", trickle_json)

    started = time.monotonic()
    result = run("status", TASK, "--wait", "--timeout", "1")

    assert result.exit_code == 5, result.stderr
    assert time.monotonic() - started < 4.0
    assert TASK in result.stderr and "Traceback" not in result.stderr


def test_a_submit_whose_answer_trickles_ends_at_its_deadline_as_outcome_unknown(
    cli_env: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The submit has its own deadline (120 s, shortened here), which a command's --timeout never cuts."""
    cli_env.route("/api/v1/services/", trickle_json)
    monkeypatch.setattr(client_module, "SUBMIT_DEADLINE", 1.0)

    started = time.monotonic()
    result = run("t2v", "A kitten", "--timeout", "0.1", "--yes")

    assert result.exit_code == 6, result.stderr
    assert time.monotonic() - started < 4.0
    assert cli_env.count("/api/v1/services/") == 1, "an ambiguous submit is never sent twice"
    with Ledger(Path(os.environ["QWENVID_HOME"]) / "ledger.sqlite3") as ledger:
        [row] = ledger.list()
    assert row.local_state == "outcome_unknown"


def test_fetch_timeout_keeps_the_part_and_the_next_fetch_continues_it(cli_env: HostileServer, clip: bytes) -> None:
    succeeded_task(cli_env)
    cli_env.route("/r/", lambda ex: ex.trickle(head(200, {"Content-Length": str(len(clip))}) + clip[:20000],
                                               clip[20000:], every=0.05))
    out = Path("out")

    started = time.monotonic()
    first = run("fetch", TASK, "-o", str(out), "--timeout", "1")

    assert first.exit_code == 9, first.stderr
    assert time.monotonic() - started < 4.0
    assert "deadline" in first.stderr and "qwenvid fetch" in first.stderr
    [part] = out.iterdir()
    assert part.name.endswith(".mp4.part") and part.stat().st_size >= 20000
    kept = part.stat().st_size

    cli_env.route("/r/", lambda ex: serve_file(ex, clip))
    second = run("fetch", TASK, "-o", str(out))

    assert second.exit_code == 0, second.stderr
    assert cli_env.hits[-1][2].get("range") == f"bytes={kept}-"
    assert files_in(out) == [part.name.removesuffix(".part"), part.name.removesuffix(".part") + ".json"]
    assert (out / part.name.removesuffix(".part")).read_bytes() == clip


# --------------------------------------------------------------------------- hosts that never finish


def test_a_host_that_sends_a_few_bytes_and_hangs_up_is_given_up(server: HostileServer, clip: bytes,
                                                                 dl: Path) -> None:
    def few_bytes(ex: Exchange) -> None:
        if server.count("/r/") > 40:  # a bound for the test itself, should the client loop
            ex.answer(404, b"gone")
        else:
            serve_file(ex, clip, stop_after=ex.range_start + 100)

    server.route("/r/", few_bytes)
    sleeps = Sleeps()

    with httpx.Client() as http, pytest.raises(DownloadError, match="without real progress") as caught:
        download_video(server.url("/r/v.mp4"), dl, http=http, name_hint="v", retries=3, sleep=sleeps)

    assert server.count("/r/") == 4 and len(sleeps) == 3
    assert caught.value.exit_code == 9
    assert files_in(dl) == ["v.mp4.part"] and (dl / "v.mp4.part").stat().st_size == 400


def test_a_stalled_body_is_cut_off_and_resumed(server: HostileServer, clip: bytes, dl: Path) -> None:
    calls = []

    def stall_once(ex: Exchange) -> None:
        calls.append(ex.range_start)
        serve_file(ex, clip, stop_after=30000, hang=True) if len(calls) == 1 else serve_file(ex, clip)

    server.route("/r/", stall_once)
    limits = DownloadLimits(low_speed_seconds=0.3, low_speed_bytes=1000)

    with httpx.Client(transport=bounded_transport()) as http:
        result = download_video(server.url("/r/v.mp4"), dl, http=http, name_hint="v", limits=limits,
                                sleep=Sleeps())

    assert calls == [0, 30000] and result.sha256 == sha(clip)


# --------------------------------------------------------------------------- size limits and content


def test_a_huge_json_answer_is_refused_without_reading_it(server: HostileServer) -> None:
    server.route("/api/v1/tasks/", lambda ex: ex.send(head(200, {"Content-Length": str(1 << 30)}) + b"{" * 65536))
    client = DashScopeClient(KEY, server.url("/api/v1"), sleep=Sleeps())

    with pytest.raises(NetworkError, match="8 MiB") as caught:
        client.get_task(TASK)

    assert server.count("/api/v1/tasks/") == 1, "not retried"
    assert caught.value.hint is not None and "points at DashScope" in caught.value.hint
    client.close()


def test_a_json_answer_without_length_is_cut_at_the_cap(server: HostileServer) -> None:
    def endless(ex: Exchange) -> None:
        ex.send(head(200, {"Content-Type": "application/json"}))
        for _ in range(64):  # 16 MiB, twice the cap
            if not ex.send(b" " * (256 << 10)):
                return

    server.route("/api/v1/tasks/", endless)
    client = DashScopeClient(KEY, server.url("/api/v1"), sleep=Sleeps())

    with pytest.raises(NetworkError, match="8 MiB"):
        client.get_task(TASK)
    client.close()


def test_a_result_without_length_is_capped(server: HostileServer, clip: bytes, dl: Path) -> None:
    def endless(ex: Exchange) -> None:
        ex.send(head(200, {"Content-Type": "video/mp4"}) + clip[:64])
        for _ in range(64):
            if not ex.send(bytes(256 << 10)):
                return

    server.route("/r/", endless)
    limits = DownloadLimits(max_bytes=1 << 20)

    with httpx.Client() as http, pytest.raises(DownloadError, match="larger than 1 MiB"):
        download_video(server.url("/r/v.mp4"), dl, http=http, name_hint="v", limits=limits, sleep=Sleeps())

    assert files_in(dl) == [], "an oversized body is not kept"


def test_an_announced_size_over_the_ceiling_is_refused_at_once(server: HostileServer, dl: Path) -> None:
    server.route("/r/", lambda ex: ex.send(head(200, {"Content-Length": str(3 << 30)}) + b"\0\0\0\x18ftyp"))
    sleeps = Sleeps()

    with httpx.Client() as http, pytest.raises(DownloadError, match="more than the 2 GiB"):
        download_video(server.url("/r/v.mp4"), dl, http=http, name_hint="v", sleep=sleeps)

    assert server.count("/r/") == 1 and sleeps == [] and files_in(dl) == []


def test_a_body_that_is_not_an_mp4_is_refused_from_its_first_bytes(server: HostileServer, dl: Path) -> None:
    def page(ex: Exchange) -> None:
        ex.send(head(200, {"Content-Type": "text/html"}) + b"<html><body>Sign in</body></html>")
        ex.hold(5)  # no length, never ends: only the first bytes can tell

    server.route("/r/", page)
    started = time.monotonic()

    with httpx.Client() as http, pytest.raises(DownloadError, match="not start like an MP4.*text/html"):
        download_video(server.url("/r/v.mp4"), dl, http=http, name_hint="v", sleep=Sleeps())

    assert time.monotonic() - started < 2.0 and files_in(dl) == []


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/v.mp4", "gopher://x/"])
def test_a_redirect_to_another_scheme_is_a_permanent_error(
    server: HostileServer, dl: Path, location: str
) -> None:
    server.route("/r/", lambda ex: ex.answer(302, b"", {"Location": location}))
    sleeps = Sleeps()

    with httpx.Client(follow_redirects=True) as http, pytest.raises(DownloadError, match="only http and https"):
        download_video(server.url("/r/v.mp4"), dl, http=http, name_hint="v", sleep=sleeps)

    assert server.count("/r/") == 1 and sleeps == []


# --------------------------------------------------------------------------- .part left by an earlier run


def test_an_interrupted_download_is_continued_by_the_next_one(server: HostileServer, clip: bytes,
                                                              dl: Path) -> None:
    server.route("/r/", lambda ex: serve_file(ex, clip))
    url = server.url("/r/v.mp4") + "?Signature=one"

    def interrupt(done: int, total: int | None) -> None:
        if done >= 20000:
            raise KeyboardInterrupt

    with httpx.Client() as http:
        with pytest.raises(KeyboardInterrupt):
            download_video(url, dl, http=http, name_hint="v", resume_key=TASK, on_progress=interrupt)
        kept = (dl / "v.mp4.part").stat().st_size
        assert kept >= 20000
        # A new signature for the same task (the URL was re-signed): still the same result.
        result = download_video(url.replace("one", "two"), dl, http=http, name_hint="v", resume_key=TASK,
                                sha256=sha(clip))

    assert server.hits[-1][2]["range"] == f"bytes={kept}-"
    assert result.path == dl / "v.mp4" and result.sha256 == sha(clip) and result.path.read_bytes() == clip
    assert any("Continuing v.mp4.part" in notice for notice in result.notices)
    assert files_in(dl) == ["v.mp4"]


def test_an_inherited_part_that_does_not_verify_is_downloaded_again(server: HostileServer, clip: bytes,
                                                                    dl: Path) -> None:
    server.route("/r/", lambda ex: serve_file(ex, clip))
    part = dl / "v.mp4.part"
    part.write_bytes(clip[:16] + bytes(20000))  # starts like an MP4, then garbage
    os.setxattr(part, "user.qwenvid.result", result_identity("", TASK).encode())

    with httpx.Client() as http:
        result = download_video(server.url("/r/v.mp4"), dl, http=http, name_hint="v", resume_key=TASK,
                                sha256=sha(clip), sleep=Sleeps())

    assert [hit[2].get("range") for hit in server.hits] == ["bytes=20016-", None]
    assert result.sha256 == sha(clip) and files_in(dl) == ["v.mp4"]


def test_a_part_that_is_already_whole_is_placed_without_downloading_again(server: HostileServer, clip: bytes,
                                                                          dl: Path) -> None:
    server.route("/r/", lambda ex: serve_file(ex, clip))
    part = dl / "v.mp4.part"
    part.write_bytes(clip)  # a run stopped between its last byte and the rename
    os.setxattr(part, "user.qwenvid.result", result_identity("", TASK).encode())

    with httpx.Client() as http:
        result = download_video(server.url("/r/v.mp4"), dl, http=http, name_hint="v", resume_key=TASK,
                                sleep=Sleeps())

    assert [hit[2].get("range") for hit in server.hits] == [f"bytes={len(clip)}-"]
    assert result.sha256 == sha(clip) and files_in(dl) == ["v.mp4"]


def test_someone_elses_part_is_left_alone(server: HostileServer, clip: bytes, dl: Path) -> None:
    server.route("/r/", lambda ex: serve_file(ex, clip))
    (dl / "v.mp4.part").write_bytes(b"another program's download")

    with httpx.Client() as http:
        result = download_video(server.url("/r/v.mp4"), dl, http=http, name_hint="v", resume_key=TASK)

    assert result.path.name == "v-1.mp4" and "range" not in server.hits[-1][2]
    assert (dl / "v.mp4.part").read_bytes() == b"another program's download"


def test_a_killed_fetch_process_leaves_a_part_the_next_fetch_finishes(cli_env: HostileServer, clip: bytes) -> None:
    """A real `qwenvid fetch` process SIGKILLed midway, then fetch again: one file, no orphan .part."""
    succeeded_task(cli_env)
    cli_env.route("/r/", lambda ex: serve_file(ex, clip, stop_after=30000, hang=True))
    out = Path("out").resolve()
    process = subprocess.Popen(
        [sys.executable, "-m", "qwenvid", "fetch", TASK, "-o", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ),
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            parts = list(out.glob("*.part")) if out.exists() else []
            if parts and parts[0].stat().st_size >= 30000:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the fetch never wrote its .part")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    cli_env.route("/r/", lambda ex: serve_file(ex, clip))
    result = run("fetch", TASK, "-o", str(out), "--json")

    assert result.exit_code == 0, result.stderr
    assert cli_env.hits[-1][2].get("range") == "bytes=30000-"
    video = Path(json.loads(result.stdout)["video_path"])
    assert video.read_bytes() == clip
    assert not list(out.glob("*.part")), "no orphan .part"
    assert [p.name for p in out.glob("*.mp4")] == [video.name]




# --------------------------------------------------------------------------- the body read straight from the socket


def test_a_body_of_many_reads_arrives_whole_and_bytes_past_its_length_are_not_kept(
    server: HostileServer, clip: bytes, dl: Path
) -> None:
    """The fast path (the body read from the connection itself after httpx's first piece) keeps exactly
    Content-Length bytes, in order, across many socket reads, also when the server sends more."""
    data = clip + (3 << 20).to_bytes(4, "big") + b"free" + os.urandom((3 << 20) - 8)  # 3 MiB+: dozens of reads

    def serve(ex: Exchange) -> None:
        ex.send(head(200, {"Content-Length": str(len(data)), "Content-Type": "video/mp4"}) + data[:1000])
        time.sleep(0.05)  # the parser has buffered the first 1000 bytes; the rest comes in later reads
        for start in range(1000, len(data), 200_000):
            ex.send(data[start : start + 200_000])
        ex.send(b"X" * 5000)  # past Content-Length: not part of the video

    server.route("/r/", serve)
    seen: list[tuple[int, int | None]] = []
    with httpx.Client(transport=bounded_transport()) as http:
        started = time.monotonic()
        result = download_video(server.url("/r/v.mp4"), dl, http=http, name_hint="v",
                                on_progress=lambda done, total: seen.append((done, total)))
        took = time.monotonic() - started

    assert result.path.read_bytes() == data and result.sha256 == sha(data) and result.size == len(data)
    # on_progress a few times a second and once at the end, not once per socket read
    assert seen[-1] == (len(data), len(data)) and len(seen) <= took / 0.1 + 2
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_a_body_cut_off_after_many_reads_is_resumed_from_what_was_written(
    server: HostileServer, clip: bytes, dl: Path
) -> None:
    data = clip + (2 << 20).to_bytes(4, "big") + b"free" + os.urandom((2 << 20) - 8)
    cut = len(data) // 2 + 12345
    attempts: list[int] = []

    def serve(ex: Exchange) -> None:
        attempts.append(ex.range_start)
        serve_file(ex, data, stop_after=cut if len(attempts) == 1 else None)

    server.route("/r/", serve)
    with httpx.Client(transport=bounded_transport()) as http:
        result = download_video(server.url("/r/v.mp4"), dl, http=http, name_hint="v", sleep=Sleeps(), sha256=sha(data))

    assert attempts == [0, cut] and result.resumes == 1
    assert result.path.read_bytes() == data
