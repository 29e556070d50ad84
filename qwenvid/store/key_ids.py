"""What reconciliation remembers beside the ledger: each key's public `api_key_id`, and undecided candidates."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from qwenvid.privacy import private_umask

_SCHEMA = (
    # The public id DashScope lists for a key (`api_key_id`), per key and service. `key_ref` is a hash
    # of the key with a purpose prefix, never the key.
    """CREATE TABLE IF NOT EXISTS key_ids (
        key_ref TEXT NOT NULL, base_url TEXT NOT NULL, api_key_id TEXT NOT NULL, learned_at TEXT NOT NULL,
        PRIMARY KEY (key_ref, base_url))""",
    # The candidates the last reconciliation could not tell apart, so `qwenvid status <task_id>` can adopt one.
    """CREATE TABLE IF NOT EXISTS reconcile_notes (
        row_id TEXT PRIMARY KEY, candidates TEXT NOT NULL, note TEXT NOT NULL, checked_at TEXT NOT NULL)""",
)


class SqliteKeyIds:
    """The `key_ids` and `reconcile_notes` tables of the ledger's SQLite file."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def _connect(self) -> sqlite3.Connection:
        with private_umask():
            conn = sqlite3.connect(self.path, timeout=15.0, isolation_level=None)
        conn.execute("PRAGMA busy_timeout = 15000")
        for statement in _SCHEMA:
            conn.execute(statement)
        return conn

    def key_id(self, key_ref: str, base_url: str) -> str | None:
        """The `api_key_id` learned for the key behind `key_ref` on `base_url`, if any."""
        conn = self._connect()
        try:
            found = conn.execute(
                "SELECT api_key_id FROM key_ids WHERE key_ref = ? AND base_url = ?", (key_ref, base_url)
            ).fetchone()
        finally:
            conn.close()
        return str(found[0]) if found else None

    def set_key_id(self, key_ref: str, base_url: str, key_id: str) -> None:
        conn = self._connect()
        try:
            conn.execute(
                "INSERT OR REPLACE INTO key_ids VALUES (?, ?, ?, ?)",
                (key_ref, base_url, key_id, datetime.now(UTC).isoformat()),
            )
        finally:
            conn.close()

    def save_candidates(self, row_id: str, candidates: Sequence[str], note: str) -> None:
        """The tasks a reconciliation of `row_id` could not tell apart (adoptable by hand)."""
        conn = self._connect()
        try:
            conn.execute(
                "INSERT OR REPLACE INTO reconcile_notes VALUES (?, ?, ?, ?)",
                (row_id, json.dumps(list(candidates)), note, datetime.now(UTC).isoformat()),
            )
        finally:
            conn.close()

    def rows_naming(self, task_id: str) -> list[str]:
        """The rows whose saved candidates include `task_id`."""
        conn = self._connect()
        try:
            rows = conn.execute("SELECT row_id, candidates FROM reconcile_notes").fetchall()
        finally:
            conn.close()
        return [row_id for row_id, text in rows if task_id in json.loads(text)]
