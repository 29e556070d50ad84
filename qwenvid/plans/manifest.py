"""The plan's manifest.json (per step: status, task, file, sha256, billed seconds, reuse, timings, error)
and the JSON-lines event stream for agents and dashboards."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

MANIFEST_NAME = "manifest.json"
# Step states, in the order a step moves through them: waiting (for inputs), ready (for a submit slot),
# submitting, queued (PENDING on the service), running, downloading, then done / reused / failed / skipped,
# or detached (left running when the wait ended).
PLANNED, WAITING, READY, SUBMITTING, QUEUED, RUNNING, DOWNLOADING, DONE, REUSED, FAILED, SKIPPED, DETACHED = (
    "planned",
    "waiting",
    "ready",
    "submitting",
    "queued",
    "running",
    "downloading",
    "done",
    "reused",
    "failed",
    "skipped",
    "detached",
)
FINISHED_STATES = frozenset({DONE, REUSED, FAILED, SKIPPED})


@dataclass
class StepRecord:
    """What the manifest says about one step."""

    id: str
    kind: str
    status: str = PLANNED
    mode: str | None = None
    op: str | None = None
    model: str | None = None
    hidden: bool = False
    identity: str | None = None
    local_id: str | None = None
    task_id: str | None = None
    file: str | None = None
    sha256: str | None = None
    billable_seconds: float = 0.0
    billed_seconds: float | None = None
    tier: str | None = None
    reused: bool = False
    started_at: float | None = None
    finished_at: float | None = None
    elapsed: float | None = None
    estimate: float | None = None  # expected render seconds of its task (history, else the catalogue)
    error: str | None = None
    error_code: str | None = None
    depends_on: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATES


@dataclass
class Manifest:
    plan: str
    source: str | None
    folder: str
    steps: dict[str, StepRecord]
    status: str = "running"
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None
    picks: dict[str, str] = field(default_factory=dict)  # step with takes -> the take later steps build on
    film: dict[str, Any] = field(default_factory=dict)  # a narrated plan's final video and subtitles

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for record in self.steps.values():
            counts[record.status] = counts.get(record.status, 0) + 1
        return {
            "plan": self.plan,
            "source": self.source,
            "folder": self.folder,
            "status": self.status,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "counts": counts,
            "billable_seconds_planned": sum(r.billable_seconds for r in self.steps.values() if not r.reused),
            "billed_seconds": sum(r.billed_seconds or 0 for r in self.steps.values() if not r.reused),
            "steps": [{**vars(record), "depends_on": list(record.depends_on)} for record in self.steps.values()],
            **({"picks": dict(self.picks)} if self.picks else {}),
            **({"film": dict(self.film)} if self.film else {}),
        }

    def write(self, folder: Path) -> Path:
        """Write manifest.json atomically (a crash leaves the previous one whole)."""
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / MANIFEST_NAME
        fd, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".tmp", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.to_json(), handle, indent=2, ensure_ascii=False, default=str)
                handle.write("\n")
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target


def read_manifest(folder: Path) -> dict[str, dict[str, Any]]:
    """The previous run's step records by id ({} when there is none or it cannot be read)."""
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        return {str(s["id"]): s for s in data.get("steps", []) if isinstance(s, dict) and "id" in s}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def resumed_start(folder: Path) -> float | None:
    """When the unfinished run this one continues began (its manifest's `started_at`), else None.

    A plan left running (--detach, --timeout, Ctrl-C) and run again is the same plan: its elapsed time
    counts from the first start. A plan that had ended (done or failed) starts a new count.
    """
    try:
        data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        started = data.get("started_at")
        if data.get("status") in ("running", "incomplete") and isinstance(started, int | float):
            return float(started)
    except (OSError, ValueError, TypeError, AttributeError):
        pass
    return None


class EventSink:
    """One JSON object per line for every step event; to a file or stdout (`--events -`)."""

    def __init__(self, target: str | None) -> None:
        self._lock = threading.Lock()
        self._handle: IO[str] | None = None
        self._owned = False
        if target == "-":
            self._handle = sys.stdout
        elif target:
            self._handle = open(target, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
            self._owned = True

    def emit(self, event: str, **data: Any) -> None:
        if self._handle is None:
            return
        line = json.dumps({"time": round(time.time(), 3), "event": event, **data}, ensure_ascii=False, default=str)
        with self._lock:
            self._handle.write(line + "\n")
            self._handle.flush()

    def close(self) -> None:
        if self._owned and self._handle is not None:
            self._handle.close()
        self._handle = None
