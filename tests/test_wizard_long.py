"""The wizard's long-video path: the questions build the same plan as `qwenvid extend`, and run it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from qwenvid.emulator.server import EmulatorThread
from tests.support.videos import make_mp4
from tests.test_cli_run import use_emulator
from tests.test_wizard import ENTER, in_process_emulator, pick, prompt_io, run, typed

__all__ = ["in_process_emulator", "prompt_io"]  # fixtures used here

LONG = pick(5)  # after the five modes


def long_keys(clip: Path, *, method: int = 0) -> str:
    return (
        LONG
        + typed(str(clip))
        + typed("12")
        + pick(method)
        + (ENTER if method != 1 else "")  # the segments' tier: the default (vace has one tier, no question)
        + typed("The road goes on")
        + typed("Night falls")  # 4 s to 12 s is 2 segments: 2 prompts, and no third question
        + ENTER  # no soundtrack
    )


def test_long_video_dry_run_shows_the_plan_and_the_command(
    prompt_io: Callable[[str], None],
    emulator: EmulatorThread,
    manual_clock,
    canary_key: str,
    monkeypatch,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    use_emulator(emulator, manual_clock, canary_key, monkeypatch)
    clip = make_mp4(tmp_path / "clip.mp4", width=832, height=480, seconds=4.0)
    prompt_io(long_keys(clip) + ENTER)
    result = run("wizard", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "long video: " in result.stderr and "2 new segment(s)" in result.stderr, result.stderr
    assert "segment-1" in result.stderr and "segment-2" in result.stderr
    assert "2 new segment(s) of about 5 s: one prompt each" in result.stderr
    expected = (
        f"qwenvid extend {clip} --to 12 --method continue --prompt 'The road goes on' --prompt 'Night falls' "
        "--resolution 720P --dry-run"
    )
    assert "The same as a command: " + expected in result.stderr
    assert emulator.state.task_count() == 0


def test_long_video_runs_on_the_emulator(
    prompt_io: Callable[[str], None], in_process_emulator: None, tmp_path: Path
) -> None:
    clip = make_mp4(tmp_path / "clip.mp4", width=832, height=480, seconds=4.0)
    prompt_io(long_keys(clip, method=2) + ENTER)  # last-frame
    result = run("--emulator", "wizard")
    assert result.exit_code == 0, result.stderr
    final = Path(result.stdout.strip())
    assert final.name == "trimmed.mp4" and final.is_file()
    assert "Cost: free (local emulator)" in result.stderr
