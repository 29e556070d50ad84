"""The cost notice shown before every submit, and the one rule for confirming it (one-liners and wizard)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from qwenvid.cli._output import Output
from qwenvid.errors import ConfirmationRequired, Interrupted

NOTHING_SUBMITTED = "Nothing was submitted."


def is_interactive() -> bool:
    """A person can answer a question (tests replace this)."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def seconds_text(seconds: float) -> str:
    return f"{seconds:g} s"


def billable_text(cost: Any) -> str:
    """'15 s billable', with the output and reference-video seconds apart when r2v bills both."""
    text = f"{seconds_text(cost.billable_seconds)} billable"
    reference = float(getattr(cost, "reference_seconds", 0) or 0)
    if reference:
        output = seconds_text(cost.billable_seconds - reference)
        text += f" ({output} output + {seconds_text(reference)} reference video)"
    return text


def amount_text(amount: float, currency: str | None) -> str:
    """An amount of money with two decimals at least, so that 0.50 and 0.75 line up ("0.50 USD")."""
    text = f"{amount:.2f}" if round(amount, 2) == amount else f"{amount:.6f}".rstrip("0")
    return text + (f" {currency}" if currency else "")


def cost_lines(cost: Any, *, emulated: bool, emulator_source: str | None = None) -> list[str]:
    """The notice itself: billable seconds, tier, model, pricing link; an amount only from the user's table.

    `emulator_source` says where the emulator setting came from (product.md §3.1), e.g. "QWENVID_EMULATOR env".
    """
    what = billable_text(cost)
    if cost.tier:
        what += f" at {cost.tier}"
    what += f" on {cost.model}"
    notes = [f"  Note: {note}" for note in getattr(cost, "notes", ())]
    if emulated:
        why = f", chosen by {emulator_source}" if emulator_source and emulator_source != "--emulator" else ""
        return [f"Cost: free (local emulator{why}). A real run: {what}. Official prices: {cost.pricing_url}", *notes]
    lines = [f"Cost: {what}. Official prices: {cost.pricing_url}", *notes]
    if cost.amount is not None:
        lines.append(f"Estimated amount: {amount_text(cost.amount, cost.currency)} (your price table)")
    return lines


def budget_lines(cost: Any, *, settings: Any, emulated: bool) -> list[str]:
    """How much of each [budget] limit the run uses (nothing without a budget)."""
    from qwenvid.tasks.budget import preview_lines

    if getattr(settings, "budget", None) is None:
        return []
    return preview_lines(settings, float(cost.billable_seconds), cost.amount, emulated=emulated)


def free_host(settings: Any) -> str | None:
    """The host of a loopback base URL (an emulator started separately), which bills nothing; else None.

    Such a run is still asked about above the threshold (it stands in for the service), but never as paying.
    """
    from urllib.parse import urlsplit

    from qwenvid.requests.cost import is_free_service

    base_url = getattr(settings, "base_url", None)
    if not is_free_service(base_url):
        return None
    return urlsplit(str(base_url)).hostname or "localhost"


def free_words(host: str) -> str:
    return f"free: a local emulator at {host}"


def above_threshold(cost: Any, *, settings: Any, emulated: bool) -> bool:
    """The one rule: a run that bills more than confirm_above_seconds needs a yes (the emulator bills nothing)."""
    threshold = getattr(settings, "confirm_above_seconds", None)
    return not emulated and threshold is not None and cost.billable_seconds > threshold


def submit_default(cost: Any, *, settings: Any, emulated: bool) -> bool:
    """What Enter means at any "submit?" question: yes within the threshold, no above it."""
    return not above_threshold(cost, settings=settings, emulated=emulated)


def ask_yes_no(question: str, *, default: bool) -> bool:
    """A plain y/n question on stderr (no live display may be running). Ctrl-C or end of input: exit 130."""
    import typer

    try:
        return bool(typer.confirm(question, default=default, err=True))
    except (typer.Abort, KeyboardInterrupt, EOFError):
        sys.stderr.write("\n")
        raise Interrupted(f"Stopped at the question. {NOTHING_SUBMITTED}") from None


def decline(out: Output) -> None:
    """The user said no: not an error, but nothing was made, so the exit code is 1."""
    import typer

    text = f"You answered no. {NOTHING_SUBMITTED}"
    if out.json:
        from qwenvid.cli._envelope import plain_error_envelope

        out.result_json(plain_error_envelope("Declined", text, 1))
    out.info(text)
    raise typer.Exit(1)


def confirm_cost(
    cost: Any,
    *,
    settings: Any,
    out: Output,
    emulated: bool,
    yes: bool,
    pause_display: Callable[[], None] = lambda: None,
    emulator_source: str | None = None,
) -> None:
    """Show the notice; ask above the threshold; refuse (exit 7) when nobody can answer.

    `pause_display` stops any live progress line first: a question drawn under a spinner cannot be seen.
    """
    asking = above_threshold(cost, settings=settings, emulated=emulated) and not yes
    if asking:
        pause_display()
    host = None if emulated else free_host(settings)
    for line in cost_lines(cost, emulated=emulated, emulator_source=emulator_source):
        out.notice(line)
    if host is not None and asking:  # said only where it is asked: a free run under the threshold stays quiet
        out.notice(f"Nothing is billed here ({free_words(host)}); a real service would bill the above.")
        out.notice(f"Asked because it is above your {seconds_text(settings.confirm_above_seconds)} threshold.")
    for line in budget_lines(cost, settings=settings, emulated=emulated):
        out.notice(line)
    if not asking:
        return
    threshold = settings.confirm_above_seconds
    if not is_interactive():
        raise ConfirmationRequired(
            f"This run bills {seconds_text(cost.billable_seconds)}, above your confirmation threshold "
            f"of {seconds_text(threshold)}, and there is no terminal to ask on.",
            hint="Add --yes to submit anyway, or raise confirm_above_seconds in config.toml.",
        )
    billed, limit = seconds_text(cost.billable_seconds), seconds_text(threshold)
    question = f"Submit and pay for {billed} (above your {limit} threshold)?"
    if host is not None:  # the ledger records it as free: the question must not say "pay"
        question = f"Submit {billed} ({free_words(host)})?"
    if not ask_yes_no(question, default=False):
        decline(out)


def pay_again_asker(pause_display: Callable[[], None] = lambda: None) -> Callable[[str], bool] | None:
    """The pay-again question on a terminal (Enter means no); None when nobody can answer (exit 7)."""
    if not is_interactive():
        return None

    def ask(question: str) -> bool:
        pause_display()
        return ask_yes_no(question, default=False)

    return ask


def paused_notice(out: Output, pause_display: Callable[[], None]) -> Callable[[str], None]:
    """A notice that stops any live progress line first (it comes right before a question)."""

    def tell(text: str) -> None:
        pause_display()
        out.notice(text)

    return tell
