"""`qwenvid run PLAN` (many generations and multi-step chains from one file) and `qwenvid extend VIDEO`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from qwenvid.cli._help import examples
from qwenvid.cli._options import (
    DurationOpt,
    JsonOpt,
    ModelOpt,
    NegativePromptOpt,
    PayAgainOpt,
    PromptExtendOpt,
    RatioOpt,
    ResolutionOpt,
    SizeOpt,
    WatermarkOpt,
    YesOpt,
)
from qwenvid.cli._session import EMULATOR_ESTIMATE_SECONDS, CliState, open_session, state_of
from qwenvid.cli._story_plan import after_plan, story_costs
from qwenvid.errors import ConfirmationRequired, Interrupted, ValidationError

if TYPE_CHECKING:
    from qwenvid.cli._output import Output
    from qwenvid.plans.model import PlanSpec
    from qwenvid.plans.prepare import PreparedPlan


RUN_EXAMPLES = examples(
    "qwenvid run examples/story.toml --dry-run",
    "qwenvid --emulator run examples/story.toml",
    "qwenvid run prompts.txt --model wan2.6-t2v --duration 5 --size 1280*720 --max-seconds 120",
    "qwenvid run batch.jsonl --json > manifest.json",
    "qwenvid run story.toml --force continued --events -",
    "qwenvid run --init my-story.toml",
)

RUN_HELP = """Run a plan: many generations and multi-step chains from one file.

A plan is TOML or JSON with named steps (\\[steps.NAME]): a generation (mode, model, prompt and the
other request fields) or a media step (op = trim, tail, frame, concat or add_audio). An input may be a
local path, a URL, or another step's output: "@NAME" its video, "@NAME:last-frame" its last frame,
"@NAME:last-3s" its last 3 seconds. repeat = N or seeds = [...] make variants; \\[defaults] apply to every
generation step. A .jsonl or .csv file is a batch of requests in the video skill's JSON shape (plus
optional id, mode, output); a .txt file is one text-to-video prompt per line; the generation flags
below are defaults for their rows.

Everything is validated and costed before anything is spent; steps run as soon as their inputs are
ready, within each model's limits. Running the same plan again never pays twice: finished steps are
reused, tasks in flight are followed, and only changed steps (and what depends on them) run again.
Outputs: output/qwenvid/PLAN/STEP.mp4 and manifest.json."""


def _defaults(**values: Any) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


def run(
    ctx: typer.Context,
    plan_file: Annotated[
        Path, typer.Argument(help="The plan: .toml, .json, .jsonl, .csv or .txt.", show_default=False)
    ],
    name: Annotated[
        str | None, typer.Option("--name", help="Plan name (the output folder). Default: the file's name.")
    ] = None,
    init: Annotated[
        bool,
        typer.Option("--init", help="Write a commented starter plan to PLAN (.toml, or .json naming its schema)."),
    ] = False,
    model: ModelOpt = None,
    duration: DurationOpt = None,
    size: SizeOpt = None,
    resolution: ResolutionOpt = None,
    ratio: RatioOpt = None,
    negative_prompt: NegativePromptOpt = None,
    prompt_extend: PromptExtendOpt = None,
    watermark: WatermarkOpt = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Folder the plan's folder goes in. Default: output/qwenvid."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and cost the plan, print its requests; send nothing.")
    ] = False,
    max_seconds: Annotated[
        float | None,
        typer.Option("--max-seconds", help="Refuse the plan if its new billable seconds exceed this.", min=0),
    ] = None,
    force: Annotated[
        list[str] | None, typer.Option("--force", help="Run this step again even if it was done; repeatable.")
    ] = None,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="After a failed step, submit nothing new (running tasks finish).")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", help="Stop waiting after this many seconds (tasks keep running; exit 5).", min=0),
    ] = None,
    detach: Annotated[
        bool, typer.Option("--detach", help="Submit what can start now, then stop waiting (exit 5).")
    ] = False,
    events: Annotated[
        str | None,
        typer.Option(
            "--events", help="Write one JSON line per event to FILE, or '-' for stdout (instead of the result)."
        ),
    ] = None,
    allow_outside: Annotated[
        bool,
        typer.Option(
            "--allow-outside", help="Upload local files from outside the plan's folder (they are listed first)."
        ),
    ] = False,
    yes: YesOpt = False,
    pay_again: PayAgainOpt = False,
    json_out: JsonOpt = False,
) -> None:
    from qwenvid.plans.parse import load_plan

    state = state_of(ctx, json_out)
    if init:
        _init_plan(state.out, plan_file)
        return
    defaults = _defaults(
        model=model,
        duration=duration,
        size=size,
        resolution=resolution,
        ratio=ratio,
        negative_prompt=negative_prompt,
        prompt_extend=prompt_extend,
        watermark=watermark,
    )
    spec = _checked(state.out, lambda: load_plan(plan_file, defaults=defaults, name=name))
    run_plan(
        state,
        spec,
        output=output,
        dry_run=dry_run,
        max_seconds=max_seconds,
        force=frozenset(force or []),
        fail_fast=fail_fast,
        timeout=timeout,
        detach=detach,
        events=events,
        yes=yes,
        pay_again=pay_again,
        allow_outside=allow_outside,
    )


def _init_plan(out: Output, path: Path) -> None:
    """`run --init FILE`: a starter plan, never over an existing file."""
    from qwenvid.plans.scaffold import SCHEMA_FILE, scaffold

    if path.suffix.lower() not in (".toml", ".json"):
        raise ValidationError(f"--init writes a .toml or .json plan, not {path.name!r}.", hint="e.g. story.toml")
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(scaffold(path))
    except FileExistsError:
        raise ValidationError(f"{path} already exists; --init never overwrites a plan.") from None
    if out.json:
        out.result_json({"plan": str(path), "schema": str(SCHEMA_FILE)})
        return
    out.result(str(path))
    out.info(f"Wrote a starter plan. Check and cost it: qwenvid run {path} --dry-run. Schema: {SCHEMA_FILE}")


def _checked(out: Output, make: Any) -> Any:
    """Run `make`; a PlanInvalid prints every problem, one line each, before the error itself."""
    from qwenvid.plans.parse import PlanInvalid

    try:
        return make()
    except PlanInvalid as exc:
        for line in exc.lines:
            out.console.print("  " + line, markup=False, highlight=False)
        raise


def run_plan(
    state: CliState,
    spec: PlanSpec,
    *,
    output: Path | None = None,
    dry_run: bool = False,
    max_seconds: float | None = None,
    force: frozenset[str] = frozenset(),
    fail_fast: bool = False,
    timeout: float | None = None,
    detach: bool = False,
    events: str | None = None,
    yes: bool = False,
    pay_again: bool = False,
    allow_outside: bool = False,
    own_files: tuple[Path, ...] = (),
    always_ask: bool = False,
) -> None:
    """Prepare, preview, confirm, run, report: the one flow behind `run`, `extend` and the wizard's long video.

    `own_files` are files the user named on the command line: they may lie outside the plan's folder."""
    from qwenvid.cli._plan_progress import make_plan_progress
    from qwenvid.config import require_key
    from qwenvid.plans.execute import check_plan_folder, distinct_name, dry_run_requests, execute, prepare
    from qwenvid.plans.manifest import EventSink, resumed_start
    from qwenvid.plans.outbound import outside, plan_outbound
    from qwenvid.plans.scheduler import SchedulerOptions, exit_status

    out = state.out
    with open_session(state) as opened:
        session = opened.session
        output_dir = output or opened.settings.output_dir
        spec = distinct_name(spec, Path(output_dir))
        prepared, backend, finder = _checked(
            out,
            lambda: prepare(session, spec, Path(output_dir), force=force, emulated=opened.emulated, notice=out.notice),
        )
        for warning in prepared.warnings:
            out.warning(warning)
        for note in prepared.spec.notes:  # the cast's model, prompts as sent
            out.notice(note)
        faces = [sid for sid, sp in prepared.steps.items() if getattr(sp.request, "mode", None) == "s2v"]
        if faces:  # a cost beside the videos' seconds, paid before each step's submit
            out.notice(
                f"Note: face check first for {', '.join(faces)}: 1 image each on wan2.2-s2v-detect, billed per "
                "image whether it passes or not (a verdict already in the ledger is not checked again)"
            )
        # Every refusal a real run would meet before paying, a dry run meets too.
        check_plan_folder(Path(output_dir), spec.name)
        _check_events_target(events)
        _check_max_seconds(prepared.new_seconds, max_seconds)
        if dry_run and state.cost_only:  # `qwenvid cost run PLAN`: the cost is the whole answer
            from qwenvid.cli.cost_cmd import print_plan_cost

            print_plan_cost(out, prepared, free=opened.emulated, source=state.emulator_source)
            return
        uploads = plan_outbound(prepared)
        # The cast's files are the user's own choice (product.md §3.1), like files named on the command line.
        far = outside(uploads, spec.base_dir, (*own_files, *(Path(p) for p in prepared.spec.cast_files)))
        if dry_run:
            # Like a single run's --dry-run: the requests on stdout (one object); the table for people on stderr.
            _print_preview(
                out, prepared, emulated=opened.emulated, source=state.emulator_source, table=not out.json,
                settings=opened.settings,
            )
            if not out.json:
                story_costs(out, prepared.spec, opened.settings, emulated=opened.emulated)
            _list_uploads(out, uploads, far, allowed=allow_outside, dry_run=True)
            preview = prepared.preview_json(dry_run_requests(session, prepared))
            preview["uploads"] = [
                {"path": i.path, "size": i.size, "use": i.use, "via": i.via, "outside_plan_folder": i in far}
                for i in uploads
            ]
            out.result_json(preview)
            return
        require_key(opened.settings)
        _print_preview(out, prepared, emulated=opened.emulated, source=state.emulator_source, settings=opened.settings)
        story_costs(out, prepared.spec, opened.settings, emulated=opened.emulated)
        _list_uploads(out, uploads, far, allowed=allow_outside, dry_run=False)
        if far and not allow_outside:
            _confirm_outside(out, far, spec.base_dir)
        # Steps paid for again on purpose (--pay-again or a yes) count in the budget and the confirmation.
        repaid = _pay_again_steps(out, prepared, backend, pay_again=pay_again)
        force = force | repaid
        new_seconds = prepared.new_seconds + sum(
            cost.billable_seconds for sid in repaid if (cost := prepared.steps[sid].cost) is not None
        )
        if repaid:
            _check_max_seconds(new_seconds, max_seconds)
        _confirm(
            out, opened.settings, prepared, seconds=new_seconds, emulated=opened.emulated, yes=yes, always=always_ask
        )
        sink = EventSink(events)
        visible = sum(1 for sp in prepared.steps.values() if not sp.step.hidden)
        steps, estimates = plan_view_steps(prepared, emulated=opened.emulated)
        progress = make_plan_progress(
            out, visible, new_seconds, steps=steps, estimates=estimates, started_at=resumed_start(prepared.folder)
        )
        options = SchedulerOptions(
            fail_fast=fail_fast,
            timeout=timeout,
            detach=detach,
            estimate=EMULATOR_ESTIMATE_SECONDS if opened.emulated else None,
            force=force,
        )
        try:
            manifest, _stats = execute(
                session, prepared, backend, finder, options=options, events=sink, on_change=progress.update
            )
        except BaseException as exc:
            # Whatever ends the plan, the live view is cleared before the error is said: a view left running
            # stays in the scrollback as a stale frame under the error.
            progress.close()
            if not isinstance(exc, (KeyboardInterrupt, Interrupted)):
                raise
            sink.close()
            raise Interrupted(
                f"Stopped waiting for plan {spec.name!r}; submitted tasks keep running on the server.",
                hint="Run the same command again (or `qwenvid resume`) to pick the plan up where it stood.",
            ) from None
        progress.close()
        sink.close()
        # Inside the session: an in-process emulator still serves the narration's speech.
        story_report = after_plan(state, opened.settings, prepared.spec, manifest)
    _report(out, manifest, events=events)
    story_report()
    code = exit_status(manifest)
    if code:
        raise typer.Exit(code)


def _list_uploads(out: Output, uploads: list[Any], far: list[Any], *, allowed: bool, dry_run: bool) -> None:
    """Every local file the run sends, before the first upload; the ones outside the plan's folder said apart."""
    from qwenvid.requests.outbound import outbound_lines

    for line in outbound_lines(uploads):
        out.notice(line.replace("will leave", "would leave") if dry_run else line)
    if far and not allowed:
        count = len(far)
        them = f"{count} of them {'is' if count == 1 else 'are'} outside the plan's folder"
        if dry_run:
            out.warning(f"{them}: a real run asks first (without a terminal it needs --allow-outside).")
        else:
            out.warning(f"{them}: {', '.join(i.path for i in far)}")


def _confirm_outside(out: Output, far: list[Any], folder: Path) -> None:
    """Files outside the plan's folder leave only with --allow-outside, or a yes on a terminal (--yes is for cost)."""
    from qwenvid.cli._cost import ask_yes_no, decline, is_interactive
    from qwenvid.plans.outbound import OutsidePlanFolder

    if not is_interactive():
        raise OutsidePlanFolder(far, folder)
    count = len(far)
    question = f"Upload {count} file{'s' if count != 1 else ''} from outside the plan's folder {folder}?"
    if not ask_yes_no(question, default=False):
        decline(out)


def _check_events_target(events: str | None) -> None:
    """An --events file that cannot be written is refused before anything runs, not found out mid-plan."""
    if events in (None, "-"):
        return
    from qwenvid.writable import why_unusable

    target = Path(str(events))
    problem = "it is a folder" if target.is_dir() else why_unusable(target.parent)
    if problem is not None:
        raise ValidationError(
            f"--events {events}: cannot write there ({problem})", field="events", hint="Name a file you can write."
        )


def _check_max_seconds(new_seconds: float, max_seconds: float | None) -> None:
    if max_seconds is not None and new_seconds > max_seconds:
        raise ValidationError(
            f"The plan bills {new_seconds:g} new seconds, more than --max-seconds {max_seconds:g}; "
            "nothing was submitted.",
            hint="Raise --max-seconds, or cut steps (reused steps cost nothing).",
        )


def plan_view_steps(prepared: PreparedPlan, *, emulated: bool) -> tuple[list[Any], dict[str, float]]:
    """Every step as the view first shows it (planned), and each generation's expected seconds before its
    task has its own estimate (the emulator's timing, else the model's documented prior)."""
    from qwenvid.plans.manifest import StepRecord
    from qwenvid.plans.prepare import step_mode
    from qwenvid.requests.priors import cold_prior

    steps, estimates = [], {}
    for sid in prepared.order:
        sp = prepared.steps[sid]
        model = sp.cost.model if sp.cost else None
        steps.append(
            StepRecord(id=sid, kind=sp.step.kind, mode=step_mode(sp), op=sp.step.op, model=model,
                       hidden=sp.step.hidden, depends_on=list(sp.step.depends_on), status="waiting")
        )  # fmt: skip
        if sp.step.kind != "generate" or sp.found is not None and sp.found.state == "done":
            continue
        if emulated:
            estimates[sid] = EMULATOR_ESTIMATE_SECONDS
            continue
        request = sp.request
        estimates[sid] = cold_prior(
            model,
            duration=getattr(request, "duration", None),
            size=getattr(request, "size", None),
            resolution=getattr(request, "resolution", None),
        ).seconds
    return steps, estimates


def _print_preview(
    out: Output,
    prepared: PreparedPlan,
    *,
    emulated: bool,
    source: str | None = None,
    table: bool = True,
    settings: Any = None,
) -> None:
    """The cost preview: billable seconds per step and model/tier, what is reused, the total, the prices link,
    and how much of each budget the plan uses."""
    if out.quiet:
        return
    if table:
        _preview_table(out, prepared)
    out.notice(plan_cost_line(prepared, emulated=emulated, source=source))
    if settings is not None and settings.budget is not None:
        from qwenvid.tasks.budget import preview_lines

        amount, _currency = prepared.new_amount
        for line in preview_lines(settings, prepared.new_seconds, amount, emulated=emulated):
            out.notice(line)


def plan_cost_line(prepared: PreparedPlan, *, emulated: bool, source: str | None = None) -> str:
    """`Cost: 30 s billable (...); 2 steps reused (0 s). Estimated amount: ...`: the plan's one cost line."""
    from qwenvid.cli._cost import amount_text

    preview = prepared.preview_json()
    by_model = ", ".join(f"{k}: {v:g} s" for k, v in preview["billable_seconds_by_model"].items())
    reused = prepared.reused_steps
    total = f"{prepared.new_seconds:g} s billable" + (f" ({by_model})" if by_model else "")
    if reused:
        total += f"; {reused} step{'s' if reused != 1 else ''} reused (0 s)"
    if emulated:
        why = f", chosen by {source}" if source and source != "--emulator" else ""
        return f"Cost: free (local emulator{why}). A real run: {total}."
    amount, currency = prepared.new_amount
    priced = f" Estimated amount: {amount_text(amount, currency)} (your price table)." if amount is not None else ""
    return f"Cost: {total}. Official prices: {preview['pricing_url']}{priced}"


def _preview_table(out: Output, prepared: PreparedPlan) -> None:
    from rich.table import Table

    from qwenvid.plans.prepare import step_mode

    table = Table(title=f"Plan {prepared.spec.name}: {prepared.folder}", show_edge=False, title_justify="left")
    for column in ("step", "what", "model / tier", "billable s", "status"):
        table.add_column(column, justify="right" if column == "billable s" else "left")
    shown = 0
    steps = [prepared.steps[sid] for sid in prepared.order if not prepared.steps[sid].step.hidden]
    for sp in steps:
        if shown >= 30 and len(steps) > 35:
            table.add_row(f"… {len(steps) - shown} more", "", "", "", "")
            break
        step = sp.step
        what = (step_mode(sp) or "") if step.kind == "generate" else (step.op or "")
        model = f"{sp.cost.model} {sp.cost.tier or ''}".strip() if sp.cost else ""
        status = {"done": "reused", "in_flight": "in flight (followed)", "unknown": "reconcile first",
                  "elsewhere": f"done on {sp.found.host if sp.found else ''}"}.get(  # fmt: skip
            sp.found.state if sp.found else "", "new" if step.kind == "generate" else ""
        )
        table.add_row(step.id, what, model, f"{sp.new_seconds:g}" if step.kind == "generate" else "", status)
        shown += 1
    out.rich(table)


def _pay_again_steps(out: Output, prepared: PreparedPlan, backend: Any, *, pay_again: bool) -> frozenset[str]:
    """Steps to submit again although an earlier submit may have paid for them (--pay-again, or a yes)."""
    from qwenvid.cli._cost import pay_again_asker
    from qwenvid.plans.pay_again import unsettled_steps
    from qwenvid.tasks.pay_again import decide

    unsettled = unsettled_steps(prepared, backend)
    if not unsettled:
        return frozenset()
    names = [f"{row} (step {sid})" for sid, row in unsettled.items()]
    what = "step " + ", ".join(unsettled) + " of this plan"
    if not decide(names, pay_again=pay_again, ask=pay_again_asker(), what=what):
        from qwenvid.cli._cost import decline

        decline(out)
    return frozenset(unsettled)


def _confirm(
    out: Output,
    settings: Any,
    prepared: PreparedPlan,
    *,
    seconds: float | None = None,
    emulated: bool,
    yes: bool,
    always: bool = False,
) -> None:
    """Ask above the threshold; `seconds` counts steps paid for again on purpose too (default: the new ones)."""
    from qwenvid.cli._cost import amount_text, decline, free_host, free_words, is_interactive

    seconds = prepared.new_seconds if seconds is None else seconds
    threshold = getattr(settings, "confirm_above_seconds", None)
    if yes or (not always and (emulated or threshold is None or seconds <= threshold)):
        return
    if not is_interactive():
        raise ConfirmationRequired(
            f"This plan bills {seconds:g} s, above your confirmation threshold of {threshold:g} s, "
            "and there is no terminal to ask on."
            if not always
            else "Making the film needs a yes, and there is no terminal to ask on.",
            hint="Add --yes to run it anyway, or raise confirm_above_seconds in config.toml.",
        )
    amount, currency = prepared.new_amount
    priced = f", about {amount_text(amount, currency)} by your price table" if amount is not None else ""
    paying = f"Run the plan and pay for {seconds:g} s{priced}?"
    if (host := free_host(settings)) is not None:  # a loopback base URL bills nothing: no "pay" in the question
        paying = f"Run the plan: {seconds:g} s ({free_words(host)})?"
    question = "Run the plan (free: local emulator)?" if emulated else paying
    # Enter means yes only where the plan is free or under the threshold (asked because `always` said so).
    default = always and (emulated or threshold is None or seconds <= threshold)
    if not typer.confirm(question, default=default, err=True):
        decline(out)


def _report(out: Output, manifest: Any, *, events: str | None) -> None:
    """The result: the manifest (--json), else the final file(s) on stdout; the summary on stderr."""
    records = list(manifest.steps.values())
    failed = [r for r in records if r.status in ("failed", "skipped")]
    left = [r for r in records if not r.finished]
    done = [r for r in records if r.status in ("done", "reused") and not r.hidden]
    reused = sum(1 for r in done if r.reused)
    out.info(
        f"Plan {manifest.plan}: {len(done)} done ({reused} reused), {len(failed)} failed or skipped, "
        f"{len(left)} not finished. Manifest: {Path(manifest.folder) / 'manifest.json'}"
    )
    for record in failed:
        out.error(f"step {record.id!r} {record.status}: {record.error}")
    if left:
        out.info("Run the same command again (or `qwenvid resume`) to continue where it stands.")
    if events == "-":
        return
    if out.json:
        out.result_json(manifest.to_json())
        return
    # The plan's final outputs: steps nothing else takes as input.
    needed = {dep for r in records for dep in r.depends_on}
    for record in done:
        if record.id not in needed and record.file:
            out.result(record.file)


def register(app: typer.Typer) -> None:
    app.command("run", help=RUN_HELP, epilog=RUN_EXAMPLES)(run)
