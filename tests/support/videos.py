"""Small real MP4 files made with PyAV, for probe and download tests."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av


def make_mp4(
    path: Path,
    *,
    width: int = 64,
    height: int = 48,
    seconds: float = 1.0,
    fps: int = 30,
    audio: bool = False,
    faststart: bool = False,
) -> Path:
    """Write an H.264 MP4 of solid frames (plus a silent AAC track when `audio`); `faststart` puts the index
    first, as Wan's results have it (so the first half of the file still opens)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), mode="w", options=options) as container:
        video = container.add_stream("libx264", rate=fps)
        video.width = width
        video.height = height
        video.pix_fmt = "yuv420p"
        sound = container.add_stream("aac", rate=48_000) if audio else None
        frame_count = round(seconds * fps)
        for index in range(frame_count):
            frame = av.VideoFrame(width, height, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(index * 7) % 256]) * plane.buffer_size)
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            _write_silence(container, sound, seconds)
    return path


def _write_silence(container: av.container.OutputContainer, sound: av.AudioStream, seconds: float) -> None:
    samples_per_frame = 1024
    total = round(seconds * 48_000)
    for start in range(0, total, samples_per_frame):
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=samples_per_frame)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate = 48_000
        frame.pts = start
        frame.time_base = Fraction(1, 48_000)
        for packet in sound.encode(frame):
            container.mux(packet)
    for packet in sound.encode():
        container.mux(packet)
