"""A copied state folder never pays again: `cp -a home1 home2` with submits in flight is refused in one line, a
moved one is simply used. Real CLI processes, the real emulator (its manual clock keeps the tasks in flight)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread
from tests.support.emulator import EmulatorFactory
from tests.support.terminal import qwenvid_argv

KEY = "sk-canary-copied-0123456789"
PLAN = """
[steps.one]
mode = "t2v"
model = "wan2.1-t2v-turbo"
size = "832*480"
duration = 5
prompt = "A lighthouse, first"

[steps.two]
mode = "t2v"
model = "wan2.1-t2v-turbo"
size = "832*480"
duration = 5
prompt = "A lighthouse, second"
"""


@pytest.fixture
def service(make_emulator: EmulatorFactory) -> EmulatorThread:
    return make_emulator(EmulatorConfig(limits=False), clock=ManualClock())


def qv(tmp_path: Path, home: str, service: EmulatorThread, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QWEN_BASE_URL": service.base_url, "DASHSCOPE_API_KEY": KEY,
           "QWENVID_HOME": str(tmp_path / home)}
    return subprocess.run([*qwenvid_argv(), *args], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env=env, stdin=subprocess.DEVNULL)


def test_a_copied_state_folder_with_submits_in_flight_is_refused(service: EmulatorThread, tmp_path: Path) -> None:
    (tmp_path / "plan.toml").write_text(PLAN)
    first = qv(tmp_path, "home1", service, "run", "plan.toml", "--detach", "--yes")
    assert first.returncode == 5, first.stderr  # both steps submitted, left rendering
    assert len(service.state.tasks) == 2
    shutil.copytree(tmp_path / "home1", tmp_path / "home2", symlinks=True)  # cp -a

    copied = qv(tmp_path, "home2", service, "run", "plan.toml", "--detach", "--yes")
    assert copied.returncode == 1, copied.stderr
    assert "is a copy of" in copied.stderr and "pay for them twice" in copied.stderr
    assert "Traceback" not in copied.stderr
    assert len(service.state.tasks) == 2  # nothing paid again
    # The original goes on as before.
    assert qv(tmp_path, "home1", service, "run", "plan.toml", "--detach", "--yes").returncode == 5
    assert len(service.state.tasks) == 2

    # Moved rather than copied (the original is gone): simply used.
    shutil.rmtree(tmp_path / "home2")
    (tmp_path / "home1").rename(tmp_path / "home3")
    moved = qv(tmp_path, "home3", service, "tasks", "--json")
    assert moved.returncode == 0, moved.stderr


def test_a_copy_with_nothing_in_flight_becomes_a_ledger_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from qwenvid.cli import app

    def tasks(home: str) -> int:
        monkeypatch.setenv("QWENVID_HOME", str(tmp_path / home))
        return CliRunner().invoke(app, ["tasks"]).exit_code

    assert tasks("home1") == 0  # creates the ledger, nothing in it
    shutil.copytree(tmp_path / "home1", tmp_path / "home2", symlinks=True)
    assert tasks("home2") == 0
    assert tasks("home1") == 0
    assert tasks("home2") == 0

    def identity(home: str) -> tuple[str, str]:
        with sqlite3.connect(tmp_path / home / "ledger.sqlite3") as conn:
            return conn.execute("SELECT ledger_id, path FROM ledger_identity").fetchone()  # type: ignore[no-any-return]

    (id1, path1), (id2, path2) = identity("home1"), identity("home2")
    assert id1 != id2 and path1 != path2 and path2.startswith(str((tmp_path / "home2").resolve()))
