"""Submit pacing per model: its documented submit rate and running-task limit, shared by every process on this machine.

DashScope limits each model to a few submits per second and a few tasks running at once, per account
(dashscope-api.md §4.2); going over either answers 429 (or, for concurrency, perhaps queues the task).
A burst of qwenvid runs therefore takes a *submit slot* before each submit:

* at most `rate` submits of a model in any `window` (1 s plus a margin for network jitter), and
* at most `concurrency` tasks of the model submitted and not yet finished.

Slots live in a small table of the ledger's SQLite file, taken and counted inside one
`BEGIN IMMEDIATE` transaction, so separate qwenvid processes sharing a state folder coordinate without
a daemon. A waiting submit re-checks every `recheck` seconds and goes the moment a slot frees. A slot
is released when its task ends (the poller saw a terminal status) or when the submit created nothing;
it also expires on its own (`expires_at`, renewed by every poll), so a crashed or detached run cannot
hold a slot for longer than its task is expected to take. Sooner than that, a run waiting for a slot
polls the tasks of slots nobody follows any more itself (qwenvid/tasks/slot_orphans.py): a slot frees when
its task ends, whoever notices.

    pacer = SubmitPacer(ledger_path)
    pacer.acquire("row-id", model="wan2.6-t2v", service=base_url, rate=5, concurrency=5, lease=300)
    ... submit ...
    pacer.release("row-id")          # or pacer.renew("row-id", 60) while following it
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from qwenvid.store.connect import connect
from qwenvid.store.seam import SlotDeadline, SlotPacer, SlotWait
from qwenvid.store.sqlite_tx import write_transaction

# Slack added to the one-second rate window: submits spaced exactly 1 s apart here may arrive closer
# together at the server after different network delays.
WINDOW_MARGIN = 0.15
# While another run waits for a task's running slot, the task is polled at least this often (seconds) where
# its end may come: the hand-off floor of the poller's schedule (qwenvid/tasks/polling.py), raised by
# handoff_interval so the model's running tasks together stay within the query share.
HANDOFF = 0.5
# How often a waiting submit looks again for a free slot.
RECHECK = 0.1
# A slot whose task nobody follows any more is free this long after the last sign of life.
RENEW_SECONDS = 60.0
# Released or expired slots are kept this long (their submit time still counts for the rate), then dropped.
KEEP_SECONDS = 60.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS submit_slots (
    holder TEXT PRIMARY KEY,        -- the ledger row id of the run that holds the slot
    model TEXT NOT NULL,            -- canonical model id: its limits are shared by its aliases
    service TEXT NOT NULL,          -- API base URL: each region (or emulator) has its own limits
    submitted_at REAL NOT NULL,     -- epoch seconds the submit was let go, then answered (the rate window)
    expires_at REAL NOT NULL,       -- the running slot is free after this even without a release
    released_at REAL                -- set when the task ended or the submit created nothing
);
CREATE INDEX IF NOT EXISTS submit_slots_model ON submit_slots (model, service);
CREATE TABLE IF NOT EXISTS slot_waiters (
    holder TEXT PRIMARY KEY,        -- a run waiting for a running slot
    model TEXT NOT NULL,
    service TEXT NOT NULL,
    seen_at REAL NOT NULL           -- refreshed while it waits; a crashed waiter fades out
);
"""
# A waiter not refreshed for this long is gone; a waiting run refreshes its entry this often.
WAITER_FRESH = 5.0
WAITER_REFRESH = 1.0


class SubmitPacer:
    """Submit slots per (model, service) from a table in the ledger file; safe across threads and processes."""

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        window: float = 1.0 + WINDOW_MARGIN,
        recheck: float = RECHECK,
    ) -> None:
        self.path = Path(path)
        self.clock = clock  # epoch seconds: slots are compared across processes
        self.sleep = sleep
        self.window = window
        self.recheck = recheck
        self._local = threading.local()
        self._conn().executescript(SCHEMA)

    # -- slots ------------------------------------------------------------------------------------

    def acquire(
        self,
        holder: str,
        *,
        model: str,
        service: str,
        rate: int,
        concurrency: int,
        lease: float,
        on_wait: Callable[[str], None] | None = None,
        on_full: Callable[[], None] | None = None,
        deadline: float | None = None,
    ) -> SlotWait:
        """Block until `model` on `service` may take one more submit, then take the slot for `holder`.

        `lease` is how long the slot stays taken without a renewal (about the task's expected run time).
        `on_wait(message)` is told once when the submit has to wait, and why. `on_full()` is called at
        every look that finds the running slots full (qwenvid/tasks/slot_orphans.py frees those of dead runs).
        `deadline` (this pacer's clock) raises SlotDeadline instead of waiting past it; a deadline of now
        (or earlier) takes a free slot or raises at once, without waiting.
        """
        try:
            return self._acquire(holder, model, service, rate, concurrency, lease, on_wait, on_full, deadline)
        except BaseException:
            self.stop_waiting(holder)
            raise

    def _acquire(
        self,
        holder: str,
        model: str,
        service: str,
        rate: int,
        concurrency: int,
        lease: float,
        on_wait: Callable[[str], None] | None,
        on_full: Callable[[], None] | None = None,
        deadline: float | None = None,
    ) -> SlotWait:
        started = self.clock()
        waited_rate = waited_running = told = False
        marked = -WAITER_FRESH
        while True:
            # A plain read first: many waiting processes must not queue for the write lock to find no room.
            free, pause, running = self._room(holder, model, service, rate, concurrency)
            if not free:
                if deadline is not None and self.clock() + pause > deadline:
                    raise SlotDeadline(running, concurrency)
                full = running >= max(concurrency, 1)
                waited_running |= full
                waited_rate |= not full
                if full and self.clock() - marked >= WAITER_REFRESH:
                    marked = self.clock()  # a write: once a second, not at every look
                    self._mark_waiting(holder, model, service)
                if on_wait is not None and full and not told:
                    told = True
                    on_wait(_waiting(model, running, concurrency))
                if full and on_full is not None:
                    on_full()
                self.sleep(pause)
                continue
            with self._transaction() as conn:
                now = self.clock()
                conn.execute(
                    "DELETE FROM submit_slots WHERE submitted_at < ? AND (released_at IS NOT NULL OR expires_at < ?)",
                    (now - KEEP_SECONDS, now),
                )
                recent = [
                    row[0]
                    for row in conn.execute(
                        "SELECT submitted_at FROM submit_slots WHERE model = ? AND service = ? AND submitted_at > ? "
                        "ORDER BY submitted_at",
                        (model, service, now - self.window),
                    )
                ]
                running = conn.execute(
                    "SELECT COUNT(*) FROM submit_slots WHERE model = ? AND service = ? AND released_at IS NULL "
                    "AND expires_at > ? AND holder != ?",
                    (model, service, now, holder),
                ).fetchone()[0]
                rate_ok = len(recent) < max(rate, 1)
                running_ok = running < max(concurrency, 1)
                if rate_ok and running_ok:
                    conn.execute("DELETE FROM slot_waiters WHERE holder = ?", (holder,))
                    conn.execute(
                        "INSERT OR REPLACE INTO submit_slots (holder, model, service, submitted_at, expires_at, "
                        "released_at) VALUES (?, ?, ?, ?, ?, NULL)",
                        (holder, model, service, now, now + max(lease, RENEW_SECONDS)),
                    )
                    return SlotWait(now - started, waited_rate, waited_running)
            waited_rate |= not rate_ok
            waited_running |= not running_ok
            if on_wait is not None and not told and not running_ok:
                told = True
                on_wait(_waiting(model, running, concurrency))
            pause = self.recheck
            if not rate_ok and running_ok and recent:
                pause = max(0.0, recent[0] + self.window - now) + 0.005
            if deadline is not None and self.clock() + pause > deadline:
                raise SlotDeadline(running, concurrency)
            self.sleep(pause)

    def _room(self, holder: str, model: str, service: str, rate: int, concurrency: int) -> tuple[bool, float, int]:
        """Whether a slot looks free right now (no lock taken), else how long to wait before looking again."""
        conn = self._conn()
        now = self.clock()
        recent = conn.execute(
            "SELECT COUNT(*), MIN(submitted_at) FROM submit_slots WHERE model = ? AND service = ? AND submitted_at > ?",
            (model, service, now - self.window),
        ).fetchone()
        running = conn.execute(
            "SELECT COUNT(*) FROM submit_slots WHERE model = ? AND service = ? AND released_at IS NULL "
            "AND expires_at > ? AND holder != ?",
            (model, service, now, holder),
        ).fetchone()[0]
        if running >= max(concurrency, 1):
            return False, self.recheck, running
        if recent[0] >= max(rate, 1):
            return False, max(0.0, recent[1] + self.window - now) + 0.005, running
        return True, 0.0, running

    def _mark_waiting(self, holder: str, model: str, service: str) -> None:
        self._conn().execute(
            "INSERT OR REPLACE INTO slot_waiters (holder, model, service, seen_at) VALUES (?, ?, ?, ?)",
            (holder, model, service, self.clock()),
        )

    def stop_waiting(self, holder: str) -> None:
        """`holder` no longer waits (it gave up, or was interrupted)."""
        self._conn().execute("DELETE FROM slot_waiters WHERE holder = ?", (holder,))

    def waiting(self, model: str, service: str) -> int:
        """Runs waiting right now for a running slot of `model` on `service`."""
        row = self._conn().execute(
            "SELECT COUNT(*) FROM slot_waiters WHERE model = ? AND service = ? AND seen_at > ?",
            (model, service, self.clock() - WAITER_FRESH),
        ).fetchone()
        return int(row[0])

    def first_waiter(self, model: str, service: str) -> str | None:
        """The one waiting run (lowest holder id among the fresh) that looks after others' slots, if any."""
        row = self._conn().execute(
            "SELECT MIN(holder) FROM slot_waiters WHERE model = ? AND service = ? AND seen_at > ?",
            (model, service, self.clock() - WAITER_FRESH),
        ).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def answered(self, holder: str) -> None:
        """The submit of `holder` was answered: count it in the rate window from now, not from when it left.

        The server counted it somewhere between the two; a submit slowed on its way (a busy machine, a
        retried connection) would otherwise leave the window here while still inside the server's, and
        the next submit could be its one too many. The answer is the latest moment the server counted it."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE submit_slots SET submitted_at = MAX(submitted_at, ?) WHERE holder = ?",
                (self.clock(), holder),
            )

    def release(self, holder: str) -> None:
        """The slot's task ended (or the submit created nothing): free its running slot now."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE submit_slots SET released_at = ? WHERE holder = ? AND released_at IS NULL",
                (self.clock(), holder),
            )

    def renew(self, holder: str, seconds: float = RENEW_SECONDS) -> None:
        """The slot's task is alive and followed: keep the slot at least `seconds` more."""
        with self._transaction() as conn:
            conn.execute(
                "UPDATE submit_slots SET expires_at = MAX(expires_at, ?) WHERE holder = ? AND released_at IS NULL",
                (self.clock() + seconds, holder),
            )

    def holders(self, model: str, service: str) -> list[tuple[str, float]]:
        """(holder, submitted at) of every running slot of `model` on `service`: a plain read."""
        rows = self._conn().execute(
            "SELECT holder, submitted_at FROM submit_slots WHERE model = ? AND service = ? AND released_at IS NULL "
            "AND expires_at > ? ORDER BY submitted_at",
            (model, service, self.clock()),
        )
        return [(str(holder), float(at)) for holder, at in rows]

    def running(self, model: str, service: str) -> int:
        """Slots of `model` on `service` taken and not yet released or expired."""
        with self._transaction() as conn:
            return int(
                conn.execute(
                    "SELECT COUNT(*) FROM submit_slots WHERE model = ? AND service = ? AND released_at IS NULL "
                    "AND expires_at > ?",
                    (model, service, self.clock()),
                ).fetchone()[0]
            )

    # -- plumbing ---------------------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            touch_private(self.path)
            conn = connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._conn())

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def touch_private(path: Path) -> None:
    """Create the ledger file owner-only if it does not exist yet (it holds prompts), as the Ledger does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass


def _waiting(model: str, running: int, concurrency: int) -> str:
    return f"{running} {model} tasks running (the account allows {concurrency}); waiting for one to end."


def limits_for(model: str) -> tuple[str, int, int]:
    """(canonical id, submits per second, running tasks) from the catalogue (dashscope-api.md §4.2).

    A model the catalogue does not know gets the strictest documented pair, 1 submit per second and 2
    running (wan2.1-kf2v-plus).
    """
    from qwenvid.catalogue import get_model

    spec = get_model(model)
    if spec is None:
        return model, 1, 2
    return spec.id, spec.rpm_limit, spec.concurrency_limit


_PACERS: dict[tuple[str, object, object], SubmitPacer] = {}
_PACERS_LOCK = threading.Lock()


def pacer_for(
    path: Path | str, *, clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep
) -> SubmitPacer:
    """One pacer per ledger file (and clock) in the process; the table itself is shared with other processes."""
    key = (str(path), clock, sleep)
    with _PACERS_LOCK:
        pacer = _PACERS.get(key)
        if pacer is None:
            if len(_PACERS) >= 32:  # tests open many state folders
                for old in _PACERS.values():
                    old.close()
                _PACERS.clear()
            pacer = _PACERS[key] = SubmitPacer(path, clock=clock, sleep=sleep)
        return pacer


def take_slot(
    pacer: SlotPacer,
    holder: str,
    model: str,
    service: str,
    *,
    expected_seconds: float,
    on_wait: Callable[[str], None] | None = None,
    on_full: Callable[[str, str], None] | None = None,
    deadline: float | None = None,
) -> SlotWait:
    """Take a submit slot for a run of `model`, with a lease of about one and a half expected run times.

    `on_full(model, service)` (canonical id, service) is called while the running slots are all taken;
    `deadline` (the pacer's clock) raises SlotDeadline rather than waiting past it.
    """
    canonical, rate, concurrency = limits_for(model)
    lease = 1.5 * max(expected_seconds, 1.0) + RENEW_SECONDS
    service = service.rstrip("/")
    return pacer.acquire(
        holder, model=canonical, service=service, rate=rate, concurrency=concurrency, lease=lease,
        on_wait=on_wait, on_full=None if on_full is None else lambda: on_full(canonical, service), deadline=deadline,
    )


def contended(pacer: SlotPacer, model: str, service: str) -> Callable[[], bool]:
    """Whether some run waits for a running slot of `model` on `service` (then its holders' ends matter now)."""
    canonical = limits_for(model)[0]
    return lambda: pacer.waiting(canonical, service.rstrip("/")) > 0


def handoff_interval(model: str, qps: float) -> float:
    """How often a task is polled at most while another run waits for its slot (polling.HANDOFF).

    Every running task of `model` may be polled that often at once, from as many processes: together
    they stay within `qps`, the share of the account's 20 queries per second this machine may use.
    """
    return max(HANDOFF, limits_for(model)[2] / max(qps, 0.1))


def note_status(pacer: SlotPacer, holder: str, status: str) -> None:
    """A poll saw the task's status: a finished task frees its slot, a live one keeps it."""
    if status in ("SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"):
        pacer.release(holder)
    else:
        pacer.renew(holder)
