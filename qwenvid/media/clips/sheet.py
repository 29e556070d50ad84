"""A contact sheet: N evenly spaced frames of a video in a grid, each with its timestamp."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from qwenvid.media.clips._av import ClipError, atomic_output, check_output
from qwenvid.media.clips.frames import thumbnails


@dataclass(frozen=True)
class SheetResult:
    path: str
    source: str
    frames: int
    times: tuple[float, ...]
    width: int
    height: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def contact_sheet(
    video: str | Path,
    output: str | Path,
    *,
    frames: int = 12,
    columns: int | None = None,
    thumb_width: int = 320,
    overwrite: bool = False,
) -> SheetResult:
    """Write a PNG/JPEG grid of `frames` evenly spaced frames, a timestamp under each."""
    from PIL import Image, ImageDraw

    if not 1 <= frames <= 100:
        raise ClipError(f"--frames {frames}: allowed: 1-100", field="frames", value=frames)
    path = Path(video)
    out = check_output(output, (path,), overwrite=overwrite)
    columns = columns or min(frames, 4)
    rows = math.ceil(frames / columns)
    label, gap = 18, 4
    sheet: Any = None
    times: list[float] = []
    for index, (time, image) in enumerate(thumbnails(path, frames, width=thumb_width)):
        if sheet is None:
            cell_w, cell_h = image.width, image.height + label
            sheet = Image.new("RGB", (columns * (cell_w + gap) + gap, rows * (cell_h + gap) + gap), (16, 16, 16))
            draw = ImageDraw.Draw(sheet)
        x = gap + (index % columns) * (cell_w + gap)
        y = gap + (index // columns) * (cell_h + gap)
        sheet.paste(image, (x, y))
        draw.text((x + 4, y + image.height + 3), _stamp(time), fill=(230, 230, 230))
        times.append(round(time, 3))
    if sheet is None:
        raise ClipError(f"{path}: no frame could be decoded", field="video", value=str(path))
    with atomic_output(out) as temp:
        sheet.save(temp, format="JPEG" if out.suffix.lower() in (".jpg", ".jpeg") else "PNG")
    return SheetResult(str(out), str(path), len(times), tuple(times), sheet.width, sheet.height)


def _stamp(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes):02d}:{rest:05.2f}"
