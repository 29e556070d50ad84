"""Several machines, one account: a shared PostgreSQL ledger (a real server, tests/support/postgres.py).

"Machines" are state folders with their own QWENVID_HOST_ID pointed at one database and one emulator.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.emulator.server import EmulatorThread
from tests.support.cli_emulator import SMALL

PASSWORD = "s3cret-Pa55word"


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def machine(monkeypatch: pytest.MonkeyPatch, root: Path, name: str, url: str) -> Path:
    """Switch this process to machine `name`: its own state folder and working folder, the shared ledger."""
    home, work = root / name / "home", root / name / "work"
    work.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("QWENVID_HOME", str(home))
    monkeypatch.setenv("QWENVID_HOST_ID", name)
    monkeypatch.setenv("QWENVID_LEDGER_URL", url)
    monkeypatch.chdir(work)
    return home


def with_password(url: str) -> str:
    return url.replace("postgres@", f"postgres:{PASSWORD}@", 1)


def test_two_machines_share_steps_and_a_third_sees_where_they_were_made(
    cli: EmulatorThread, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = tmp_path / "two.txt"
    plan.write_text("A lighthouse at dawn\nA lighthouse at dusk\n")
    machine(monkeypatch, tmp_path, "host-a", pg_url)
    first = run("run", str(plan), "--yes", *SMALL)
    assert first.exit_code == 0, first.stderr
    assert cli.state.task_count() == 2

    machine(monkeypatch, tmp_path, "host-b", pg_url)  # the same plan: fetched from the result links
    second = run("run", str(plan), "--yes", *SMALL)
    assert second.exit_code == 0, second.stderr
    assert cli.state.task_count() == 2  # nothing paid twice
    made = sorted(Path("output/qwenvid/two").glob("*.mp4"))
    assert len(made) == 2 and all(path.stat().st_size > 0 for path in made)

    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:  # the links expire
        conn.execute("UPDATE tasks SET video_url_expires_at = '2000-01-01T00:00:00.000000+00:00'")
    for other in ("host-a", "host-b"):  # their files are on their own disks, not this machine's
        shutil.rmtree(tmp_path / other / "work")
    machine(monkeypatch, tmp_path, "host-c", pg_url)
    third = run("run", str(plan), "--yes", *SMALL)
    assert third.exit_code == 8
    assert cli.state.task_count() == 2
    steps = json.loads(Path("output/qwenvid/two/manifest.json").read_text())["steps"]
    assert {s["error_code"] for s in steps} == {"DoneElsewhere"}
    assert all("done on host-" in s["error"] for s in steps)


def test_budget_spend_and_tasks_work_on_the_shared_ledger(
    cli: EmulatorThread, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = machine(monkeypatch, tmp_path, "host-a", pg_url)
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("[budget]\ndaily_seconds = 8\ncount_emulator = true\n")
    assert run("t2v", "A kitten", *SMALL).exit_code == 0
    home_b = machine(monkeypatch, tmp_path, "host-b", pg_url)
    home_b.mkdir(parents=True, exist_ok=True)
    (home_b / "config.toml").write_text("[budget]\ndaily_seconds = 8\ncount_emulator = true\n")
    refused = run("t2v", "A puppy", *SMALL)  # the other machine's 5 s count here too
    assert refused.exit_code == 11 and "5 s already used today" in refused.stderr
    spent = json.loads(run("spend", "--json").stdout)
    assert spent["emulator"]["total"]["tasks"] == 1 and spent["emulator"]["total"]["billed_seconds"] == 5
    listed = run("tasks", "--json")
    assert json.loads(listed.stdout)["count"] == 1


def test_password_is_masked_everywhere_and_doctor_checks_the_database(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, emulator: EmulatorThread, canary_key: str
) -> None:
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"ALTER USER postgres PASSWORD '{PASSWORD}'")  # trust auth: any password is accepted
    machine(monkeypatch, tmp_path, "host-a", with_password(pg_url))
    monkeypatch.setenv("QWEN_BASE_URL", emulator.base_url)
    monkeypatch.setenv("DASHSCOPE_API_KEY", canary_key)
    for args in (("config",), ("doctor", "--json"), ("doctor",), ("--debug", "tasks")):
        result = run(*args)
        assert PASSWORD not in result.stdout + result.stderr, args
    report = json.loads(run("doctor", "--json").stdout)
    assert report["ledger_ok"] is True and "PostgreSQL" in report["ledger_detail"]
    assert report["ledger"].startswith("postgresql://postgres:***@127.0.0.1")
    refused = run("config", "set", "ledger_url", with_password(pg_url))
    assert refused.exit_code == 2 and "does not write a database password" in refused.stderr
    assert PASSWORD not in refused.stderr

    monkeypatch.setenv("QWENVID_LEDGER_URL", "postgresql://postgres@127.0.0.1:1/none")  # nothing listens there
    down = run("doctor", "--json")
    assert down.exit_code == 1 and json.loads(down.stdout)["ledger_ok"] is False


def test_ledger_import_moves_a_local_ledger_once(
    cli: EmulatorThread, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    assert run("t2v", "A kitten", *SMALL).exit_code == 0  # on the local SQLite ledger
    assert run("t2v", "A puppy", *SMALL).exit_code == 0
    monkeypatch.setenv("QWENVID_LEDGER_URL", pg_url)
    assert json.loads(run("tasks", "--json").stdout)["count"] == 0
    imported = run("ledger", "import", "--json")
    assert imported.exit_code == 0, imported.stderr
    data = json.loads(imported.stdout)
    assert data["copied"]["tasks"] == 2 and data["into"] == pg_url
    assert json.loads(run("tasks", "--json").stdout)["count"] == 2
    again = json.loads(run("ledger", "import", "--json").stdout)
    assert again["copied"]["tasks"] == 0 and again["already_there"]["tasks"] == 2
    monkeypatch.delenv("QWENVID_LEDGER_URL")
    nowhere = run("ledger", "import")
    assert nowhere.exit_code == 2 and "no shared ledger" in nowhere.stderr


CLAIMER = """
import os, sys
from qwenvid.config.ledger_url import marker_for
from pathlib import Path
from qwenvid.store.pg_store import PgStore
store = PgStore(marker_for(Path(sys.argv[1]), sys.argv[2]))
claim = store.claims().try_acquire("row-1")
print("claimed" if claim else "refused", flush=True)
os._exit(0)  # the machine dies: no release, no renewal
"""


def test_a_dead_hosts_claims_expire(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qwenvid.config.ledger_url import marker_for
    from qwenvid.store.pg_store import PgStore

    env = {**os.environ, "QWENVID_HOST_ID": "host-a"}
    done = subprocess.run([sys.executable, "-c", CLAIMER, str(tmp_path / "a"), pg_url], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.stdout.strip() == "claimed", done.stderr
    monkeypatch.setenv("QWENVID_HOST_ID", "host-b")
    (tmp_path / "b").mkdir()
    store = PgStore(marker_for(tmp_path / "b", pg_url))
    held = store.claims().holder("row-1")
    # Another host's process cannot be looked up: its claim holds until its lease runs out.
    assert held is not None and held.host == "host-a"
    assert store.claims().try_acquire("row-1") is None
    later = store.claims(clock=lambda: store.db_clock() + 61.0)  # the 60 s lease, on the database's clock
    assert later.holder("row-1") is None
    taken = later.try_acquire("row-1")
    assert taken is not None
    taken.release()
    store.close()


def test_tables_other_parts_add_work_on_the_shared_ledger_unchanged(pg_url: str, tmp_path: Path) -> None:
    """SQLite's SQL as the table modules write it (AUTOINCREMENT ids, INSERT OR REPLACE without a column list,
    literals holding '?', IS ?, MAX(a, b), sum(col = 'X'), BEGIN IMMEDIATE), through connect() on the marker."""
    from qwenvid.config.ledger_url import marker_for
    from qwenvid.store.connect import connect
    from qwenvid.store.sqlite_tx import write_transaction

    conn = connect(marker_for(tmp_path, pg_url))
    conn.executescript(
        "CREATE TABLE IF NOT EXISTS story_costs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
        " units REAL NOT NULL, note TEXT);"  # a comment; with a semicolon
        "CREATE TABLE IF NOT EXISTS face_checks (image TEXT PRIMARY KEY, passed INTEGER, kind TEXT, at REAL)"
    )
    with write_transaction(conn):
        for kind, units in (("storyboard", 1200.5), ("narration", 300.0), ("storyboard", 10.0)):
            conn.execute("INSERT INTO story_costs (kind, units, note) VALUES (?, ?, 'why?')", (kind, units))
        conn.execute("INSERT OR REPLACE INTO face_checks VALUES (?, ?, 'image', ?)", ("a.png", False, 1.5))
        conn.execute("INSERT OR REPLACE INTO face_checks VALUES (?, ?, 'image', ?)", ("a.png", True, 2.5))
    rows = conn.execute("SELECT kind, SUM(units), COUNT(*) FROM story_costs GROUP BY kind ORDER BY kind").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [("narration", 300.0, 1), ("storyboard", 1210.5, 2)]
    assert conn.execute("SELECT note FROM story_costs WHERE id = ?", (1,)).fetchone()["note"] == "why?"
    check = conn.execute("SELECT passed, at FROM face_checks WHERE image = ?", ("a.png",)).fetchone()
    assert (check["passed"], check["at"]) == (1, 2.5)
    conn.execute("UPDATE face_checks SET at = MAX(at, ?) WHERE kind IS ?", (2.0, "image"))
    assert conn.execute("SELECT at FROM face_checks").fetchone()[0] == 2.5
    counted = conn.execute("SELECT sum(kind = 'storyboard') FROM story_costs").fetchone()[0]
    assert int(counted) == 2
    conn.close()
