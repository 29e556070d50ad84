"""The plan's live view in a real pseudo-terminal tells the truth: the whole plan's time left goes down as
time passes, steps waiting for a slot are on screen, and a plan continued after --detach counts from its start."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest

from qwenvid.emulator.config import EmulatorConfig
from qwenvid.emulator.server import EmulatorThread
from tests.support.terminal import Terminal

pytestmark = pytest.mark.slow
LEFT = re.compile(r"~(\d+):(\d\d) left")
PLAN = """\
[defaults]
model = "wan2.1-t2v-turbo"
size = "832*480"
duration = 5

[steps.a]
prompt = "one"
[steps.b]
prompt = "two"
[steps.c]
prompt = "three"
[steps.d]
prompt = "four"
"""


def plan_env(emulator: EmulatorThread, tmp_path: Path, key: str) -> dict[str, str]:
    return {"QWEN_BASE_URL": emulator.base_url, "DASHSCOPE_API_KEY": key, "QWENVID_HOME": str(tmp_path / "h")}


def seconds_left(screen: str) -> int | None:
    found = LEFT.search(screen)
    return int(found.group(1)) * 60 + int(found.group(2)) if found else None


@pytest.fixture
def slow_emulator(make_emulator) -> EmulatorThread:  # type: ignore[no-untyped-def]
    """Tasks that run for a few real seconds, so that a person (and the test) can watch the view move."""
    return make_emulator(EmulatorConfig(pending_seconds=0.1, running_seconds=5.0))


def test_time_left_goes_down_and_waiting_steps_are_on_screen(
    slow_emulator: EmulatorThread, tmp_path: Path, canary_key: str
) -> None:
    (tmp_path / "four.toml").write_text(PLAN, encoding="utf-8")
    env = plan_env(slow_emulator, tmp_path, canary_key)
    term = Terminal("run", "four.toml", "--yes", env=env, cwd=tmp_path, columns=120)
    # The live view is up once it shows the time left (the preview table before it names no such thing).
    first = seconds_left(term.wait_for(" left", timeout=60))
    # wan2.1-t2v-turbo runs 2 tasks at a time: two steps wait for a slot, and the view says so.
    screen = term.wait_for("waiting for a slot", timeout=30)
    assert "running" in screen or "queued on the service" in screen
    assert first is not None
    time.sleep(2.5)
    term.pump(0.3)
    later = seconds_left(term.screen())
    assert later is not None and later < first, (first, later, term.screen())
    assert term.finish(timeout=120) == 0, term.text[-2000:]
    manifest = json.loads((tmp_path / "output" / "qwenvid" / "four" / "manifest.json").read_text())
    elapsed = {step["id"]: step["elapsed"] for step in manifest["steps"]}
    # One clock, from each task's start: steps submitted together took about as long (5 s tasks).
    assert max(elapsed.values()) - min(elapsed.values()) < 3.0, elapsed


def test_a_plan_continued_after_detach_counts_from_its_first_start(
    slow_emulator: EmulatorThread, tmp_path: Path, canary_key: str
) -> None:
    from qwenvid.plans.manifest import resumed_start

    (tmp_path / "four.toml").write_text(PLAN, encoding="utf-8")
    env = plan_env(slow_emulator, tmp_path, canary_key)
    term = Terminal("run", "four.toml", "--yes", "--detach", env=env, cwd=tmp_path)
    assert term.finish(timeout=60) == 5, term.text[-1500:]
    folder = tmp_path / "output" / "qwenvid" / "four"
    first = json.loads((folder / "manifest.json").read_text())
    assert resumed_start(folder) == first["started_at"]
    time.sleep(1.0)
    again = Terminal("run", "four.toml", "--yes", env=env, cwd=tmp_path)
    assert again.finish(timeout=120) == 0, again.text[-1500:]
    final = json.loads((folder / "manifest.json").read_text())
    assert final["started_at"] == first["started_at"]  # the same plan, counted from its first start
    adopted = [s for s in final["steps"] if s["task_id"] in {t["task_id"] for t in first["steps"] if t["task_id"]}]
    before = {s["id"]: s["started_at"] for s in first["steps"] if s["started_at"]}
    assert adopted and all(s["started_at"] == before[s["id"]] for s in adopted if s["id"] in before)


# -- narrow terminals --------------------------------------------------------------------------------------


def test_narrow_listings_at_60_columns_keep_the_status_and_whole_words(cli_home_with_a_task: Path) -> None:
    tasks = Terminal("tasks", env={"QWENVID_HOME": str(cli_home_with_a_task)}, cwd=cli_home_with_a_task, columns=60)
    assert tasks.finish(timeout=60) == 0
    screen = tasks.screen()
    assert "SUCCEEDED" in screen and "status" in screen and "…" not in screen.split("\n")[1], screen
    home = {"QWENVID_HOME": str(cli_home_with_a_task)}
    models = Terminal("models", env=home, cwd=cli_home_with_a_task, columns=60, rows=300)  # every family on screen
    assert models.finish(timeout=60) == 0
    lines = models.screen_.display
    assert any("3:4" in line for line in lines) and not any(line.rstrip().endswith("3:") for line in lines)
    assert all(not line.rstrip().endswith(("1280*", "*72")) for line in lines)


@pytest.fixture
def cli_home_with_a_task(tmp_path: Path) -> Path:
    import os
    import subprocess

    from tests.support.terminal import qwenvid_argv

    env = {**os.environ, "QWENVID_HOME": str(tmp_path)}
    argv = [*qwenvid_argv(), "--emulator", "t2v", "A kitten", "--model", "wan2.1-t2v-turbo", "--size", "832*480"]
    done = subprocess.run([*argv, "-o", str(tmp_path / "k.mp4")], env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return tmp_path
