"""Real MP4 results for the emulator: H.264 30 fps frames that show the prompt, plus an AAC tone when asked."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import struct
import tempfile
import textwrap
import threading
import time
from array import array
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from PIL import Image, ImageDraw, ImageFont, ImageOps

from qwenvid.privacy import private_umask

FPS = 30
AUDIO_RATE = 48000
AUDIO_FRAME_SAMPLES = 1024
# 375 Hz at 48 kHz is exactly 128 samples per period, so one 1024-sample chunk loops seamlessly.
TONE_HZ = 375.0
TONE_AMPLITUDE = 0.04
# The progress marker moves in this many steps per second; a few distinct frames keep encoding fast.
MARKER_STEPS_PER_SECOND = 2
MAX_DISTINCT_FRAMES = 30
RENDER_VERSION = 3  # bump when the picture or its encoding changes, so cached files are not reused
# A fixed quantiser instead of a rate factor: the same picture quality for text on a gradient, and the
# encoder skips rate control, which makes a 1080P render about a third faster.
X264_OPTIONS = {"preset": "ultrafast", "qp": "26"}


@dataclass(frozen=True)
class RenderJob:
    """What a result video must be: exact size, duration, audio, and what its frames show."""

    model: str
    prompt: str
    width: int
    height: int
    seconds: float
    audio: bool
    first_image: bytes | None = None  # encoded image the video starts from (i2v, kf2v)
    last_image: bytes | None = None  # encoded image the video ends on (kf2v, wan2.7 last_frame)
    label: str = ""  # extra line, e.g. the mode or VACE function

    @property
    def frame_count(self) -> int:
        return max(1, round(self.seconds * FPS))

    def cache_key(self) -> str:
        """A stable name for this job's file: equal jobs share one render."""
        fields: dict[str, Any] = asdict(self)
        for name in ("first_image", "last_image"):
            data = fields[name]
            fields[name] = hashlib.sha256(data).hexdigest() if data else None
        fields["version"] = RENDER_VERSION
        blob = json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()
        return hashlib.sha256(blob).hexdigest()[:32]


def render_video(job: RenderJob, path: Path) -> None:
    """Encode `job` to an MP4 at `path` (written beside it first, then renamed into place)."""
    if job.width % 2 or job.height % 2:
        raise ValueError(f"H.264 yuv420p needs even dimensions, got {job.width}x{job.height}")
    with private_umask():  # renders are private like everything qwenvid writes (qwenvid/privacy.py)
        path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=path.stem, suffix=".tmp.mp4", dir=path.parent)
    os.close(fd)
    try:
        _encode(job, Path(tmp_name))
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _encode(job: RenderJob, path: Path) -> None:
    frames = _distinct_frames(job)
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"}) as container:
        video = container.add_stream("libx264", rate=FPS)
        video.width = job.width
        video.height = job.height
        video.pix_fmt = "yuv420p"
        video.options = dict(X264_OPTIONS)
        video.time_base = Fraction(1, FPS)
        audio = ToneTrack(_add_audio_stream(container)) if job.audio else None
        total_samples = round(job.seconds * AUDIO_RATE)
        samples_done = 0
        count = job.frame_count
        for index in range(count):
            frame = frames[index * len(frames) // count]
            frame.pts = index
            container.mux(video.encode(frame))
            if audio is not None:
                until = min(total_samples, round((index + 1) * AUDIO_RATE / FPS))
                while samples_done < until:
                    samples = min(AUDIO_FRAME_SAMPLES, total_samples - samples_done)
                    container.mux(audio.encode(samples, samples_done))
                    samples_done += samples
        container.mux(video.encode(None))
        if audio is not None:
            container.mux(audio.flush())


def _add_audio_stream(container: Any) -> Any:
    stream = container.add_stream("aac", rate=AUDIO_RATE)
    stream.layout = "mono"
    stream.format = "fltp"
    return stream


def _tone_chunk() -> bytes:
    samples = array(
        "f",
        (TONE_AMPLITUDE * math.sin(2 * math.pi * TONE_HZ * n / AUDIO_RATE) for n in range(AUDIO_FRAME_SAMPLES)),
    )
    return samples.tobytes()


class ToneTrack:
    """The AAC tone of a video, encoded only until the encoder has settled.

    Every full frame of the tone holds the same samples, so after a few frames the encoder answers
    each one with the same packet; from then on that packet is copied (with the next time stamp)
    instead of encoded again. The decoded sound is sample for sample what a full encode gives, and
    for up to 255 packets (5.4 s) the file is byte for byte the same (tests/test_emulator_quickstart.py);
    a 5 s track costs ~7 ms instead of ~100 ms.
    """

    SETTLED_AFTER = 3  # identical packets in a row

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self._chunk = _tone_chunk()
        self._settled: bytes | None = None
        self._last: bytes | None = None
        self._repeats = 0
        self._next_pts: int | None = None

    def encode(self, samples: int, pts: int) -> list[Any]:
        """Packets for the next `samples` samples of the tone, starting at sample `pts`."""
        if self._settled is not None and samples == AUDIO_FRAME_SAMPLES:
            packet = av.Packet(self._settled)
            packet.time_base = Fraction(1, AUDIO_RATE)
            packet.duration = AUDIO_FRAME_SAMPLES
            packet.is_keyframe = True
            packet.stream = self.stream
            return [self._stamp(packet)]
        packets = self.stream.encode(_audio_frame(self._chunk, samples, pts))
        if samples == AUDIO_FRAME_SAMPLES:
            for packet in packets:
                data = bytes(packet)
                self._repeats = self._repeats + 1 if data == self._last else 0
                self._last = data
                if self._repeats >= self.SETTLED_AFTER:
                    self._settled = data
        return [self._stamp(packet) for packet in packets]

    def flush(self) -> list[Any]:
        return [self._stamp(packet) for packet in self.stream.encode(None)]

    def _stamp(self, packet: Any) -> Any:
        # The encoder stamps packets from the frames it was given; after copies, its own stamps lag behind.
        if self._next_pts is None:
            self._next_pts = int(packet.pts)
        packet.pts = packet.dts = self._next_pts
        self._next_pts += int(packet.duration)
        return packet


def _audio_frame(chunk: bytes, samples: int, pts: int) -> Any:
    frame = av.AudioFrame(format="fltp", layout="mono", samples=samples)
    frame.planes[0].update(chunk[: samples * 4])
    frame.sample_rate = AUDIO_RATE
    frame.pts = pts
    frame.time_base = Fraction(1, AUDIO_RATE)
    return frame


# ---------------------------------------------------------------------------------------------
# Pictures
# ---------------------------------------------------------------------------------------------


def _distinct_frames(job: RenderJob) -> list[Any]:
    """The few different pictures the video cycles through, already converted to yuv420p."""
    steps = max(1, min(MAX_DISTINCT_FRAMES, math.ceil(job.seconds * MARKER_STEPS_PER_SECOND), job.frame_count))
    first = _background(job.first_image, job)
    last = _background(job.last_image, job) if job.last_image else None
    unit = max(12, job.height // 36)
    caption = _caption(job, unit)
    frames = []
    if last is None:
        still = first.copy()
        still.paste(caption, (unit, unit), caption)
        return _progress_frames(still, job, steps, unit)
    for step in range(steps):
        progress = step / max(1, steps - 1)
        picture = Image.blend(first, last, progress)
        picture.paste(caption, (unit, unit), caption)
        _draw_progress(picture, job, progress, unit)
        frames.append(av.VideoFrame.from_image(picture).reformat(format="yuv420p"))
    return frames


def _progress_frames(still: Image.Image, job: RenderJob, steps: int, unit: int) -> list[Any]:
    """Frames of a still picture under a moving progress bar.

    Only the bottom strip with the bar and its label changes from step to step, so the still is
    converted to yuv420p once and each step converts just that strip (colour conversion is most of
    the cost of a frame): a 1080P clip's frames take ~30 ms instead of ~130 ms.
    """
    whole = av.VideoFrame.from_image(still).reformat(format="yuv420p")
    still_planes = [bytes(plane) for plane in whole.planes]
    top = max(0, job.height - 4 * unit) & ~1  # above the label; even, so the chroma rows split cleanly
    frames = []
    for step in range(steps):
        progress = step / max(1, steps - 1)
        picture = still.copy()
        _draw_progress(picture, job, progress, unit)
        strip = av.VideoFrame.from_image(picture.crop((0, top, job.width, job.height))).reformat(format="yuv420p")
        frame = av.VideoFrame(job.width, job.height, "yuv420p")
        if not _splice(frame, still_planes, strip, top):
            frame = av.VideoFrame.from_image(picture).reformat(format="yuv420p")
        frames.append(frame)
    return frames


def _splice(frame: Any, still_planes: list[bytes], strip: Any, top: int) -> bool:
    """Fill `frame` with the still's rows above `top` and the strip's below; False if the layouts differ."""
    planes = list(frame.planes)
    if len(planes) != len(still_planes) or any(
        plane.line_size != part.line_size for plane, part in zip(planes, strip.planes, strict=True)
    ):
        return False
    for index, plane in enumerate(planes):
        rows_above = top >> (1 if index else 0)  # the chroma planes have half the rows
        cut = rows_above * plane.line_size
        below = bytes(strip.planes[index])[: plane.line_size * plane.height - cut]
        data = still_planes[index][:cut] + below
        if len(data) != len(still_planes[index]):
            return False
        plane.update(data)
    return True


def _background(image_bytes: bytes | None, job: RenderJob) -> Image.Image:
    size = (job.width, job.height)
    if image_bytes:
        from qwenvid.errors import ValidationError
        from qwenvid.media.safe_open import load_image, open_image

        try:
            with open_image(io.BytesIO(image_bytes), field="upload") as source:
                source.draft("RGB", size)
                load_image(source, "upload")
                return ImageOps.fit(source.convert("RGB"), size)
        except (ValidationError, OSError, ValueError):
            pass  # not a readable image: fall back to the generated backdrop, as a lenient server would
    digest = hashlib.sha256(job.model.encode()).digest()
    dark = (digest[0] // 4, digest[1] // 4, 40 + digest[2] // 4)
    light = (80 + digest[3] // 2, 80 + digest[4] // 2, 120 + digest[5] // 3)
    gradient = Image.linear_gradient("L").rotate(45, expand=False).resize(size)
    return ImageOps.colorize(gradient, dark, light)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _caption(job: RenderJob, unit: int) -> Image.Image:
    """A translucent panel with the model, the prompt and the output facts."""
    width = job.width - 2 * unit
    title_font, body_font = _font(int(unit * 1.6)), _font(unit)
    chars_per_line = max(10, int(width / (unit * 0.55)))
    prompt_lines = textwrap.wrap(job.prompt or "(no prompt)", chars_per_line)[: max(1, job.height // (unit * 4))]
    facts = f"{job.width}x{job.height} · {job.seconds:g} s · {FPS} fps · {'audio' if job.audio else 'silent'}"
    lines: list[tuple[str, Any]] = [(f"qwenvid emulator · {job.model}", title_font)]
    if job.label:
        lines.append((job.label, body_font))
    lines += [(line, body_font) for line in prompt_lines]
    lines.append((facts, body_font))
    height = int(unit * 1.6) + int(unit * 1.4) * (len(lines) - 1) + 2 * unit
    panel = Image.new("RGBA", (width, min(height, job.height - 4 * unit)), (0, 0, 0, 150))
    draw = ImageDraw.Draw(panel)
    y = unit // 2
    for text, font in lines:
        draw.text((unit // 2, y), text, fill=(255, 255, 255, 255), font=font)
        y += int(unit * 1.9) if font is title_font else int(unit * 1.4)
    return panel


def _draw_progress(picture: Image.Image, job: RenderJob, progress: float, unit: int) -> None:
    """A bar along the bottom with a marker that moves from left to right as the video plays."""
    draw = ImageDraw.Draw(picture)
    left, right = unit, job.width - unit
    top = job.height - 2 * unit
    draw.rectangle((left, top, right, top + unit // 2), fill=(30, 30, 30))
    x = left + int((right - left) * progress)
    draw.rectangle((left, top, x, top + unit // 2), fill=(255, 190, 40))
    radius = unit // 2 + 2
    draw.ellipse((x - radius, top + unit // 4 - radius, x + radius, top + unit // 4 + radius), fill=(255, 255, 255))
    draw.text((left, top - int(unit * 1.4)), f"t = {progress * job.seconds:4.1f} s", fill=(255, 255, 255),
              font=_font(unit))


# ---------------------------------------------------------------------------------------------
# Cache and padding
# ---------------------------------------------------------------------------------------------


class RenderCache:
    """Renders each distinct job once into `directory`; safe to call from many threads.

    `directory` may outlive the emulator (a cache folder shared by runs): a video asked for again is
    then served without rendering. Such a folder is kept to its `keep` most recently used videos.
    Padded copies go to `scratch` (default: `directory`), which is never shared.
    """

    def __init__(
        self, directory: Path, scratch: Path | None = None, keep: int | None = None, protect_seconds: float = 0.0
    ) -> None:
        self.directory = directory
        self.scratch = scratch or directory
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        if keep is not None:
            prune_cache(directory, keep, protect_seconds=protect_seconds)

    def path_for(self, job: RenderJob, padding_bytes: int = 0) -> Path:
        """The finished file for `job` (rendering it, and padding it, on first use)."""
        key = job.cache_key()
        path = self.directory / f"{key}.mp4"
        with self._lock_for(key):
            if path.exists():
                _touch(path)
            else:
                render_video(job, path)
        if padding_bytes < path.stat().st_size + 16:  # nothing to pad, or too little room for a box
            return path
        with private_umask():
            self.scratch.mkdir(parents=True, exist_ok=True)
        padded = self.scratch / f"{key}-{padding_bytes}.mp4"
        with self._lock_for(padded.name):
            if not padded.exists():
                pad_mp4(path, padded, padding_bytes)
        return padded

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


def _touch(path: Path) -> None:
    """Mark a cached video as just used (pruning keeps the most recently used)."""
    try:
        os.utime(path)
    except OSError:
        pass  # a read-only cache still serves


def prune_cache(directory: Path, keep: int, *, protect_seconds: float = 0.0) -> None:
    """Delete all but the `keep` most recently used videos (and stale temporary files) in `directory`.

    A video used within `protect_seconds` stays whatever the count: another emulator sharing the folder
    (a running `qwenvid emulator`) may still serve it behind a result link that has not expired yet.
    """
    try:
        entries = [(entry.stat().st_mtime, Path(entry.path)) for entry in os.scandir(directory)
                   if entry.is_file() and entry.name.endswith(".mp4")]
    except OSError:
        return  # no cache yet, or unreadable: nothing to prune
    entries.sort(reverse=True)
    oldest_protected = time.time() - protect_seconds
    for used, path in entries[keep:]:
        if used < oldest_protected:
            path.unlink(missing_ok=True)


def free_box_header(box_size: int) -> bytes:
    """The header of an ISO-BMFF `free` box of `box_size` bytes (64-bit size when it needs one)."""
    if box_size < 16:
        raise ValueError("a free box needs at least 16 bytes here")
    if box_size < 2**32:
        return struct.pack(">I4s", box_size, b"free")
    return struct.pack(">I4sQ", 1, b"free", box_size)


def pad_mp4(source: Path, target: Path, total_bytes: int) -> None:
    """Copy `source` and append one `free` box so the file is exactly `total_bytes` long.

    The box body is left as a sparse hole, so even a 1 GiB file is written in constant memory and time.
    """
    size = source.stat().st_size
    box = total_bytes - size
    fd, tmp = tempfile.mkstemp(prefix=target.stem, suffix=".tmp", dir=target.parent)
    try:
        with source.open("rb") as src, os.fdopen(fd, "wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
            dst.write(free_box_header(box))
            dst.truncate(total_bytes)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
