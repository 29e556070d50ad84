"""Emulator fixtures: a manual clock, a canary key, and emulators on loopback ports (started per test)."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from qwenvid.emulator.config import Clock, EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread

__all__ = [
    "canary_key",
    "emulator",
    "emulator_results_dir",
    "live_emulator",
    "make_emulator",
    "manual_clock",
    "stopping_emulators",
]

CANARY_KEY = "sk-canary-0123456789abcdef"
T2V_PATH = "/services/aigc/video-generation/video-synthesis"
KF2V_PATH = "/services/aigc/image2video/video-synthesis"


@pytest.fixture
def canary_key() -> str:
    """A key-shaped secret that must never show up in any output, log, ledger row or sidecar."""
    return CANARY_KEY


@pytest.fixture
def manual_clock() -> ManualClock:
    """One clock for the emulator and the code under test: `sleep` advances it, nothing sleeps for real."""
    return ManualClock()


EmulatorFactory = Callable[..., EmulatorThread]


@pytest.fixture(scope="session")
def emulator_results_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One render cache for the whole run: equal result videos are encoded once."""
    return tmp_path_factory.mktemp("emulator-results")


@pytest.fixture(scope="session")
def stopping_emulators() -> Iterator[list[EmulatorThread]]:
    """Emulators stopped without waiting (a stop takes ~0.2 s); joined once, at the end of the run."""
    stopping: list[EmulatorThread] = []
    yield stopping
    for emulator in stopping:
        emulator.join()


@pytest.fixture
def make_emulator(emulator_results_dir: Path, stopping_emulators: list[EmulatorThread]
                  ) -> Iterator[EmulatorFactory]:
    """Start emulators with any config / clock: `make_emulator(EmulatorConfig(...), clock=...)`; all stop after.

    `request_log=lines.append` collects one line per answered request (qwenvid/emulator/request_log.py)."""
    started: list[EmulatorThread] = []

    def make(
        config: EmulatorConfig | None = None,
        clock: Clock | None = None,
        request_log: Callable[[str], None] | None = None,
        **options: Any,
    ) -> EmulatorThread:
        config = config or EmulatorConfig(**options)
        if config.results_dir is None:
            config = replace(config, results_dir=emulator_results_dir)
        emulator = EmulatorThread(config, clock=clock, request_log=request_log)
        started.append(emulator.start())
        return emulator

    yield make
    for emulator in started:
        emulator.stop(wait=False)
        stopping_emulators.append(emulator)


@pytest.fixture
def emulator(make_emulator: EmulatorFactory, manual_clock: ManualClock) -> EmulatorThread:
    """The default emulator on the shared manual clock (fast timings, limits on)."""
    return make_emulator(EmulatorConfig(), clock=manual_clock)


@pytest.fixture
def live_emulator(make_emulator: EmulatorFactory) -> EmulatorThread:
    """An emulator on the real clock with short timings, for end-to-end runs that really wait a little."""
    return make_emulator(EmulatorConfig(pending_seconds=0.05, running_seconds=0.2))


# ---------------------------------------------------------------------------------------------
# Helpers for raw-HTTP tests against an emulator
# ---------------------------------------------------------------------------------------------


def api_client(emulator: EmulatorThread, key: str | None = CANARY_KEY, **headers: str) -> httpx.Client:
    """An httpx client on the emulator's API base with the key and the async header set."""
    sent = {"X-DashScope-Async": "enable", **headers}
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    return httpx.Client(base_url=emulator.base_url, headers=sent, timeout=10)


def submit_ok(client: httpx.Client, body: dict[str, Any], path: str = T2V_PATH, **kwargs: Any) -> str:
    """Submit and return the task id, failing the test with the server's words if it was refused."""
    response = client.post(path, json=body, **kwargs)
    assert response.status_code == 200, response.text
    return str(response.json()["output"]["task_id"])


def run_to_end(emulator: EmulatorThread, client: httpx.Client, task_id: str) -> dict[str, Any]:
    """Let the render finish, move the manual clock past the task's time, and return the query body."""
    assert emulator.state.wait_rendered(60)
    emulator.manual_clock.advance(3600)
    response = client.get(f"/tasks/{task_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@dataclass(frozen=True)
class Mp4Facts:
    video_codec: str
    fps: float
    width: int
    height: int
    frames: int
    duration: float
    audio_codecs: tuple[str, ...]


def probe_mp4(source: bytes | Path) -> Mp4Facts:
    """What PyAV sees in an MP4 (bytes or a path)."""
    opened = av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source), mode="r")
    with opened as container:
        video = container.streams.video[0]
        duration = float(container.duration or 0) / av.time_base
        return Mp4Facts(
            video_codec=video.codec_context.name,
            fps=float(video.average_rate or 0),
            width=video.width,
            height=video.height,
            frames=video.frames,
            duration=duration,
            audio_codecs=tuple(stream.codec_context.name for stream in container.streams.audio),
        )
