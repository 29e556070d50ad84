"""s2v and animate steps in plans: the exact bodies, the face check before paying (cached per image), a plan with
one of each run end to end on the emulator and its outputs probed with PyAV; the plan schema takes their fields."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import av
import jsonschema
import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.emulator.server import EmulatorThread
from tests.support.media_files import make_wav
from tests.support.videos import make_mp4
from tests.test_performers import face, flat

CLOSED = "http://127.0.0.1:9/api/v1"
SCHEMA = Path(__file__).resolve().parents[1] / "qwenvid" / "plans" / "plan.schema.json"


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def probe(path: Path) -> tuple[float, int, int, bool]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        seconds = float(container.duration or 0) / av.time_base
        return seconds, stream.codec_context.width, stream.codec_context.height, bool(container.streams.audio)


def write_plan(path: Path, steps: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"name": "performers", "steps": steps}), encoding="utf-8")
    return path


def test_plan_steps_send_the_s2v_and_animate_bodies(tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path / "plan.json",
        {
            "talk": {"model": "wan2.2-s2v", "image": "https://x/p.jpg", "speech": "https://x/a.mp3"},
            "moved": {"mode": "animate", "image": "https://x/hero.png", "video": "https://x/dance.mp4"},
            "mixed": {"model": "wan2.2-animate-mix", "image": "https://x/hero.png", "video": "https://x/st.mp4",
                      "quality": "pro", "check_image": False},
            "sung": {"mode": "s2v", "image": "https://x/p.jpg", "speech": "https://x/b.wav", "resolution": "720P"},
        },
    )  # fmt: skip
    jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8"))).validate(
        json.loads(plan.read_text(encoding="utf-8"))
    )
    result = run("--base-url", CLOSED, "run", str(plan), "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    bodies = {step["id"]: step["request"]["payload"] for step in json.loads(result.stdout)["steps"]}
    assert "Note: face check first for talk, sung: 1 image each on wan2.2-s2v-detect" in result.stderr
    assert bodies["talk"] == {
        "model": "wan2.2-s2v",
        "input": {"image_url": "https://x/p.jpg", "audio_url": "https://x/a.mp3"},
        "parameters": {"resolution": "480P"},
    }
    assert bodies["sung"]["model"] == "wan2.2-s2v" and bodies["sung"]["parameters"] == {"resolution": "720P"}
    assert bodies["moved"] == {
        "model": "wan2.2-animate-move",
        "input": {"image_url": "https://x/hero.png", "video_url": "https://x/dance.mp4"},
        "parameters": {"mode": "wan-std"},
    }
    assert bodies["mixed"]["model"] == "wan2.2-animate-mix"
    assert bodies["mixed"]["parameters"] == {"mode": "wan-pro", "check_image": False}


def test_a_bad_quality_or_a_duration_on_s2v_is_refused_before_paying(tmp_path: Path) -> None:
    plan = write_plan(
        tmp_path / "plan.json",
        {
            "talk": {"model": "wan2.2-s2v", "image": "https://x/p.jpg", "speech": "https://x/a.mp3", "duration": 5},
            "moved": {"model": "wan2.2-animate-move", "image": "https://x/h.png", "video": "https://x/d.mp4",
                      "quality": "max"},
        },
    )  # fmt: skip
    result = run("--base-url", CLOSED, "run", str(plan), "--dry-run")
    assert result.exit_code == 2
    assert "wan2.2-s2v has no duration" in result.stderr and "std, pro" in result.stderr
    assert "Traceback" not in result.stderr


def _face_rows() -> list[tuple[Any, ...]]:
    with sqlite3.connect(Path(os.environ["QWENVID_HOME"]) / "ledger.sqlite3") as conn:
        return conn.execute("SELECT model, check_pass FROM face_checks").fetchall()


def test_a_plan_with_an_s2v_and_an_animate_step_runs_on_the_emulator(cli: EmulatorThread, tmp_path: Path) -> None:
    face(tmp_path / "speaker.png")
    face(tmp_path / "hero.png", (480, 480))
    make_wav(tmp_path / "hello.wav", 2.0)
    make_mp4(tmp_path / "dance.mp4", width=640, height=360, seconds=2.0)
    plan = write_plan(
        tmp_path / "plan.json",
        {
            "talk": {"model": "wan2.2-s2v", "image": "speaker.png", "speech": "hello.wav", "resolution": "480P"},
            "moved": {"model": "wan2.2-animate-move", "image": "hero.png", "video": "dance.mp4", "quality": "std"},
        },
    )
    out = tmp_path / "out"
    result = run("run", str(plan), "--yes", "--output", str(out))
    assert result.exit_code == 0, result.stderr
    assert "Face check: 1 wan2.2-s2v-detect call" in result.stderr and "Face check: passed" in result.stderr
    talk = next(out.rglob("talk*.mp4"))
    seconds, width, height, audio = probe(talk)
    assert abs(seconds - 2) < 0.2 and audio and height > width  # as long as the speech, shaped like the photo
    moved = next(out.rglob("moved*.mp4"))
    seconds, _width, _height, _audio = probe(moved)
    assert abs(seconds - 2) < 0.2  # as long as the motion video
    assert sorted(task.spec.id for task in cli.state.tasks) == ["wan2.2-animate-move", "wan2.2-s2v"]
    assert _face_rows() == [("wan2.2-s2v-detect", 1)]


def test_a_plan_s2v_step_whose_face_check_fails_is_not_submitted(cli: EmulatorThread, tmp_path: Path) -> None:
    flat(tmp_path / "wall.png")
    make_wav(tmp_path / "hello.wav", 1.0)
    plan = write_plan(
        tmp_path / "plan.json", {"talk": {"model": "wan2.2-s2v", "image": "wall.png", "speech": "hello.wav"}}
    )
    result = run("run", str(plan), "--yes", "--output", str(tmp_path / "out"))
    assert result.exit_code != 0
    assert "did not pass" in result.stderr and "Traceback" not in result.stderr
    assert cli.state.tasks == []
    assert _face_rows() == [("wan2.2-s2v-detect", 0)]


# ---- the s2v cost bills the speech's real length (the longest, 20 s, only when it is unknown) ----


def test_the_s2v_cost_notice_bills_the_local_speech_length(tmp_path: Path) -> None:
    photo = face(tmp_path / "p.png")
    speech = str(make_wav(tmp_path / "s.wav", 3.0))
    local = run("--base-url", CLOSED, "s2v", "--image", photo, "--speech", speech, "--dry-run")
    assert local.exit_code == 0, local.stderr
    assert "Cost: 3 s billable at 480P on wan2.2-s2v" in local.stderr
    far = run("--base-url", CLOSED, "s2v", "--image", photo, "--speech", "https://x/a.mp3", "--dry-run")
    assert far.exit_code == 0, far.stderr
    assert "Cost: 20 s billable at 480P on wan2.2-s2v" in far.stderr  # a URL's length is unknown: the longest


def test_a_plans_s2v_steps_bill_their_speech_length(tmp_path: Path) -> None:
    face(tmp_path / "p.png")
    make_wav(tmp_path / "s.wav", 3.0)
    plan = write_plan(
        tmp_path / "plan.json",
        {
            "talk": {"model": "wan2.2-s2v", "image": "p.png", "speech": "s.wav"},
            "far": {"model": "wan2.2-s2v", "image": "p.png", "speech": "https://x/a.mp3"},
        },
    )
    result = run("--base-url", CLOSED, "run", str(plan), "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    seconds = {step["id"]: step["billable_seconds"] for step in json.loads(result.stdout)["steps"]}
    assert seconds == {"talk": 3.0, "far": 20.0}


def test_whoever_runs_a_plan_its_s2v_steps_are_face_checked(cli: EmulatorThread, tmp_path: Path) -> None:
    """The library's prepare (used by the MCP server and `pick` too) adds the face check, not only `qwenvid run`."""
    from types import SimpleNamespace

    from qwenvid.config import load_settings
    from qwenvid.errors import ValidationError
    from qwenvid.plans.execute import prepare
    from qwenvid.plans.parse import load_plan
    from qwenvid.tasks.session import Session

    flat(tmp_path / "wall.png")
    make_wav(tmp_path / "hello.wav", 1.0)
    plan = write_plan(
        tmp_path / "plan.json", {"talk": {"model": "wan2.2-s2v", "image": "wall.png", "speech": "hello.wav"}}
    )
    with Session(load_settings()) as session:
        prepared, backend, _finder = prepare(session, load_plan(plan), tmp_path / "out")
        attempt = SimpleNamespace(plan=SimpleNamespace(request=prepared.steps["talk"].request))
        with pytest.raises(ValidationError, match="did not pass"):
            for guard in backend.guards:
                guard(session, attempt)
    assert cli.state.tasks == [] and _face_rows() == [("wan2.2-s2v-detect", 0)]
