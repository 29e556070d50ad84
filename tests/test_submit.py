"""The one write-ahead submit (qwenvid/tasks/submit.py): its guards, its slot wait under --timeout, a freed slot
noticed within half a second, and a kill during a 429 back-off, through the real CLI and the real emulator."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

import qwenvid
from qwenvid.cli import _session, app
from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread
from qwenvid.errors import ExitCode, QwenvidError
from qwenvid.store.ledger import Ledger
from qwenvid.store.pacing import SubmitPacer
from qwenvid.tasks.context import TaskContext
from qwenvid.tasks.submit import SubmitAttempt, add_guard
from tests.support.cli_emulator import SMALL

MODEL = "wan2.1-t2v-turbo"  # 2 running tasks at once, 2 submits a second


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def ledger_rows(home: Path) -> list[tuple[str, str | None, str | None]]:
    with Ledger(home / "ledger.sqlite3") as ledger:
        return [(row.local_state, row.error_code, row.task_id) for row in ledger.list()]


def hold_slots(home: Path, clock: ManualClock, emulator: EmulatorThread) -> SubmitPacer:
    """Another qwenvid process's two running tasks of MODEL: the model is full for everyone on this machine."""
    pacer = SubmitPacer(home / "ledger.sqlite3", clock=clock)
    for n in range(2):
        pacer.acquire(f"elsewhere-{n}", model=MODEL, service=emulator.base_url.rstrip("/"), rate=100,
                      concurrency=100, lease=3600)  # fmt: skip
    return pacer


def test_one_place_in_the_code_marks_a_row_submitting() -> None:
    root = Path(qwenvid.__file__).parent
    calls = [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ".mark_submitting(" in line
    ]
    assert len(calls) == 1 and calls[0].startswith("tasks/submit.py:"), calls


class BudgetCrossed(QwenvidError):
    exit_code = ExitCode.CONFIRMATION_NEEDED


def test_a_guard_refuses_a_single_run_and_a_plan_before_anything_is_written_or_paid(
    cli: EmulatorThread, isolated_env: Path, tmp_path: Path
) -> None:
    seen: list[tuple[str, str | None, str]] = []

    def guard(ctx: TaskContext, attempt: SubmitAttempt) -> None:
        seen.append((attempt.plan.model, attempt.fingerprint, ctx.settings.base_url))
        raise BudgetCrossed("this submit would cross the budget", hint="Raise the budget, or wait.")

    remove = add_guard(guard)
    try:
        single = run("--json", "t2v", "A kitten", *SMALL, "--yes")
        plan = tmp_path / "one.txt"
        plan.write_text("A lone lighthouse\n")
        planned = run("run", str(plan), "--yes", *SMALL)
    finally:
        remove()
    assert single.exit_code == 7, single.stderr
    error = json.loads(single.stdout)["error"]
    assert error["type"] == "BudgetCrossed" and error["hint"] == "Raise the budget, or wait."
    assert planned.exit_code != 0 and "this submit would cross the budget" in planned.stdout + planned.stderr
    assert [model for model, _, _ in seen] == [MODEL, MODEL]
    assert all(fingerprint and base == cli.base_url for _, fingerprint, base in seen)
    assert cli.state.task_count() == 0
    assert ledger_rows(isolated_env) == []  # the guards run before the row is written
    # Without the guard the same command pays as before.
    assert run("t2v", "A kitten", *SMALL, "--yes").exit_code == 0 and cli.state.task_count() == 1


def test_a_timeout_while_waiting_for_a_slot_submits_nothing(
    cli: EmulatorThread, manual_clock: ManualClock, isolated_env: Path
) -> None:
    hold_slots(isolated_env, manual_clock, cli)
    started = manual_clock()
    result = run("--json", "t2v", "A kitten", *SMALL, "--timeout", "3")
    assert result.exit_code == 5, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["task_id"] is None and data["exit_code"] == 5
    assert data["error"]["type"] == "NotSubmitted" and "run the command again" in data["error"]["hint"]
    assert 2.9 <= manual_clock() - started <= 3.5  # the --timeout, not the 1-3 minutes a slot took to free
    assert cli.state.task_count() == 0
    assert ledger_rows(isolated_env) == [("rejected", "NotSubmitted", None)]  # closed as never submitted
    listed = run("tasks")
    assert "never submitted" in listed.stdout


@pytest.mark.parametrize("timeout", [None, "600"])
def test_a_freed_slot_is_taken_within_half_a_second(
    cli: EmulatorThread, manual_clock: ManualClock, isolated_env: Path, monkeypatch: pytest.MonkeyPatch,
    timeout: str | None,
) -> None:
    other = hold_slots(isolated_env, manual_clock, cli)
    free_at = manual_clock() + 7.3  # one of the other process's tasks ends, inside some wait of this run
    moments: dict[str, float] = {}

    def sleep(seconds: float) -> None:
        if cli.state.task_count() and "submitted" not in moments:
            moments["submitted"] = manual_clock()
        before = manual_clock()
        manual_clock.sleep(seconds)
        cli.state.wait_rendered()
        if before < free_at <= manual_clock():
            other.release("elsewhere-0")
            moments["freed"] = free_at

    monkeypatch.setitem(_session.INJECTED, "session", {"clock": manual_clock, "sleep": sleep})
    result = run("t2v", "A kitten", *SMALL, "--yes", *(["--timeout", timeout] if timeout else []))
    assert result.exit_code == 0, result.stderr
    assert "waiting for one to end" in result.stderr
    assert 0 <= moments["submitted"] - moments["freed"] <= 0.5
    assert cli.state.task_count() == 1


def kill_during_back_off(emulator: EmulatorThread, home: Path, key: str, args: list[str], cwd: Path) -> None:
    """Start `qwenvid ARGS` as a process of its own; SIGKILL it while it backs off after a 429 on its submit."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE", "QWEN_"))}
    env |= {"QWEN_BASE_URL": emulator.base_url, "DASHSCOPE_API_KEY": key, "NO_COLOR": "1"}
    ledger = home / "ledger.sqlite3"
    proc = subprocess.Popen([sys.executable, "-m", "qwenvid", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip

    def backing_off() -> bool:
        if not ledger.exists():
            return False
        conn = sqlite3.connect(f"{ledger.as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT local_state, submitting_at FROM tasks").fetchone()
        except sqlite3.OperationalError:
            return False  # the ledger is being created
        finally:
            conn.close()
        return row is not None and row[0] == "created" and row[1] is not None  # sent once, answered 429

    deadline = time.monotonic() + 60
    while not backing_off():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the back-off never came"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()


def test_a_kill_during_a_429_back_off_leaves_a_row_resume_closes_at_once(
    make_emulator: Any, isolated_env: Path, canary_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator: EmulatorThread = make_emulator(EmulatorConfig(pending_seconds=0.05, running_seconds=0.2))
    emulator.arm("throttle:submit:1:60")  # 429 with Retry-After 60 s: the client backs off a minute
    kill_during_back_off(emulator, isolated_env, canary_key, ["t2v", "A kitten", *SMALL, "--yes"], Path.cwd())
    started = time.monotonic()
    monkeypatch.setenv("QWEN_BASE_URL", emulator.base_url)
    monkeypatch.setenv("DASHSCOPE_API_KEY", canary_key)
    resumed = run("resume")
    assert resumed.exit_code == 0, resumed.stderr
    assert "never submitted" in resumed.stdout + resumed.stderr and "Nothing to resume" not in resumed.stdout
    assert ledger_rows(isolated_env) == [("rejected", "NotSubmitted", None)]
    again = run("t2v", "A kitten", *SMALL, "--yes")
    assert again.exit_code == 0, again.stderr
    assert time.monotonic() - started < 30  # no lease or submit window to wait out
    assert emulator.state.task_count() == 1  # the 429 created nothing; the rerun made the one task


def test_a_plan_killed_during_a_429_back_off_submits_its_step_again_at_once(
    make_emulator: Any, isolated_env: Path, canary_key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emulator: EmulatorThread = make_emulator(EmulatorConfig(pending_seconds=0.05, running_seconds=0.2))
    emulator.arm("throttle:submit:1:60")
    plan = tmp_path / "one.txt"
    plan.write_text("A lone lighthouse\n")
    kill_during_back_off(emulator, isolated_env, canary_key, ["run", str(plan), "--yes", *SMALL], tmp_path)
    started = time.monotonic()
    monkeypatch.setenv("QWEN_BASE_URL", emulator.base_url)
    monkeypatch.setenv("DASHSCOPE_API_KEY", canary_key)
    monkeypatch.chdir(tmp_path)
    again = run("run", str(plan), "--yes", *SMALL)
    assert again.exit_code == 0, again.stderr
    assert time.monotonic() - started < 30  # not the ~11 min of an outcome-unknown submit window
    assert emulator.state.task_count() == 1
