"""Budgets before every submit: the run's need from its cost, checked and reserved through the store.

Called by the write-ahead submit (qwenvid/tasks/submit.py) right before the row is written, so every
front end (one-liners, plans, the wizard, the MCP server) is held to the same `[budget]`; the
reservation goes once the row exists (the row counts from then on). No flag overrides a budget.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from qwenvid.requests.cost import is_free_service
from qwenvid.store.budget import Need, Standing

if TYPE_CHECKING:
    from qwenvid.config import Settings
    from qwenvid.requests.cost import CostEstimate
    from qwenvid.tasks.context import TaskContext
    from qwenvid.tasks.outcomes import Plan


def need_of(ctx: TaskContext, plan: Plan) -> Need:
    emulated = ctx.emulated or is_free_service(ctx.settings.base_url)
    return Need(float(plan.cost.billable_seconds), plan.cost.amount, emulated=emulated)


def applies(ctx: TaskContext, need: Need) -> bool:
    """A budget is set, and this service counts toward it (the emulator only with count_emulator)."""
    budget = ctx.settings.budget
    return budget is not None and budget.any and (not need.emulated or budget.count_emulator)


@dataclass
class _Group:
    """A hold for several submits of this process at once (`--takes N`), and what is left of it."""

    token: str
    seconds: float
    amount: float
    drawing: dict[str, Need] = field(default_factory=dict)


_GROUPS: list[_Group] = []
_GROUP_DRAW = "group-draw:"


def reserve(ctx: TaskContext, plan: Plan) -> str | None:
    """Hold the run's estimate within every limit (raises BudgetExceeded, exit 11); None when no budget applies.

    Inside `hold_all` a submit that fits what the group still holds takes its share of it instead."""
    need = need_of(ctx, plan)
    budget = ctx.settings.budget
    if budget is None or not applies(ctx, need):
        return None
    for group in _GROUPS:
        if need.seconds <= group.seconds + 1e-9 and (need.amount or 0.0) <= group.amount + 1e-9:
            group.seconds -= need.seconds
            group.amount -= need.amount or 0.0
            marker = f"{_GROUP_DRAW}{group.token}:{len(group.drawing)}"
            group.drawing[marker] = need
            return marker
    return ctx.store.budget_book().reserve(budget, ctx.settings.prices, need)


def release(ctx: TaskContext, token: str | None) -> None:
    if token is None:
        return
    for group in _GROUPS:
        need = group.drawing.pop(token, None)
        if need is not None:  # the row counts now: the group holds that much less
            ctx.store.budget_book().draw(group.token, need)
            return
    if not token.startswith(_GROUP_DRAW):
        ctx.store.budget_book().release(token)


@contextmanager
def hold_all(settings: Settings, seconds: float, amount: float | None, *, emulated: bool) -> Iterator[None]:
    """Check and hold several submits' estimates at once (`--takes N`: all or none; BudgetExceeded, exit 11,
    before any is sent); each submit inside takes its share; what is left goes at the end."""
    from qwenvid.store.sqlite_store import open_store

    need = Need(seconds, amount, emulated=emulated)
    budget = settings.budget
    if budget is None or not budget.any or (emulated and not budget.count_emulator):
        yield
        return
    store = open_store(settings.ledger_path)
    try:
        book = store.budget_book()
        token = book.reserve(budget, settings.prices, need, group=True)
        group = _Group(token, seconds, amount or 0.0)
        _GROUPS.append(group)
        try:
            yield
        finally:
            _GROUPS.remove(group)
            book.release(token)
    finally:
        store.close()


def standing(ctx: TaskContext, need: Need) -> Standing | None:
    """What each limit has used so far (for the cost preview); None when no budget applies."""
    budget = ctx.settings.budget
    if budget is None or not applies(ctx, need):
        return None
    return ctx.store.budget_book().standing(budget, ctx.settings.prices)


def preview_lines(settings: Settings, seconds: float, amount: float | None, *, emulated: bool) -> list[str]:
    """'Budget: daily_seconds: this run 5 s; 20 of 60 s used today (UTC), 35 s left after it' for the cost notice."""
    budget = settings.budget
    if budget is None or not budget.any or (emulated and not budget.count_emulator):
        return []
    from qwenvid.store.sqlite_store import open_store

    store = open_store(settings.ledger_path)
    try:
        found = store.budget_book().standing(budget, settings.prices)
    finally:
        store.close()
    currency = (settings.prices or {}).get("currency")
    need = Need(seconds, amount, emulated=emulated)
    return [f"Budget: {line}" for line in found.describe(need, currency if isinstance(currency, str) else None)]


def precheck(ctx: TaskContext, cost: CostEstimate) -> None:
    """Refuse early (BudgetExceeded, nothing held) a run that would cross a budget: front ends that ask a person
    first (the MCP server's elicitation) say no before asking; the submit's reserve() still decides."""
    from qwenvid.store.budget import refusal

    emulated = ctx.emulated or is_free_service(ctx.settings.base_url)
    need = Need(float(cost.billable_seconds), cost.amount, emulated=emulated)
    found = standing(ctx, need)
    if found is None:
        return
    currency = (ctx.settings.prices or {}).get("currency")
    refused = refusal(found, need, currency if isinstance(currency, str) else None)
    if refused is not None:
        raise refused
