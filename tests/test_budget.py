"""Budgets: `[budget]` checked as the config is read, refused runs exit 11 before anything is sent, plans stop
before the crossing step, and two real processes racing for the last of a budget: exactly one goes."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.emulator.server import EmulatorThread
from qwenvid.store.ledger import Ledger
from tests.support.cli_emulator import SMALL
from tests.support.terminal import qwenvid_argv


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def write_config(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ("daily_seconds = -1", "budget.daily_seconds takes a number of 0 or more"),
        ('monthly_seconds = "lots"', "budget.monthly_seconds takes a number of 0 or more"),
        ("daily_amount = 5", "budget.daily_amount needs your per-second rates in a [prices] table"),
        ('count_emulator = "yes"', "budget.count_emulator takes true or false"),
        ("weekly_seconds = 5", "unknown key budget.weekly_seconds"),
    ],
)
def test_bad_budget_keys_are_one_line_exit_2(isolated_env: Path, table: str, says: str) -> None:
    write_config(isolated_env, f"[budget]\n{table}\n")
    result = run("spend")
    assert result.exit_code == 2 and says in result.stderr and "Traceback" not in result.stderr


def test_config_set_writes_and_checks_budget_keys(isolated_env: Path) -> None:
    assert run("config", "set", "budget.daily_seconds", "60").exit_code == 0
    assert run("config", "set", "budget.count_emulator", "true").exit_code == 0
    refused = run("config", "set", "budget.monthly_amount", "10")  # no [prices] table: refused, not written
    assert refused.exit_code == 2 and "[prices]" in refused.stderr
    text = (isolated_env / "config.toml").read_text()
    assert "daily_seconds = 60" in text and "count_emulator = true" in text and "monthly_amount" not in text
    shown = run("config", "show")
    assert "daily_seconds = 60" in shown.stdout + shown.stderr


def test_a_run_that_would_cross_the_budget_is_refused_before_it_is_sent(
    cli: EmulatorThread, isolated_env: Path
) -> None:
    write_config(isolated_env, "[budget]\ndaily_seconds = 8\ncount_emulator = true\n")
    first = run("t2v", "A kitten", *SMALL)
    assert first.exit_code == 0, first.stderr
    assert "Budget: daily_seconds: this run 5 s; 0 s of 8 s used today (UTC), 3 s left after it" in first.stderr
    second = run("t2v", "A puppy", *SMALL)
    assert second.exit_code == 11, second.stderr
    errors = [line for line in second.stderr.splitlines() if line.startswith("Error:")]
    assert errors == [
        "Error: Not submitted: this run (5 s) would cross budget.daily_seconds = 8 s: 5 s already used today (UTC)."
    ]
    assert cli.state.task_count() == 1  # nothing was sent
    ledger = Ledger(isolated_env / "ledger.sqlite3")
    assert len(ledger.list()) == 1  # and no row was written for the refused run
    ledger.close()
    as_json = run("--json", "t2v", "A puppy", *SMALL)
    assert as_json.exit_code == 11 and json.loads(as_json.stdout)["error"]["code"] == "BudgetExceeded"


def test_emulator_runs_do_not_count_without_count_emulator(cli: EmulatorThread, isolated_env: Path) -> None:
    write_config(isolated_env, "[budget]\ndaily_seconds = 1\n")
    assert run("t2v", "A kitten", *SMALL).exit_code == 0
    assert run("t2v", "A puppy", *SMALL).exit_code == 0


def test_in_flight_and_unknown_rows_count_at_their_estimate(cli: EmulatorThread, isolated_env: Path) -> None:
    write_config(isolated_env, "[budget]\nmonthly_seconds = 14\ncount_emulator = true\n")
    ledger = Ledger(isolated_env / "ledger.sqlite3")
    for state in ("submitted", "outcome_unknown"):
        row = ledger.create(
            mode="t2v", model="wan2.1-t2v-turbo", endpoint="/x", request_json={}, tier="480P",
            billable_seconds_estimate=5.0, base_url=cli.base_url,
        )  # fmt: skip
        ledger.mark_submitting(row.id)
        if state == "submitted":
            ledger.mark_submitted(row.id, "task-in-flight")
        else:
            ledger.mark_outcome_unknown(row.id, "timed out")
    ledger.close()
    refused = run("t2v", "A kitten", *SMALL)
    assert refused.exit_code == 11
    assert "10 s already used this month (UTC), 2 task(s) in flight counted at their estimate" in refused.stderr


def test_a_budget_stops_a_plan_before_the_step_that_would_cross_it(
    cli: EmulatorThread, isolated_env: Path, tmp_path: Path
) -> None:
    write_config(isolated_env, "[budget]\ndaily_seconds = 12\ncount_emulator = true\n")
    plan = tmp_path / "four.txt"
    plan.write_text("\n".join(f"A lighthouse, take {n}" for n in range(4)) + "\n")
    result = run("run", str(plan), "--yes", *SMALL)
    assert result.exit_code == 11, result.stderr
    assert "Budget: daily_seconds: this run 20 s; 0 s of 12 s used today (UTC), 0 s left after it" in result.stderr
    assert cli.state.task_count() == 2  # the third step would have crossed 12 s: neither it nor the fourth went
    data = json.loads((Path("output/qwenvid/four/manifest.json")).read_text())
    status = [(s["status"], s.get("error_code")) for s in data["steps"]]
    assert status.count(("done", None)) == 2
    assert status.count(("skipped", "BudgetExceeded")) == 2


def test_two_processes_racing_for_the_last_of_a_budget_exactly_one_goes(
    live_emulator: EmulatorThread, isolated_env: Path, tmp_path: Path, canary_key: str
) -> None:
    write_config(isolated_env, "[budget]\ndaily_seconds = 5\ncount_emulator = true\n")
    env = {**os.environ, "QWEN_BASE_URL": live_emulator.base_url, "DASHSCOPE_API_KEY": canary_key}
    racers = [
        subprocess.Popen(
            [*qwenvid_argv(), "t2v", f"A race, runner {n}", *SMALL, "--yes"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for n in range(2)
    ]
    outcomes = sorted(racer.wait(timeout=120) for racer in racers)
    errors = [racer.stderr.read() if racer.stderr else "" for racer in racers]
    assert outcomes == [0, 11], errors
    assert live_emulator.state.task_count() == 1
    refused = errors[[racer.returncode for racer in racers].index(11)]
    assert "would cross budget.daily_seconds = 5 s" in refused


def test_reservations_are_atomic_across_threads(isolated_env: Path) -> None:
    """Eight submitters reserve at once against 10 s: exactly two 5 s reservations fit."""
    from concurrent.futures import ThreadPoolExecutor

    from qwenvid.config.budget import Budget
    from qwenvid.errors import BudgetExceeded
    from qwenvid.store.budget import Need, SqliteBudgetBook

    Ledger(isolated_env / "ledger.sqlite3").close()
    book = SqliteBudgetBook(isolated_env / "ledger.sqlite3")

    def attempt(_: int) -> bool:
        try:
            book.reserve(Budget(daily_seconds=10), None, Need(5.0, None))
        except BudgetExceeded:
            return False
        return True

    with ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(attempt, range(8))) == [False] * 6 + [True] * 2


def test_the_mcp_servers_budget_hook_refuses_before_asking_anyone(cli: EmulatorThread, isolated_env: Path) -> None:
    from qwenvid.config import load_settings
    from qwenvid.errors import BudgetExceeded
    from qwenvid.mcp import spending
    from qwenvid.tasks.session import Session

    write_config(isolated_env, "[budget]\ndaily_seconds = 8\ncount_emulator = true\n")
    assert run("t2v", "A kitten", *SMALL).exit_code == 0
    with Session(load_settings()) as session:
        from qwenvid.requests.cost import estimate_cost

        estimate = estimate_cost("wan2.1-t2v-turbo", 5.0, "480P", None)
        with pytest.raises(BudgetExceeded, match="would cross budget.daily_seconds = 8 s"):
            spending.check_limits(estimate, max_seconds=None, session=session)
        spending.check_limits(estimate_cost("wan2.1-t2v-turbo", 3.0, "480P", None), max_seconds=None, session=session)
