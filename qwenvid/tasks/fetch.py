"""A finished task's video onto disk: from the result URL the ledger still holds, else after one status query.

A result URL is signed and works for 24 h after the task finished (dashscope-api.md §5); the ledger
keeps it with the moment it stops working (`video_url_expires_at`, from its `Expires`, else end_time
+ 24 h). While that moment is more than `URL_MARGIN` away, `fetch`, `status --wait` and `resume`
download from it at once: a status query in front would only cost a round trip to the service and a
share of the account's 20 QPS. When the result host refuses the saved link anyway (403/404/410:
expired early, revoked, a clock that disagrees), one status query asks for the task's current
URL and the download is tried once more with it; a service that hands back the very link that
was refused gets no second try (the refusal is the answer, exit 9).

`download_task` is the one download every path shares: stream and verify (qwenvid.wire.download),
record the file in the ledger, write the sidecar, build the RunResult.

The caller holds the row's claim (qwenvid.tasks.reconcile.hold_row), so one process downloads a task.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwenvid import errors
from qwenvid.privacy import private_umask
from qwenvid.tasks.outcomes import TERMINAL, result_from_row
from qwenvid.tasks.reporting import Phase
from qwenvid.timestamps import iso_utc

if TYPE_CHECKING:
    from qwenvid.store.ledger import LedgerRow
    from qwenvid.tasks.context import TaskContext
    from qwenvid.tasks.outcomes import RunOptions, RunResult
    from qwenvid.tasks.reporting import Reporter
    from qwenvid.wire.client import TaskInfo

log = logging.getLogger("qwenvid.fetch")

# A saved link this close to its expiry is not used: a download (with its resumes) may outlast it.
URL_MARGIN = timedelta(minutes=10)


def fetch_held(ctx: TaskContext, row: LedgerRow, task_id: str, options: RunOptions, reporter: Reporter) -> RunResult:
    """`qwenvid fetch` once the row is claimed: the video, or why there is none (task failed, still running)."""
    outcome = download_finished(ctx, row, options, reporter)
    if not isinstance(outcome, NotSucceeded):
        return outcome
    info = outcome.info
    if info.status in TERMINAL and info.status != "SUCCEEDED":
        raise errors.task_failure(info.status, info.code, info.message, task_id=task_id, request_id=info.request_id)
    raise errors.StillRunning(
        f"Task {task_id} is {info.status}; there is nothing to fetch yet.",
        hint=f"Follow it with `qwenvid status {task_id} --wait`.",
        task_id=task_id,
    )


@dataclass(frozen=True)
class NotSucceeded:
    """What `download_finished` returns for a task with no video to download (yet): the status answer."""

    info: TaskInfo


def download_finished(
    ctx: TaskContext, row: LedgerRow, options: RunOptions, reporter: Reporter
) -> RunResult | NotSucceeded:
    """Download the row's video: straight from its saved URL when still valid, else (or when that link is
    refused) after one status query. A task that has not SUCCEEDED comes back as its status answer."""
    from qwenvid.wire.download import LinkRefused

    refused: LinkRefused | None = None
    if saved_url_usable(row, ctx):
        log.debug("the ledger's result URL is valid until %s: no status query", row.video_url_expires_at)
        try:
            return download_task(ctx, row, info_from_row(row), options, reporter)
        except LinkRefused as exc:
            refused = exc
            reporter.notice(f"{exc.message} Asking the service for the task's current link.")
    started = time.perf_counter()
    info = ctx.poll_once(row)
    log.debug("status query %.3f s: %s", time.perf_counter() - started, info.status)
    if info.status != "SUCCEEDED":
        return NotSucceeded(info)
    if refused is not None and info.video_url == row.video_url:
        raise refused  # the same link again: nothing new to try
    return download_task(ctx, ctx.ledger.get(row.id) or row, info, options, reporter)


def saved_url_usable(row: LedgerRow, ctx: TaskContext) -> bool:
    """Whether the row's saved result URL can be used without asking the service first."""
    if row.remote_status != "SUCCEEDED" or not row.video_url or not row.video_url_expires_at:
        return False
    if row.origin == "emulated" or not ctx.here(row):  # an in-process emulator's links die with it
        return False
    try:
        expires = datetime.fromisoformat(row.video_url_expires_at)
    except ValueError:
        return False
    expires = expires if expires.tzinfo else expires.replace(tzinfo=UTC)
    return expires - _wall_now(ctx) > URL_MARGIN


def _wall_now(ctx: TaskContext) -> datetime:
    # An injected test clock (the emulator's ManualClock) counts epoch seconds; the default one does not.
    seconds = time.time() if ctx.clock is time.monotonic else ctx.clock()
    return datetime.fromtimestamp(seconds, UTC)


def info_from_row(row: LedgerRow) -> TaskInfo:
    """What the ledger knows of a SUCCEEDED task, in the shape of a status answer (for the download and sidecar)."""
    from qwenvid.wire.client import TaskInfo

    assert row.task_id is not None and row.video_url is not None
    return TaskInfo(
        task_id=row.task_id,
        status="SUCCEEDED",
        submit_time=row.submit_time,
        end_time=row.end_time,
        video_url=row.video_url,
        orig_prompt=row.prompt,
        actual_prompt=row.actual_prompt,
        usage=dict(row.usage or {}),
        request_id=row.request_id,
    )


def download_task(
    ctx: TaskContext, row: LedgerRow, info: TaskInfo, options: RunOptions, reporter: Reporter
) -> RunResult:
    """Download, verify and place the video of a SUCCEEDED task; record it in the ledger; write the sidecar."""
    from qwenvid.wire.download import download_video, write_sidecar

    task_id = info.task_id
    if not info.video_url:
        raise errors.DownloadError(f"Task {task_id} succeeded but returned no video URL.", task_id=task_id, hint=None)
    target = options.output or (Path(row.output_target) if row.output_target else ctx.settings.output_dir)
    reporter.phase(Phase.DOWNLOADING, task_id)
    http = ctx.client.http_for_downloads()
    try:
        with private_umask():  # the .part and the video are private from their first byte
            result = download_video(
                info.video_url,
                target,
                http=http,
                name_hint=_name_hint(row, task_id, getattr(ctx.settings, "output_name", None)),
                expect=_expectation(row),
                on_progress=lambda done, total: reporter.transfer(Phase.DOWNLOADING, done, total),
                sleep=ctx.sleep,
                resume_key=task_id,  # a .part an interrupted run left for this task is continued
                sha256=row.video_sha256,
                overwrite=options.overwrite and options.output is not None,
                on_notice=reporter.notice,
            )
    except errors.DownloadError as exc:
        ctx.ledger.set_download_error(row.id, exc.message)
        exc.task_id = task_id
        exc.hint = f"The video is kept on the server for 24 h after it finished: `qwenvid fetch {task_id}`."
        raise
    finally:
        http.close()
    for notice in result.notices:
        reporter.notice(notice)
    reporter.phase(Phase.VERIFYING, str(result.path))
    started = time.perf_counter()
    final = ctx.ledger.set_download(row.id, result.path, result.size, result.sha256)
    with private_umask():  # the sidecar holds the prompt and the request
        sidecar = write_sidecar(
            result.path,
            {
                "task_id": task_id,
                "request_id": info.request_id,
                "mode": final.mode,
                "model": final.model,
                "request": final.request_json,
                "prompt": final.prompt,
                "orig_prompt": info.orig_prompt,
                "actual_prompt": info.actual_prompt,
                "usage": info.usage,
                "submit_time": iso_utc(info.submit_time),
                "end_time": iso_utc(info.end_time),
                "sha256": result.sha256,
                "size": result.size,
                "probe": _probe_dict(result.probe),
            },
        )
    log.debug("ledger + sidecar %.3f s", time.perf_counter() - started)
    reporter.phase(Phase.DONE, str(result.path))
    out = result_from_row(final)
    out.video_path = result.path
    out.sha256 = result.sha256
    out.size = result.size
    out.sidecar_path = sidecar
    out.status = "SUCCEEDED"
    out.video_url = info.video_url
    out.usage = info.usage
    out.actual_prompt = info.actual_prompt
    return out


def _name_hint(row: LedgerRow, task_id: str, template: str | None = None) -> str:
    from qwenvid.config.naming import render_name

    created = datetime.fromisoformat(str(row.created_at))  # the ledger writes UTC
    created = (created if created.tzinfo else created.replace(tzinfo=UTC)).astimezone(UTC)
    return render_name(template, created=created, mode=row.mode, model=row.model, task_id=task_id, prompt=row.prompt)


def _expectation(row: LedgerRow) -> Any:
    """What the downloaded MP4 must show: duration, and audio when the model promises it."""
    from qwenvid.catalogue import expected_output

    return expected_output(row.model, row.request_json) if row.model else None


def _probe_dict(probe: Any) -> dict[str, Any] | None:
    if probe is None:
        return None
    return {
        key: getattr(probe, key)
        for key in ("duration", "width", "height", "fps", "video_codec", "has_audio", "audio_codec")
        if hasattr(probe, key)
    }
