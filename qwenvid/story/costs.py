"""Non-video costs (storyboard tokens, narration characters, portraits): notice lines, amounts from the user's table,
and the one rule for a paid call: reuse what the ledger has, else call and record."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwenvid.requests.cost import PRICING_URL, is_free_service
from qwenvid.requests.extra_rates import RATE_UNITS, extra_amount

if TYPE_CHECKING:
    from qwenvid.tasks.extra_budget import ExtraBudget


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
        value = extra_amount(
            self.model, self.unit, self.units, prices, input_units=self.input_units, output_units=self.output_units
        )
        if value is None:
            return None
        currency = (prices or {}).get("currency")
        return value, currency if isinstance(currency, str) else None


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


def reusable(
    ledger: Path,
    *,
    kind: str,
    model: str,
    body: Mapping[str, Any],
    base_url: str,
    usable: Callable[[dict[str, Any]], bool],
) -> dict[str, Any] | None:
    """The earlier result of this very call on this service if it is still usable, else None (it must be paid)."""
    from qwenvid.store import story_costs

    found = story_costs.find(ledger, story_costs.identity_of(kind, model, dict(body)), service_of(base_url))
    return found.detail if found is not None and usable(found.detail) else None


def reuse_or_call(
    ledger: Path,
    *,
    kind: str,
    model: str,
    body: Mapping[str, Any],
    base_url: str,
    usable: Callable[[dict[str, Any]], bool],
    call: Callable[[], tuple[float, str, dict[str, Any]]],
    budget: ExtraBudget | None = None,
    planned: ExtraCost | None = None,
) -> tuple[dict[str, Any], bool]:
    """The earlier result of this very call if it is still usable (its files still there), else call and record.

    `call` returns (units, unit, detail); detail holds what later runs need (paths, usage), never a secret.
    With `budget` and the `planned` cost, the call is first checked and held against the amount budgets (exit 11,
    nothing called), the hold released once its row is recorded."""
    from qwenvid.store import story_costs

    identity = story_costs.identity_of(kind, model, dict(body))
    service = service_of(base_url)
    earlier = reusable(ledger, kind=kind, model=model, body=body, base_url=base_url, usable=usable)
    if earlier is not None:
        return earlier, True
    if budget is None or planned is None:
        units, unit, detail = call()
        story_costs.record(ledger, story_costs.CostRecord(kind, identity, service, model, units, unit, detail))
        return detail, False
    with budget.hold(
        planned.model, planned.unit, planned.units, input_units=planned.input_units, output_units=planned.output_units
    ):
        units, unit, detail = call()
        story_costs.record(ledger, story_costs.CostRecord(kind, identity, service, model, units, unit, detail))
    return detail, False
