"""The wizard's long-video path: summary, cost and one question, then the same plan as `qwenvid extend`."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import typer

from qwenvid.cli._session import CliState


def extend_argv(request: Any, state: CliState, *, dry_run: bool) -> list[str]:
    """The `qwenvid extend` command that builds the same plan."""
    argv = ["qwenvid", *(["--emulator"] if state.emulator else []), "extend", str(request.video)]
    argv += ["--to", f"{request.target_seconds:g}", "--method", request.method]
    for prompt in request.prompts:
        argv += ["--prompt", prompt]
    if request.resolution:
        argv += ["--resolution", request.resolution]
    if request.audio is not None:
        argv += ["--audio", str(request.audio)]
    return argv + (["--dry-run"] if dry_run else [])


def run_long_video(
    state: CliState, request: Any, *, dry_run: bool, output: Path | None, pt_kwargs: dict[str, Any]
) -> None:
    import questionary

    from qwenvid.cli.run import run_plan
    from qwenvid.media.inputs import inspect_video
    from qwenvid.plans.extend import extend_plan_data, plan_name_for
    from qwenvid.plans.parse import plan_from_data
    from qwenvid.plans.prepare import prepare_plan

    out = state.out
    length = inspect_video(request.video).duration
    spec = plan_from_data(extend_plan_data(request, length), name=plan_name_for(request.video), base_dir=Path.cwd())
    planned = prepare_plan(spec, Path("output/qwenvid") / spec.name)  # validates every step; no network
    segments = [sid for sid in planned.order if sid.startswith("segment-") and not planned.steps[sid].step.hidden]
    out.info("Summary")
    out.info(f"  long video: {request.video} ({length:g} s) to {request.target_seconds:g} s")
    tier = f" at {request.resolution}" if request.resolution and request.method != "vace" else ""
    out.info(f"  method: {request.method}, {len(segments)} new segment(s){tier}")
    for index, prompt in enumerate(request.prompts, start=1):
        out.info(f"  prompt {index}: {prompt}")
    if request.audio is not None:
        out.info(f"  soundtrack: {request.audio}")
    seconds = planned.new_seconds
    tiers = sorted({f"{sp.cost.model} {sp.cost.tier}" for sp in planned.steps.values() if sp.cost and sp.cost.tier})
    at = f" at {', '.join(tiers)}" if tiers else ""
    out.notice(
        f"Cost: at most {seconds:g} s billable{at} (steps done before cost nothing)."
        if not state.emulator
        else f"Cost: free (local emulator). A real run: at most {seconds:g} s billable{at}."
    )
    question = "Show the plan (dry run: nothing is sent)?" if dry_run else "Run the plan?"
    argv = extend_argv(request, state, dry_run=dry_run)
    try:
        if not questionary.confirm(question, default=True, **pt_kwargs).unsafe_ask():
            out.info("Nothing was submitted.")
            raise typer.Exit(1)
        run_plan(state, spec, output=output, dry_run=dry_run, yes=True, own_files=_own_files(request))
    finally:
        out.info("The same as a command: " + shlex.join(argv))


def _own_files(request: Any) -> tuple[Path, ...]:
    """The files the user chose in the wizard: they may be anywhere."""
    return tuple(p for p in (request.video, request.audio) if p is not None)
