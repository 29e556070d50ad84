"""`qwenvid tasks forget ID...` and `qwenvid tasks prune`: drop ledger rows that are noise, keep what matters."""

from __future__ import annotations

from typing import Any

import typer

from qwenvid.cli._cost import ask_yes_no, is_interactive
from qwenvid.cli._session import CliState, load_settings
from qwenvid.errors import UsageError, ValidationError

ACTIONS = ("forget", "prune")


def tidy(state: CliState, action: str, refs: list[str], *, yes: bool, dry_run: bool) -> None:
    """Run `tasks forget|prune`."""
    from qwenvid.store.forget import forget, judge, prunable
    from qwenvid.store.ledger import Ledger

    if action not in ACTIONS:
        raise UsageError(
            f"Unknown action {action!r} for tasks: forget ID... or prune.", hint="See `qwenvid tasks --help`."
        )
    out = state.out
    settings = load_settings(state)
    with Ledger(settings.ledger_path) as ledger:
        if action == "forget":
            if not refs:
                raise UsageError("tasks forget needs a task id (or local id).", hint="`qwenvid tasks` lists them.")
            rows = []
            for ref in refs:
                row = ledger.get(ref)
                if row is None:
                    raise ValidationError(f"No task {ref!r} in the ledger.", hint="`qwenvid tasks` lists them.")
                verdict = judge(row)
                if not verdict.removable:
                    raise ValidationError(f"Task {row.task_id or row.id} is kept: {verdict.why}.")
                rows.append(row)
        else:
            if refs:
                raise UsageError("tasks prune takes no ids (it picks the rows itself); use forget for chosen ones.")
            rows = prunable(ledger)
        if dry_run or not rows:
            _report(state, action, rows, 0, dry_run=True)
            return
        if action == "prune" and not yes:
            if not is_interactive():
                from qwenvid.errors import ConfirmationRequired

                raise ConfirmationRequired(
                    f"tasks prune would remove {len(rows)} row(s) and there is no terminal to ask on.",
                    hint="Add --yes (see them first with --dry-run).",
                )
            question = f"Remove {len(rows)} row(s) from the ledger (billed and unfinished rows stay)?"
            if not ask_yes_no(question, default=False):
                out.info("You answered no. Nothing was removed.")
                raise typer.Exit(1)
        removed = forget(ledger, rows)
    _report(state, action, rows, removed, dry_run=False)


def _report(state: CliState, action: str, rows: list[Any], removed: int, *, dry_run: bool) -> None:
    out = state.out
    ids = [row.task_id or row.id for row in rows]
    if out.json:
        out.result_json({"action": action, "dry_run": dry_run, "removed": removed, "tasks": ids, "count": len(ids)})
        return
    if dry_run:
        if not rows:
            out.info("Nothing to remove: every row is billed or unfinished.")
            return
        for task in ids:
            out.result(task)
        out.info(f"{len(ids)} row(s) would be removed (--dry-run: nothing changed).")
        return
    out.info(f"Removed {removed} row(s) from the ledger; billed and unfinished rows stay.")
