"""Non-video costs in the ledger file (storyboard tokens, narration characters, portraits): reruns reuse them."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from qwenvid.store.sqlite_tx import write_transaction
from qwenvid.store.story_costs_schema import SCHEMA


@dataclass(frozen=True)
class CostRecord:
    """One paid call: what it was (kind, model), what it billed (units of unit), what it made (detail)."""

    kind: str  # storyboard | narration | portrait
    identity: str
    service: str
    model: str
    units: float
    unit: str  # tokens | characters | images
    detail: dict[str, Any]
    created_at: str = ""


def identity_of(kind: str, model: str, body: Mapping[str, Any]) -> str:
    """The reuse key of a call: its kind, model and exact request body."""
    text = json.dumps({"kind": kind, "model": model, "body": body}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _connect(path: Path) -> sqlite3.Connection:
    from qwenvid.store.connect import connect, is_shared
    from qwenvid.store.pacing import touch_private

    if not is_shared(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        touch_private(path)
    conn = connect(path, timeout=30.0, isolation_level=None)  # SQLite, or the shared ledger (both backends)
    conn.executescript(SCHEMA)
    return conn


def find(path: Path, identity: str, service: str) -> CostRecord | None:
    """The latest record of this very call on this service, if any."""
    if not path.exists():
        return None
    conn = _connect(path)
    try:
        row = conn.execute(
            "SELECT kind, identity, service, model, units, unit, detail, created_at FROM story_costs "
            "WHERE identity = ? AND service = ? ORDER BY id DESC LIMIT 1",
            (identity, service),
        ).fetchone()
    finally:
        conn.close()
    if row is None:
        return None
    return CostRecord(row[0], row[1], row[2], row[3], float(row[4]), row[5], json.loads(row[6]), row[7])


def record(path: Path, rec: CostRecord) -> CostRecord:
    created = rec.created_at or datetime.now(UTC).isoformat(timespec="seconds")
    conn = _connect(path)
    try:
        with write_transaction(conn):
            conn.execute(
                "INSERT INTO story_costs (kind, identity, service, model, units, unit, detail, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rec.kind,
                    rec.identity,
                    rec.service,
                    rec.model,
                    rec.units,
                    rec.unit,
                    json.dumps(rec.detail, ensure_ascii=False),
                    created,
                ),
            )
    finally:
        conn.close()
    return CostRecord(rec.kind, rec.identity, rec.service, rec.model, rec.units, rec.unit, rec.detail, created)


def totals(path: Path) -> list[tuple[str, str, str, float, int]]:
    """(kind, model, unit, units, calls) per kind and model, for `spend`-like summaries and tests."""
    if not path.exists():
        return []
    conn = _connect(path)
    try:
        rows = conn.execute(
            "SELECT kind, model, unit, SUM(units), COUNT(*) FROM story_costs GROUP BY kind, model, unit ORDER BY kind"
        ).fetchall()
    finally:
        conn.close()
    return [(r[0], r[1], r[2], float(r[3]), int(r[4])) for r in rows]


def count(path: Path, kind: str | None = None) -> int:
    if not path.exists():
        return 0
    conn = _connect(path)
    try:
        if kind is None:
            return int(conn.execute("SELECT COUNT(*) FROM story_costs").fetchone()[0])
        return int(conn.execute("SELECT COUNT(*) FROM story_costs WHERE kind = ?", (kind,)).fetchone()[0])
    finally:
        conn.close()
