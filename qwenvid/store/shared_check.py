"""`qwenvid doctor` on a shared ledger: the server answers, the schema is one this qwenvid knows, the clocks agree."""

from __future__ import annotations

import time

CLOCK_WARN_SECONDS = 2.0  # leases and windows use the database's clock; a big offset is worth knowing


def check_shared(url: str) -> tuple[bool | None, str]:
    """(ok, detail): False with the reason when the database cannot be used; never creates or migrates."""
    from qwenvid.config.ledger_url import masked
    from qwenvid.errors import QwenvidError
    from qwenvid.store.ledger import SCHEMA_VERSION
    from qwenvid.store.pg_connection import connect

    try:
        conn = connect(url)
    except QwenvidError as exc:
        return False, exc.message
    try:
        server = str(conn.execute("SHOW server_version").fetchone()[0])
        before = time.time()
        now = float(conn.execute("SELECT extract(epoch from clock_timestamp())").fetchone()[0])
        offset = now - (before + time.time()) / 2
        exists = conn.execute("SELECT to_regclass('qwenvid_schema') IS NOT NULL").fetchone()[0]
        version = int(conn.execute("PRAGMA user_version").fetchone()[0]) if exists else 0
        rows = int(conn.execute("SELECT count(*) FROM tasks").fetchone()[0]) if version else 0
    except Exception as exc:  # noqa: BLE001 - any failure here is the detail doctor shows
        return False, f"{masked(url)}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    finally:
        conn.close()
    if version > SCHEMA_VERSION:
        return False, f"schema version {version} is newer than this qwenvid understands ({SCHEMA_VERSION}); upgrade"
    clock = f"its clock {offset:+.1f} s from this machine's" + (
        " (leases use the database's)" if abs(offset) > CLOCK_WARN_SECONDS else ""
    )
    state = f"{rows} task(s), schema version {version}" if version else "empty (the first run creates the tables)"
    return True, f"PostgreSQL {server}, {state}, {clock}"
