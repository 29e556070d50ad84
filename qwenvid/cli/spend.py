"""`qwenvid spend`: billed seconds from the ledger by day/week/month, model, tier, mode and plan, with a chart."""

from __future__ import annotations

import csv
import sys
from typing import Annotated, Any

import typer

from qwenvid.cli._help import examples
from qwenvid.cli._options import JsonOpt
from qwenvid.cli._output import Output
from qwenvid.cli._session import load_settings, state_of
from qwenvid.errors import UsageError

SPEND_EXAMPLES = examples(
    "qwenvid spend",
    "qwenvid spend --by month --since 2026-01-01",
    "qwenvid spend --since 2026-12-01 --until 2026-12-07 --csv",
    "qwenvid spend --json",
)
BAR_WIDTH = 40


def spend(
    ctx: typer.Context,
    by: Annotated[str, typer.Option("--by", help="Chart and total per day, week (ISO) or month, in UTC.")] = "day",
    since: Annotated[
        str | None, typer.Option("--since", help="Tasks created from this UTC date/time (YYYY-MM-DD or ISO).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Tasks created before the end of this UTC date (or this time).")
    ] = None,
    csv_out: Annotated[bool, typer.Option("--csv", help="Every figure as CSV on stdout (one row per group).")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show what was spent: billed seconds per day, model, tier, mode and plan, beside the estimates."""
    from qwenvid.cli.tasks import parse_when
    from qwenvid.spend import PERIODS, spend_report

    state = state_of(ctx, json_out)
    if by not in PERIODS:
        raise UsageError(f"--by takes day, week or month, not {by!r}.")
    if csv_out and state.out.json:
        raise UsageError("--csv and --json are two outputs; pick one.")
    settings = load_settings(state)
    report = spend_report(settings, period=by, since=parse_when(since), until=parse_when(until, end=True))
    if state.out.json:
        state.out.result_json(report.to_json())
    elif csv_out:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerows(report.csv_rows())
    else:
        _print(state.out, report)


def _print(out: Output, report: Any) -> None:
    sections = [("Billed by the service", report.billed), ("Emulator runs (free; not billed)", report.emulator)]
    if report.count_emulator:
        sections[1] = ("Emulator runs (count toward budgets: count_emulator = true)", report.emulator)
    shown = [(title, section) for title, section in sections if section.total.tasks or section.other]
    if not shown:
        out.info('No tasks in the ledger for this period. Make one with `qwenvid t2v "..."`.')
        return
    currency = report.currency or ""
    for title, section in shown:
        _heading(title, section, currency)
        _chart(section.lines("period"), report.period, currency)
        for group in ("model", "tier", "mode", "plan"):
            _group_table(group, section.lines(group), currency)
        for cost in section.other:
            priced = "" if cost.amount is None else f"; {_money(cost.amount, currency)} at your prices"
            _plain(f"  {cost.kind} ({cost.model}): {cost.units:g} {cost.unit} in {cost.calls} call(s){priced}")
    if report.has_amounts:
        _plain(f"Amounts are from {report.to_json()['amount_source']}.")
    _plain("Failed and canceled tasks are billed nothing; tasks in flight show only their estimate.")


def _plain(text: str) -> None:
    sys.stdout.write(text + "\n")


def _money(value: float | None, currency: str) -> str:
    return "-" if value is None else f"{value:,.2f} {currency}".rstrip()


def _heading(title: str, section: Any, currency: str) -> None:
    total = section.total
    text = (
        f"{title}: {total.billed_seconds:g} s billed (estimated {total.estimated_seconds:g} s) in {total.tasks} "
        f"task(s): {total.succeeded} succeeded, {total.failed} failed or canceled (at 0), {total.in_flight} in flight"
    )
    if total.amount is not None:
        text += f"; {_money(total.amount, currency)} at your prices"
    _plain(text)


def _chart(lines: list[Any], period: str, currency: str) -> None:
    """One bar per period: billed seconds (full blocks) against the estimate (light shade) on one scale."""
    if not sys.stdout.isatty():
        _tab([period, "tasks", "billed s", "estimated s", "amount"],
             [[line.key, str(line.tasks), f"{line.billed_seconds:g}", f"{line.estimated_seconds:g}",
               _money(line.amount, currency)] for line in lines])  # fmt: skip
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    top = max((max(line.billed_seconds, line.estimated_seconds) for line in lines), default=0.0) or 1.0
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name, justify in ((period, "left"), ("billed s", "right"), ("estimated s", "right"), ("amount", "right")):
        table.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("billed ■ / estimated ░", no_wrap=True)
    for line in lines:
        billed = round(BAR_WIDTH * line.billed_seconds / top)
        estimated = max(round(BAR_WIDTH * line.estimated_seconds / top) - billed, 0)
        bar = Text("█" * billed, style="green") + Text("░" * estimated, style="dim")
        table.add_row(line.key, f"{line.billed_seconds:g}", f"{line.estimated_seconds:g}",
                      _money(line.amount, currency), bar)  # fmt: skip
    Console(highlight=False).print(table)


def _group_table(group: str, lines: list[Any], currency: str) -> None:
    columns = [group, "tasks", "failed", "billed s", "estimated s", "amount"]
    cells = [[line.key, str(line.tasks), str(line.failed), f"{line.billed_seconds:g}",
              f"{line.estimated_seconds:g}", _money(line.amount, currency)] for line in lines]  # fmt: skip
    if not sys.stdout.isatty():
        _tab(columns, cells)
        return
    Output().table(columns, cells, keep_whole={group})


def _tab(columns: list[str], cells: list[list[str]]) -> None:
    for line in [columns, *cells]:
        sys.stdout.write("\t".join(line) + "\n")


def register(app: typer.Typer) -> None:
    app.command(epilog=SPEND_EXAMPLES)(spend)
