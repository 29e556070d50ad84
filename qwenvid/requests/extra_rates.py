"""Amounts of non-video calls (tokens, characters, images) at the user's rates: for notices, budgets and spend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# What one price-table rate means, per unit kind (README "From an idea to a film").
RATE_UNITS = {"images": (1, "image"), "characters": (10_000, "10,000 characters"), "tokens": (1_000_000, "1M tokens")}
_ALIASES = {"image": "images", "character": "characters", "token": "tokens"}


def unit_kind(unit: str) -> str:
    """The face check's table says "image"; the story's "images": one kind."""
    return _ALIASES.get(unit, unit)


def extra_amount(
    model: str,
    unit: str,
    units: float,
    prices: Mapping[str, Any] | None,
    *,
    input_units: float | None = None,
    output_units: float | None = None,
) -> float | None:
    """An amount only from the user's table: model = rate, or { INPUT = r, OUTPUT = r } for tokens; None: unpriced."""
    if not prices:
        return None
    kind = unit_kind(unit)
    if kind not in RATE_UNITS:
        return None
    entry = prices.get(model)
    per = RATE_UNITS[kind][0]
    if isinstance(entry, int | float) and not isinstance(entry, bool):
        return round(float(entry) * units / per, 6)
    if isinstance(entry, Mapping) and kind == "tokens" and input_units is not None:
        rate_in, rate_out = entry.get("INPUT"), entry.get("OUTPUT")
        if isinstance(rate_in, int | float) and isinstance(rate_out, int | float):
            return round(float(rate_in * input_units + rate_out * (output_units or 0)) / per, 6)
    return None
