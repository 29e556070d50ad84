"""`qwenvid ledger import`: copy a local SQLite ledger's tables into the shared PostgreSQL ledger.

Every table of the file is copied (the ledger rows first; also claims-free state such as render
times, key ids, upload links, budgets' neighbours, and tables other parts of qwenvid add), created
on the database when missing from the file's own DDL. Rows already there (same primary key, or the
same task id) are left as they are, so an import can run again safely. Per-process coordination
(claims, pacing slots, waiters, budget reservations) is not copied: it describes processes of the
machine the file came from.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from qwenvid.errors import LedgerError

SKIPPED_TABLES = frozenset({"claims", "submit_slots", "slot_waiters", "budget_reservations", "upload_policy_calls"})


@dataclass
class ImportReport:
    source: Path
    copied: dict[str, int] = field(default_factory=dict)  # table -> rows new in the shared ledger
    present: dict[str, int] = field(default_factory=dict)  # table -> rows that were there already

    def to_json(self) -> dict[str, object]:
        return {"source": str(self.source), "copied": self.copied, "already_there": self.present}


def import_ledger(source: Path, marker: Path) -> ImportReport:
    """Copy `source` (a SQLite ledger file) into the shared ledger `marker` stands for."""
    from qwenvid.store.connect import connect
    from qwenvid.store.ledger import Ledger
    from qwenvid.store.pg_connection import translate
    from qwenvid.store.sqlite_tx import write_transaction

    if not source.is_file():
        raise LedgerError(f"No SQLite ledger at {source}.", hint="Name the file: qwenvid ledger import PATH")
    try:
        local = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
        tables = local.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise LedgerError(f"{source} is not a readable SQLite ledger: {exc}.") from None
    Ledger(marker).close()  # the shared ledger's own tables, migrated to this qwenvid's schema
    report = ImportReport(source)
    shared = connect(marker)
    try:
        order = sorted(tables, key=lambda item: item[0] != "tasks")
        for name, ddl in order:
            if name in SKIPPED_TABLES or not ddl:
                continue
            shared.execute(translate(ddl.replace("CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1), params=False))
            cursor = local.execute(f'SELECT * FROM "{name}"')
            columns = [d[0] for d in cursor.description]
            pk, _ = shared.primary_key(name)
            if "AUTOINCREMENT" in ddl.upper():  # its ids are the file's own: the database numbers them anew
                columns_in = [c for c in columns if c not in pk]
            else:
                columns_in = columns
            rows = cursor.fetchall()
            copied = 0
            with write_transaction(shared):
                for row in rows:
                    values = dict(zip(columns, row, strict=True))
                    marks = ", ".join("?" * len(columns_in))
                    found = shared.execute(
                        f"INSERT OR IGNORE INTO {name} ({', '.join(columns_in)}) VALUES ({marks})",
                        [values[c] for c in columns_in],
                    )
                    copied += int(found.rowcount == 1)
            report.copied[name] = copied
            report.present[name] = len(rows) - copied
    finally:
        shared.close()
        local.close()
    return report
