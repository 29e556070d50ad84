"""Which ledger rows belong to a plan: rows written by a plan carry its identity as their fingerprint
(`plan-…`) and the plan's folder/step file as their output target."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any


def plan_step_of(row: Any) -> tuple[str, str] | None:
    """(plan name, step id) of a row a plan submitted, else None."""
    if not str(row.fingerprint or "").startswith("plan-") or not row.output_target:
        return None
    target = Path(row.output_target)
    return target.parent.name, target.stem


def plan_rows(rows: Iterable[Any], name: str) -> list[tuple[Any, str]]:
    """The rows of plan `name` with their step ids, in the order given."""
    found: list[tuple[Any, str]] = []
    for row in rows:
        owner = plan_step_of(row)
        if owner is not None and owner[0] == name:
            found.append((row, owner[1]))
    return found
