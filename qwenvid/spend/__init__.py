"""Spend: what the account was billed, from the ledger (qwenvid/spend/report.py), for `qwenvid spend`.

Sits under the CLI and above plans (it names a task's plan with qwenvid/plans/rows.py); reads the
ledger and the non-video costs table only, never the network.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import TYPE_CHECKING

from qwenvid.spend.report import PERIODS, OtherCost, SpendReport, build_report

if TYPE_CHECKING:
    from qwenvid.config import Settings

__all__ = ["PERIODS", "OtherCost", "SpendReport", "build_report", "spend_report"]


def spend_report(
    settings: Settings, *, period: str = "day", since: datetime | None = None, until: datetime | None = None
) -> SpendReport:
    """The report over the state folder's ledger (rows created in [since, until))."""
    from qwenvid.store.ledger import Ledger

    ledger = Ledger(settings.ledger_path)
    try:
        rows = ledger.list(since=since, until=until)
    finally:
        ledger.close()
    budget = settings.budget
    return build_report(
        rows,
        prices=settings.prices,
        period=period,
        since=since,
        until=until,
        other_costs=other_costs(settings, since=since, until=until),
        count_emulator=bool(budget and budget.count_emulator),
    )


def other_costs(settings: Settings, *, since: datetime | None, until: datetime | None) -> list[OtherCost]:
    """Non-video costs (story_costs and face_checks), per kind, model and unit, each priced as the budgets price it."""
    from qwenvid.store.connect import connect, is_shared
    from qwenvid.store.extra_costs import ensure_tables, extra_rows
    from qwenvid.store.ledger import iso

    if not is_shared(settings.ledger_path) and not settings.ledger_path.is_file():
        return []
    conn = connect(settings.ledger_path, timeout=30.0, isolation_level=None)
    try:
        ensure_tables(conn)
        rows = extra_rows(conn, None if since is None else iso(since), None if until is None else iso(until))
    except sqlite3.Error:  # a read-only or foreign ledger file: nothing but videos to show
        return []
    finally:
        conn.close()
    groups: dict[tuple[str, str, str, bool], OtherCost] = {}
    for row in sorted(rows, key=lambda r: (r.kind, r.model)):
        key = (row.kind, row.model, row.unit, row.emulated)
        found = groups.get(key) or OtherCost(row.kind, row.model, row.unit, 0.0, 0, emulated=row.emulated)
        value = row.amount(settings.prices)
        amount = found.amount if value is None else (found.amount or 0.0) + value
        groups[key] = OtherCost(
            row.kind, row.model, row.unit, found.units + row.units, found.calls + 1, row.emulated, amount
        )
    return list(groups.values())
