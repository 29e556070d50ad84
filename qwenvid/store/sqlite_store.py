"""The embedded default Store (qwenvid/store/seam.py): one SQLite file in the state folder, flock for locks."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from qwenvid.store.seam import BudgetBook, KeyIds, RenderTimes, RowClaims, SlotPacer, Store, UploadRecords


class SqliteStore:
    """The embedded default: one SQLite file in the state folder (WAL, shared by every qwenvid process)."""

    def __init__(self, ledger_path: Path | str, *, ledger: Any = None) -> None:
        from qwenvid.store.key_ids import SqliteKeyIds
        from qwenvid.store.ledger_file import open_ledger
        from qwenvid.store.render_times import SqliteRenderTimes

        self.path = Path(ledger_path)
        self._ledger = ledger if ledger is not None else open_ledger(self.path)
        self._render_times = SqliteRenderTimes(self.path)
        self._key_ids = SqliteKeyIds(self.path)
        self._uploads: UploadRecords | None = None  # made on first use: most runs upload nothing

    @classmethod
    def of(cls, ledger: Any) -> SqliteStore:
        """The store around an open Ledger (tests and scripts that made one themselves)."""
        return cls(ledger.path, ledger=ledger)

    @property
    def ledger(self) -> Any:  # qwenvid.store.ledger.Ledger: a LedgerRows with SQLite's extras (totals, ...)
        return self._ledger

    @property
    def render_times(self) -> RenderTimes:
        return self._render_times

    @property
    def key_ids(self) -> KeyIds:
        return self._key_ids

    @property
    def uploads(self) -> UploadRecords:
        if self._uploads is None:
            from qwenvid.store.uploads import UploadStore

            self._uploads = UploadStore(self.path)
        return self._uploads

    def claims(self, *, clock: Callable[[], float] | None = None) -> RowClaims:
        from qwenvid.store.claims import Claims

        return Claims(self.path) if clock is None else Claims(self.path, clock=clock)

    def pacer(self, *, clock: Callable[[], float], sleep: Callable[[float], None]) -> SlotPacer:
        from qwenvid.store.pacing import pacer_for

        return pacer_for(self.path, clock=clock, sleep=sleep)

    def budget_book(self) -> BudgetBook:
        from qwenvid.store.budget import SqliteBudgetBook

        return SqliteBudgetBook(self.path)

    def lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        return file_lock(self.path.parent / f"{name}.lock")

    def close(self) -> None:
        self._ledger.close()


def open_store(ledger_path: Path | str) -> Store:
    """The store of a state folder: its SQLite ledger file, or the shared PostgreSQL ledger its path stands for."""
    from qwenvid.store.connect import is_shared

    if is_shared(ledger_path):
        from qwenvid.store.pg_store import PgStore

        return PgStore(ledger_path)
    return SqliteStore(ledger_path)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive `flock` held for the block: one process at a time on this machine (the OS drops it on death)."""
    import fcntl

    from qwenvid.privacy import private_umask

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with private_umask(), open(path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def recent_refs(
    ledger_path: Path, limit: int = 200, *, timeout: float = 2.0
) -> list[tuple[str, str | None, str | None, str | None, str]]:
    """(local id, task id, model, remote status, local state) of the newest rows, read-only and never creating
    the ledger: for shell completion, which must be quick and must not write. A shared ledger is read too, within
    `timeout` seconds (connect and query), so a slow or unreachable server never hangs the shell. Raises OSError
    when it cannot be read."""
    import sqlite3

    from qwenvid.store.connect import is_shared

    if is_shared(ledger_path):
        from qwenvid.config.ledger_url import shared_url
        from qwenvid.store.pg_connection import quick_rows

        url = shared_url(ledger_path)
        assert url is not None
        sql = "SELECT id, task_id, model, remote_status, local_state FROM tasks ORDER BY created_at DESC LIMIT %s"
        return [(r[0], r[1], r[2], r[3], r[4]) for r in quick_rows(url, sql, (limit,), timeout=timeout)]
    if not ledger_path.is_file():
        return []
    try:
        conn = sqlite3.connect(f"{ledger_path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            rows = conn.execute(
                "SELECT id, task_id, model, remote_status, local_state FROM tasks ORDER BY created_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise OSError(str(exc)) from None
    return [tuple(row) for row in rows]
