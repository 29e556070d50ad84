"""`extend` starts from what the user has: without --prompt it continues with the clip's own prompt (its
sidecar, else its ledger row), else asks on a terminal, else exits 2 naming --prompt; a URL is refused in
one line, never mangled into a path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import _cost, app
from qwenvid.emulator.server import EmulatorThread
from tests.support.videos import make_mp4


def run(*args: str, **kwargs: object) -> Result:
    return CliRunner().invoke(app, list(args), **kwargs)  # type: ignore[arg-type]


def prompts_of(result: Result) -> list[str]:
    assert result.exit_code == 0, result.stderr
    # (The test runner echoes typed input onto stdout; the JSON object is what follows it.)
    steps = json.loads(result.stdout[result.stdout.index("{") :])["steps"]
    return [s["request"]["payload"]["input"]["prompt"] for s in steps if "request" in s]


def test_no_prompt_continues_with_the_clips_own(cli: EmulatorThread, tmp_path: Path) -> None:
    made = run("t2v", "A paper boat on a rainy street", "--model", "wan2.1-t2v-turbo", "--size", "832*480",
               "-o", str(tmp_path / "boat.mp4"))  # fmt: skip
    assert made.exit_code == 0, made.stderr
    result = run("extend", str(tmp_path / "boat.mp4"), "--to", "8", "--resolution", "720P", "--dry-run", "--json")
    assert prompts_of(result) == ["A paper boat on a rainy street"]
    assert "the clip's own prompt from its sidecar" in result.stderr
    (tmp_path / "boat.mp4.json").unlink()  # no sidecar: the ledger row still knows it
    again = run("extend", str(tmp_path / "boat.mp4"), "--to", "8", "--resolution", "720P", "--dry-run", "--json")
    assert prompts_of(again) == ["A paper boat on a rainy street"] and "from the ledger" in again.stderr


def test_without_a_recorded_prompt_it_asks_or_names_the_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clip = make_mp4(tmp_path / "clip.mp4", width=640, height=480, seconds=5.0)
    refused = run("extend", str(clip), "--to", "8", "--dry-run")
    assert refused.exit_code == 2 and "extend needs --prompt" in refused.stderr
    monkeypatch.setattr(_cost, "is_interactive", lambda: True)
    asked = run("extend", str(clip), "--to", "8", "--resolution", "720P", "--dry-run", "--json", input="It sails on\n")
    assert "What happens next?" in asked.stderr and prompts_of(asked) == ["It sails on"]


@pytest.mark.parametrize("url", ["https://example.com/videos/boat.mp4", "http://h/a.mp4", "oss://bucket/a.mp4"])
def test_a_url_is_refused_in_one_line_never_mangled(url: str) -> None:
    result = run("extend", url, "--to", "10", "--prompt", "x")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and url in errors[0] and "not a URL" in errors[0]
    assert url.replace("//", "/") not in result.stderr.replace(url, "")  # no path made of it
