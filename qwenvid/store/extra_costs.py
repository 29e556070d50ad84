"""Non-video costs in the ledger (story_costs, face_checks) priced by the user's table: for budgets and spend."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from qwenvid.requests.cost import is_free_service
from qwenvid.requests.extra_rates import extra_amount
from qwenvid.store.face_checks import SCHEMA as FACE_SCHEMA
from qwenvid.store.story_costs_schema import SCHEMA as STORY_SCHEMA


@dataclass(frozen=True)
class ExtraRow:
    """One paid non-video call as the ledger holds it."""

    kind: str
    model: str
    unit: str
    units: float
    service: str
    created_at: str
    input_units: float | None = None
    output_units: float | None = None

    @property
    def emulated(self) -> bool:
        return self.service == "emulator" or is_free_service(self.service)

    def amount(self, prices: Mapping[str, Any] | None) -> float | None:
        return extra_amount(
            self.model, self.unit, self.units, prices, input_units=self.input_units, output_units=self.output_units
        )


def ensure_tables(conn: Any) -> None:
    """Both tables exist (a fresh ledger has neither until its first non-video call); statement by statement, as
    executescript would commit a transaction the caller holds."""
    for statement in (*STORY_SCHEMA.split(";"), FACE_SCHEMA):
        if statement.strip():
            conn.execute(statement)


def extra_rows(conn: Any, since: str | None = None, until: str | None = None) -> list[ExtraRow]:
    """Every story cost and face check created in [since, until) (ledger `iso` strings; None: unbounded).

    The tables must exist first (ensure_tables)."""
    rows: list[ExtraRow] = []
    for sql, stamp in (
        ("SELECT kind, model, unit, units, service, created_at, detail FROM story_costs", "created_at"),
        ("SELECT 'face_check', model, unit, units, service, checked_at, NULL FROM face_checks", "checked_at"),
    ):
        where, params = [], []
        if since is not None:
            where.append(f"{stamp} >= ?")
            params.append(since)
        if until is not None:
            where.append(f"{stamp} < ?")
            params.append(until)
        query = sql + (f" WHERE {' AND '.join(where)}" if where else "")
        for kind, model, unit, units, service, created, detail in conn.execute(query, params).fetchall():
            found = _detail(detail)
            tokens_in, tokens_out = found.get("prompt_tokens"), found.get("completion_tokens")
            tokens = (float(tokens_in), float(tokens_out or 0)) if isinstance(tokens_in, int | float) else (None, None)
            split = unit == "tokens"
            rows.append(
                ExtraRow(
                    str(kind), str(model), str(unit), float(units), str(service), str(created),
                    tokens[0] if split else None,
                    tokens[1] if split else None,
                )
            )  # fmt: skip
    return rows


def _detail(text: Any) -> dict[str, Any]:
    if not isinstance(text, str):
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def extra_amount_used(
    conn: Any, since: str, prices: Mapping[str, Any] | None, *, count_emulator: bool
) -> tuple[float, int]:
    """(amount, calls priced) of the non-video calls since `since`; emulated ones only with count_emulator."""
    total, calls = 0.0, 0
    for row in extra_rows(conn, since):
        if row.emulated and not count_emulator:
            continue
        value = row.amount(prices)
        if value is not None:
            total, calls = total + value, calls + 1
    return total, calls
