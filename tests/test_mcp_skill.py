"""The SKILL.md for agents: printed by `qwenvid skill`, installed by `qwenvid skill install DIR`, and kept true:
its examples run as written against the emulator, and it states every exit code the CLI has."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qwenvid.cli import app
from qwenvid.emulator.server import EmulatorThread
from qwenvid.errors import ExitCode
from qwenvid.skill import skill_text
from tests.support.cli_emulator import cli  # noqa: F401 - fixture

runner = CliRunner()


def examples() -> list[tuple[str, int]]:
    """(command line, expected exit code) of every line of the skill's bash blocks; `# exit N` says a code."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", skill_text(), re.DOTALL):
        for line in block.splitlines():
            command, _, comment = line.partition("  # ")
            if command.strip():
                code = re.fullmatch(r"exit (\d+)", comment.strip())
                found.append((command.strip(), int(code.group(1)) if code else 0))
    return found


def test_skill_prints_the_shipped_file_and_installs_it_into_a_skills_folder(tmp_path: Path) -> None:
    printed = runner.invoke(app, ["skill"])
    assert printed.exit_code == 0, printed.stderr
    assert printed.stdout == skill_text()
    front = skill_text().split("---\n")[1]
    assert re.search(r"^name: qwenvid$", front, re.MULTILINE) and re.search(r"^description: .{40,}", front, re.M)

    installed = runner.invoke(app, ["skill", "install", str(tmp_path / "skills")])
    assert installed.exit_code == 0, installed.stderr
    target = tmp_path / "skills" / "qwenvid" / "SKILL.md"
    assert installed.stdout.strip() == str(target)
    assert target.read_text(encoding="utf-8") == skill_text()


def test_skill_states_every_exit_code_and_the_rule_never_to_resubmit_after_exit_6() -> None:
    text = skill_text()
    section = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    for code in ExitCode:
        assert re.search(rf"(^|[ ;*\n]){int(code)} ", section), f"exit {int(code)} is not in the skill"
    assert "Never resubmit after exit 6" in text and "qwenvid resume" in section


def test_every_skill_example_runs_as_written_with_json_against_the_emulator(cli: EmulatorThread) -> None:  # noqa: F811
    lines = examples()
    assert len(lines) >= 6 and all("--json" in line for line, _ in lines)  # rule 1: --json everywhere
    task_id = None
    for line, expected in lines:
        words = shlex.split(line.replace("TASK_ID", task_id or "TASK_ID"))
        assert words[0] == "qwenvid" and "TASK_ID" not in words, line
        result = runner.invoke(app, words[1:])
        assert result.exit_code == expected, f"{line}\n{result.stderr}"
        data = json.loads(result.stdout)  # stdout is exactly one JSON object
        if "--detach" in words:
            task_id = data["task_id"]
            assert data["error"]["type"] == "StillRunning" and task_id
        if "status" in words and "--wait" in words:
            assert data["ok"] is True and Path(data["video_path"]).is_file()
    assert task_id is not None
    assert cli.state.task_count() == 1  # the dry run sent nothing; the status and fetch paid nothing


@pytest.mark.parametrize("rule", ["--dry-run --json", "--detach", "qwenvid resume --json", "DASHSCOPE_API_KEY"])
def test_skill_names_the_safe_ways(rule: str) -> None:
    assert rule in skill_text()
