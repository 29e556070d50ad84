"""One rule: every file qwenvid writes is private from its first byte. Real CLI processes under a permissive
umask (022) run a plan with media steps (a last frame, a tail, a concat), an edit and rerun (superseded/), a
one-liner, all on the bundled emulator (its renders in the state folder); then every path is walked."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
from pathlib import Path

from tests.support.terminal import qwenvid_argv

KEY = "sk-canary-private-0123456789"
PLAN = """
name = "private"

[steps.shot]
mode = "t2v"
model = "wan2.1-t2v-turbo"
size = "832*480"
duration = 5
prompt = "A kite over the sea"

[steps.next]
mode = "i2v"
model = "wan2.1-i2v-turbo"
resolution = "480P"
duration = 3
image = "@shot:last-frame"
prompt = "{prompt}"

[steps.shot_tail]
op = "tail"
input = "@shot"
seconds = 1

[steps.film]
op = "concat"
inputs = ["@shot_tail", "@next"]
"""


def qv(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DASHSCOPE_API_KEY": KEY, "QWENVID_HOME": str(tmp_path / "home")}
    env.pop("QWEN_BASE_URL", None)
    return subprocess.run([*qwenvid_argv(), "--emulator", *args], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, preexec_fn=lambda: os.umask(0o022))


def test_everything_qwenvid_writes_is_private(tmp_path: Path) -> None:
    plan = tmp_path / "plans" / "private.toml"
    plan.parent.mkdir()
    plan.write_text(PLAN.format(prompt="It goes on"))
    before = set(tmp_path.rglob("*"))
    assert (result := qv(tmp_path, "run", str(plan), "--yes")).returncode == 0, result.stderr
    manifest = tmp_path / "output" / "qwenvid" / "private" / "manifest.json"
    (old,) = [step for step in json.loads(manifest.read_text())["steps"] if step["id"] == "next"]
    plan.write_text(PLAN.format(prompt="It turns back"))  # edited: its old outputs go to superseded/
    assert (result := qv(tmp_path, "run", str(plan), "--yes")).returncode == 0, result.stderr
    # The old task's video is followed where the rerun moved it, verified by its sha256 (no request needed).
    fetched = qv(tmp_path, "fetch", old["task_id"])
    assert fetched.returncode == 0, fetched.stderr
    moved = tmp_path / fetched.stdout.strip()
    assert "superseded" in moved.parts and hashlib.sha256(moved.read_bytes()).hexdigest() == old["sha256"]
    assert "already downloaded" in fetched.stderr
    assert (result := qv(tmp_path, "t2v", "A kite", "--model", "wan2.1-t2v-turbo", "--size", "832*480",
                         "-o", "videos/kite.mp4")).returncode == 0, result.stderr

    written = sorted(p for p in tmp_path.rglob("*") if p not in before)
    names = {p.name for p in written}
    assert {"film.mp4", "manifest.json", "superseded", "emulator-renders", "plan-slots.lock",
            "kite.mp4", "ledger.sqlite3"} <= names, names
    assert any(name.endswith(".last-frame.png") for name in names), names
    loose = [f"{p.relative_to(tmp_path)} {stat.filemode(p.lstat().st_mode)}" for p in written
             if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077]
    assert not loose, "readable by others:\n" + "\n".join(loose)
