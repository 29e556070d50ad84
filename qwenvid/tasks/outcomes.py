"""What the task verbs take and give: a validated Plan, RunOptions, RunResult, status and resume outcomes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwenvid import errors
from qwenvid.requests.cost import CostEstimate
from qwenvid.timestamps import iso_utc, with_utc_times

if TYPE_CHECKING:
    from qwenvid.catalogue import ModelSpec
    from qwenvid.requests.shapes import LocalInput, Payload
    from qwenvid.store.ledger import LedgerRow
    from qwenvid.wire.client import TaskInfo

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"})


@dataclass
class RunOptions:
    """How to run: where the video goes, how long to wait (None: the configured wait_timeout), detach."""

    output: Path | None = None
    timeout: float | None = None
    detach: bool = False
    estimate: float | None = None
    # Replace an existing file named by `output` (otherwise naming an existing file is refused).
    overwrite: bool = False
    # The identity the ledger row is stored under (a plan step's, for the MCP server); None: the request's own.
    fingerprint: str | None = None


@dataclass
class RunResult:
    """The outcome of a generation, a follow-up or a fetch; `to_json` is the §3 contract."""

    local_id: str | None
    task_id: str
    status: str
    mode: str | None
    model: str | None
    video_path: Path | None = None
    video_url: str | None = None
    usage: dict[str, Any] | None = None
    request_id: str | None = None
    billed_seconds: float | None = None
    sha256: str | None = None
    size: int | None = None
    actual_prompt: str | None = None
    sidecar_path: Path | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    def to_json(self) -> dict[str, Any]:
        return {
            "task_id": self.task_id,
            "status": self.status,
            "mode": self.mode,
            "model": self.model,
            "video_path": str(self.video_path) if self.video_path else None,
            "video_url": self.video_url,
            "usage": self.usage,
            "request_id": self.request_id,
            "local_id": self.local_id,
            "billed_seconds": self.billed_seconds,
            "sha256": self.sha256,
            "size": self.size,
            "actual_prompt": self.actual_prompt,
            "sidecar_path": str(self.sidecar_path) if self.sidecar_path else None,
        }


@dataclass
class Plan:
    """A validated request, its wire payload and what it will cost; built with no network."""

    request: Any
    spec: ModelSpec | None
    payload: Payload
    local_inputs: list[LocalInput]
    warnings: list[str]
    cost: CostEstimate

    @property
    def mode(self) -> str:
        return str(self.request.mode)

    @property
    def model(self) -> str:
        return str(self.request.model)


@dataclass
class StatusReport:
    row: LedgerRow | None
    remote: TaskInfo | None

    def to_json(self) -> dict[str, Any]:
        # One zone everywhere: the server's zone-less UTC+8 times become UTC.
        local = with_utc_times(self.row.to_dict()) if self.row else None
        data: dict[str, Any] = {"local": local, "remote": None}
        if self.remote is not None:
            data["remote"] = {
                "task_id": self.remote.task_id,
                "status": self.remote.status,
                "submit_time": iso_utc(self.remote.submit_time),
                "scheduled_time": iso_utc(self.remote.scheduled_time),
                "end_time": iso_utc(self.remote.end_time),
                "video_url": self.remote.video_url,
                "code": self.remote.code,
                "message": self.remote.message,
                "usage": self.remote.usage,
                "request_id": self.remote.request_id,
            }
        return data


@dataclass
class ResumeOutcome:
    ref: str
    result: RunResult | None = None
    error: errors.QwenvidError | None = None
    note: str | None = None


def result_from_row(row: LedgerRow) -> RunResult:
    return RunResult(
        local_id=row.id,
        task_id=row.task_id or "",
        status=row.remote_status or "PENDING",
        mode=row.mode,
        model=row.model,
        video_path=Path(row.video_path) if row.video_path else None,
        video_url=row.video_url,
        usage=row.usage,
        request_id=row.request_id,
        billed_seconds=row.billed_seconds,
        sha256=row.video_sha256,
        size=row.video_size,
        actual_prompt=row.actual_prompt,
    )


def plan_fingerprint(plan: Plan) -> str:
    """Hash of model + normalized body + local input contents, to recognise the same request again."""
    digest = hashlib.sha256()
    digest.update(plan.model.encode())
    digest.update(json.dumps(plan.payload.body, sort_keys=True, ensure_ascii=False).encode())
    for item in plan.local_inputs:
        with open(item.path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def task_id_of(row: LedgerRow) -> str:
    """The row's task id; a row without one has nothing on the server to follow yet."""
    if row.task_id:
        return row.task_id
    if row.local_state in ("outcome_unknown", "submitting"):
        raise errors.QwenvidError(
            f"{row.id} has no task id: its submit got no answer, so whether a task exists is not known yet.",
            hint="`qwenvid resume` looks for it in the account task list.",
        )
    raise errors.QwenvidError(
        f"{row.id} has no task id: it was never submitted ({row.error_message or row.local_state}).",
        hint="Nothing ran and nothing was billed; run the command again.",
    )


def interrupted(task_id: str) -> errors.Interrupted:
    return errors.Interrupted(
        f"Stopped waiting for task {task_id}; it keeps running on the server.",
        hint=f"Continue with `qwenvid status {task_id} --wait` (or `qwenvid resume`).",
        task_id=task_id,
    )


def as_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)
