"""Expected render times per (model, duration, resolution, input kind), learned from the user's own ledger.

Submit-to-end times come from the ledger's task rows. Queue and render times (PENDING, then RUNNING
to end) are kept apart in a small `render_times` table of the same SQLite file, written when a task
succeeds, because the server's `scheduled_time` has no ledger column: a learned render time lets the
poller aim at the end precisely once it sees the task running, however long it queued.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwenvid.tasks.polling import Estimate, learn_estimate

if TYPE_CHECKING:
    from qwenvid.store.ledger import Ledger, LedgerRow
    from qwenvid.wire.client import TaskInfo

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

# How many of the newest finished rows of a model are looked at.
HISTORY_ROWS = 200
# Of those, how many like this one make the estimate (newest first: the service changes over time).
HISTORY_SAMPLES = 20

# Input fields that carry the prompt or switches rather than media: they do not change the kind.
_NOT_MEDIA = frozenset({"prompt", "negative_prompt", "extend_prompt", "function", "template"})


def input_kind(request_json: Mapping[str, Any] | None) -> str:
    """What the task renders from: "text", or its media inputs ("img_url", "first_frame+last_frame", ...).

    An image-to-video render and a video continuation of the same model take different times, so
    each kind learns its own estimate.
    """
    body = request_json or {}
    given = body.get("input") if isinstance(body.get("input"), Mapping) else {}
    assert isinstance(given, Mapping)
    parts: set[str] = set()
    for name, value in given.items():
        if name in _NOT_MEDIA or value in (None, "", [], {}):
            continue
        if name == "media" and isinstance(value, list):
            parts.update(str(item.get("type", "media")) for item in value if isinstance(item, Mapping))
        else:
            parts.add(name.removesuffix("_url").removesuffix("_urls"))
    function = given.get("function")
    kind = "+".join(sorted(parts)) or "text"
    return f"{function}:{kind}" if function else kind


def cold_estimate(row: LedgerRow) -> Estimate:
    """The expected time of `row` before any history of its kind: its prior (qwenvid/requests/priors.py).

    The one place a cold estimate is formed (the poller, the progress bar, `reconcile`, plans), from
    the request as sent: model, duration, size or resolution, and input kind.
    """
    from qwenvid.requests.priors import prior_for_request

    body = dict(row.request_json or {})
    given = body.get("parameters") if isinstance(body.get("parameters"), Mapping) else {}
    # The row's own columns fill what the stored body lacks (older rows, plans, imported tasks).
    known = {"duration": row.duration, "resolution": row.tier}
    body["parameters"] = {**{k: v for k, v in known.items() if v is not None}, **(given or {})}
    return prior_for_request(body, row.model).estimate()


def history_seconds(ledger: Ledger, row: LedgerRow) -> list[float]:
    """Submit-to-end seconds of this user's succeeded tasks like `row`, newest first (emulated runs excluded)."""
    from qwenvid.store.ledger import parse_server_time

    if not row.model:
        return []
    kind = input_kind(row.request_json)
    seconds: list[float] = []
    for other in ledger.list(model=row.model, status="SUCCEEDED", limit=HISTORY_ROWS):
        if other.id == row.id or other.origin == "emulated" or other.remote_status != "SUCCEEDED":
            continue
        if other.duration != row.duration or other.tier != row.tier or input_kind(other.request_json) != kind:
            continue
        start, end = parse_server_time(other.submit_time), parse_server_time(other.end_time)
        if start is None or end is None or end < start:
            continue
        seconds.append((end - start).total_seconds())
        if len(seconds) >= HISTORY_SAMPLES:
            break
    return seconds


def estimate_for(ledger: Ledger, row: LedgerRow) -> Estimate:
    """The expected render time of `row`: learned from its like in the ledger, else its prior (cold)."""
    return learn_estimate(history_seconds(ledger, row), cold_estimate(row), render_seconds(ledger.path, row))


def _connect(path: Path) -> sqlite3.Connection:
    from qwenvid.store.pacing import touch_private

    touch_private(path)
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    conn.executescript(SCHEMA)
    return conn


def remember(path: Path, row: LedgerRow, info: TaskInfo) -> None:
    """Keep the queue and render seconds of a task that just succeeded (emulated runs teach nothing)."""
    from time import time

    from qwenvid.store.ledger import parse_server_time

    if info.status != "SUCCEEDED" or not row.model or row.origin == "emulated":
        return
    submitted, started, ended = (parse_server_time(t) for t in (info.submit_time, info.scheduled_time, info.end_time))
    if submitted is None or started is None or ended is None or not submitted <= started <= ended:
        return
    conn = _connect(path)
    try:
        conn.execute(
            "INSERT OR REPLACE INTO render_times (row_id, model, duration, tier, kind, queued, render, recorded_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (row.id, row.model, row.duration, row.tier, input_kind(row.request_json),
             (started - submitted).total_seconds(), (ended - started).total_seconds(), time()),
        )
    finally:
        conn.close()


def render_seconds(path: Path, row: LedgerRow) -> list[float]:
    """Render (RUNNING to end) seconds of this user's succeeded tasks like `row`, newest first."""
    if not row.model:
        return []
    conn = _connect(path)
    try:
        found = conn.execute(
            "SELECT render FROM render_times WHERE model = ? AND duration IS ? AND tier IS ? AND kind = ? "
            "AND row_id != ? ORDER BY recorded_at DESC LIMIT ?",
            (row.model, row.duration, row.tier, input_kind(row.request_json), row.id, HISTORY_SAMPLES),
        )
        return [float(value) for (value,) in found]
    finally:
        conn.close()
