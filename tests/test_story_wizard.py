"""The wizard's story path in a real pseudo-terminal: paragraph, cast, shots, look; the storyboard, then the film."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.support.terminal import Terminal
from tests.test_wizard import prompt_io

__all__ = ["prompt_io"]  # the pipe keyboard fixture

ROOT = Path(__file__).resolve().parents[1]
ENTER, DOWN = "\r", "\x1b[B"
PARAGRAPH = "Mira rows out at dawn. Tom waits on the pier. The fog rolls in. Mira and Tom meet at last."


def test_wizard_story_path_writes_the_plan_and_makes_the_film(isolated_env: Path) -> None:
    shutil.copytree(ROOT / "examples" / "cast", "cast")
    term = Terminal("--emulator", "wizard", env={"QWENVID_HOME": str(isolated_env)}, cwd=Path.cwd())
    term.wait_for("What do you want to make?")
    term.type(DOWN * 6 + ENTER)  # after the five modes and the long video
    term.wait_for("Your story, in a paragraph")
    term.type(PARAGRAPH + ENTER)
    shown = term.wait_for("Who is in it?")
    assert "Mira, Tom" in shown
    term.type("Mira Nobody" + ENTER)
    term.wait_for("not in the cast: Nobody")  # checked as typed, asked again
    term.type("\x15" + "Mira Tom" + ENTER)
    term.wait_for("How many shots?")
    term.type("4" + ENTER)
    term.wait_for("Resolution of the shots without the cast")
    term.type(ENTER)  # 480P
    shown = term.wait_for("Write the storyboard?")
    assert "cast: Mira, Tom" in shown
    term.type(ENTER)
    term.expect("storyboard")  # its token cost line
    term.expect("Run the plan (free: local emulator)?")
    term.type("y" + ENTER)
    assert term.finish(timeout=180) == 0, term.text[-2000:]
    text = term.text
    assert "tokens on qwen3.7-flash" in text
    assert "final.mp4" in text and "final.srt" in text
    assert "The same as a command: qwenvid --emulator story" in text
    plan = next(Path(".").glob("mira-rows-out-*.toml"))
    body = plan.read_text()
    assert 'cast = ["Mira", "Tom"]' in body and body.count("[steps.shot") == 4
    assert (Path("output/qwenvid") / plan.stem / "final.mp4").is_file()


KITES = """
name = "kites"

[defaults.t2v]
model = "wan2.1-t2v-turbo"
size = "832*480"

[steps.opening]
mode = "t2v"
prompt = "A kite rises over the dunes"
takes = 3
seed = 5

[steps.next]
mode = "i2v"
model = "wan2.1-i2v-turbo"
resolution = "480P"
image = "@opening:last-frame"
prompt = "The kite string snaps"
"""


def test_pick_asks_on_a_terminal_with_the_takes_side_by_side(isolated_env: Path) -> None:
    from typer.testing import CliRunner

    from qwenvid.cli import app

    Path("kites.toml").write_text(KITES, encoding="utf-8")
    made = CliRunner().invoke(app, ["--emulator", "run", "kites.toml", "--yes"])
    assert made.exit_code == 0, made.stderr
    term = Terminal("--emulator", "pick", "opening", "--plan", "kites.toml",
                    env={"QWENVID_HOME": str(isolated_env)}, cwd=Path.cwd())
    shown = term.wait_for("Which take of opening (1-3)?")
    assert "take 1   take 2   take 3" in shown and "▀" in shown  # the strip, drawn in half blocks
    assert "opening-takes.png" in term.text
    term.type("2" + ENTER)
    assert term.finish() == 0, term.text[-1500:]
    assert "Picked take 2 of opening (was take 1)" in term.text
    assert '"opening": 2' in (Path("output/qwenvid/kites/picks.json")).read_text()


def test_wizard_story_dry_run_writes_only_the_plan(cli, prompt_io) -> None:  # type: ignore[no-untyped-def]
    """Without a cast folder the question about the cast is not asked; a dry run stops at the plan file."""
    prompt_io(DOWN * 6 + ENTER + "A kite escapes over the dunes. A girl chases it." + ENTER + ENTER + ENTER + ENTER)
    from typer.testing import CliRunner

    from qwenvid.cli import app

    result = CliRunner().invoke(app, ["wizard", "--dry-run"])
    assert result.exit_code == 0, result.stderr
    assert "No cast/ folder here" in result.stderr
    plan = Path(result.stdout.strip())
    assert plan.suffix == ".toml" and plan.is_file()
    assert "The same as a command: qwenvid story 'A kite escapes over the dunes. A girl chases it.'" in result.stderr
    assert "--write-only" in result.stderr
    assert cli.state.task_count() == 0
