"""The one checked way qwenvid opens a user's image (Pillow) or video/audio file (PyAV).

Every failure is one ValidationError line (exit 2) naming the file: unreadable, too large to decode safely,
or a video that ends before its own index says it does (the first half of a clip passes a header probe and
would be uploaded, or joined as a fraction of a second). Pillow's decompression-bomb warning never reaches
stderr: the pixel count is checked here, where a message can say what to do.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from qwenvid.errors import ValidationError

# Decoded pixels held in memory at once (width x height x bands bytes): 1 GiB, a 15000x15000 RGB photo fits.
MAX_DECODE_BYTES = 1 << 30
# A video may end this much before its declared length (an encoder's last-frame rounding) and still be whole.
END_TOLERANCE = 0.25

_pillow_guard = threading.Lock()
_complete: dict[tuple[str, int, int], None] = {}  # files already read to the end (path, size, mtime)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


@contextmanager
def open_image(path: str | Path | IO[bytes], *, field: str = "image") -> Iterator[Any]:
    """Pillow's image with only its header read; ValidationError for anything Pillow cannot open.

    Pillow refuses (or warns about) very large images at open time; the header is harmless, so its guard is
    held off while it is read, and `check_decodable` says no before anything is decoded.
    """
    from PIL import Image, UnidentifiedImageError

    source = Path(path) if isinstance(path, str | Path) else path
    # Pillow checks (and warns about) the pixel count only at open, against this process-wide limit:
    # it is lifted for the header read alone, under a lock, so no warning is raised at all.
    with _pillow_guard:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None  # the header only; check_decodable guards decoding
        try:
            image = Image.open(source)
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise ValidationError(
                f"{field} {path}: not a readable image ({_reason(exc)})", field=field, value=str(path)
            ) from None
        finally:
            Image.MAX_IMAGE_PIXELS = saved
    try:
        yield image
    finally:
        image.close()


def decoded_bytes(image: Any) -> int:
    width, height = image.size
    return int(width) * int(height) * max(1, len(image.getbands()))


def check_decodable(image: Any, path: str | Path, *, field: str = "image") -> None:
    """Refuse to decode an image whose pixels would not fit in memory comfortably."""
    need = decoded_bytes(image)
    if need > MAX_DECODE_BYTES:
        width, height = image.size
        raise ValidationError(
            f"{field} {path}: {width}x{height} px is too large to open safely "
            f"({need / (1 << 20):.0f} MB decoded; allowed: up to {MAX_DECODE_BYTES >> 20} MB)",
            field=field,
            value=f"{width}x{height}",
            hint="Downscale it with an image editor first.",
        )


def load_image(image: Any, path: str | Path, *, field: str = "image") -> None:
    """Decode the image (after `check_decodable`); a file that breaks off is one line, not a traceback."""
    check_decodable(image, path, field=field)
    try:
        image.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise ValidationError(
            f"{field} {path}: the image cannot be decoded ({_reason(exc)})", field=field, value=str(path)
        ) from None


def open_container(path: str | Path, *, field: str, what: str = "video", named: bool = True) -> Any:
    """A PyAV input container; ValidationError (one line, "FIELD PATH: ..." or with `named=False` "PATH: ...")
    when FFmpeg cannot open it."""
    import av

    path = Path(path)
    try:
        return av.open(str(path), mode="r")
    except (OSError, av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        where = f"{field} {path}" if named else str(path)
        raise ValidationError(f"{where}: not a readable {what} ({_short(exc)})", field=field, value=str(path)) from None


def _short(exc: BaseException) -> str:
    import re

    text = _reason(exc)
    return re.sub(r"^\[Errno -?\d+\]\s*", "", text.split(": '")[0])


def check_complete(path: str | Path, *, field: str, what: str = "video") -> None:
    """Read the packets of the file's first `what` track to its end (no decoding: cheap) and refuse a file
    whose data stops before the length its index declares (a truncated copy, an unfinished download).

    Opened on its own (the caller's container stays at its start); a file read whole once is remembered.
    """
    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    except OSError:
        return  # the caller's own open reports a missing file
    if key in _complete:
        return
    with open_container(path, field=field, what=what) as container:
        streams = container.streams.video if what == "video" else container.streams.audio
        if not streams:
            return
        stream = streams[0]
        own = stream.duration is not None and stream.time_base is not None and stream.duration > 0
        ends, counts, broken = _read_to_end(container)
        # The track's own declared length against its own packets; without one (WebM, MKV), the container's
        # length against the longest track (so a video shorter than its sound is not taken for truncated).
        declared = declared_seconds(container, stream)
        end = ends.get(stream.index, 0.0) if own else max(ends.values(), default=0.0)
        packets = counts.get(stream.index, 0)
        frames = int(stream.frames or 0)
        tolerance = max(END_TOLERANCE, 2 * _frame_seconds(stream))
    if broken is not None:
        raise ValidationError(
            f"{field} {path}: the {what} cannot be read to its end ({broken})", field=field, value=str(path)
        )
    short_by_time = declared > 0 and end + tolerance < declared
    short_by_count = what == "video" and frames > 2 and packets + 1 < frames
    if short_by_time or short_by_count:
        raise ValidationError(
            f"{field} {path}: the file ends early: {end:.2f} s of its {declared:.2f} s are there "
            "(a truncated copy or an unfinished download?)",
            field=field,
            value=str(path),
            hint="Use the whole file (copy or download it again).",
        )
    if len(_complete) > 4096:
        _complete.clear()
    _complete[key] = None


def declared_seconds(container: Any, stream: Any) -> float:
    """A stream's own duration when the muxer wrote one, else the container's (what the file claims)."""
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base)
    if container.duration is not None and container.duration > 0:
        return float(container.duration) / 1_000_000
    return 0.0


def _frame_seconds(stream: Any) -> float:
    rate = getattr(stream, "average_rate", None) or getattr(stream, "base_rate", None)
    return float(1 / rate) if rate else 0.0


def _read_to_end(container: Any) -> tuple[dict[int, float], dict[int, int], str | None]:
    """Per track: the end time of its last packet and its number of packets; and why reading stopped early."""
    import av

    ends: dict[int, float] = {}
    counts: dict[int, int] = {}
    try:
        for packet in container.demux():
            if packet.size == 0 or packet.pts is None or packet.time_base is None:
                continue
            stream = packet.stream
            start = stream.start_time if stream.start_time is not None else 0
            end = float((packet.pts - start + (packet.duration or 0)) * packet.time_base)
            ends[stream.index] = max(ends.get(stream.index, 0.0), end)
            counts[stream.index] = counts.get(stream.index, 0) + 1
    except (av.FFmpegError, OSError) as exc:
        return ends, counts, _short(exc)
    return ends, counts, None
