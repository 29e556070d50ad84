"""The s2v face check's verdicts, cached per image in the ledger file (a non-video cost, product.md §3.1)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qwenvid.store.sqlite_tx import write_transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS face_checks (
    image_key TEXT NOT NULL,      -- sha256 of a local image, or the URL checked
    service TEXT NOT NULL,        -- the base URL: a verdict of the emulator is not one of the service
    model TEXT NOT NULL,          -- wan2.2-s2v-detect
    check_pass INTEGER NOT NULL,
    humanoid INTEGER,
    code TEXT,
    message TEXT,
    units INTEGER NOT NULL,       -- images billed (1 per call)
    unit TEXT NOT NULL,           -- "image"
    request_id TEXT,
    checked_at TEXT NOT NULL,
    PRIMARY KEY (image_key, service)
)
"""


@dataclass(frozen=True)
class FaceVerdict:
    """One face check's answer."""

    check_pass: bool
    humanoid: bool | None = None
    code: str | None = None
    message: str | None = None
    request_id: str | None = None
    checked_at: str | None = None


class FaceChecks:
    """Verdicts by image and service, in the ledger's SQLite file (its own table; the ledger schema is untouched)."""

    def __init__(self, ledger_path: Path) -> None:
        self.path = Path(ledger_path)

    def _connect(self) -> sqlite3.Connection:
        from qwenvid.store.connect import connect

        conn = connect(self.path, timeout=30, isolation_level=None)  # SQLite, or the shared ledger (both backends)
        conn.execute(SCHEMA)
        return conn

    def get(self, image_key: str, service: str) -> FaceVerdict | None:
        conn = self._connect()
        try:
            row = conn.execute(
                "SELECT check_pass, humanoid, code, message, request_id, checked_at FROM face_checks "
                "WHERE image_key = ? AND service = ?",
                (image_key, service),
            ).fetchone()
        finally:
            conn.close()  # back to the shared ledger's pool, or the SQLite file closed at once
        if row is None:
            return None
        humanoid = None if row[1] is None else bool(row[1])
        return FaceVerdict(bool(row[0]), humanoid, row[2], row[3], row[4], row[5])

    def put(self, image_key: str, service: str, model: str, verdict: FaceVerdict) -> None:
        conn = self._connect()
        try:
            with write_transaction(conn):
                conn.execute(
                    "INSERT OR REPLACE INTO face_checks VALUES (?, ?, ?, ?, ?, ?, ?, 1, 'image', ?, ?)",
                    (
                        image_key,
                        service,
                        model,
                        int(verdict.check_pass),
                        None if verdict.humanoid is None else int(verdict.humanoid),
                        verdict.code,
                        verdict.message,
                        verdict.request_id,
                        datetime.now(UTC).isoformat(),
                    ),
                )
        finally:
            conn.close()
