"""Ledger-level claims: at most one live process works on a ledger row (or any named resource) at a time.

Several qwenvid processes may share one ledger (a live run, a `resume` in another terminal, a plan
runner). Before one follows, downloads or reconciles a row it claims it; the others see who holds it
and leave it alone. A claim is a lease stored in the ledger file itself (table `claims`):

    owner   pid + the process's start time + host (a reused pid is not the same owner)
    expiry  renewed by a background thread while held; a crashed process stops renewing

A claim is free again when it is released, when its lease expired, or at once when its owner
process on this host is gone (killed, crashed), so a crashed process can never hold a row for ever.

    claims = Claims(ledger.path)
    with claims.acquire(row.id) as claim:        # ClaimHeld when another live process holds it
        ...                                      # claim.lost turns True if the lease was taken over
    claim = claims.try_acquire(row.id)           # None instead of raising
    claims.holder(row.id)                        # who holds it now (None when free)

The table is created on first use (`CREATE TABLE IF NOT EXISTS`), so the claim works on any ledger
without a schema migration and any feature (resume, plans) can claim any resource name.
"""

from __future__ import annotations

import os
import secrets
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from qwenvid.errors import QwenvidError
from qwenvid.privacy import private_umask
from qwenvid.store.connect import connect

# How long a claim lives without renewal; the holder renews it every third of that.
DEFAULT_LEASE_SECONDS = 60.0
HOST_VAR = "QWENVID_HOST_ID"
_BUSY_TIMEOUT_SECONDS = 15.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    resource TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started TEXT,
    host TEXT NOT NULL,
    acquired_at REAL NOT NULL,
    expires_at REAL NOT NULL
)
"""


class ClaimHeld(QwenvidError):
    """Another live process holds the claim."""

    def __init__(self, resource: str, holder: ClaimInfo) -> None:
        super().__init__(
            f"{resource} is being worked on by another qwenvid process (pid {holder.pid}).",
            hint="Wait for that process to finish, or stop it; `qwenvid resume` takes over a crashed one at once.",
        )
        self.holder = holder


# --------------------------------------------------------------------------- process identity


def host_id() -> str:
    """This machine's name in claims: QWENVID_HOST_ID (tests, containers), else the host name."""
    return os.environ.get(HOST_VAR) or socket.gethostname()



def process_start(pid: int) -> str | None:
    """An identity for the process `pid` that changes when the pid is reused (Linux: its start tick).

    None when it cannot be read (no /proc): then only the pid and the lease expiry are used.
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; the fields after it are plain.
    rest = text[text.rfind(")") + 2 :].split()
    return rest[19] if len(rest) > 19 else None


def process_alive(pid: int, started: str | None) -> bool:
    """Whether the process that took a claim still runs (same pid and start time, not a zombie)."""
    if pid <= 0:
        return False
    if os.name == "nt":
        return True  # os.kill(pid, 0) would send Ctrl-C there: rely on the lease expiry alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    except OSError:
        return False
    if _is_zombie(pid):
        return False
    if started is not None:
        now = process_start(pid)
        return now is None or now == started
    return True


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return False
    return text[text.rfind(")") + 2 :][:1] in ("Z", "X")


@dataclass(frozen=True)
class ClaimInfo:
    """A claim as stored: who took it, and until when it lives without renewal."""

    resource: str
    token: str
    pid: int
    started: str | None
    host: str
    acquired_at: float
    expires_at: float

    def live(self, now: float) -> bool:
        """Held: not expired, and (on this host) its owner process still runs."""
        if now >= self.expires_at:
            return False
        if self.host == host_id():
            return process_alive(self.pid, self.started)
        return True


# --------------------------------------------------------------------------- claims


class Claim:
    """A held claim; renews its lease in the background until released (also a context manager)."""

    def __init__(self, claims: Claims, resource: str, token: str) -> None:
        self.claims = claims
        self.resource = resource
        self.token = token
        self._stop = threading.Event()
        self._lost = False
        self._thread = threading.Thread(target=self._renew_loop, name=f"qwenvid-claim-{resource}", daemon=True)
        self._thread.start()

    @property
    def lost(self) -> bool:
        """True once another process took the claim over (our lease had expired, e.g. while suspended)."""
        return self._lost

    def _renew_loop(self) -> None:
        interval = max(0.05, self.claims.lease / 3)
        while not self._stop.wait(interval):
            if not self.claims.renew(self):
                self._lost = True
                return

    def release(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self.claims.release(self)

    def __enter__(self) -> Claim:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class Claims:
    """Claims stored in one SQLite file (the ledger's); safe between threads and processes."""

    def __init__(
        self, path: str | Path, *, lease: float = DEFAULT_LEASE_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        self.path = Path(path)
        self.lease = float(lease)
        self._clock = clock
        self._pid = os.getpid()
        self._started = process_start(self._pid)
        self._host = host_id()

    def _connect(self) -> sqlite3.Connection:
        with private_umask():
            conn = connect(self.path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_SECONDS * 1000)}")
        conn.execute(_SCHEMA)
        return conn

    def _read(self, conn: sqlite3.Connection, resource: str) -> ClaimInfo | None:
        found = conn.execute("SELECT * FROM claims WHERE resource = ?", (resource,)).fetchone()
        return ClaimInfo(**dict(found)) if found is not None else None

    def holder(self, resource: str) -> ClaimInfo | None:
        """The live holder of `resource`, or None when it is free (released, expired or its owner died)."""
        conn = self._connect()
        try:
            info = self._read(conn, resource)
        finally:
            conn.close()
        return info if info is not None and info.live(self._clock()) else None

    def was_claimed(self, resource: str) -> ClaimInfo | None:
        """The stored claim even when it is no longer live (a crashed owner leaves it behind)."""
        conn = self._connect()
        try:
            return self._read(conn, resource)
        finally:
            conn.close()

    def try_acquire(self, resource: str) -> Claim | None:
        """Claim `resource` for this process; None when another live process holds it."""
        token = secrets.token_hex(8)
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                now = self._clock()
                current = self._read(conn, resource)
                if current is not None and current.live(now):
                    conn.execute("ROLLBACK")
                    return None
                conn.execute(
                    "INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (resource, token, self._pid, self._started, self._host, now, now + self.lease),
                )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        finally:
            conn.close()
        return Claim(self, resource, token)

    def acquire(self, resource: str) -> Claim:
        """Claim `resource`; ClaimHeld names the live process that holds it."""
        claim = self.try_acquire(resource)
        if claim is None:
            holder = self.holder(resource)
            if holder is None:  # released between the two looks: try once more
                claim = self.try_acquire(resource)
            if claim is None:
                raise ClaimHeld(resource, holder or self._unknown_holder(resource))
        return claim

    def wait_acquire(
        self, resource: str, *, timeout: float, sleep: Callable[[float], None] = time.sleep, every: float = 0.5
    ) -> Claim | None:
        """Claim `resource`, waiting up to `timeout` seconds for its holder to finish; None if it did not."""
        waited = 0.0
        while True:
            claim = self.try_acquire(resource)
            if claim is not None or waited >= timeout:
                return claim
            sleep(every)
            waited += every

    def renew(self, claim: Claim) -> bool:
        """Extend the lease; False when the claim is no longer ours."""
        conn = self._connect()
        try:
            cursor = conn.execute(
                "UPDATE claims SET expires_at = ? WHERE resource = ? AND token = ?",
                (self._clock() + self.lease, claim.resource, claim.token),
            )
            return cursor.rowcount == 1
        except sqlite3.Error:
            return True  # a busy ledger is not a lost claim; the next renewal tries again
        finally:
            conn.close()

    def release(self, claim: Claim) -> None:
        conn = self._connect()
        try:
            conn.execute("DELETE FROM claims WHERE resource = ? AND token = ?", (claim.resource, claim.token))
        finally:
            conn.close()

    def _unknown_holder(self, resource: str) -> ClaimInfo:
        now = self._clock()
        return ClaimInfo(resource, "", 0, None, self._host, now, now)
