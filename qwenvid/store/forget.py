"""Removing ledger rows that are noise (`qwenvid tasks forget|prune`), never one that matters.

A row is kept, whatever is asked, while it may still become money or a video: being submitted, outcome
unknown, or in flight on the service. A billed row (usage seconds on a paying service) is money the spend
reports read, so `prune` never removes it and `forget` refuses it. Everything else may go: failed,
canceled, expired or rejected attempts, never-submitted rows, and runs on an emulator.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from qwenvid.requests.cost import is_free_service
from qwenvid.store.ledger import Ledger, LedgerRow
from qwenvid.store.sqlite_tx import write_transaction

# Plain terminal outcomes that cost nothing (a FAILED task is not billed on DashScope).
_FREE_ENDINGS = frozenset({"FAILED", "CANCELED", "UNKNOWN"})


@dataclass(frozen=True)
class Verdict:
    row: LedgerRow
    removable: bool
    why: str


def _free(row: LedgerRow) -> bool:
    return row.origin == "emulated" or is_free_service(row.base_url)


def judge(row: LedgerRow) -> Verdict:
    """May this row go, and if not, why (in words for the user)."""
    if row.local_state in ("created", "submitting") and row.task_id is None and row.error_code is None:
        return Verdict(row, False, "it is being submitted (or a crash left it mid-submit: `qwenvid resume`)")
    if row.local_state == "outcome_unknown":
        return Verdict(row, False, "its submit's outcome is unknown; `qwenvid resume` finds out first")
    if row.task_id is not None and row.remote_status not in ("SUCCEEDED", *_FREE_ENDINGS):
        return Verdict(row, False, "its task is still in flight; `qwenvid resume` follows it")
    if not _free(row) and (row.billed_seconds or 0) > 0:
        return Verdict(row, False, "it holds billed seconds that spend reports and totals read")
    if row.remote_status == "SUCCEEDED" and not _free(row):
        return Verdict(row, False, "its task succeeded on the service (its usage may still be billed)")
    return Verdict(row, True, "")


def prunable(ledger: Ledger) -> list[LedgerRow]:
    """Every row `prune` removes: the noise, never money or work in progress."""
    return [row for row in ledger.list() if judge(row).removable]


def forget(ledger: Ledger, rows: Iterable[LedgerRow]) -> int:
    """Delete these rows (each judged again inside the write transaction: a row may have moved on since)."""
    removed = 0
    with write_transaction(ledger._conn()) as conn:  # the same file, the same transaction helper
        for row in rows:
            fresh = conn.execute("SELECT * FROM tasks WHERE id = ?", (row.id,)).fetchone()
            if fresh is None or not judge(LedgerRow.from_sql(fresh)).removable:
                continue
            conn.execute("DELETE FROM tasks WHERE id = ?", (row.id,))
            removed += 1
    return removed
