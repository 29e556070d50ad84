"""`--json` through the console script: every outcome (run, detach, timeout, status, fetch, errors, usage
errors) prints exactly ONE JSON object of the one documented shape on stdout (README "For scripts")."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from qwenvid.cli._envelope import RESULT_KEYS
from qwenvid.emulator.server import EmulatorThread
from tests.support.terminal import qwenvid_argv

pytestmark = pytest.mark.slow

KEY = "sk-json-contract-0123456789"
SMALL = ("--model", "wan2.1-t2v-turbo", "--size", "832*480")
SHAPE = {"ok", "exit_code", *RESULT_KEYS, "error"}
ERROR_SHAPE = {"type", "message", "hint", "code", "request_id", "task_id"}


@pytest.fixture
def env(live_emulator: EmulatorThread, isolated_env: Path) -> dict[str, str]:
    return {
        **os.environ,
        "QWENVID_HOME": str(isolated_env),
        "QWEN_BASE_URL": live_emulator.base_url,
        "DASHSCOPE_API_KEY": KEY,
    }


def qwenvid(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    """Exit code, THE JSON object on stdout (json.loads fails on two documents or on any other text), stderr."""
    done = subprocess.run([*qwenvid_argv(), *args], capture_output=True, text=True, env=env, timeout=120)
    data = json.loads(done.stdout)
    assert isinstance(data, dict), done.stdout
    assert KEY not in done.stdout + done.stderr
    return done.returncode, data, done.stderr


def assert_shape(data: dict[str, Any], code: int) -> None:
    assert SHAPE <= set(data), sorted(SHAPE - set(data))
    assert data["exit_code"] == code and data["ok"] is (code == 0)
    if code == 0:
        assert data["error"] is None
    else:
        assert set(data["error"]) == ERROR_SHAPE and data["error"]["message"]


def test_run_status_fetch_detach_and_timeout_print_one_object_each(env: dict[str, str]) -> None:
    code, run, _ = qwenvid(env, "--json", "t2v", "A kitten", *SMALL)
    assert_shape(run, 0)
    assert run["status"] == "SUCCEEDED" and Path(run["video_path"]).is_file()

    code, status, _ = qwenvid(env, "status", run["task_id"], "--json")
    assert code == 0
    assert_shape(status, 0)
    assert status["task_id"] == run["task_id"] and status["local"] and status["remote"]["status"] == "SUCCEEDED"

    code, fetched, _ = qwenvid(env, "fetch", run["task_id"], "--json", "-o", "again.mp4")
    assert code == 0
    assert_shape(fetched, 0)
    assert Path(fetched["video_path"]).name == "again.mp4"

    code, detached, _ = qwenvid(env, "t2v", "A puppy", *SMALL, "--detach", "--json")
    assert code == 5
    assert_shape(detached, 5)
    assert detached["task_id"] and detached["status"] in ("PENDING", "RUNNING") and detached["mode"] == "t2v"
    assert detached["error"]["type"] == "StillRunning"

    code, timed_out, _ = qwenvid(env, "--json", "t2v", "A bird", *SMALL, "--timeout", "0")
    assert code == 5
    assert_shape(timed_out, 5)
    assert timed_out["task_id"] and "qwenvid status" in timed_out["error"]["hint"]


@pytest.mark.parametrize(
    ("args", "code", "kind"),
    [
        (["t2v", "x", "--model", "wan2.7-t2v", "--size", "1280*720", "--json"], 2, "ValidationError"),
        (["status", "no-such-task", "--json"], 8, "TaskFailed"),
        (["t2v", "x", "--duration", "abc", "--json"], 2, "UsageError"),
        (["t2v", "x", "--bogus", "--json"], 2, "UsageError"),
        (["--json", "t2v", "x", "--bogus"], 2, "UsageError"),
        (["--json", "status"], 2, "UsageError"),
    ],
)
def test_errors_and_usage_errors_are_the_same_one_object(
    env: dict[str, str], args: list[str], code: int, kind: str
) -> None:
    exit_code, data, stderr = qwenvid(env, *args)
    assert exit_code == code, stderr
    assert_shape(data, code)
    assert data["error"]["type"] == kind
    assert stderr.strip()  # people still get the message on stderr
