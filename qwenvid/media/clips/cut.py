"""Frame-accurate cuts: `trim` (a start and an end or a duration) and `tail` (the last N seconds)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qwenvid.media.clips._av import (
    AUDIO_RATE,
    EPS,
    AudioFeed,
    ClipError,
    VideoEncoder,
    atomic_output,
    check_output,
    frame_rate,
    normalised_audio,
    open_input,
    stream_seconds,
    video_frames,
)

# An end this far past the last frame is a frame's rounding, not a mistake (a 5 s clip ends at 4.967 s).
PAST_END_SLACK = 0.05


@dataclass(frozen=True)
class ClipResult:
    """A video file written by a clip tool."""

    path: str
    duration: float
    width: int
    height: int
    fps: float
    frames: int
    has_audio: bool
    method: str  # "copy" (packets copied) or "encode" (decoded and encoded again)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def trim(
    video: str | Path,
    output: str | Path,
    *,
    start: float = 0.0,
    end: float | None = None,
    duration: float | None = None,
    overwrite: bool = False,
) -> ClipResult:
    """Keep the frames shown from `start` up to `end` (or `start + duration`) seconds; audio cut to match.

    Frame-accurate: the first frame kept is the one whose timestamp is at or after `start`, decoded
    from the keyframe before it, so the cut does not snap to a keyframe.
    """
    path = Path(video)
    if end is not None and duration is not None:
        raise ClipError("give --end or --duration, not both", field="end", value=end)
    if start < 0:
        raise ClipError(f"--start {start:g} is negative; allowed: 0 or more seconds", field="start", value=start)
    if duration is not None:
        if duration <= 0:
            raise ClipError(f"--duration {duration:g} must be more than 0 seconds", field="duration", value=duration)
        end = start + duration
    if end is not None and end <= start:
        raise ClipError(f"--end {end:g} must be after --start {start:g}", field="end", value=end)
    out = check_output(output, (path,), overwrite=overwrite)
    with open_input(path, "video") as probe:
        length = stream_seconds(probe, probe.streams.video[0])
    if length and start >= length - EPS:
        raise ClipError(
            f"--start {start:g} is at or past the end of {path} ({length:.2f} s)", field="start", value=start
        )
    if length and end is not None and end > length + PAST_END_SLACK:
        asked = f"--end {end:g}" if duration is None else f"--start + --duration ({end:g} s)"
        raise ClipError(
            f"{asked} is past the end of {path} ({length:.2f} s); allowed: up to {length:.2f} "
            "(or leave --end out to keep everything after --start)",
            field="end",
            value=end,
        )
    return _cut(path, out, start, end)


def tail(video: str | Path, output: str | Path, *, seconds: float, overwrite: bool = False) -> ClipResult:
    """The last `seconds` of a clip (the whole clip when it is shorter: the result's `duration` says so, and
    `qwenvid media tail` warns), e.g. for VACE video_extension (<= 3 s)."""
    path = Path(video)
    if seconds <= 0:
        raise ClipError(f"--seconds {seconds:g} must be more than 0", field="seconds", value=seconds)
    out = check_output(output, (path,), overwrite=overwrite)
    with open_input(path, "video") as probe:
        stream = probe.streams.video[0]
        length = stream_seconds(probe, stream)
        # Snap the start onto a frame boundary so exactly round(seconds * fps) frames are kept.
        step = 1 / float(frame_rate(stream))
        start = max(0.0, round((length - seconds) / step) * step)
    return _cut(path, out, start, None)


def _cut(path: Path, out: Path, start: float, end: float | None) -> ClipResult:
    with open_input(path, "video") as container:
        stream = container.streams.video[0]
        fps = frame_rate(stream)
        has_audio = bool(container.streams.audio)
        origin = int(stream.start_time or 0)
        with atomic_output(out) as temp:
            encoder = VideoEncoder.open(
                temp, stream.codec_context.width, stream.codec_context.height, fps, audio=has_audio
            )
            feed = AudioFeed(normalised_audio(path, start) if has_audio else None)
            try:
                for frame in video_frames(path, container, start):
                    time = float((frame.pts - origin) * frame.time_base)
                    if time < start - EPS:
                        continue
                    if end is not None and time >= end - EPS:
                        break
                    encoder.add_frame(frame)
                    feed.fill(encoder.audio, round(encoder.frames / fps * AUDIO_RATE))
                if encoder.frames == 0:
                    raise ClipError(f"{path}: no frame between {start:g} s and {end} s", field="start", value=start)
            finally:
                feed.close()
                encoder.close()
    return result(out, method="encode")


def result(out: Path, *, method: str) -> ClipResult:
    from qwenvid.media.clips.info import video_info

    info = video_info(out)
    with open_input(out, "video") as container:
        frames = int(container.streams.video[0].frames or 0)
    return ClipResult(
        str(out), info.duration, info.width, info.height, info.fps, frames, info.audio_codec is not None, method
    )
