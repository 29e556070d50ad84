"""Exact single frames of a video (first, last, at a time) and evenly spaced thumbnails."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from qwenvid.media.clips._av import (
    EPS,
    ClipError,
    atomic_output,
    check_output,
    open_input,
    stream_seconds,
    video_frames,
)

At = float | Literal["first", "last"]


@dataclass(frozen=True)
class FrameResult:
    path: str
    source: str
    time: float  # seconds from the clip's start, of the frame written
    width: int
    height: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_at(text: str) -> At:
    """`first`, `last` or seconds (>= 0); ValueError otherwise."""
    word = text.strip().lower()
    if word in ("first", "last"):
        return word  # type: ignore[return-value]
    seconds = float(word)
    if seconds < 0 or seconds != seconds:
        raise ValueError(text)
    return seconds


def _origin(stream: Any) -> int:
    return int(stream.start_time or 0)


def grab_frame(video: str | Path, at: At = "first") -> tuple[float, Any]:
    """The frame shown at `at` (a time, or the first / the true last decoded frame) as (seconds, av.VideoFrame)."""
    path = Path(video)
    with open_input(path, "video") as container:
        stream = container.streams.video[0]
        origin = _origin(stream)
        length = stream_seconds(container, stream)
        if at == "first":
            for frame in video_frames(path, container):
                return float((frame.pts - origin) * frame.time_base), frame
            raise ClipError(f"{path}: no frame could be decoded", field="video", value=str(path))
        if at != "last" and length and at > length + EPS:
            raise ClipError(
                f"--at {at:g} is past the end of {path} ({length:.2f} s); allowed: 0-{length:.2f}, first or last",
                field="at",
                value=at,
            )
        target = max(0.0, length - 2.0) if at == "last" else float(at)
        found = _frame_at(path, container, origin, target, at == "last")
        if found is None and target > 0:  # a seek that landed past the frame: read from the start
            container.seek(0, stream=stream, backward=True)
            found = _frame_at(path, container, origin, 0.0 if at == "last" else float(at), at == "last", seek=False)
        if found is None:
            raise ClipError(f"{path}: no frame could be decoded", field="video", value=str(path))
        return found


def _frame_at(
    path: Path, container: Any, origin: int, target: float, last: bool, *, seek: bool = True
) -> tuple[float, Any] | None:
    chosen: tuple[float, Any] | None = None
    frames = video_frames(path, container, target if seek else 0.0)
    for frame in frames:
        time = float((frame.pts - origin) * frame.time_base)
        if last or time <= target + EPS:
            chosen = (time, frame)
        elif chosen is not None or time > target + EPS:
            break
    return chosen


def extract_frame(video: str | Path, output: str | Path, *, at: At = "first", overwrite: bool = False) -> FrameResult:
    """Write the frame at `at` as an image (PNG, or JPEG/WEBP by the suffix of `output`)."""
    path = Path(video)
    out = check_output(output, (path,), overwrite=overwrite)
    time, frame = grab_frame(path, at)
    image = frame.to_image()
    with atomic_output(out) as temp:
        image.save(temp, format=_image_format(out))
    return FrameResult(str(out), str(path), round(time, 4), image.width, image.height)


def _image_format(out: Path) -> str:
    suffix = out.suffix.lower()
    return {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}.get(suffix, "PNG")


def thumbnails(video: str | Path, count: int, *, width: int | None = None) -> Iterator[tuple[float, Any]]:
    """`count` evenly spaced frames as (seconds, PIL image), each resized to `width` px wide when given.

    One pass over the packets; only the frame in hand is held, so memory stays flat for long clips.
    """
    path = Path(video)
    if count < 1:
        raise ClipError(f"--frames {count}: allowed: 1 or more", field="frames", value=count)
    with open_input(path, "video") as container:
        stream = container.streams.video[0]
        origin = _origin(stream)
        length = stream_seconds(container, stream) or 1.0
        # The middle of each of `count` equal slices: no black first frame, no fade-out last one.
        targets = [length * (index + 0.5) / count for index in range(count)]
        previous: tuple[float, Any] | None = None
        for frame in video_frames(path, container):
            time = float((frame.pts - origin) * frame.time_base)
            while targets and time > targets[0] + EPS and previous is not None:
                targets.pop(0)
                yield previous[0], _thumb(previous[1], width)
            if not targets:
                return
            previous = (time, frame)
        while targets and previous is not None:
            targets.pop(0)
            yield previous[0], _thumb(previous[1], width)


def _thumb(frame: Any, width: int | None) -> Any:
    if width is None:
        return frame.to_image()
    height = max(1, round(frame.height * width / frame.width))
    return frame.reformat(width=width, height=height, format="rgb24").to_image()
