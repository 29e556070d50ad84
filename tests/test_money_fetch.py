"""`qwenvid fetch OLD` after the file at its path became another video: verified by the ledger's sha256, never
"already downloaded" pointing at another video. Real CLI processes, real emulator. (Following a video a plan rerun
moved to superseded/ is tested in test_money_private_files.py, which makes one.)"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from qwenvid.emulator.config import EmulatorConfig
from qwenvid.emulator.server import EmulatorThread
from tests.support.emulator import EmulatorFactory
from tests.support.terminal import qwenvid_argv

KEY = "sk-canary-fetch-0123456789"
SMALL = ["--model", "wan2.1-t2v-turbo", "--size", "832*480", "--duration", "5"]


@pytest.fixture
def service(make_emulator: EmulatorFactory) -> EmulatorThread:
    return make_emulator(EmulatorConfig(pending_seconds=0.05, running_seconds=0.1))


def qv(tmp_path: Path, service: EmulatorThread, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QWEN_BASE_URL": service.base_url, "DASHSCOPE_API_KEY": KEY,
           "QWENVID_HOME": str(tmp_path / "home")}
    return subprocess.run([*qwenvid_argv(), *args], capture_output=True, text=True, timeout=90, cwd=tmp_path,
                          env=env, stdin=subprocess.DEVNULL)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fetch_after_overwrite_by_another_run_does_not_point_at_the_other_video(
    service: EmulatorThread, tmp_path: Path
) -> None:
    first = qv(tmp_path, service, "t2v", "A red kitten", *SMALL, "-o", "x.mp4", "--json")
    assert first.returncode == 0, first.stderr
    old = json.loads(first.stdout)
    second = qv(tmp_path, service, "t2v", "A blue whale", *SMALL, "-o", "x.mp4", "--overwrite", "--json")
    assert second.returncode == 0, second.stderr
    replaced = sha(tmp_path / "x.mp4")
    assert replaced != old["sha256"]

    fetched = qv(tmp_path, service, "fetch", old["task_id"], "--json")
    assert fetched.returncode == 0, fetched.stderr
    assert "already downloaded" not in fetched.stderr
    again = json.loads(fetched.stdout)
    saved = tmp_path / again["video_path"]  # relative paths are the run's folder's
    assert saved.resolve() != (tmp_path / "x.mp4").resolve()
    assert sha(saved) == old["sha256"]  # the old task's own video, downloaded again
    assert sha(tmp_path / "x.mp4") == replaced  # the other run's video untouched

