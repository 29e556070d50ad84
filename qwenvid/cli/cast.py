"""`qwenvid cast add|list|show|remove`: the characters a story keeps the same from shot to shot."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qwenvid.cli._help import examples
from qwenvid.cli._options import JsonOpt
from qwenvid.cli._session import state_of

CAST_HELP = """The cast: named characters kept the same from shot to shot (add, list, show, remove).

Each character (a reference image, an optional voice sample, a narration voice, a description) lives
in a cast/ folder beside your plans (found like git: here or in the nearest parent folder
that has one). Name a character in a prompt and pass --cast NAME (plans: cast = [...]): its reference
image goes with the request and the model's own word for it (character1, Image 1, ...) replaces the name."""

ADD_EXAMPLES = examples(
    "qwenvid cast add Alice --image alice.png",
    "qwenvid cast add Bob --image bob.png --voice song.wav --narration-voice Ethan",
    'qwenvid --emulator cast add Ada --describe "a grey-haired lighthouse keeper in a yellow raincoat"',
)

GROUP_EXAMPLES = examples(
    "qwenvid cast add Alice --image alice.png",
    "qwenvid cast list",
    "qwenvid cast list --json",
)
cast_app = typer.Typer(help=CAST_HELP, no_args_is_help=True)


@cast_app.command("add", epilog=ADD_EXAMPLES)
def add(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The character's name, as prompts will say it (one word).")],
    image: Annotated[
        Path | None, typer.Option("--image", "-i", help="Reference image (one subject, face visible).")
    ] = None,
    voice: Annotated[
        Path | None, typer.Option("--voice", help="Voice sample (wav/mp3, 1-10 s) for models that take one.")
    ] = None,
    describe: Annotated[
        str | None,
        typer.Option("--describe", help="A short description; without --image a portrait is made from it."),
    ] = None,
    narration_voice: Annotated[
        str | None, typer.Option("--narration-voice", help="Qwen TTS preset voice for the character's lines.")
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite a character of the same name.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Add a character: a reference image (or a portrait made from --describe), optional voice and description."""
    from qwenvid.errors import ValidationError
    from qwenvid.story.cast import cast_dir_for_writing, check_name, write_member

    state = state_of(ctx, json_out)
    out = state.out
    check_name(name)
    if image is None and not describe:
        raise ValidationError(
            "cast add needs --image FILE, or --describe TEXT to make a portrait.", field="image"
        )
    cast_dir = cast_dir_for_writing()
    if (cast_dir / name / "cast.toml").exists() and not replace:
        raise ValidationError(
            f"Cast member {name!r} already exists in {cast_dir}.",
            hint="Add --replace to overwrite it, or `qwenvid cast remove` it first.",
        )
    portrait = None
    if image is None:
        portrait = _portrait(state, describe or "", cast_dir / name)
    member = write_member(
        cast_dir,
        name,
        image=portrait or image,
        voice=voice,
        narration_voice=narration_voice,
        description=describe or "",
        replace=replace,
    )
    if portrait is not None:
        portrait.unlink(missing_ok=True)  # copied into the member's folder as portrait.png
    if out.json:
        out.result_json(member.to_json())
    else:
        out.result(str(member.folder))


def _portrait(state: object, description: str, folder: Path) -> Path:
    """Show the portrait's cost first, then make it (or reuse the one made from the same description)."""
    from qwenvid.cli._session import open_session
    from qwenvid.config import require_key
    from qwenvid.requests.cost import is_free_service
    from qwenvid.story.costs import cost_lines
    from qwenvid.story.portrait import make_portrait, portrait_cost
    from qwenvid.tasks.extra_budget import ExtraBudget

    out = state.out  # type: ignore[attr-defined]
    with open_session(state) as opened:  # type: ignore[arg-type]
        settings = opened.settings
        require_key(settings)
        emulated = opened.emulated or is_free_service(settings.base_url)
        # Shown first; not asked: one image is far below any confirmation threshold a run of video has.
        for line in cost_lines(portrait_cost(), prices=settings.prices, emulated=emulated):
            out.notice(line)
        staged = folder.parent / f".{folder.name}-portrait.png"
        path, reused = make_portrait(
            api_key=settings.api_key,
            base_url=settings.base_url,
            ledger=settings.ledger_path,
            description=description,
            target=staged,
            budget=ExtraBudget(settings, emulated=emulated),
        )
    if reused:
        out.info("Portrait reused from an earlier run of the same description (nothing paid).")
    return path


@cast_app.command("list")
def list_(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """List the cast: name, image, voice, narration voice, description."""
    from qwenvid.story.cast import find_cast_dir, load_all

    out = state_of(ctx, json_out).out
    cast_dir = find_cast_dir()
    members = load_all(cast_dir)
    if out.json:
        out.result_json({"cast_dir": str(cast_dir) if cast_dir else None, "cast": [m.to_json() for m in members]})
        return
    if not members:
        out.info("No cast yet: add one with `qwenvid cast add NAME --image FILE`.")
        return
    rows = [
        [m.name, m.image.name if m.images else "-", m.voice.name if m.voice else "-", m.narration_voice or "-",
         m.description or ""]
        for m in members
    ]
    out.table(["name", "image", "voice", "narration", "description"], rows)


@cast_app.command("show")
def show(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The character.")], json_out: JsonOpt = False
) -> None:
    """Show one character and check that its files are usable."""
    from qwenvid.errors import ValidationError
    from qwenvid.story.cast import find_cast_dir, load_member, usable

    out = state_of(ctx, json_out).out
    cast_dir = find_cast_dir()
    if cast_dir is None:
        raise ValidationError("No cast/ folder here or in any parent folder.", hint="Add one: `qwenvid cast add`.")
    member = usable(load_member(cast_dir, name))
    if out.json:
        out.result_json(member.to_json())
        return
    for key, value in member.to_json().items():
        if value:
            out.result(f"{key}: {', '.join(value) if isinstance(value, list) else value}")


@cast_app.command("remove")
def remove(ctx: typer.Context, name: Annotated[str, typer.Argument(help="The character.")]) -> None:
    """Remove a character (its folder under cast/)."""
    from qwenvid.errors import ValidationError
    from qwenvid.story.cast import find_cast_dir, remove_member

    out = state_of(ctx).out
    cast_dir = find_cast_dir()
    if cast_dir is None:
        raise ValidationError("No cast/ folder here or in any parent folder.")
    folder = remove_member(cast_dir, name)
    out.info(f"Removed {name} ({folder}).")


def register(app: typer.Typer) -> None:
    app.add_typer(cast_app, name="cast", help=CAST_HELP, epilog=GROUP_EXAMPLES)
