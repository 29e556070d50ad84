"""SIGKILL `qwenvid run` at several points of the story example, run it again: one task per generation step,
the same files as an uninterrupted run. And two `qwenvid run` at once share the model limits."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from qwenvid.emulator.config import EmulatorConfig
from qwenvid.emulator.server import EmulatorThread
from tests.test_plans_run import max_overlap

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

pytestmark = pytest.mark.slow


def env_for(emu: EmulatorThread, home: Path, key: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DASHSCOPE", "QWEN_"))}
    env |= {"QWEN_BASE_URL": emu.base_url, "DASHSCOPE_API_KEY": key, "QWENVID_HOME": str(home), "NO_COLOR": "1"}
    return env


def start(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "qwenvid", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def workdir(root: Path, name: str) -> Path:
    folder = root / name
    folder.mkdir()
    shutil.copy(EXAMPLES / "story.toml", folder)
    shutil.copy(EXAMPLES / "soundtrack.wav", folder)
    return folder


def records(cwd: Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads((cwd / "output/qwenvid/story/manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    return {s["id"]: s for s in data["steps"]}


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the kill point never came"
        time.sleep(0.005)


@pytest.fixture
def slow_emulator(make_emulator: Any) -> EmulatorThread:
    # Real clock, renders of a second or so, and big result files so that downloads take a moment.
    emulator: EmulatorThread = make_emulator(
        EmulatorConfig(pending_seconds=0.3, running_seconds=1.0, result_padding_bytes=4_000_000)
    )
    return emulator


def run_story(cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qwenvid", "run", "story.toml", "--yes"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


_REFERENCE: dict[str, str] = {}

KILL_POINTS: dict[str, Callable[[EmulatorThread, Path], bool]] = {
    "after the first submit": lambda emu, cwd: emu.state.task_count() >= 1,
    "mid download": lambda emu, cwd: (
        any(p.stat().st_size > 0 for p in (cwd / "output/qwenvid/story").glob("*.part"))
        if (cwd / "output/qwenvid/story").is_dir()
        else False
    ),
    "mid concat": lambda emu, cwd: records(cwd).get("film", {}).get("status") == "running",
}


@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_sigkill_then_rerun_pays_once_and_makes_the_same_files(
    slow_emulator: EmulatorThread, tmp_path: Path, canary_key: str, point: str
) -> None:
    emu = slow_emulator
    if not _REFERENCE:  # an uninterrupted run; the emulator's renders are the same bytes for the same request
        reference = workdir(tmp_path, "reference")
        done = run_story(reference, env_for(emu, tmp_path / "home-ref", canary_key))
        assert done.returncode == 0, done.stderr
        _REFERENCE.update({sid: s["sha256"] for sid, s in records(reference).items() if s["kind"] == "generate"})
    expected = dict(_REFERENCE)
    base = emu.state.task_count()

    killed = workdir(tmp_path, "killed")
    env = env_for(emu, tmp_path / "home", canary_key)
    proc = start(["run", "story.toml", "--yes"], killed, env)
    try:
        wait_for(lambda: KILL_POINTS[point](emu, killed), proc)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    began = time.monotonic()
    again = run_story(killed, env)
    print(f"rerun took {time.monotonic() - began:.1f} s")
    assert again.returncode == 0, again.stderr
    assert emu.state.task_count() - base == 2  # one task per generation step, whatever was killed
    got = records(killed)
    assert {sid: s["sha256"] for sid, s in got.items() if s["kind"] == "generate"} == expected
    assert {s["status"] for s in got.values()} <= {"done", "reused"}
    assert not list((killed / "output/qwenvid/story").glob("*.part"))


def test_two_runs_at_once_stay_within_the_model_limit_together(
    make_emulator: Any, tmp_path: Path, canary_key: str
) -> None:
    # wan2.1-t2v-turbo: 2 tasks at once, 2 submits a second. "reject": one more would be a 429.
    emu: EmulatorThread = make_emulator(
        EmulatorConfig(pending_seconds=0.2, running_seconds=1.0, concurrency_mode="reject")
    )
    env = env_for(emu, tmp_path / "home", canary_key) | {"QWENVID_DEBUG": "1"}
    procs = []
    for name in ("one", "two"):
        cwd = tmp_path / name
        cwd.mkdir()
        (cwd / f"{name}.txt").write_text("\n".join(f"{name} shot {n}" for n in range(6)))
        procs.append(
            start(["run", f"{name}.txt", "--yes", "--model", "wan2.1-t2v-turbo", "--size", "832*480"], cwd, env)
        )
    outputs = [proc.communicate(timeout=180) for proc in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    assert emu.state.task_count() == 12
    answers = [line for _out, err in outputs for line in err.splitlines() if " -> " in line and "request_id" in line]
    assert any("-> 200" in line for line in answers)  # --debug logs every answer the client got
    assert max_overlap(emu) == {"wan2.1-t2v-turbo": 2}
    throttled = [line for line in answers if "-> 429" in line]
    assert not throttled, throttled[:5]


def test_ctrl_c_exits_130_cancels_nothing_and_a_rerun_finishes(
    slow_emulator: EmulatorThread, tmp_path: Path, canary_key: str
) -> None:
    emu = slow_emulator
    cwd = workdir(tmp_path, "interrupted")
    env = env_for(emu, tmp_path / "home", canary_key)
    proc = start(["run", "story.toml", "--yes"], cwd, env)
    wait_for(lambda: emu.state.task_count() >= 1 and records(cwd).get("opening", {}).get("task_id") is not None, proc)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "submitted tasks keep running" in err
    assert all(task.status != "CANCELED" for task in emu.state.tasks)
    again = run_story(cwd, env)
    assert again.returncode == 0, again.stderr
    assert emu.state.task_count() == 2
