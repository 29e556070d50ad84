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
    """Non-video costs (the `story_costs` table another part of qwenvid writes), per kind, model and unit."""
    from qwenvid.requests.cost import is_free_service
    from qwenvid.store.connect import connect, is_shared
    from qwenvid.store.ledger import iso

    if not is_shared(settings.ledger_path) and not settings.ledger_path.is_file():
        return []
    where, params = ["1 = 1"], []
    if since is not None:
        where.append("created_at >= ?")
        params.append(iso(since))
    if until is not None:
        where.append("created_at < ?")
        params.append(iso(until))
    conn = connect(settings.ledger_path, timeout=30.0, isolation_level=None)
    try:
        rows = conn.execute(
            f"SELECT kind, model, unit, service, sum(units), count(*) FROM story_costs WHERE {' AND '.join(where)} "
            "GROUP BY kind, model, unit, service ORDER BY kind, model",
            params,
        ).fetchall()
    except sqlite3.Error:  # no such table: nothing but videos was ever paid for here
        return []
    finally:
        conn.close()
    return [
        OtherCost(kind, model, unit, float(units), int(calls), emulated=is_free_service(service))
        for kind, model, unit, service, units, calls in rows
    ]
