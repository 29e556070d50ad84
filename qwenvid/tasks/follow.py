"""Following one task: poll it on its schedule (one loop per process) until it ends, then download its video."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from qwenvid import errors
from qwenvid.tasks.outcomes import as_datetime, interrupted, task_id_of
from qwenvid.tasks.reporting import Phase

if TYPE_CHECKING:
    from qwenvid.store.ledger import LedgerRow
    from qwenvid.tasks.context import TaskContext
    from qwenvid.tasks.outcomes import RunOptions, RunResult
    from qwenvid.tasks.reporting import Reporter
    from qwenvid.wire.client import TaskInfo


def follow_row(ctx: TaskContext, row: LedgerRow, options: RunOptions, reporter: Reporter) -> RunResult:
    """Wait for the row's task and download its video (the caller holds the row's claim)."""
    from dataclasses import replace

    from qwenvid.store.pacing import contended, handoff_interval
    from qwenvid.tasks.fetch import NotSucceeded, download_finished, download_task
    from qwenvid.tasks.poll_loop import shared_loop
    from qwenvid.tasks.polling import PollSchedule
    from qwenvid.wire.download import preload_prober

    task_id = task_id_of(row)
    if row.remote_status == "SUCCEEDED" and row.video_url and not row.video_path:
        done = download_finished(ctx, row, options, reporter)  # the saved link first, else one query
        if not isinstance(done, NotSucceeded):
            return done
    expected = ctx.estimate(row, options.estimate)
    estimate = expected.seconds
    preload_prober()  # PyAV loads while the task renders, not between its end and the verified video
    last_status: list[str] = [row.remote_status or "PENDING"]
    # Show where the task stands from the start, not only after the first poll.
    reporter.phase(Phase.RENDERING if last_status[0] == "RUNNING" else Phase.QUEUED, task_id)
    sent = as_datetime(row.submitting_at or row.created_at)
    already_elapsed = max(0.0, (datetime.now(UTC) - sent).total_seconds())

    def on_update(info: TaskInfo, elapsed: float) -> None:
        if info.status != last_status[0]:
            last_status[0] = info.status
            if info.status == "PENDING":
                reporter.phase(Phase.QUEUED, task_id)
            elif info.status == "RUNNING":
                reporter.phase(Phase.RENDERING, task_id)
        reporter.task_update(info, elapsed, estimate)

    try:
        # Every task of the process is followed by one loop, under one query budget.
        info = shared_loop(ctx.clock, ctx.sleep, qps=ctx.settings.query_qps).run(
            lambda: ctx.poll_once(row),
            schedule=replace(
                PollSchedule.for_estimate(expected),
                urgent=contended(ctx.pacer(), row.model or "", ctx.settings.base_url),
                handoff=handoff_interval(row.model or "", ctx.settings.query_qps),
            ),
            timeout=options.timeout if options.timeout is not None else ctx.settings.wait_timeout,
            on_update=on_update,
            task_id=task_id,
            already_elapsed=already_elapsed,
        )
    except KeyboardInterrupt:
        raise interrupted(task_id) from None
    except errors.StillRunning as exc:
        exc.task_id = task_id
        exc.hint = exc.hint or f"Continue with `qwenvid status {task_id} --wait`."
        raise
    if info.status != "SUCCEEDED":
        raise errors.task_failure(info.status, info.code, info.message, task_id=task_id, request_id=info.request_id)
    return download_task(ctx, ctx.ledger.get(row.id) or row, info, options, reporter)
