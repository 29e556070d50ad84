"""Shared PyAV plumbing for the clip tools: opening inputs, atomic outputs, encoders, sample-exact audio."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from qwenvid.errors import ValidationError
from qwenvid.privacy import private_umask
from qwenvid.writable import why_unwritable

# Every audio track the clip tools write: AAC, 48 kHz stereo (what Wan outputs carry).
AUDIO_RATE = 48_000
AUDIO_LAYOUT = "stereo"
AUDIO_FORMAT = "fltp"
EPS = 1e-3  # seconds: float rounding between pts * time_base and the times people type


class ClipError(ValidationError):
    """A media file cannot be read, or an output cannot be written, as asked (exit 2)."""


class IncompleteClip(ClipError):
    """A media file whose data ends before the length its own index declares (truncated)."""


def require_file(path: Path, what: str) -> None:
    if path.is_dir():
        raise ClipError(f"{path} is a folder; give a {what} file.", field=what, value=str(path))
    if not path.is_file():
        raise ClipError(f"{path}: no such {what} file", field=what, value=str(path))
    if path.stat().st_size == 0:  # FFmpeg would only say "[Errno 1094995529] Invalid data"
        raise ClipError(f"{path} is empty (0 bytes); give a {what} file.", field=what, value=str(path))


def open_input(path: str | Path, what: str = "video") -> Any:
    """An input container with the track `what` needs; ClipError (one line) for anything else."""
    from qwenvid.media.safe_open import check_complete, open_container

    path = Path(path)
    require_file(path, what)
    try:
        container = open_container(path, field=what, what=what, named=False)
    except ValidationError as exc:
        raise ClipError(exc.message, field=what, value=str(path)) from None
    tracks = container.streams.video if what == "video" else container.streams.audio
    name = str(container.format.name)
    if not tracks or (what == "video" and (name.endswith("_pipe") or name in ("image2", "apng", "webp"))):
        container.close()
        problem = "it is a still image" if tracks else f"no {what} track"
        raise ClipError(f"{path}: not a readable {what} ({problem})", field=what, value=str(path))
    try:
        check_complete(path, field=what, what=what)  # half a clip must not be joined as 0.07 s
    except ValidationError as exc:
        container.close()
        raise IncompleteClip(exc.message, field=what, value=str(path), hint=exc.hint) from None
    return container


def _short(exc: BaseException) -> str:
    """FFmpeg's reason without its errno number and the repeated file name."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r"^\[Errno -?\d+\]\s*", "", text.split(": '")[0])


def decode_error(path: Path, exc: BaseException) -> ClipError:
    return ClipError(f"{path}: cannot be decoded ({_short(exc)})", field="video", value=str(path))


def check_output(out: str | Path, inputs: tuple[Path, ...] = (), *, overwrite: bool = False) -> Path:
    """The output path, refused when it exists (unless `overwrite`) or is one of the inputs."""
    out = Path(out).expanduser()
    for source in inputs:
        if out.exists() and source.exists() and out.resolve() == Path(source).resolve():
            raise ClipError(f"{out}: the output cannot be one of the inputs", field="output", value=str(out))
    if out.exists() and not overwrite:
        raise ClipError(f"{out} already exists; use --force to replace it", field="output", value=str(out))
    if not out.parent.is_dir():
        raise ClipError(f"{out.parent}: no such folder for the output", field="output", value=str(out))
    problem = why_unwritable(out.parent)
    if problem is not None:
        raise ClipError(f"{out.parent}: cannot write the output there ({problem})", field="output", value=str(out))
    return out


@contextmanager
def atomic_output(out: Path) -> Iterator[Path]:
    """A temporary name next to `out` (same suffix, so the muxer is chosen alike), renamed when complete."""
    temp = out.with_name(f".{out.stem}.part-{os.getpid()}{out.suffix}")
    try:
        with private_umask():  # the muxer or Pillow creates the file: private from its first byte
            yield temp
        os.replace(temp, out)
    finally:
        temp.unlink(missing_ok=True)


def frame_rate(stream: Any) -> Fraction:
    rate = stream.average_rate or stream.base_rate or stream.guessed_rate or 30
    return Fraction(rate).limit_denominator(1001)


def stream_seconds(container: Any, stream: Any) -> float:
    """A stream's own duration when the muxer wrote one, else the container's."""
    from qwenvid.media.safe_open import declared_seconds

    return declared_seconds(container, stream)


def even(value: int) -> int:
    """H.264 in yuv420p wants even dimensions."""
    return max(2, value - value % 2)


class AudioEncoder:
    """An AAC track fed normalised samples in any amounts; encoded in the codec's frame size, timestamps counted."""

    def __init__(self, container: Any) -> None:
        import av

        self.container = container
        self.stream = container.add_stream("aac", rate=AUDIO_RATE, layout=AUDIO_LAYOUT)
        self.fifo = av.AudioFifo()
        self.samples = 0  # encoded so far

    def written(self) -> int:
        """Samples given so far (encoded, or waiting for a full codec frame)."""
        return self.samples + self.fifo.samples

    def add(self, frame: Any) -> None:
        frame.pts = None
        self.fifo.write(frame)
        self._drain(final=False)

    def add_silence(self, samples: int) -> None:
        while samples > 0:
            count = min(samples, 4096)
            self.add(silence(count))
            samples -= count

    def _drain(self, *, final: bool) -> None:
        size = self.stream.codec_context.frame_size or 1024
        while self.fifo.samples >= size or (final and self.fifo.samples):
            chunk: Any = self.fifo.read(min(size, self.fifo.samples))
            chunk.pts = self.samples
            chunk.time_base = Fraction(1, AUDIO_RATE)
            chunk.sample_rate = AUDIO_RATE
            self.samples += chunk.samples
            self.container.mux(self.stream.encode(chunk))

    def close(self) -> None:
        self._drain(final=True)
        self.container.mux(self.stream.encode(None))


@dataclass
class VideoEncoder:
    """An H.264 (+ optional AAC) MP4 writer fed frames in order; timestamps counted here, not copied."""

    container: Any
    width: int
    height: int
    fps: Fraction
    video_stream: Any = None
    audio: AudioEncoder | None = None
    frames: int = 0

    @classmethod
    def open(cls, path: Path, width: int, height: int, fps: Fraction, *, audio: bool) -> VideoEncoder:
        import av

        container = av.open(str(path), mode="w")
        encoder = cls(container, even(width), even(height), fps)
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = encoder.width, encoder.height, "yuv420p"
        stream.options = {"crf": "18", "preset": "veryfast"}
        encoder.video_stream = stream
        if audio:
            encoder.audio = AudioEncoder(container)
        return encoder

    def add_frame(self, frame: Any) -> None:
        """Encode `frame` as the next frame (resized/converted when it does not match)."""
        if frame.width != self.width or frame.height != self.height or frame.format.name != "yuv420p":
            frame = frame.reformat(width=self.width, height=self.height, format="yuv420p")
        frame.pts = self.frames
        frame.time_base = 1 / self.fps
        self.frames += 1
        self.container.mux(self.video_stream.encode(frame))

    def close(self) -> None:
        self.container.mux(self.video_stream.encode(None))
        if self.audio is not None:
            self.audio.close()
        self.container.close()


class AudioFeed:
    """Feeds an encoder's audio track from normalised frames up to a sample count, so sound follows the video
    frame by frame (the muxer then never holds more than a moment of either track)."""

    def __init__(self, frames: Iterator[Any] | None, *, pad: bool = True) -> None:
        import av

        self.frames = frames
        self.pad = pad
        self.fifo = av.AudioFifo()
        self.done = frames is None

    def fill(self, encoder: AudioEncoder | None, upto: int) -> None:
        """Give `encoder` samples until it holds `upto` of them (silence after the source ends, if `pad`)."""
        if encoder is None:
            return
        need = upto - encoder.written()
        while need > self.fifo.samples and not self.done:
            frame = next(self.frames, None) if self.frames is not None else None
            if frame is None:
                self.done = True
                break
            frame.pts = None
            self.fifo.write(frame)
        take = min(need, self.fifo.samples)
        if take > 0:
            chunk: Any = self.fifo.read(take)
            chunk.sample_rate = AUDIO_RATE
            encoder.add(chunk)
        if need > take and self.pad:
            encoder.add_silence(need - take)

    def close(self) -> None:
        close = getattr(self.frames, "close", None)
        if close is not None:
            close()


def silence(samples: int) -> Any:
    import av

    frame = av.AudioFrame(format=AUDIO_FORMAT, layout=AUDIO_LAYOUT, samples=samples)
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    frame.sample_rate = AUDIO_RATE
    return frame


def normalised_audio(path: Path, start: float = 0.0) -> Iterator[Any]:
    """The first audio track of `path` from `start` seconds on, as fltp stereo 48 kHz frames, sample exact."""
    import av

    container = open_input(path, "audio")
    with container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format=AUDIO_FORMAT, layout=AUDIO_LAYOUT, rate=AUDIO_RATE)
        skip = round(start * AUDIO_RATE)
        if start > 0:
            container.seek(max(0, int((start - 1) / stream.time_base)), stream=stream, backward=True)
        position: int | None = None
        try:
            for packet in container.demux(stream):
                for decoded in packet.decode():
                    for frame in resampler.resample(decoded):
                        if position is None:  # where the first frame after a seek really starts
                            position = round(float(frame.time or 0) * AUDIO_RATE) if start > 0 else 0
                        begin, position = position, position + frame.samples
                        if position <= skip:
                            continue
                        if begin < skip:
                            frame = cut_front(frame, skip - begin)
                        yield frame
            for frame in resampler.resample(None):
                yield frame
        except av.FFmpegError as exc:
            raise decode_error(path, exc) from None


def cut_front(frame: Any, samples: int) -> Any:
    """`frame` without its first `samples` samples (through a FIFO: no numpy needed)."""
    import av

    fifo = av.AudioFifo()
    frame.pts = None
    fifo.write(frame)
    fifo.read(samples)
    rest: Any = fifo.read()
    rest.sample_rate = AUDIO_RATE
    return rest


def video_frames(path: Path, container: Any, start: float = 0.0) -> Iterator[Any]:
    """Decoded frames of the first video track from the keyframe at or before `start` (callers drop extras)."""
    import av

    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    if start > 0:
        container.seek(max(0, int(start / stream.time_base)), stream=stream, backward=True)
    try:
        for packet in container.demux(stream):
            yield from packet.decode()
    except av.FFmpegError as exc:
        raise decode_error(path, exc) from None
