"""The cost notice shown before every submit, and the confirmation above the user's threshold."""

from __future__ import annotations

import sys
from typing import Any

import typer

from qwenvid.cli._output import Output
from qwenvid.errors import ConfirmationRequired


def is_interactive() -> bool:
    """A person can answer a question (tests replace this)."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def seconds_text(seconds: float) -> str:
    return f"{seconds:g} s"


def cost_lines(cost: Any, *, emulated: bool) -> list[str]:
    """The notice itself: billable seconds, tier, model, pricing link; an amount only from the user's table."""
    what = f"{seconds_text(cost.billable_seconds)} billable"
    if cost.tier:
        what += f" at {cost.tier}"
    what += f" on {cost.model}"
    if emulated:
        return [f"Cost: free (local emulator). A real run: {what}."]
    lines = [f"Cost: {what}. Official prices: {cost.pricing_url}"]
    if cost.amount is not None:
        currency = f" {cost.currency}" if cost.currency else ""
        lines.append(f"Estimated amount: {cost.amount:g}{currency} (your price table)")
    return lines


def confirm_cost(cost: Any, *, settings: Any, out: Output, emulated: bool, yes: bool) -> None:
    """Show the notice; ask above the threshold; refuse (exit 7) when nobody can answer."""
    for line in cost_lines(cost, emulated=emulated):
        out.notice(line)
    threshold = getattr(settings, "confirm_above_seconds", None)
    if emulated or yes or threshold is None or cost.billable_seconds <= threshold:
        return
    if not is_interactive():
        raise ConfirmationRequired(
            f"This run bills {seconds_text(cost.billable_seconds)}, above your confirmation threshold "
            f"of {seconds_text(threshold)}, and there is no terminal to ask on.",
            hint="Add --yes to submit anyway, or raise confirm_above_seconds in config.toml.",
        )
    if not typer.confirm(f"Submit and pay for {seconds_text(cost.billable_seconds)}?", default=False, err=True):
        out.info("Nothing was submitted.")
        raise typer.Exit(1)


def confirm_resubmit(earlier: list[Any], *, out: Output, yes: bool) -> None:
    """Earlier submits of this same request whose outcome was unknown: say what reconciling found, and ask
    before paying again while any of them may have made a task (refuse, exit 7, when nobody can answer)."""
    open_rows = []
    for item in earlier:
        said = item.note or (item.error.message if item.error else "")
        out.notice(f"Earlier submit of this request {item.ref}: {said}")
        if not (item.note or "").startswith("no task was created"):
            open_rows.append(item.ref)
    if not open_rows or yes:
        return
    names = ", ".join(open_rows)
    if not is_interactive():
        raise ConfirmationRequired(
            f"An earlier submit of this same request ({names}) may have created a billed task, "
            "and there is no terminal to ask on.",
            hint="Run `qwenvid resume` to finish it, or add --yes to submit it again anyway.",
        )
    if not typer.confirm(
        f"An earlier submit of this request ({names}) may already have made a task. Submit again and pay twice?",
        default=False,
        err=True,
    ):
        out.info("Nothing was submitted. `qwenvid resume` finishes the earlier submit.")
        raise typer.Exit(1)
