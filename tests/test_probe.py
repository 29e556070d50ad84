"""probe_video on real MP4 files written with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from qwenvid.errors import DownloadError
from qwenvid.media.probe import probe_video
from tests.support.videos import make_mp4


@pytest.mark.parametrize(
    ("width", "height", "seconds", "audio"),
    [
        (64, 48, 1.0, False),
        (128, 72, 2.0, True),
        (48, 64, 0.5, False),
    ],
)
def test_probe_reports_size_duration_and_tracks(tmp_path: Path, width: int, height: int, seconds: float, audio: bool):
    path = make_mp4(tmp_path / "clip.mp4", width=width, height=height, seconds=seconds, audio=audio)

    probe = probe_video(path)

    assert (probe.width, probe.height) == (width, height)
    assert probe.duration == pytest.approx(seconds, abs=0.1)
    assert probe.fps == pytest.approx(30.0)
    assert probe.video_codec == "h264"
    assert probe.has_audio is audio
    assert probe.audio_codec == ("aac" if audio else None)


def test_probe_reads_content_not_extension(tmp_path: Path):
    path = make_mp4(tmp_path / "clip.mp4")
    part = path.rename(tmp_path / "clip.mp4.part")

    assert probe_video(part).width == 64


def test_probe_to_dict_is_json_shaped(tmp_path: Path):
    probe = probe_video(make_mp4(tmp_path / "clip.mp4", audio=True))

    assert probe.to_dict() == {
        "duration": probe.duration,
        "width": 64,
        "height": 48,
        "fps": 30.0,
        "video_codec": "h264",
        "has_audio": True,
        "audio_codec": "aac",
    }


def _truncated_mp4(tmp_path: Path) -> Path:
    full = make_mp4(tmp_path / "full.mp4", seconds=1.0).read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(full[: len(full) // 3])
    return path


def _audio_only(tmp_path: Path) -> Path:
    path = tmp_path / "sound.m4a"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=48_000)
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate = 48_000
        frame.pts = 0
        frame.time_base = Fraction(1, 48_000)
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.mp4", "not a readable video"),
        (lambda tmp: (tmp / "empty.mp4", (tmp / "empty.mp4").write_bytes(b""))[0], "not a readable video"),
        (
            lambda tmp: (tmp / "text.mp4", (tmp / "text.mp4").write_text("<Error>AccessDenied</Error>"))[0],
            "not a readable video",
        ),
        (_truncated_mp4, "not a readable video"),
        (_audio_only, "no video track"),
    ],
    ids=["missing", "empty", "error-page", "truncated", "audio-only"],
)
def test_unreadable_files_raise_download_error(tmp_path: Path, make, message: str):
    path = make(tmp_path)

    with pytest.raises(DownloadError, match=message) as caught:
        probe_video(path)
    assert caught.value.exit_code == 9
