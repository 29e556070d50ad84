"""Result videos from the emulator: real MP4s of the requested size, signed URLs, Range, HEAD, expiry, padding."""

from __future__ import annotations

import base64
import io
import resource
import struct
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image

from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.render import RenderJob, free_box_header, pad_mp4, render_video
from qwenvid.emulator.server import EmulatorThread
from tests.support.emulator import KF2V_PATH, T2V_PATH, api_client, probe_mp4, run_to_end, submit_ok

SMALL: dict[str, Any] = {"model": "wan2.2-t2v-plus", "input": {"prompt": "A lighthouse at dusk"},
                         "parameters": {"size": "832*480"}}


def _png(width: int, height: int, colour: tuple[int, int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def finished_url(emulator: EmulatorThread, body: dict[str, Any] = SMALL, path: str = T2V_PATH) -> str:
    with api_client(emulator) as client:
        done = run_to_end(emulator, client, submit_ok(client, body, path))
    assert done["output"]["task_status"] == "SUCCEEDED", done
    return str(done["output"]["video_url"])


# ---- rendered videos ----------------------------------------------------------------------

RED, BLUE = (220, 30, 30), (30, 30, 220)


@pytest.mark.parametrize(
    ("body", "path", "size", "seconds", "audio"),
    [
        (SMALL, T2V_PATH, (832, 480), 5, False),
        ({"model": "wan2.6-t2v", "input": {"prompt": "rain"}, "parameters": {"size": "1280*720", "duration": 2}},
         T2V_PATH, (1280, 720), 2, True),
        ({"model": "wan2.7-t2v", "input": {"prompt": "rain"},
          "parameters": {"resolution": "720P", "ratio": "3:4", "duration": 3}}, T2V_PATH, (832, 1104), 3, True),
        ({"model": "wan2.6-i2v-flash", "input": {"img_url": _png(640, 480, RED)},
          "parameters": {"resolution": "720P", "duration": 2, "audio": False}}, T2V_PATH, (1104, 816), 2, False),
        ({"model": "wan2.6-i2v-flash", "input": {"img_url": _png(480, 640, RED)},
          "parameters": {"resolution": "720P", "duration": 2}}, T2V_PATH, (816, 1104), 2, True),
        ({"model": "wan2.2-kf2v-flash", "input": {"first_frame_url": _png(480, 480, RED),
                                                  "last_frame_url": _png(480, 480, BLUE)},
          "parameters": {"resolution": "480P"}}, KF2V_PATH, (624, 624), 5, False),
    ],
    ids=["t2v-silent", "t2v-audio", "wan27-ratio", "i2v-audio-off", "i2v-portrait", "kf2v"],
)
def test_rendered_mp4_matches_the_request(emulator: EmulatorThread, body: dict[str, Any], path: str,
                                          size: tuple[int, int], seconds: int, audio: bool) -> None:
    video = httpx.get(finished_url(emulator, body, path)).content
    facts = probe_mp4(video)
    assert facts.video_codec == "h264" and facts.fps == 30
    assert (facts.width, facts.height) == size
    assert facts.frames == 30 * seconds
    assert abs(facts.duration - seconds) < 0.1
    assert facts.audio_codecs == (("aac",) if audio else ())


def test_kf2v_goes_from_first_to_last_frame(emulator: EmulatorThread) -> None:
    body = {"model": "wan2.2-kf2v-flash", "input": {"first_frame_url": _png(480, 480, RED),
                                                    "last_frame_url": _png(480, 480, BLUE)},
            "parameters": {"resolution": "480P"}}
    video = httpx.get(finished_url(emulator, body, KF2V_PATH)).content
    with av.open(io.BytesIO(video), mode="r") as container:
        frames = [frame.to_image() for frame in container.decode(video=0)]
    first = frames[0].getpixel((312, 450))
    last = frames[-1].getpixel((312, 450))
    assert first[0] > 150 > first[2] and last[2] > 150 > last[0]


# ---- serving ------------------------------------------------------------------------------


def test_download_needs_no_key_and_refuses_one(emulator: EmulatorThread) -> None:
    url = finished_url(emulator)
    plain = httpx.get(url)
    with_key = httpx.get(url, headers={"Authorization": "Bearer sk-canary-0123456789abcdef"})
    assert plain.status_code == 200 and plain.headers["content-type"] == "video/mp4"
    assert plain.headers["accept-ranges"] == "bytes"
    assert with_key.status_code == 400 and "<Code>InvalidArgument</Code>" in with_key.text
    assert emulator.state.auth_on_download == 1


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=100-199", 100, 199), ("bytes=1000-", 1000, None), ("bytes=-50", -50, None)],
)
def test_range_downloads(emulator: EmulatorThread, header: str, start: int, end: int | None) -> None:
    url = finished_url(emulator)
    whole = httpx.get(url).content
    part = httpx.get(url, headers={"Range": header})
    expected = whole[start: None if end is None else end + 1]
    assert part.status_code == 206
    assert part.content == expected
    first = start if start >= 0 else len(whole) + start
    assert part.headers["content-range"] == f"bytes {first}-{first + len(expected) - 1}/{len(whole)}"


def test_head_reports_the_size_without_a_body(emulator: EmulatorThread) -> None:
    url = finished_url(emulator)
    head = httpx.head(url)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(httpx.get(url).content)


def test_result_url_expires(emulator: EmulatorThread, manual_clock: ManualClock) -> None:
    url = finished_url(emulator)
    manual_clock.advance(24 * 3600 - 3600 - 60)  # run_to_end already moved an hour
    before = httpx.get(url)
    manual_clock.advance(120)
    after = httpx.get(url)
    head = httpx.head(url)
    assert before.status_code == 200
    assert after.status_code == 403 and "<Message>Request has expired.</Message>" in after.text
    assert after.headers["content-type"].startswith("application/xml")
    assert head.status_code == 403


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda url: url.replace("Signature=", "Signature=x"), "SignatureDoesNotMatch"),
        (lambda url: url.replace("Expires=", "Expires=9"), "SignatureDoesNotMatch"),
        (lambda url: url.split("?")[0], "AccessDenied"),
    ],
    ids=["signature", "expires", "unsigned"],
)
def test_tampered_result_url_is_refused(emulator: EmulatorThread, change: Any, code: str) -> None:
    response = httpx.get(change(finished_url(emulator)))
    assert response.status_code == 403 and f"<Code>{code}</Code>" in response.text


# ---- padding (benchmarks download 1 GiB this way) -------------------------------------------


@pytest.mark.parametrize("size", [60, 2**32 + 100])
def test_free_box_header_sizes(size: int) -> None:
    header = free_box_header(size)
    if size < 2**32:
        assert header == struct.pack(">I4s", size, b"free")
    else:
        assert header[:8] == struct.pack(">I4s", 1, b"free") and struct.unpack(">Q", header[8:])[0] == size


def test_padded_file_is_exact_and_still_a_valid_mp4(tmp_path: Path) -> None:
    source = tmp_path / "small.mp4"
    render_video(RenderJob(model="m", prompt="p", width=320, height=240, seconds=1, audio=True), source)
    padded = tmp_path / "padded.mp4"
    pad_mp4(source, padded, 5 * 1024 * 1024 + 7)
    facts = probe_mp4(padded)
    assert padded.stat().st_size == 5 * 1024 * 1024 + 7
    assert (facts.width, facts.height, facts.frames) == (320, 240, 30)


def test_padded_result_streams_in_bounded_memory(make_emulator: Any) -> None:
    size = 256 * 1024 * 1024
    emulator = make_emulator(EmulatorConfig(result_padding_bytes=size), clock=ManualClock())
    url = finished_url(emulator)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    received = 0
    head = b""
    with httpx.stream("GET", url) as response:
        assert int(response.headers["content-length"]) == size
        for chunk in response.iter_bytes(1 << 20):
            if len(head) < 64:
                head += chunk[:64]
            received += len(chunk)
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert received == size
    assert head[4:8] == b"ftyp"
    assert grown_mib < 64, f"peak memory grew by {grown_mib:.0f} MiB while streaming {size >> 20} MiB"
