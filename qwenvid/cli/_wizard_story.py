"""The wizard's story path: a paragraph, the cast, shots and look; then the same plan as `qwenvid story`."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

import typer

from qwenvid.cli._session import CliState

STORY = ("story", "story  a film from a paragraph: storyboard, cast, narration, subtitles (qwenvid story)")
RESOLUTIONS = (("480P", "480P  fast and cheap"), ("720P", "720P"), ("1080P", "1080P"))


@dataclass(frozen=True)
class StoryRequest:
    paragraph: str
    cast: list[str] = field(default_factory=list)
    shots: int | None = None
    resolution: str = "720P"


def ask_story(ask: Any) -> StoryRequest:
    """The paragraph, who of the cast is in it, how many shots, which resolution."""
    from qwenvid.cli._wizard_checks import int_check, text_check
    from qwenvid.story.cast import find_cast_dir, list_names

    paragraph = ask.text("Your story, in a paragraph", text_check("story", max_chars=4000, required=True))
    known = list_names(find_cast_dir())
    cast: list[str] = []
    if known:

        def check(answer: str) -> bool | str:
            unknown = [n for n in answer.split() if n not in known]
            return True if not unknown else f"not in the cast: {', '.join(unknown)} (known: {', '.join(known)})"

        names = ask.text(f"Who is in it? ({', '.join(known)}; Enter for nobody)", check)
        cast = list(dict.fromkeys(names.split()))
    else:
        ask.note("No cast/ folder here: characters are written by description (`qwenvid cast add` keeps them).")
    shots = ask.text("How many shots? (Enter: the text model decides)", int_check("--shots", 1, 30, optional=True))
    resolution = ask.choose("Resolution of the shots without the cast", RESOLUTIONS)
    return StoryRequest(paragraph.strip(), cast, int(shots) if shots else None, resolution)


def story_argv(request: StoryRequest, state: CliState, *, dry_run: bool) -> list[str]:
    argv = ["qwenvid", *(["--emulator"] if state.emulator else []), "story", request.paragraph]
    for name in request.cast:
        argv += ["--cast", name]
    if request.shots:
        argv += ["--shots", str(request.shots)]
    argv += ["--resolution", request.resolution]
    return argv + (["--write-only"] if dry_run else [])


def run_story(state: CliState, request: StoryRequest, *, dry_run: bool, pt_kwargs: dict[str, Any]) -> None:
    """Write the storyboard (its cost shown), then the plan's preview and the one question, as `qwenvid story`."""
    import questionary

    from qwenvid.cli.story import make_story

    out = state.out
    out.info("Summary")
    out.info(f"  story: {request.paragraph}")
    out.info(f"  cast: {', '.join(request.cast) or 'none'}")
    out.info(f"  shots: {request.shots or 'the text model decides'}; resolution {request.resolution}")
    argv = story_argv(request, state, dry_run=dry_run)
    try:
        question = "Write the storyboard (a plan file; nothing else is made)?" if dry_run else "Write the storyboard?"
        if not questionary.confirm(question, default=True, **pt_kwargs).unsafe_ask():
            out.info("Nothing was written or submitted.")
            raise typer.Exit(1)
        make_story(
            state,
            request.paragraph,
            shots=request.shots,
            cast=request.cast,
            write_only=dry_run,
            resolution=request.resolution,
        )
    finally:
        out.info("The same as a command: " + shlex.join(argv))
