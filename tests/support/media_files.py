"""Real test inputs: images made with Pillow, videos with PyAV (tests.support.videos), WAV audio with `wave`."""

from __future__ import annotations

import struct
import wave
import zlib
from pathlib import Path

from PIL import Image

from tests.support.videos import make_mp4

__all__ = ["huge_png", "make_image", "make_mp4", "make_wav"]


def make_image(
    path: Path,
    width: int = 400,
    height: int = 400,
    *,
    mode: str = "RGB",
    image_format: str | None = None,
) -> Path:
    """Write a solid-colour image; the format follows the suffix unless `image_format` is given.

    mode="RGBA" makes a PNG with an alpha channel (half transparent), which the API refuses.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    colour: tuple[int, ...] = (200, 120, 40, 128) if mode == "RGBA" else (200, 120, 40)
    Image.new(mode, (width, height), colour[: len(mode)]).save(path, format=image_format)
    return path


def make_wav(path: Path, seconds: float = 3.0, *, rate: int = 8000) -> Path:
    """Write a mono 16-bit WAV of silence lasting `seconds`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\x00\x00" * round(seconds * rate))
    return path


def huge_png(path: Path, width: int, height: int, *, data: bool = True) -> Path:
    """A black bilevel PNG of any size, written without ever holding its pixels (a "decompression bomb").

    `data=False` leaves the pixel data out (the header alone: enough for anything that must not decode it).
    """

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + 1 bit per pixel
    packer = zlib.compressobj(9)
    pixels = b""
    if data:
        block = row * 1000
        pixels = b"".join(packer.compress(block) for _ in range(height // 1000))
        pixels += packer.compress(row * (height % 1000)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path
