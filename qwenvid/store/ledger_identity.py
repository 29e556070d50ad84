"""A ledger knows where it lives: a copy of a ledger in use, with submits in flight, is refused.

`cp -a home1 home2` copies the ledger's rows; run the same plan with both folders and each copy takes
the in-flight submits (and every step not yet paid for) as its own: paid twice. Each ledger records
an identity (a random id) and the path, device and inode it was created at. Opened elsewhere:

    same id still at the recorded path (the original is in use) · rows in flight here  → refused
    same id still at the recorded path · nothing in flight  → the copy becomes a ledger of its own
    the original gone or replaced (moved, restored from a backup)  → this is the ledger; its place is recorded

The refusal is chosen over "look in the account's task list before paying for a step in flight": the
list cannot tell which of two copies a task belongs to, and the steps not yet started are not in it at all.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from qwenvid.errors import LedgerError
from qwenvid.store.sqlite_tx import write_transaction

_SCHEMA = """CREATE TABLE IF NOT EXISTS ledger_identity (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    ledger_id TEXT NOT NULL, path TEXT NOT NULL, device INTEGER NOT NULL, inode INTEGER NOT NULL,
    recorded_at TEXT NOT NULL)"""
# Rows whose submit may be paid for by whichever copy gets to them: never sent, sent without an answer,
# or a task still rendering.
_IN_FLIGHT = """SELECT count(*) FROM tasks WHERE local_state IN ('created', 'submitting', 'outcome_unknown')
    OR (local_state = 'submitted' AND COALESCE(remote_status, 'PENDING') IN ('PENDING', 'RUNNING'))"""


@dataclass(frozen=True)
class Identity:
    ledger_id: str
    path: str
    device: int
    inode: int


def _here(path: Path, ledger_id: str) -> Identity:
    stat = os.stat(path)
    return Identity(ledger_id, str(path.resolve()), stat.st_dev, stat.st_ino)


def _read(conn: sqlite3.Connection) -> Identity | None:
    row = conn.execute("SELECT ledger_id, path, device, inode FROM ledger_identity").fetchone()
    return Identity(str(row[0]), str(row[1]), int(row[2]), int(row[3])) if row else None


def _record(conn: sqlite3.Connection, identity: Identity) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO ledger_identity VALUES (1, ?, ?, ?, ?, ?)",
        (identity.ledger_id, identity.path, identity.device, identity.inode, datetime.now(UTC).isoformat()),
    )


def _id_at(path: Path) -> str | None:
    """The identity recorded in the ledger file at `path` (read only), or None."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return None
    try:
        found = _read(conn)
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return found.ledger_id if found else None


def check_identity(path: Path) -> None:
    """Record this ledger's identity, or refuse a copy of a ledger in use that has submits in flight."""
    conn = sqlite3.connect(path, timeout=15.0, isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 15000")
        conn.execute(_SCHEMA)
        recorded = _read(conn)
        if recorded is None:
            with write_transaction(conn):
                if _read(conn) is None:
                    _record(conn, _here(path, secrets.token_hex(12)))
            return
        here = _here(path, recorded.ledger_id)
        if here == recorded:
            return
        original = Path(recorded.path)
        copy_of_live = recorded.path != here.path and original.is_file() and _id_at(original) == recorded.ledger_id
        if not copy_of_live:
            with write_transaction(conn):
                _record(conn, here)  # moved or restored: this is the ledger, at its new place
            return
        in_flight = int(conn.execute(_IN_FLIGHT).fetchone()[0])
        if in_flight:
            raise LedgerError(
                f"The ledger {here.path} is a copy of {recorded.path}, which is in use; {in_flight} submit(s) in "
                "flight are in both, and using both would pay for them twice. Nothing was sent.",
                hint=f"Use the original (QWENVID_HOME={original.parent}), or remove it if this copy replaces it.",
            )
        with write_transaction(conn):
            _record(conn, _here(path, secrets.token_hex(12)))  # nothing in flight: a ledger of its own from now on
    finally:
        conn.close()
