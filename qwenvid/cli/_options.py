"""Options shared by several commands, declared once as Annotated aliases with units and defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from qwenvid.cli._complete import complete_model, complete_task


def one_of(allowed: tuple[str, ...], *, fold: str = "lower") -> Any:
    """A parameter callback: the value (case folded as `fold` says) if it is in `allowed`, else a usage error."""

    def check(value: str | None) -> str | None:
        if value is None:
            return None
        folded = value.strip().upper() if fold == "upper" else value.strip().lower()
        wanted = {item.upper() if fold == "upper" else item.lower(): item for item in allowed}
        if folded not in wanted:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(allowed)}.")
        return wanted[folded]

    return check


# The modes, for choices (catalogue.MODES; repeated so that `qwenvid models` need not load the catalogue to parse).
MODES = ("t2v", "i2v", "kf2v", "r2v", "vace", "s2v", "animate")

GEN = "Generation"
INPUTS = "Inputs"
RUN = "Run control"

# -- prompts and models ----------------------------------------------------------------------
_STDIN = " `-` reads it from stdin."
# Whether the prompt may be left out follows the catalogue: every t2v and r2v model needs one.
PromptArg = Annotated[
    str | None,
    typer.Argument(
        help="What the video shows; every model of this mode needs it (or give it in --request/--file)." + _STDIN,
        show_default=False,
    ),
]
OptionalPromptArg = Annotated[
    str | None, typer.Argument(help="What the video shows (optional for this mode)." + _STDIN, show_default=False)
]
VacePromptArg = Annotated[
    str | None,
    typer.Argument(
        help="What the video shows: needed for video_extension, optional for the other functions." + _STDIN,
        show_default=False,
    ),
]
PromptFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--prompt-file", help="Read the prompt from this UTF-8 text file (`-` for stdin).", rich_help_panel="Inputs"
    ),
]
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Model id. Default: the mode's default model (see `qwenvid models`).",
        rich_help_panel=GEN,
        autocompletion=complete_model,
    ),
]
def _seconds(value: str | int) -> int:
    """Whole seconds, or `auto` (-1: the model picks the length; Wan 3.0)."""
    if isinstance(value, int):
        return value
    text = str(value).strip().lower()
    if text == "auto":
        return -1
    try:
        return int(text)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a whole number of seconds or auto.") from None


DurationOpt = Annotated[
    int | None,
    typer.Option(
        "--duration",
        "-d",
        help="Video length in seconds, or auto (Wan 3.0 picks the length; priced at its longest). "
        "Default: the model's default (usually 5).",
        parser=_seconds,
        metavar="SECONDS|auto",
        rich_help_panel=GEN,
    ),
]
SizeOpt = Annotated[
    str | None,
    typer.Option(
        "--size", help="Output size WIDTH*HEIGHT, e.g. 1280*720 (models that take a size).", rich_help_panel=GEN
    ),
]
ResolutionOpt = Annotated[
    str | None,
    typer.Option(
        "--resolution", help="Resolution tier 480P, 720P or 1080P (models that take a resolution).", rich_help_panel=GEN
    ),
]
RatioOpt = Annotated[
    str | None,
    typer.Option("--ratio", help="Aspect ratio 16:9, 9:16, 1:1, 4:3 or 3:4 (wan2.7 models).", rich_help_panel=GEN),
]
NegativePromptOpt = Annotated[
    str | None,
    typer.Option("--negative-prompt", "-n", help="What to avoid (up to 500 characters).", rich_help_panel=GEN),
]
SeedOpt = Annotated[
    int | None,
    typer.Option("--seed", help="Random seed, 0 to 2147483647. Default: random.", rich_help_panel=GEN),
]
PromptExtendOpt = Annotated[
    bool | None,
    typer.Option(
        "--prompt-extend/--no-prompt-extend",
        help="Let the service rewrite the prompt. Default: the model's default (on).",
        show_default=False,
        rich_help_panel=GEN,
    ),
]
WatermarkOpt = Annotated[
    bool | None,
    typer.Option(
        "--watermark/--no-watermark",
        help="Add the 'AI generated' mark. Default: the model's (off for Wan, on for HappyHorse).",
        show_default=False,
        rich_help_panel=GEN,
    ),
]
AudioOpt = Annotated[
    bool | None,
    typer.Option(
        "--audio/--no-audio",
        help="Sound on or off (models with an audio switch). Default: the model's default.",
        show_default=False,
        rich_help_panel=GEN,
    ),
]
AudioFileOpt = Annotated[
    str | None,
    typer.Option(
        "--audio-file", help="Custom soundtrack: a local wav/mp3 (3-30 s, max 15 MB) or a URL.", rich_help_panel=INPUTS
    ),
]
DocOpt = Annotated[
    str | None,
    typer.Option(
        "--doc",
        help="Wan 3.0: a document to read (docx/doc/xlsx/xls/pptx/ppt/pdf/txt/key/pages/numbers/md, max 100 MB), "
        "a local path or URL. Not with --link or frames; needs prompt extension.",
        rich_help_panel=INPUTS,
    ),
]
LinkOpt = Annotated[
    str | None,
    typer.Option(
        "--link",
        help="Wan 3.0: a public web page URL to read. Not with --doc or frames; needs prompt extension.",
        rich_help_panel=INPUTS,
    ),
]
ShotTypeOpt = Annotated[
    str | None,
    typer.Option("--shot-type", help="single or multi (multi-shot; needs prompt extension on).", rich_help_panel=GEN),
]

# -- run control -------------------------------------------------------------------------------
RequestOpt = Annotated[
    str | None,
    typer.Option(
        "--request",
        help="A request in the QwenCloud video skill's JSON shape (flags override it).",
        rich_help_panel=RUN,
    ),
]
FileOpt = Annotated[
    Path | None,
    typer.Option("--file", "-f", help="Read the skill-shaped request JSON from this file.", rich_help_panel=RUN),
]
DryRunOpt = Annotated[
    bool,
    typer.Option(
        "--dry-run", help="Print the exact HTTP request that would be sent, and send nothing.", rich_help_panel=RUN
    ),
]
DetachOpt = Annotated[
    bool,
    typer.Option(
        "--detach", help="Submit, print the task id, and return (exit 5) without waiting.", rich_help_panel=RUN
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0,
        help="Bound the whole command to this many seconds, every request but a submit already sent "
        "included; a wait that ends exits 5 (the task keeps running). Default: wait_timeout in config.toml, "
        "1800 s, for the wait.",
        rich_help_panel=RUN,
    ),
]
FetchTimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=0,
        help="Stop the download after this many seconds (exit 9); the .part is kept and the next fetch "
        "continues it.",
    ),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option(
        "--output",
        "-o",
        help="Folder or .mp4 file for the video. Default: output/qwenvid/ in the working directory.",
        rich_help_panel=RUN,
    ),
]
OverwriteOpt = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        "--force",  # the word `qwenvid media` uses for the same thing
        help="Replace the file -o names if it exists (without it, an existing file is refused).",
        rich_help_panel=RUN,
    ),
]
YesOpt = Annotated[
    bool,
    typer.Option("--yes", "-y", help="Submit without asking, whatever the billable seconds.", rich_help_panel=RUN),
]
PayAgainOpt = Annotated[
    bool,
    typer.Option(
        "--pay-again",
        help="Submit although an earlier submit of the same request may already have been billed "
        "(its answer was lost); --yes never does.",
        rich_help_panel=RUN,
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print the result as one JSON object on stdout (same as the global --json).")
]
WaitOpt = Annotated[bool, typer.Option("--wait", "-w", help="Follow the task live until it ends, then download it.")]
TaskRefArg = Annotated[
    str,
    typer.Argument(
        help="A task id, or a local id (or its first characters) from `qwenvid tasks`.",
        autocompletion=complete_task,
    ),
]
