"""Generation commands: t2v, i2v, kf2v, r2v, vace and generate, all through one shared run flow."""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from qwenvid.cli._cost import confirm_cost, cost_lines, decline, paused_notice, pay_again_asker
from qwenvid.cli._help import examples
from qwenvid.cli._options import (
    INPUTS,
    AudioFileOpt,
    AudioOpt,
    DetachOpt,
    DocOpt,
    DryRunOpt,
    DurationOpt,
    FileOpt,
    JsonOpt,
    LinkOpt,
    ModelOpt,
    NegativePromptOpt,
    OptionalPromptArg,
    OutputOpt,
    OverwriteOpt,
    PayAgainOpt,
    PromptArg,
    PromptExtendOpt,
    PromptFileOpt,
    RatioOpt,
    RequestOpt,
    ResolutionOpt,
    SeedOpt,
    ShotTypeOpt,
    SizeOpt,
    TimeoutOpt,
    VacePromptArg,
    WatermarkOpt,
    YesOpt,
)
from qwenvid.cli._output import Output
from qwenvid.cli._progress import make_reporter
from qwenvid.cli._session import CliState, open_session, state_of
from qwenvid.cli._story_options import CastOpt, TakesOpt
from qwenvid.errors import Interrupted, QwenvidError, StillRunning, ValidationError

VACE_FUNCTIONS_HELP = (
    "image_reference (ref), video_repainting (repaint), video_edit (edit), video_extension (extend), "
    "video_outpainting (outpaint), or instruct (videoedit: wan2.7-videoedit)"
)


@dataclass
class RunFlags:
    """The run-control options every generation command shares."""

    request_json: str | None = None
    file: Path | None = None
    dry_run: bool = False
    detach: bool = False
    timeout: float | None = None
    output: Path | None = None
    yes: bool = False
    overwrite: bool = False
    # The cost notice was already shown and accepted (the wizard's summary): do not show or ask again.
    cost_confirmed: bool = False
    # Submit although an earlier submit of this request may have been billed (--yes never means that).
    pay_again: bool = False


# -- building requests ---------------------------------------------------------------------------


def read_prompt(prompt: str | None, prompt_file: Path | None) -> str | None:
    """The prompt: as given, or read from a file or stdin (`-`); trailing line breaks dropped."""
    if prompt is not None and prompt_file is not None and prompt != "-":
        raise ValidationError("Give the prompt as an argument or with --prompt-file, not both.")
    source = "-" if prompt == "-" else str(prompt_file) if prompt_file is not None else None
    if source is None:
        return prompt
    try:
        data = sys.stdin.buffer.read() if source == "-" else Path(source).read_bytes()
    except OSError as exc:
        raise ValidationError(f"Cannot read the prompt from {source}: {exc.strerror}.") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = "stdin" if source == "-" else source
        raise ValidationError(
            f"The prompt from {where} is not UTF-8 text (byte {exc.start + 1} cannot be decoded).",
            hint="Save the prompt as UTF-8.",
        ) from None
    return text.rstrip("\r\n")



def read_skill_json(flags: RunFlags) -> dict[str, Any] | None:
    """The skill-shaped request from --request or --file, if one was given."""
    if flags.request_json is not None and flags.file is not None:
        raise ValidationError("Give either --request or --file, not both.")
    text = flags.request_json
    if flags.file is not None:
        try:
            text = flags.file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError(f"Cannot read {flags.file}: {exc.strerror}.") from None
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"{flags.file} is not UTF-8 text (byte {exc.start + 1} cannot be decoded).",
                hint="Save the request file as UTF-8; JSON files are UTF-8 by definition.",
            ) from None
    if text is None:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"The request is not valid JSON: {exc.msg} (line {exc.lineno}).") from None
    if not isinstance(data, dict):
        raise ValidationError("The request must be a JSON object.")
    wait = data.get("timeout_s")
    if wait is not None:
        if isinstance(wait, bool) or not isinstance(wait, int | float) or wait < 0:
            raise ValidationError(f'"timeout_s" {wait!r} is not a number of seconds (0 or more).')
        if flags.timeout is None:
            flags.timeout = float(wait)  # the skill's own wait limit; --timeout wins over it
    return data


def request_of(cls_name: str, values: dict[str, Any], skill: dict[str, Any] | None, mode: str | None) -> Any:
    """The library request object: the skill JSON (if any) with every flag the user gave laid over it."""
    from qwenvid.requests import shapes as requests

    given = {key: value for key, value in values.items() if value is not None and value != []}
    if skill is not None:
        base = requests.request_from_skill_json(skill, mode=mode)  # type: ignore[arg-type]
        return dataclasses.replace(base, **_known_fields(type(base), given))
    cls = getattr(requests, cls_name)
    return cls(**_known_fields(cls, given))


def _known_fields(cls: type, given: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(given) - names)
    if unknown:
        options = ", ".join("--" + name.replace("_", "-") for name in unknown)
        raise ValidationError(f"{options} cannot be used with {cls.__name__}.")
    return given


def common_values(
    model: str | None,
    prompt: str | None,
    negative_prompt: str | None,
    duration: int | None,
    size: str | None,
    resolution: str | None,
    ratio: str | None,
    seed: int | None,
    prompt_extend: bool | None,
    watermark: bool | None,
) -> dict[str, Any]:
    return {
        "model": model,
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "duration": duration,
        "size": size,
        "resolution": resolution,
        "ratio": ratio,
        "seed": seed,
        "prompt_extend": prompt_extend,
        "watermark": watermark,
    }


# -- the one run flow ----------------------------------------------------------------------------


def run_request(state: CliState, request: Any, flags: RunFlags, before_submit: Any = None) -> None:
    """Validate, show the cost, submit, follow, download, and print the result (or the dry run)."""
    from qwenvid.config import require_key
    from qwenvid.store import startup_gate
    from qwenvid.tasks.context import TaskContext
    from qwenvid.tasks.pay_again import pay_again_guard
    from qwenvid.tasks.session import Phase, RunOptions
    from qwenvid.tasks.submit import Guard, SubmitAttempt
    from qwenvid.wire.download import check_output_target

    out = state.out
    with open_session(state, timeout=flags.timeout) as opened:
        reporter = make_reporter(out)
        try:
            reporter.phase(Phase.VALIDATING)
            plan = opened.session.plan(request)
            for warning in [*plan.warnings, *_region_warnings(plan.model, opened)]:
                out.warning(warning)
            free = opened.emulated
            if flags.dry_run:
                reporter.close()
                if state.cost_only:
                    from qwenvid.cli.cost_cmd import print_cost

                    print_cost(out, plan.cost, free=free, source=state.emulator_source)
                    return
                for line in cost_lines(plan.cost, emulated=free, emulator_source=state.emulator_source):
                    out.notice(line)  # the cost of the command, without running it (stderr)
                out.result_json(opened.session.dry_run(plan))
                return
            if opened.emulated and flags.detach:
                raise ValidationError(
                    "--detach cannot be used with --emulator: the in-process emulator, and its task, end with "
                    "this command.",
                    hint="Drop --detach, or run `qwenvid emulator` in another terminal and point --base-url at it.",
                )
            # A missing key is said before the cost notice, which would otherwise suggest money is about to move.
            require_key(opened.settings)
            # So is an output that cannot be used: nobody should be asked to pay and then be refused.
            check_output_target(flags.output or opened.settings.output_dir, overwrite=flags.overwrite)
            # Started up: the next run starting beside this one may have the CPU (qwenvid/store/startup_gate.py).
            startup_gate.leave()
            # Checked by the submit before anything is paid (qwenvid/tasks/submit.py guards): an earlier unknown
            # outcome of this same request is looked up first (paying again needs --pay-again), then the cost.
            def pay_again_check(ctx: TaskContext, attempt: SubmitAttempt) -> None:
                if not pay_again_guard(
                    ctx, attempt.plan, reporter, pay_again=flags.pay_again,
                    ask=pay_again_asker(reporter.close), tell=paused_notice(out, reporter.close),
                ):
                    decline(out)

            guards: list[Guard] = [pay_again_check]
            if not flags.cost_confirmed:
                guards.append(
                    lambda _ctx, attempt: confirm_cost(
                        attempt.plan.cost,
                        settings=opened.settings,
                        out=out,
                        emulated=opened.emulated,
                        yes=flags.yes,
                        pause_display=reporter.close,
                        emulator_source=state.emulator_source,
                    )
                )
            if plan.local_inputs:  # what leaves the machine, before the first upload (product.md §3.1)
                from qwenvid.requests.outbound import outbound_lines, request_outbound
                from qwenvid.tasks.uploads import reused_inputs

                reused = reused_inputs(opened.session, plan)
                for line in outbound_lines(request_outbound(plan.local_inputs), reused):
                    out.notice(line)
            if before_submit is not None:  # after the confirmation, before the row: s2v's face check
                guards.append(lambda _ctx, _attempt: before_submit(opened.session, out))
            options = RunOptions(
                output=flags.output,
                timeout=flags.timeout,
                detach=flags.detach,
                estimate=state.estimate(opened.emulated),
                overwrite=flags.overwrite,
            )
            try:
                result = opened.session.run(plan, options, reporter, guards=guards)
            except KeyboardInterrupt:
                raise interrupted(reporter.task_id) from None
        except QwenvidError as exc:
            if opened.emulated:
                emulated_hint(exc)
            raise
        finally:
            reporter.close()
    emit_result(out, result)
    from qwenvid.cli._preview import preview_after_run

    preview_after_run(state, opened.settings, result.video_path)


def run_story_request(
    state: CliState,
    request: Any,
    flags: RunFlags,
    *,
    cast: list[str] | None = None,
    model: str | None = None,
    takes: int | None = None,
) -> None:
    """A one-liner with --cast (references put in) and/or --takes (N variations); else the one run flow."""
    from qwenvid.cli._cast import with_cast

    request = with_cast(state.out, request, cast, model=model)
    if takes and takes > 1:
        from qwenvid.cli._takes import run_takes

        run_takes(state, request, flags, takes, run_request)
    else:
        run_request(state, request, flags)


def _region_warnings(model: str, opened: Any) -> list[str]:
    """A model the chosen region does not offer (only when the region picked the URL, not a base URL)."""
    from qwenvid.catalogue import region_warning, workspace_warning

    if opened.emulated or not opened.settings.base_url_source.startswith("region"):
        return []
    warning = region_warning(model, opened.settings.region)
    return [warning for warning in (warning, workspace_warning(model)) if warning]


def emulated_hint(exc: QwenvidError) -> None:
    """Under --emulator the task lived in this process: no hint may send the user after it."""
    if exc.task_id or (exc.hint and ("qwenvid status" in exc.hint or "qwenvid fetch" in exc.hint)):
        exc.hint = (
            "The in-process emulator stopped with this command, and its task with it; "
            "run the command again (it is free)."
        )
        # Nor may the message say the task goes on somewhere: it ended with its emulator.
        exc.message = exc.message.replace("it keeps running on the server", "it ended with the in-process emulator")


def interrupted(task_id: str | None) -> Interrupted:
    """Ctrl-C outside the library's own wait: name the task if there is one; never cancel it."""
    if task_id:
        return Interrupted(
            f"Stopped waiting for task {task_id}; it keeps running on the server.",
            hint=f"Continue with `qwenvid status {task_id} --wait`.",
            task_id=task_id,
        )
    return Interrupted("Interrupted.", hint="Run `qwenvid resume` to finish anything that was submitted.")


def emit_result(out: Output, result: Any) -> None:
    """A finished video's path (or the one JSON object); a detached task's id, then exit 5."""
    if result.video_path is None:
        still = StillRunning(
            f"Task {result.task_id} is {result.status}; not waiting for it.",
            hint=f"Follow it with `qwenvid status {result.task_id} --wait`.",
            task_id=result.task_id,
        )
        if out.json:
            # The error boundary prints the one JSON object: this result with the exit-5 outcome in it.
            still.result = result.to_json()  # type: ignore[attr-defined]
        else:
            out.result(result.task_id)
        raise still
    if out.json:
        from qwenvid.cli._envelope import envelope

        out.result_json(envelope(result.to_json()))
    else:
        out.result(str(result.video_path))


# -- commands ------------------------------------------------------------------------------------

T2V_EXAMPLES = examples(
    'qwenvid t2v "A kitten running in the moonlight"',
    'qwenvid t2v "A city at dawn" --model wan2.7-t2v --resolution 720P --ratio 9:16 --duration 8',
    'qwenvid t2v "Waves" --model wan2.1-t2v-turbo --size 832*480 --dry-run --json',
    "qwenvid t2v --prompt-file prompt.txt --duration 10",
    'echo "A kitten in the snow" | qwenvid t2v - --dry-run',
    'qwenvid --emulator t2v "A kitten running in the moonlight"',
    'qwenvid t2v "Film this story" --model wan3.0-video --doc prompt.txt',
)


def t2v(
    ctx: typer.Context,
    prompt: PromptArg = None,
    prompt_file: PromptFileOpt = None,
    model: ModelOpt = None,
    duration: DurationOpt = None,
    size: SizeOpt = None,
    resolution: ResolutionOpt = None,
    ratio: RatioOpt = None,
    negative_prompt: NegativePromptOpt = None,
    seed: SeedOpt = None,
    prompt_extend: PromptExtendOpt = None,
    watermark: WatermarkOpt = None,
    audio: AudioOpt = None,
    audio_file: AudioFileOpt = None,
    shot_type: ShotTypeOpt = None,
    doc: DocOpt = None,
    link: LinkOpt = None,
    request_json: RequestOpt = None,
    file: FileOpt = None,
    dry_run: DryRunOpt = False,
    detach: DetachOpt = False,
    timeout: TimeoutOpt = None,
    output: OutputOpt = None,
    overwrite: OverwriteOpt = False,
    yes: YesOpt = False,
    pay_again: PayAgainOpt = False,
    json_out: JsonOpt = False,
    cast: CastOpt = None,
    takes: TakesOpt = None,
) -> None:
    """Make a video from a text prompt."""
    flags = RunFlags(
        request_json, file, dry_run, detach, timeout, output, yes, overwrite=overwrite, pay_again=pay_again
    )
    prompt = read_prompt(prompt, prompt_file)
    values = common_values(
        model, prompt, negative_prompt, duration, size, resolution, ratio, seed, prompt_extend, watermark
    )
    values |= {"audio": audio, "audio_file": audio_file, "shot_type": shot_type, "doc": doc, "link": link}
    request = request_of("T2VRequest", values, read_skill_json(flags), "t2v")
    run_story_request(state_of(ctx, json_out), request, flags, cast=cast, model=model, takes=takes)


I2V_EXAMPLES = examples(
    'qwenvid i2v "The cat turns its head" --image cat.png',
    'qwenvid i2v "She smiles" --image https://example.com/face.jpg --resolution 720P --duration 10',
    'qwenvid i2v "Bloom" --model wan2.7-i2v --image bud.png --last-frame flower.png',
    'qwenvid i2v "Keep going" --model wan2.7-i2v --clip start.mp4',
    'qwenvid i2v "Sing" --model wan2.7-i2v --image singer.png --driving-audio song.mp3',
)


def i2v(
    ctx: typer.Context,
    prompt: OptionalPromptArg = None,
    prompt_file: PromptFileOpt = None,
    image: Annotated[
        str | None, typer.Option("--image", "-i", help="First frame: local image or URL.", rich_help_panel=INPUTS)
    ] = None,
    last_frame: Annotated[
        str | None, typer.Option("--last-frame", help="Last frame (wan2.7-i2v): image or URL.", rich_help_panel=INPUTS)
    ] = None,
    clip: Annotated[
        str | None,
        typer.Option("--clip", help="Video to continue (wan2.7-i2v, 2-10 s): mp4/mov or URL.", rich_help_panel=INPUTS),
    ] = None,
    driving_audio: Annotated[
        str | None,
        typer.Option(
            "--driving-audio",
            help="Audio that drives the video (wan2.7-i2v, 2-30 s): wav/mp3 or URL.",
            rich_help_panel=INPUTS,
        ),
    ] = None,
    template: Annotated[
        str | None,
        typer.Option("--template", help="Effect template name (wan2.1 models), e.g. flying.", rich_help_panel=INPUTS),
    ] = None,
    model: ModelOpt = None,
    duration: DurationOpt = None,
    resolution: ResolutionOpt = None,
    size: SizeOpt = None,
    ratio: RatioOpt = None,
    negative_prompt: NegativePromptOpt = None,
    seed: SeedOpt = None,
    prompt_extend: PromptExtendOpt = None,
    watermark: WatermarkOpt = None,
    audio: AudioOpt = None,
    audio_file: AudioFileOpt = None,
    shot_type: ShotTypeOpt = None,
    request_json: RequestOpt = None,
    file: FileOpt = None,
    dry_run: DryRunOpt = False,
    detach: DetachOpt = False,
    timeout: TimeoutOpt = None,
    output: OutputOpt = None,
    overwrite: OverwriteOpt = False,
    yes: YesOpt = False,
    pay_again: PayAgainOpt = False,
    json_out: JsonOpt = False,
    takes: TakesOpt = None,
) -> None:
    """Animate an image (first frame; wan2.7-i2v also last frame, clip continuation, driving audio)."""
    flags = RunFlags(
        request_json, file, dry_run, detach, timeout, output, yes, overwrite=overwrite, pay_again=pay_again
    )
    prompt = read_prompt(prompt, prompt_file)
    values = common_values(
        model, prompt, negative_prompt, duration, size, resolution, ratio, seed, prompt_extend, watermark
    )
    values |= {
        "image": image,
        "last_frame": last_frame,
        "clip": clip,
        "driving_audio": driving_audio,
        "template": template,
        "audio": audio,
        "audio_file": audio_file,
        "shot_type": shot_type,
    }
    request = request_of("I2VRequest", values, read_skill_json(flags), "i2v")
    run_story_request(state_of(ctx, json_out), request, flags, takes=takes)


KF2V_EXAMPLES = examples(
    'qwenvid kf2v "The bud opens" --first-frame bud.png --last-frame flower.png',
    "qwenvid kf2v --first-frame a.jpg --last-frame b.jpg --resolution 480P --dry-run --json",
)


def kf2v(
    ctx: typer.Context,
    prompt: OptionalPromptArg = None,
    prompt_file: PromptFileOpt = None,
    first_frame: Annotated[
        str | None, typer.Option("--first-frame", help="First frame: image or URL.", rich_help_panel=INPUTS)
    ] = None,
    last_frame: Annotated[
        str | None, typer.Option("--last-frame", help="Last frame: image or URL.", rich_help_panel=INPUTS)
    ] = None,
    template: Annotated[
        str | None,
        typer.Option("--template", help="Effect template name (wan2.1 models), e.g. flying.", rich_help_panel=INPUTS),
    ] = None,
    model: ModelOpt = None,
    duration: DurationOpt = None,
    resolution: ResolutionOpt = None,
    size: SizeOpt = None,
    ratio: RatioOpt = None,
    negative_prompt: NegativePromptOpt = None,
    seed: SeedOpt = None,
    prompt_extend: PromptExtendOpt = None,
    watermark: WatermarkOpt = None,
    request_json: RequestOpt = None,
    file: FileOpt = None,
    dry_run: DryRunOpt = False,
    detach: DetachOpt = False,
    timeout: TimeoutOpt = None,
    output: OutputOpt = None,
    overwrite: OverwriteOpt = False,
    yes: YesOpt = False,
    pay_again: PayAgainOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Make a video between a first and a last frame."""
    flags = RunFlags(
        request_json, file, dry_run, detach, timeout, output, yes, overwrite=overwrite, pay_again=pay_again
    )
    prompt = read_prompt(prompt, prompt_file)
    values = common_values(
        model, prompt, negative_prompt, duration, size, resolution, ratio, seed, prompt_extend, watermark
    )
    values |= {"first_frame": first_frame, "last_frame": last_frame, "template": template}
    request = request_of("KF2VRequest", values, read_skill_json(flags), "kf2v")
    run_request(state_of(ctx, json_out), request, flags)


R2V_EXAMPLES = examples(
    'qwenvid r2v "character1 waves at character2" --ref alice.png --ref bob.png',
    'qwenvid r2v "character1 dances" --ref dancer.mp4 --size 1280*720 --duration 8',
    'qwenvid r2v "Image 1 walks on the beach" --model wan2.7-r2v --ref person.png --resolution 720P --ratio 1:1',
)


def r2v(
    ctx: typer.Context,
    prompt: PromptArg = None,
    prompt_file: PromptFileOpt = None,
    ref: Annotated[
        list[str] | None,
        typer.Option(
            "--ref",
            "-r",
            help="Reference image or video (local or URL); repeat for several (up to 5).",
            rich_help_panel=INPUTS,
        ),
    ] = None,
    ref_voice: Annotated[
        list[str] | None,
        typer.Option(
            "--ref-voice",
            help="wan2.7-r2v: voice (wav/mp3, 1-10 s) for the --ref at the same position; repeatable.",
            rich_help_panel=INPUTS,
        ),
    ] = None,
    first_frame: Annotated[
        str | None,
        typer.Option("--first-frame", help="Optional first frame (wan2.7-r2v): image or URL.", rich_help_panel=INPUTS),
    ] = None,
    model: ModelOpt = None,
    duration: DurationOpt = None,
    size: SizeOpt = None,
    resolution: ResolutionOpt = None,
    ratio: RatioOpt = None,
    negative_prompt: NegativePromptOpt = None,
    seed: SeedOpt = None,
    prompt_extend: PromptExtendOpt = None,
    watermark: WatermarkOpt = None,
    audio: AudioOpt = None,
    shot_type: ShotTypeOpt = None,
    doc: DocOpt = None,
    link: LinkOpt = None,
    request_json: RequestOpt = None,
    file: FileOpt = None,
    dry_run: DryRunOpt = False,
    detach: DetachOpt = False,
    timeout: TimeoutOpt = None,
    output: OutputOpt = None,
    overwrite: OverwriteOpt = False,
    yes: YesOpt = False,
    pay_again: PayAgainOpt = False,
    json_out: JsonOpt = False,
    cast: CastOpt = None,
    takes: TakesOpt = None,
) -> None:
    """Make a video of the characters in reference images or videos."""
    flags = RunFlags(
        request_json, file, dry_run, detach, timeout, output, yes, overwrite=overwrite, pay_again=pay_again
    )
    prompt = read_prompt(prompt, prompt_file)
    values = common_values(
        model, prompt, negative_prompt, duration, size, resolution, ratio, seed, prompt_extend, watermark
    )
    values |= {
        "refs": list(ref or []),
        "ref_voices": list(ref_voice or []),
        "first_frame": first_frame,
        "audio": audio,
        "shot_type": shot_type,
        "doc": doc,
        "link": link,
    }
    request = request_of("R2VRequest", values, read_skill_json(flags), "r2v")
    run_story_request(state_of(ctx, json_out), request, flags, cast=cast, model=model, takes=takes)


VACE_EXAMPLES = examples(
    'qwenvid vace ref "A girl in a garden" --ref-image girl.png --ref-image garden.png --obj-or-bg obj --obj-or-bg bg',
    'qwenvid vace repaint "Turn it into claymation" --video dance.mp4 --control-condition depth',
    'qwenvid vace edit "A red hat" --video walk.mp4 --mask-image mask.png',
    'qwenvid vace extend "The dog keeps running" --first-clip start.mp4',
    'qwenvid vace outpaint "Wide beach" --video beach.mp4 --left-scale 1.5 --right-scale 1.5',
    'qwenvid vace instruct "Make it snow" --video street.mp4 --resolution 720P',
)


def vace(
    ctx: typer.Context,
    function: Annotated[
        str | None,
        typer.Argument(help=f"What to do: {VACE_FUNCTIONS_HELP}. Optional with --request/--file.", show_default=False),
    ] = None,
    prompt: VacePromptArg = None,
    prompt_file: PromptFileOpt = None,
    video: Annotated[
        str | None, typer.Option("--video", help="Source video: mp4 or URL.", rich_help_panel=INPUTS)
    ] = None,
    ref_image: Annotated[
        list[str] | None,
        typer.Option("--ref-image", help="Reference image (local or URL); repeatable.", rich_help_panel=INPUTS),
    ] = None,
    mask_image: Annotated[
        str | None,
        typer.Option("--mask-image", help="video_edit mask image (white = edit).", rich_help_panel=INPUTS),
    ] = None,
    mask_video: Annotated[
        str | None,
        typer.Option("--mask-video", help="video_edit mask video (white = edit).", rich_help_panel=INPUTS),
    ] = None,
    mask_frame_id: Annotated[
        int | None,
        typer.Option(
            "--mask-frame",
            "--mask-frame-id",
            help="Frame the mask image belongs to (1-based). Default: 1.",
            rich_help_panel=INPUTS,
        ),
    ] = None,
    first_clip: Annotated[
        str | None,
        typer.Option("--first-clip", help="video_extension: clip to continue (<=3 s).", rich_help_panel=INPUTS),
    ] = None,
    last_clip: Annotated[
        str | None,
        typer.Option("--last-clip", help="video_extension: clip to lead into (<=3 s).", rich_help_panel=INPUTS),
    ] = None,
    first_frame: Annotated[
        str | None, typer.Option("--first-frame", help="video_extension: first frame image.", rich_help_panel=INPUTS)
    ] = None,
    last_frame: Annotated[
        str | None, typer.Option("--last-frame", help="video_extension: last frame image.", rich_help_panel=INPUTS)
    ] = None,
    obj_or_bg: Annotated[
        list[str] | None,
        typer.Option(
            "--obj-or-bg", help="image_reference: obj or bg per --ref-image, in order.", rich_help_panel=INPUTS
        ),
    ] = None,
    control_condition: Annotated[
        str | None,
        typer.Option("--control-condition", help="video_repainting: posebodyface, posebody, depth or scribble."),
    ] = None,
    strength: Annotated[
        float | None,
        typer.Option("--strength", help="video_repainting: 0.0-1.0, closeness to the source. Default 1.0."),
    ] = None,
    mask_type: Annotated[
        str | None, typer.Option("--mask-type", help="video_edit: tracking (default) or fixed.")
    ] = None,
    expand_ratio: Annotated[
        float | None, typer.Option("--expand-ratio", help="video_edit: mask growth 0.0-1.0. Default 0.05.")
    ] = None,
    expand_mode: Annotated[
        str | None, typer.Option("--expand-mode", help="video_edit: hull, bbox or original.")
    ] = None,
    top_scale: Annotated[
        float | None, typer.Option("--top-scale", help="video_outpainting: 1.0-2.0. Default 1.0.")
    ] = None,
    bottom_scale: Annotated[
        float | None, typer.Option("--bottom-scale", help="video_outpainting: 1.0-2.0. Default 1.0.")
    ] = None,
    left_scale: Annotated[
        float | None, typer.Option("--left-scale", help="video_outpainting: 1.0-2.0. Default 1.0.")
    ] = None,
    right_scale: Annotated[
        float | None, typer.Option("--right-scale", help="video_outpainting: 1.0-2.0. Default 1.0.")
    ] = None,
    audio_setting: Annotated[
        str | None, typer.Option("--audio-setting", help="instruct (wan2.7-videoedit): auto (default) or origin.")
    ] = None,
    model: ModelOpt = None,
    duration: DurationOpt = None,
    size: SizeOpt = None,
    resolution: ResolutionOpt = None,
    ratio: RatioOpt = None,
    negative_prompt: NegativePromptOpt = None,
    seed: SeedOpt = None,
    prompt_extend: PromptExtendOpt = None,
    watermark: WatermarkOpt = None,
    request_json: RequestOpt = None,
    file: FileOpt = None,
    dry_run: DryRunOpt = False,
    detach: DetachOpt = False,
    timeout: TimeoutOpt = None,
    output: OutputOpt = None,
    overwrite: OverwriteOpt = False,
    yes: YesOpt = False,
    pay_again: PayAgainOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Edit or extend videos: the five VACE functions, or instruction editing with wan2.7-videoedit."""
    from qwenvid.catalogue import INSTRUCT, canonical_vace_function

    flags = RunFlags(
        request_json, file, dry_run, detach, timeout, output, yes, overwrite=overwrite, pay_again=pay_again
    )
    skill = read_skill_json(flags)
    if function is None and skill is None:
        raise ValidationError("vace needs a function first.", hint=f"Use one of: {VACE_FUNCTIONS_HELP}.")
    name = canonical_vace_function(function) if function is not None else None
    if function is not None and name is None:
        raise ValidationError(f"Unknown vace function {function!r}.", hint=f"Use one of: {VACE_FUNCTIONS_HELP}.")
    prompt = read_prompt(prompt, prompt_file)
    values = common_values(
        model, prompt, negative_prompt, duration, size, resolution, ratio, seed, prompt_extend, watermark
    )
    values |= {
        "function": None if name == INSTRUCT else name,
        "video": video,
        "ref_images": list(ref_image or []),
        "mask_image": mask_image,
        "mask_video": mask_video,
        "mask_frame_id": mask_frame_id,
        "first_clip": first_clip,
        "last_clip": last_clip,
        "first_frame": first_frame,
        "last_frame": last_frame,
        "obj_or_bg": list(obj_or_bg or []),
        "control_condition": control_condition,
        "strength": strength,
        "mask_type": mask_type,
        "expand_ratio": expand_ratio,
        "expand_mode": expand_mode,
        "top_scale": top_scale,
        "bottom_scale": bottom_scale,
        "left_scale": left_scale,
        "right_scale": right_scale,
        "audio_setting": audio_setting,
    }
    request = request_of("VideoEditRequest" if name == INSTRUCT else "VaceRequest", values, skill, "vace")
    run_request(state_of(ctx, json_out), request, flags)


GENERATE_EXAMPLES = examples(
    """qwenvid generate --request '{"prompt": "A kitten in the moonlight", "model": "wan2.6-t2v"}'""",
    "qwenvid generate --file request.json --dry-run --json",
    "qwenvid generate --file request.json --model wan2.7-t2v",
    """qwenvid generate --request '{"prompt": "Bloom", "first_frame_url": "https://example.com/bud.png"}' """
    "--mode i2v --dry-run",
    "qwenvid --emulator generate --file request.json",
)
MODES = ("t2v", "i2v", "kf2v", "r2v", "vace")


def generate(
    ctx: typer.Context,
    request_json: RequestOpt = None,
    file: FileOpt = None,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode",
            help="t2v, i2v, kf2v, r2v or vace: use this mode instead of detecting it from the fields (as the skill's "
            "--mode does).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model", "-m", help="Use this model instead of the request's \"model\" (as the skill's --model does)."
        ),
    ] = None,
    dry_run: DryRunOpt = False,
    detach: DetachOpt = False,
    timeout: TimeoutOpt = None,
    output: OutputOpt = None,
    overwrite: OverwriteOpt = False,
    yes: YesOpt = False,
    pay_again: PayAgainOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Run a request in the QwenCloud video skill's JSON shape; the mode is detected from its fields."""
    from qwenvid.requests import shapes as requests

    flags = RunFlags(
        request_json, file, dry_run, detach, timeout, output, yes, overwrite=overwrite, pay_again=pay_again
    )
    if mode is not None and mode not in MODES:
        raise ValidationError(f"--mode {mode!r} is not a mode.", hint=f"Use one of: {', '.join(MODES)}.")
    skill = read_skill_json(flags)
    if skill is None:
        raise ValidationError("generate needs --request JSON or --file FILE.", hint="See `qwenvid generate --help`.")
    if model is not None:
        skill = {**skill, "model": model}  # before detection: the model can decide the mode (wan2.7-i2v)
    request = requests.request_from_skill_json(skill, mode=mode, override_mode=mode is not None)  # type: ignore[arg-type]
    run_request(state_of(ctx, json_out), request, flags)


def register(app: typer.Typer) -> None:
    """Add the generation commands to the app."""
    app.command(epilog=T2V_EXAMPLES)(t2v)
    app.command(epilog=I2V_EXAMPLES)(i2v)
    app.command(epilog=KF2V_EXAMPLES)(kf2v)
    app.command(epilog=R2V_EXAMPLES)(r2v)
    app.command(epilog=VACE_EXAMPLES)(vace)
    app.command(epilog=GENERATE_EXAMPLES)(generate)
