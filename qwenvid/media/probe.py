"""Read a video file's duration, frame size, frame rate and tracks with PyAV."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from qwenvid.errors import DownloadError


@dataclass(frozen=True)
class VideoProbe:
    """What a video file holds, as far as the checks after a download need to know."""

    duration: float | None
    width: int
    height: int
    fps: float | None
    video_codec: str
    has_audio: bool
    audio_codec: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def probe_video(path: str | Path) -> VideoProbe:
    """Open `path` with PyAV and describe its first video stream and whether it has audio.

    Raises DownloadError when the file cannot be read as a video (missing, empty, not a
    container PyAV knows, or a container without a video stream).
    """
    import av  # heavy import, kept out of module import time

    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise DownloadError(f"{path.name} is not a readable video: it is empty (0 bytes).")
    try:
        container = av.open(str(path), mode="r")
    except (OSError, av.FFmpegError) as exc:
        reason = re.sub(r"^\[Errno -?\d+\]\s*", "", str(exc))  # FFmpeg's errno is no help to a person
        raise DownloadError(f"{path.name} is not a readable video: {reason}") from exc
    with container:
        if not container.streams.video:
            raise DownloadError(f"{path.name} has no video track.")
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        return VideoProbe(
            duration=_duration_seconds(container, video),
            width=int(video.codec_context.width or video.width or 0),
            height=int(video.codec_context.height or video.height or 0),
            fps=_frames_per_second(video),
            video_codec=str(video.codec_context.name),
            has_audio=audio is not None,
            audio_codec=str(audio.codec_context.name) if audio is not None else None,
        )


def _duration_seconds(container: Any, video: Any) -> float | None:
    """Container duration when the muxer wrote one, else the video stream's own duration."""
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / 1_000_000  # av.time_base is microseconds
    if video.duration is not None and video.time_base is not None:
        return float(video.duration * video.time_base)
    if video.frames and video.average_rate:
        return float(Fraction(video.frames) / Fraction(video.average_rate))
    return None


def _frames_per_second(video: Any) -> float | None:
    rate = video.average_rate or video.base_rate or video.guessed_rate
    return float(rate) if rate else None
