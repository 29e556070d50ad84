"""Local input files: what they are (Pillow for images, PyAV for video and audio) and whether a model takes them."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qwenvid.catalogue import AudioLimits, ImageLimits, MediaKind, VideoLimits
from qwenvid.errors import ValidationError

# PyAV names the ISO-BMFF demuxer "mov,mp4,m4a,3gp,3g2,mj2"; the file extension tells MP4 from MOV.
_ISO_FAMILY = ("mov", "mp4", "m4a", "m4v", "3gp", "3g2", "mj2")


@dataclass(frozen=True)
class ImageInfo:
    format: str  # Pillow's name: JPEG, PNG, BMP, WEBP, ...
    width: int
    height: int
    has_alpha: bool
    size: int  # bytes


@dataclass(frozen=True)
class VideoInfo:
    format: str  # mp4, mov, webm, ...
    duration: float
    width: int
    height: int
    has_audio: bool
    size: int


@dataclass(frozen=True)
class AudioInfo:
    format: str  # wav, mp3, ...
    duration: float
    size: int


def _unreadable(path: Path, what: str, field: str, detail: object) -> ValidationError:
    return ValidationError(f"{field} {path}: not a readable {what} ({detail})", field=field, value=str(path))


_OTHER_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


def require_file(value: str | Path, field: str) -> int:
    """The size of the local input file `value`, or a ValidationError saying exactly why it cannot be used."""
    text = str(value)
    if not text.strip():
        raise ValidationError(f"{field} is empty; give a local file or a URL.", field=field, value=text)
    if isinstance(value, str) and _OTHER_SCHEME.match(text):
        raise ValidationError(
            f"{field} {text}: only http://, https://, oss:// and data: URLs can be sent (or a local file).",
            field=field,
            value=text,
        )
    path = Path(text).expanduser()
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ValidationError(f"{field} {text}: no such file", field=field, value=text) from None
    except (OSError, ValueError) as exc:  # too long a name, a NUL, a file where a folder should be, ...
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ValidationError(f"{field} {text}: cannot be used ({reason})", field=field, value=text) from None
    if path.is_dir():
        raise ValidationError(f"{field} {text} is a folder; give a file or a URL.", field=field, value=text)
    if not path.is_file():
        raise ValidationError(f"{field} {text} is not a regular file.", field=field, value=text)
    if not os.access(path, os.R_OK):
        raise ValidationError(f"{field} {text}: permission denied (the file is not readable).", field=field, value=text)
    if stat.st_size == 0:
        raise ValidationError(f"{field} {text} is empty (0 bytes): nothing to send.", field=field, value=text)
    return stat.st_size


def check_url(value: str, field: str) -> None:
    """A URL input that cannot be fetched as written is refused before anything is sent."""
    from urllib.parse import urlsplit

    def refuse(why: str) -> ValidationError:
        return ValidationError(f"{field} {value[:80]}: {why}.", field=field, value=value)

    if value.startswith("data:"):
        media_type = value[5:].partition(",")[0].split(";")[0]
        if "," not in value or "/" not in media_type:
            raise refuse("a data: URL looks like data:image/png;base64,... (a media type, then the data)")
        return
    if value.startswith("oss://"):
        if not value[6:].strip("/"):
            raise refuse("an oss:// URL names a bucket and a key")
        return
    try:
        host = urlsplit(value).hostname
        urlsplit(value).port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise refuse(f"not a valid URL ({exc})") from None
    if not host or any(char.isspace() for char in value):
        raise refuse("not a valid URL (it needs a host, and no spaces)")


def _require_file(path: Path, field: str) -> int:
    return require_file(path, field)


def inspect_image(path: str | Path, *, field: str = "image") -> ImageInfo:
    """Format, size and alpha channel of an image file (Pillow reads only the header)."""
    from qwenvid.media.safe_open import open_image

    path = Path(path)
    size = _require_file(path, field)
    with open_image(path, field=field) as image:
        image_format = str(image.format or "")
        width, height = image.size
        has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    return ImageInfo(image_format, width, height, has_alpha, size)


def _container_format(container: Any, path: Path) -> str:
    names = str(container.format.name).split(",")
    suffix = path.suffix.lower().lstrip(".")
    if names[0] in _ISO_FAMILY:
        return suffix if suffix in _ISO_FAMILY else "mp4"
    return names[0]


def _seconds(container: Any, stream: Any) -> float:
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / 1_000_000
    if stream is not None and stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return 0.0


def _is_still_image(container: Any) -> bool:
    """FFmpeg opens PNG/JPEG files as one-frame "videos" through its image demuxers."""
    name = str(container.format.name)
    return name.endswith("_pipe") or name in ("image2", "gif", "apng", "webp")


def inspect_video(path: str | Path, *, field: str = "video") -> VideoInfo:
    """Container format, duration, frame size and audio track of a video file."""
    from qwenvid.media.safe_open import check_complete, open_container

    path = Path(path)
    size = _require_file(path, field)
    with open_container(path, field=field, what="video") as container:
        if not container.streams.video:
            raise _unreadable(path, "video", field, "no video track")
        if _is_still_image(container):
            raise _unreadable(path, "video", field, "it is a still image")
        check_complete(path, field=field)  # a truncated copy passes a header probe
        video = container.streams.video[0]
        return VideoInfo(
            format=_container_format(container, path),
            duration=_seconds(container, video),
            width=int(video.codec_context.width or 0),
            height=int(video.codec_context.height or 0),
            has_audio=bool(container.streams.audio),
            size=size,
        )


def inspect_audio(path: str | Path, *, field: str = "audio") -> AudioInfo:
    """Container format and duration of an audio file."""
    from qwenvid.media.safe_open import check_complete, open_container

    path = Path(path)
    size = _require_file(path, field)
    with open_container(path, field=field, what="audio file") as container:
        if not container.streams.audio:
            raise _unreadable(path, "audio file", field, "no audio track")
        check_complete(path, field=field, what="audio")
        return AudioInfo(_container_format(container, path), _seconds(container, container.streams.audio[0]), size)


# ---------------------------------------------------------------------------------------------
# Checks against a model's limits
# ---------------------------------------------------------------------------------------------


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


class FixableInputError(ValidationError):
    """A readable input outside a model's limits that `qwenvid media fit` can bring inside them."""


def _fail(
    field: str, path: Path, problem: str, allowed: str, value: object, *, fixable: bool = True
) -> ValidationError:
    kind = FixableInputError if fixable else ValidationError
    return kind(f"{field} {path}: {problem}; allowed: {allowed}", field=field, value=value, allowed=allowed)


def _check_bytes(field: str, path: Path, size: int, limit: int, *, fixable: bool = True) -> None:
    if size > limit:
        raise _fail(
            field, path, f"{_megabytes(size)} is too large", f"at most {_megabytes(limit)}", size, fixable=fixable
        )


def _check_aspect(field: str, path: Path, width: int, height: int, max_aspect: float | None) -> None:
    if max_aspect and height and width and max(width / height, height / width) > max_aspect:
        allowed = f"aspect between 1:{max_aspect:g} and {max_aspect:g}:1"
        raise _fail(field, path, f"aspect ratio {width}x{height} is too extreme", allowed, f"{width}x{height}")


def _check_image(path: Path, limits: ImageLimits, field: str, lenient: bool) -> ImageInfo:
    info = inspect_image(path, field=field)
    if info.format.upper() not in limits.formats:
        raise _fail(
            field, path, f"format {info.format or 'unknown'} is not accepted", ", ".join(limits.formats), info.format
        )
    if info.has_alpha and not limits.alpha_allowed:
        raise _fail(
            field,
            path,
            f"{info.format} with transparency (alpha channel) is not accepted",
            "images without alpha (flatten it, or save as JPEG)",
            "alpha",
        )
    low, high = limits.px_range(lenient)
    if not (low <= info.width <= high and low <= info.height <= high):
        raise _fail(
            field,
            path,
            f"{info.width}x{info.height} px is out of range",
            f"width and height {low}-{high} px",
            f"{info.width}x{info.height}",
        )
    _check_aspect(field, path, info.width, info.height, limits.max_aspect)
    _check_bytes(field, path, info.size, limits.byte_limit(lenient))
    return info


def _check_seconds(field: str, path: Path, seconds: float, low: float, high: float) -> None:
    # A container's duration can overshoot by a frame or a codec delay; allow 0.1 s.
    if seconds + 0.1 < low or seconds - 0.1 > high:
        allowed = f"{low:g}-{high:g} s" if low else f"at most {high:g} s"
        # Too long can be cut; too short cannot be lengthened.
        too_long = seconds - 0.1 > high
        raise _fail(
            field, path, f"duration {seconds:.2f} s is out of range", allowed, round(seconds, 3), fixable=too_long
        )


def _check_video(path: Path, limits: VideoLimits, field: str) -> VideoInfo:
    info = inspect_video(path, field=field)
    if info.format not in limits.formats:
        raise _fail(field, path, f"format {info.format} is not accepted", ", ".join(limits.formats), info.format)
    _check_seconds(field, path, info.duration, limits.min_seconds, limits.max_seconds)
    if limits.min_px is not None and limits.max_px is not None:
        if not (limits.min_px <= info.width <= limits.max_px and limits.min_px <= info.height <= limits.max_px):
            raise _fail(
                field,
                path,
                f"{info.width}x{info.height} px is out of range",
                f"width and height {limits.min_px}-{limits.max_px} px",
                f"{info.width}x{info.height}",
            )
    _check_aspect(field, path, info.width, info.height, limits.max_aspect)
    _check_bytes(field, path, info.size, limits.max_bytes, fixable=False)  # fit does not squeeze bitrates
    return info


def _check_audio(path: Path, limits: AudioLimits, field: str) -> AudioInfo:
    info = inspect_audio(path, field=field)
    if info.format not in limits.formats:
        raise _fail(field, path, f"format {info.format} is not accepted", ", ".join(limits.formats), info.format)
    _check_seconds(field, path, info.duration, limits.min_seconds, limits.max_seconds)
    _check_bytes(field, path, info.size, limits.max_bytes)
    return info


def check_local_file(
    path: str | Path,
    kind: MediaKind,
    limits: ImageLimits | VideoLimits | AudioLimits | None,
    *,
    field: str,
    lenient: bool = False,
) -> ImageInfo | VideoInfo | AudioInfo:
    """Check a local input against a model's limits; raise ValidationError naming `field`, the file and the limit.

    `limits=None` checks only that the file exists and is a readable file of its kind. `lenient`
    uses the wider reading where the sources disagree (dashscope-api.md §8.4; images only).
    """
    path = Path(path)
    if kind == "image":
        if isinstance(limits, ImageLimits):
            return _check_image(path, limits, field, lenient)
        return inspect_image(path, field=field)
    if kind == "video":
        if isinstance(limits, VideoLimits):
            return _check_video(path, limits, field)
        return inspect_video(path, field=field)
    if isinstance(limits, AudioLimits):
        return _check_audio(path, limits, field)
    return inspect_audio(path, field=field)
