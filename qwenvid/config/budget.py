"""Budgets: the config file's `[budget]` table (seconds and amounts per UTC day and month), checked as it is read.

    [budget]
    daily_seconds = 120        # billable seconds per UTC day, across every process sharing the ledger
    monthly_seconds = 1800
    daily_amount = 5.0         # in the currency of your [prices] table; needs one
    monthly_amount = 60.0
    count_emulator = false     # true: emulator runs count too (to try a budget out for free)

No flag overrides a budget; the config does (product.md §3.1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qwenvid.errors import ConfigError

LIMIT_KEYS = ("daily_seconds", "monthly_seconds", "daily_amount", "monthly_amount")
BOOL_KEYS = ("count_emulator",)
KEYS = (*LIMIT_KEYS, *BOOL_KEYS)
CONFIG_HELP = (
    "[budget]",
    "daily_seconds / monthly_seconds (billable seconds), daily_amount / monthly_amount (needs [prices]), "
    "per UTC day and month; count_emulator = true counts emulator runs",
)


@dataclass(frozen=True)
class Budget:
    """The limits in force; None: no such limit."""

    daily_seconds: float | None = None
    monthly_seconds: float | None = None
    daily_amount: float | None = None
    monthly_amount: float | None = None
    count_emulator: bool = False

    @property
    def any(self) -> bool:
        return any(getattr(self, key) is not None for key in LIMIT_KEYS)

    def limits(self) -> list[tuple[str, float]]:
        """(key, limit) of every limit set, in the documented order."""
        return [(key, float(value)) for key in LIMIT_KEYS if (value := getattr(self, key)) is not None]


def read_budget(config: Mapping[str, Any], config_path: Path, prices: Mapping[str, Any] | None) -> Budget | None:
    """The `[budget]` table, each value checked (one line naming the key and what it takes); None when absent."""
    table = config.get("budget")
    if table is None:
        return None
    if not isinstance(table, Mapping):
        raise ConfigError(f"{config_path}: `budget` must be a table ([budget]).")
    unknown = sorted(set(table) - set(KEYS))
    if unknown:
        raise ConfigError(f"{config_path}: unknown key budget.{unknown[0]}; known: {', '.join(KEYS)}.")
    values: dict[str, Any] = {}
    for key in LIMIT_KEYS:
        if key not in table:
            continue
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ConfigError(f"{config_path}: budget.{key} takes a number of 0 or more, not {value!r}.")
        values[key] = float(value)
    for key in ("daily_amount", "monthly_amount"):
        if key in values and not _has_rates(prices):
            raise ConfigError(
                f"{config_path}: budget.{key} needs your per-second rates in a [prices] table.",
                hint="Add [prices] (e.g. `qwenvid config set prices.default 0.10`), or budget in seconds.",
            )
    flag = table.get("count_emulator", False)
    if not isinstance(flag, bool):
        raise ConfigError(f"{config_path}: budget.count_emulator takes true or false, not {flag!r}.")
    return Budget(**values, count_emulator=flag)


def _has_rates(prices: Mapping[str, Any] | None) -> bool:
    return bool(prices) and any(key != "currency" for key in (prices or {}))
