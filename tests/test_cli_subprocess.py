"""The installed console script in real subprocesses: the quick start, exit codes, and Ctrl-C / kill -9 + resume."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest

from tests.support.terminal import qwenvid_argv

pytestmark = pytest.mark.slow

CANARY = "sk-canary-subprocess-0123456789"


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*qwenvid_argv(), *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/api/v1"


def test_quick_start_makes_a_playable_mp4_and_prints_only_its_path() -> None:
    result = run("--emulator", "t2v", "A kitten running in the moonlight")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    path = Path(lines[0])
    with av.open(str(path)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert abs(float(container.duration or 0) / av.time_base - 5) < 0.2
    assert "Cost: free" in result.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["t2v", "x", "--model", "wan2.7-t2v", "--size", "1280*720"], 2),
        (["t2v"], 2),
        (["--base-url", "CLOSED", "t2v", "A kitten", "--dry-run"], 0),
        (["t2v", "A kitten", "--duration", "15", "--base-url-unknown"], 2),
    ],
)
def test_exit_codes_through_the_console_script(args: list[str], code: int) -> None:
    args = [closed_port_url() if arg == "CLOSED" else arg for arg in args]
    result = run(*args, env={"DASHSCOPE_API_KEY": CANARY})
    assert result.returncode == code, result.stderr
    assert (result.stdout == "") == (code != 0)
    assert CANARY not in result.stdout + result.stderr


def test_no_key_is_exit_3_through_the_console_script() -> None:
    env = dict.fromkeys(("DASHSCOPE_API_KEY", "QWEN_API_KEY"), "")
    result = run("--base-url", closed_port_url(), "t2v", "A kitten", env=env)
    assert result.returncode == 3, result.stderr
    assert "DASHSCOPE_API_KEY" in result.stderr and result.stdout == ""


@pytest.fixture
def emulator_process() -> Iterator[str]:
    """`qwenvid emulator --port 0` with slow timings, so a wait can be interrupted; yields its base URL."""
    process = subprocess.Popen(
        [*qwenvid_argv(), "emulator", "--port", "0", "--pending-seconds", "0.2", "--running-seconds", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/api/v1")
        yield base_url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def start_and_wait_for_submit(
    base_url: str, env: dict[str, str], prompt: str, *, until: str = " submitted ("
) -> tuple[subprocess.Popen[str], str]:
    """Start a generation; return its task id once the submit is on stderr and a line with `until` follows."""
    process = subprocess.Popen(
        [*qwenvid_argv(), "t2v", prompt, "--model", "wan2.1-t2v-turbo", "--size", "832*480"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stderr is not None
    found: list[str] = []
    lines: list[str] = []

    def read() -> None:
        for line in process.stderr:  # type: ignore[union-attr]
            lines.append(line)
            if " submitted (" in line:
                found.append(line.split()[1])
            if found and until in line:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout=30)
    assert found, "no submit line on stderr: " + "".join(lines)
    return process, found[0]


def emulator_state(base_url: str) -> dict[str, object]:
    root = base_url.removesuffix("/api/v1")
    return httpx.get(root + "/__emulator/state").json()


def test_sigint_and_sigkill_mid_wait_are_finished_by_resume(emulator_process: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "QWEN_BASE_URL": emulator_process,
        "DASHSCOPE_API_KEY": CANARY,
        "QWENVID_HOME": str(tmp_path / "home"),
    }
    # Interrupt inside the wait: the task is rendering (the line names it) and nobody is watching it.
    interrupted, first_id = start_and_wait_for_submit(
        emulator_process, env, "Interrupted kitten", until=": RUNNING after"
    )
    interrupted.send_signal(signal.SIGINT)
    out, err = interrupted.communicate(timeout=30)
    assert interrupted.returncode == 130, err
    assert out == ""
    assert first_id in err and f"qwenvid status {first_id} --wait" in err

    killed, second_id = start_and_wait_for_submit(emulator_process, env, "Killed kitten")
    killed.kill()
    killed.wait(timeout=10)
    assert first_id != second_id

    # Both tasks run on without anyone watching; resume picks them up from the ledger.
    deadline = time.monotonic() + 30
    while emulator_state(emulator_process)["tasks_by_status"] != {"SUCCEEDED": 2}:
        assert time.monotonic() < deadline, emulator_state(emulator_process)
        time.sleep(0.2)
    result = run("resume", "--json", env=env)
    assert result.returncode == 0, result.stderr
    outcomes = json.loads(result.stdout)["outcomes"]
    finished = {item["result"]["task_id"]: Path(item["result"]["video_path"]) for item in outcomes if item["result"]}
    assert set(finished) == {first_id, second_id}
    assert all(path.is_file() and path.stat().st_size > 0 for path in finished.values())
    assert emulator_state(emulator_process)["task_count"] == 2  # nothing was submitted twice
    assert CANARY not in result.stdout + result.stderr + err


def test_emulator_help_documents_faults() -> None:
    result = run("emulator", "--help", env={"COLUMNS": "120"})
    assert result.returncode == 0
    assert "fail:CODE" in result.stdout and "throttle:TARGET" in result.stdout


@pytest.mark.parametrize(
    ("words", "cword", "expected"),
    [
        ("qwenvid t", 1, {"t2v", "tasks"}),
        ("qwenvid t2v --mo", 2, {"--model"}),
        ("qwenvid --emulator vace --vi", 3, {"--video"}),
    ],
)
def test_shell_completion_sees_every_command_and_option(words: str, cword: int, expected: set[str]) -> None:
    """Typer's bash completion protocol, through the console script (which loads every command for it)."""
    result = run(env={"_QWENVID_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)})
    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == expected


@pytest.mark.parametrize(("no_color", "colored"), [(None, True), ("1", False)])
def test_no_color_is_respected(no_color: str | None, colored: bool) -> None:
    env = {"FORCE_COLOR": "1", "TERM": "xterm"}
    if no_color is not None:
        env["NO_COLOR"] = no_color
    base = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    result = subprocess.run(
        [*qwenvid_argv(), "t2v", "x", "--duration", "99"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**base, **env},
    )
    assert result.returncode == 2
    assert ("\x1b[31m" in result.stderr) is colored
    assert "Error: --duration 99" in result.stderr and result.stdout == ""


def test_global_options_work_after_the_command_too() -> None:
    result = run("t2v", "A kitten", "--model", "wan2.1-t2v-turbo", "--size", "832*480", "--emulator", "--quiet")
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()).is_file() and result.stderr == ""
