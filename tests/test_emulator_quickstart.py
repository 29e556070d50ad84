"""The first hour with the emulator: `--emulator` timing, its realistic/fault options, the render cache,
and `qwenvid emulator` telling how to use it and logging each request."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import _session, app, hoist_global_options
from qwenvid.cli._session import CliState, open_session
from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.render import (
    AUDIO_FRAME_SAMPLES,
    AUDIO_RATE,
    RenderCache,
    RenderJob,
    ToneTrack,
    _add_audio_stream,
    _audio_frame,
    _tone_chunk,
)
from qwenvid.emulator.request_log import describe
from qwenvid.emulator.server import EmulatorThread
from qwenvid.requests.priors import QUEUE_SPREAD, SCATTER, prior_for_request
from tests.support.cli_emulator import SMALL, use_flag_emulator
from tests.support.emulator import T2V_PATH
from tests.test_cli_subprocess import qwenvid_argv

BODY = {"model": "wan2.1-t2v-turbo", "input": {"prompt": "A kitten"}, "parameters": {"size": "832*480"}}
HEADERS = {"Authorization": "Bearer sk-test", "X-DashScope-Async": "enable"}


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


# ---- --emulator: quick by default, realistic or faulty on request ------------------------------


def _status_after_render(state: CliState, clock: ManualClock, seconds: float) -> str:
    """Submit through the session's client, let the render finish, move the clock, and read the status."""
    with open_session(state) as opened:
        client = opened.session.client
        task_id = client.submit(T2V_PATH, BODY).task_id
        assert opened.emulator.state.wait_rendered(30)
        clock.advance(seconds)
        return str(client.get_task(task_id).status)


@pytest.fixture
def emulator_clock(manual_clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> ManualClock:
    monkeypatch.setitem(_session.INJECTED, "emulator_clock", manual_clock)
    return manual_clock


def test_emulator_task_ends_once_its_video_is_rendered(emulator_clock: ManualClock) -> None:
    # Not the emulator's general 0.3 s queued + 1.2 s running: a quick start waits for the render alone.
    assert _status_after_render(CliState(emulator=True), emulator_clock, 0.31) == "SUCCEEDED"


def test_emulator_realistic_takes_the_requests_prior(emulator_clock: ManualClock) -> None:
    # --emulator-realistic: the queue and render drawn around the request's prior (qwenvid/requests/priors.py),
    # the same figure the progress bar and the poller start from (the session's own cold estimate).
    state = CliState(emulator=True, emulator_realistic=True)
    assert state.estimate(emulated=True) is None  # the progress bar uses the request's prior too
    prior = prior_for_request(BODY)
    with open_session(state) as opened:
        client = opened.session.client
        task_id = client.submit(T2V_PATH, BODY).task_id
        assert opened.emulator.state.wait_rendered(30)
        task = opened.emulator.state.get_task(task_id)
        assert task is not None
        total = task.pending_seconds + task.running_seconds
        assert abs(total - prior.seconds) <= SCATTER * prior.render + QUEUE_SPREAD + 1e-9
        emulator_clock.advance(0.31)
        assert client.get_task(task_id).status == "PENDING"  # a queue of a few seconds first
        emulator_clock.advance(total - 1 - 0.31)
        assert client.get_task(task_id).status == "RUNNING"
        emulator_clock.advance(1.01)
        assert client.get_task(task_id).status == "SUCCEEDED"


def test_emulator_fault_fails_the_task_with_its_code(manual_clock: ManualClock,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    use_flag_emulator(manual_clock, monkeypatch)
    result = run("--emulator-fault", "fail:DataInspectionFailed:1", "t2v", "A kitten", *SMALL)
    assert result.exit_code == 10, result.stderr  # content moderation, as the real service would end it
    assert "DataInspectionFailed" in result.stderr and result.stdout == ""


def test_emulator_fault_throttling_is_retried(manual_clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    use_flag_emulator(manual_clock, monkeypatch)
    result = run("--emulator", "--emulator-fault", "5xx:query:2", "t2v", "A kitten", *SMALL)
    assert result.exit_code == 0, result.stderr
    assert Path(result.stdout.strip()).is_file()


@pytest.mark.parametrize("spec", ["bogus", "fail", "throttle:nowhere", "slow:query:soon"])
def test_a_bad_emulator_fault_is_a_usage_error_naming_the_option(spec: str) -> None:
    result = run("--emulator-fault", spec, "t2v", "A kitten", *SMALL)
    assert result.exit_code == 2
    assert "--emulator-fault" in result.stderr and "bad fault spec" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["t2v", "A kitten", "--emulator-fault", "fail:X:1"], ["--emulator-fault", "fail:X:1", "t2v", "A kitten"]),
        (["t2v", "A kitten", "--emulator-fault=fail:X"], ["--emulator-fault=fail:X", "t2v", "A kitten"]),
        (["t2v", "A kitten", "--emulator-realistic"], ["--emulator-realistic", "t2v", "A kitten"]),
        (["--emulator-fault", "fail:X", "t2v", "x"], ["--emulator-fault", "fail:X", "t2v", "x"]),
        (["t2v", "--", "--emulator-realistic"], ["t2v", "--", "--emulator-realistic"]),
    ],
)
def test_emulator_options_may_follow_the_command(argv: list[str], expected: list[str]) -> None:
    assert hoist_global_options(argv) == expected


def test_emulator_options_are_in_the_global_help() -> None:
    result = run("--help")
    assert "--emulator-realistic" in result.stdout and "--emulator-fault" in result.stdout


# ---- the render cache ---------------------------------------------------------------------------


def _result_path(emulator: EmulatorThread) -> Path:
    response = httpx.post(emulator.base_url + T2V_PATH, json=BODY, headers=HEADERS)
    task_id = response.json()["output"]["task_id"]
    assert emulator.state.wait_rendered(30)
    task = emulator.state.get_task(task_id)
    assert task is not None and task.result is not None, task and task.render_error
    return task.result.path


def test_a_video_asked_for_again_is_served_from_the_cache_without_rendering(tmp_path: Path) -> None:
    config = EmulatorConfig(render_cache_dir=tmp_path / "cache")
    with EmulatorThread(config) as first:
        path = _result_path(first)
        inode = path.stat().st_ino
    assert path.parent == tmp_path / "cache" and path.is_file()  # kept after that emulator stopped
    with EmulatorThread(config) as second:
        again = _result_path(second)
    assert again == path and again.stat().st_ino == inode  # the same file: not rendered again


def test_the_cache_keeps_only_the_most_recently_used_videos(tmp_path: Path) -> None:
    tmp_path = tmp_path / "cache"
    tmp_path.mkdir()
    for index in range(5):
        video = tmp_path / f"{index}.mp4"
        video.write_bytes(b"x")
        os.utime(video, (1000 + index, 1000 + index))
    (tmp_path / "notes.txt").write_text("kept")
    RenderCache(tmp_path, keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["3.mp4", "4.mp4", "notes.txt"]


def test_padded_copies_stay_out_of_the_shared_cache(tmp_path: Path) -> None:
    cache = RenderCache(tmp_path / "cache", scratch=tmp_path / "scratch")
    job = RenderJob("wan2.1-t2v-turbo", "A kitten", 64, 64, 0.2, False)
    padded = cache.path_for(job, padding_bytes=200_000)
    assert padded.parent == tmp_path / "scratch" and padded.stat().st_size == 200_000
    assert [p.suffix for p in (tmp_path / "cache").iterdir()] == [".mp4"]


def test_an_unwritable_cache_folder_only_costs_speed(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with EmulatorThread(EmulatorConfig(render_cache_dir=blocker / "cache")) as emulator:
        assert _result_path(emulator).is_file()


def test_emulator_flag_renders_into_the_cache_in_the_state_folder(
    manual_clock: ManualClock, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    use_flag_emulator(manual_clock, monkeypatch)
    assert run("--emulator", "t2v", "A cached kitten", *SMALL).exit_code == 0
    assert len(list((isolated_env / "emulator-renders").glob("*.mp4"))) == 1


# ---- the request log ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status", "body", "dropped", "line"),
    [
        ("POST", "/api/v1" + T2V_PATH, 200, b'{"output":{"task_status":"PENDING","task_id":"abcd-1234"}}', False,
         f"POST /api/v1{T2V_PATH} 200 task abcd-1234 PENDING"),
        ("GET", "/api/v1/tasks/abcd-1234", 200, b'{"output":{"task_id":"abcd-1234","task_status":"RUNNING"}}',
         False, "GET /api/v1/tasks/abcd-1234 200 RUNNING"),
        ("POST", "/api/v1" + T2V_PATH, 429, b'{"code":"Throttling.RateQuota","message":"slow down"}', False,
         f"POST /api/v1{T2V_PATH} 429 Throttling.RateQuota"),
        ("GET", "/__results/abcd-1234.mp4", 206, b"", False, "GET /__results/abcd-1234.mp4 206"),
        ("POST", "/api/v1" + T2V_PATH, 200, b"", True, f"POST /api/v1{T2V_PATH} 200 (connection dropped)"),
        ("GET", "/api/v1/tasks/x", 200, b"not json", False, "GET /api/v1/tasks/x 200"),
    ],
)
def test_request_log_lines(method: str, path: str, status: int, body: bytes, dropped: bool, line: str) -> None:
    assert describe(method, path, status, body, dropped) == line


def test_request_log_logs_every_answer_without_secrets() -> None:
    lines: list[str] = []
    with EmulatorThread(EmulatorConfig(), request_log=lines.append) as emulator, httpx.Client() as client:
        root = emulator.root_url
        task_id = client.post(root + "/api/v1" + T2V_PATH, json=BODY, headers=HEADERS).json()["output"]["task_id"]
        client.get(f"{root}/api/v1/tasks/{task_id}", headers=HEADERS)
        client.get(root + "/api/v1/tasks/none", headers={"Authorization": "Bearer sk-secret-never-logged"})
        client.get(root + "/nowhere?Signature=s3cr3t")
    assert [line.split(" ", 1)[1] for line in lines] == [
        f"POST /api/v1{T2V_PATH} 200 task {task_id} PENDING",
        f"GET /api/v1/tasks/{task_id} 200 PENDING",
        "GET /api/v1/tasks/none 200 UNKNOWN",
        "GET /nowhere 404 NotFound",
    ]
    assert "sk-" not in "".join(lines) and "s3cr3t" not in "".join(lines)


# ---- `qwenvid emulator` in a real process ------------------------------------------------------------


class _Lines:
    """Lines read from a pipe in a thread, waited for with a timeout."""

    def __init__(self, stream: Any) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for(self, text: str, timeout: float = 20) -> str:
        with self._changed:
            found = self._changed.wait_for(lambda: any(text in line for line in self.lines), timeout)
            assert found, f"{text!r} not in {self.lines}"
            return next(line for line in self.lines if text in line)

    def until_closed(self) -> list[str]:
        self._reader.join(timeout=20)
        return self.lines


@dataclass
class EmulatorProcess:
    url: str  # the first line on stdout
    stdout: _Lines  # the lines after it
    stderr: _Lines
    process: subprocess.Popen[str]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def emulator_cli(request: pytest.FixtureRequest) -> Iterator[EmulatorProcess]:
    """`qwenvid emulator --port 0 [options]` running in a real process."""
    options: list[str] = getattr(request, "param", [])
    process = subprocess.Popen([*qwenvid_argv(), "emulator", "--port", "0", *options],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline().strip()
        yield EmulatorProcess(first, _Lines(process.stdout), _Lines(process.stderr), process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.slow
def test_emulator_command_prints_its_url_first_then_how_to_use_it_and_logs_requests(
    emulator_cli: EmulatorProcess,
) -> None:
    url, stderr = emulator_cli.url, emulator_cli.stderr
    assert url.startswith("http://127.0.0.1:") and url.endswith("/api/v1")  # the contract: the URL first
    stderr.wait_for(f"QWEN_BASE_URL={url} ")
    stderr.wait_for(f"DASHSCOPE_HTTP_BASE_URL={url} ")
    task_id = httpx.post(url + T2V_PATH, json=BODY, headers=HEADERS).json()["output"]["task_id"]
    stderr.wait_for(f"POST /api/v1{T2V_PATH} 200 task {task_id} PENDING")
    httpx.get(f"{url}/tasks/{task_id}", headers=HEADERS)
    stderr.wait_for(f"GET /api/v1/tasks/{task_id} 200")
    emulator_cli.stop()
    assert emulator_cli.stdout.until_closed() == []  # stdout holds the URL alone, for scripts


@pytest.mark.slow
@pytest.mark.parametrize(
    ("emulator_cli", "usage_shown"), [(["--no-log"], True), (["--quiet"], False)], indirect=["emulator_cli"]
)
def test_emulator_command_can_keep_quiet(emulator_cli: EmulatorProcess, usage_shown: bool) -> None:
    httpx.get(f"{emulator_cli.url}/tasks/none", headers=HEADERS)
    emulator_cli.stop()
    lines = emulator_cli.stderr.until_closed()
    assert not any("/tasks/none" in line for line in lines)
    assert any("DASHSCOPE_HTTP_BASE_URL=" in line for line in lines) == usage_shown


def test_the_user_agent_version_is_the_installed_packages() -> None:
    from importlib import metadata

    from qwenvid.wire.client import USER_AGENT

    assert USER_AGENT == f"qwenvid/{metadata.version('qwenvid')}"


def test_every_https_request_is_verified_with_one_shared_tls_context() -> None:
    import ssl

    from qwenvid.wire.client import DashScopeClient, tls_context

    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    client = DashScopeClient("sk-test", "https://example.invalid/api/v1")
    try:
        transports = [client._queries._transport, client._posts._transport]  # type: ignore[attr-defined]
        with client.http_for_downloads() as downloads:
            transports.append(downloads._transport)  # type: ignore[attr-defined]
        for transport in transports:
            assert transport.transport_for("https")._pool._ssl_context is context
            plain = transport.transport_for("http")._pool._ssl_context  # never used for TLS, refuses if it were
            assert plain.verify_mode == ssl.CERT_REQUIRED and plain.check_hostname
            assert plain.cert_store_stats()["x509_ca"] == 0
    finally:
        client.close()


def test_plain_http_never_loads_the_ca_bundle(emulator: EmulatorThread) -> None:
    from qwenvid.wire.client import DashScopeClient, tls_context

    tls_context.cache_clear()
    with DashScopeClient("sk-test", emulator.base_url) as client:
        assert client.get_task("none").status == "UNKNOWN"
        with client.http_for_downloads() as downloads:
            downloads.get(emulator.root_url + "/__results/none.mp4")
    assert tls_context.cache_info().currsize == 0  # ~30 ms saved on every emulator run


def test_httpx_command_line_tool_is_loaded_only_when_called() -> None:
    # A fresh interpreter: this test process imported httpx before qwenvid, so the stand-in is not used here.
    code = (
        "import sys, qwenvid.wire.client, httpx\n"
        "print(sorted(name for name in ('rich', 'pygments', 'click') if name in sys.modules))\n"
        "httpx.main(['--help'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.splitlines()[0] == "[]"  # ~100 modules never loaded by qwenvid's own use of httpx
    assert "A next generation HTTP client" in result.stdout  # yet `httpx.main` still works


# ---- the tone track: encoded until the encoder settles, then copied -------------------------------


def _tone_file(path: Path, seconds: float, *, settled_copies: bool) -> Path:
    """An MP4 with only the emulator's tone: through ToneTrack, or every frame through the encoder."""
    total = round(seconds * AUDIO_RATE)
    with av.open(str(path), "w", format="mp4") as container:
        stream = _add_audio_stream(container)
        track, chunk = ToneTrack(stream), _tone_chunk()
        done = 0
        while done < total:
            samples = min(AUDIO_FRAME_SAMPLES, total - done)
            container.mux(track.encode(samples, done) if settled_copies
                          else stream.encode(_audio_frame(chunk, samples, done)))
            done += samples
        container.mux(track.flush() if settled_copies else stream.encode(None))
    return path


def _decoded(path: Path) -> tuple[bytes, float]:
    with av.open(str(path)) as container:
        samples = b"".join(bytes(frame.planes[0])[: frame.samples * 4] for frame in container.decode(audio=0))
        return samples, float(container.duration or 0) / av.time_base


@pytest.mark.parametrize("seconds", [0.5, 5.0])
def test_tone_track_is_byte_for_byte_a_full_encode(tmp_path: Path, seconds: float) -> None:
    full = _tone_file(tmp_path / "full.mp4", seconds, settled_copies=False)
    copied = _tone_file(tmp_path / "copied.mp4", seconds, settled_copies=True)
    assert full.read_bytes() == copied.read_bytes()


def test_a_long_tone_track_sounds_exactly_like_a_full_encode(tmp_path: Path) -> None:
    # Past 255 packets the encoder varies one packet now and then; the decoded sound stays identical.
    full = _decoded(_tone_file(tmp_path / "full.mp4", 12.3, settled_copies=False))
    copied = _decoded(_tone_file(tmp_path / "copied.mp4", 12.3, settled_copies=True))
    assert copied == full and full[1] == pytest.approx(12.3, abs=0.03)


@pytest.mark.parametrize("size", [(1920, 1080), (480, 832), (64, 64)])
def test_frames_converted_by_strips_look_like_whole_conversions(size: tuple[int, int]) -> None:
    from PIL import ImageChops

    from qwenvid.emulator import render

    width, height = size
    job = RenderJob("wan2.6-t2v", "A kitten running in the moonlight", width, height, 2.0, False)
    unit = max(12, height // 36)
    still = render._background(None, job)
    caption = render._caption(job, unit)
    still.paste(caption, (unit, unit), caption)
    frames = render._distinct_frames(job)
    assert len(frames) == 4
    for step, frame in enumerate(frames):
        picture = still.copy()
        render._draw_progress(picture, job, step / 3, unit)
        whole = av.VideoFrame.from_image(picture).reformat(format="yuv420p")
        difference = ImageChops.difference(frame.to_image(), whole.to_image()).getextrema()
        assert max(high for _, high in difference) <= 6, step  # the same picture, to rounding at the seam


# ---- the same, as a person sees it in a real terminal ------------------------------------------------


@pytest.mark.slow
def test_emulator_command_in_a_real_terminal(tmp_path: Path) -> None:
    import re

    from tests.support.terminal import Terminal

    terminal = Terminal("emulator", "--port", "0", env=dict(os.environ), cwd=tmp_path)
    terminal.expect("DASHSCOPE_HTTP_BASE_URL=")
    found = re.search(r"http://127\.0\.0\.1:\d+/api/v1", terminal.text)
    assert found and terminal.text.lstrip().startswith(found.group(0))  # the URL is the first line
    url = found.group(0)
    task_id = httpx.post(url + T2V_PATH, json=BODY, headers=HEADERS).json()["output"]["task_id"]
    terminal.expect(f"POST /api/v1{T2V_PATH} 200 task {task_id} PENDING")
    terminal.child.kill(signal.SIGINT)  # Ctrl-C stops it quietly
    assert terminal.finish(timeout=20) == 0
    assert "Traceback" not in terminal.text


@pytest.mark.slow
def test_an_emulator_fault_and_the_progress_in_one_real_terminal(tmp_path: Path) -> None:
    from tests.support.terminal import Terminal

    args = ["t2v", "A kitten", *SMALL, "--emulator-fault", "fail:DataInspectionFailed:1"]
    terminal = Terminal(*args, env={**os.environ, "TERM": "xterm-256color"}, cwd=tmp_path)
    terminal.expect("submitted")
    terminal.expect("DataInspectionFailed")
    assert terminal.finish() == 10


def test_an_unreadable_env_file_leaves_the_emulator_without_a_shared_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qwenvid.config import emulator_render_cache

    monkeypatch.delenv("QWENVID_HOME")
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_bytes(b"QWENVID_HOME=\xff\xfe\n")
    assert emulator_render_cache() is None  # the emulator still runs, rendering into its own folder
