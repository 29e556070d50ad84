"""Which machine wrote each ledger row (QWENVID_HOST_ID or the host name): on a shared ledger, a step
another member paid for is reported as done on that host once its result link has expired.

Table `row_hosts` in the ledger (created on first use, both backends; the ledger's schema version is
not changed).
"""

from __future__ import annotations

from pathlib import Path

from qwenvid.store.connect import connect
from qwenvid.store.sqlite_tx import write_transaction

SCHEMA = "CREATE TABLE IF NOT EXISTS row_hosts (row_id TEXT PRIMARY KEY, host TEXT NOT NULL)"


def remember(path: Path | str, row_id: str) -> None:
    from qwenvid.store.claims import host_id

    conn = connect(path, timeout=30.0, isolation_level=None)
    try:
        conn.execute(SCHEMA)
        with write_transaction(conn):
            conn.execute("INSERT OR REPLACE INTO row_hosts (row_id, host) VALUES (?, ?)", (row_id, host_id()))
    finally:
        conn.close()


def host_of(path: Path | str, row_id: str) -> str | None:
    conn = connect(path, timeout=30.0, isolation_level=None)
    try:
        conn.execute(SCHEMA)
        found = conn.execute("SELECT host FROM row_hosts WHERE row_id = ?", (row_id,)).fetchone()
    finally:
        conn.close()
    return str(found[0]) if found else None
