"""What a person sees: the plan's live progress and its one confirmation, through a real pseudo-terminal;
a 200-step plan's view stays a screenful; `qwenvid extend` and the README's `--emulator` story."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console
from typer.testing import CliRunner

from qwenvid.cli import app
from qwenvid.cli._output import Output
from qwenvid.cli._plan_progress import MAX_ACTIVE_ROWS, MAX_RECENT_ROWS, RichPlanProgress
from qwenvid.emulator.config import EmulatorConfig
from qwenvid.emulator.server import EmulatorThread
from tests.support.emulator import probe_mp4
from tests.support.terminal import Terminal, run_in_terminal
from tests.support.videos import make_mp4

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def terminal_env(emu: EmulatorThread, home: Path, key: str) -> dict[str, str]:
    """On top of what tests.support.terminal passes on (this environment, colour allowed, a real TERM)."""
    return {"QWEN_BASE_URL": emu.base_url, "DASHSCOPE_API_KEY": key, "QWENVID_HOME": str(home)}


@pytest.mark.slow
def test_live_progress_on_a_terminal(live_emulator: EmulatorThread, tmp_path: Path, canary_key: str) -> None:
    shutil.copy(EXAMPLES / "story.toml", tmp_path)
    shutil.copy(EXAMPLES / "soundtrack.wav", tmp_path)
    stdout = tmp_path / "stdout.txt"
    run = run_in_terminal(
        ["run", "story.toml", "--yes"],
        cwd=tmp_path,
        env=terminal_env(live_emulator, tmp_path / "h", canary_key),
        columns=100,
        timeout=120,
        stdout=stdout,
    )
    text = run.output
    assert run.returncode == 0, text
    assert stdout.read_text().strip().endswith("output/qwenvid/story/final.mp4")  # the path alone, for scripts
    assert "\x1b[" in text  # drawn live, not plain lines
    assert "Plan" in text and "/5 steps" in text and "billable" in text
    assert "Cost:" in text and "Plan story: 5 done" in text


@pytest.mark.slow
def test_one_confirmation_for_the_whole_plan_on_a_terminal(
    live_emulator: EmulatorThread, tmp_path: Path, canary_key: str
) -> None:
    env = terminal_env(live_emulator, tmp_path / "h", canary_key)
    args = ["run", str(EXAMPLES / "batch.jsonl"), "--model", "wan2.1-t2v-turbo", "--size", "832*480"]
    terminal = Terminal(*args, env=env, cwd=tmp_path, columns=100, stdout=tmp_path / "stdout.txt")
    # Visible before anything is typed; a loopback base URL bills nothing, so no "pay" (issue 17).
    shown = terminal.wait_for("Run the plan: 20 s (free: a local emulator at 127.0.0.1)?")
    assert "pay for" not in shown
    terminal.type("n\r")
    code = terminal.finish(120)
    assert code == 1, terminal.text
    assert "Nothing was submitted." in terminal.text
    assert not (tmp_path / "output").exists()  # the output folder was checked, not created, before the "no"
    assert live_emulator.state.task_count() == 0


def test_a_200_step_view_stays_a_screenful_and_its_time_left_counts_every_waiting_step() -> None:
    console = Console(width=100, record=True, file=open(os.devnull, "w"))  # noqa: SIM115
    now = [1000.0]
    view = RichPlanProgress(
        Output(_console=console), 200, 1000.0, auto_refresh=False, started_at=900.0, clock=lambda: now[0]
    )
    statuses = ["running"] * 5 + ["done"] * 100 + ["ready"] * 55 + ["failed"] * 3
    for n, status in enumerate(statuses):
        view.records[f"shot-{n}"] = SimpleNamespace(
            id=f"shot-{n}",
            status=status,
            hidden=False,
            model="wan2.6-t2v",
            op=None,
            kind="generate",
            billable_seconds=5.0,
            depends_on=[],
            started_at=980.0 if status == "running" else None,
            elapsed=None,
            estimate=60.0 if status == "running" else None,
        )
        view.estimates[f"shot-{n}"] = 60.0
        if status in ("done", "failed"):
            view.recent.append(f"shot-{n}")

    def screen() -> list[str]:
        console.print(view.render())
        return console.export_text().splitlines()

    lines = screen()
    assert len(lines) <= 2 + MAX_ACTIVE_ROWS + 1 + MAX_RECENT_ROWS + 1
    assert "103/200 steps" in lines[0] and "500/1000 s billable" in lines[0] and "1:40 elapsed" in lines[0]
    # 5 running with 40 s left each, then 55 waiting for wan2.6-t2v's 5 slots: 11 waves of ~60 s.
    assert "~11:40 left" in lines[0]
    assert "running 5" in lines[1] and "waiting for a slot 55" in lines[1] and "planned 37" in lines[1]
    assert any("and 52 more" in line and "waiting for a slot" in line for line in lines)
    assert any("0:20 / ~1:00 (estimate)" in line for line in lines)  # the step's own time, the same clock
    now[0] += 30
    assert "~11:10 left" in screen()[0]  # time passes: the plan's time left goes down with it


# -- extend ------------------------------------------------------------------------------------------




def test_extend_dry_run_builds_the_chain(cli: EmulatorThread, tmp_path: Path) -> None:
    clip = make_mp4(tmp_path / "clip.mp4", width=640, height=360, seconds=4.0)
    result = CliRunner().invoke(
        app, ["extend", str(clip), "--to", "12", "--prompt", "one", "--prompt", "two", "--dry-run", "--json"]
    )
    assert result.exit_code == 0, result.stderr
    plan = json.loads(result.stdout)
    ids = [s["id"] for s in plan["steps"] if not s["hidden"]]
    assert ids == ["source-tail", "segment-1", "segment-2", "joined", "trimmed"]
    requests = {s["id"]: s["request"]["payload"] for s in plan["steps"] if "request" in s}
    assert requests["segment-1"]["input"]["prompt"] == "one" and requests["segment-2"]["input"]["prompt"] == "two"
    assert plan["billable_seconds"] == 10
    assert cli.state.task_count() == 0


@pytest.mark.parametrize("method", ["continue", "last-frame", "vace"])
def test_extend_runs_and_reruns_for_free(cli: EmulatorThread, tmp_path: Path, method: str) -> None:
    clip = make_mp4(tmp_path / "clip.mp4", width=832, height=480, seconds=4.0)
    args = ["extend", str(clip), "--to", "9", "--prompt", "The road goes on", "--method", method, "--yes"]
    if method != "vace":
        args += ["--resolution", "720P"]
    if method == "last-frame":
        args += ["--model", "wan2.6-i2v"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    final = Path(result.stdout.strip())
    assert abs(probe_mp4(final).duration - 9.0) < 0.1
    tasks = cli.state.task_count()
    assert tasks == 1
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and cli.state.task_count() == tasks


def test_extend_refuses_what_adds_nothing(cli: EmulatorThread, tmp_path: Path) -> None:
    clip = make_mp4(tmp_path / "clip.mp4", seconds=2.0)
    result = CliRunner().invoke(app, ["extend", str(clip), "--to", "2", "--prompt", "x"])
    assert result.exit_code == 2 and "adds nothing" in result.stderr
    no_prompt = CliRunner().invoke(app, ["extend", str(clip), "--to", "8"])
    assert no_prompt.exit_code == 2 and "--prompt" in no_prompt.stderr


@pytest.mark.slow
def test_readme_story_on_the_in_process_emulator(tmp_path: Path) -> None:
    """As the README says: `qwenvid --emulator run examples/story.toml`."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    os.chdir(tmp_path)
    result = CliRunner().invoke(app, ["--emulator", "run", "examples/story.toml"])
    assert result.exit_code == 0, result.stderr
    assert Path(result.stdout.strip()).name == "final.mp4"
    assert "Cost: free (local emulator)" in result.stderr
    _ = EmulatorConfig  # the in-process emulator runs with its defaults


@pytest.mark.slow
def test_no_stale_progress_line_in_the_scrollback_after_lines_printed_mid_display(
    live_emulator: EmulatorThread, tmp_path: Path, canary_key: str
) -> None:
    """Issue 17: lines printed while the live view is drawn (here --debug's request log, a line per poll) go
    above it, and the view is cleared at the end: no frame of it is left in the scrollback, on a short screen."""
    env = terminal_env(live_emulator, tmp_path / "h", canary_key)
    args = ["--debug", "run", str(EXAMPLES / "batch.jsonl"), "--model", "wan2.1-t2v-turbo", "--size", "832*480",
            "--yes"]  # fmt: skip
    terminal = Terminal(*args, env=env, cwd=tmp_path, columns=100, rows=12, stdout=tmp_path / "stdout.txt")
    assert terminal.finish(120) == 0, terminal.text
    lines = terminal.scrollback()
    assert "\x1b[" in terminal.output and "/4 steps" in terminal.text  # the view was drawn live, lines came
    assert sum("debug: httpx" in line for line in lines) >= 4, "\n".join(lines)  # printed while it was drawn
    stale = [line for line in lines if "/4 steps" in line or "waiting for a slot" in line or "billable" in line
             and "elapsed" in line]  # fmt: skip
    assert not stale, "\n".join(lines)
    assert any("Plan batch: 4 done" in line for line in lines)
