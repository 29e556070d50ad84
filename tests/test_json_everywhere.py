"""`--json` on every command that takes it, before the command and after it alike: the real stdout of the
console script is exactly one JSON object (json.loads of all of it), whatever the outcome."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qwenvid.cli import _session, app
from qwenvid.emulator.server import EmulatorThread
from tests.support.media_files import make_image, make_mp4, make_wav
from tests.support.terminal import qwenvid_argv

pytestmark = pytest.mark.slow

KEY = "sk-json-everywhere-0123456789"
SMALL = ("--model", "wan2.1-t2v-turbo", "--size", "832*480")
PLAN = '[steps.one]\nprompt = "A kitten"\nmodel = "wan2.1-t2v-turbo"\nsize = "832*480"\n'
_count = itertools.count()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The inputs the commands name, made once for the module."""
    folder = tmp_path_factory.mktemp("json-media")
    make_image(folder / "cat.png", 640, 480)
    make_mp4(folder / "clip.mp4", width=320, height=240, seconds=4.0, audio=True)
    make_wav(folder / "song.wav", seconds=2.0)
    (folder / "plan.toml").write_text(PLAN, encoding="utf-8")
    return folder


@pytest.fixture
def env(live_emulator: EmulatorThread, isolated_env: Path, media: Path) -> dict[str, str]:
    for source in media.iterdir():
        (Path.cwd() / source.name).symlink_to(source)
    return {**os.environ, "QWENVID_HOME": str(isolated_env), "QWEN_BASE_URL": live_emulator.base_url,
            "DASHSCOPE_API_KEY": KEY}  # fmt: skip


def both(env: dict[str, str], *words: str, console_script: bool = False) -> list[tuple[int, dict[str, Any]]]:
    """The command with --json first (global) and last (after its arguments): each stdout is one object.

    In this process (the same app and error boundary, hoisting included), or as the console script itself.
    """
    results = []
    for argv in (["--json", *words], [*words, "--json"]):
        argv = [word.replace("{n}", str(next(_count))) for word in argv]
        if console_script:
            done = subprocess.run([*qwenvid_argv(), *argv], capture_output=True, text=True, env=env, timeout=120)
            code, stdout, stderr = done.returncode, done.stdout, done.stderr
        else:
            result = CliRunner().invoke(app, argv, env={k: env[k] for k in ENV})
            code, stdout, stderr = result.exit_code, result.stdout, result.stderr
            assert "unexpected" not in stderr, stderr
        try:
            data = json.loads(stdout)
        except ValueError:
            raise AssertionError(f"qwenvid {' '.join(argv)}: stdout is not one JSON document:\n{stdout!r}\n"
                                 f"{stderr}") from None  # fmt: skip
        assert isinstance(data, dict), (argv, stdout)
        assert KEY not in stdout + stderr
        results.append((code, data))
    return results


ENV = ("QWENVID_HOME", "QWEN_BASE_URL", "DASHSCOPE_API_KEY")
# Run as the console script too: the eager --version, the sub-apps, and what draws for people.
CONSOLE_SCRIPT = {("--version",), ("config", "get", "region"), ("media", "preview", "clip.mp4"), ("models",)}


COMMANDS: list[tuple[str, ...]] = [
    ("--version",),
    ("t2v", "A kitten", *SMALL),
    ("i2v", "The cat turns", "--image", "cat.png", "--dry-run"),
    ("kf2v", "Bloom", "--first-frame", "cat.png", "--last-frame", "cat.png", "--dry-run"),
    ("r2v", "character1 waves", "--ref", "cat.png", "--dry-run"),
    ("vace", "repaint", "Clay", "--video", "clip.mp4", "--control-condition", "depth", "--dry-run"),
    ("generate", "--request", '{"prompt": "A kitten"}', "--dry-run"),
    ("tasks",),
    ("tasks", "--remote"),
    ("tasks", "prune", "--dry-run"),
    ("tasks", "forget", "no-such-task"),
    ("resume",),
    ("models",),
    ("doctor",),
    ("config",),
    ("config", "show"),
    ("config", "path"),
    ("config", "get", "region"),
    ("config", "set", "confirm_above_seconds", "20"),
    ("config", "unset", "confirm_above_seconds"),
    ("config", "set", "query_qps", "50"),
    ("media", "info", "clip.mp4"),
    ("media", "frame", "clip.mp4", "--at", "last", "-o", "f{n}.png"),
    ("media", "trim", "clip.mp4", "--start", "0", "--end", "1", "-o", "t{n}.mp4"),
    ("media", "tail", "clip.mp4", "--seconds", "1", "-o", "l{n}.mp4"),
    ("media", "concat", "clip.mp4", "clip.mp4", "-o", "c{n}.mp4"),
    ("media", "add-audio", "clip.mp4", "song.wav", "-o", "a{n}.mp4"),
    ("media", "sheet", "clip.mp4", "-o", "s{n}.png"),
    ("media", "preview", "clip.mp4"),
    ("media", "fit", "cat.png", "--model", "wan2.6-i2v", "-o", "fit{n}.png"),
    ("run", "plan.toml", "--dry-run"),
    ("run", "plan.toml", "--yes"),
    ("extend", "clip.mp4", "--to", "8", "--prompt", "It goes on", "--dry-run"),
    ("cost", "t2v", "A kitten", *SMALL),
    ("cost", "run", "plan.toml"),
    ("wizard", "--dry-run"),
    ("media", "trim", "clip.mp4", "--start", "0", "--end", "99", "-o", "x{n}.mp4"),
]


@pytest.mark.parametrize("words", COMMANDS, ids=lambda words: " ".join(words[:3]))
def test_one_object_in_both_positions(env: dict[str, str], words: tuple[str, ...]) -> None:
    (first_code, first), (last_code, last) = both(env, *words, console_script=words in CONSOLE_SCRIPT)
    assert first_code == last_code, (first, last)
    assert set(first) == set(last)  # the same documented shape wherever --json stands


def test_task_commands_in_both_positions(env: dict[str, str]) -> None:
    [(code, run), _] = both(env, "t2v", "A kitten", *SMALL)
    assert code == 0 and run["ok"] is True
    task = run["task_id"]
    for words in (("status", task), ("fetch", task), ("cancel", task)):
        (one, first), (two, last) = both(env, *words)
        assert one == two and first.keys() == last.keys()
        if words[0] != "cancel":
            assert first["task_id"] == task and one == 0
        else:
            assert one != 0 and first["error"]["message"]  # a finished task cannot be canceled: still one object


def test_the_background_emulator_and_its_stop_in_both_positions(env: dict[str, str]) -> None:
    for position in ("first", "last"):
        words = ["emulator", "--background", "--port", "0"]
        argv = ["--json", *words] if position == "first" else [*words, "--json"]
        started = subprocess.run([*qwenvid_argv(), *argv], capture_output=True, text=True, env=env, timeout=90)
        server = json.loads(started.stdout)
        assert started.returncode == 0 and server["base_url"].startswith("http://127.0.0.1:")
        stop = ["--json", "emulator", "stop", server["base_url"]]
        if position == "last":
            stop = ["emulator", "stop", server["base_url"], "--json"]
        stopped = subprocess.run([*qwenvid_argv(), *stop], capture_output=True, text=True, env=env, timeout=60)
        assert json.loads(stopped.stdout)["count"] == 1, stopped.stderr


def test_open_in_both_positions_with_its_launcher_replaced(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("QWENVID_HOME", "QWEN_BASE_URL", "DASHSCOPE_API_KEY"):
        monkeypatch.setenv(name, env[name])
    launched: list[list[str]] = []
    monkeypatch.setitem(_session.INJECTED, "launcher", launched.append)
    made = CliRunner().invoke(app, ["--json", "t2v", "A kitten", *SMALL])
    task = json.loads(made.stdout)["task_id"]
    for argv in (["--json", "open", task], ["open", task[:8], "--json"]):
        result = CliRunner().invoke(app, argv)
        data = json.loads(result.stdout)
        assert result.exit_code == 0 and data["task_id"] == task and Path(data["path"]).is_file()
    assert len(launched) == 2 and all(Path(argv[-1]).name.endswith(".mp4") for argv in launched)
