"""The one short write transaction every shared SQLite table of the state folder uses (ledger, pacing slots)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` … `COMMIT`, rolled back on any exception.

    IMMEDIATE takes the write lock up front, so two processes never both read, then both fail to upgrade
    to a write (SQLite's deadlock on a deferred transaction); the busy timeout makes the second one wait.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
