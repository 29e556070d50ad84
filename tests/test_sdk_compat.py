"""The official `dashscope` SDK runs unchanged against the emulator: submit, wait, fetch, cancel, list, upload."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import dashscope
import httpx
import pytest
from dashscope import VideoSynthesis
from dashscope.client import base_api

from qwenvid.emulator.config import ManualClock
from qwenvid.emulator.server import EmulatorThread
from tests.support.emulator import probe_mp4
from tests.support.media_files import make_image


@pytest.fixture
def sdk(emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str,
        monkeypatch: pytest.MonkeyPatch) -> EmulatorThread:
    """Point the SDK at the emulator; its wait() loop sleeps on the emulator's manual clock, not for real."""
    monkeypatch.setattr(dashscope, "base_http_api_url", emulator.base_url)
    monkeypatch.setattr(dashscope, "api_key", canary_key)
    monkeypatch.setattr(base_api, "time", SimpleNamespace(sleep=manual_clock.sleep, time=time.time))
    return emulator


def test_async_call_wait_fetch(sdk: EmulatorThread, manual_clock: ManualClock) -> None:
    submitted = VideoSynthesis.async_call(model="wan2.2-t2v-plus", prompt="A kitten in the moonlight",
                                          size="832*480")
    assert submitted.status_code == 200 and submitted.output.task_status == "PENDING"
    started = manual_clock.time()
    done = VideoSynthesis.wait(submitted)
    fetched = VideoSynthesis.fetch(submitted.output.task_id)

    assert done.status_code == 200 and done.output.task_status == "SUCCEEDED"
    assert manual_clock.time() - started >= 1.5  # the SDK slept on our clock (1, 1, ...)
    assert fetched.output.video_url == done.output.video_url
    assert done.usage["video_duration"] == 5
    video = httpx.get(done.output.video_url).content
    facts = probe_mp4(video)
    assert (facts.width, facts.height, facts.frames) == (832, 480, 150)


def test_call_is_async_call_plus_wait(sdk: EmulatorThread) -> None:
    result = VideoSynthesis.call(model="wan2.6-t2v", prompt="Waves", size="1280*720", duration=2,
                                 prompt_extend=False, seed=7)
    assert result.status_code == 200 and result.output.task_status == "SUCCEEDED"
    assert result.usage["output_video_duration"] == 2 and result.usage["SR"] == 720


def test_cancel_pending_and_refusal(sdk: EmulatorThread) -> None:
    pending = VideoSynthesis.async_call(model="wan2.2-t2v-plus", prompt="A bridge", size="832*480")
    canceled = VideoSynthesis.cancel(pending)
    again = VideoSynthesis.cancel(pending)
    status = VideoSynthesis.fetch(pending)
    assert canceled.status_code == 200
    assert again.status_code == 400 and again.code == "UnsupportedOperation"
    assert status.output.task_status == "CANCELED"


def test_list(sdk: EmulatorThread) -> None:
    submitted = VideoSynthesis.async_call(model="wan2.2-t2v-plus", prompt="A list entry", size="832*480")
    listed = VideoSynthesis.list(model_name="wan2.2-t2v-plus", page_size=5)  # type: ignore[attr-defined]  # inherited, untyped
    assert listed.status_code == 200
    assert listed.output["total"] == 1 and listed.output["page_size"] == 5
    assert listed.output["data"][0]["task_id"] == submitted.output.task_id


def test_submit_error_comes_back_as_a_response(sdk: EmulatorThread) -> None:
    refused = VideoSynthesis.async_call(model="wan2.6-t2v", prompt="x", size="999*999")
    assert refused.status_code == 400 and refused.code == "InvalidParameter"
    assert "999*999" in refused.message


def test_local_file_upload_resolves_through_oss(sdk: EmulatorThread, tmp_path: Path) -> None:
    """img_url='file://...' makes the SDK get a policy, post the OSS form and send oss:// with the resolve header."""
    image = make_image(tmp_path / "portrait.png", 750, 1000)
    submitted = VideoSynthesis.async_call(model="wan2.6-i2v-flash", img_url=f"file://{image}", prompt="wave",
                                          resolution="720P", duration=2, audio=False)
    assert submitted.status_code == 200, submitted.message
    done = VideoSynthesis.wait(submitted)
    assert done.output.task_status == "SUCCEEDED"
    assert sdk.state.upload_count() == 1
    task = sdk.state.tasks[0]
    assert str(task.body["input"]["img_url"]).startswith("oss://dashscope-instant/")
    facts = probe_mp4(httpx.get(done.output.video_url).content)
    assert (facts.width, facts.height, facts.audio_codecs) == (816, 1104, ())  # the uploaded image's aspect
    assert done.usage["audio"] is False
