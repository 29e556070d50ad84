"""The emulator's banner, as a person sees it in a terminal, tells the truth about that server: which keys
work (and a sample command that then works), and whether requests are logged."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.support.terminal import Terminal, qwenvid_argv

pytestmark = pytest.mark.slow
SAMPLE = re.compile(r"qwenvid:\s+(QWEN_BASE_URL=\S+ DASHSCOPE_API_KEY=\S+ qwenvid t2v \"A kitten\")")


def banner(tmp_path: Path, *args: str) -> tuple[Terminal, str]:
    term = Terminal("emulator", "--port", "0", *args, env={"QWENVID_HOME": str(tmp_path / "h")}, cwd=tmp_path)
    screen = term.wait_for("dashscope SDK:", timeout=60)
    return term, screen


def run_sample(line: str, tmp_path: Path, name: str = "k.mp4") -> subprocess.CompletedProcess[str]:
    words = shlex.split(line)
    env = {**os.environ, "QWENVID_HOME": str(tmp_path / "client")}
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    assert words[0] == "qwenvid"
    # The sample as printed, made small (the model's default is 1080P) and sent to a file of its own.
    argv = [*qwenvid_argv(), *words[1:], "--model", "wan2.1-t2v-turbo", "--size", "832*480", "-o", name]
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)


def test_the_default_banner_says_any_key_works_and_that_requests_are_logged(tmp_path: Path) -> None:
    term, screen = banner(tmp_path)
    try:
        assert "any API key works" in screen and "Requests are logged below" in screen
        sample = SAMPLE.search(" ".join(screen.split()))
        assert sample is not None, screen
        assert run_sample(sample.group(1), tmp_path).returncode == 0
        term.wait_for("POST /api/v1/services/aigc", timeout=30)  # and it is logged, as the banner says
    finally:
        term.interrupt()
        assert term.finish(timeout=30) in (0, 130)


def test_under_api_key_and_no_log_the_banner_says_so(tmp_path: Path) -> None:
    term, screen = banner(tmp_path, "--api-key", "sk-emulator-banner-key", "--no-log")
    try:
        flat = " ".join(screen.split())
        assert "any API key works" not in flat and "only the keys given with --api-key work" in flat
        assert "Requests are logged" not in flat  # --no-log: nothing is
        assert "sk-emulator-banner-key" not in term.text  # the key itself is never printed
        sample = SAMPLE.search(flat)
        assert sample is not None and "DASHSCOPE_API_KEY=YOUR_API_KEY" in sample.group(1)
        done = run_sample(sample.group(1).replace("YOUR_API_KEY", "sk-emulator-banner-key"), tmp_path)
        assert done.returncode == 0, done.stderr
        refused = run_sample(sample.group(1).replace("YOUR_API_KEY", "sk-some-other-key"), tmp_path, "other.mp4")
        assert refused.returncode == 3  # only the given keys work, as the banner said
        term.pump(0.5)
        assert "POST /api/v1" not in term.text  # and nothing was logged
    finally:
        term.interrupt()
        assert term.finish(timeout=30) in (0, 130)
