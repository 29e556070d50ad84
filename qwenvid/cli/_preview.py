"""Thumbnail strips drawn in the terminal with Rich: half-block cells of two pixels, true colour where it exists."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

    from qwenvid.cli._session import CliState

_UPPER_HALF = "▀"  # foreground = the top pixel, background = the bottom one
_GAP = 1
_MIN_CELL = 6  # narrower thumbnails say nothing


@dataclass
class ThumbnailStrip:
    """A row of thumbnails (PIL images) with their timestamps, sized to the console at render time."""

    frames: Sequence[tuple[float, Any]]  # (seconds, PIL image)
    max_rows: int = 6  # text rows per thumbnail (each row = 2 pixels)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        from rich.segment import Segment
        from rich.style import Style

        width = options.max_width
        count = max(1, min(len(self.frames), (width + _GAP) // (_MIN_CELL + _GAP)))
        frames = _spread(self.frames, count)
        cell = max(1, (width - _GAP * (count - 1)) // count)
        first = frames[0][1]
        rows = max(1, min(self.max_rows, round(cell * first.height / first.width / 2)))
        pixels = [image.convert("RGB").resize((cell, rows * 2)) for _, image in frames]
        styles: dict[tuple[Any, Any], Style] = {}
        for row in range(rows):
            for index, image in enumerate(pixels):
                if index:
                    yield Segment(" " * _GAP)
                for column in range(cell):
                    top, bottom = image.getpixel((column, row * 2)), image.getpixel((column, row * 2 + 1))
                    key = (top, bottom)
                    if key not in styles:
                        styles[key] = Style(color=_rgb(top), bgcolor=_rgb(bottom))
                    yield Segment(_UPPER_HALF, styles[key])
            yield Segment.line()
        labels = "".join(
            (" " * _GAP if index else "") + _stamp(time)[:cell].ljust(cell) for index, (time, _) in enumerate(frames)
        )
        yield Segment(labels.rstrip(), Style(dim=True))
        yield Segment.line()


def _rgb(pixel: Any) -> str:
    red, green, blue = pixel[:3]
    return f"rgb({red},{green},{blue})"


def _spread(frames: Sequence[tuple[float, Any]], count: int) -> list[tuple[float, Any]]:
    if count >= len(frames):
        return list(frames)
    return [frames[round(index * (len(frames) - 1) / max(1, count - 1))] for index in range(count)]


def _stamp(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}:{rest:04.1f}"


def strip_for(video: str | Path, *, frames: int = 8, max_rows: int = 6) -> ThumbnailStrip:
    """Read `frames` evenly spaced thumbnails of `video` (one streamed pass) into a strip."""
    from qwenvid.media.clips import thumbnails

    return ThumbnailStrip(list(thumbnails(video, frames, width=96)), max_rows=max_rows)


def summary_line(video: str | Path) -> str:
    """The one line `media preview` prints where no picture can be drawn."""
    from qwenvid.media.clips import video_info

    info = video_info(video)
    sound = f"audio {info.audio_codec}" if info.audio_codec else "no audio"
    return f"{info.path}: {info.duration:.2f} s, {info.width}x{info.height}, {info.fps:g} fps, {sound}"


def preview_after_run(state: CliState, settings: Any, video: Path | None) -> None:
    """The one-row strip under a finished generation: terminals only, never with --json/--quiet/--no-preview."""
    from qwenvid.cli._output import stderr_is_terminal

    out = state.out
    if video is None or out.json or out.quiet or not state.preview or not getattr(settings, "preview", True):
        return
    if not stderr_is_terminal() or not can_draw(out.console):
        return
    try:
        strip = strip_for(video, frames=8, max_rows=4)
    except Exception:  # noqa: BLE001 - a preview is a courtesy; it never fails the run that made the video
        return
    out.console.print(strip)


def can_draw(console: Console) -> bool:
    """Pictures need colour: not under NO_COLOR, not on a terminal without colours."""
    return console.color_system is not None and not console.no_color


def iter_lines(strip: ThumbnailStrip, console: Console) -> Iterator[str]:
    """Rendered lines (tests and the `preview` command's width checks)."""
    for line in console.render_lines(strip, pad=False):
        yield "".join(segment.text for segment in line)
