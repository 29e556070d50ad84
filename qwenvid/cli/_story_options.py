"""The options stories add to the one-liners: --cast NAME (repeatable) and --takes N."""

from __future__ import annotations

from typing import Annotated

import typer

CastOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--cast",
        help="A character from the cast/ folder (`qwenvid cast add`); repeatable. Name them in the prompt: "
        "their reference images go with the request and the model's own words replace the names.",
        rich_help_panel="Story",
    ),
]
TakesOpt = Annotated[
    int | None,
    typer.Option(
        "--takes",
        min=1,
        max=20,
        help="Make N variations (seeds seed, seed+1, ... or drawn and shown); -o x.mp4 becomes x-take1.mp4, ...",
        rich_help_panel="Story",
    ),
]
