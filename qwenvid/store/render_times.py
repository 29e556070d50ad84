"""Learned queue and render seconds of finished tasks, kept beside the ledger (a `render_times` table).

The server's `scheduled_time` has no ledger column, so the RUNNING-to-end time of a succeeded task is
kept here: a learned render time lets the poller aim at the end precisely once it sees the task
running, however long it queued (qwenvid/tasks/estimates.py reads it).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from time import time
from typing import TYPE_CHECKING

from qwenvid.requests.priors import input_kind

if TYPE_CHECKING:
    from qwenvid.store.ledger import LedgerRow
    from qwenvid.store.seam import TaskTimes

SCHEMA = """
CREATE TABLE IF NOT EXISTS render_times (
    row_id TEXT PRIMARY KEY,    -- the ledger row of the finished task
    model TEXT NOT NULL,
    duration REAL,
    tier TEXT,
    kind TEXT NOT NULL,         -- input_kind() of its request
    queued REAL NOT NULL,       -- seconds PENDING (submit_time to scheduled_time)
    render REAL NOT NULL,       -- seconds RUNNING (scheduled_time to end_time)
    recorded_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS render_times_kind ON render_times (model, duration, tier, kind);
"""


class SqliteRenderTimes:
    """The `render_times` table of the ledger's SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        from qwenvid.store.pacing import touch_private

        touch_private(self.path)
        conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
        conn.executescript(SCHEMA)
        return conn

    def remember(self, row: LedgerRow, info: TaskTimes) -> None:
        """Keep the queue and render seconds of a task that just succeeded (emulated runs teach nothing)."""
        from qwenvid.store.ledger import parse_server_time

        if info.status != "SUCCEEDED" or not row.model or row.origin == "emulated":
            return
        times = (info.submit_time, info.scheduled_time, info.end_time)
        submitted, started, ended = (parse_server_time(t) for t in times)
        if submitted is None or started is None or ended is None or not submitted <= started <= ended:
            return
        conn = self._connect()
        try:
            conn.execute(
                "INSERT OR REPLACE INTO render_times (row_id, model, duration, tier, kind, queued, render, "
                "recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (row.id, row.model, row.duration, row.tier, input_kind(row.request_json),
                 (started - submitted).total_seconds(), (ended - started).total_seconds(), time()),
            )  # fmt: skip
        finally:
            conn.close()

    def render_seconds(self, row: LedgerRow, limit: int) -> list[float]:
        """Render (RUNNING to end) seconds of this user's succeeded tasks like `row`, newest first."""
        if not row.model:
            return []
        conn = self._connect()
        try:
            found = conn.execute(
                "SELECT render FROM render_times WHERE model = ? AND duration IS ? AND tier IS ? AND kind = ? "
                "AND row_id != ? ORDER BY recorded_at DESC LIMIT ?",
                (row.model, row.duration, row.tier, input_kind(row.request_json), row.id, limit),
            )
            return [float(value) for (value,) in found]
        finally:
            conn.close()
