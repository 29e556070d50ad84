"""Amount budgets before a non-video call (storyboard, narration, portrait, face check): checked and held, then made.

The call's amount at the user's rates is reserved through the store's budget book (the same atomic
check-and-reserve as a video submit, amounts only) and released once its cost row is in the ledger
(it counts from then on) or the call failed. An unpriced call, no amount budget, or the emulator
without `count_emulator` holds nothing (product.md §3.1: non-video costs count toward amount budgets).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from qwenvid.requests.cost import is_free_service
from qwenvid.requests.extra_rates import extra_amount
from qwenvid.store.budget import Need

if TYPE_CHECKING:
    from qwenvid.config import Settings


class ExtraBudget:
    """The amount budgets of one front end's settings, for the non-video calls it is about to make."""

    def __init__(self, settings: Settings, *, emulated: bool = False) -> None:
        self.settings = settings
        self.emulated = emulated or is_free_service(settings.base_url)

    def need(
        self,
        model: str,
        unit: str,
        units: float,
        *,
        input_units: float | None = None,
        output_units: float | None = None,
    ) -> Need | None:
        budget = self.settings.budget
        if budget is None or not any(key.endswith("_amount") for key, _ in budget.limits()):
            return None
        if self.emulated and not budget.count_emulator:
            return None
        amount = extra_amount(
            model, unit, units, self.settings.prices, input_units=input_units, output_units=output_units
        )
        if amount is None:
            return None
        return Need(0.0, amount, emulated=self.emulated, video=False)

    @contextmanager
    def hold(
        self,
        model: str,
        unit: str,
        units: float,
        *,
        input_units: float | None = None,
        output_units: float | None = None,
    ) -> Iterator[None]:
        """Raise BudgetExceeded (exit 11, nothing called) if the call would cross an amount budget; else hold it."""
        need = self.need(model, unit, units, input_units=input_units, output_units=output_units)
        budget = self.settings.budget
        if need is None or budget is None:
            yield
            return
        from qwenvid.store.sqlite_store import open_store

        store = open_store(self.settings.ledger_path)
        try:
            book = store.budget_book()
            token = book.reserve(budget, self.settings.prices, need)
            try:
                yield
            finally:
                book.release(token)
        finally:
            store.close()
