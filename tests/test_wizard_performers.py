"""The wizard offers s2v and animate: their inputs asked and checked as typed, the face check's cost in the
summary, the same run (face check first) as `qwenvid s2v`, in a real pseudo-terminal on the emulator."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from qwenvid.cli import app, wizard
from tests.support.media_files import make_wav
from tests.support.terminal import Terminal
from tests.test_performers import face

DOWN, ENTER, CLEAR = "\x1b[B", "\r", "\x15"


def test_the_wizard_makes_a_talking_video_after_the_face_check(tmp_path: Path) -> None:
    from qwenvid.cli._wizard_flow import LONG_VIDEO, MODE_CHOICES, PERFORMER_CHOICES
    from qwenvid.cli._wizard_story import STORY

    face(tmp_path / "speaker.png")
    make_wav(tmp_path / "hello.wav", 2.0)
    menu = [*(value for value, _ in MODE_CHOICES), LONG_VIDEO[0], STORY[0], *(value for value, _ in PERFORMER_CHOICES)]
    env = {"QWENVID_HOME": str(tmp_path / "home"), "DASHSCOPE_API_KEY": "sk-canary-wizard-s2v-0000"}
    terminal = Terminal("--emulator", "wizard", "-o", str(tmp_path / "talk.mp4"), env=env, cwd=tmp_path)
    terminal.expect("What do you want to make?")
    terminal.type(DOWN * menu.index("s2v") + ENTER)
    terminal.expect("Photo of the speaker")
    terminal.type("speaker.png" + ENTER)
    terminal.expect("Speech")
    terminal.type("missing.wav" + ENTER)  # checked as typed: refused with what is allowed, asked again
    terminal.expect("a local file path or a URL")
    terminal.type(CLEAR + "hello.wav" + ENTER)
    terminal.expect("Resolution")
    terminal.type(ENTER)  # 480P, the default
    terminal.expect("Submit it?")
    terminal.type(ENTER)
    assert terminal.finish(120) == 0, terminal.text[-2000:]
    text = terminal.text.replace("\n", " ")
    assert "mode: s2v" in text and "model: wan2.2-s2v" in text
    assert "face check first: 1 image on wan2.2-s2v-detect" in text  # its cost, in the summary before the question
    assert text.index("face check first") < text.index("Submit it?") < text.index("Face check: passed")
    command = "qwenvid --emulator s2v --model wan2.2-s2v --resolution 480P --image speaker.png --speech hello.wav"
    assert command in " ".join(text.split())
    with av.open(str(tmp_path / "talk.mp4")) as container:
        seconds = float(container.duration or 0) / av.time_base
        assert abs(seconds - 2) < 0.2 and container.streams.audio  # as long as the speech, with it


@pytest.fixture
def prompt_io(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """The wizard reads a pipe keyboard (as in test_wizard.py); call the result with the keys to send."""
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    monkeypatch.setattr(wizard, "is_interactive", lambda: True)
    with create_pipe_input() as pipe:
        monkeypatch.setitem(wizard.PROMPT_IO, "input", pipe)
        monkeypatch.setitem(wizard.PROMPT_IO, "output", DummyOutput())
        yield lambda keys: pipe.send_text(keys + "\x03" * 3)  # Ctrl-C if a question is left: the test ends


def _menu_index(value: str) -> int:
    from qwenvid.cli._wizard_flow import LONG_VIDEO, MODE_CHOICES, PERFORMER_CHOICES
    from qwenvid.cli._wizard_story import STORY

    menu = [*(v for v, _ in MODE_CHOICES), LONG_VIDEO[0], STORY[0], *(v for v, _ in PERFORMER_CHOICES)]
    return menu.index(value)


def test_animate_in_the_wizard_prints_the_command_that_builds_the_same_request(
    tmp_path: Path, prompt_io: Callable[[str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qwenvid.catalogue import models_for_mode

    monkeypatch.chdir(tmp_path)
    face(tmp_path / "hero.png", (480, 480))
    mix = [spec.id for spec in models_for_mode("animate")].index("wan2.2-animate-mix")
    keys = (
        DOWN * _menu_index("animate") + ENTER
        + DOWN * mix + ENTER
        + "hero.png" + ENTER
        + "https://x/street.mp4" + ENTER  # URLs pass as typed
        + DOWN + ENTER  # pro
        + ENTER  # yes, print the request
    )  # fmt: skip
    prompt_io(keys)
    result = CliRunner().invoke(app, ["--json", "wizard", "--dry-run"])
    assert result.exit_code == 0, result.stderr
    sent = json.loads(result.stdout)
    assert sent["payload"]["model"] == "wan2.2-animate-mix"
    assert sent["payload"]["input"]["video_url"] == "https://x/street.mp4"
    assert sent["payload"]["parameters"] == {"mode": "wan-pro"}
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("The same as a command: ")]
    argv = shlex.split(line.removeprefix("The same as a command: "))
    assert argv[:4] == ["qwenvid", "--json", "animate", "mix"] and "--model" not in argv
    again = CliRunner().invoke(app, argv[1:])
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout) == sent
