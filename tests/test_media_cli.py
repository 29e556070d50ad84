"""`qwenvid media …` through the real CLI, the thumbnail strip in a real pseudo-terminal, and the README's recipe.

Commands run under CliRunner (in-process) or as subprocesses of the console script; pictures are checked in a
Rich console of a known width and in a pty; every file is probed with PyAV.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import av
import pytest
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

from qwenvid.cli import app
from qwenvid.cli._preview import ThumbnailStrip, iter_lines, strip_for
from tests.support.media_files import make_image, make_mp4
from tests.support.sound import make_tone_wav

SUBCOMMANDS = ("info", "frame", "trim", "tail", "concat", "add-audio", "sheet", "preview", "fit")


def run(*args: str) -> object:
    return CliRunner().invoke(app, list(args))


def qwenvid_argv() -> list[str]:
    beside = Path(sys.executable).with_name("qwenvid")
    script = str(beside) if beside.exists() else shutil.which("qwenvid")
    return [script] if script else [sys.executable, "-m", "qwenvid"]


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_mp4(tmp_path / "clip.mp4", seconds=2.0, audio=True)


@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_media_command_has_help_with_examples(name: str) -> None:
    result = CliRunner().invoke(app, ["media", name, "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "Examples" in result.stdout and f"$ qwenvid media {name}" in result.stdout


def test_frame_tail_and_info_print_the_result_and_json(clip: Path, tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["media", "frame", str(clip), "--at", "last", "-o", str(tmp_path / "l.png")])
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == str(tmp_path / "l.png")
    done = CliRunner().invoke(app, ["--json", "media", "tail", str(clip), "--seconds", "1"])
    data = json.loads(done.stdout)
    assert data["path"] == str(clip.with_name("clip-tail1s.mp4")) and data["frames"] == 30
    done = CliRunner().invoke(app, ["media", "info", str(clip), str(tmp_path / "l.png"), "--json"])
    described = [json.loads(line) for line in done.stdout.splitlines()]
    assert [item["kind"] for item in described] == ["video", "image"]
    assert described[0]["duration"] == 2.0 and described[0]["audio_codec"] == "aac"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tail", "{bad}", "--seconds", "1"], "not a readable video"),
        (["frame", "{still}"], "still image"),
        (["concat", "{clip}", "{bad}", "-o", "{out}"], "not a readable video"),
        (["add-audio", "{clip}", "{still}", "-o", "{out}"], "not a readable audio"),
        (["frame", "{clip}", "--at", "soon"], "--at 'soon' is not allowed"),
        (["trim", "{clip}", "--start", "5"], "at or past the end"),
        (["add-audio", "{clip}", "{clip}", "-o", "{out}", "--fit", "stretch"], "--fit 'stretch': allowed: pad, loop"),
        (["concat", "{clip}", "{clip}", "-o", "{out}", "--size", "big"], "--size 'big' is not allowed"),
        (["fit", "{still}", "--model", "nope"], "unknown model"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_written(
    clip: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 20)
    names = {"bad": bad, "still": make_image(tmp_path / "still.png", 64, 64), "clip": clip, "out": tmp_path / "o.mp4"}
    result = CliRunner().invoke(app, ["media", *(word.format(**names) for word in args)])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output and result.stderr.count("Error:") == 1
    assert not (tmp_path / "o.mp4").exists()


def test_an_existing_output_needs_force(clip: Path, tmp_path: Path) -> None:
    target = tmp_path / "kept.png"
    target.write_bytes(b"mine")
    refused = CliRunner().invoke(app, ["media", "frame", str(clip), "-o", str(target)])
    assert refused.exit_code == 2 and "already exists; use --force" in refused.stderr
    assert target.read_bytes() == b"mine"
    forced = CliRunner().invoke(app, ["media", "frame", str(clip), "-o", str(target), "--force"])
    assert forced.exit_code == 0 and Image.open(target).size == (64, 48)


def test_add_audio_and_concat_commands(clip: Path, tmp_path: Path) -> None:
    song = make_tone_wav(tmp_path / "song.wav", [(0.5, True)])
    done = CliRunner().invoke(
        app, ["media", "add-audio", str(clip), str(song), "-o", str(tmp_path / "m.mp4"), "--mix", "--fit", "loop"]
    )
    assert done.exit_code == 0, done.output
    joined = CliRunner().invoke(
        app, ["--json", "media", "concat", str(clip), str(tmp_path / "m.mp4"), "-o", str(tmp_path / "j.mp4")]
    )
    assert joined.exit_code == 0, joined.output
    assert json.loads(joined.stdout)["duration"] == pytest.approx(4.0, abs=0.05)


def test_a_refused_input_names_the_fit_command_and_the_command_fixes_it(tmp_path: Path) -> None:
    small = make_image(tmp_path / "tiny.png", 100, 100)
    refused = CliRunner().invoke(app, ["i2v", "go", "--model", "wan2.6-i2v", "--image", str(small), "--dry-run"])
    assert refused.exit_code == 2
    command = f"qwenvid media fit {small} --model wan2.6-i2v --as first_frame"
    assert command in " ".join(refused.stderr.split())
    fixed = CliRunner().invoke(app, command.split()[1:])
    assert fixed.exit_code == 0, fixed.output
    fitted = fixed.stdout.strip()
    assert fitted == str(tmp_path / "tiny-fit.png")
    assert (
        CliRunner().invoke(app, ["i2v", "go", "--model", "wan2.6-i2v", "--image", fitted, "--dry-run"]).exit_code == 0
    )


# -- preview ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [30, 57, 120])
def test_the_strip_renders_into_a_rich_console_within_its_width(
    clip: Path, width: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")  # Rich draws a "dumb" terminal 80 columns wide, whatever it is told
    monkeypatch.delenv("NO_COLOR")
    console = Console(file=io.StringIO(), width=width, color_system="truecolor", force_terminal=True)
    strip = strip_for(clip, frames=8, max_rows=3)
    lines = list(iter_lines(strip, console))
    assert 2 <= len(lines) <= 4, lines  # at most 3 picture rows, then the timestamps
    assert all(0 < len(line) <= width for line in lines), lines
    assert all("▀" in line for line in lines[:-1]) and re.match(r"0:00\.\d", lines[-1])
    assert len(lines[0]) > width * 0.8  # the strip uses the width it has
    console.print(strip)
    drawn = console.file.getvalue()  # type: ignore[attr-defined]
    assert re.search(r"\x1b\[38;2;\d+;\d+;\d+;48;2;\d+;\d+;\d+m▀", drawn)  # true colour, top and bottom pixel


def test_the_strip_shows_the_frames_colours(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR")
    red, blue = Image.new("RGB", (40, 20), (255, 0, 0)), Image.new("RGB", (40, 20), (0, 0, 255))
    console = Console(file=io.StringIO(), width=41, color_system="truecolor", force_terminal=True)
    console.print(ThumbnailStrip([(0.0, red), (1.0, blue)], max_rows=2))
    drawn = console.file.getvalue()  # type: ignore[attr-defined]
    assert "38;2;255;0;0;48;2;255;0;0m" in drawn and "38;2;0;0;255;48;2;0;0;255m" in drawn


def test_preview_in_a_pipe_prints_nothing_on_stdout(clip: Path) -> None:
    done = subprocess.run([*qwenvid_argv(), "media", "preview", str(clip)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.strip() == f"{clip}: 2.00 s, 64x48, 30 fps, audio aac"


def run_in_pty(args: list[str], env: dict[str, str], *, columns: int = 100, cwd: Path) -> tuple[int, str]:
    """Run the console script with stdin/stdout/stderr on a pseudo-terminal; return its exit code and screen bytes."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    process = subprocess.Popen(
        [*qwenvid_argv(), *args], stdin=follower, stdout=follower, stderr=follower, env=env, cwd=cwd, close_fds=True
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return process.wait(timeout=60), b"".join(chunks).decode(errors="replace")


@pytest.mark.parametrize(
    ("json_out", "quiet", "flag", "configured", "terminal", "shown"),
    [
        (False, False, True, True, True, True),
        (True, False, True, True, True, False),
        (False, True, True, True, True, False),
        (False, False, False, True, True, False),  # --no-preview
        (False, False, True, False, True, False),  # preview = false in config.toml
        (False, False, True, True, False, False),  # stderr is not a terminal
    ],
)
def test_the_strip_under_a_run_appears_only_where_it_should(
    clip: Path,
    monkeypatch: pytest.MonkeyPatch,
    json_out: bool,
    quiet: bool,
    flag: bool,
    configured: bool,
    terminal: bool,
    shown: bool,
) -> None:
    from types import SimpleNamespace

    from qwenvid.cli import _output
    from qwenvid.cli._output import Output
    from qwenvid.cli._preview import preview_after_run
    from qwenvid.cli._session import CliState

    monkeypatch.setattr(_output, "stderr_is_terminal", lambda: terminal)
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR")
    screen = Console(file=io.StringIO(), width=80, color_system="truecolor", force_terminal=True)
    state = CliState(out=Output(json=json_out, quiet=quiet, _console=screen), preview=flag)
    preview_after_run(state, SimpleNamespace(preview=configured), clip)
    assert ("▀" in screen.file.getvalue()) is shown  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_finished_generation_shows_a_thumbnail_strip_in_a_real_terminal(tmp_path: Path) -> None:
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    t2v = ["--emulator", "t2v", "A fox in snow", "--duration", "2", "--size", "1280*720", "-y"]
    code, screen = run_in_pty([*t2v, "-o", "a.mp4"], env, cwd=tmp_path)
    assert code == 0, screen
    assert "a.mp4" in screen
    picture = [line for line in screen.splitlines() if "▀" in line]
    assert 1 <= len(picture) <= 4  # one row of thumbnails, under the result
    assert screen.index("▀") > screen.index("a.mp4")
    code, screen = run_in_pty([*t2v, "-o", "b.mp4", "--no-preview"], env, cwd=tmp_path)
    assert code == 0 and "b.mp4" in screen and "▀" not in screen


class Terminal:
    """The console script on a pseudo-terminal: wait for text on the screen, type keys (a tiny pexpect)."""

    ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[@-Z\\-_=>]")

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, columns: int = 120) -> None:
        self.leader, follower = pty.openpty()
        fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
        self.process = subprocess.Popen(
            [*qwenvid_argv(), *args], stdin=follower, stdout=follower, stderr=follower, env=env, cwd=cwd
        )
        os.close(follower)
        self.text = ""
        self.mark = 0

    def _read(self, timeout: float) -> bool:
        import select

        ready, _, _ = select.select([self.leader], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.leader, 65536)
        except OSError:  # the program ended and closed the terminal
            return False
        self.text += self.ESCAPES.sub("", chunk.decode(errors="replace"))
        return bool(chunk)

    def expect(self, *wanted: str, timeout: float = 60) -> str:
        """Wait for the first of `wanted` to appear after the last match; return it."""
        import time

        deadline = time.monotonic() + timeout
        while True:
            found = [(self.text.index(w, self.mark), w) for w in wanted if w in self.text[self.mark :]]
            if found:
                at, word = min(found)
                self.mark = at + len(word)
                return word
            if not self._read(max(0.0, deadline - time.monotonic())):
                raise AssertionError(f"never saw {wanted!r}; the screen ends with:\n{self.text[-1500:]}")

    def send(self, keys: str) -> None:
        os.write(self.leader, keys.encode())

    def finish(self, timeout: float = 60) -> int:
        while self._read(timeout):
            pass
        os.close(self.leader)
        return self.process.wait(timeout=timeout)


@pytest.mark.slow
def test_the_wizard_offers_the_fit_in_a_real_terminal(tmp_path: Path) -> None:
    small = make_image(tmp_path / "tiny.png", 100, 100)
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120"}
    screen = Terminal(["--emulator", "wizard", "--dry-run"], env, cwd=tmp_path)
    screen.expect("What do you want to make?")
    screen.send("\x1b[B\r")  # i2v
    screen.expect("Which model?")
    screen.send("\r")
    screen.expect("First frame image")
    screen.send(f"{small}\r")
    screen.expect("100x100 px is out of range")
    screen.expect("Fix it now")
    screen.send("\r")  # the default: yes
    screen.expect("Fitted tiny.png: resized 100x100 -> 360x360")
    done = "The same as a command"
    for _ in range(15):  # every other question: its default
        if screen.expect("?", done) == done:
            break
        screen.send("\r")
    assert screen.finish() == 0, screen.text[-1500:]
    assert "--image" in screen.text and str(tmp_path / "tiny-fit.png") in screen.text
    with Image.open(tmp_path / "tiny-fit.png") as fitted:
        assert fitted.size == (360, 360)


# -- the README's recipe, exactly as written --------------------------------------------------------


def readme_recipe() -> list[str]:
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Working with clips", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip() and not line.startswith("#")]


@pytest.mark.slow
def test_the_readme_long_video_recipe_runs_as_written(tmp_path: Path) -> None:
    lines = readme_recipe()
    assert any("media tail" in line for line in lines) and any("vace" in line for line in lines)
    env = {**os.environ, "PATH": f"{Path(qwenvid_argv()[0]).parent}{os.pathsep}{os.environ['PATH']}"}
    for line in lines:
        done = subprocess.run(line, shell=True, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
        assert done.returncode == 0, f"{line}\n{done.stderr}"
    final = tmp_path / "fox-story-music.mp4"
    with av.open(str(final)) as container:
        assert container.streams.audio and container.streams.video
        seconds = float(container.duration) / 1_000_000
    parts = [tmp_path / "fox-1.mp4", tmp_path / "fox-2.mp4"]
    expected = 0.0
    for part in parts:
        with av.open(str(part)) as container:
            expected += float(container.duration) / 1_000_000
    assert seconds == pytest.approx(expected, abs=0.1)


def test_preview_in_config_toml_must_be_true_or_false(isolated_env: Path) -> None:
    from qwenvid.config import load_settings
    from qwenvid.errors import ConfigError

    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "config.toml").write_text("preview = false\n")
    assert load_settings().preview is False
    (isolated_env / "config.toml").write_text('preview = "no"\n')
    with pytest.raises(ConfigError, match="`preview` must be true or false"):
        load_settings()


@pytest.mark.slow
def test_preview_draws_thumbnails_in_a_real_terminal(clip: Path, tmp_path: Path) -> None:
    env = {**os.environ, "TERM": "xterm-256color", "COLORTERM": "truecolor"}
    env.pop("NO_COLOR", None)
    code, screen = run_in_pty(
        ["media", "preview", str(clip), "--frames", "4", "--rows", "3"], env, columns=60, cwd=tmp_path
    )
    assert code == 0, screen
    lines = [line for line in screen.splitlines() if "▀" in line]
    assert len(lines) == 3
    assert "\x1b[38;2;" in screen  # true colour where the terminal has it
