"""Audible test sound (WAV tones with silent stretches) and loudness measured from decoded AAC/PCM with PyAV."""

from __future__ import annotations

import math
import wave
from array import array
from pathlib import Path

import av


def make_tone_wav(path: Path, pattern: list[tuple[float, bool]], *, rate: int = 48_000, hz: float = 440.0) -> Path:
    """A mono 16-bit WAV made of (seconds, audible) stretches: a sine where audible, silence elsewhere."""
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = array("h")
    position = 0
    for seconds, audible in pattern:
        for _ in range(round(seconds * rate)):
            value = int(12000 * math.sin(2 * math.pi * hz * position / rate)) if audible else 0
            samples.append(value)
            position += 1
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())
    return path


def loudness(path: Path, windows: list[tuple[float, float]]) -> list[float]:
    """Peak absolute sample (0..1) of the first audio track within each (start, end) window in seconds."""
    peaks = [0.0] * len(windows)
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=48_000)
        position = 0
        for decoded in container.decode(stream):
            for frame in resampler.resample(decoded):
                values = array("f", bytes(frame.planes[0])[: frame.samples * 4])
                for index, (start, end) in enumerate(windows):
                    low = max(0, round(start * 48_000) - position)
                    high = min(len(values), round(end * 48_000) - position)
                    if low < high:
                        peaks[index] = max(peaks[index], max(abs(v) for v in values[low:high]))
                position += frame.samples
    return peaks


def audio_seconds(path: Path) -> float:
    """Decoded length of the first audio track (samples / rate), not what the container claims."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.codec_context.sample_rate


def video_frames_luma(path: Path) -> list[int]:
    """The luma of the top-left pixel of every decoded frame (the test clips are solid frames)."""
    with av.open(str(path)) as container:
        return [bytes(frame.planes[0])[0] for frame in container.decode(video=0)]


__all__ = ["audio_seconds", "loudness", "make_tone_wav", "video_frames_luma"]
