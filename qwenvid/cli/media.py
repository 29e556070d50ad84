"""`qwenvid media …`: clip tools (info, frame, trim, tail, concat, add-audio, sheet, preview, fit) on media.clips."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from qwenvid.cli._help import examples
from qwenvid.cli._options import JsonOpt
from qwenvid.cli._output import Output
from qwenvid.cli._session import state_of
from qwenvid.errors import ValidationError

SUMMARY = "Clip tools: info, frame, trim, tail, concat, add-audio, sheet, preview, fit (no ffmpeg needed)."


MEDIA_EXAMPLES = examples(
    "qwenvid media info clip.mp4 cat.png",
    "qwenvid media tail clip.mp4 --seconds 3 -o last3s.mp4",
    "qwenvid media concat a.mp4 b.mp4 c.mp4 -o story.mp4",
    "qwenvid media add-audio story.mp4 music.mp3 -o story-music.mp4 --fit loop",
    "qwenvid media fit photo.webp --model wan2.6-i2v",
)

ForceOpt = Annotated[bool, typer.Option("--force", help="Replace the output file if it exists.")]
OutOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Output file. Default: next to the input.")]


def _done(out: Output, result: Any, what: str) -> None:
    if out.json:
        out.result_json(result.to_dict())
        return
    out.result(result.path)
    out.info(what)


def _clip_text(result: Any) -> str:
    how = "packets copied" if result.method == "copy" else "re-encoded"
    sound = "with audio" if result.has_audio else "no audio"
    return (
        f"{result.duration:.2f} s, {result.width}x{result.height}, {result.fps:g} fps, "
        f"{result.frames} frames, {sound} ({how})"
    )


def _stem_output(video: Path, suffix: str, output: Path | None) -> Path:
    return output if output is not None else video.with_name(f"{video.stem}-{suffix}")


# -- info ------------------------------------------------------------------------------------------


def info(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="Video, audio or image files.", show_default=False)],
    json_out: Annotated[
        bool, typer.Option("--json", help="One JSON object per file, one per line (same as the global --json).")
    ] = False,
) -> None:
    """Describe media files: container, duration, size, fps, codecs, sample rate, bitrate; images: mode, alpha."""
    from qwenvid.media.clips import media_info

    out = state_of(ctx, json_out).out
    found = [media_info(path) for path in files]
    for item in found:
        if out.json:  # one compact object per file, one per line (JSON Lines)
            out.result(json.dumps(item.to_dict(), ensure_ascii=False))
        else:
            out.table(["field", "value"], [[name, _human(name, value)] for name, value in item.to_dict().items()])


def _human(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name == "size":
        return f"{value} bytes ({value / 1_048_576:.2f} MB)"
    if name == "bitrate":
        return f"{value / 1000:.0f} kb/s"
    if name == "duration":
        return f"{value:.3f} s"
    if name == "sample_rate":
        return f"{value} Hz"
    return str(value)


# -- frame -----------------------------------------------------------------------------------------


def frame(
    ctx: typer.Context,
    video: Annotated[Path, typer.Argument(help="The video.", show_default=False)],
    at: Annotated[
        str, typer.Option("--at", help="Which frame: seconds from the start (e.g. 2.5), first, or last.")
    ] = "first",
    output: OutOpt = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Save one exact frame as an image (`last` is the true last decoded frame, not a keyframe near it)."""
    from qwenvid.media.clips import extract_frame
    from qwenvid.media.clips.frames import parse_at

    out = state_of(ctx, json_out).out
    try:
        where = parse_at(at)
    except ValueError:
        raise ValidationError(
            f"--at {at!r} is not allowed: give seconds (0 or more), first or last", field="at", value=at
        ) from None
    label = where if isinstance(where, str) else f"{where:g}s"
    result = extract_frame(video, _stem_output(video, f"{label}.png", output), at=where, overwrite=force)
    _done(out, result, f"Frame at {result.time:.3f} s, {result.width}x{result.height}.")


# -- trim / tail -----------------------------------------------------------------------------------


def trim(
    ctx: typer.Context,
    video: Annotated[Path, typer.Argument(help="The video.", show_default=False)],
    start: Annotated[float, typer.Option("--start", help="Seconds from the start where the cut begins.")] = 0.0,
    end: Annotated[float | None, typer.Option("--end", help="Seconds from the start where the cut ends.")] = None,
    duration: Annotated[
        float | None, typer.Option("--duration", help="Seconds to keep from --start (instead of --end).")
    ] = None,
    output: OutOpt = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Keep a part of a clip, frame-accurate (audio cut to match)."""
    from qwenvid.media.clips import trim as trim_clip

    out = state_of(ctx, json_out).out
    result = trim_clip(
        video, _stem_output(video, "trim.mp4", output), start=start, end=end, duration=duration, overwrite=force
    )
    _done(out, result, _clip_text(result))


def tail(
    ctx: typer.Context,
    video: Annotated[Path, typer.Argument(help="The video.", show_default=False)],
    seconds: Annotated[
        float, typer.Option("--seconds", "-s", help="How many seconds to keep from the end (VACE extension: <= 3).")
    ] = 3.0,
    output: OutOpt = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Keep the last seconds of a clip: the input for VACE video_extension (<= 3 s) or wan2.7-i2v --clip."""
    from qwenvid.media.clips import tail as tail_clip

    out = state_of(ctx, json_out).out
    result = tail_clip(video, _stem_output(video, f"tail{seconds:g}s.mp4", output), seconds=seconds, overwrite=force)
    if result.duration < seconds - 0.05:  # said, not silently clamped
        out.warning(f"{video} is only {result.duration:.2f} s long: the whole clip was kept, not {seconds:g} s.")
    _done(out, result, _clip_text(result))


# -- concat ----------------------------------------------------------------------------------------


def _parse_size(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    parts = text.lower().replace("*", "x").split("x")
    try:
        width, height = (int(part) for part in parts)
    except ValueError:
        raise ValidationError(
            f"--size {text!r} is not allowed: give WIDTHxHEIGHT, e.g. 1280x720", field="size", value=text
        ) from None
    if not (16 <= width <= 8192 and 16 <= height <= 8192):
        raise ValidationError(f"--size {text}: allowed: 16-8192 px per side", field="size", value=text)
    return width, height


def concat(
    ctx: typer.Context,
    clips: Annotated[list[Path], typer.Argument(help="Two or more clips, in order.", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The joined MP4.", show_default=False)],
    size: Annotated[
        str | None, typer.Option("--size", help="Frame size WIDTHxHEIGHT (re-encodes). Default: the first clip's.")
    ] = None,
    fps: Annotated[
        float | None, typer.Option("--fps", min=1, max=120, help="Frame rate (re-encodes). Default: the first clip's.")
    ] = None,
    crossfade: Annotated[
        float,
        typer.Option(
            "--crossfade",
            min=0,
            help="Seconds of cross-dissolve between clips (re-encodes; the sound cuts at the fade).",
        ),
    ] = 0.0,
    reencode: Annotated[
        bool, typer.Option("--reencode", help="Decode and encode again even when the packets could be copied.")
    ] = False,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Join clips in order: packets copied when they match (one model's outputs), else re-encoded and letterboxed."""
    from qwenvid.media.clips import concat as concat_clips

    out = state_of(ctx, json_out).out
    result = concat_clips(
        clips, output, size=_parse_size(size), fps=fps, crossfade=crossfade, reencode=reencode, overwrite=force
    )
    _done(out, result, f"{len(clips)} clips joined: {_clip_text(result)}")


# -- add-audio -------------------------------------------------------------------------------------


def add_audio(
    ctx: typer.Context,
    video: Annotated[Path, typer.Argument(help="The video.", show_default=False)],
    audio: Annotated[Path, typer.Argument(help="The soundtrack: mp3, wav, m4a, aac, …", show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", help="The MP4 to write.", show_default=False)],
    mix: Annotated[
        bool,
        typer.Option("--mix/--replace", help="Mix the soundtrack with the video's own sound, or replace it."),
    ] = False,
    fit: Annotated[
        str,
        typer.Option("--fit", help="A soundtrack shorter than the video: pad (silence), loop, or trim (ends early)."),
    ] = "pad",
    volume: Annotated[
        float, typer.Option("--volume", min=0, max=10, help="Soundtrack gain: 1 as is, 0.5 half, 2 double.")
    ] = 1.0,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Lay a soundtrack over a video; the output is exactly as long as the video (its frames are copied)."""
    from qwenvid.media.clips import add_audio as add_soundtrack

    out = state_of(ctx, json_out).out
    result = add_soundtrack(
        video,
        audio,
        output,
        mode="mix" if mix else "replace",
        fit=fit,  # type: ignore[arg-type]  # checked by the library: one clear line for a wrong word
        volume=volume,
        overwrite=force,
    )
    _done(out, result, _clip_text(result))


# -- sheet / preview -------------------------------------------------------------------------------


def sheet(
    ctx: typer.Context,
    video: Annotated[Path, typer.Argument(help="The video.", show_default=False)],
    output: OutOpt = None,
    frames: Annotated[int, typer.Option("--frames", "-n", min=1, max=100, help="How many frames (1-100).")] = 12,
    columns: Annotated[
        int | None, typer.Option("--columns", min=1, max=20, help="Frames per row. Default: up to 4.")
    ] = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Make a contact sheet: N evenly spaced frames in a grid, each with its timestamp."""
    from qwenvid.media.clips import contact_sheet

    out = state_of(ctx, json_out).out
    result = contact_sheet(
        video, _stem_output(video, "sheet.png", output), frames=frames, columns=columns, overwrite=force
    )
    _done(out, result, f"{result.frames} frames, {result.width}x{result.height} px.")


def preview(
    ctx: typer.Context,
    video: Annotated[Path, typer.Argument(help="The video.", show_default=False)],
    frames: Annotated[int, typer.Option("--frames", "-n", min=1, max=32, help="How many thumbnails (1-32).")] = 8,
    rows: Annotated[int, typer.Option("--rows", min=1, max=40, help="Text rows per thumbnail (1-40).")] = 8,
) -> None:
    """Draw a strip of thumbnails in the terminal; one line of text (on stderr) when stdout is not a terminal."""
    from rich.console import Console

    from qwenvid.cli._preview import can_draw, strip_for, summary_line

    out = state_of(ctx).out
    if out.json:  # pictures are for people: a script gets the facts the strip would show, as one object
        from qwenvid.media.clips import media_info

        out.result_json({**media_info(video).to_dict(), "thumbnails": frames, "summary": summary_line(video)})
        return
    console = Console(highlight=False)
    if not sys.stdout.isatty() or not can_draw(console):
        # Pictures are for people; a pipe gets nothing on stdout, and the facts once on stderr.
        out.info(summary_line(video))
        return
    console.print(strip_for(video, frames=frames, max_rows=rows))


# -- fit -------------------------------------------------------------------------------------------


def fit(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The image, video or sound a model would refuse.", show_default=False)],
    model: Annotated[str, typer.Option("--model", "-m", help="The model that will take it, e.g. wan2.6-i2v.")],
    role: Annotated[
        str | None,
        typer.Option(
            "--as",
            help="What it is for: first_frame, last_frame, ref, video, clip, audio or voice. "
            "Default: the model's main input of that kind.",
        ),
    ] = None,
    output: OutOpt = None,
    force: ForceOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Make an input acceptable to a model: resize/pad/flatten/convert an image, cut or re-encode a clip or sound."""
    from qwenvid.media.clips import fit_input

    out = state_of(ctx, json_out).out
    result = fit_input(path, output, model=model, role=role, overwrite=force)  # type: ignore[arg-type]
    if result.changes:
        _done(out, result, f"Fitted for {result.model} ({result.role}): " + "; ".join(result.changes) + ".")
    else:
        _done(out, result, f"{path} is already accepted by {result.model} as {result.role}; nothing written.")


def register(app: typer.Typer) -> None:
    media = typer.Typer(
        name="media",
        help=SUMMARY,
        epilog=MEDIA_EXAMPLES,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    media.command(epilog=examples("qwenvid media info clip.mp4", "qwenvid media info a.mp4 cat.png --json"))(info)
    media.command(
        epilog=examples("qwenvid media frame clip.mp4 --at last -o last.png", "qwenvid media frame clip.mp4 --at 2.5")
    )(frame)
    media.command(
        epilog=examples(
            "qwenvid media trim clip.mp4 --start 1 --end 4 -o middle.mp4",
            "qwenvid media trim clip.mp4 --start 2 --duration 3",
        )
    )(trim)
    media.command(epilog=examples("qwenvid media tail clip.mp4 --seconds 3 -o last3s.mp4"))(tail)
    media.command(
        epilog=examples(
            "qwenvid media concat a.mp4 b.mp4 c.mp4 -o story.mp4",
            "qwenvid media concat wide.mp4 tall.mp4 -o both.mp4 --size 1280x720 --fps 30 --crossfade 0.5",
        )
    )(concat)
    media.command(
        "add-audio",
        epilog=examples(
            "qwenvid media add-audio clip.mp4 music.mp3 -o clip-music.mp4",
            "qwenvid media add-audio clip.mp4 song.wav -o mixed.mp4 --mix --volume 0.6 --fit loop",
        ),
    )(add_audio)
    media.command(epilog=examples("qwenvid media sheet clip.mp4 --frames 12 -o sheet.png"))(sheet)
    media.command(epilog=examples("qwenvid media preview clip.mp4", "qwenvid media preview clip.mp4 --frames 5"))(
        preview
    )
    media.command(
        epilog=examples(
            "qwenvid media fit photo.webp --model wan2.6-i2v",
            "qwenvid media fit long.mp4 --model wan2.1-vace-plus --as clip -o last3s.mp4",
        )
    )(fit)
    app.add_typer(media, name="media", help=SUMMARY, epilog=MEDIA_EXAMPLES)
