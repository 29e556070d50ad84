"""Opening the ledger file with a clear error when it cannot be used, and checking it for `doctor`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from qwenvid.errors import LedgerError, QwenvidError
from qwenvid.privacy import private_umask
from qwenvid.store.connect import is_shared
from qwenvid.store.ledger import SCHEMA_VERSION, Ledger
from qwenvid.store.ledger_identity import check_identity


def _move_aside_hint(path: Path) -> str:
    return f"Move it aside (mv '{path}' '{path}.broken') and run again: qwenvid starts a new, empty ledger."


def open_ledger(path: Path) -> Ledger:
    """The ledger at `path`, created if missing; a LedgerError (exit 1) naming the file when it cannot be used."""
    try:
        ledger = Ledger(path)
        try:
            if not is_shared(path):  # a shared database is not a file anyone can copy
                with private_umask():
                    check_identity(path)  # a copy of a ledger in use, with submits in flight, is refused
        except BaseException:
            ledger.close()
            raise
        return ledger
    except sqlite3.DatabaseError as exc:  # not a database, damaged, unreadable, a folder in its place
        raise LedgerError(
            f"The ledger {path} cannot be used: {exc}.",
            hint=_move_aside_hint(path) if path.is_file() else "Check QWENVID_HOME and its permissions.",
        ) from None
    except OSError as exc:  # the state folder cannot be created
        raise LedgerError(
            f"Cannot create the ledger in {path.parent}: {exc.strerror}.",
            hint="Point QWENVID_HOME at a folder you can write to (`qwenvid doctor` shows the paths).",
        ) from None


def check_ledger(path: Path) -> tuple[bool | None, str]:
    """(ok, detail) for `doctor`: None when there is no ledger yet. Reads only; never creates or migrates."""
    from qwenvid.config.ledger_url import shared_url

    url = shared_url(path)
    if url is not None:
        from qwenvid.store.shared_check import check_shared

        return check_shared(url)
    if not path.exists():
        return None, "not created yet (the first run creates it)"
    if not path.is_file():
        return False, "not a file"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
        try:
            verdict = str(conn.execute("PRAGMA quick_check").fetchone()[0])
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            rows = int(conn.execute("SELECT count(*) FROM tasks").fetchone()[0]) if version else 0
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return False, f"cannot be used: {exc}. {_move_aside_hint(path)}"
    except QwenvidError as exc:
        return False, exc.message
    if verdict != "ok":
        return False, f"damaged: {verdict}. {_move_aside_hint(path)}"
    if version > SCHEMA_VERSION:
        return False, f"schema version {version} is newer than this qwenvid understands ({SCHEMA_VERSION}); upgrade"
    return True, f"{rows} task(s), schema version {version}"
