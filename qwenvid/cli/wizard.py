"""`qwenvid wizard`: the guided flow, ending in the same run as the one-line commands."""

from __future__ import annotations

import dataclasses
import shlex
import sys
from typing import Any

import typer

from qwenvid.cli._cost import decline
from qwenvid.cli._options import DryRunOpt, JsonOpt, OutputOpt, OverwriteOpt
from qwenvid.cli._session import CliState, load_settings, state_of
from qwenvid.cli.generate import RunFlags, examples, run_request
from qwenvid.errors import Interrupted, ValidationError

# Where the prompts read keys and draw. Empty = the terminal (drawn on stderr, so stdout keeps only
# results); tests put {"input": <pipe input>, "output": DummyOutput()} here.
PROMPT_IO: dict[str, Any] = {}

NO_TERMINAL = (
    "the wizard needs an interactive terminal; use the flags instead, "
    'e.g. `qwenvid t2v "A kitten in the moonlight" --duration 5` (see `qwenvid --help`)'
)

# Request field -> the one-liner's option. Lists repeat the option; booleans use --x / --no-x.
OPTIONS: dict[str, str] = {
    "model": "--model",
    "negative_prompt": "--negative-prompt",
    "duration": "--duration",
    "size": "--size",
    "resolution": "--resolution",
    "ratio": "--ratio",
    "seed": "--seed",
    "prompt_extend": "--prompt-extend",
    "watermark": "--watermark",
    "audio": "--audio",
    "audio_file": "--audio-file",
    "shot_type": "--shot-type",
    "image": "--image",
    "last_frame": "--last-frame",
    "first_frame": "--first-frame",
    "clip": "--clip",
    "driving_audio": "--driving-audio",
    "template": "--template",
    "refs": "--ref",
    "ref_voices": "--ref-voice",
    "video": "--video",
    "ref_images": "--ref-image",
    "mask_image": "--mask-image",
    "mask_video": "--mask-video",
    "mask_frame_id": "--mask-frame",
    "first_clip": "--first-clip",
    "last_clip": "--last-clip",
    "obj_or_bg": "--obj-or-bg",
    "control_condition": "--control-condition",
    "strength": "--strength",
    "mask_type": "--mask-type",
    "expand_ratio": "--expand-ratio",
    "expand_mode": "--expand-mode",
    "top_scale": "--top-scale",
    "bottom_scale": "--bottom-scale",
    "left_scale": "--left-scale",
    "right_scale": "--right-scale",
    "audio_setting": "--audio-setting",
    "speech": "--speech",
    "quality": "--quality",
    "check_image": "--check-image",
}
POSITIONAL = frozenset({"prompt", "function"})


def is_interactive() -> bool:
    """A person can answer: keys come from a terminal and the prompts draw on one (tests replace this)."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def prompt_io() -> dict[str, Any]:
    """prompt_toolkit input/output for every question: the test hook, or the terminal with stderr as output."""
    if PROMPT_IO:
        return dict(PROMPT_IO)
    from prompt_toolkit.output import create_output

    return {"output": create_output(stdout=sys.stderr)}


# -- the equivalent one-liner -----------------------------------------------------------------------


def _option_words(name: str, value: Any) -> list[str]:
    option = OPTIONS[name]
    if isinstance(value, bool):
        return [option if value else "--no-" + option.removeprefix("--")]
    if isinstance(value, list):
        return [word for item in value for word in (option, str(item))]
    return [option, str(value)]


def equivalent_argv(request: Any, state: CliState, *, dry_run: bool = False, output: str | None = None) -> list[str]:
    """The one-line command that builds the same request (global options, command, positionals, options)."""
    argv = ["qwenvid"]
    if state.emulator:
        argv.append("--emulator")
    if state.region:
        argv += ["--region", state.region]
    if state.base_url:
        argv += ["--base-url", state.base_url]
    if state.out.json:
        argv.append("--json")
    if state.out.quiet:
        argv.append("--quiet")
    argv.append(request.mode)
    positionals = [str(request.function)] if request.mode == "vace" else []
    if request.mode == "animate":  # `qwenvid animate move|mix`: the kind names the model
        positionals = [str(request.model).removeprefix("wan2.2-animate-")]
    if request.prompt:
        positionals.append(request.prompt)
    options: list[str] = []
    for field in dataclasses.fields(request):
        value = getattr(request, field.name)
        if field.name in POSITIONAL or value is None or value == []:
            continue
        if field.name == "model" and request.mode == "animate":
            continue
        options += _option_words(field.name, value)
    if dry_run:
        options.append("--dry-run")
    if output is not None:
        options += ["--output", output]
    if any(word.startswith("-") for word in positionals):
        return [*argv, *options, "--", *positionals]  # a prompt starting with "-" must not read as an option
    return [*argv, *positionals, *options]


# -- summary and confirmation -----------------------------------------------------------------------


def summary_lines(request: Any) -> list[str]:
    """The request, field by field, as the user chose it (model first)."""
    lines = [f"  mode: {request.mode}" + (f" ({request.function})" if request.mode == "vace" else "")]
    names = sorted((f.name for f in dataclasses.fields(request)), key=lambda name: name != "model")
    for name in names:
        value = getattr(request, name)
        if name == "function" or value is None or value == []:
            continue
        shown = ", ".join(str(item) for item in value) if isinstance(value, list) else str(value)
        if isinstance(value, bool):
            shown = "on" if value else "off"  # "audio: on", never Python's "True"
        if name == "duration":
            shown = "the input's length" if value == 0 else f"{value} s"
        lines.append(f"  {name.replace('_', ' ')}: {shown}")
    return lines


def review(state: CliState, request: Any, *, dry_run: bool, pt_kwargs: dict[str, Any]) -> bool:
    """Show the summary, the warnings and the cost notice; ask whether to go on."""
    import questionary

    from qwenvid.cli._cost import above_threshold, budget_lines, cost_lines, free_host, free_words, submit_default
    from qwenvid.tasks.session import Session

    out = state.out
    with Session(load_settings(state)) as session:
        plan = session.plan(request)  # validates the whole request, local files included; no network
        settings = session.settings
    out.info("Summary")
    for line in summary_lines(request):
        out.info(line)
    for warning in plan.warnings:
        out.warning(warning)
    for line in [*cost_lines(plan.cost, emulated=state.emulator),
                 *budget_lines(plan.cost, settings=settings, emulated=state.emulator)]:  # fmt: skip
        out.notice(line)
    if dry_run:
        question = "Print the request (dry run: nothing is sent)?"
        return bool(questionary.confirm(question, default=True, **pt_kwargs).unsafe_ask())
    # The same rule as the one-liners' question: above confirm_above_seconds, Enter means no.
    if above_threshold(plan.cost, settings=settings, emulated=state.emulator):
        host = free_host(settings)
        free = f" ({free_words(host)}: nothing is billed)" if host is not None else ""
        out.notice(f"This is above your confirmation threshold of {settings.confirm_above_seconds:g} s{free}.")
    default = submit_default(plan.cost, settings=settings, emulated=state.emulator)
    return bool(questionary.confirm("Submit it?", default=default, **pt_kwargs).unsafe_ask())


# -- the command ------------------------------------------------------------------------------------

WIZARD_EXAMPLES = examples(
    "qwenvid wizard",
    "qwenvid --emulator wizard",
    "qwenvid wizard --dry-run --json",
)


def wizard(
    ctx: typer.Context,
    dry_run: DryRunOpt = False,
    output: OutputOpt = None,
    overwrite: OverwriteOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Guided flow: mode, model, inputs and options, each checked as you answer; then the same run as the one-liners."""
    state = state_of(ctx, json_out)
    if not is_interactive():
        raise ValidationError(NO_TERMINAL)
    if not (state.emulator or dry_run):
        from qwenvid.config import require_key

        require_key(load_settings(state))  # say so now, not after every question was answered
    if not dry_run:
        from qwenvid.wire.download import check_output_target

        # Likewise an -o that cannot be used (existing file, not .mp4, unwritable folder).
        check_output_target(output or load_settings(state).output_dir, overwrite=overwrite)
    from qwenvid.cli._wizard_flow import build_request

    pt_kwargs = prompt_io()
    try:
        request = build_request(note=state.out.info, **pt_kwargs)
        from qwenvid.cli._wizard_story import StoryRequest, run_story

        if isinstance(request, StoryRequest):  # the story path: a storyboard plan, then the film
            run_story(state, request, dry_run=dry_run, pt_kwargs=pt_kwargs)
            return
        if not hasattr(request, "mode"):  # the long-video path: a plan, not one request
            from qwenvid.cli._wizard_long import run_long_video

            run_long_video(state, request, dry_run=dry_run, output=output, pt_kwargs=pt_kwargs)
            return
        go = review(state, request, dry_run=dry_run, pt_kwargs=pt_kwargs)
    except (KeyboardInterrupt, EOFError):
        raise Interrupted("Wizard stopped; nothing was submitted.") from None
    argv = equivalent_argv(request, state, dry_run=dry_run, output=None if output is None else str(output))
    try:
        if not go:
            decline(state.out)
        # The summary showed the cost notice and asked; the run neither repeats nor asks again.
        flags = RunFlags(dry_run=dry_run, output=output, overwrite=overwrite, cost_confirmed=True)
        run_request(state, request, flags, before_submit=_face_check(request))
    finally:
        state.out.info("The same as a command: " + shlex.join(argv))


def _face_check(request: Any) -> Any:
    """s2v's face check before the submit, as `qwenvid s2v` runs it (its verdict cached per image)."""
    if request.mode != "s2v":
        return None
    from qwenvid.tasks.face_check import ensure_face

    return lambda session, out: ensure_face(session, str(request.image), out.notice)


def register(app: typer.Typer) -> None:
    """Add the wizard command to the app."""
    app.command(epilog=WIZARD_EXAMPLES)(wizard)
