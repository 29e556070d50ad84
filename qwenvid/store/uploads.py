"""Uploaded inputs in the ledger file: a local file's content, where it was uploaded for whom, until when.

Temporary storage (`oss://`) binds a file to the model named at upload and to the account's key, on
one service, for 48 h; a bucket object is bound to nothing but its bucket. So a row's `binding` is
"temporary|SERVICE|MODEL|KEY_REF" or "bucket|ENDPOINT/BUCKET", and (sha256, binding) finds an upload
to reuse. `expires_at` is when the service deletes the file (None: a bucket object, kept until the
bucket's own rules remove it, so it is checked before reuse). The same file also keeps the
temporary storage's credential calls (getPolicy, 100 per second per account and model) in a sliding
window shared by every qwenvid process, like the submit slots of qwenvid/store/pacing.py.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qwenvid.privacy import private_umask
from qwenvid.store.sqlite_tx import write_transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS uploaded_inputs (
    sha256 TEXT NOT NULL,          -- the local file's content
    binding TEXT NOT NULL,         -- what the upload is bound to (see the module docstring)
    location TEXT NOT NULL,        -- the oss:// URL, or the object key in the bucket
    size INTEGER NOT NULL,
    uploaded_at REAL NOT NULL,     -- epoch seconds
    expires_at REAL,               -- epoch seconds the service deletes it; NULL: a bucket object
    PRIMARY KEY (sha256, binding)
);
CREATE TABLE IF NOT EXISTS upload_policy_calls (
    scope TEXT NOT NULL,           -- SERVICE|MODEL|KEY_REF: the credential API's limit is per account and model
    at REAL NOT NULL               -- epoch seconds the call was let go
);
CREATE INDEX IF NOT EXISTS upload_policy_calls_scope ON upload_policy_calls (scope, at);
"""
# The credential API's documented limit (dashscope-api.md §4.2) and the window it is counted in, with the
# same slack as the submit window: calls spaced exactly 1 s apart here may arrive closer at the server.
POLICY_RATE = 100
POLICY_WINDOW = 1.15
KEEP_CALLS = 60.0


@dataclass(frozen=True)
class UploadedInput:
    sha256: str
    binding: str
    location: str
    size: int
    uploaded_at: float
    expires_at: float | None


class UploadStore:
    """The `uploaded_inputs` and `upload_policy_calls` tables of the ledger file; one short connection per call."""

    def __init__(self, ledger_path: Path | str) -> None:
        self.path = Path(ledger_path)
        with self._connect():
            pass

    def _connect(self) -> _Connection:
        return _Connection(self.path)

    def find(self, sha256: str, binding: str) -> UploadedInput | None:
        with self._connect() as conn:
            row = conn.execute(
                "SELECT sha256, binding, location, size, uploaded_at, expires_at FROM uploaded_inputs "
                "WHERE sha256 = ? AND binding = ?",
                (sha256, binding),
            ).fetchone()
        return UploadedInput(*row) if row else None

    def remember(self, item: UploadedInput) -> None:
        with self._connect() as conn, write_transaction(conn):
            conn.execute(
                "INSERT OR REPLACE INTO uploaded_inputs (sha256, binding, location, size, uploaded_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (item.sha256, item.binding, item.location, item.size, item.uploaded_at, item.expires_at),
            )

    def forget(self, sha256: str, binding: str) -> None:
        with self._connect() as conn, write_transaction(conn):
            conn.execute("DELETE FROM uploaded_inputs WHERE sha256 = ? AND binding = ?", (sha256, binding))

    def policy_turn(
        self,
        scope: str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        rate: int = POLICY_RATE,
        window: float = POLICY_WINDOW,
    ) -> float:
        """Wait until one more credential call of `scope` fits the rate, across processes; the seconds waited."""
        waited = 0.0
        while True:
            now = clock()
            with self._connect() as conn, write_transaction(conn):
                conn.execute("DELETE FROM upload_policy_calls WHERE at < ?", (now - KEEP_CALLS,))
                recent = [
                    at
                    for (at,) in conn.execute(
                        "SELECT at FROM upload_policy_calls WHERE scope = ? AND at > ? ORDER BY at",
                        (scope, now - window),
                    )
                ]
                if len(recent) < rate:
                    conn.execute("INSERT INTO upload_policy_calls (scope, at) VALUES (?, ?)", (scope, now))
                    return waited
            pause = max(0.01, recent[len(recent) - rate] + window - now)
            sleep(pause)
            waited += pause


class _Connection:
    """A connection to the ledger file with the tables in place, closed on exit."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with private_umask():
            self.conn = sqlite3.connect(path, timeout=15.0, isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout = 15000")
        self.conn.executescript(SCHEMA)

    def __enter__(self) -> sqlite3.Connection:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()
