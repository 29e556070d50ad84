"""Cost estimates: an amount only from the user's own price table, never invented."""

from __future__ import annotations

from typing import Any

import pytest

from qwenvid.requests.cost import PRICING_URL, estimate_cost


@pytest.mark.parametrize(
    ("prices", "amount", "currency"),
    [
        (None, None, None),
        ({}, None, None),
        ({"wan2.6-t2v": 0.1, "currency": "USD"}, 1.0, "USD"),
        ({"wan2.6-t2v": {"720P": 0.1, "1080P": 0.15}, "currency": "USD"}, 1.5, "USD"),
        ({"wan2.6-t2v": {"720P": 0.1}}, None, None),  # no rate for this tier: nothing is guessed
        ({"default": {"1080P": 0.2}, "currency": "CNY"}, 2.0, "CNY"),
        ({"wan2.5-t2v-preview": 0.3}, None, None),  # another model's rate is not borrowed
        ({"wan2.6-t2v": "cheap"}, None, None),
    ],
)
def test_amount_only_from_the_users_table(
    prices: dict[str, Any] | None, amount: float | None, currency: str | None
) -> None:
    cost = estimate_cost("wan2.6-t2v", 10, "1080P", prices)
    assert cost.amount == amount and cost.currency == currency
    assert cost.billable_seconds == 10 and cost.tier == "1080P" and cost.pricing_url == PRICING_URL
    assert (cost.rate_source is not None) == (amount is not None)
    assert cost.to_json()["amount"] == amount
