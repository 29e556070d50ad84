"""Wan 3.0's `file` and `link` media items: --doc/--link, skill JSON, refusals, the emulator (§1.2, §11)."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.emulator.server import EmulatorThread

CLOSED = "http://127.0.0.1:9/api/v1"  # nothing listens: a dry run or a refusal must not need the service


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def _doc(tmp_path: Path, name: str = "story.md") -> str:
    path = tmp_path / name
    path.write_text("# The fox\nA brave fox crosses a frozen river at dawn.\n", encoding="utf-8")
    return str(path)


def test_a_local_doc_is_uploaded_and_sent_as_a_file_item_exactly(tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    result = run("--base-url", CLOSED, "t2v", "Film the story", "--model", "wan3.0-video", "--doc", doc,
                 "--resolution", "480P", "--duration", "2", "--dry-run", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["payload"] == {
        "model": "wan3.0-video",
        "input": {"prompt": "Film the story", "media": [{"type": "file", "url": "oss://<upload of story.md>"}]},
        "parameters": {"resolution": "480P", "ratio": "adaptive", "duration": 2, "audio": True},
    }
    assert [(u["path"], u["field"], u["kind"]) for u in out["uploads"]] == [(doc, "media.file", "document")]


def test_a_link_goes_beside_references_on_r2v() -> None:
    result = run("--base-url", CLOSED, "r2v", "图1 reads the page", "--model", "wan3.0-video",
                 "--ref", "https://x/a.png", "--link", "https://x/news", "--dry-run", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    media = json.loads(result.stdout)["payload"]["input"]["media"]
    assert media == [
        {"type": "reference_image", "url": "https://x/a.png"},
        {"type": "link", "url": "https://x/news"},
    ]


def test_skill_json_with_file_and_link_items_is_accepted() -> None:
    for item in ({"type": "link", "url": "https://x/page"}, {"type": "file", "url": "https://x/brief.pdf"}):
        body = {"model": "wan3.0-video", "input": {"prompt": "x", "media": [item]}}
        result = run("--base-url", CLOSED, "generate", "--request", json.dumps(body), "--dry-run", "--json")
        assert result.exit_code == 0, result.stderr
        assert json.loads(result.stdout)["payload"]["input"]["media"] == [item]
    two = {"model": "wan3.0-video", "prompt": "x", "media": [{"type": "file", "url": "https://x/a.pdf"}] * 2}
    result = run("--base-url", CLOSED, "generate", "--request", json.dumps(two), "--dry-run")
    assert result.exit_code == 2 and "at most one" in result.stderr


REFUSALS = [
    (["t2v", "x", "--model", "wan3.0-video", "--doc", "DOC", "--link", "https://x/p"], "cannot be given together"),
    (["r2v", "x", "--model", "wan3.0-video", "--first-frame", "https://x/a.png", "--link", "https://x/p"],
     "cannot be sent with --first-frame"),
    (["t2v", "x", "--model", "wan3.0-video", "--link", "https://x/p", "--no-prompt-extend"], "needs prompt extension"),
    (["t2v", "x", "--model", "wan2.7-t2v", "--doc", "DOC"], "needs a Wan 3.0 model"),
    (["t2v", "x", "--model", "wan3.0-video", "--doc", "https://x/song.mp3"], "allowed: docx, doc"),
    (["t2v", "x", "--model", "wan3.0-video", "--link", "ftp://x/p"], "http(s) web page"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "says"), REFUSALS, ids=[r[1][:20] for r in REFUSALS])
def test_refusals_are_one_line_exit_2_before_paying(args: list[str], says: str, tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    result = run("--base-url", CLOSED, *[doc if a == "DOC" else a for a in args], "--yes")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and says in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_a_local_md_doc_end_to_end_on_the_emulator(cli: EmulatorThread, tmp_path: Path) -> None:
    doc = _doc(tmp_path)
    result = run("t2v", "Film the story", "--model", "wan3.0-video", "--doc", doc, "--resolution", "480P",
                 "--duration", "2", "-o", str(tmp_path / "doc.mp4"), "--yes")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    with av.open(result.stdout.strip()) as container:
        assert abs(float(container.duration or 0) / av.time_base - 2) < 0.2
    (task,) = cli.state.tasks
    (item,) = task.body["input"]["media"]
    assert item["type"] == "file" and item["url"].startswith("oss://")
