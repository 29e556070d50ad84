"""`--takes N` within a budget: all N takes are checked and held at once before the first is sent, or none is."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.emulator.server import EmulatorThread
from qwenvid.store.ledger import Ledger
from tests.support.cli_emulator import SMALL


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def budget(home: Path, seconds: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f"[budget]\ndaily_seconds = {seconds}\ncount_emulator = true\n")


def test_takes_that_do_not_all_fit_are_refused_before_any_is_sent(cli: EmulatorThread, isolated_env: Path) -> None:
    budget(isolated_env, 10)  # 2 of the 3 five-second takes fit
    result = run("t2v", "A kitten", "--takes", "3", "--yes", *SMALL)
    assert result.exit_code == 11, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        "Error: Not submitted: this run (15 s) would cross budget.daily_seconds = 10 s: 0 s already used today (UTC)."
    ]
    assert cli.state.task_count() == 0  # not one take was sent
    ledger = Ledger(isolated_env / "ledger.sqlite3")
    assert ledger.list() == []
    ledger.close()


def test_takes_that_fit_run_and_leave_nothing_held(cli: EmulatorThread, isolated_env: Path) -> None:
    budget(isolated_env, 15)
    result = run("t2v", "A kitten", "--takes", "3", "--yes", *SMALL)
    assert result.exit_code == 0, result.stderr
    assert cli.state.task_count() == 3 and len(result.stdout.split()) == 3
    with sqlite3.connect(isolated_env / "ledger.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM budget_reservations").fetchone() == (0,)
    # The budget is now used up by the three takes' rows: one more second is refused.
    again = run("t2v", "A puppy", "--yes", *SMALL)
    assert again.exit_code == 11 and "15 s already used today (UTC)" in again.stderr
