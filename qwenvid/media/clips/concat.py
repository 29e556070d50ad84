"""Join clips in order: packets copied when their codec parameters match, else re-encoded to one size and rate."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
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
    decode_error,
    even,
    frame_rate,
    normalised_audio,
    open_input,
    stream_seconds,
    video_frames,
)
from qwenvid.media.clips.cut import ClipResult, result


@dataclass(frozen=True)
class _Shape:
    """What must be equal for packets of one clip to follow another's in the same track."""

    video: tuple[Any, ...]
    audio: tuple[Any, ...] | None


def _shape(container: Any) -> _Shape:
    video = container.streams.video[0].codec_context
    stream = container.streams.video[0]
    audio = container.streams.audio[0].codec_context if container.streams.audio else None
    return _Shape(
        (video.name, video.width, video.height, video.pix_fmt, bytes(video.extradata or b""), frame_rate(stream)),
        None if audio is None else (audio.name, audio.sample_rate, audio.channels, bytes(audio.extradata or b"")),
    )


def concat(
    clips: Sequence[str | Path],
    output: str | Path,
    *,
    size: tuple[int, int] | None = None,
    fps: float | None = None,
    crossfade: float = 0.0,
    reencode: bool = False,
    overwrite: bool = False,
) -> ClipResult:
    """Join `clips` in order into `output` (MP4).

    Stream copy when every clip has the same codec parameters (Wan outputs of one model do) and no
    size, rate or crossfade is asked for; otherwise every clip is decoded and encoded again at the
    first clip's size and rate (or `size`/`fps`), letterboxed when its aspect differs. When any clip
    has sound, clips without it get silence, so the track stays continuous and in sync.
    """
    paths = tuple(Path(clip) for clip in clips)
    if len(paths) < 2:
        raise ClipError("concat needs at least two clips", field="clips", value=len(paths))
    if crossfade < 0:
        raise ClipError(f"--crossfade {crossfade:g} is negative; allowed: 0 or more seconds", field="crossfade")
    out = check_output(output, paths, overwrite=overwrite)
    shapes = []
    lengths = []
    for path in paths:
        with open_input(path, "video") as container:
            shapes.append(_shape(container))
            lengths.append(stream_seconds(container, container.streams.video[0]))
    if crossfade and crossfade >= min(lengths) - EPS:
        raise ClipError(
            f"--crossfade {crossfade:g} s is not shorter than the shortest clip ({min(lengths):.2f} s)",
            field="crossfade",
        )
    copyable = all(shape == shapes[0] for shape in shapes) and not (size or fps or crossfade or reencode)
    with atomic_output(out) as temp:
        if copyable:
            _copy(paths, temp)
        else:
            _encode(paths, temp, size, fps, crossfade, any(shape.audio for shape in shapes))
    return result(out, method="copy" if copyable else "encode")


def _copy(paths: tuple[Path, ...], temp: Path) -> None:
    """Packets of every clip, their timestamps shifted by the clips before; nothing decoded."""
    import av

    with av.open(str(temp), mode="w") as output:
        targets: list[Any] = []
        last_dts: list[int | None] = []
        offset = 0.0  # seconds of video written so far: every track of the next clip starts there
        for index, path in enumerate(paths):
            with open_input(path, "video") as container:
                sources = [container.streams.video[0], *container.streams.audio[:1]]
                if index == 0:
                    targets = [output.add_stream_from_template(stream) for stream in sources]
                    last_dts = [None] * len(sources)
                ends = [offset] * len(sources)
                shifts: list[int | None] = [None] * len(sources)
                try:
                    for packet in container.demux(sources):
                        if packet.dts is None:
                            continue
                        slot = sources.index(packet.stream)
                        source = sources[slot]
                        origin = int(source.start_time or 0)
                        if shifts[slot] is None:
                            # An AAC track runs a few ms past its video; never let timestamps go backwards.
                            floor = (last_dts[slot] or 0) + 1 if last_dts[slot] is not None else None
                            wanted = round(offset / source.time_base)
                            shifts[slot] = wanted if floor is None else max(wanted, floor - (packet.dts - origin))
                        shift = shifts[slot] or 0
                        packet.pts = None if packet.pts is None else packet.pts - origin + shift
                        packet.dts = packet.dts - origin + shift
                        last_dts[slot] = packet.dts
                        if packet.pts is not None:
                            ends[slot] = max(
                                ends[slot], float((packet.pts + (packet.duration or 0)) * source.time_base)
                            )
                        packet.stream = targets[slot]
                        output.mux(packet)
                except av.FFmpegError as exc:
                    raise decode_error(path, exc) from None
                offset = ends[0]


def _encode(
    paths: tuple[Path, ...],
    temp: Path,
    size: tuple[int, int] | None,
    fps: float | None,
    crossfade: float,
    with_audio: bool,
) -> None:
    """Decode every clip, bring it to one size and rate, encode once; the sound follows frame by frame."""
    from collections import deque

    with open_input(paths[0], "video") as first:
        stream = first.streams.video[0]
        width, height = size or (stream.codec_context.width, stream.codec_context.height)
        rate = Fraction(fps).limit_denominator(1001) if fps else frame_rate(stream)
    encoder = VideoEncoder.open(temp, width, height, rate, audio=with_audio)
    fade = round(crossfade * rate)
    held: list[Any] = []  # the previous clip's last `fade` frames, blended into this clip's first ones
    try:
        for number, path in enumerate(paths):
            last = number == len(paths) - 1
            has_audio = with_audio and _has_audio(path)
            feed = AudioFeed(normalised_audio(path) if has_audio else None)
            window: deque[Any] = deque()
            blended = 0
            try:
                for frame in _resampled_frames(path, rate, encoder.width, encoder.height):
                    if blended < len(held):
                        frame = _blend(held[blended], frame, (blended + 1) / (len(held) + 1))
                        blended += 1
                    window.append(frame)
                    if len(window) > (0 if last else fade):
                        encoder.add_frame(window.popleft())
                        # The sound of the frames written so far; a crossfade cuts it at the fade's start.
                        feed.fill(encoder.audio, round(encoder.frames / rate * AUDIO_RATE))
            finally:
                feed.close()
            held = list(window)
        for frame in held:
            encoder.add_frame(frame)
    finally:
        encoder.close()


def _has_audio(path: Path) -> bool:
    with open_input(path, "video") as container:
        return bool(container.streams.audio)


def _resampled_frames(path: Path, rate: Fraction, width: int, height: int) -> Any:
    """Frames of `path` at `rate` (dropped or repeated by timestamp), letterboxed into width x height."""
    with open_input(path, "video") as container:
        stream = container.streams.video[0]
        origin = int(stream.start_time or 0)
        length = stream_seconds(container, stream)
        total = max(1, round(length * rate))
        step = 1 / float(rate)
        emitted = 0
        previous = None
        for frame in video_frames(path, container):
            time = float((frame.pts - origin) * frame.time_base)
            while previous is not None and emitted < total and emitted * step < time - EPS:
                emitted += 1
                yield previous
            previous = _letterbox(frame, width, height)
        while previous is not None and emitted < total:
            emitted += 1
            yield previous


def _letterbox(frame: Any, width: int, height: int) -> Any:
    """`frame` scaled to fit width x height, centred on black where the aspect differs."""
    import av
    from PIL import Image

    scale = min(width / frame.width, height / frame.height)
    inner_w, inner_h = even(round(frame.width * scale)), even(round(frame.height * scale))
    if (inner_w, inner_h) == (even(width), even(height)):
        return frame.reformat(width=even(width), height=even(height), format="yuv420p")
    canvas = Image.new("RGB", (even(width), even(height)))
    inner = frame.reformat(width=inner_w, height=inner_h, format="rgb24").to_image()
    canvas.paste(inner, ((even(width) - inner_w) // 2, (even(height) - inner_h) // 2))
    return av.VideoFrame.from_image(canvas).reformat(format="yuv420p")


def _blend(before: Any, after: Any, weight: float) -> Any:
    import av
    from PIL import Image

    mixed = Image.blend(before.to_image(), after.to_image(), weight)
    return av.VideoFrame.from_image(mixed).reformat(format="yuv420p")
