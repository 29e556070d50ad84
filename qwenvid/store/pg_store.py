"""The shared Store (qwenvid/store/seam.py) on PostgreSQL: several machines, one account, one ledger.

The same table modules as the SQLite store run over the database (qwenvid/store/pg_connection.py
translates their SQL; `connect()` picks the backend by the ledger path), so both backends keep one set
of rules: the write-ahead rows, the claims, the pacing slots and submit-rate windows, budgets, upload
links. What differs:
  * time: leases, windows and row times are read on the database's clock (the local clock plus the
    offset measured when the store opens), so machines whose clocks disagree still agree on windows;
  * locks: `store.lock(name)` is a PostgreSQL advisory lock (held by a session: a dead machine's
    lock ends with its connection), not a file lock on one machine;
  * claims name the host (QWENVID_HOST_ID, else the host name), pid and process start; a claim of
    another host is only known dead when its lease runs out (60 s without renewal).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from qwenvid.store.seam import BudgetBook, KeyIds, RenderTimes, RowClaims, SlotPacer, UploadRecords


class PgStore:
    """The shared ledger's Store; `path` is the marker path that stands for the database in this process."""

    def __init__(self, marker: Path | str) -> None:
        from qwenvid.store.key_ids import SqliteKeyIds
        from qwenvid.store.ledger import Ledger
        from qwenvid.store.render_times import SqliteRenderTimes

        self.path = Path(marker)
        self.offset = database_offset(self.path)
        self._ledger = Ledger(self.path, clock=self.utc_now)
        self._render_times = SqliteRenderTimes(self.path)
        self._key_ids = SqliteKeyIds(self.path)

    # -- the database's clock

    def db_clock(self) -> float:
        """Epoch seconds on the database server's clock."""
        return time.time() + self.offset

    def utc_now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset)

    # -- the seam

    @property
    def ledger(self) -> Any:
        return self._ledger

    @property
    def render_times(self) -> RenderTimes:
        return self._render_times

    @property
    def key_ids(self) -> KeyIds:
        return self._key_ids

    @property
    def uploads(self) -> UploadRecords:
        from qwenvid.store.uploads import UploadStore

        return UploadStore(self.path)  # the upload-link cache and the credential-call window, shared

    def claims(self, *, clock: Callable[[], float] | None = None) -> RowClaims:
        from qwenvid.store.claims import Claims

        return Claims(self.path, clock=clock or self.db_clock)

    def pacer(self, *, clock: Callable[[], float], sleep: Callable[[float], None]) -> SlotPacer:
        from qwenvid.store.pacing import pacer_for

        # The wall clock becomes the database's; an injected test clock is kept as it is.
        return pacer_for(self.path, clock=self.db_clock if clock is time.time else clock, sleep=sleep)

    def budget_book(self) -> BudgetBook:
        from qwenvid.store.budget import SqliteBudgetBook

        return SqliteBudgetBook(self.path, clock=self.utc_now)

    def lock(self, name: str) -> contextlib.AbstractContextManager[None]:
        return advisory_lock(self.path, name)

    def close(self) -> None:
        self._ledger.close()


def database_offset(marker: Path) -> float:
    """Seconds the database's clock is ahead of this machine's (measured once, halfway through the query)."""
    from qwenvid.store.connect import connect

    conn = connect(marker)
    try:
        before = time.time()
        found = conn.execute("SELECT extract(epoch from clock_timestamp())").fetchone()
        after = time.time()
    finally:
        conn.close()
    return float(found[0]) - (before + after) / 2


@contextlib.contextmanager
def advisory_lock(marker: Path, name: str) -> Iterator[None]:
    """An exclusive lock across every machine sharing the database, for the block."""
    from qwenvid.store.connect import connect
    from qwenvid.store.pg_connection import advisory_key

    conn = connect(marker)
    key = advisory_key(name)
    try:
        conn.execute("SELECT pg_advisory_lock(?)", (key,))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(?)", (key,))
    finally:
        conn.close()
