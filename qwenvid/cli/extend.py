"""`qwenvid extend VIDEO --to SECONDS`: the long-video recipe (chain, join, score) built and run as a plan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qwenvid.cli._options import JsonOpt, ModelOpt, PayAgainOpt, YesOpt
from qwenvid.cli._session import state_of

EXTEND_EXAMPLES = "[bold]Examples[/bold]\n\n" + "\n\n".join(
    f"  $ {line}"
    for line in (
        'qwenvid extend clip.mp4 --to 20 --prompt "The boat sails on into the night"',
        'qwenvid extend clip.mp4 --to 30 --prompt "It rains" --prompt "The sun comes out" --audio song.mp3',
        'qwenvid extend clip.mp4 --to 15 --method vace --prompt "The dog keeps running" --dry-run',
        'qwenvid --emulator extend clip.mp4 --to 12 --prompt "Keep going" --method last-frame',
        'qwenvid --emulator extend clip.mp4 --to 20 --prompt "The storm breaks" --method wan3 --segment 10',
    )
)

EXTEND_HELP = """Make a video longer: chain new segments after it, join them, and optionally lay a soundtrack.

Each segment continues the previous one: --method continue (wan2.7-i2v clip continuation from the last
3 s, the default), vace (wan2.1-vace-plus video_extension from the last 3 s, 5 s segments) or last-frame
(image-to-video from the last frame) or wan3 (Wan 3.0 extension: the last 3 s go as a reference video,
billed as input; input + output <= 30 s). Give one --prompt per segment to tell the story in order (the last
one is reused). It runs as a plan (output/qwenvid/extend-NAME/), so re-running never pays twice."""


def extend(
    ctx: typer.Context,
    video_arg: Annotated[
        str, typer.Argument(metavar="VIDEO", help="The video to extend (local MP4).", show_default=False)
    ],
    to: Annotated[float, typer.Option("--to", help="Target length in seconds.", min=1, show_default=False)],
    prompt: Annotated[
        list[str] | None,
        typer.Option(
            "--prompt",
            "-p",
            help="What happens next; repeat: one per segment, in order. Default: the clip's own prompt "
            "(its sidecar or ledger row), else asked on a terminal.",
        ),
    ] = None,
    method: Annotated[
        str,
        typer.Option(
            "--method",
            help="continue (wan2.7-i2v), vace (video_extension), last-frame (i2v) or wan3 (Wan 3.0 extension).",
        ),
    ] = "continue",
    model: ModelOpt = None,
    segment: Annotated[
        int | None, typer.Option("--segment", help="Seconds per new segment (continue, last-frame, wan3). Default 5.")
    ] = None,
    resolution: Annotated[
        str | None,
        typer.Option(
            "--resolution",
            help="Tier of the new segments (480P, 720P, 1080P). Default: the source's (else the nearest above).",
        ),
    ] = None,
    audio: Annotated[
        Path | None, typer.Option("--audio", help="Soundtrack laid over the result (looped to its length).")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Plan name. Default: extend-VIDEO.")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Folder the plan's folder goes in. Default: output/qwenvid.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan and its cost; send nothing.")] = False,
    max_seconds: Annotated[
        float | None, typer.Option("--max-seconds", help="Refuse if the new billable seconds exceed this.", min=0)
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Stop waiting after this many seconds (exit 5).", min=0)
    ] = None,
    events: Annotated[
        str | None, typer.Option("--events", help="One JSON line per event to FILE, or '-' for stdout.")
    ] = None,
    yes: YesOpt = False,
    pay_again: PayAgainOpt = False,
    json_out: JsonOpt = False,
) -> None:
    from qwenvid.cli._extend_source import default_prompts, local_clip
    from qwenvid.cli._session import load_settings
    from qwenvid.cli.run import run_plan
    from qwenvid.errors import ValidationError
    from qwenvid.media.inputs import inspect_video
    from qwenvid.plans.extend import ExtendRequest, extend_plan_data, extension_note, plan_name_for, segment_tier
    from qwenvid.plans.parse import plan_from_data

    state = state_of(ctx, json_out)
    video = local_clip(video_arg)
    if audio is not None and not audio.is_file():
        raise ValidationError(f"--audio {audio}: no such file", field="audio")
    info = inspect_video(video, field="VIDEO")
    prompts = list(prompt or []) or default_prompts(video, load_settings(state), state.out)
    request = ExtendRequest(
        video=video,
        target_seconds=to,
        prompts=prompts,
        method=method,
        model=model,
        segment_seconds=segment,
        resolution=resolution,
        audio=audio,
        source_size=(info.width, info.height),
    )
    tier, note = segment_tier(request, info.width, info.height)
    request.resolution = tier  # the source's tier unless --resolution says otherwise
    if note:
        state.out.notice(note)
    data = extend_plan_data(request, info.duration)
    note = extension_note(data, method)
    if note:
        state.out.notice(note)
    spec = plan_from_data(data, name=name or plan_name_for(video), base_dir=Path.cwd())
    run_plan(
        state,
        spec,
        output=output,
        dry_run=dry_run,
        max_seconds=max_seconds,
        timeout=timeout,
        events=events,
        yes=yes,
        pay_again=pay_again,
        own_files=tuple(p for p in (video, audio) if p is not None),  # named here: the user's own choice
    )


def register(app: typer.Typer) -> None:
    app.command("extend", help=EXTEND_HELP, epilog=EXTEND_EXAMPLES)(extend)
