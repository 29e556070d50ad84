"""`trim` past a clip's end is refused (not clamped), `tail` longer than the clip says so, and an empty (0-byte)
input is named as empty by every tool and by generation inputs, never as an FFmpeg errno."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from tests.support.videos import make_mp4


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return make_mp4(tmp_path / "clip.mp4", seconds=2.0)


def test_trim_past_the_end_is_refused(clip: Path, tmp_path: Path) -> None:
    past = run("media", "trim", str(clip), "--start", "0.5", "--end", "9", "-o", str(tmp_path / "a.mp4"))
    assert past.exit_code == 2 and "past the end" in past.stderr and "2.00 s" in past.stderr
    longer = run("media", "trim", str(clip), "--start", "1", "--duration", "5", "-o", str(tmp_path / "b.mp4"))
    assert longer.exit_code == 2 and "--start + --duration (6 s)" in longer.stderr
    assert not (tmp_path / "a.mp4").exists() and not (tmp_path / "b.mp4").exists()
    exact = run("media", "trim", str(clip), "--start", "1", "--end", "2", "-o", str(tmp_path / "c.mp4"))
    assert exact.exit_code == 0, exact.stderr


def test_tail_longer_than_the_clip_says_so(clip: Path, tmp_path: Path) -> None:
    result = run("media", "tail", str(clip), "--seconds", "3", "-o", str(tmp_path / "t.mp4"))
    assert result.exit_code == 0 and "only 2.00 s long: the whole clip was kept" in result.stderr
    quiet = run("media", "tail", str(clip), "--seconds", "1", "-o", str(tmp_path / "u.mp4"))
    assert quiet.exit_code == 0 and "Warning" not in quiet.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("media", "info", "{f}"),
        ("media", "trim", "{f}", "--start", "0", "--end", "1", "-o", "x.mp4"),
        ("media", "tail", "{f}", "-o", "y.mp4"),
        ("media", "frame", "{f}", "-o", "z.png"),
        ("i2v", "x", "--image", "{f}", "--dry-run"),
    ],
)
def test_an_empty_input_is_named_as_empty(tmp_path: Path, args: tuple[str, ...]) -> None:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    result = run(*(word.replace("{f}", str(empty)) for word in args))
    assert result.exit_code == 2, result.stderr
    assert "empty (0 bytes)" in result.stderr and "Errno" not in result.stderr
