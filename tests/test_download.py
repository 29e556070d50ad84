"""download_video and write_sidecar against real HTTP servers on loopback, with real MP4 files."""

from __future__ import annotations

import asyncio
import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from qwenvid.errors import DownloadError
from qwenvid.wire.download import (
    DownloadResult,
    default_name_hint,
    download_video,
    slugify,
    video_file_name,
    write_sidecar,
)
from tests.support.videos import make_mp4

# --------------------------------------------------------------------------- a misbehaving result host


@dataclass
class ResultHost:
    """A raw ASGI file host whose next answers follow a script of behaviours.

    Behaviours: "ok" (honours Range), "truncate" (sends half of what it promised, then drops),
    "ignore-range" (always 200 with the whole file), "wrong-start" (206 from byte 0 whatever was
    asked), "500", "429", "403", "404", "html".
    """

    files: dict[str, bytes] = field(default_factory=dict)
    script: list[str] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)
    base_url: str = ""

    def url(self, name: str) -> str:
        return f"{self.base_url}/r/{name}?Expires=4102444800&Signature=abc"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(headers)
        behaviour = self.script.pop(0) if self.script else "ok"
        body = self.files.get(scope["path"].removeprefix("/r/"))
        if body is None or behaviour == "404":
            await _answer(send, 404, b"<Error><Code>NoSuchKey</Code></Error>")
        elif behaviour == "403":
            xml = b"<Error><Code>AccessDenied</Code><Message>Request has expired.</Message></Error>"
            await _answer(send, 403, xml)
        elif behaviour in ("500", "429"):
            await _answer(send, int(behaviour), b"busy", [(b"retry-after", b"2")])
        elif behaviour == "html":
            await _answer(send, 200, b"<html>Sign in to continue</html>")
        else:
            await _send_file(send, body, headers.get("range"), behaviour)


async def _answer(send: Any, status: int, body: bytes, extra: list[tuple[bytes, bytes]] | None = None) -> None:
    headers = [(b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_file(send: Any, body: bytes, range_header: str | None, behaviour: str) -> None:
    start = 0
    if range_header and behaviour not in ("ignore-range",):
        start = 0 if behaviour == "wrong-start" else int(range_header.removeprefix("bytes=").split("-")[0])
    piece = body[start:]
    headers = [(b"content-length", str(len(piece)).encode()), (b"content-type", b"video/mp4")]
    status = 200
    if range_header and behaviour != "ignore-range":
        status = 206
        headers.append((b"content-range", f"bytes {start}-{len(body) - 1}/{len(body)}".encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if behaviour == "truncate":
        await send({"type": "http.response.body", "body": piece[: len(piece) // 2], "more_body": True})
        raise ConnectionAbortedError("dropping the connection on purpose")
    await send({"type": "http.response.body", "body": piece})


@pytest.fixture(scope="module")
def host() -> Iterator[ResultHost]:
    app = ResultHost()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="critical", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    app.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    yield app
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def result_host(host: ResultHost) -> ResultHost:
    host.script.clear()
    host.requests.clear()
    host.files.clear()
    return host


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A real 2 s, 96x64 H.264 MP4 with an AAC track (about 9 KB)."""
    folder = tmp_path_factory.mktemp("clips")
    return make_mp4(folder / "clip.mp4", width=96, height=64, seconds=2.0, audio=True).read_bytes()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty folder to download into (tmp_path also holds the isolated home and work folders)."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder


@dataclass(frozen=True)
class Expect:
    duration: float | None = None
    has_audio: bool | None = None
    width: int | None = None
    height: int | None = None


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def get(result_host: ResultHost, http: httpx.Client, dest: Path, **kwargs: Any) -> DownloadResult:
    kwargs.setdefault("name_hint", "20260301-120000_t2v_wan2.6-t2v_0385dc79_A kitten")
    kwargs.setdefault("sleep", Sleeps())
    return download_video(result_host.url("v.mp4"), dest, http=http, **kwargs)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- happy path and resume


def test_download_to_a_folder_streams_hashes_and_probes(
    result_host: ResultHost, http: httpx.Client, clip: bytes, out: Path
):
    result_host.files["v.mp4"] = clip
    seen: list[tuple[int, int | None]] = []

    result = get(
        result_host,
        http,
        out / "out",
        on_progress=lambda done, total: seen.append((done, total)),
        expect=Expect(duration=2.0, has_audio=True, width=96, height=64),
        chunk_size=1024,
    )

    assert result.path == out / "out" / "20260301-120000_t2v_wan2.6-t2v_0385dc79_A-kitten.mp4"
    assert result.path.read_bytes() == clip
    assert (result.size, result.sha256, result.resumes, result.notices) == (len(clip), sha(clip), 0, ())
    assert (result.probe.width, result.probe.height, result.probe.has_audio) == (96, 64, True)
    assert seen[-1] == (len(clip), len(clip))
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert list((out / "out").iterdir()) == [result.path], "no .part left behind"
    assert "authorization" not in result_host.requests[0]
    assert result_host.requests[0]["accept-encoding"] == "identity"


@pytest.mark.parametrize(
    ("script", "ranges", "resumes", "pauses"),
    [
        (["truncate"], [None, "bytes={half}-"], 1, 1),
        (["truncate", "truncate"], [None, "bytes={half}-", "bytes={three_quarters}-"], 2, 2),
        (["truncate", "ignore-range"], [None, "bytes={half}-"], 1, 1),
        (["truncate", "wrong-start"], [None, "bytes={half}-", None], 1, 2),
        (["500", "truncate", "429"], [None, None, "bytes={half}-", "bytes={half}-"], 2, 3),
    ],
    ids=["one-drop", "two-drops", "server-ignores-range", "server-resumes-at-wrong-byte", "errors-between"],
)
def test_drops_resume_and_the_hash_is_the_whole_files(
    result_host: ResultHost,
    http: httpx.Client,
    clip: bytes,
    out: Path,
    script: list[str],
    ranges: list[str | None],
    resumes: int,
    pauses: int,
):
    result_host.files["v.mp4"] = clip
    result_host.script[:] = script
    sleeps = Sleeps()

    result = get(result_host, http, out, sleep=sleeps)

    half = len(clip) // 2
    expected_ranges = [
        r.format(half=half, three_quarters=half + (len(clip) - half) // 2) if r else None for r in ranges
    ]
    assert [r.get("range") for r in result_host.requests] == expected_ranges
    assert result.sha256 == sha(clip)
    assert result.path.read_bytes() == clip
    assert result.resumes == resumes
    assert len(sleeps) == pauses


def test_retry_after_is_honoured(result_host: ResultHost, http: httpx.Client, clip: bytes, out: Path):
    result_host.files["v.mp4"] = clip
    result_host.script[:] = ["429"]
    sleeps = Sleeps()

    get(result_host, http, out, sleep=sleeps)

    assert sleeps == [2.0]


def test_gives_up_after_the_retries(result_host: ResultHost, http: httpx.Client, clip: bytes, out: Path):
    result_host.files["v.mp4"] = clip
    result_host.script[:] = ["500"] * 10
    sleeps = Sleeps()

    with pytest.raises(DownloadError, match="kept failing") as caught:
        get(result_host, http, out, sleep=sleeps, retries=3)

    assert len(result_host.requests) == 4 and len(sleeps) == 3
    assert caught.value.exit_code == 9
    assert list(out.iterdir()) == [], "an empty .part is not kept"


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ("403", "link expired: result URLs are valid for 24 h"),
        ("404", "no longer on the server"),
    ],
)
def test_dead_links_fail_at_once(
    result_host: ResultHost, http: httpx.Client, clip: bytes, out: Path, behaviour: str, message: str
):
    result_host.files["v.mp4"] = clip
    result_host.script[:] = [behaviour]
    sleeps = Sleeps()

    with pytest.raises(DownloadError, match=message):
        get(result_host, http, out, sleep=sleeps)

    assert len(result_host.requests) == 1 and sleeps == []


def test_an_expired_link_after_a_drop_keeps_the_part(
    result_host: ResultHost, http: httpx.Client, clip: bytes, out: Path
):
    result_host.files["v.mp4"] = clip
    result_host.script[:] = ["truncate", "403"]

    with pytest.raises(DownloadError, match="expired"):
        get(result_host, http, out)

    [part] = out.iterdir()
    assert part.name.endswith(".mp4.part") and part.read_bytes() == clip[: len(clip) // 2]


# --------------------------------------------------------------------------- verification


@pytest.mark.parametrize(
    ("expect", "message"),
    [
        (Expect(duration=5.0), "duration 2.0\\d s, expected 5 s"),
        (Expect(duration=2.6), "duration 2.0\\d s, expected 2.6 s"),
        (Expect(width=1280, height=720), "size 96\\*64, expected 1280\\*720"),
        (Expect(has_audio=False), "an audio track, but a silent video was expected"),
    ],
)
def test_a_video_unlike_the_request_is_rejected_and_kept(
    result_host: ResultHost, http: httpx.Client, clip: bytes, out: Path, expect: Expect, message: str
):
    result_host.files["v.mp4"] = clip

    with pytest.raises(DownloadError, match=message) as caught:
        get(result_host, http, out, expect=expect)

    [part] = out.iterdir()
    assert part.suffix == ".part" and part.read_bytes() == clip
    assert str(part) in caught.value.message


def test_a_silent_video_fails_when_audio_is_promised(result_host: ResultHost, http: httpx.Client, out: Path):
    result_host.files["v.mp4"] = make_mp4(out / "src" / "silent.mp4", seconds=1.0).read_bytes()

    with pytest.raises(DownloadError, match="no audio track, but the model promises audio"):
        get(result_host, http, out / "out", expect=Expect(duration=1.0, has_audio=True))


def test_within_tolerance_passes(result_host: ResultHost, http: httpx.Client, clip: bytes, out: Path):
    result_host.files["v.mp4"] = clip

    result = get(result_host, http, out, expect=Expect(duration=2.4, has_audio=None, width=96, height=64))

    assert result.probe.duration == pytest.approx(2.0, abs=0.1)


def test_a_web_page_instead_of_a_video_is_rejected(result_host: ResultHost, http: httpx.Client, out: Path):
    result_host.files["v.mp4"] = b"unused"
    result_host.script[:] = ["html"]

    with pytest.raises(DownloadError, match="not a playable video"):
        get(result_host, http, out)


# --------------------------------------------------------------------------- names


def test_names_never_overwrite(result_host: ResultHost, http: httpx.Client, clip: bytes, out: Path):
    result_host.files["v.mp4"] = clip
    taken = out / "clip.mp4"
    taken.write_bytes(b"precious")
    (out / "clip-1.mp4.part").write_bytes(b"someone else's download")

    first = get(result_host, http, out, name_hint="clip")
    second = get(result_host, http, out, name_hint="clip")

    assert (first.path.name, second.path.name) == ("clip-2.mp4", "clip-3.mp4")
    assert taken.read_bytes() == b"precious"
    assert first.notices == (), "folder downloads pick a free name silently"


def test_an_exact_file_path_that_exists_gets_a_suffix_and_a_notice(
    result_host: ResultHost, http: httpx.Client, clip: bytes, out: Path
):
    result_host.files["v.mp4"] = clip
    mine = out / "mine.mp4"
    mine.write_bytes(b"keep me")

    result = get(result_host, http, mine)

    assert result.path == out / "mine-1.mp4"
    assert mine.read_bytes() == b"keep me"
    assert result.notices and "already exists" in result.notices[0] and "mine-1.mp4" in result.notices[0]


def test_an_exact_file_path_in_a_new_folder(result_host: ResultHost, http: httpx.Client, clip: bytes, out: Path):
    result_host.files["v.mp4"] = clip

    result = get(result_host, http, out / "a" / "b" / "final.mp4")

    assert result.path == out / "a" / "b" / "final.mp4" and result.notices == ()


@pytest.mark.parametrize(
    "hint",
    [
        "../../../etc/passwd",
        "..",
        "a/b\\c/../d",
        "/absolute/path",
        "kitten\x00\x1b[31mred\r\n",
        "CON",
        "nul.txt",
        "",
        "." * 50,
        "x" * 1000,
        "小猫在月光下奔跑" * 40,
        "~/.ssh/authorized_keys",
        "$(rm -rf ~)`reboot`;|&",
    ],
)
def test_names_from_prompts_stay_in_the_folder(out: Path, hint: str):
    name = video_file_name(hint)

    assert (out / name).resolve().parent == out.resolve()
    assert name.endswith(".mp4") and len(name) > len(".mp4")
    assert "/" not in name and "\\" not in name and ".." not in name
    assert all(ch.isprintable() for ch in name)
    assert len((name + ".part").encode()) <= 200
    assert not name.lower().startswith(("con.", "nul."))


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("A kitten running in the moonlight", "A-kitten-running-in-the-moonlight"),
        ("  spaces  / slashes \\ and..dots. ", "spaces-slashes-and.dots"),
        ("小猫 在月光下", "小猫-在月光下"),
        ("ﬁne — ligature", "fine-ligature"),
        ("???", "video"),
    ],
)
def test_slugify(text: str, slug: str):
    assert slugify(text) == slug


def test_slugify_caps_length():
    assert len(slugify("word " * 100)) <= 60


def test_default_name_hint_is_the_documented_shape():
    from datetime import UTC, datetime

    hint = default_name_hint(
        mode="t2v",
        model="wan2.6-t2v",
        task_id="0385dc79-5ff8-4d82",
        prompt="A kitten / running",
        when=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    )

    assert video_file_name(hint) == "20260301-120000_t2v_wan2.6-t2v_0385dc79_A-kitten-running.mp4"


# --------------------------------------------------------------------------- credentials


def test_never_sends_an_authorization_header(result_host: ResultHost, clip: bytes, out: Path):
    result_host.files["v.mp4"] = clip

    with httpx.Client(headers={"Authorization": "Bearer sk-canary0123456789"}) as leaky:
        with pytest.raises(DownloadError, match="Refusing to send an Authorization header") as caught:
            get(result_host, leaky, out)

    assert result_host.requests == [], "nothing left the process"
    assert "canary" not in str(caught.value)
    assert list(out.iterdir()) == []


def test_client_auth_is_not_used(result_host: ResultHost, clip: bytes, out: Path):
    result_host.files["v.mp4"] = clip

    with httpx.Client(auth=("user", "sk-canary0123456789")) as client_with_auth:
        result = get(result_host, client_with_auth, out)

    assert result.sha256 == sha(clip)
    assert "authorization" not in result_host.requests[0]


@pytest.mark.parametrize("url", ["http://user:pw@127.0.0.1:9/v.mp4", "file:///etc/passwd", "oss://bucket/v.mp4"])
def test_refuses_urls_that_are_not_plain_http(http: httpx.Client, out: Path, url: str):
    with pytest.raises(DownloadError):
        download_video(url, out, http=http, sleep=Sleeps())
    assert list(out.iterdir()) == []


# --------------------------------------------------------------------------- sidecar


def test_sidecar_sits_beside_the_video_and_holds_no_secret(out: Path):
    video = out / "clip.mp4"
    video.write_bytes(b"x")
    data = {
        "task_id": "0385dc79",
        "request_id": "req-1",
        "mode": "t2v",
        "model": "wan2.6-t2v",
        "request": {"model": "wan2.6-t2v", "input": {"prompt": "A kitten, key sk-abcdefghijklmnop"}},
        "prompt": "A kitten",
        "actual_prompt": "A small kitten runs",
        "usage": {"duration": 5, "output_video_duration": 5},
        "sha256": "ab" * 32,
        "size": 1,
        "probe": None,
        "submit_time": "2026-03-01 20:00:00.000",
        "end_time": "2026-03-01 20:02:00.000",
    }

    sidecar = write_sidecar(video, data)

    assert sidecar == out / "clip.mp4.json"
    saved = json.loads(sidecar.read_text(encoding="utf-8"))
    assert saved["request"]["input"]["prompt"] == "A kitten, key sk-***"
    assert {k: v for k, v in saved.items() if k != "request"} == {k: v for k, v in data.items() if k != "request"}
    assert sorted(p.name for p in out.iterdir()) == ["clip.mp4", "clip.mp4.json"], "no temporary file left"


def test_sidecar_serialises_probes_and_paths(result_host: ResultHost, http: httpx.Client, clip: bytes, out: Path):
    result_host.files["v.mp4"] = clip
    result = get(result_host, http, out)

    sidecar = write_sidecar(result.path, {"download": result, "path": result.path})

    saved = json.loads(sidecar.read_text())
    assert saved["download"]["probe"]["has_audio"] is True
    assert saved["download"]["sha256"] == sha(clip)
    assert saved["path"] == str(result.path)


# --------------------------------------------------------------------------- against the real emulator

T2V_PATH = "/services/aigc/video-generation/video-synthesis"


def finished_result(emulator: Any, body: dict[str, Any]) -> tuple[str, Path]:
    """Submit `body` to the emulator, let its manual clock run the task, return (video_url, file on its side)."""
    headers = {"Authorization": "Bearer sk-test-0123456789", "X-DashScope-Async": "enable"}
    with httpx.Client(base_url=emulator.base_url, headers=headers, timeout=10.0) as api:
        submitted = api.post(T2V_PATH, json=body)
        assert submitted.status_code == 200, submitted.text
        task_id = submitted.json()["output"]["task_id"]
        assert emulator.state.wait_rendered()
        emulator.manual_clock.advance(30)
        output = api.get(f"/tasks/{task_id}").json()["output"]
    assert output["task_status"] == "SUCCEEDED", output
    return output["video_url"], emulator.state.get_task(task_id).result.path


WAN26_BODY = {
    "model": "wan2.6-t2v",
    "input": {"prompt": "A kitten running in the moonlight"},
    "parameters": {"size": "1280*720", "duration": 5},
}


def test_emulator_truncated_download_resumes_to_the_same_sha256(emulator: Any, http: httpx.Client, out: Path):
    from qwenvid.catalogue import expected_output

    url, served = finished_result(emulator, WAN26_BODY)
    emulator.arm("truncate:download:1")
    sleeps = Sleeps()

    result = download_video(
        url, out, http=http, name_hint="kitten", expect=expected_output("wan2.6-t2v", WAN26_BODY), sleep=sleeps
    )

    assert result.resumes == 1 and len(sleeps) == 1
    assert result.sha256 == sha(served.read_bytes())
    assert result.size == served.stat().st_size
    assert (result.probe.width, result.probe.height, result.probe.has_audio) == (1280, 720, True)
    assert result.probe.duration == pytest.approx(5.0, abs=0.5)
    assert [p.name for p in out.iterdir()] == ["kitten.mp4"]
    assert emulator.state.auth_on_download == 0


def test_emulator_silent_model_matches_its_catalogue_promise(emulator: Any, http: httpx.Client, out: Path):
    from qwenvid.catalogue import expected_output

    body = {"model": "wan2.2-t2v-plus", "input": {"prompt": "A quiet lake"}, "parameters": {"size": "832*480"}}
    url, served = finished_result(emulator, body)
    expect = expected_output("wan2.2-t2v-plus", body)
    assert expect is not None and expect.has_audio is False

    result = download_video(url, out, http=http, name_hint="lake", expect=expect, sleep=Sleeps())

    assert result.sha256 == sha(served.read_bytes())
    assert (result.probe.has_audio, result.probe.width, result.probe.height) == (False, 832, 480)


def test_emulator_video_unlike_the_request_is_rejected(emulator: Any, http: httpx.Client, out: Path):
    url, served = finished_result(emulator, WAN26_BODY)

    with pytest.raises(DownloadError, match="duration 5.0\\d s, expected 10 s"):
        download_video(url, out, http=http, name_hint="kitten", expect=Expect(duration=10.0), sleep=Sleeps())

    [part] = out.iterdir()
    assert part.name == "kitten.mp4.part" and part.read_bytes() == served.read_bytes()


def test_emulator_expired_link_is_not_retried(emulator: Any, http: httpx.Client, out: Path):
    url, _ = finished_result(emulator, WAN26_BODY)
    emulator.manual_clock.advance(25 * 3600)
    sleeps = Sleeps()

    with pytest.raises(DownloadError, match="link expired.*24 h.*Request has expired"):
        download_video(url, out, http=http, name_hint="kitten", sleep=sleeps)

    assert sleeps == [] and list(out.iterdir()) == []


def test_emulator_transient_errors_are_retried(emulator: Any, http: httpx.Client, out: Path):
    url, served = finished_result(emulator, WAN26_BODY)
    emulator.arm("503:download:2")
    emulator.arm("drop:download:1")
    sleeps = Sleeps()

    result = download_video(url, out, http=http, name_hint="kitten", sleep=sleeps)

    assert len(sleeps) == 3
    assert result.sha256 == sha(served.read_bytes())


def test_an_unwritable_folder_is_a_download_error(result_host: ResultHost, http: httpx.Client, clip: bytes, out: Path):
    result_host.files["v.mp4"] = clip
    blocker = out / "not-a-folder"
    blocker.write_bytes(b"")

    with pytest.raises(DownloadError, match="Cannot write into"):
        get(result_host, http, blocker / "sub" / "v.mp4")

    assert result_host.requests == []


def test_an_existing_file_without_suffix_is_a_file_target(
    result_host: ResultHost, http: httpx.Client, clip: bytes, out: Path
):
    result_host.files["v.mp4"] = clip
    (out / "video").write_bytes(b"keep")

    result = get(result_host, http, out / "video")

    assert result.path == out / "video-1" and (out / "video").read_bytes() == b"keep"


def test_output_folder_created_by_another_run_meanwhile_is_still_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs in parallel share one -o folder: the one that finds it missing while another creates it must not
    take the folder for a file named without .mp4 (a race seen in a burst of six runs)."""
    from qwenvid.wire.download import check_output_target

    target = tmp_path / "out"
    real_is_dir = Path.is_dir
    calls = {"n": 0}

    def is_dir_while_another_run_creates_it(self: Path) -> bool:
        if self == target and calls["n"] == 0:
            calls["n"] += 1
            answer = real_is_dir(self)  # not there yet...
            self.mkdir()  # ...and another run creates it right after this look
            return answer
        return real_is_dir(self)

    monkeypatch.setattr(Path, "is_dir", is_dir_while_another_run_creates_it)
    check_output_target(target)  # no "a video file name must end in .mp4"
    assert calls["n"] == 1 and real_is_dir(target)
