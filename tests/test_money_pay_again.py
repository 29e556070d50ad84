"""`--yes` confirms the cost; paying again for a request whose earlier submit may have been billed needs
`--pay-again` (product.md §3.1), in every front end: real CLI processes against the real emulator, whose
manual clock keeps the first task rendering ("cannot be checked yet")."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread
from tests.support.emulator import EmulatorFactory
from tests.support.terminal import Terminal, qwenvid_argv

KEY = "sk-canary-payagain-0123456789"
SMALL = ["--model", "wan2.1-t2v-turbo", "--size", "832*480"]
PLAN = """
[steps.only]
mode = "t2v"
model = "wan2.1-t2v-turbo"
size = "832*480"
duration = 5
prompt = "A lighthouse whose answer was lost"
"""


def environment(tmp_path: Path, base_url: str) -> dict[str, str]:
    # A threshold of 0: every run needs --yes (what scripts do), so --yes is always given below.
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / "config.toml").write_text("confirm_above_seconds = 0\n")
    return {"QWEN_BASE_URL": base_url, "DASHSCOPE_API_KEY": KEY, "QWENVID_HOME": str(home)}


def qv(tmp_path: Path, base_url: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **environment(tmp_path, base_url)}
    return subprocess.run([*qwenvid_argv(), *args], capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
                          env=env, stdin=subprocess.DEVNULL)


@pytest.fixture
def service(make_emulator: EmulatorFactory) -> EmulatorThread:
    return make_emulator(EmulatorConfig(pending_seconds=0.1, running_seconds=0.3), clock=ManualClock())


def refusal(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    assert result.returncode == 7, result.stderr
    error: dict[str, object] = json.loads(result.stdout)["error"]
    assert error["type"] == "ConfirmationRequired" and error["code"] == "PayAgainRequired"
    assert "--pay-again" in str(error["hint"]) and "--yes confirms the cost only" in str(error["message"])
    return error


@pytest.mark.parametrize(
    "command",
    [["t2v", "A kitten whose answer was lost", *SMALL],
     ["generate", "--request", json.dumps({"prompt": "A kitten whose answer was lost", "model": "wan2.1-t2v-turbo",
                                          "size": "832*480"})]],
    ids=["one-liner", "generate"],
)
def test_yes_after_exit_6_does_not_pay_twice(service: EmulatorThread, tmp_path: Path, command: list[str]) -> None:
    service.arm("drop-after-create:1")
    assert qv(tmp_path, service.base_url, *command, "--yes").returncode == 6
    # The task is still rendering: it cannot be checked yet, and --yes is no licence to pay again.
    refusal(qv(tmp_path, service.base_url, *command, "--yes", "--json"))
    assert len(service.state.tasks) == 1
    again = qv(tmp_path, service.base_url, *command, "--yes", "--pay-again", "--detach")
    assert again.returncode == 5, again.stderr  # submitted on purpose, not waited for (--detach)
    assert len(service.state.tasks) == 2


def test_the_question_is_asked_on_a_terminal_even_with_yes(service: EmulatorThread, tmp_path: Path) -> None:
    command = ["t2v", "A kitten asked about twice", *SMALL, "--yes"]
    service.arm("drop-after-create:1")
    assert qv(tmp_path, service.base_url, *command).returncode == 6
    terminal = Terminal(*command, env=environment(tmp_path, service.base_url), cwd=tmp_path)
    terminal.expect("may already have made a task. Submit again and pay twice?")
    terminal.type("\r")  # Enter means no
    assert terminal.finish() == 1
    assert "Nothing was submitted" in terminal.text and len(service.state.tasks) == 1


def test_a_plan_step_is_not_paid_twice_with_yes(service: EmulatorThread, tmp_path: Path) -> None:
    (tmp_path / "plan.toml").write_text(PLAN)
    service.arm("drop-after-create:1")
    first = qv(tmp_path, service.base_url, "run", "plan.toml", "--yes", "--timeout", "1")
    assert first.returncode == 5, first.stderr  # left reconciling: the task is still rendering
    refused = refusal(qv(tmp_path, service.base_url, "run", "plan.toml", "--yes", "--json"))
    assert "step only of this plan" in str(refused["message"])
    assert len(service.state.tasks) == 1
    paid = qv(tmp_path, service.base_url, "run", "plan.toml", "--yes", "--pay-again", "--detach", "--json")
    assert paid.returncode == 5, paid.stderr
    assert len(service.state.tasks) == 2


def test_every_front_end_offers_pay_again() -> None:
    from typer.testing import CliRunner

    from qwenvid.cli import app

    for command in (["t2v"], ["generate"], ["run"], ["extend"], ["s2v"], ["animate", "move"]):
        shown = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
        assert "--pay-again" in shown.stdout, command


def test_animate_after_exit_6_does_not_pay_twice(service: EmulatorThread, tmp_path: Path) -> None:
    from tests.support.media_files import make_image, make_mp4

    make_image(tmp_path / "person.png", 720, 1280)
    make_mp4(tmp_path / "motion.mp4", width=360, height=640, seconds=2.0)
    command = ["animate", "move", "--image", "person.png", "--video", "motion.mp4", "--yes"]
    service.arm("drop-after-create:1")
    assert qv(tmp_path, service.base_url, *command).returncode == 6
    refusal(qv(tmp_path, service.base_url, *command, "--json"))
    assert len(service.state.tasks) == 1
    # --pay-again gets past the guard; animate runs one task at a time, so the new one waits for the first's
    # slot until --timeout ends the wait with nothing submitted (exit 5 NotSubmitted), not PayAgainRequired.
    again = qv(tmp_path, service.base_url, *command, "--pay-again", "--timeout", "1", "--json")
    assert again.returncode == 5, again.stderr
    assert json.loads(again.stdout)["error"]["type"] == "NotSubmitted"
    assert len(service.state.tasks) == 1
