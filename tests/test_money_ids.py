"""Ids a server gives are held to the key rule and to uniqueness: real CLI processes against a hostile server
that echoes the key inside its ids, or gives one task id to two submits."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hostile import Exchange, HostileServer
from tests.support.terminal import qwenvid_argv

KEY = "sk-canary-ids-0123456789abcdef"
SUBMIT = "/api/v1/services/aigc/video-generation/video-synthesis"
SMALL = ["--model", "wan2.1-t2v-turbo", "--size", "832*480", "--detach"]


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as hostile:
        hostile.route("/api/v1/tasks", lambda ex: ex.json({"data": [], "total": 0, "request_id": f"req-{KEY}"}))
        yield hostile


def qv(home: Path, server: HostileServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QWEN_BASE_URL": server.url("/api/v1"), "DASHSCOPE_API_KEY": KEY, "QWENVID_HOME": str(home)}
    return subprocess.run([*qwenvid_argv(), *args], capture_output=True, text=True, timeout=60, cwd=home.parent,
                          env=env, stdin=subprocess.DEVNULL)


def ledger_rows(home: Path) -> list[dict[str, object]]:
    with sqlite3.connect(home / "ledger.sqlite3") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM tasks ORDER BY created_at")]


def test_a_key_echoed_in_ids_is_never_stored_or_printed(server: HostileServer, tmp_path: Path) -> None:
    def submit(ex: Exchange) -> None:
        ex.json({"output": {"task_id": f"{KEY}-task", "task_status": "PENDING"}, "request_id": f"{KEY}-req"})

    server.route(SUBMIT, submit)
    home = tmp_path / "home"
    result = qv(home, server, "t2v", "A kitten", *SMALL, "--json")
    assert result.returncode == 5, result.stderr
    assert KEY not in result.stdout + result.stderr
    shown = json.loads(result.stdout)
    assert "***" in json.dumps(shown)
    listing = qv(home, server, "tasks", "--json")
    assert KEY not in listing.stdout + listing.stderr
    for path in home.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path


def test_one_task_id_for_two_submits_is_one_clear_line(server: HostileServer, tmp_path: Path) -> None:
    server.route(SUBMIT, lambda ex: ex.json({"output": {"task_id": "same-task-0001", "task_status": "PENDING"},
                                             "request_id": "r1"}))
    home = tmp_path / "home"
    assert qv(home, server, "t2v", "A first kitten", *SMALL).returncode == 5
    second = qv(home, server, "t2v", "A second kitten", *SMALL)
    assert second.returncode == 1, second.stderr
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert any("same-task-0001" in line and "already gave" in line for line in lines), second.stderr
    assert "UNIQUE" not in second.stderr and "Traceback" not in second.stderr
    first_row, second_row = ledger_rows(home)
    assert first_row["task_id"] == "same-task-0001" and first_row["local_state"] == "submitted"
    assert second_row["task_id"] is None and second_row["local_state"] == "outcome_unknown"


@pytest.mark.parametrize(
    ("key", "value"),
    [("base_url", f"http://{KEY}@127.0.0.1:9/api/v1"), ("base_url", "https://me:hunter2@dashscope.example/api/v1"),
     ("output_dir", f"videos-{KEY}"), ("oss_ak_secret", "abc123")],
)
def test_config_set_never_writes_a_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: str
) -> None:
    from typer.testing import CliRunner

    from qwenvid.cli import app

    home = tmp_path / "home"
    monkeypatch.setenv("QWENVID_HOME", str(home))
    monkeypatch.setenv("DASHSCOPE_API_KEY", KEY)
    result = CliRunner().invoke(app, ["config", "set", key, value])
    assert result.exit_code != 0 and "does not write" in result.stderr, result.stderr
    assert KEY not in result.stdout + result.stderr and "hunter2" not in result.stdout + result.stderr
    config = home / "config.toml"
    assert not config.exists() or (KEY not in config.read_text() and "hunter2" not in config.read_text())
