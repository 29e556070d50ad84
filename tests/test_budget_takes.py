"""`--takes N` within a budget: all N takes are checked and held at once before the first is sent, or none is."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.config.budget import Budget
from qwenvid.emulator.server import EmulatorThread
from qwenvid.errors import BudgetExceeded
from qwenvid.store.budget import Need, SqliteBudgetBook
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


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_path(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    folder = tmp_path / "state"
    folder.mkdir(parents=True, exist_ok=True)
    if request.param == "postgresql":  # a real server (tests/support/postgres.py), a fresh database per test
        from qwenvid.config.ledger_url import marker_for
        from qwenvid.store.pg_store import PgStore

        marker = marker_for(folder, request.getfixturevalue("pg_url"))
        PgStore(marker).close()  # the ledger's tables made
        return marker
    Ledger(folder / "ledger.sqlite3").close()
    return folder / "ledger.sqlite3"


def test_a_group_hold_lasts_while_its_takes_render_and_shrinks_as_each_is_written(ledger_path: Path) -> None:
    now = [datetime(2026, 12, 7, 10, 0, tzinfo=UTC)]
    book = SqliteBudgetBook(ledger_path, clock=lambda: now[0])
    limit = Budget(daily_seconds=15)

    def used() -> float:
        return book.standing(limit, None).lines[0][2].seconds

    group = book.reserve(limit, None, Need(15.0, None), group=True)
    assert used() == 15.0
    with pytest.raises(BudgetExceeded):
        book.reserve(limit, None, Need(1.0, None))
    now[0] += timedelta(minutes=30)  # far past a single submit's reservation time: the takes are still rendering
    assert used() == 15.0
    book.draw(group, Need(5.0, None))  # the first take's row is written (it counts from then on)
    assert used() == 10.0
    book.release(group)
    assert used() == 0.0
    other = book.reserve(limit, None, Need(5.0, None), group=True)
    now[0] += timedelta(hours=4)  # a group whose process died on another machine ends after GROUP_TTL
    assert used() == 0.0
    book.release(other)
