"""Non-video costs (storyboard tokens, narration characters, portraits): notice lines, amounts from the user's table,
and the one rule for a paid call: reuse what the ledger has, else call and record."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qwenvid.requests.cost import PRICING_URL, is_free_service

# What one price-table rate means, per unit kind (README "From an idea to a film").
RATE_UNITS = {"images": (1, "image"), "characters": (10_000, "10,000 characters"), "tokens": (1_000_000, "1M tokens")}


@dataclass(frozen=True)
class ExtraCost:
    """What a non-video call bills: `units` of `unit` (tokens split into input and output where known)."""

    kind: str  # storyboard | narration | portrait
    model: str
    units: float
    unit: str  # images | characters | tokens
    input_units: float | None = None  # tokens: prompt side
    output_units: float | None = None  # tokens: completion side
    reused: bool = False
    estimated: bool = False  # before the call (tokens are known only after)

    def amount(self, prices: Mapping[str, Any] | None) -> tuple[float, str | None] | None:
        """An amount only from the user's price table: model = rate, or { INPUT = r, OUTPUT = r } for tokens."""
        if not prices:
            return None
        entry = prices.get(self.model)
        per = RATE_UNITS[self.unit][0]
        currency = prices.get("currency") if isinstance(prices.get("currency"), str) else None
        if isinstance(entry, int | float):
            return round(float(entry) * self.units / per, 6), currency
        if isinstance(entry, Mapping) and self.unit == "tokens" and self.input_units is not None:
            rate_in, rate_out = entry.get("INPUT"), entry.get("OUTPUT")
            if isinstance(rate_in, int | float) and isinstance(rate_out, int | float):
                total = (rate_in * self.input_units + rate_out * (self.output_units or 0)) / per
                return round(float(total), 6), currency
        return None


def units_text(cost: ExtraCost) -> str:
    if cost.unit == "tokens" and cost.estimated:
        return f"about {cost.input_units or cost.units:g} input tokens (the answer's are counted after)"
    if cost.unit == "tokens" and cost.input_units is not None:
        text = f"{cost.input_units:g} input + {cost.output_units or 0:g} output tokens"
    else:
        word = cost.unit if cost.units != 1 else cost.unit.rstrip("s")
        text = f"{cost.units:g} {word}"
    return ("about " if cost.estimated else "") + text


def cost_lines(cost: ExtraCost, *, prices: Mapping[str, Any] | None, emulated: bool) -> list[str]:
    """Its own line(s) in the cost notice: units, model, the pricing link; an amount only from the user's table."""
    what = f"{cost.kind} {units_text(cost)} on {cost.model}"
    if cost.reused:
        return [f"Cost: {cost.kind} reused from an earlier run (0 {cost.unit})."]
    if emulated:
        return [f"Cost: free (local emulator). A real run: {what}. Official prices: {PRICING_URL}"]
    lines = [f"Cost: {what}. Official prices: {PRICING_URL}"]
    found = cost.amount(prices)
    if found is not None:
        value, currency = found
        per = RATE_UNITS[cost.unit][1]
        lines.append(f"Estimated amount: {value:g}{' ' + currency if currency else ''} (your price table, per {per})")
    return lines


def service_of(base_url: str) -> str:
    """Whose ledger entries count as this call's: the emulator's (any port) or this base URL's."""
    return "emulator" if is_free_service(base_url) else base_url.rstrip("/")


def reuse_or_call(
    ledger: Path,
    *,
    kind: str,
    model: str,
    body: Mapping[str, Any],
    base_url: str,
    usable: Callable[[dict[str, Any]], bool],
    call: Callable[[], tuple[float, str, dict[str, Any]]],
) -> tuple[dict[str, Any], bool]:
    """The earlier result of this very call if it is still usable (its files still there), else call and record.

    `call` returns (units, unit, detail); detail holds what later runs need (paths, usage), never a secret."""
    from qwenvid.store import story_costs

    identity = story_costs.identity_of(kind, model, dict(body))
    service = service_of(base_url)
    found = story_costs.find(ledger, identity, service)
    if found is not None and usable(found.detail):
        return found.detail, True
    units, unit, detail = call()
    story_costs.record(ledger, story_costs.CostRecord(kind, identity, service, model, units, unit, detail))
    return detail, False
