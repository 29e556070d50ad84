"""Commands for tasks that already exist: status, fetch, cancel, tasks and resume."""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import typer

from qwenvid.cli._complete import complete_model, complete_task
from qwenvid.cli._envelope import envelope
from qwenvid.cli._options import (
    MODES,
    FetchTimeoutOpt,
    JsonOpt,
    OutputOpt,
    OverwriteOpt,
    TaskRefArg,
    TimeoutOpt,
    WaitOpt,
    one_of,
)
from qwenvid.cli._output import Output, clean
from qwenvid.cli._progress import make_reporter
from qwenvid.cli._session import CliState, open_session, state_of
from qwenvid.cli.generate import emit_result, examples, interrupted
from qwenvid.errors import APIError, QwenvidError, TaskFailed, ValidationError
from qwenvid.requests.cost import is_free_service
from qwenvid.store.ledger import LOCAL_STATES, REMOTE_STATUSES
from qwenvid.timestamps import iso_utc, shown, with_utc_times

# What `tasks --status` can match: the service's statuses and the ledger's own states.
TASK_STATUSES = (*REMOTE_STATUSES, *LOCAL_STATES)
MAX_LIMIT = 1_000_000

STATUS_EXAMPLES = examples(
    "qwenvid status 0385dc79-5ff8-4d82-bcb6-0123456789ab",
    "qwenvid status 0385dc79 --wait",
    "qwenvid status 0385dc79 --json",
)
FETCH_EXAMPLES = examples(
    "qwenvid fetch 0385dc79-5ff8-4d82-bcb6-0123456789ab",
    "qwenvid fetch 0385dc79-5ff8-4d82-bcb6-0123456789ab -o videos/kitten.mp4",
)
CANCEL_EXAMPLES = examples("qwenvid cancel 0385dc79-5ff8-4d82-bcb6-0123456789ab")
TASKS_EXAMPLES = examples(
    "qwenvid tasks",
    "qwenvid tasks --status FAILED --since 2026-01-01",
    "qwenvid tasks --mode t2v --model wan2.6-t2v --json",
    "qwenvid tasks --remote --since 2026-01-31T08:00",
    "qwenvid tasks --remote --status SUCCEEDED --model wan2.6-t2v",
    "qwenvid tasks prune --dry-run",
)
RESUME_EXAMPLES = examples("qwenvid resume", "qwenvid resume --timeout 600 --json")


def _run_options(state: CliState, opened: Any, output: Any, timeout: float | None, overwrite: bool = False) -> Any:
    from qwenvid.tasks.session import RunOptions

    return RunOptions(output=output, timeout=timeout, estimate=state.estimate(opened.emulated), overwrite=overwrite)


def status(
    ctx: typer.Context,
    ref: TaskRefArg,
    wait: WaitOpt = False,
    timeout: TimeoutOpt = None,
    output: OutputOpt = None,
    overwrite: OverwriteOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Show one task from the local ledger and the service; --wait follows it and downloads the video."""
    state = state_of(ctx, json_out)
    out = state.out
    with open_session(state, timeout=timeout if wait else None) as opened:
        if wait:
            reporter = make_reporter(out)
            try:
                result = opened.session.follow(ref, _run_options(state, opened, output, timeout, overwrite), reporter)
            except KeyboardInterrupt:
                raise interrupted(reporter.task_id or ref) from None
            finally:
                reporter.close()
            emit_result(out, result)
            return
        report = _status_report(opened, ref, out)
    unknown = _unknown_task(ref, report)
    if out.json:
        extra = report.to_json()
        if unknown is not None:
            unknown.result, unknown.extra = _report_result(report), extra  # type: ignore[attr-defined]
            raise unknown
        out.result_json(envelope(_report_result(report), extra=extra))
        return
    _print_status(out, report)
    if unknown is not None:
        raise unknown


def _status_report(opened: Any, ref: str, out: Output) -> Any:
    """The ledger row and the service's answer; without a key, the ledger row alone (with a warning)."""
    from qwenvid.tasks.session import StatusReport

    if not getattr(opened.settings, "api_key", None):
        row = opened.session.ledger.get(ref)
        if row is not None:
            out.warning("No API key is set: showing the local ledger only (the service was not asked).")
            return StatusReport(row, None)
    return opened.session.status(ref)


def _unknown_task(ref: str, report: Any) -> QwenvidError | None:
    """A task the service does not know (never existed, or expired after 24 h) is a failed outcome (exit 8)."""
    if report.remote is None or report.remote.status != "UNKNOWN":
        return None
    task_id = report.remote.task_id or ref
    if report.row is not None and report.row.origin == "emulated":
        return TaskFailed(
            f"Task {task_id} ran on an in-process emulator (--emulator), which stopped with its command: "
            "the task is gone (its video, if downloaded, is listed above).",
            status="UNKNOWN",
            task_id=task_id,
            hint="Run the command again with --emulator (it is free).",
        )
    where = " The local ledger has it (shown above)." if report.row is not None else ""
    return TaskFailed(
        f"The service does not know task {task_id}: it never existed, or it ended more than 24 h ago.{where}",
        status="UNKNOWN",
        task_id=task_id,
        hint="`qwenvid tasks` lists the tasks this machine submitted; `qwenvid tasks --remote` the account's.",
    )


def _report_result(report: Any) -> dict[str, Any]:
    """The run-result fields of a status report (for the one JSON shape)."""
    row, remote = report.row, report.remote
    data: dict[str, Any] = {}
    if row is not None:
        data = {
            "task_id": row.task_id,
            "status": row.remote_status or row.local_state,
            "mode": row.mode,
            "model": row.model,
            "video_path": row.video_path,
            "video_url": row.video_url,
            "usage": row.usage,
            "request_id": row.request_id,
            "local_id": row.id,
            "billed_seconds": row.billed_seconds,
            "sha256": row.video_sha256,
            "size": row.video_size,
            "actual_prompt": row.actual_prompt,
        }
    if remote is not None:
        data |= {
            "task_id": remote.task_id,
            "status": remote.status,
            "video_url": remote.video_url or data.get("video_url"),
            "usage": remote.usage or data.get("usage"),
            "request_id": remote.request_id,
            "actual_prompt": remote.actual_prompt or data.get("actual_prompt"),
        }
    return data


def _print_status(out: Output, report: Any) -> None:
    """Human view of a status report: the important fields on stdout, one per line; times in UTC."""
    from qwenvid.tasks.reconcile import state_label

    row, remote = report.row, report.remote
    fields: list[tuple[str, Any]] = []
    if row is not None:
        fields += [
            ("local id", row.id),
            ("mode", row.mode),
            ("model", row.model),
            ("prompt", row.prompt),
            ("created", shown(row.created_at)),
        ]
    if remote is not None:
        fields += [
            ("task id", remote.task_id),
            ("status", remote.status),
            ("submitted", shown(remote.submit_time) if remote.submit_time else None),
            ("ended", shown(remote.end_time) if remote.end_time else None),
            ("error", f"{remote.code}: {remote.message}" if remote.code else None),
            ("video url", remote.video_url),
        ]
    elif row is not None:
        fields += [("task id", row.task_id), ("status", state_label(row))]
        if row.task_id is None:
            fields.append(("why", row.error_message))
    if row is not None:
        fields += [("video", row.video_path), ("billed seconds", _billed_text(row))]
    for label, value in fields:
        if value not in (None, "", "-"):
            out.result(f"{label + ':':<16}{clean(value)}")


def fetch(
    ctx: typer.Context,
    task_id: Annotated[
        str,
        typer.Argument(
            help="The task id (one `qwenvid tasks` lists, or any of your account).", autocompletion=complete_task
        ),
    ],
    output: OutputOpt = None,
    overwrite: OverwriteOpt = False,
    timeout: FetchTimeoutOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Download the video of a finished task, also one this machine never submitted."""
    state = state_of(ctx, json_out)
    with open_session(state, timeout=timeout) as opened:
        reporter = make_reporter(state.out)
        try:
            result = opened.session.fetch(task_id, _run_options(state, opened, output, timeout, overwrite), reporter)
        finally:
            reporter.close()
    emit_result(state.out, result)


def cancel(ctx: typer.Context, ref: TaskRefArg, json_out: JsonOpt = False) -> None:
    """Cancel a task that is still queued (PENDING); running tasks cannot be cancelled."""
    state = state_of(ctx, json_out)
    with open_session(state) as opened:
        try:
            request_id = opened.session.cancel(ref)
        except APIError as exc:
            if exc.code != "UnsupportedOperation":
                raise
            # The service gives one answer for "not PENDING" and "no such task": ask which it is.
            report = opened.session.status(ref)
            unknown = _unknown_task(ref, report)
            if unknown is not None:
                raise unknown from None
            status = report.remote.status if report.remote else "not PENDING"
            task_id = report.remote.task_id if report.remote else ref
            if status in ("SUCCEEDED", "FAILED", "CANCELED"):
                hint = f"It has already ended: `qwenvid status {task_id}` shows how."
                if status == "SUCCEEDED":
                    hint = f"It has already ended with a video: `qwenvid fetch {task_id}` downloads it."
            else:
                hint = f"A running task finishes (and is billed) on its own: `qwenvid status {task_id} --wait`."
            raise QwenvidError(
                f"Task {task_id} is {status}: only a PENDING task can be canceled.",
                code=exc.code,
                task_id=report.remote.task_id if report.remote else None,
                hint=hint,
            ) from None
    if state.out.json:
        state.out.result_json({"task": ref, "canceled": True, "request_id": request_id})
    else:
        state.out.info(f"Canceled {ref}.")
        state.out.result(ref)


def parse_when(value: str | None, *, end: bool = False) -> datetime | None:
    """YYYY-MM-DD (a whole day) or an ISO date-time, as an aware UTC datetime."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            f"{value!r} is not a date.", hint="Use YYYY-MM-DD or YYYY-MM-DDTHH:MM (ISO 8601)."
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def tasks(
    ctx: typer.Context,
    action: Annotated[
        str | None,
        typer.Argument(
            metavar="[forget ID... | prune]",
            help="forget: remove these rows from the ledger; prune: remove every row that is noise (failed, "
            "canceled, expired, never submitted, emulator runs). Billed and unfinished rows always stay.",
            show_default=False,
        ),
    ] = None,
    refs: Annotated[list[str] | None, typer.Argument(metavar="", hidden=True, show_default=False)] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="With prune: remove without asking.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="With forget or prune: list what would go.")] = False,
    status_filter: Annotated[
        str | None,
        typer.Option(
            "--status",
            "-s",
            metavar="STATUS",
            callback=one_of(TASK_STATUSES),
            help="Only this status: " + ", ".join(TASK_STATUSES) + ".",
        ),
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(
            "--mode", metavar="MODE", callback=one_of(MODES), help="Only this mode: t2v, i2v, kf2v, r2v or vace."
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Only this model id.", autocompletion=complete_model)
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Created on or after this date (YYYY-MM-DD or ISO date-time, UTC).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Created before the end of this date (YYYY-MM-DD or ISO, UTC).")
    ] = None,
    limit: Annotated[
        int,
        typer.Option("--limit", "-n", min=1, max=MAX_LIMIT, help="Show at most this many tasks, newest first."),
    ] = 50,
    remote: Annotated[
        bool, typer.Option("--remote", help="List the account's tasks from the service (24 h windows) instead.")
    ] = False,
    page: Annotated[int, typer.Option("--page", min=1, max=MAX_LIMIT, help="With --remote: page number, from 1.")] = 1,
    page_size: Annotated[
        int, typer.Option("--page-size", min=1, max=100, help="With --remote: tasks per page, 1-100.")
    ] = 20,
    wide: Annotated[
        bool, typer.Option("--wide", help="Every column: local and task ids, mode, created, the full video path.")
    ] = False,
    plan: Annotated[
        str | None, typer.Option("--plan", help="Only the tasks of this plan (`qwenvid run`), with their step ids.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """List your tasks from the local ledger (with billed-seconds totals), or the account's with --remote."""
    state = state_of(ctx, json_out)
    if action is not None:
        from qwenvid.cli.tasks_tidy import tidy

        tidy(state, action, list(refs or []), yes=yes, dry_run=dry_run)
        return
    start, end = parse_when(since), parse_when(until, end=True)
    with open_session(state) as opened:
        if remote:
            task_page = opened.session.list_remote(
                start=start, end=end, model=model, status=status_filter, page_no=page, page_size=page_size
            )
            _print_remote(state.out, task_page, status=status_filter, model=model)
            return
        rows = opened.session.list_local(
            status=status_filter, mode=mode, model=model, since=start, until=end, limit=None if plan else limit
        )
    if plan is not None:
        from qwenvid.plans.rows import plan_rows

        _print_plan(state.out, plan, plan_rows(rows, plan)[:limit])
        return
    _print_local(state.out, rows, wide=wide)


def _print_plan(out: Output, name: str, rows: list[tuple[Any, str]]) -> None:
    """`tasks --plan NAME`: the plan's generation attempts, step by step."""
    from qwenvid.tasks.reconcile import state_label

    if out.json:
        tasks = [{"step": step, **with_utc_times(row.to_dict())} for row, step in rows]
        out.result_json({"plan": name, "tasks": tasks, "count": len(tasks)})
        return
    if not rows:
        out.info(f"No tasks of a plan named {name!r} in the ledger.")
        return
    out.table(
        ["step", "local id", "task id", "status", "model", "billed s", "video"],
        [
            [
                step,
                row.id,
                row.task_id or "-",
                state_label(row),
                row.model or "-",
                _billed_text(row),
                row.video_path or "-",
            ]
            for row, step in rows
        ],
    )


def _free(row: Any) -> bool:
    """Runs on an emulator (--emulator, or one reached by a loopback base URL) are never billed seconds."""
    return row.origin == "emulated" or is_free_service(row.base_url)


def _billed_text(row: Any, *, short: bool = False) -> str:
    if _free(row):
        return "free" if short else "free (emulator)"
    return f"{row.billed_seconds:g}" if row.billed_seconds is not None else "-"


def _shown_path(path: str | None) -> str:
    """A video path as short as it can be without losing it: relative to the working directory, or ~/..."""
    if not path:
        return "-"
    from pathlib import Path

    full = Path(path)
    for base, prefix in ((Path.cwd(), ""), (Path.home(), "~/")):
        try:
            return prefix + str(full.relative_to(base))
        except ValueError:
            continue
    return path


# Below this width the task column shows an id's first 8 characters, which every command takes as a reference.
NARROW_COLUMNS = 100


def _task_ref(row: Any, *, short: bool) -> str:
    ref = row.task_id or row.id
    return ref[:8] if short and row.task_id else ref


def _print_local(out: Output, rows: list[Any], *, wide: bool = False) -> None:
    from qwenvid.tasks.reconcile import state_label

    # Runs against the local emulator are listed but cost nothing: they never count towards the total.
    billed = sum(float(row.billed_seconds or 0) for row in rows if not _free(row))
    if out.json:
        tasks = [with_utc_times(row.to_dict()) for row in rows]
        out.result_json({"tasks": tasks, "count": len(rows), "billed_seconds": billed})
        return
    if not rows:
        out.info('No tasks in the ledger match. Make one with `qwenvid t2v "..."`.')
        return
    status = [state_label(row) for row in rows]
    if wide or not sys.stdout.isatty():  # a pipe has no width to fit: every column, as scripts always had
        columns = ["local id", "task id", "status", "mode", "model", "created (UTC)", "billed s", "video"]
        cells = [
            [row.id, row.task_id or "-", state, row.mode or "-", row.model or "-",
             shown(row.created_at, label=False), _billed_text(row), row.video_path or "-"]
            for row, state in zip(rows, status, strict=True)
        ]  # fmt: skip
        out.table(columns, cells, unbounded=True)
    else:
        # One id column (the task id, or the local id before there is one): both fit a 120-column terminal
        # only when something else gives way, and the ids and model names must never break.
        columns = ["task", "status", "model", "created (UTC)", "billed s", "video"]
        narrow = shutil.get_terminal_size().columns < NARROW_COLUMNS
        cells = [
            [_task_ref(row, short=narrow), state, row.model or "-", shown(row.created_at, label=False)[:16],
             _billed_text(row, short=True), _shown_path(row.video_path)]
            for row, state in zip(rows, status, strict=True)
        ]  # fmt: skip
        out.table(
            columns,
            cells,
            keep_whole={"task", "status", "model", "created (UTC)", "billed s"},
            shorten="video",
            drop=("video", "created (UTC)", "billed s"),  # the status and the id stay, however narrow
        )
        if narrow:
            out.info("Task ids are cut to their first 8 characters (enough for status, fetch and open).")
    out.info(f"{len(rows)} task(s); {billed:g} billed seconds in total.")


def _print_remote(out: Output, task_page: Any, *, status: str | None = None, model: str | None = None) -> None:
    items = list(task_page.items)
    if out.json:
        out.result_json(
            {
                "total": getattr(task_page, "total", len(items)),
                "page_no": getattr(task_page, "page_no", None),
                "page_size": getattr(task_page, "page_size", None),
                "tasks": [_as_dict(item) for item in items],
            }
        )
        return
    if not items:
        total = int(getattr(task_page, "total", 0) or 0)
        page_no = getattr(task_page, "page_no", None)
        if total and page_no and page_no > 1:
            out.info(f"Page {page_no} is past the end: the service lists {total} task(s) for that window.")
        else:
            which = " ".join(part for part in (status, "tasks", f"of {model}" if model else "") if part)
            out.info(f"The service lists no {which} for that window (it keeps them for 24 h).")
        return
    rows = []
    for item in items:
        data = _as_dict(item)
        rows.append(
            [
                str(data.get("task_id", "-")),
                str(data.get("status", "-")),
                str(data.get("model_name") or data.get("model") or "-"),
                shown(data.get("gmt_create"), label=False),
            ]
        )
    out.table(["task id", "status", "model", "created (UTC)"], rows)
    out.info(f"{getattr(task_page, 'total', len(items))} task(s) on the service for that window.")


def _as_dict(item: Any) -> dict[str, Any]:
    """One remote task for JSON and the table: its fields, times in UTC."""
    return {
        "task_id": item.task_id,
        "status": item.status,
        "model_name": item.model_name,
        "gmt_create": iso_utc(item.gmt_create),
        "end_time": iso_utc(item.end_time),
        "request_id": item.request_id,
    }


def resume(
    ctx: typer.Context,
    timeout: TimeoutOpt = None,
    output: OutputOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Finish every unfinished task: reconcile unknown submits, wait, download. Safe to run any time."""
    state = state_of(ctx, json_out)
    out = state.out
    with open_session(state, timeout=timeout) as opened:
        reporter = make_reporter(out)
        try:
            outcomes = opened.session.resume(_run_options(state, opened, output, timeout), reporter)
        except KeyboardInterrupt:
            raise interrupted(reporter.task_id) from None
        finally:
            reporter.close()
    worst = _report_outcomes(out, outcomes)
    if worst is not None:
        if out.json:  # the outcomes object already carries every error: one JSON object, not two
            out.error(worst.message, worst.hint)
            raise typer.Exit(int(worst.exit_code))
        raise worst


def _report_outcomes(out: Output, outcomes: list[Any]) -> QwenvidError | None:
    """Paths (or JSON) for what finished, one line per problem; the worst error decides the exit code."""
    errors = [item.error for item in outcomes if item.error is not None]
    if out.json:
        out.result_json(
            {
                "exit_code": max((int(error.exit_code) for error in errors), default=0),
                "outcomes": [
                    {
                        "ref": item.ref,
                        "result": item.result.to_json() if item.result else None,
                        "error": item.error.to_dict() if item.error else None,
                        "note": item.note,
                    }
                    for item in outcomes
                ]
            }
        )
    else:
        if not outcomes:
            out.info("Nothing to resume: every task in the ledger is finished.")
        for item in outcomes:
            if item.result is not None and item.result.video_path is not None:
                out.result(str(item.result.video_path))
            elif item.error is not None:
                out.warning(f"{item.ref}: {item.error.message}" + (f" ({item.error.hint})" if item.error.hint else ""))
            elif item.note:
                out.info(f"{item.ref}: {item.note}")
    if not errors:
        return None
    return max(errors, key=lambda exc: int(exc.exit_code))


def register(app: typer.Typer) -> None:
    app.command(epilog=STATUS_EXAMPLES)(status)
    app.command(epilog=FETCH_EXAMPLES)(fetch)
    app.command(epilog=CANCEL_EXAMPLES)(cancel)
    app.command(epilog=TASKS_EXAMPLES)(tasks)
    app.command(epilog=RESUME_EXAMPLES)(resume)
