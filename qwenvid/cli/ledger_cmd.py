"""`qwenvid ledger import`: move a local SQLite ledger into the shared PostgreSQL ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from qwenvid.cli._help import examples
from qwenvid.cli._options import JsonOpt
from qwenvid.cli._session import load_settings, state_of
from qwenvid.errors import ConfigError

SUMMARY = "The shared ledger: import a machine's local SQLite ledger into the PostgreSQL one (ledger_url)."
LEDGER_EXAMPLES = examples("qwenvid ledger import", "qwenvid ledger import --json")


def import_(
    ctx: typer.Context,
    source: Annotated[
        Path | None,
        typer.Argument(help="The SQLite ledger to import (default: the state folder's).", metavar="PATH"),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Copy a local SQLite ledger into the shared ledger; rows already there are kept, so it can run again."""
    from qwenvid.config.ledger_url import LEDGER_URL_VAR, masked
    from qwenvid.store.ledger_import import import_ledger

    state = state_of(ctx, json_out)
    settings = load_settings(state)
    if not settings.ledger_url:
        raise ConfigError(
            "There is no shared ledger to import into.",
            hint=f"Set {LEDGER_URL_VAR} (or ledger_url in config.toml) to a postgresql:// URL first.",
        )
    path = (source or settings.home / "ledger.sqlite3").expanduser()
    if source is None and not path.is_file():  # this machine never ran qwenvid before: nothing to move
        if state.out.json:
            state.out.result_json({"source": str(path), "copied": {}, "already_there": {},
                                   "into": masked(settings.ledger_url)})  # fmt: skip
        else:
            state.out.info(f"No local ledger at {path}: nothing to import.")
        return
    report = import_ledger(path, settings.ledger_path)
    if state.out.json:
        state.out.result_json({**report.to_json(), "into": masked(settings.ledger_url)})
        return
    tasks = report.copied.get("tasks", 0)
    state.out.info(
        f"Imported {tasks} task row(s) from {path} into {masked(settings.ledger_url)} "
        f"({report.present.get('tasks', 0)} were there already); other tables: "
        + (", ".join(f"{name} {count}" for name, count in report.copied.items() if name != "tasks") or "none")
    )


def register(app: typer.Typer) -> None:
    ledger = typer.Typer(
        name="ledger",
        help=SUMMARY,
        epilog=LEDGER_EXAMPLES,
        no_args_is_help=True,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    ledger.command("import", epilog=LEDGER_EXAMPLES)(import_)
    app.add_typer(ledger)
