"""Budgets kept by the ledger: what a UTC day and month have used, and an atomic check-and-reserve before a submit.

Used = billed seconds of succeeded tasks (their `usage`), plus the estimate of every task still in
flight, whose submit is leaving, or whose outcome is unknown (it may be billed), plus the live
reservations of submits about to write their row. Failed, canceled and never-submitted rows count
nothing. The check and the reservation happen in one write transaction (`BEGIN IMMEDIATE` here; an
advisory transaction lock on PostgreSQL), so of two processes racing for the last of a budget
exactly one gets it. The submit writes its ledger row right after and then drops the reservation
(the row counts from then on); a reservation whose process died, or older than RESERVATION_TTL, no
longer counts. Emulator runs count only with `count_emulator = true`. Amounts also count the
non-video calls already made (story_costs, face_checks: storyboard tokens, narration characters,
portraits, face checks) at the user's rates; such a call reserves an amount only (Need.video False)
before it is made.

Table `budget_reservations` in the ledger file (created on first use; the ledger's schema version
is not changed).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwenvid.errors import BudgetExceeded
from qwenvid.requests.cost import estimate_cost, is_free_service
from qwenvid.store.connect import connect
from qwenvid.store.extra_costs import ensure_tables, extra_amount_used
from qwenvid.store.sqlite_tx import write_transaction

if TYPE_CHECKING:
    from qwenvid.config.budget import Budget

RESERVATION_TTL = timedelta(minutes=2)  # a submit writes its row within moments of reserving
# A group hold (`--takes N`: all N at once) lasts while its takes render one after another; its process dying
# ends it on this host at once, elsewhere (a shared ledger) after this long.
GROUP_TTL = timedelta(hours=3)
GROUP_PREFIX = "group-"
ZERO = frozenset({"FAILED", "CANCELED"})

SCHEMA = """
CREATE TABLE IF NOT EXISTS budget_reservations (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    seconds REAL NOT NULL,
    amount REAL NOT NULL
)
"""
TASK_COLUMNS = "model, tier, local_state, remote_status, billed_seconds, billable_seconds_estimate, origin, base_url"


@dataclass(frozen=True)
class Need:
    """What one submit may bill: its estimated seconds, and the amount at the user's rate (None: no rate)."""

    seconds: float
    amount: float | None
    emulated: bool = False
    video: bool = True  # a non-video call (storyboard, narration, portrait, face check) counts toward amounts only


@dataclass(frozen=True)
class Used:
    """Seconds and amount a window (a UTC day or month) has used so far."""

    seconds: float = 0.0
    amount: float = 0.0
    in_flight: int = 0


@dataclass(frozen=True)
class Standing:
    """Every limit set, with what its window has used: for the cost preview and the refusal."""

    lines: tuple[tuple[str, float, Used], ...]  # (key, limit, used)

    def describe(self, need: Need, currency: str | None) -> list[str]:
        """'daily_seconds: this run 5 s; 20 of 60 s used today (UTC), 35 s left after it' per limit."""
        texts = []
        for key, limit, used in self.lines:
            amount = key.endswith("_amount")
            run = (need.amount or 0.0) if amount else need.seconds
            so_far = used.amount if amount else used.seconds
            when = "today (UTC)" if key.startswith("daily") else "this month (UTC)"
            texts.append(
                f"{key}: this run {_fmt(run, amount, currency)}; {_fmt(so_far, amount, currency)} of "
                f"{_fmt(limit, amount, currency)} used {when}, {_fmt(max(limit - so_far - run, 0.0), amount, currency)}"
                " left after it"
            )
        return texts


def windows(now: datetime) -> dict[str, datetime]:
    """The start of the UTC day and of the UTC month `now` falls in."""
    now = now.astimezone(UTC)
    day = datetime(now.year, now.month, now.day, tzinfo=UTC)
    return {"daily": day, "monthly": day.replace(day=1)}


def row_cost(row: Mapping[str, Any], prices: Mapping[str, Any] | None) -> tuple[float, float, bool]:
    """(seconds, amount, in flight) one ledger row counts toward a budget."""
    if row["local_state"] in ("rejected",):
        return 0.0, 0.0, False
    status = row["remote_status"]
    if status in ZERO:
        return 0.0, 0.0, False
    if status == "SUCCEEDED" and row["billed_seconds"] is not None:
        seconds, in_flight = float(row["billed_seconds"]), False
    else:  # created, leaving, running or unknown: it may still be billed its estimate
        seconds, in_flight = float(row["billable_seconds_estimate"] or 0.0), True
    amount = estimate_cost(row["model"] or "?", seconds, row["tier"], prices).amount
    return seconds, float(amount or 0.0), in_flight


def is_emulated(row: Mapping[str, Any]) -> bool:
    return row["origin"] == "emulated" or is_free_service(row["base_url"])


def tally(rows: Iterable[Mapping[str, Any]], prices: Mapping[str, Any] | None, *, count_emulator: bool) -> Used:
    seconds = amount = 0.0
    in_flight = 0
    for row in rows:
        if is_emulated(row) and not count_emulator:
            continue
        s, a, flying = row_cost(row, prices)
        seconds, amount, in_flight = seconds + s, amount + a, in_flight + int(flying)
    return Used(seconds, amount, in_flight)


def standing_from(used: Mapping[str, Used], budget: Budget) -> Standing:
    return Standing(tuple((key, limit, used[key.split("_")[0]]) for key, limit in budget.limits()))


def refusal(standing: Standing, need: Need, currency: str | None) -> BudgetExceeded | None:
    """The one-line refusal for the first limit the run would cross, else None."""
    for key, limit, used in standing.lines:
        amount = key.endswith("_amount")
        if not amount and not need.video:
            continue
        run = (need.amount or 0.0) if amount else need.seconds
        so_far = used.amount if amount else used.seconds
        if so_far + run > limit + 1e-9:
            when = "today (UTC)" if key.startswith("daily") else "this month (UTC)"
            flying = f", {used.in_flight} task(s) in flight counted at their estimate" if used.in_flight else ""
            return BudgetExceeded(
                f"Not submitted: this run ({_fmt(run, amount, currency)}) would cross budget.{key} = "
                f"{_fmt(limit, amount, currency)}: {_fmt(so_far, amount, currency)} already used {when}{flying}.",
                hint=f"Nothing was billed. Raise it in config.toml ([budget] {key}), or wait for the next "
                f"UTC {'day' if key.startswith('daily') else 'month'}.",
                code="BudgetExceeded",
            )
    return None


def _fmt(value: float, amount: bool, currency: str | None) -> str:
    if amount:
        return f"{value:,.2f} {currency or ''}".rstrip()
    return f"{value:g} s"


class SqliteBudgetBook:
    """Budgets over the SQLite ledger file."""

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime] | None = None) -> None:
        self.path = Path(path)
        self._clock = clock or (lambda: datetime.now(UTC))

    def _connect(self) -> sqlite3.Connection:
        from qwenvid.privacy import private_umask

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with private_umask():  # the ledger file holds prompts: owner-only from its first byte
            conn = connect(self.path, timeout=30.0, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute(SCHEMA)
        ensure_tables(conn)
        return conn

    def _used(self, conn: sqlite3.Connection, now: datetime, budget: Budget, prices: Any) -> dict[str, Used]:
        from qwenvid.store.ledger import iso

        result: dict[str, Used] = {}
        live = self._live_reservations(conn, now)
        for name, start in windows(now).items():
            rows = conn.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE created_at >= ?", (iso(start),)).fetchall()
            used = tally(rows, prices, count_emulator=budget.count_emulator)
            extra, _ = extra_amount_used(conn, iso(start), prices, count_emulator=budget.count_emulator)
            used = Used(used.seconds, used.amount + extra, used.in_flight)
            held = [r for r in live if r["created_at"] >= iso(start)]
            result[name] = Used(
                used.seconds + sum(r["seconds"] for r in held),
                used.amount + sum(r["amount"] for r in held),
                used.in_flight + len(held),
            )
        return result

    def _live_reservations(self, conn: sqlite3.Connection, now: datetime) -> list[sqlite3.Row]:
        from qwenvid.store.claims import host_id, process_alive
        from qwenvid.store.ledger import iso

        rows = conn.execute(
            "SELECT * FROM budget_reservations WHERE created_at >= ? OR (id LIKE ? AND created_at >= ?)",
            (iso(now - RESERVATION_TTL), GROUP_PREFIX + "%", iso(now - GROUP_TTL)),
        ).fetchall()
        here = host_id()
        return [r for r in rows if r["host"] != here or process_alive(int(r["pid"]), None)]

    def standing(self, budget: Budget, prices: Any) -> Standing:
        conn = self._connect()
        try:
            return standing_from(self._used(conn, self._clock(), budget, prices), budget)
        finally:
            conn.close()

    def reserve(self, budget: Budget, prices: Any, need: Need, *, group: bool = False) -> str:
        """Check every limit and hold `need` in one transaction; raises BudgetExceeded (nothing held) if crossed.

        `group`: a hold for several submits at once (`--takes N`), drawn down by `draw` as each one's row is
        written, and released (what is left of it) at the end; it lasts up to GROUP_TTL, not RESERVATION_TTL."""
        from qwenvid.store.ledger import iso

        conn = self._connect()
        try:
            with write_transaction(conn):
                now = self._clock()
                conn.execute(
                    "DELETE FROM budget_reservations WHERE created_at < ? AND (id NOT LIKE ? OR created_at < ?)",
                    (iso(now - RESERVATION_TTL), GROUP_PREFIX + "%", iso(now - GROUP_TTL)),
                )
                standing = standing_from(self._used(conn, now, budget, prices), budget)
                refused = refusal(standing, need, _currency(prices))
                if refused is not None:
                    raise refused
                token = (GROUP_PREFIX if group else "") + secrets.token_hex(8)
                conn.execute(
                    "INSERT INTO budget_reservations (id, created_at, host, pid, seconds, amount) VALUES (?,?,?,?,?,?)",
                    (token, iso(now), _host(), os.getpid(), need.seconds, need.amount or 0.0),
                )
                return token
        finally:
            conn.close()

    def draw(self, token: str, need: Need) -> None:
        """One submit of a group hold has written its row (it counts now): the group holds that much less."""
        conn = self._connect()
        try:
            with write_transaction(conn):
                row = conn.execute("SELECT seconds, amount FROM budget_reservations WHERE id = ?", (token,)).fetchone()
                if row is not None:
                    conn.execute(
                        "UPDATE budget_reservations SET seconds = ?, amount = ? WHERE id = ?",
                        (max(float(row[0]) - need.seconds, 0.0), max(float(row[1]) - (need.amount or 0.0), 0.0), token),
                    )
        finally:
            conn.close()

    def release(self, token: str) -> None:
        """The submit's row is written (it counts now), or the submit gave up: the reservation goes."""
        conn = self._connect()
        try:
            with write_transaction(conn):
                conn.execute("DELETE FROM budget_reservations WHERE id = ?", (token,))
        finally:
            conn.close()


def _host() -> str:
    from qwenvid.store.claims import host_id

    return host_id()


def _currency(prices: Mapping[str, Any] | None) -> str | None:
    value = (prices or {}).get("currency")
    return value if isinstance(value, str) else None
