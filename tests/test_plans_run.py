"""`qwenvid run` end to end against the emulator (manual clock): the examples, reuse, edits, faults, limits."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import _session, app
from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread
from tests.support.cli_emulator import use_emulator
from tests.support.emulator import probe_mp4

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SMALL = ("--model", "wan2.1-t2v-turbo", "--size", "832*480")


@pytest.fixture
def story(tmp_path: Path) -> Path:
    """The shipped story example, copied so a test may edit it."""
    folder = tmp_path / "plans"
    folder.mkdir()
    shutil.copy(EXAMPLES / "story.toml", folder)
    shutil.copy(EXAMPLES / "soundtrack.wav", folder)
    return folder / "story.toml"




def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def manifest(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((Path("output/qwenvid") / name / "manifest.json").read_text())
    return data


def steps(name: str) -> dict[str, dict[str, Any]]:
    return {s["id"]: s for s in manifest(name)["steps"]}


# -- the examples -----------------------------------------------------------------------------------


def test_story_example_runs_end_to_end(cli: EmulatorThread, story: Path, isolated_env: Path) -> None:
    result = run("run", str(story), "--yes")
    assert result.exit_code == 0, result.stderr
    final = Path("output/qwenvid/story/final.mp4").resolve()
    assert result.stdout.strip() == str(final)
    facts = probe_mp4(final)
    assert abs(facts.duration - 10.0) < 0.2  # 5 s opening + 5 s continuation
    assert facts.audio_codecs  # the soundtrack
    recorded = steps("story")
    assert {s["status"] for s in recorded.values()} == {"done"}
    assert recorded["continued"]["depends_on"] == ["opening_tail"]
    assert recorded["opening"]["billed_seconds"] == 5
    assert abs(probe_mp4(Path(recorded["opening_tail"]["file"])).duration - 3.0) < 0.1
    assert cli.state.task_count() == 2
    # The continuation was given the opening's tail, uploaded as its clip.
    bodies = [task.body for task in cli.state.tasks]
    assert any(item.get("type") == "first_clip" for body in bodies for item in body["input"].get("media", []))
    # Each submit took a slot of the machine-wide submit pacing (qwenvid.store.pacing), held by its ledger row
    # as a single run's is (one submit, qwenvid/tasks/submit.py), and gave it back when its task ended.
    with sqlite3.connect(isolated_env / "ledger.sqlite3") as conn:
        slots = conn.execute("SELECT holder, released_at IS NOT NULL FROM submit_slots").fetchall()
        rows = {row_id for (row_id,) in conn.execute("SELECT id FROM tasks WHERE task_id IS NOT NULL")}
    assert len(slots) == 2 and {holder for holder, _ in slots} == rows and all(released for _, released in slots)


def test_rerun_reuses_everything_and_pays_nothing(cli: EmulatorThread, story: Path) -> None:
    assert run("run", str(story), "--yes").exit_code == 0
    first = {sid: s["sha256"] for sid, s in steps("story").items()}
    again = run("run", str(story), "--yes")
    assert again.exit_code == 0, again.stderr
    assert cli.state.task_count() == 2
    assert "0 s billable; 5 steps reused (0 s)" in again.stderr
    recorded = steps("story")
    assert {s["status"] for s in recorded.values()} == {"reused"}
    assert {sid: s["sha256"] for sid, s in recorded.items()} == first


def test_an_edited_prompt_reruns_that_step_and_its_dependents_only(cli: EmulatorThread, story: Path) -> None:
    assert run("run", str(story), "--yes").exit_code == 0
    before = steps("story")
    story.write_text(story.read_text().replace("glowing canal at night", "glowing canal at dawn"))
    preview = run("run", str(story), "--dry-run", "--json")
    assert preview.exit_code == 0, preview.stderr
    planned = {s["id"]: s for s in json.loads(preview.stdout)["steps"]}
    assert planned["opening"]["reuse"] == "done" and planned["continued"]["reuse"] is None
    assert json.loads(preview.stdout)["billable_seconds"] == 5
    result = run("run", str(story), "--yes")
    assert result.exit_code == 0, result.stderr
    assert cli.state.task_count() == 3  # only `continued` was generated again
    after = steps("story")
    assert after["opening"]["status"] == after["opening_tail"]["status"] == "reused"
    assert [after[s]["status"] for s in ("continued", "film", "final")] == ["done", "done", "done"]
    assert after["continued"]["sha256"] != before["continued"]["sha256"]
    # The earlier paid video is kept, not overwritten.
    assert list(Path("output/qwenvid/story/superseded").glob("continued.*.mp4"))


def test_force_reruns_one_step_on_purpose(cli: EmulatorThread, story: Path) -> None:
    assert run("run", str(story), "--yes").exit_code == 0
    result = run("run", str(story), "--yes", "--force", "opening")
    assert result.exit_code == 0, result.stderr
    assert cli.state.task_count() == 3
    assert steps("story")["opening"]["status"] == "done"


@pytest.mark.parametrize("example", ["batch.jsonl", "batch.txt"])
def test_batch_examples(cli: EmulatorThread, example: str) -> None:
    result = run("run", str(EXAMPLES / example), "--yes", "--json", *SMALL)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    rows = [s for s in data["steps"] if s["kind"] == "generate"]
    assert data["status"] == "done" and len(rows) == cli.state.task_count() == (4 if example.endswith("jsonl") else 3)
    for row in rows:
        assert Path(row["file"]).is_file() and row["file"].endswith(f"{row['id']}.mp4")
        assert row["task_id"] and row["sha256"] and row["billed_seconds"]


def test_dry_run_json_is_one_object_with_requests_and_costs(cli: EmulatorThread, story: Path) -> None:
    result = run("run", str(story), "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["billable_seconds"] == 10
    assert data["billable_seconds_by_model"] == {"wan2.6-t2v 720P": 5, "wan2.7-i2v 720P": 5}
    assert data["pricing_url"].startswith("https://")
    by_id = {s["id"]: s for s in data["steps"]}
    assert by_id["opening"]["request"]["payload"]["input"]["prompt"].startswith("A paper boat")
    assert by_id["opening"]["request"]["headers"]["Authorization"] == "Bearer sk-…"
    assert by_id["film"]["depends_on"] == ["continued", "opening"]
    assert cli.state.task_count() == 0 and not Path("output/qwenvid/story/opening.mp4").exists()
    plain = run("run", str(story), "--dry-run")  # the same object on stdout; the table for people on stderr
    assert plain.exit_code == 0 and json.loads(plain.stdout)["billable_seconds"] == 10
    assert "opening" in plain.stderr and "Cost: 10 s billable" in plain.stderr


def test_budget_cap_and_confirmation(cli: EmulatorThread, story: Path) -> None:
    capped = run("run", str(story), "--max-seconds", "6", "--yes")
    assert capped.exit_code == 2
    assert "bills 10 new seconds, more than --max-seconds 6" in capped.stderr
    asked = run("run", str(EXAMPLES / "batch.jsonl"), *SMALL)  # 20 s > the 10 s threshold, no terminal
    assert asked.exit_code == 7
    assert cli.state.task_count() == 0


def test_events_stream_json_lines(cli: EmulatorThread, story: Path) -> None:
    result = run("run", str(story), "--yes", "--events", "-")
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    kinds = Counter(e["event"] for e in events)
    assert kinds["plan_started"] == kinds["plan_finished"] == 1 and kinds["submitted"] == 2
    assert {e["step"] for e in events if e["event"] == "step" and e["status"] == "done"} == {
        "opening",
        "opening_tail",
        "continued",
        "film",
        "final",
    }


def test_tasks_plan_lists_the_plan_rows(cli: EmulatorThread, story: Path) -> None:
    assert run("run", str(story), "--yes").exit_code == 0
    result = run("tasks", "--plan", "story", "--json")
    assert result.exit_code == 0, result.stderr
    listing = json.loads(result.stdout)
    assert listing["plan"] == "story" and listing["count"] == 2
    assert sorted(r["step"] for r in listing["tasks"]) == ["continued", "opening"]


# -- faults -------------------------------------------------------------------------------------------


FAILING = """
[steps.doomed]
prompt = "First in line"

[steps.doomed_tail]
op = "tail"
input = "@doomed"
seconds = 1

[steps.fine]
prompt = "Second in line"

[steps.fine_tail]
op = "tail"
input = "@fine"
seconds = 1
"""


def faulty(
    make_emulator: Any, manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch, *faults: str
) -> EmulatorThread:
    emu: EmulatorThread = make_emulator(EmulatorConfig(faults=faults), clock=manual_clock)
    use_emulator(emu, manual_clock, canary_key, monkeypatch)
    return emu


def test_a_moderated_step_skips_its_dependents_and_exits_10(
    make_emulator: Any, manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emu = faulty(make_emulator, manual_clock, canary_key, monkeypatch, "fail:DataInspectionFailed:1")
    plan = tmp_path / "f.toml"
    plan.write_text(FAILING)
    result = run("run", str(plan), "--yes", *SMALL)
    assert result.exit_code == 10, result.stderr
    recorded = steps("f")
    assert recorded["doomed"]["status"] == "failed" and recorded["doomed"]["error_code"] == "DataInspectionFailed"
    assert recorded["doomed_tail"]["status"] == "skipped"
    assert recorded["fine"]["status"] == recorded["fine_tail"]["status"] == "done"
    assert "step 'doomed' failed" in result.stderr and "step 'doomed_tail' skipped" in result.stderr
    assert emu.state.task_count() == 2
    # Rerunning submits the failed step again (a failure is free) and nothing else.
    again = run("run", str(plan), "--yes", *SMALL)
    assert again.exit_code == 0, again.stderr
    assert emu.state.task_count() == 3


def test_throttling_and_server_errors_never_fail_a_step(
    make_emulator: Any, manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emu = faulty(
        make_emulator,
        manual_clock,
        canary_key,
        monkeypatch,
        "throttle:submit:6:1",
        "throttle:query:4:1",
        "5xx:query:3",
        "503:query:2",
    )
    plan = tmp_path / "t.toml"
    plan.write_text(FAILING)
    result = run("run", str(plan), "--yes", *SMALL)
    assert result.exit_code == 0, result.stderr
    assert emu.state.task_count() == 2


def test_a_dropped_submit_is_reconciled_not_paid_twice(
    make_emulator: Any, manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emu = faulty(make_emulator, manual_clock, canary_key, monkeypatch, "drop-after-create:1", "5xx-after-create:1")
    plan = tmp_path / "d.toml"
    plan.write_text(FAILING)
    result = run("run", str(plan), "--yes", *SMALL)
    assert result.exit_code == 0, result.stderr
    assert emu.state.task_count() == 2
    assert {s["status"] for s in steps("d").values()} == {"done"}


def test_fail_fast_submits_nothing_new(
    make_emulator: Any, manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    emu = faulty(make_emulator, manual_clock, canary_key, monkeypatch, "reject:InvalidParameter:1")
    plan = tmp_path / "ff.toml"
    plan.write_text(FAILING)
    result = run("run", str(plan), "--yes", "--fail-fast", *SMALL)
    assert result.exit_code == 8, result.stderr
    recorded = steps("ff")
    assert recorded["doomed"]["status"] == "failed"
    assert {recorded[s]["status"] for s in ("doomed_tail", "fine", "fine_tail")} == {"skipped"}
    assert emu.state.task_count() == 0


# -- limits ---------------------------------------------------------------------------------------------


class CountingTransport(httpx.HTTPTransport):
    """Counts every HTTP 429 the client receives (submit and query alike)."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: Counter[int] = Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses[response.status_code] += 1
        return response


def max_overlap(emu: EmulatorThread) -> dict[str, int]:
    """The most tasks of each model that were unfinished at once on the emulator."""
    events: list[tuple[float, int, str]] = []
    for task in emu.state.tasks:
        events.append((task.submit_at, 1, task.spec.id))
        events.append((task.end_at if task.end_at is not None else float("inf"), -1, task.spec.id))
    events.sort(key=lambda e: (e[0], e[1]))
    current: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    for _, delta, model in events:
        current[model] += delta
        peak[model] = max(peak[model], current[model])
    return dict(peak)


def test_fifty_steps_use_the_model_limit_fully_and_never_exceed_it(
    make_emulator: Any, manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # "reject": the emulator answers 429 Throttling.Concurrency to a submit over the model's limit.
    emu: EmulatorThread = make_emulator(
        EmulatorConfig(concurrency_mode="reject", pending_seconds=2, running_seconds=20), clock=manual_clock
    )
    use_emulator(emu, manual_clock, canary_key, monkeypatch)
    transport = CountingTransport()
    injected = dict(_session.INJECTED["session"])
    monkeypatch.setitem(_session.INJECTED, "session", {**injected, "transport": transport})
    plan = tmp_path / "fifty.txt"
    plan.write_text("\n".join("A lighthouse in a storm" for _ in range(50)))
    result = run("run", str(plan), "--yes", "--model", "wan2.6-t2v", "--size", "1280*720", "--duration", "5")
    assert result.exit_code == 0, result.stderr
    assert emu.state.task_count() == 50
    assert transport.statuses[429] == 0
    assert max_overlap(emu) == {"wan2.6-t2v": 5}


# -- leaving early --------------------------------------------------------------------------------------


def test_detach_leaves_tasks_running_and_a_rerun_picks_them_up(cli: EmulatorThread, story: Path) -> None:
    result = run("run", str(story), "--yes", "--detach")
    assert result.exit_code == 5, result.stderr
    recorded = steps("story")
    assert recorded["opening"]["status"] == "detached" and recorded["opening"]["task_id"]
    assert recorded["continued"]["status"] == "waiting"
    assert "Run the same command again" in result.stderr
    assert cli.state.task_count() == 1
    again = run("run", str(story), "--yes")
    assert again.exit_code == 0, again.stderr
    assert cli.state.task_count() == 2  # the detached task was followed, not submitted again
    assert steps("story")["opening"]["task_id"] == recorded["opening"]["task_id"]


def test_timeout_exits_5_with_the_steps_left(cli: EmulatorThread, story: Path) -> None:
    result = run("run", str(story), "--yes", "--timeout", "0.5")
    assert result.exit_code == 5, result.stderr
    assert {s["status"] for s in steps("story").values()} >= {"detached"}
    assert cli.state.task_count() == 1


def test_tasks_of_other_processes_count_but_abandoned_ones_do_not(
    cli: EmulatorThread, tmp_path: Path, isolated_env: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from qwenvid.store.ledger import Ledger

    def foreign_rows(age: timedelta) -> None:
        with Ledger(isolated_env / "ledger.sqlite3", clock=lambda: datetime.now(UTC) - age) as ledger:
            for n in range(2):  # wan2.1-t2v-turbo runs 2 at once
                row = ledger.create(
                    mode="t2v", model="wan2.1-t2v-turbo", endpoint="/x", request_json={"n": n}, base_url=cli.base_url
                )
                ledger.mark_submitting(row.id)
                ledger.mark_submitted(row.id, f"foreign-{age.total_seconds():g}-{n}", None, "RUNNING")

    plan = tmp_path / "one.txt"
    plan.write_text("A lone lighthouse\n")
    foreign_rows(timedelta(seconds=5))  # in flight right now in another process: the model is full
    blocked = run("run", str(plan), "--yes", "--timeout", "20", *SMALL)
    assert blocked.exit_code == 5, blocked.stderr
    assert cli.state.task_count() == 0
    with Ledger(isolated_env / "ledger.sqlite3") as ledger:  # those two end; two others were left long ago
        for row in ledger.list(status="RUNNING"):
            ledger.update_remote(row.id, "SUCCEEDED")
    foreign_rows(timedelta(hours=1))
    result = run("run", str(plan), "--yes", "--timeout", "600", *SMALL)
    assert result.exit_code == 0, result.stderr
    assert cli.state.task_count() == 1
