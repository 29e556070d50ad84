"""How big a plan may be: steps, variants of one step, the size and nesting of a plan document (README "Plans").

A plan is read, validated and costed whole before anything is spent; these caps keep that bounded in time
and memory, and each one is said in one line (exit 2) instead of a machine running out of memory.
"""

from __future__ import annotations

from typing import Any

from qwenvid.errors import ValidationError

MAX_PLAN_STEPS = 10_000  # steps of one plan (batch rows and variants included; split bigger work into plans)
MAX_VARIANTS = 1_000  # `repeat = N` / `seeds = [...]` of one step
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024  # a TOML/JSON plan file (batch files are read a row at a time)
MAX_ROW_BYTES = 1024 * 1024  # one JSONL/CSV/TXT row
MAX_DEPTH = 32  # tables and lists inside each other (a request is at most 4 deep)


class PlanTooLarge(ValidationError):
    """The plan is over one of the caps above (exit 2, nothing read further, nothing spent)."""

    def __init__(self, message: str, *, hint: str = "Split the work into several plans.") -> None:
        super().__init__(message, field="plan", hint=hint)
        self.code = "PlanTooLarge"


def too_deep(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether `value` nests tables/lists more than `limit` deep (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def short_repr(value: Any, limit: int = 60) -> str:
    """A value for a message, cut short (a 200 000-seed list must not become a 200 MB error)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
