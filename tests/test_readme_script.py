"""The README's script ("For scripts") runs as written under `bash -euo pipefail`, within a time limit: the
background emulator returns once it serves, every --json is one object, and the emulator is stopped after."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
README = Path(__file__).resolve().parents[1] / "README.md"


def readme_script() -> str:
    """The bash block of README "For scripts" that starts the background emulator."""
    section = README.read_text(encoding="utf-8").split("## For scripts", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, re.DOTALL)
    script = next(block for block in blocks if "emulator --background" in block)
    return script


def test_the_readme_script_runs_and_leaves_no_server(tmp_path: Path) -> None:
    script = readme_script()
    assert "URL=$(qwenvid emulator --background --port 0)" in script and 'emulator stop "$URL"' in script
    env = {**os.environ, "QWENVID_HOME": str(tmp_path / "home"),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    for name in ("QWEN_BASE_URL", "DASHSCOPE_API_KEY", "QWENVID_EMULATOR"):
        env.pop(name, None)
    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr  # pipefail: `qwenvid --help | head -1` exited 0 too
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["ok"] is True and Path(result["video_path"]).is_file()
    assert json.loads((tmp_path / "cost.json").read_text())["cost"]["billable_seconds"] == 5
    assert json.loads((tmp_path / "tasks.json").read_text())["count"] == 1
    # Stopped after: no record left, and the port serves nothing any more.
    assert not list((tmp_path / "home" / "emulators").glob("*.json"))
    url = json.loads((tmp_path / "tasks.json").read_text())["tasks"][0]["base_url"]
    probe = subprocess.run(["curl", "-s", "-o", "/dev/null", "--max-time", "2", url], capture_output=True)
    assert probe.returncode != 0
