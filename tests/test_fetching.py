"""`fetch` (and `status --wait`) download from the result link the ledger saved, without a status query while it
is valid, and fall back to one status query when the result host refuses it (qwenvid/tasks/fetch.py).

The real CLI against the real emulator over loopback, its requests read from the emulator's request log; the
ledger is the real SQLite file (edited with sqlite3 where a test needs a link the ledger believes in).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread
from qwenvid.store.claims import Claims
from tests.support.cli_emulator import SMALL, use_emulator
from tests.support.emulator import EmulatorFactory


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


class Requests(list[str]):
    """The emulator's request log: one line per answered request ("HH:MM:SS.mmm GET /path 200 ...")."""

    def queries(self, task_id: str) -> list[str]:
        return [line for line in self if f"GET /api/v1/tasks/{task_id} " in line]

    def results(self, task_id: str) -> list[str]:
        return [line.split()[3] for line in self if f"GET /__results/{task_id}.mp4 " in line]

    def kinds(self, task_id: str) -> list[str]:
        """'query' / 'result 200' / 'result 403' in the order they were answered."""
        kinds = []
        for line in self:
            if f"GET /api/v1/tasks/{task_id} " in line:
                kinds.append("query")
            elif f"GET /__results/{task_id}.mp4 " in line:
                kinds.append(f"result {line.split()[3]}")
        return kinds


@pytest.fixture
def logged(
    make_emulator: EmulatorFactory, manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[EmulatorThread, Requests]:
    requests = Requests()
    emulator = make_emulator(EmulatorConfig(url_ttl_seconds=3600), clock=manual_clock, request_log=requests.append)
    use_emulator(emulator, manual_clock, canary_key, monkeypatch)
    return emulator, requests


def finished_task(emulator: EmulatorThread, clock: ManualClock) -> str:
    """A task that SUCCEEDED, whose result link the ledger saved (a `status` after a `--detach`), not downloaded."""
    task_id = run("t2v", "A kitten", *SMALL, "--detach").stdout.strip()
    clock.advance(120)
    assert emulator.state.wait_rendered()
    status = run("status", task_id, "--json")
    assert json.loads(status.stdout)["remote"]["status"] == "SUCCEEDED", status.stdout
    return task_id


def ledger_row(home: Path, task_id: str) -> dict[str, object]:
    with sqlite3.connect(home / "ledger.sqlite3") as conn:
        conn.row_factory = sqlite3.Row
        return dict(conn.execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone())


def edit_ledger(home: Path, task_id: str, **values: object) -> None:
    with sqlite3.connect(home / "ledger.sqlite3") as conn:
        sets = ", ".join(f"{name} = ?" for name in values)
        conn.execute(f"UPDATE tasks SET {sets} WHERE task_id = ?", (*values.values(), task_id))


def test_fetch_downloads_from_the_saved_link_without_a_status_query(
    logged: tuple[EmulatorThread, Requests], manual_clock: ManualClock, isolated_env: Path
) -> None:
    emulator, requests = logged
    task_id = finished_task(emulator, manual_clock)
    requests.clear()
    result = run("--json", "fetch", task_id, "-o", "clips/")
    assert result.exit_code == 0, result.stderr
    assert requests.queries(task_id) == [] and requests.kinds(task_id) == ["result 200"]
    data = json.loads(result.stdout)
    video = Path(data["video_path"])
    assert video.parent == Path("clips").resolve() or video.parent == Path("clips")
    # Every check of a download still holds: the ledger and the sidecar carry the file's real sha256 and size.
    digest = hashlib.sha256(video.read_bytes()).hexdigest()
    assert data["sha256"] == digest and data["size"] == video.stat().st_size
    row = ledger_row(isolated_env, task_id)
    assert row["video_sha256"] == digest and row["download_error"] is None
    sidecar = json.loads(Path(str(video) + ".json").read_text())
    assert sidecar["task_id"] == task_id and sidecar["sha256"] == digest and sidecar["probe"]["width"] == 832
    assert sidecar["prompt"] == "A kitten" and sidecar["end_time"] and sidecar["usage"]
    # The file was deleted: a second fetch downloads it again, checked against the recorded sha256, still no query.
    video.unlink()
    requests.clear()
    again = run("fetch", task_id, "-o", "clips/")
    assert again.exit_code == 0, again.stderr
    assert requests.kinds(task_id) == ["result 200"]
    assert hashlib.sha256(Path(again.stdout.strip()).read_bytes()).hexdigest() == digest


def test_status_wait_of_a_finished_task_also_uses_the_saved_link(
    logged: tuple[EmulatorThread, Requests], manual_clock: ManualClock
) -> None:
    emulator, requests = logged
    task_id = finished_task(emulator, manual_clock)
    requests.clear()
    waited = run("status", task_id, "--wait")
    assert waited.exit_code == 0, waited.stderr
    assert Path(waited.stdout.strip()).is_file()
    assert requests.kinds(task_id) == ["result 200"]


def test_a_refused_saved_link_costs_one_status_query_and_the_fresh_link_is_used(
    logged: tuple[EmulatorThread, Requests], manual_clock: ManualClock, isolated_env: Path
) -> None:
    emulator, requests = logged
    task_id = finished_task(emulator, manual_clock)
    good = str(ledger_row(isolated_env, task_id)["video_url"])
    edit_ledger(isolated_env, task_id, video_url=good.replace("Signature=", "Signature=AAAA"))  # a revoked link
    requests.clear()
    result = run("fetch", task_id)
    assert result.exit_code == 0, result.stderr
    assert requests.kinds(task_id) == ["result 403", "query", "result 200"]
    assert "Asking the service for the task's current link" in result.stderr
    assert Path(result.stdout.strip()).is_file()
    row = ledger_row(isolated_env, task_id)
    assert row["video_url"] == good and row["download_error"] is None and row["video_sha256"]
    assert not list(Path("output/qwenvid").glob("*.part"))


def test_a_link_the_ledger_knows_has_expired_is_not_tried(
    logged: tuple[EmulatorThread, Requests], manual_clock: ManualClock, isolated_env: Path
) -> None:
    emulator, requests = logged
    task_id = finished_task(emulator, manual_clock)
    # Within the margin before its expiry: a download could outlast it, so the service is asked first.
    soon = datetime.fromtimestamp(manual_clock() + 60, UTC).isoformat()
    edit_ledger(isolated_env, task_id, video_url_expires_at=soon)
    requests.clear()
    result = run("fetch", task_id)
    assert result.exit_code == 0, result.stderr
    assert requests.kinds(task_id) == ["query", "result 200"]
    assert "Asking the service" not in result.stderr


def test_when_the_service_hands_back_the_refused_link_the_fetch_fails_once_with_exit_9(
    logged: tuple[EmulatorThread, Requests], manual_clock: ManualClock, isolated_env: Path
) -> None:
    emulator, requests = logged
    task_id = finished_task(emulator, manual_clock)
    # The link expires after 1 h (url_ttl_seconds); the ledger is wrong about it (a clock that disagrees).
    manual_clock.advance(2 * 3600)
    later = (datetime.fromtimestamp(manual_clock(), UTC) + timedelta(hours=20)).isoformat()
    edit_ledger(isolated_env, task_id, video_url_expires_at=later)
    requests.clear()
    result = run("--json", "fetch", task_id)
    assert result.exit_code == 9, result.stderr
    assert requests.kinds(task_id) == ["result 403", "query"]  # the same link again is not tried twice
    data = json.loads(result.stdout)
    assert data["error"]["type"] == "DownloadError" and "expired" in data["error"]["message"]
    assert data["exit_code"] == 9 and data["task_id"] == task_id
    assert "Traceback" not in result.stderr
    assert "expired" in str(ledger_row(isolated_env, task_id)["download_error"])


def test_the_saved_link_is_not_used_while_another_process_holds_the_task(
    logged: tuple[EmulatorThread, Requests], manual_clock: ManualClock, isolated_env: Path
) -> None:
    emulator, requests = logged
    task_id = finished_task(emulator, manual_clock)
    local_id = str(ledger_row(isolated_env, task_id)["id"])
    holder = Claims(isolated_env / "ledger.sqlite3").acquire(local_id)
    try:
        requests.clear()
        result = run("fetch", task_id, "--timeout", "2")
    finally:
        holder.release()
    assert result.exit_code != 0 and "pid" in result.stderr
    assert requests.kinds(task_id) == []  # nothing downloaded behind the holder's back
    assert not list(Path("output").rglob("*.mp4*"))
