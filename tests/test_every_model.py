"""Every model in the catalogue, end to end through the library against the emulator.

For each model: a minimal valid request with local inputs (uploaded through the policy + form flow and
resolved through oss://), the shortest duration and the smallest output it allows; the run must end in a
verified MP4 whose duration, size and audio track are what the request promised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qwenvid.catalogue import MODELS, ModelSpec, expected_output, parse_size
from qwenvid.config import load_settings
from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.requests.performer_requests import AnimateRequest, S2VRequest
from qwenvid.requests.shapes import I2VRequest, KF2VRequest, R2VRequest, T2VRequest, VaceRequest
from qwenvid.tasks.session import NullReporter, RunOptions, Session
from tests.support.emulator import probe_mp4
from tests.support.media_files import make_image, make_wav
from tests.support.videos import make_mp4


def shortest(spec: ModelSpec) -> int | None:
    rule = spec.durations
    if not rule.parameter:
        return None
    allowed = list(rule.choices) + ([rule.min] if rule.min is not None else [])
    return min(allowed) if allowed else rule.default


def smallest_output(spec: ModelSpec) -> dict[str, Any]:
    if spec.resolution_field == "size":
        size = min(spec.sizes, key=lambda s: parse_size(s)[0] * parse_size(s)[1])
        return {"size": size}
    resolution = min(spec.resolutions, key=lambda r: int(r.rstrip("P")))
    return {"resolution": resolution}


def request_for(spec: ModelSpec, files: dict[str, str]) -> Any:
    common: dict[str, Any] = {"model": spec.id, "duration": shortest(spec), **smallest_output(spec)}
    if spec.mode == "t2v":
        return T2VRequest(prompt=f"A lighthouse at night ({spec.id})", **common)
    if spec.mode == "i2v":
        return I2VRequest(prompt="The light turns", image=files["image"], **common)
    if spec.mode == "kf2v":
        return KF2VRequest(prompt="Day to night", first_frame=files["image"], last_frame=files["image2"], **common)
    if spec.mode == "r2v":
        return R2VRequest(prompt="character1 waves", refs=[files["image"]], **common)
    if spec.mode == "s2v":
        return S2VRequest(model=spec.id, image=files["image"], speech=files["audio"], **smallest_output(spec))
    if spec.mode == "animate":
        return AnimateRequest(model=spec.id, image=files["image"], video=files["video"])
    if spec.functions == ("instruct",):
        return VaceRequest(function="instruct", prompt="Make it snow", video=files["video"], **common)
    return VaceRequest(
        function="image_reference", prompt="A lighthouse", ref_images=[files["image"]], obj_or_bg=["obj"], **common
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("inputs")
    return {
        "image": str(make_image(folder / "first.png", 640, 480)),
        "image2": str(make_image(folder / "last.png", 640, 480)),
        "video": str(make_mp4(folder / "clip.mp4", width=640, height=360, seconds=3.0)),  # HappyHorse: 3 s, 360 px
        "audio": str(make_wav(folder / "voice.wav", 3.0)),
    }


@pytest.mark.parametrize("spec", MODELS, ids=[spec.id for spec in MODELS])
def test_every_model_runs_to_a_verified_video(
    spec: ModelSpec, files: dict[str, str], make_emulator: Any, canary_key: str, tmp_path: Path
) -> None:
    clock = ManualClock()
    emulator = make_emulator(EmulatorConfig(), clock=clock)
    settings = load_settings(api_key=canary_key, base_url=emulator.base_url)
    with Session(settings, clock=clock, sleep=clock.sleep) as session:
        plan = session.plan(request_for(spec, files))
        assert plan.warnings == []
        result = session.run(plan, RunOptions(output=tmp_path), NullReporter())
    assert result.status == "SUCCEEDED" and result.video_path is not None
    (task,) = emulator.state.tasks
    urls = _urls(task.body["input"])
    assert all(not url.startswith(("/", "file:")) for url in urls)  # no local path ever reaches the server
    assert (spec.mode == "t2v") == (not any(url.startswith("oss://") for url in urls))  # uploads resolved
    promised = expected_output(spec.id, task.body)
    assert promised is not None
    facts = probe_mp4(result.video_path)
    assert facts.video_codec == "h264" and facts.fps == 30
    if promised.duration is not None:
        assert abs(facts.duration - promised.duration) < 0.2
    if promised.width is not None:
        assert (facts.width, facts.height) == (promised.width, promised.height)
    if promised.has_audio is not None:
        assert bool(facts.audio_codecs) == promised.has_audio
    assert result.billed_seconds is not None and result.billed_seconds > 0  # read from the task's usage


def _urls(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if "://" in value or value.startswith("/") else []
    if isinstance(value, dict):
        return [url for item in value.values() for url in _urls(item)]
    if isinstance(value, list):
        return [url for item in value for url in _urls(item)]
    return []


ALIASES = [(spec, alias) for spec in MODELS for alias in spec.aliases]


@pytest.mark.parametrize(("spec", "alias"), ALIASES, ids=[alias for _, alias in ALIASES])
def test_regional_and_snapshot_names_are_the_same_model(
    spec: ModelSpec, alias: str, files: dict[str, str], make_emulator: Any, canary_key: str
) -> None:
    """`wanx2.1-*` (Beijing), `-us` and dated snapshots validate, bill and submit under their own name."""
    clock = ManualClock()
    emulator = make_emulator(EmulatorConfig(), clock=clock)
    settings = load_settings(api_key=canary_key, base_url=emulator.base_url)
    request = request_for(spec, files)
    request.model = alias
    with Session(settings, clock=clock, sleep=clock.sleep) as session:
        plan = session.plan(request)
        assert plan.warnings == [] and plan.spec is spec
        result = session.run(plan, RunOptions(detach=True), NullReporter())
    (task,) = emulator.state.tasks
    assert task.body["model"] == alias and result.task_id == task.task_id
