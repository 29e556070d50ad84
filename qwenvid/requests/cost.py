"""Cost notice data: billable seconds, resolution tier, and an amount only from the user's own price table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

# The official pricing page. qwenvid never invents a price: amounts come only from the user's config.
PRICING_URL = "https://www.alibabacloud.com/help/en/model-studio/model-pricing"

def is_free_service(base_url: str | None) -> bool:
    """A loopback base URL is the bundled emulator (or a test double): nothing run there is billed."""
    if not base_url:
        return False
    import ipaddress
    from urllib.parse import urlsplit

    host = (urlsplit(base_url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class CostEstimate:
    """What a submit will bill, as far as it can be known before the task runs."""

    model: str
    billable_seconds: float
    tier: str | None
    amount: float | None = None
    currency: str | None = None
    rate_source: str | None = None
    pricing_url: str = PRICING_URL
    # Of billable_seconds, the seconds of reference videos r2v bills on top of the output (0 elsewhere).
    reference_seconds: float = 0.0
    notes: tuple[str, ...] = ()  # facts of the request the notice states (a default watermark, an auto length)

    @property
    def output_seconds(self) -> float:
        return self.billable_seconds - self.reference_seconds

    def to_json(self) -> dict[str, object]:
        return {
            "model": self.model,
            "billable_seconds": self.billable_seconds,
            "tier": self.tier,
            "amount": self.amount,
            "currency": self.currency,
            "rate_source": self.rate_source,
            "pricing_url": self.pricing_url,
            "output_seconds": self.output_seconds,
            "reference_seconds": self.reference_seconds,
            "notes": list(self.notes),
        }


def estimate_cost(
    model: str,
    billable_seconds: float,
    tier: str | None,
    prices: Mapping[str, object] | None,
    *,
    reference_seconds: float = 0.0,
) -> CostEstimate:
    """Attach an amount when the user's price table (config file `[prices]`) has a rate for this model and tier.

    The table maps a model id (or "default") to either a per-second rate or a mapping of tier → rate;
    `currency` names the unit. Anything else in the table is ignored rather than guessed at.
    """
    if not prices:
        return CostEstimate(model, billable_seconds, tier, reference_seconds=reference_seconds)
    currency = prices.get("currency") if isinstance(prices.get("currency"), str) else None
    entry = prices.get(model, prices.get("default"))
    rate: float | None = None
    if isinstance(entry, int | float):
        rate = float(entry)
    elif isinstance(entry, Mapping) and tier is not None:
        value = entry.get(tier, entry.get(tier.lower()))
        if isinstance(value, int | float):
            rate = float(value)
    if rate is None:
        return CostEstimate(model, billable_seconds, tier, reference_seconds=reference_seconds)
    return CostEstimate(
        model=model,
        billable_seconds=billable_seconds,
        tier=tier,
        amount=round(rate * billable_seconds, 6),
        currency=str(currency) if currency else None,
        rate_source="your price table in config.toml",
        reference_seconds=reference_seconds,
    )


def with_notes(cost: CostEstimate, spec: Any, parameters: Mapping[str, object]) -> CostEstimate:
    """The notice's notes for a request: a watermark the model adds unless told, a length the model picks."""
    notes = []
    if getattr(spec, "watermark_default", False) and "watermark" not in parameters:
        notes.append(f"watermark on ({spec.id}'s default; --no-watermark turns it off)")
    if parameters.get("duration") == -1 and getattr(spec, "duration_auto", False):
        notes.append(f"--duration auto: {spec.id} picks the length; the seconds above are the longest it may pick")
    if getattr(spec, "mode", None) == "s2v":
        notes.append(
            "face check first: 1 image on wan2.2-s2v-detect, billed per image whether it passes or not "
            "(a verdict already in the ledger is not checked again)"
        )
    if getattr(spec, "mode", None) == "animate":
        notes.append("animate is priced per output second by --quality (std or pro), not by resolution")
    return replace(cost, notes=(*cost.notes, *notes)) if notes else cost
