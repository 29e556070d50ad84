"""What a media file is: container, duration, size, rate and codecs of a video or audio file; an image's format."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qwenvid.errors import ValidationError
from qwenvid.media.clips._av import ClipError, IncompleteClip, frame_rate, open_input, require_file, stream_seconds


@dataclass(frozen=True)
class VideoFileInfo:
    path: str
    container: str
    duration: float
    width: int
    height: int
    fps: float
    video_codec: str
    audio_codec: str | None
    sample_rate: int | None
    bitrate: int | None  # bits per second, the whole file
    size: int  # bytes
    kind: str = "video"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AudioFileInfo:
    path: str
    container: str
    duration: float
    audio_codec: str
    sample_rate: int
    channels: int
    bitrate: int | None
    size: int
    kind: str = "audio"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ImageFileInfo:
    path: str
    format: str
    width: int
    height: int
    mode: str
    alpha: bool
    size: int
    kind: str = "image"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


MediaFileInfo = VideoFileInfo | AudioFileInfo | ImageFileInfo


def video_info(path: str | Path) -> VideoFileInfo:
    """Describe a video file; ClipError when it is not one."""
    path = Path(path)
    with open_input(path, "video") as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        return VideoFileInfo(
            path=str(path),
            container=_container_name(container, path),
            duration=round(stream_seconds(container, video), 3),
            width=int(video.codec_context.width or 0),
            height=int(video.codec_context.height or 0),
            fps=round(float(frame_rate(video)), 3),
            video_codec=str(video.codec_context.name),
            audio_codec=str(audio.codec_context.name) if audio is not None else None,
            sample_rate=int(audio.codec_context.sample_rate) if audio is not None else None,
            bitrate=int(container.bit_rate) if container.bit_rate else None,
            size=path.stat().st_size,
        )


def audio_info(path: str | Path) -> AudioFileInfo:
    """Describe an audio file; ClipError when it has no audio track."""
    path = Path(path)
    with open_input(path, "audio") as container:
        audio = container.streams.audio[0]
        return AudioFileInfo(
            path=str(path),
            container=_container_name(container, path),
            duration=round(stream_seconds(container, audio), 3),
            audio_codec=str(audio.codec_context.name),
            sample_rate=int(audio.codec_context.sample_rate),
            channels=int(audio.codec_context.channels),
            bitrate=int(container.bit_rate) if container.bit_rate else None,
            size=path.stat().st_size,
        )


def image_info(path: str | Path) -> ImageFileInfo:
    """Describe an image file (Pillow reads the header only)."""
    from qwenvid.media.safe_open import open_image

    path = Path(path)
    require_file(path, "image")
    try:
        with open_image(path, field="image") as image:
            return ImageFileInfo(
                path=str(path),
                format=str(image.format or ""),
                width=image.size[0],
                height=image.size[1],
                mode=image.mode,
                alpha=image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info,
                size=path.stat().st_size,
            )
    except ValidationError as exc:
        raise ClipError(exc.message, field="image", value=str(path)) from None


def media_info(path: str | Path) -> MediaFileInfo:
    """Whatever `path` is: an image (Pillow), a video, or an audio file (PyAV)."""
    from qwenvid.media.safe_open import open_image

    path = Path(path)
    require_file(path, "media")
    try:
        with open_image(path, field="media") as image:
            image.verify()  # checks the data without decoding the pixels
        return image_info(path)
    except (ValidationError, OSError, SyntaxError):
        pass
    try:
        return video_info(path)
    except IncompleteClip:
        raise  # a video, but not all of it: say so, not "not a readable file"
    except ClipError as video_error:
        try:
            return audio_info(path)
        except ClipError:
            raise ClipError(
                f"{path}: not a readable video, audio or image file", field="media", value=str(path)
            ) from video_error


def _container_name(container: Any, path: Path) -> str:
    names = str(container.format.name).split(",")
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in names else names[0]
