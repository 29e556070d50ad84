"""`qwenvid cost COMMAND ...`: what a generation, a plan or an extend would bill, without running it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from qwenvid.cli._help import examples
from qwenvid.cli._output import Output
from qwenvid.cli._session import CliState, state_of
from qwenvid.errors import UsageError

if TYPE_CHECKING:
    from qwenvid.plans.prepare import PreparedPlan

# The commands that spend: each has a --dry-run, which `cost` runs with the cost as its only output.
COSTED = ("t2v", "i2v", "kf2v", "r2v", "vace", "generate", "run", "extend")
COST_EXAMPLES = examples(
    'qwenvid cost t2v "A kitten" --model wan2.6-t2v --duration 10',
    "qwenvid cost run examples/story.toml",
    "qwenvid cost extend clip.mp4 --to 12 --prompt 'It sails on' --json",
)


def cost(
    ctx: typer.Context,
    words: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="COMMAND [ARGS]...", help=f"The command to cost, as you would run it: {', '.join(COSTED)}."
        ),
    ] = None,
) -> None:
    """The cost of a command without running it: billable seconds, tier, and an amount from your price table."""
    from typer.main import get_command

    from qwenvid.cli import build_app, hoist_global_options

    state = state_of(ctx)
    words = list(words or [])
    if not words or words[0] not in COSTED:
        got = f"{words[0]!r} cannot be costed" if words else "No command given"
        raise UsageError(f"{got}; cost takes one of: {', '.join(COSTED)}.", hint='e.g. qwenvid cost t2v "A kitten"')
    inner = CliState(cost_only=True)
    argv = hoist_global_options([*_global_words(state), *words, "--dry-run"])
    group = get_command(build_app([words[0]]))
    code = group.main(args=argv, prog_name="qwenvid", standalone_mode=False, obj=inner)
    if isinstance(code, int) and code:
        raise typer.Exit(code)  # the costed command's own error, already reported


def _global_words(state: CliState) -> list[str]:
    """The global options given before `cost`, handed on to the command it costs."""
    words: list[str] = []
    if state.emulator_flag is True:
        words.append("--emulator")
    elif state.emulator_flag is False:
        words.append("--no-emulator")
    if state.base_url:
        words += ["--base-url", state.base_url]
    if state.region:
        words += ["--region", state.region]
    if state.out.json:
        words.append("--json")
    if state.out.quiet:
        words.append("--quiet")
    return words


def print_cost(out: Output, estimate: Any, *, free: bool, source: str | None) -> None:
    """One generation's cost: a line on stdout (the notice's words), or with --json one object."""
    from qwenvid.cli._cost import amount_text, billable_text

    if out.json:
        out.result_json(
            {"cost": estimate.to_json(), "free": free, "amount": estimate.amount, "currency": estimate.currency}
        )
        return
    what = billable_text(estimate) + (f" at {estimate.tier}" if estimate.tier else "") + f" on {estimate.model}"
    if estimate.amount is not None:
        what += f", {amount_text(estimate.amount, estimate.currency)} (your price table)"
    out.result(what + (" — free here (local emulator)" if free else ""))
    if not free:
        out.info(f"Official prices: {estimate.pricing_url}")


def print_plan_cost(out: Output, prepared: PreparedPlan, *, free: bool, source: str | None) -> None:
    """A plan's cost: new billable seconds (reused steps cost nothing), by model, and an amount if priced."""
    from qwenvid.cli._cost import amount_text

    preview = prepared.preview_json()
    amount, currency = prepared.new_amount
    if out.json:
        out.result_json(
            {
                "cost": {
                    "billable_seconds": prepared.new_seconds,
                    "billable_seconds_by_model": preview["billable_seconds_by_model"],
                    "reused": prepared.reused_steps,
                    "pricing_url": preview["pricing_url"],
                },
                "free": free,
                "amount": amount,
                "currency": currency,
                "plan": prepared.spec.name,
            }
        )
        return
    by_model = ", ".join(f"{k}: {v:g} s" for k, v in preview["billable_seconds_by_model"].items())
    text = f"{prepared.new_seconds:g} s billable" + (f" ({by_model})" if by_model else "")
    if amount is not None:
        text += f", {amount_text(amount, currency)} (your price table)"
    out.result(text + (" — free here (local emulator)" if free else ""))


def register(app: typer.Typer) -> None:
    app.command(
        "cost",
        epilog=COST_EXAMPLES,
        context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    )(cost)
