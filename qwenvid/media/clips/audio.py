"""Lay a soundtrack over a video: replace or mix its sound, padded, looped or cut to the video's length."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from qwenvid.media.clips._av import (
    AUDIO_FORMAT,
    AUDIO_LAYOUT,
    AUDIO_RATE,
    AudioFeed,
    ClipError,
    atomic_output,
    check_output,
    decode_error,
    normalised_audio,
    open_input,
    silence,
    stream_seconds,
)
from qwenvid.media.clips.cut import ClipResult, result

AudioMode = Literal["replace", "mix"]
AudioFit = Literal["pad", "loop", "trim"]
AUDIO_MODES: tuple[str, ...] = ("replace", "mix")
AUDIO_FITS: tuple[str, ...] = ("pad", "loop", "trim")
_CHUNK = 1024


def add_audio(
    video: str | Path,
    audio: str | Path,
    output: str | Path,
    *,
    mode: AudioMode = "replace",
    fit: AudioFit = "pad",
    volume: float = 1.0,
    overwrite: bool = False,
) -> ClipResult:
    """`video` with `audio` as its sound; the output is exactly as long as the video (its packets are copied).

    mode: "replace" drops the video's own sound, "mix" keeps it under the soundtrack.
    fit, when the soundtrack is shorter than the video: "pad" with silence, "loop" it from the start,
    "trim" let it end early; a longer soundtrack is always cut at the video's end.
    volume: gain on the soundtrack (1.0 = as is).
    """
    video_path, audio_path = Path(video), Path(audio)
    if mode not in AUDIO_MODES:
        raise ClipError(f"mode {mode!r}: allowed: {', '.join(AUDIO_MODES)}", field="mode", value=mode)
    if fit not in AUDIO_FITS:
        raise ClipError(f"--fit {fit!r}: allowed: {', '.join(AUDIO_FITS)}", field="fit", value=fit)
    if not 0 <= volume <= 10:
        raise ClipError(f"--volume {volume:g} is out of range; allowed: 0-10", field="volume", value=volume)
    out = check_output(output, (video_path, audio_path), overwrite=overwrite)
    with open_input(audio_path, "audio") as probe:
        if stream_seconds(probe, probe.streams.audio[0]) <= 0 and fit == "loop":
            raise ClipError(f"{audio_path}: the soundtrack has no length to loop", field="audio")
    with open_input(video_path, "video") as container:
        mixing = mode == "mix" and bool(container.streams.audio)
    track = _looped(audio_path) if fit == "loop" else normalised_audio(audio_path)
    if mixing or volume != 1.0:
        track = _mixed(track, normalised_audio(video_path) if mixing else None, volume)
    with atomic_output(out) as temp:
        _write(video_path, temp, AudioFeed(track, pad=fit != "trim"))
    return result(out, method="copy")


def _looped(path: Path) -> Iterator[Any]:
    while True:
        count = 0
        for frame in normalised_audio(path):
            count += frame.samples
            yield frame
        if count == 0:
            return


def _mixed(track: Iterator[Any], original: Iterator[Any] | None, volume: float) -> Iterator[Any]:
    """`track` at `volume`, summed with `original` when given (FFmpeg's volume and amix filters)."""
    import av
    import av.filter

    graph = av.filter.Graph()

    def abuffer() -> Any:
        return graph.add_abuffer(
            format=AUDIO_FORMAT, sample_rate=AUDIO_RATE, layout=AUDIO_LAYOUT, time_base=Fraction(1, AUDIO_RATE)
        )

    source = abuffer()
    gain = graph.add("volume", f"volume={volume}")
    sink = graph.add("abuffersink")
    source.link_to(gain)
    other = None
    if original is not None:
        other = abuffer()
        mix = graph.add("amix", "inputs=2:duration=longest:normalize=0")
        gain.link_to(mix, 0, 0)
        other.link_to(mix, 0, 1)
        mix.link_to(sink)
    else:
        gain.link_to(sink)
    graph.configure()
    inputs = [(source, _chunks(track))] + ([(other, _chunks(original))] if other is not None and original else [])
    position = 0
    while True:
        pieces = [(buffer, next(chunks, None)) for buffer, chunks in inputs]
        if all(piece is None for _, piece in pieces):
            return
        for buffer, piece in pieces:
            piece = piece if piece is not None else silence(_CHUNK)
            piece.pts, piece.time_base, piece.sample_rate = position, Fraction(1, AUDIO_RATE), AUDIO_RATE
            buffer.push(piece)
        position += _CHUNK
        while True:
            try:
                frame = sink.pull()
            except (av.BlockingIOError, av.EOFError):
                break
            frame.pts = None
            yield frame


def _chunks(frames: Iterator[Any]) -> Iterator[Any]:
    """The same samples in frames of exactly _CHUNK samples (the last padded with silence)."""
    import av

    fifo = av.AudioFifo()
    for frame in frames:
        frame.pts = None
        fifo.write(frame)
        while fifo.samples >= _CHUNK:
            yield fifo.read(_CHUNK)
    if fifo.samples:
        rest = fifo.samples
        fifo.write(silence(_CHUNK - rest))
        yield fifo.read(_CHUNK)


def _write(video_path: Path, temp: Path, feed: AudioFeed) -> None:
    """Copy the video packets; after each, encode the soundtrack up to the end of that packet's time."""
    import av

    from qwenvid.media.clips._av import AudioEncoder

    with open_input(video_path, "video") as container, av.open(str(temp), mode="w") as output:
        source = container.streams.video[0]
        target = output.add_stream_from_template(source)
        sound = AudioEncoder(output)
        length = stream_seconds(container, source)
        total = round(length * AUDIO_RATE)
        origin = int(source.start_time or 0)
        try:
            for packet in container.demux(source):
                if packet.dts is None:
                    continue
                packet.pts = None if packet.pts is None else packet.pts - origin
                packet.dts -= origin
                end = float(((packet.pts or 0) + (packet.duration or 0)) * source.time_base)
                packet.stream = target
                output.mux(packet)
                feed.fill(sound, min(total, round(end * AUDIO_RATE)))
        except av.FFmpegError as exc:
            raise decode_error(video_path, exc) from None
        finally:
            feed.close()
        feed.fill(sound, total)
        sound.close()
