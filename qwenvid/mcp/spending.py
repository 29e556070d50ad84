"""How much an agent may spend in one call: its own `max_seconds`, the config's budgets, the confirmation threshold.

Order of the checks, before anything is submitted:
1. `max_seconds` (the call's own cap): over it, refused.
2. The config's budgets (product.md §3.1, `[budget]`): `BUDGET_CHECKS` is the hook; qwenvid/tasks/budget.py's
   `precheck` is registered, which raises `BudgetExceeded` (exit 11's error) or returns None (the submit
   itself then checks and reserves atomically, as for every front end).
3. The confirmation threshold (`confirm_above_seconds`): above it the person is asked through the client
   (MCP elicitation) where the client supports it; refused with a clear message where it does not. An agent
   cannot answer for the person: there is no `yes` argument.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from qwenvid.errors import ConfirmationRequired, ValidationError


# Budget checks run before every MCP submit: (session, cost estimate) -> None, or raise (nothing submitted).
def _budget(session: Any, cost: Any) -> None:
    from qwenvid.tasks.budget import precheck

    if session is not None:  # no session, no state folder: nothing to count against
        precheck(session, cost)


BUDGET_CHECKS: list[Callable[[Any, Any], None]] = [_budget]


def check_limits(cost: Any, *, max_seconds: float | None, session: Any) -> None:
    """Refuse a call over its own cap or over a budget; nothing has been submitted."""
    seconds = float(cost.billable_seconds)
    if max_seconds is not None and seconds > max_seconds:
        raise ValidationError(
            f"This request bills {seconds:g} s, more than max_seconds {max_seconds:g}; nothing was submitted.",
            hint="Raise max_seconds, or ask for less (a shorter duration or a lower resolution).",
        )
    for check in BUDGET_CHECKS:
        check(session, cost)


def needs_confirmation(cost: Any, *, settings: Any, emulated: bool) -> bool:
    """The CLI's one rule: above confirm_above_seconds a person says yes (the in-process emulator bills nothing)."""
    threshold = getattr(settings, "confirm_above_seconds", None)
    return not emulated and threshold is not None and float(cost.billable_seconds) > threshold


def question(cost: Any, settings: Any) -> str:
    what = f"{float(cost.billable_seconds):g} s billable"
    if cost.tier:
        what += f" at {cost.tier}"
    amount = f" (about {cost.amount:g} {cost.currency or ''} by your price table)".replace(" )", ")") if (
        cost.amount is not None
    ) else ""
    from urllib.parse import urlsplit

    from qwenvid.requests.cost import is_free_service

    base_url = getattr(settings, "base_url", None)
    if is_free_service(base_url):  # a loopback emulator stands in for the service: nothing is billed
        host = urlsplit(str(base_url)).hostname or "localhost"
        return (
            f"An agent asks qwenvid to make a video on {cost.model}: {what}, above your confirmation "
            f"threshold of {settings.confirm_above_seconds:g} s (free: a local emulator at {host}). Submit?"
        )
    return (
        f"An agent asks qwenvid to make a video on {cost.model}: {what}{amount}, above your confirmation "
        f"threshold of {settings.confirm_above_seconds:g} s. Prices: {cost.pricing_url}. Submit and pay?"
    )


def cannot_ask(cost: Any, settings: Any) -> ConfirmationRequired:
    return ConfirmationRequired(
        f"This request bills {float(cost.billable_seconds):g} s, above the confirmation threshold of "
        f"{settings.confirm_above_seconds:g} s, and this MCP client cannot ask the person (it does not support "
        "elicitation); nothing was submitted.",
        hint="Ask the person to raise confirm_above_seconds in config.toml, or to run it themselves "
        "(`qwenvid generate ... ` in a terminal asks there); or make a shorter or lower-resolution request.",
    )


def declined(action: str) -> ConfirmationRequired:
    said = {"decline": "declined", "cancel": "cancelled the question"}.get(action, "did not confirm")
    return ConfirmationRequired(
        f"The person {said}; nothing was submitted and nothing was spent.",
        hint="Do not retry the same request unless the person asks for it.",
    )
