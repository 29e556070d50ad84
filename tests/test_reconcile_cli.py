"""Reconciliation and several processes on one ledger: real console-script processes, a real `qwenvid emulator`
process, a real ledger file. Faults are armed through the emulator's control endpoint."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.test_cli_subprocess import qwenvid_argv

pytestmark = pytest.mark.slow

KEY = "sk-canary-reconcile-0123456789"
OTHER_KEY = "sk-colleague-9876543210"
MODEL = "wan2.1-t2v-turbo"
T2V_PATH = "/services/aigc/video-generation/video-synthesis"


@pytest.fixture
def emulator_url() -> Iterator[str]:
    process = subprocess.Popen(
        [*qwenvid_argv(), "emulator", "--port", "0", "--pending-seconds", "0.1", "--running-seconds", "0.3",
         "--no-limits"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.endswith("/api/v1")
        yield base_url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def workdir(tmp_path: Path, emulator_url: str) -> Path:
    return tmp_path


def env_for(workdir: Path, base_url: str, key: str = KEY) -> dict[str, str]:
    return {**os.environ, "QWEN_BASE_URL": base_url, "DASHSCOPE_API_KEY": key, "QWENVID_HOME": str(workdir / "home")}


def qv(workdir: Path, base_url: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*qwenvid_argv(), *args], capture_output=True, text=True, timeout=timeout, cwd=workdir,
        env=env_for(workdir, base_url), stdin=subprocess.DEVNULL,
    )


def t2v_args(prompt: str, *extra: str) -> list[str]:
    return ["t2v", prompt, "--model", MODEL, "--size", "832*480", *extra]


def control(base_url: str) -> str:
    return base_url.removesuffix("/api/v1")


def arm(base_url: str, *specs: str) -> None:
    response = httpx.post(control(base_url) + "/__emulator/faults", json={"faults": list(specs)})
    assert response.status_code == 200, response.text


def state(base_url: str) -> dict[str, Any]:
    return httpx.get(control(base_url) + "/__emulator/state").json()


def wait_until(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def rows(workdir: Path) -> list[dict[str, Any]]:
    path = workdir / "home" / "ledger.sqlite3"
    if not path.exists():
        return []
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute("SELECT * FROM tasks ORDER BY created_at")]
        except sqlite3.OperationalError:  # a process is creating the ledger right now
            return []


def claimed(workdir: Path, row_id: str) -> bool:
    with sqlite3.connect(workdir / "home" / "ledger.sqlite3") as conn:
        try:
            return conn.execute("SELECT count(*) FROM claims WHERE resource = ?", (row_id,)).fetchone()[0] == 1
        except sqlite3.OperationalError:  # no claim was ever taken in this ledger yet
            return False


def videos(workdir: Path) -> list[Path]:
    return sorted((workdir / "output").rglob("*.mp4"))


def foreign_submit(base_url: str, prompt: str, key: str) -> str:
    body = {"model": MODEL, "input": {"prompt": prompt}, "parameters": {"size": "832*480"}}
    response = httpx.post(base_url + T2V_PATH, json=body,
                          headers={"Authorization": f"Bearer {key}", "X-DashScope-Async": "enable"})
    assert response.status_code == 200, response.text
    return str(response.json()["output"]["task_id"])


def all_succeeded(base_url: str) -> bool:
    counts = state(base_url)["tasks_by_status"]
    return set(counts) == {"SUCCEEDED"}


def outcomes(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return list(json.loads(result.stdout)["outcomes"])


# --------------------------------------------------------------------------- never adopt another's task


def test_resume_never_adopts_another_clients_task(workdir: Path, emulator_url: str) -> None:
    # One finished run teaches qwenvid this key's id; then a submit that created nothing ends ambiguous.
    assert qv(workdir, emulator_url, *t2v_args("A first kitten")).returncode == 0
    arm(emulator_url, "drop-before-create:1")
    lost = qv(workdir, emulator_url, *t2v_args("My own kitten"))
    assert lost.returncode == 6, lost.stderr
    # Other clients on the same account submit to the same model within the window: a colleague with
    # another key, and another tool with this very key but another prompt.
    colleague = foreign_submit(emulator_url, "A colleague's lighthouse", OTHER_KEY)
    same_key = foreign_submit(emulator_url, "The same key, another prompt", KEY)
    wait_until(lambda: all_succeeded(emulator_url))

    result = qv(workdir, emulator_url, "resume", "--json")
    assert result.returncode == 0, result.stderr
    (note,) = [o["note"] for o in outcomes(result) if o["note"]]
    assert note.startswith("outcome unknown")
    assert f"{colleague} (made with another API key)" in note
    assert f"{same_key} (its prompt is not this request's)" in note
    mine = rows(workdir)[-1]
    assert mine["local_state"] == "outcome_unknown" and mine["task_id"] is None
    assert {colleague, same_key}.isdisjoint(r["task_id"] for r in rows(workdir))
    assert len(videos(workdir)) == 1  # only the first run's video
    assert state(emulator_url)["task_count"] == 3


# --------------------------------------------------------------------------- "not created" and retention


def test_absence_from_the_list_after_retention_is_possibly_billed_not_safe(workdir: Path, emulator_url: str) -> None:
    arm(emulator_url, "drop-after-create:1", "expire:task:1")  # created, then forgotten by the service
    assert qv(workdir, emulator_url, *t2v_args("A kitten that was billed")).returncode == 6
    # The submit happened 25 hours ago as far as the ledger knows: the service's list no longer covers it.
    long_ago = (datetime.now(UTC) - timedelta(hours=25)).isoformat(timespec="microseconds")
    with sqlite3.connect(workdir / "home" / "ledger.sqlite3") as conn:
        conn.execute("UPDATE tasks SET created_at = ?, submitting_at = ?, updated_at = ?", (long_ago,) * 3)
    time.sleep(1.1)
    result = qv(workdir, emulator_url, "resume", "--json")
    assert result.returncode == 0, result.stderr
    (item,) = outcomes(result)
    assert item["note"].startswith("unknown, possibly billed") and "safe to submit" not in item["note"]
    (row,) = rows(workdir)
    assert row["local_state"] == "outcome_unknown" and row["error_code"] == "OutcomeUnknown.PossiblyBilled"
    # Final: a later resume does not flip it to "not created".
    again = qv(workdir, emulator_url, "resume", "--json")
    assert "safe to submit" not in again.stdout and rows(workdir)[0]["local_state"] == "outcome_unknown"


# --------------------------------------------------------------------------- a crash mid-submit


def test_resume_right_after_a_kill_mid_submit_finds_the_billed_task(workdir: Path, emulator_url: str) -> None:
    arm(emulator_url, "late-after-create:5")  # the task exists; its id would arrive 5 s later
    process = subprocess.Popen(
        [*qwenvid_argv(), *t2v_args("A kitten killed mid-submit")], cwd=workdir,
        env=env_for(workdir, emulator_url), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    wait_until(lambda: state(emulator_url)["task_count"] == 1)
    process.kill()
    process.wait(timeout=10)
    assert rows(workdir)[0]["local_state"] == "submitting"

    result = qv(workdir, emulator_url, "resume", "--json")
    assert result.returncode == 0, result.stderr
    notes = [o["note"] for o in outcomes(result) if o["note"]]
    assert any(n.startswith("adopted task") for n in notes), notes
    (row,) = rows(workdir)
    assert row["origin"] == "adopted" and row["video_path"] and Path(row["video_path"]).is_file()
    assert state(emulator_url)["task_count"] == 1


def test_a_row_killed_during_upload_is_closed_as_never_submitted(workdir: Path, emulator_url: str) -> None:
    from PIL import Image

    image = workdir / "first.png"
    Image.new("RGB", (480, 832), "teal").save(image)
    arm(emulator_url, "slow:upload:8")
    process = subprocess.Popen(
        [*qwenvid_argv(), "i2v", "A teal frame comes alive", "--image", str(image), "--model", "wan2.2-i2v-flash"],
        cwd=workdir, env=env_for(workdir, emulator_url), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True,
    )
    wait_until(lambda: bool(rows(workdir)) and claimed(workdir, rows(workdir)[0]["id"]))
    # While its process lives, resume leaves it alone and says so.
    alive = qv(workdir, emulator_url, "resume", "--json")
    assert any("another qwenvid process" in (o["note"] or "") for o in outcomes(alive)), alive.stdout
    process.kill()
    process.wait(timeout=10)
    assert rows(workdir)[0]["local_state"] == "created"
    assert "not submitted (nothing billed)" in qv(workdir, emulator_url, "tasks").stdout

    result = qv(workdir, emulator_url, "resume", "--json")
    (item,) = outcomes(result)
    assert "never submitted" in item["note"] and "nothing was billed" in item["note"]
    (row,) = rows(workdir)
    assert row["local_state"] == "rejected" and row["error_code"] == "NotSubmitted"
    assert f"(pid {process.pid}) stopped before the submit was sent" in row["error_message"]
    assert state(emulator_url)["task_count"] == 0
    assert qv(workdir, emulator_url, "resume", "--json").stdout.count('"ref"') == 0
    assert "never submitted" in qv(workdir, emulator_url, "tasks").stdout


# --------------------------------------------------------------------------- the same command again after exit 6


def test_rerun_after_exit_6_reconciles_first_and_asks_before_paying_twice(workdir: Path, emulator_url: str) -> None:
    args = t2v_args("A kitten submitted twice")
    arm(emulator_url, "drop-after-create:1")
    assert qv(workdir, emulator_url, *args).returncode == 6
    wait_until(lambda: all_succeeded(emulator_url))

    # No terminal to ask on: refuse (exit 7) and submit nothing, after telling what the first submit made.
    again = qv(workdir, emulator_url, *args)
    assert again.returncode == 7, again.stderr
    assert "Earlier submit of this request" in again.stderr and "adopted task" in again.stderr
    assert state(emulator_url)["task_count"] == 1
    first = rows(workdir)[0]
    assert first["origin"] == "adopted" and first["task_id"] == state(emulator_url)["tasks"][0]["task_id"]

    # --yes submits again on purpose; that one is ambiguous too: two ambiguous submits of one prompt.
    # Both end adopted, one video each.
    arm(emulator_url, "drop-after-create:1")
    assert qv(workdir, emulator_url, *args, "--yes").returncode == 6
    wait_until(lambda: all_succeeded(emulator_url))
    result = qv(workdir, emulator_url, "resume", "--json")
    assert result.returncode == 0, result.stderr
    assert state(emulator_url)["task_count"] == 2
    assert [r["local_state"] for r in rows(workdir)] == ["submitted", "submitted"]
    assert len({r["task_id"] for r in rows(workdir)}) == 2 and len(videos(workdir)) == 2


def test_the_adopt_hint_really_adopts_the_named_task(workdir: Path, emulator_url: str) -> None:
    prompt = "A kitten someone else also asked for"
    assert qv(workdir, emulator_url, *t2v_args("A first kitten")).returncode == 0  # learns the key id
    arm(emulator_url, "drop-after-create:1")
    assert qv(workdir, emulator_url, *t2v_args(prompt)).returncode == 6
    twin = foreign_submit(emulator_url, prompt, KEY)  # the very same request, sent by another tool
    wait_until(lambda: all_succeeded(emulator_url))

    result = qv(workdir, emulator_url, "resume", "--json")
    (item,) = outcomes(result)
    assert "qwenvid status <task_id>" in item["note"] and twin in item["note"]
    assert rows(workdir)[-1]["local_state"] == "outcome_unknown"

    status = qv(workdir, emulator_url, "status", twin, "--json")
    assert status.returncode == 0, status.stderr
    row = rows(workdir)[-1]
    assert row["task_id"] == twin and row["origin"] == "adopted" and row["local_state"] == "submitted"
    finished = qv(workdir, emulator_url, "resume", "--json")
    assert [o["result"]["task_id"] for o in outcomes(finished) if o["result"]] == [twin]


# --------------------------------------------------------------------------- several processes, one ledger


def test_two_resumes_next_to_live_runs_download_each_task_once(workdir: Path, emulator_url: str) -> None:
    live = [
        subprocess.Popen([*qwenvid_argv(), *t2v_args(f"Live kitten {n}")], cwd=workdir,
                         env=env_for(workdir, emulator_url), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True)
        for n in range(3)
    ]
    wait_until(lambda: len(rows(workdir)) == 3)
    resumes = [
        subprocess.Popen([*qwenvid_argv(), "resume", "--json"], cwd=workdir, env=env_for(workdir, emulator_url),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for _ in range(2)
    ]
    printed = {p.communicate(timeout=90)[0].strip() for p in live}
    for process in resumes:
        process.communicate(timeout=90)
    assert all(p.returncode == 0 for p in live)
    paths = {str(Path(r["video_path"])) for r in rows(workdir)}
    assert len(videos(workdir)) == 3 and {str(v.resolve()) for v in videos(workdir)} == paths
    assert {str(Path(p).resolve()) for p in printed} == paths  # the ledger's path is the one the run printed
    assert not list((workdir / "output").rglob("*.part"))


def run_in_terminal(workdir: Path, base_url: str, args: list[str], answer: str, timeout: float = 60) -> tuple[int, str]:
    """Run the console script on a real pseudo-terminal; answer its question once it is asked."""
    import pty
    import select

    master, slave = pty.openpty()
    process = subprocess.Popen([*qwenvid_argv(), *args], cwd=workdir, env={**env_for(workdir, base_url),
                               "COLUMNS": "200"}, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    seen, answered = b"", False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal closed: the process is gone
                break
            if not chunk:
                break
            seen += chunk
            if not answered and b"pay twice?" in seen:
                os.write(master, answer.encode() + b"\r")
                answered = True
        elif process.poll() is not None:
            break
    code = process.wait(timeout=30)
    os.close(master)
    return code, seen.decode(errors="replace")


def test_the_question_before_paying_twice_on_a_real_terminal(workdir: Path, emulator_url: str) -> None:
    args = t2v_args("A kitten asked about")
    arm(emulator_url, "drop-after-create:1")
    assert qv(workdir, emulator_url, *args).returncode == 6

    code, screen = run_in_terminal(workdir, emulator_url, args, "n")
    assert code == 1 and "may already have made a task" in screen and "Nothing was submitted" in screen
    assert state(emulator_url)["task_count"] == 1

    code, screen = run_in_terminal(workdir, emulator_url, args, "y")
    assert code == 0, screen
    assert state(emulator_url)["task_count"] == 2 and len(videos(workdir)) == 1
