"""`qwenvid story`: a paragraph to a finished, narrated film on the emulator; reruns, edits, refusals."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import av
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.emulator.server import EmulatorThread
from qwenvid.store.story_costs import totals
from qwenvid.story.narration import parse_srt
from tests.support.emulator import probe_mp4

PARAGRAPH = (
    "Mira rows out at dawn. Tom waits on the pier. The fog rolls in over the harbour. Mira and Tom meet at last."
)


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def cast(isolated_env: Path) -> None:
    for name, colour in (("Mira", (200, 60, 40)), ("Tom", (40, 80, 200))):
        Image.new("RGB", (480, 640), colour).save(f"{name}.png")
        assert run("cast", "add", name, "--image", f"{name}.png").exit_code == 0


def story(*extra: str) -> Result:
    return run("story", PARAGRAPH, "--cast", "Mira", "--cast", "Tom", "--resolution", "480P", "--yes", *extra)


def costs(home: Path) -> list[tuple[str, str, str, float, int]]:
    """What the ledger recorded of non-video costs (kind, model, unit, units, calls)."""
    return totals(home / "ledger.sqlite3")


def test_paragraph_to_a_narrated_film_and_reruns(cli: EmulatorThread, cast: None, isolated_env: Path) -> None:
    result = story()
    assert result.exit_code == 0, result.stderr
    plan = next(Path(".").glob("mira-rows-out-*.toml"))
    folder = Path("output/qwenvid") / plan.stem
    final, srt = folder / "final.mp4", folder / "final.srt"
    assert result.stdout.split()[-2:] == [str(final.resolve()), str(srt.resolve())]
    assert "storyboard" in result.stderr and "tokens on qwen3.7-flash" in result.stderr
    assert "narration 104 characters on qwen3-tts-flash" in result.stderr

    # 4+ shots; the two characters' references in every request that shows them.
    manifest = json.loads((folder / "manifest.json").read_text())
    shots = [s for s in manifest["steps"] if s["id"].startswith("shot") and not s["hidden"]]
    assert len(shots) >= 4
    mira, tom = (Path("cast") / n / "portrait.png" for n in ("Mira", "Tom"))
    showing = 0
    for task in cli.state.tasks:
        prompt = task.body["input"]["prompt"]
        refs = task.body["input"].get("reference_urls", [])
        if "character2" in prompt:
            assert len(refs) == 2
        elif "character1" in prompt:
            assert len(refs) == 1
        else:
            assert refs == []
        showing += bool(refs)
    assert showing >= 3  # Mira alone, Tom alone, both
    text = plan.read_text()
    assert 'cast = ["Mira", "Tom"]' in text and 'cast = ["Mira"]' in text and 'cast = ["Tom"]' in text
    assert mira.is_file() and tom.is_file()

    # The film: video with the narration's sound; the SRT timed to the spoken lines.
    facts = probe_mp4(final)
    assert facts.audio_codecs == ("aac",)
    film = probe_mp4(folder / "film.mp4")
    assert facts.duration == pytest.approx(film.duration, abs=0.1)
    cues = parse_srt(srt.read_text())
    lines = sorted((folder / "narration").glob("shot*.wav"))
    assert len(cues) == len(lines) == 4
    spoken = {}
    for path in lines:
        with wave.open(str(path)) as wav:
            spoken[path.name.split("-")[0]] = wav.getnframes() / wav.getframerate()
    for cue, shot in zip(cues, ("shot1", "shot2", "shot3", "shot4"), strict=True):
        assert cue.end - cue.start == pytest.approx(spoken[shot], abs=0.002)
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:], strict=False))
    with wave.open(str(folder / "narration" / "track.wav")) as track:
        assert track.getnframes() / track.getframerate() == pytest.approx(cues[-1].end, abs=0.01)
    with av.open(str(final)) as container:
        assert container.streams.audio[0].duration is not None

    # The key never shows: not in the output, the plan, the ledger's story costs or the sidecars.
    from tests.support.emulator import CANARY_KEY

    assert CANARY_KEY not in result.stdout + result.stderr + plan.read_text()
    assert CANARY_KEY.encode() not in (isolated_env / "ledger.sqlite3").read_bytes()
    assert all(CANARY_KEY not in p.read_text() for p in folder.glob("*.json"))

    recorded = json.loads((folder / "manifest.json").read_text())["film"]
    assert recorded["video"] == str(final.resolve()) and len(recorded["lines"]) == 4

    # Running it again pays nothing: no task, no text model call, no speech.
    tasks, paid = len(cli.state.tasks), costs(isolated_env)
    again = story()
    assert again.exit_code == 0, again.stderr
    assert "Reusing the storyboard" in again.stderr
    assert len(cli.state.tasks) == tasks and costs(isolated_env) == paid
    assert "0 line(s) spoken, 4 reused" in again.stderr

    # Editing one shot's prompt: that shot and what is built on it (shot3 continues shot2), nothing else.
    plan.write_text(text.replace('prompt = "Tom waits on the pier."', 'prompt = "Tom waits on the pier, waving."'))
    edited = story()
    assert edited.exit_code == 0, edited.stderr
    new = sorted(cli.state.tasks, key=lambda t: t.submit_at)[tasks:]
    assert sorted(t.body["input"]["prompt"] for t in new) == [
        "The fog rolls in over the harbour.",
        "character1 waits on the pier, waving.",
    ]
    assert costs(isolated_env) == paid  # the lines did not change: nothing spoken again


def test_write_only_writes_an_ordinary_plan(cli: EmulatorThread, cast: None) -> None:
    result = story("--write-only", "-o", "tale.toml", "--shots", "5")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "tale.toml"
    assert cli.state.task_count() == 0
    dry = run("run", "tale.toml", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    requests = json.loads(dry.stdout)
    assert "narration" in dry.stderr
    assert len([s for s in requests["steps"] if s["kind"] == "generate"]) == 5


def test_a_refused_paragraph_is_exit_10_nothing_paid(cli: EmulatorThread, cast: None, isolated_env: Path) -> None:
    result = run("story", "Something unspeakable [[emu:inspect]].", "--yes")
    assert result.exit_code == 10
    assert "inappropriate content" in result.stderr and "Traceback" not in result.stderr
    assert not list(Path(".").glob("*.toml"))
    assert cli.state.task_count() == 0 and costs(isolated_env) == []


def test_story_without_a_yes_and_no_terminal_is_exit_7_after_writing(cli: EmulatorThread, cast: None) -> None:
    result = run("story", PARAGRAPH, "--cast", "Mira", "-o", "tale.toml")
    assert result.exit_code == 7
    assert Path("tale.toml").is_file() and cli.state.task_count() == 0
