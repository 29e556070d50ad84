"""`qwenvid spend`: billed seconds from each task's usage, checked against the emulator's own answers and real rows."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.emulator.server import EmulatorThread
from qwenvid.store.ledger import Ledger
from tests.support.cli_emulator import SMALL
from tests.support.terminal import Terminal

CONFIG = """\
[prices]
currency = "USD"
default = 0.1
"wan2.1-t2v-plus" = { "720P" = 0.25 }

[budget]
count_emulator = true
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _row(ledger: Ledger, *, model: str, tier: str, status: str, seconds: float, base_url: str, plan: str = "") -> None:
    """One task the way a submit and its poller leave it in the ledger."""
    row = ledger.create(
        mode="t2v", model=model, endpoint="/services/aigc/video-generation/video-synthesis",
        request_json={"model": model}, tier=tier, billable_seconds_estimate=seconds, base_url=base_url,
        fingerprint=f"plan-{plan}" if plan else None, output_target=f"/out/{plan}/s1.mp4" if plan else None,
    )  # fmt: skip
    ledger.mark_submitting(row.id)
    ledger.mark_submitted(row.id, f"task-{row.id}")
    if status == "SUCCEEDED":
        ledger.set_result(row.id, video_url=None, usage={"output_video_duration": seconds, "duration": seconds})
    else:
        ledger.update_remote(row.id, status)


@pytest.fixture
def priced_home(isolated_env: Path) -> Path:
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "config.toml").write_text(CONFIG, encoding="utf-8")
    return isolated_env


def test_spend_matches_the_emulators_own_usage(cli: EmulatorThread, priced_home: Path, canary_key: str) -> None:
    for args in (SMALL, SMALL, ("--model", "wan2.1-t2v-plus", "--size", "1280*720")):
        assert run("t2v", "A kitten", *args).exit_code == 0
    # What the emulator itself reports for each task (GET /tasks/{id}), not what qwenvid estimated.
    ledger = Ledger(priced_home / "ledger.sqlite3")
    expected: dict[str, float] = {}
    for row in ledger.list():
        answer = httpx.get(f"{cli.base_url}/tasks/{row.task_id}", headers={"Authorization": f"Bearer {canary_key}"})
        usage = answer.json()["usage"]  # these (legacy t2v) models report `video_duration`
        expected[row.model or ""] = expected.get(row.model or "", 0.0) + float(usage["video_duration"])
    ledger.close()

    result = run("spend", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["count_emulator"] is True and data["billed"]["total"]["tasks"] == 0
    emulator = data["emulator"]
    assert emulator["total"]["billed_seconds"] == pytest.approx(sum(expected.values()))
    assert {line["key"]: line["billed_seconds"] for line in emulator["by_model"]} == pytest.approx(expected)
    assert {line["key"] for line in emulator["by_tier"]} == {"480P", "720P"}
    amounts = {line["key"]: line["amount"] for line in emulator["by_model"]}
    assert amounts["wan2.1-t2v-turbo"] == pytest.approx(0.1 * expected["wan2.1-t2v-turbo"])
    assert amounts["wan2.1-t2v-plus"] == pytest.approx(0.25 * expected["wan2.1-t2v-plus"])
    assert data["currency"] == "USD" and "your prices" in data["amount_source"]
    assert canary_key not in result.stdout + result.stderr


def test_failed_and_canceled_count_at_zero_and_sections_stay_apart(priced_home: Path) -> None:
    ledger = Ledger(priced_home / "ledger.sqlite3")
    service = "https://dashscope-intl.aliyuncs.com/api/v1"
    _row(ledger, model="wan2.6-t2v", tier="720P", status="SUCCEEDED", seconds=10, base_url=service, plan="trailer")
    _row(ledger, model="wan2.6-t2v", tier="720P", status="FAILED", seconds=10, base_url=service)
    _row(ledger, model="wan2.6-t2v", tier="1080P", status="CANCELED", seconds=5, base_url=service)
    _row(ledger, model="wan2.6-t2v", tier="720P", status="RUNNING", seconds=15, base_url=service)
    _row(ledger, model="wan2.6-t2v", tier="720P", status="SUCCEEDED", seconds=5, base_url="http://127.0.0.1:9/api/v1")
    never = ledger.create(
        mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json={}, billable_seconds_estimate=99.0, base_url=service
    )
    ledger.mark_rejected(never.id, "NotSubmitted", "declined")
    ledger.close()

    data = json.loads(run("spend", "--json", "--by", "month").stdout)
    billed = data["billed"]["total"]
    assert (billed["tasks"], billed["succeeded"], billed["failed_or_canceled"], billed["in_flight"]) == (4, 1, 2, 1)
    assert billed["billed_seconds"] == 10 and billed["estimated_seconds"] == 40  # the refused row is no task
    assert billed["amount"] == pytest.approx(1.0)
    assert {line["key"] for line in data["billed"]["by_plan"]} == {"trailer", "(no plan)"}
    assert data["emulator"]["total"]["billed_seconds"] == 5  # never mixed into what the service billed
    assert len(data["billed"]["by_period"]) == 1 and len(data["billed"]["by_period"][0]["key"]) == 7

    rows = list(csv.reader(io.StringIO(run("spend", "--csv").stdout)))
    assert rows[0][:3] == ["section", "group", "key"]
    total = next(r for r in rows if r[0] == "billed" and r[1] == "total")
    assert total[7] == "10" and total[11] == "USD"

    nothing = run("spend", "--since", "2001-01-01", "--until", "2001-01-31", "--json")
    assert json.loads(nothing.stdout)["billed"]["total"]["tasks"] == 0
    bad = run("spend", "--by", "year")
    assert bad.exit_code == 2 and "--by takes day, week or month" in bad.stderr and "Traceback" not in bad.stderr


def test_the_chart_on_a_real_terminal(priced_home: Path, tmp_path: Path) -> None:
    ledger = Ledger(priced_home / "ledger.sqlite3")
    service = "https://dashscope-intl.aliyuncs.com/api/v1"
    _row(ledger, model="wan2.6-t2v", tier="720P", status="SUCCEEDED", seconds=10, base_url=service)
    _row(ledger, model="wan2.6-t2v", tier="720P", status="FAILED", seconds=10, base_url=service)
    ledger.close()
    term = Terminal("spend", env={"QWENVID_HOME": str(priced_home)}, cwd=tmp_path)
    assert term.finish() == 0
    screen = term.screen()
    assert "Billed by the service: 10 s billed (estimated 20 s)" in screen
    bar = next(line for line in screen.splitlines() if "█" in line)
    assert bar.count("█") == 20 and bar.count("░") == 20  # billed half of the estimate, on one scale
    assert "1.00 USD" in screen and "your prices" in screen


def test_non_video_costs_show_on_their_own_lines(priced_home: Path) -> None:
    """The table another part of qwenvid writes for storyboard tokens and narration characters."""
    import sqlite3

    Ledger(priced_home / "ledger.sqlite3").close()
    with sqlite3.connect(priced_home / "ledger.sqlite3") as conn:
        conn.execute(
            "CREATE TABLE story_costs (id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
            " identity TEXT NOT NULL, service TEXT NOT NULL, model TEXT NOT NULL, units REAL NOT NULL,"
            " unit TEXT NOT NULL, detail TEXT NOT NULL, created_at TEXT NOT NULL)"
        )
        for kind, units, unit in (("storyboard", 1200, "tokens"), ("narration", 300, "characters")):
            conn.execute(
                "INSERT INTO story_costs (kind, identity, service, model, units, unit, detail, created_at) "
                "VALUES (?, 'x', 'https://dashscope-intl.aliyuncs.com/api/v1', 'qwen-plus', ?, ?, '{}', ?)",
                (kind, units, unit, "2026-12-07T10:00:00.000000+00:00"),
            )
    data = json.loads(run("spend", "--json").stdout)
    assert {(c["kind"], c["units"], c["unit"]) for c in data["billed"]["other_costs"]} == {
        ("storyboard", 1200, "tokens"),
        ("narration", 300, "characters"),
    }
    text = run("spend").stdout
    assert "storyboard (qwen-plus): 1200 tokens in 1 call(s)" in text
