"""Every command keeps a one-line summary, option help with units/defaults, and an Examples section."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer
from typer.testing import CliRunner

from qwenvid.cli import app

COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
EXPECTED = {
    "t2v", "i2v", "kf2v", "r2v", "vace", "generate", "status", "fetch", "cancel", "tasks", "resume",
    "models", "doctor", "emulator",
}  # fmt: skip


def test_every_product_command_is_registered() -> None:
    assert EXPECTED <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_summary_option_help_and_examples(name: str) -> None:
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    summary = (command.help or "").strip().splitlines()
    assert summary and summary[0].endswith("."), f"{name}: one-line summary ending in a period"
    assert "Examples" in (command.epilog or ""), f"{name}: no Examples epilog"
    assert f"qwenvid {name}" in (command.epilog or "") or name == "emulator", f"{name}: examples do not run {name}"
    for param in command.params:
        if param.param_type_name == "option" and param.name != "help":
            assert getattr(param, "help", None), f"{name} {param.opts}: option without help"


@pytest.mark.parametrize("name", COMMANDS)
def test_help_renders_examples(name: str) -> None:
    result = CliRunner().invoke(app, [name, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "Examples" in result.stdout
    assert "$ qwenvid" in result.stdout


@pytest.mark.parametrize(
    ("command", "phrase"),
    [
        ("t2v", "seconds"),
        ("t2v", "1280*720"),
        ("t2v", "Default"),
        ("status", "--wait"),
        ("tasks", "YYYY-MM-DD"),
        ("emulator", "throttle:TARGET"),
    ],
)
def test_help_names_units_and_defaults(command: str, phrase: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "200"})
    assert phrase in " ".join(result.stdout.split())


def test_top_level_help_lists_exit_codes() -> None:
    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    for code in ("130 interrupted", "7 confirmation needed", "10 content moderation"):
        assert code in text


def test_help_does_not_import_heavy_modules() -> None:
    """`qwenvid --help` stays fast: none of the heavy libraries load for it."""
    probe = (
        "import sys\n"
        "sys.argv = ['qwenvid', '--help']\n"
        "from qwenvid.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('httpx', 'av', 'PIL', 'starlette', 'uvicorn', 'questionary') if m in sys.modules]\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert "HEAVY=" in result.stderr
    assert result.stderr.split("HEAVY=")[1].strip() == ""


def test_lazy_app_lists_every_command_exactly_as_the_full_app() -> None:
    """`qwenvid --help` loads no command module, yet shows the same list with the same summaries."""
    from typer.testing import CliRunner

    from qwenvid.cli import COMMANDS, build_app

    full = CliRunner().invoke(build_app(), ["--help"])
    lazy = CliRunner().invoke(build_app([]), ["--help"])
    assert full.exit_code == lazy.exit_code == 0
    assert lazy.stdout == full.stdout
    for name in COMMANDS:
        assert f" {name} " in full.stdout


def test_command_table_summaries_are_the_docstrings() -> None:
    from typer.main import get_command

    from qwenvid.cli import COMMANDS, build_app

    group = get_command(build_app())
    for name, (_module, summary) in COMMANDS.items():
        command = group.commands[name]  # type: ignore[attr-defined]
        assert (command.help or "").split("\n\n")[0].strip() == summary, name


def test_a_command_runs_even_when_another_one_was_guessed() -> None:
    """An argument order the guesser misreads still reaches the real command through the full app."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from qwenvid.cli import build_app; sys.argv=['qwenvid','models','--json'];"
            " build_app([])(args=['models', '--json'], prog_name='qwenvid')",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert '"wan2.6-t2v"' in done.stdout


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["t2v", "x", "--emulator"], ["--emulator", "t2v", "x"]),
        (["t2v", "x", "--region", "cn-beijing", "-q"], ["--region", "cn-beijing", "-q", "t2v", "x"]),
        (
            ["--debug", "status", "abc", "--base-url=http://h/api/v1"],
            ["--debug", "--base-url=http://h/api/v1", "status", "abc"],
        ),
        (
            ["--base-url", "http://h/api/v1", "t2v", "x", "--json"],
            ["--base-url", "http://h/api/v1", "--json", "t2v", "x"],
        ),
        (["t2v", "--", "--emulator"], ["t2v", "--", "--emulator"]),  # after --, a prompt is a prompt
        (["--help"], ["--help"]),
        (["nonsense", "--emulator"], ["nonsense", "--emulator"]),  # no command: left for Typer to refuse
    ],
)
def test_global_options_after_the_command_move_before_it(argv: list[str], expected: list[str]) -> None:
    from qwenvid.cli import hoist_global_options

    assert hoist_global_options(argv) == expected


def test_only_the_command_being_run_is_built() -> None:
    """`qwenvid t2v …` builds t2v's options only; its module-mates (i2v, …) are listed by name, and still run."""
    from typer.main import get_command

    from qwenvid.cli import build_app

    group = get_command(build_app(["t2v"]))
    commands = group.commands  # type: ignore[attr-defined]
    assert {param.name for param in commands["t2v"].params} >= {"prompt", "model", "duration"}
    assert commands["i2v"].params == [] and commands["generate"].params == []
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from qwenvid.cli import build_app; sys.argv = ['qwenvid', 'i2v', '--help'];"
            " build_app(['t2v'])(args=['i2v', '--help'], prog_name='qwenvid')",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "Animate an image" in done.stdout and "--image" in done.stdout, done.stderr
