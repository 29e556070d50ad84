"""A wrong client clock never turns a lost answer into "no task was created": real CLI processes against the
real emulator (its clock manual, so minutes pass at once), the client's clock moved with the documented
test-only hook QWENVID_TEST_CLOCK_SKEW (read in qwenvid/timestamps.py only)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread
from qwenvid.tasks.reconcile import CLOCK_MARGIN, WINDOW_AFTER
from qwenvid.timestamps import CLOCK_SKEW_ENV
from qwenvid.wire.service_clock import ServiceClock
from tests.support.emulator import EmulatorFactory
from tests.test_cli_subprocess import qwenvid_argv

KEY = "sk-canary-clock-0123456789"
ARGS = ["t2v", "A kitten whose answer was lost", "--model", "wan2.1-t2v-turbo", "--size", "832*480"]


def qv(home: Path, base_url: str, *args: str, skew: float = 0.0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QWEN_BASE_URL": base_url, "DASHSCOPE_API_KEY": KEY, "QWENVID_HOME": str(home),
           CLOCK_SKEW_ENV: str(skew)}
    return subprocess.run([*qwenvid_argv(), *args], capture_output=True, text=True, timeout=90, cwd=home.parent,
                          env=env, stdin=subprocess.DEVNULL)


def rows(home: Path) -> list[dict[str, object]]:
    conn = sqlite3.connect(home / "ledger.sqlite3")
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute("SELECT * FROM tasks ORDER BY created_at")]
    finally:
        conn.close()


@pytest.fixture
def service(make_emulator: EmulatorFactory) -> tuple[EmulatorThread, ManualClock]:
    clock = ManualClock()
    return make_emulator(EmulatorConfig(pending_seconds=0.1, running_seconds=0.3), clock=clock), clock


@pytest.mark.parametrize("skew_minutes", [3, -12], ids=["3-min-fast", "12-min-slow"])
def test_a_wrong_clock_never_pays_twice_after_a_lost_answer(
    service: tuple[EmulatorThread, ManualClock], tmp_path: Path, skew_minutes: int
) -> None:
    emulator, clock = service
    home = tmp_path / "home"
    skew = skew_minutes * 60.0
    emulator.arm("drop-after-create:1")
    first = qv(home, emulator.base_url, *ARGS, skew=skew)
    assert first.returncode == 6, first.stderr

    # The submit window has passed on both clocks (the service's moves at once, the client's by the same).
    later = (WINDOW_AFTER + timedelta(minutes=1)).total_seconds()
    clock.advance(later)
    emulator.state.wait_rendered()
    again = qv(home, emulator.base_url, *ARGS, "--json", skew=skew + later)
    assert again.returncode == 7, again.stderr
    assert len(emulator.state.tasks) == 1  # never a second task
    row = rows(home)[0]
    # Found on the service's clock and adopted: the lost answer's task is this run's.
    assert row["task_id"] == emulator.state.tasks[0].task_id and row["origin"] == "adopted"
    error = json.loads(again.stdout)["error"]
    assert error["type"] == "ConfirmationRequired" and "--pay-again" in error["hint"]


def test_a_task_not_listed_is_never_not_created_while_the_clock_is_off(
    service: tuple[EmulatorThread, ManualClock], tmp_path: Path
) -> None:
    """The submit never reached the service, but this clock is 12 min slow: the list cannot prove that, so
    the row stays outcome unknown and says why, instead of "safe to submit again"."""
    emulator, clock = service
    home = tmp_path / "home"
    emulator.arm("drop-before-create:1")
    assert qv(home, emulator.base_url, *ARGS, skew=-720).returncode == 6
    clock.advance(WINDOW_AFTER.total_seconds() + 60)
    result = qv(home, emulator.base_url, "resume", "--json", skew=-720 + WINDOW_AFTER.total_seconds() + 60)
    assert result.returncode == 0, result.stderr
    (item,) = json.loads(result.stdout)["outcomes"]
    assert "12 min behind the service's" in item["note"] and "safe to submit again" not in item["note"]
    assert rows(home)[0]["local_state"] == "outcome_unknown" and not emulator.state.tasks

    # The clock set right: now the same list proves it.
    result = qv(home, emulator.base_url, "resume", "--json", skew=WINDOW_AFTER.total_seconds() + 60)
    (item,) = json.loads(result.stdout)["outcomes"]
    assert "no task was created" in item["note"], item
    assert rows(home)[0]["local_state"] == "rejected"


def test_the_service_clock_is_read_from_date_headers() -> None:
    clock = ServiceClock()
    assert clock.offset is None
    clock.note("garbage")
    assert clock.offset is None
    local = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    clock.note("Thu, 01 Jan 2026 12:03:00 GMT")
    offset = clock.offset_from(local)
    assert offset is not None and abs(offset - timedelta(minutes=3)) <= timedelta(seconds=1)
    assert offset > CLOCK_MARGIN


def test_without_the_services_time_a_missing_task_is_never_not_created(tmp_path: Path) -> None:
    """A server whose answers carry no Date (a proxy that strips it): the offset is unknown, so the list proves
    nothing, however long ago the submit was."""
    from tests.support.hostile import HostileServer

    with HostileServer() as server:
        server.route("/api/v1/services/", lambda ex: None)  # the submit's answer never comes: outcome unknown
        server.route("/api/v1/tasks", lambda ex: ex.json({"data": [], "total": 0, "request_id": "r"}))
        home = tmp_path / "home"
        base = server.url("/api/v1")
        assert qv(home, base, *ARGS).returncode == 6
        later = WINDOW_AFTER.total_seconds() + 60
        result = qv(home, base, "resume", "--json", skew=later)
    assert result.returncode == 0, result.stderr
    (item,) = json.loads(result.stdout)["outcomes"]
    assert "no Date header" in item["note"] and "safe to submit again" not in item["note"]
    assert rows(home)[0]["local_state"] == "outcome_unknown"
