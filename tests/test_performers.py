"""`qwenvid s2v` and `qwenvid animate` (dashscope-api-2026.md §4, §5): exact bodies, the face check and its
cached verdict, refusals before paying, end-to-end runs on the emulator probed with PyAV."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image, ImageDraw
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.emulator.server import EmulatorThread
from qwenvid.store.pacing import limits_for
from tests.support.media_files import make_wav
from tests.support.videos import make_mp4

CLOSED = "http://127.0.0.1:9/api/v1"


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def dry(*args: str) -> dict[str, Any]:
    result = run("--base-url", CLOSED, *args, "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def face(path: Path, size: tuple[int, int] = (480, 640)) -> str:
    """A picture with something in it (the emulator's face check passes any image that is not flat)."""
    image = Image.new("RGB", size, "wheat")
    ImageDraw.Draw(image).ellipse((size[0] // 4, size[1] // 4, size[0] * 3 // 4, size[1] * 3 // 4), fill="sienna")
    image.save(path)
    return str(path)


def flat(path: Path, size: tuple[int, int] = (480, 640)) -> str:
    Image.new("RGB", size, "grey").save(path)
    return str(path)


def probe(path: Path) -> tuple[float, int, int, bool]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        seconds = float(container.duration or 0) / av.time_base
        return seconds, stream.codec_context.width, stream.codec_context.height, bool(container.streams.audio)


# ---- exact bodies (the contract's examples) ----


def test_s2v_body_is_the_contract_example() -> None:
    sent = dry("s2v", "--image", "https://x/p.jpg", "--speech", "https://x/a.mp3")
    assert sent["url"].endswith("/services/aigc/image2video/video-synthesis")
    assert sent["payload"] == {
        "model": "wan2.2-s2v",
        "input": {"image_url": "https://x/p.jpg", "audio_url": "https://x/a.mp3"},
        "parameters": {"resolution": "480P"},
    }


def test_animate_body_is_the_contract_example_with_watermark_in_input() -> None:
    sent = dry("animate", "move", "--image", "https://x/person.jpeg", "--video", "https://x/motion.mp4",
               "--watermark", "--check-image")  # fmt: skip
    assert sent["payload"] == {
        "model": "wan2.2-animate-move",
        "input": {"image_url": "https://x/person.jpeg", "video_url": "https://x/motion.mp4", "watermark": True},
        "parameters": {"mode": "wan-std", "check_image": True},
    }
    pro = dry("animate", "mix", "--image", "https://x/a.png", "--video", "https://x/b.mp4", "--quality", "pro")
    assert pro["payload"]["model"] == "wan2.2-animate-mix" and pro["payload"]["parameters"] == {"mode": "wan-pro"}


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["s2v", "--image", "https://x/p.jpg"], "needs --speech"),
        (["s2v", "--speech", "https://x/a.mp3"], "needs --image"),
        (["s2v", "--image", "https://x/p.jpg", "--speech", "https://x/a.mp3", "--resolution", "1080P"], "480P, 720P"),
        (["animate", "dance", "--image", "https://x/a.png", "--video", "https://x/b.mp4"], "allowed: move, mix"),
        (
            ["animate", "move", "--image", "https://x/a.png", "--video", "https://x/b.mp4", "--quality", "max"],
            "std, pro",
        ),
        (["animate", "move", "--image", "https://x/a.png"], "needs --video"),
    ],
)
def test_refusals_are_one_line_and_exit_2(args: list[str], says: str) -> None:
    result = run("--base-url", CLOSED, *args, "--yes")
    assert result.exit_code == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and says in errors[0]


def test_s2v_and_animate_run_one_task_at_a_time() -> None:
    for model in ("wan2.2-s2v", "wan2.2-animate-move", "wan2.2-animate-mix"):
        assert limits_for(model) == (model, 5, 1)


def test_the_cost_notice_names_the_face_check(canary_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", canary_key)
    result = run("--base-url", CLOSED, "s2v", "--image", "https://x/p.jpg", "--speech", "https://x/a.mp3")
    assert result.exit_code == 7  # 20 s (the longest speech) is above the threshold: no terminal to ask on
    assert "Note: face check first: 1 image on wan2.2-s2v-detect" in result.stderr
    assert "Face check:" not in result.stderr  # nothing was checked, nor billed, before the confirmation


# ---- end to end on the emulator ----


def _face_rows() -> list[tuple[Any, ...]]:
    ledger = Path(os.environ["QWENVID_HOME"]) / "ledger.sqlite3"
    with sqlite3.connect(ledger) as conn:
        return conn.execute("SELECT model, check_pass, units, unit FROM face_checks").fetchall()


def test_s2v_end_to_end_with_the_face_check_cached(cli: EmulatorThread, tmp_path: Path) -> None:
    photo = face(tmp_path / "speaker.png")
    speech = str(make_wav(tmp_path / "hello.wav", 2.0))
    result = run("s2v", "--image", photo, "--speech", speech, "-o", str(tmp_path / "talk.mp4"), "--yes")
    assert result.exit_code == 0, result.stderr
    assert "Face check: passed" in result.stderr
    seconds, width, height, audio = probe(Path(result.stdout.strip()))
    assert abs(seconds - 2) < 0.2 and audio and height > width  # as long as the speech, shaped like the photo
    (task,) = cli.state.tasks
    assert task.spec.id == "wan2.2-s2v"
    again = run("s2v", "--image", photo, "--speech", speech, "-o", str(tmp_path / "talk2.mp4"), "--yes")
    assert again.exit_code == 0, again.stderr
    assert "Face check: passed (cached" in again.stderr
    assert _face_rows() == [("wan2.2-s2v-detect", 1, 1, "image")]  # one billed check, recorded as a cost


def test_s2v_face_check_refusal_submits_nothing(cli: EmulatorThread, tmp_path: Path) -> None:
    photo = flat(tmp_path / "wall.png")
    speech = str(make_wav(tmp_path / "hello.wav", 2.0))
    result = run("s2v", "--image", photo, "--speech", speech, "--yes")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "did not pass" in errors[0] and "nothing was submitted" in errors[0]
    assert cli.state.tasks == []
    again = run("s2v", "--image", photo, "--speech", speech, "--yes")
    assert again.exit_code == 2 and "did not pass (cached" in again.stderr  # not checked, nor billed, again


def test_animate_end_to_end(cli: EmulatorThread, tmp_path: Path) -> None:
    character = face(tmp_path / "hero.png", (480, 480))
    motion = make_mp4(tmp_path / "dance.mp4", width=640, height=360, seconds=3.0)
    result = run("animate", "move", "--image", character, "--video", str(motion), "--quality", "pro",
                 "-o", str(tmp_path / "moved.mp4"), "--yes", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    envelope = json.loads(result.stdout)
    assert envelope["usage"] == {"video_duration": 3.0, "video_ratio": "pro"}
    seconds, _width, _height, _audio = probe(Path(envelope["video_path"]))
    assert abs(seconds - 3) < 0.2
