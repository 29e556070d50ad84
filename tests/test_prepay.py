"""Never pay for nothing: a plan is refused before its first submit for anything that would fail after it;
every local file that leaves the machine is listed first, and a plan's files from outside its folder need
--allow-outside; `extend` makes its segments at the source's tier. Real processes against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from qwenvid.cli import app
from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread
from tests.support.terminal import Terminal, qwenvid_argv
from tests.support.videos import make_mp4

CANARY = "sk-canary-prepay-0123456789"


class Logged:
    """An emulator (manual clock) and the lines of every request it answered."""

    def __init__(self, emulator: EmulatorThread, lines: list[str]) -> None:
        self.emulator = emulator
        self.lines = lines

    @property
    def base_url(self) -> str:
        return self.emulator.base_url

    def posts(self) -> list[str]:
        """Uploads and submits (the only requests that send anything or cost anything)."""
        return [line for line in self.lines if " POST " in f" {line} "]

    def env(self) -> dict[str, str]:
        return {"QWEN_BASE_URL": self.base_url, "DASHSCOPE_API_KEY": CANARY}


@pytest.fixture
def logged(make_emulator: Callable[..., EmulatorThread], manual_clock: ManualClock) -> Logged:
    lines: list[str] = []
    emulator = make_emulator(EmulatorConfig(), clock=manual_clock, request_log=lines.append)
    return Logged(emulator, lines)


def qwenvid(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The console script in a real process, without a terminal."""
    return subprocess.run(
        [*qwenvid_argv(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
    )


def assert_refused_unpaid(result: subprocess.CompletedProcess[str], logged: Logged, code: int = 2) -> None:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    assert logged.posts() == [], logged.lines  # no upload, no submit
    assert logged.emulator.state.task_count() == 0
    assert CANARY not in result.stdout + result.stderr


# -- checks that used to fail only after paying --------------------------------------------------------

AFTER_PAYING = """
[steps.a]
model = "wan2.1-t2v-turbo"
prompt = "A lighthouse at dusk"
size = "832*480"
duration = 5
output = "shot.mov"

[steps.still]
op = "frame"
input = "@a"
output = "a.mov.json"

[steps.tail-of-still]
op = "concat"
inputs = ["@a", "@still:last-3s"]

[steps.late]
op = "trim"
input = "@a"
start = 6

[steps.sound]
op = "add_audio"
video = "@a"
audio = "@a"

[steps.alone]
op = "concat"
inputs = ["@a"]

[steps.short]
mode = "i2v"
model = "wan2.7-i2v"
prompt = "It goes on"
clip = "@a:last-1s"
duration = 5
"""

EXPECTED = (
    "step 'a': output 'shot.mov' must end in .mp4",
    "step 'still': output 'a.mov.json' must end in .png",
    "step 'tail-of-still': @still:last-3s: step 'still' makes a still image",
    "step 'late': start 6 is at or past the end of @a (planned 5 s)",
    "step 'sound': @a has no sound track, and this input takes audio",
    "step 'short': --clip @a:last-1s will be 1 s long; allowed: 2-10 s",
    "step 'alone': concat needs at least two inputs",
)


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "real-run"])
def test_a_plan_that_would_fail_after_paying_is_refused_before_any_submit(
    logged: Logged, tmp_path: Path, dry_run: bool
) -> None:
    plan = tmp_path / "after.toml"
    plan.write_text(AFTER_PAYING, encoding="utf-8")
    args = ["run", str(plan), "--yes", *(["--dry-run"] if dry_run else [])]
    result = qwenvid(*args, env=logged.env(), cwd=tmp_path)
    assert_refused_unpaid(result, logged)
    for line in EXPECTED:
        assert line in result.stderr, result.stderr
    assert "The plan has 7 problems; nothing was submitted." in result.stderr
    assert not (tmp_path / "output").exists()


def test_an_output_named_like_another_steps_sidecar_is_refused(cli: EmulatorThread, tmp_path: Path) -> None:
    plan = tmp_path / "sidecar.toml"
    plan.write_text(
        '[steps.a]\nmodel = "wan2.1-t2v-turbo"\nprompt = "x"\nsize = "832*480"\n\n'
        '[steps.b]\nop = "frame"\ninput = "@a"\noutput = "a.mp4.json"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["run", str(plan), "--yes"])
    assert result.exit_code == 2, result.stderr
    assert "output 'a.mp4.json' is the sidecar of step 'a''s video" in result.stderr
    assert cli.state.task_count() == 0


def test_max_seconds_is_applied_in_a_dry_run(logged: Logged, tmp_path: Path) -> None:
    plan = tmp_path / "two.txt"
    plan.write_text("A kitten\nA puppy\n", encoding="utf-8")
    args = ["run", str(plan), "--model", "wan2.1-t2v-turbo", "--size", "832*480", "--duration", "5"]
    result = qwenvid(*args, "--dry-run", "--max-seconds", "6", "--json", env=logged.env(), cwd=tmp_path)
    assert_refused_unpaid(result, logged)
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "ValidationError" and "more than --max-seconds 6" in error["message"]
    within = CliRunner().invoke(app, [*args, "--dry-run", "--max-seconds", "10"], env=logged.env())
    assert within.exit_code == 0, within.stderr


def test_an_events_file_that_cannot_be_written_is_refused_in_a_dry_run_too(cli: EmulatorThread, tmp_path: Path) -> None:
    plan = tmp_path / "one.txt"
    plan.write_text("A kitten\n", encoding="utf-8")
    (tmp_path / "taken").write_text("a file, not a folder", encoding="utf-8")
    events = str(tmp_path / "taken" / "events.jsonl")
    for extra in (["--dry-run"], ["--yes"]):
        result = CliRunner().invoke(app, ["run", str(plan), "--model", "wan2.1-t2v-turbo", "--events", events, *extra])
        assert result.exit_code == 2, result.stderr
        assert f"--events {events}: cannot write there" in result.stderr
    assert cli.state.task_count() == 0


# -- what leaves the machine -------------------------------------------------------------------------


def private_plan(tmp_path: Path) -> Path:
    """A shared plan in plan/ that points at a photo in secret/, beside it."""
    (tmp_path / "secret").mkdir()
    (tmp_path / "plan").mkdir()
    Image.new("RGB", (832, 480), "red").save(tmp_path / "secret" / "private-photo.png")
    Image.new("RGB", (832, 480), "blue").save(tmp_path / "plan" / "inside.png")
    plan = tmp_path / "plan" / "shared.toml"
    plan.write_text(
        '[defaults]\nmodel = "wan2.2-i2v-flash"\nresolution = "480P"\nduration = 5\n\n'
        '[steps.mine]\nmode = "i2v"\nprompt = "Waves"\nimage = "inside.png"\n\n'
        '[steps.theirs]\nmode = "i2v"\nprompt = "A face"\nimage = "../secret/private-photo.png"\n',
        encoding="utf-8",
    )
    return plan


def test_a_plan_does_not_upload_files_from_outside_its_folder_without_allow_outside(
    logged: Logged, tmp_path: Path
) -> None:
    plan = private_plan(tmp_path)
    secret = str((tmp_path / "secret" / "private-photo.png").resolve())
    result = qwenvid("run", str(plan), "--yes", "--json", env=logged.env(), cwd=tmp_path)  # --yes does not cover it
    assert_refused_unpaid(result, logged)
    assert "Uploads: 2 local files will leave this machine" in result.stderr
    assert str((tmp_path / "plan" / "inside.png").resolve()) in result.stderr
    assert f"1 of them is outside the plan's folder: {secret}" in result.stderr
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "OutsidePlanFolder" and error["code"] == "OutsidePlanFolder"
    assert secret in error["message"] and "--allow-outside" in error["hint"]
    dry = CliRunner().invoke(app, ["run", str(plan), "--dry-run", "--json"], env=logged.env())
    assert dry.exit_code == 0, dry.stderr
    uploads = {u["path"]: u["outside_plan_folder"] for u in json.loads(dry.stdout)["uploads"]}
    assert uploads[secret] is True and list(uploads.values()).count(False) == 1
    assert "would leave this machine" in dry.stderr and logged.posts() == []


def test_allow_outside_uploads_them_after_listing_them(cli: EmulatorThread, tmp_path: Path) -> None:
    plan = private_plan(tmp_path)
    result = CliRunner().invoke(app, ["run", str(plan), "--allow-outside"])
    assert result.exit_code == 0, result.stderr
    assert "Uploads: 2 local files will leave this machine" in result.stderr
    assert "outside the plan's folder" not in result.stderr
    assert cli.state.upload_count() == 2 and cli.state.task_count() == 2


@pytest.mark.slow
def test_on_a_terminal_the_plan_asks_before_uploading_files_from_outside(logged: Logged, tmp_path: Path) -> None:
    plan = private_plan(tmp_path)
    env = {**logged.env(), "QWENVID_HOME": os.environ["QWENVID_HOME"]}
    terminal = Terminal("run", str(plan), "--yes", env=env, cwd=tmp_path)
    terminal.wait_for("Upload 1 file from outside the plan's folder")
    assert "private-photo.png" in terminal.text
    terminal.type("n\r")
    assert terminal.finish() == 1, terminal.text
    assert "Nothing was submitted." in terminal.text
    assert logged.posts() == [] and logged.emulator.state.task_count() == 0


def test_a_one_liner_lists_its_upload_and_files_named_on_the_command_line_need_no_allow(
    cli: EmulatorThread, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    photo = elsewhere / "me.png"
    Image.new("RGB", (832, 480), "green").save(photo)
    args = ["i2v", "Smile", "--image", str(photo), "--model", "wan2.2-i2v-flash", "--resolution", "480P"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    assert "Uploads: 1 local file will leave this machine" in result.stderr
    assert f"{photo} (" in result.stderr and "as --image" in result.stderr
    again = CliRunner().invoke(app, [*args[:1], "Smile wider", *args[2:]])  # the same photo: its upload is reused
    assert again.exit_code == 0, again.stderr
    assert "Uploads: 0 local files will leave this machine" in again.stderr
    assert "as --image: reused, not uploaded" in again.stderr and cli.state.upload_count() == 1
    clip = make_mp4(elsewhere / "clip.mp4", width=832, height=480, seconds=3.0)
    extend = ["extend", str(clip), "--to", "6", "--prompt", "On", "--method", "last-frame", "--dry-run"]
    extended = CliRunner().invoke(app, extend)
    assert extended.exit_code == 0, extended.stderr
    assert f"{clip} (" in extended.stderr and "cut by step 'source-frame' (frame) first" in extended.stderr
    assert "outside the plan's folder" not in extended.stderr  # extend's clip, named by the user: no question


# -- extend's tier -----------------------------------------------------------------------------------


def extend_tiers(result: subprocess.CompletedProcess[str] | object) -> set[str]:
    stdout = getattr(result, "stdout", "")
    steps = json.loads(stdout)["steps"]
    return {s["tier"] for s in steps if s["kind"] == "generate"}


def test_extend_makes_segments_at_the_source_tier(logged: Logged, tmp_path: Path) -> None:
    source = make_mp4(tmp_path / "hd.mp4", width=1280, height=720, seconds=3.0)
    result = qwenvid("extend", str(source), "--to", "12", "--prompt", "On", "--dry-run", env=logged.env(), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert extend_tiers(result) == {"720P"}  # wan2.7-i2v's default would be 1080P
    assert "wan2.7-i2v 720P" in result.stderr  # the cost preview shows it
    explicit = CliRunner().invoke(
        app, ["extend", str(source), "--to", "12", "--prompt", "On", "--resolution", "1080P", "--dry-run"]
    )
    assert extend_tiers(explicit) == {"1080P"}
    small = make_mp4(tmp_path / "sd.mp4", width=832, height=480, seconds=3.0)
    above = CliRunner().invoke(app, ["extend", str(small), "--to", "8", "--prompt", "On", "--dry-run"])
    assert extend_tiers(above) == {"720P"}
    assert "wan2.7-i2v makes no 480P (the source's tier); new segments are made at 720P." in above.stderr
    flash = CliRunner().invoke(
        app,
        ["extend", str(small), "--to", "8", "--prompt", "On", "--method", "last-frame"]
        + ["--model", "wan2.2-i2v-flash", "--dry-run"],
    )
    assert extend_tiers(flash) == {"480P"} and "makes no" not in flash.stderr
    assert logged.posts() == []


@pytest.mark.slow
def test_the_wizard_asks_the_segment_tier_with_the_source_tier_first(tmp_path: Path) -> None:
    source = make_mp4(tmp_path / "hd.mp4", width=1280, height=720, seconds=3.0)
    env = {**os.environ, "TERM": "xterm-256color"}
    screen = Terminal("--emulator", "wizard", "--dry-run", env=env, cwd=tmp_path)
    screen.expect("What do you want to make?")
    screen.type("\x1b[B" * 5 + "\r")  # a long video
    screen.expect("Video to extend")
    screen.type(f"{source}\r")
    screen.expect("Target length")
    screen.type("8\r")
    screen.expect("How should each segment continue")
    screen.type("\r")  # continue (wan2.7-i2v: 720P or 1080P)
    shown = screen.wait_for("Resolution of the new segments")
    assert "720P (the source's tier) (default)" in shown and "1080P" in shown
    screen.type("\r")
    screen.expect("Prompt for segment 1 of 1")  # 3 s to 8 s: one 5 s segment, one prompt
    screen.type("The road goes on\r")
    screen.expect("Soundtrack")
    screen.type("\r")
    screen.expect("at 720P")  # the summary
    screen.expect("Show the plan")
    screen.type("\r")
    assert screen.finish() == 0, screen.text[-1500:]
    assert "--resolution 720P --dry-run" in screen.text
    assert "wan2.7-i2v 720P" in screen.text
