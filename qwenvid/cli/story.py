"""`qwenvid story "..."`: a paragraph to a storyboard (an ordinary plan file), then the film, narrated."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from qwenvid.cli._help import examples
from qwenvid.cli._options import JsonOpt, YesOpt
from qwenvid.cli._session import state_of
from qwenvid.cli._story_options import CastOpt
from qwenvid.errors import ValidationError

STORY_EXAMPLES = examples(
    'qwenvid story "Mira rows out at dawn. Tom waits on the pier." --write-only -o harbour.toml',
    'qwenvid --emulator story "A kite escapes over the dunes. A girl chases it." --shots 4 --resolution 480P --yes',
    'qwenvid story "A kite escapes over the dunes." -o kite.toml --write-only --rewrite',
)

STORY_HELP = """A paragraph to a narrated film: a storyboard written as a plan file, then the plan run.

A Qwen text model writes the storyboard (shots with prompts that follow the Wan prompt guide,
durations, who is in each, continuity, narration lines) as an ordinary plan file you can read and
edit; its token cost is shown. On confirmation the plan runs like any `qwenvid run`; the narration is
spoken with Qwen TTS and laid under the film, with subtitles (SRT) beside it. Running the same story
again reuses the plan it wrote (ask the text model again with --rewrite); edited shots, and only they
and what is built on them, are made again."""


def story(
    ctx: typer.Context,
    paragraph: Annotated[str, typer.Argument(help="The story, in a paragraph.", show_default=False)],
    shots: Annotated[int | None, typer.Option("--shots", min=1, max=30, help="How many shots.")] = None,
    cast: CastOpt = None,
    minutes: Annotated[
        float | None, typer.Option("--minutes", min=0.1, max=30, help="About how long the film should be.")
    ] = None,
    write_only: Annotated[bool, typer.Option("--write-only", help="Write the plan file; make nothing.")] = False,
    plan_file: Annotated[
        Path | None, typer.Option("--output", "-o", help="The plan file to write (FILE.toml). Default: from the story.")
    ] = None,
    rewrite: Annotated[
        bool, typer.Option("--rewrite", help="Ask the text model again, although the plan file exists.")
    ] = False,
    resolution: Annotated[
        str, typer.Option("--resolution", help="480P (fast, cheap), 720P or 1080P for shots without the cast.")
    ] = "720P",
    chat_model: Annotated[str, typer.Option("--chat-model", help="The Qwen text model.")] = "qwen3.7-flash",
    burn_subtitles: Annotated[
        bool, typer.Option("--burn-subtitles", help="Also write final-subtitled.mp4 with the subtitles in the picture.")
    ] = False,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
) -> None:
    make_story(
        state_of(ctx, json_out),
        paragraph,
        shots=shots,
        cast=cast,
        minutes=minutes,
        write_only=write_only,
        plan_file=plan_file,
        rewrite=rewrite,
        resolution=resolution,
        chat_model=chat_model,
        burn_subtitles=burn_subtitles,
        yes=yes,
    )


def make_story(
    state: Any,
    paragraph: str,
    *,
    shots: int | None = None,
    cast: list[str] | None = None,
    minutes: float | None = None,
    write_only: bool = False,
    plan_file: Path | None = None,
    rewrite: bool = False,
    resolution: str = "720P",
    chat_model: str = "qwen3.7-flash",
    burn_subtitles: bool = False,
    yes: bool = False,
) -> Path:
    """Write (or reuse) the storyboard plan, then run it on confirmation; the plan file's path."""
    from qwenvid.cli._cost import is_interactive
    from qwenvid.cli._session import open_session
    from qwenvid.cli.run import _checked, run_plan
    from qwenvid.config import require_key
    from qwenvid.errors import ConfirmationRequired
    from qwenvid.plans.parse import load_plan
    from qwenvid.requests.cost import is_free_service
    from qwenvid.story.board import BoardRequest, plan_name
    from qwenvid.story.cast import find_cast_dir, load_member, usable
    from qwenvid.story.costs import cost_lines
    from qwenvid.story.writer import LOOKS, estimate, write_storyboard

    out = state.out
    if not paragraph.strip():
        raise ValidationError("The story is empty: give a paragraph.")
    look = LOOKS.get(resolution.upper())
    if look is None:
        raise ValidationError(f"--resolution {resolution!r}: allowed: {', '.join(LOOKS)}.")
    names = list(dict.fromkeys(cast or []))
    members = []
    if names:
        cast_dir = find_cast_dir()
        if cast_dir is None:
            raise ValidationError("--cast: no cast/ folder here or in any parent folder.",
                                  hint=f"Add one: `qwenvid cast add {names[0]} --image FILE`.")
        members = [usable(load_member(cast_dir, n)) for n in names]
    request = BoardRequest(paragraph, shots, tuple(names), minutes, {m.name: m.description for m in members})
    name = plan_name(paragraph, names, shots, minutes, look)
    target = plan_file or Path(f"{name}.toml")
    if target.suffix.lower() != ".toml":
        raise ValidationError(f"-o {target}: the plan file is TOML (FILE.toml).")
    if target.exists() and not rewrite:
        out.info(f"Reusing the storyboard in {target} (ask the text model again with --rewrite).")
    else:
        import random

        with open_session(state) as opened:
            settings = opened.settings
            require_key(settings)
            emulated = opened.emulated or is_free_service(settings.base_url)
            from qwenvid.story.board import body_for
            from qwenvid.tasks.extra_budget import ExtraBudget

            seed = random.SystemRandom().randrange(1, 2**31) if rewrite else None
            for line in cost_lines(estimate(body_for(request, model=chat_model, seed=seed), chat_model),
                                   prices=settings.prices, emulated=emulated):
                out.notice(line)
            written = write_storyboard(
                request,
                target,
                name=name if plan_file is None else target.stem,
                look=look,
                cast_voices={m.name: m.narration_voice for m in members},
                api_key=settings.api_key,
                base_url=settings.base_url,
                ledger=settings.ledger_path,
                model=chat_model,
                seed=seed,
                burn_subtitles=burn_subtitles,
                budget=ExtraBudget(settings, emulated=emulated),
            )
        for line in cost_lines(written.cost, prices=settings.prices, emulated=emulated):
            out.notice(line)
        out.info(f"Storyboard: {written.shots} shots written to {target}.")
    if write_only:
        out.result(str(target))
        return target
    spec = _checked(out, lambda: load_plan(target))
    if not yes and not is_interactive():
        raise ConfirmationRequired(
            f"The storyboard is in {target}; making the film needs a yes and there is no terminal to ask on.",
            hint="Add --yes to make it, or --write-only to stop at the plan file.",
        )
    # The plan and its cost are shown first; then the one question (always, even when free).
    run_plan(state, spec, yes=yes, always_ask=True)
    return target


def register(app: typer.Typer) -> None:
    app.command("story", help=STORY_HELP, epilog=STORY_EXAMPLES)(story)
