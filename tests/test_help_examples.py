"""Every example in every command's --help runs as written (generations as dry runs, the rest against the
in-process emulator), and help shows plain metavars and true statements about the prompt."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from qwenvid.cli import app, hoist_global_options
from qwenvid.errors import ExitCode
from tests.support.media_files import make_image, make_mp4, make_wav

GROUP = typer.main.get_command(app)
GENERATION = {"t2v", "i2v", "kf2v", "r2v", "vace", "generate", "s2v", "animate"}
EXISTING_TASK = {"status", "fetch", "cancel", "open"}  # their examples name tasks that exist only in someone's account
LONG_RUNNING = {"emulator", "wizard", "mcp"}  # servers and an interactive flow: the example must parse
EXAMPLE_PLANS = Path(__file__).resolve().parents[1] / "examples"


def help_text(path: list[str]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return result.stdout


def command_paths() -> list[list[str]]:
    paths: list[list[str]] = []
    for name, command in GROUP.commands.items():  # type: ignore[attr-defined]
        paths.append([name])
        for sub in getattr(command, "commands", {}):
            paths.append([name, sub])
    return paths


def examples_in(text: str) -> list[str]:
    return [match.group(1).strip() for match in re.finditer(r"^\s*\$ (.+?)\s*$", text, re.MULTILINE)]


EXAMPLES = sorted({line for path in command_paths() for line in examples_in(help_text(path))})


@pytest.fixture(scope="module")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the examples name, as real media, made once for the module."""
    folder = tmp_path_factory.mktemp("example-media")
    for name in ("cat.png", "bud.png", "flower.png", "singer.png", "a.jpg", "b.jpg", "alice.png", "bob.png",
                 "person.png", "girl.png", "garden.png", "mask.png"):  # fmt: skip
        make_image(folder / name, 640, 480)
    make_mp4(folder / "dance.mp4", width=640, height=480, seconds=3.0)
    for name in ("walk.mp4", "beach.mp4", "street.mp4", "dancer.mp4"):
        (folder / name).write_bytes((folder / "dance.mp4").read_bytes())
    make_mp4(folder / "start.mp4", width=640, height=480, seconds=2.5)
    make_wav(folder / "song.mp3", seconds=5.0)
    make_wav(folder / "song.wav", seconds=5.0)
    make_wav(folder / "music.mp3", seconds=5.0)
    make_mp4(folder / "clip.mp4", width=640, height=480, seconds=5.0, audio=True)
    for name in ("story.mp4", "a.mp4", "b.mp4", "c.mp4", "long.mp4"):
        (folder / name).write_bytes((folder / "clip.mp4").read_bytes())
    make_mp4(folder / "wide.mp4", width=640, height=360, seconds=1.0)
    make_mp4(folder / "tall.mp4", width=360, height=640, seconds=1.0)
    make_image(folder / "photo.webp", 5000, 300)
    (folder / "request.json").write_text('{"prompt": "A kitten in the moonlight"}', encoding="utf-8")
    (folder / "prompt.txt").write_text("A kitten in the moonlight\n", encoding="utf-8")
    # `qwenvid run` examples: the shipped example plans, as they are in the checkout and copied in by name.
    shutil.copytree(EXAMPLE_PLANS, folder / "examples")
    shutil.copy(EXAMPLE_PLANS / "story.toml", folder / "story.toml")
    shutil.copy(EXAMPLE_PLANS / "soundtrack.wav", folder / "soundtrack.wav")
    shutil.copy(EXAMPLE_PLANS / "batch.jsonl", folder / "batch.jsonl")
    shutil.copy(EXAMPLE_PLANS / "batch.txt", folder / "prompts.txt")
    return folder


@pytest.fixture
def example_files(isolated_env: Path, media_dir: Path) -> Path:
    """The module's media, for the example to link into the working directory."""
    return media_dir


def link_inputs(media_dir: Path, words: list[str]) -> None:
    """Every example file in the working directory, except the ones the example writes (after -o)."""
    outputs = {words[i + 1] for i, word in enumerate(words[:-1]) if word in ("-o", "--output")}
    for source in media_dir.iterdir():
        if source.name not in outputs:
            (Path.cwd() / source.name).symlink_to(source)


def test_every_command_has_examples_to_run() -> None:
    assert len(EXAMPLES) > 30
    assert any(line.startswith("qwenvid config") for line in EXAMPLES)


@pytest.mark.parametrize("line", EXAMPLES)
def test_help_example_runs_as_written(example_files: Path, line: str, request: pytest.FixtureRequest) -> None:
    stdin = None
    env: dict[str, str] = {}
    if "|" in line:  # echo "..." | qwenvid ...
        producer, line = (part.strip() for part in line.split("|", 1))
        stdin = shlex.split(producer)[1] + "\n"
    words = shlex.split(line)
    redirect = None
    if ">" in words:  # qwenvid ... > FILE: stdout goes to the file
        at = words.index(">")
        words, redirect = words[:at], words[at + 1]
    while "=" in words[0]:
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    assert words[0] == "qwenvid", line
    link_inputs(example_files, words)
    args = hoist_global_options(words[1:])
    command = next(word for word in args if word in GROUP.commands)  # type: ignore[attr-defined]
    if command in LONG_RUNNING:
        # Parse only: the arguments must be accepted by the command (running it would serve or ask forever).
        target = GROUP.commands[command]  # type: ignore[attr-defined]
        target.make_context(command, args[args.index(command) + 1 :])
        return
    if command in GENERATION:
        if "--dry-run" not in args:
            args.append("--dry-run")  # a dry run needs no key, no network and no emulator
    elif "--emulator" not in args and "QWEN_BASE_URL" not in env:
        args = ["--emulator", *args]
    if command == "ledger":  # the shared ledger's commands need one: a real server (tests/support/postgres.py)
        env["QWENVID_LEDGER_URL"] = request.getfixturevalue("pg_url")
    result = CliRunner().invoke(app, args, env=env, input=stdin)
    assert "unexpected" not in result.stderr, result.stderr
    if command in EXISTING_TASK:
        # The task exists only in the example's account: any outcome but a refused command line will do.
        assert result.exit_code in {int(code) for code in ExitCode}, result.stderr
        assert "See `qwenvid" not in result.stderr and "not a task id" not in result.stderr, result.stderr
    else:
        assert result.exit_code == 0, f"{line}\n{result.stderr}"
    if redirect is not None:
        Path(redirect).write_text(result.stdout, encoding="utf-8")
        assert json.loads(Path(redirect).read_text(encoding="utf-8")), line  # the one JSON object


BAD_METAVARS = re.compile(r"<(bool|str|int|float|path)[^>]*>|\bfloat range\b")


@pytest.mark.parametrize("path", command_paths(), ids=" ".join)
def test_help_shows_plain_metavars(path: list[str]) -> None:
    text = help_text(path)
    assert not BAD_METAVARS.search(text), BAD_METAVARS.search(text)


def test_top_level_help_has_plain_metavars_and_version() -> None:
    text = help_text([])
    assert not BAD_METAVARS.search(text)
    assert "--version" in text and "--show-completion" in text and "[SHELL]" in text


@pytest.mark.parametrize(("command", "metavar"), [("t2v", "SECONDS"), ("status", "SECONDS"), ("t2v", "PATH")])
def test_units_as_metavars(command: str, metavar: str) -> None:
    assert metavar in help_text([command])


def test_optional_prompt_is_said_only_where_true() -> None:
    """Every t2v and r2v model needs a prompt; i2v and kf2v do not; vace depends on the function."""
    from qwenvid.catalogue import MODELS

    for mode in ("t2v", "i2v", "kf2v", "r2v"):
        # An all-in-one model (Wan 3.0) needs a prompt or media: in t2v, with no media, the prompt.
        required = all(spec.prompt_required or spec.modes for spec in MODELS if spec.mode == mode)
        text = " ".join(help_text([mode]).split())
        assert ("optional for this mode" in text) is not required, mode
    assert "needed for video_extension" in " ".join(help_text(["vace"]).split())
