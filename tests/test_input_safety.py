"""Inputs that used to pass a header probe, and plans that used to exhaust memory: a truncated MP4, a 15000x15000
PNG, 200 000 seeds, a 10 001-row batch, deeply nested plans. Each is one clear line (exit 2) before anything is
uploaded or joined; `media fit` repairs the huge image. Real processes against the emulator."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from qwenvid.cli import app
from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread
from tests.support.media_files import huge_png
from tests.support.terminal import qwenvid_argv
from tests.support.videos import make_mp4

CANARY = "sk-canary-inputs-0123456789"


@pytest.fixture
def logged(make_emulator, manual_clock: ManualClock) -> tuple[EmulatorThread, list[str]]:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    return make_emulator(EmulatorConfig(), clock=manual_clock, request_log=lines.append), lines


def qwenvid(*args: str, emulator: EmulatorThread | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DASHSCOPE_API_KEY": CANARY}
    if emulator is not None:
        env["QWEN_BASE_URL"] = emulator.base_url
    return subprocess.run(
        [*qwenvid_argv(), *args], capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL
    )


def one_line_refusal(result: subprocess.CompletedProcess[str] | object, needle: str) -> None:
    code = getattr(result, "returncode", getattr(result, "exit_code", None))
    stderr = str(getattr(result, "stderr", ""))
    assert code == 2, stderr
    assert needle in stderr, stderr
    assert "Traceback" not in stderr and "unexpected" not in stderr
    assert "DecompressionBomb" not in stderr and "Warning" not in stderr


# -- a truncated MP4 ---------------------------------------------------------------------------------


@pytest.fixture
def halves(tmp_path: Path) -> tuple[Path, Path]:
    """A whole 4 s clip with its index first (as Wan's results are) and a copy of its first half."""
    whole = make_mp4(tmp_path / "whole.mp4", width=832, height=480, seconds=4.0, faststart=True)
    half = tmp_path / "half.mp4"
    data = whole.read_bytes()
    half.write_bytes(data[: len(data) // 2])
    return whole, half


def test_a_truncated_mp4_is_refused_by_info_fit_i2v_and_concat(
    halves: tuple[Path, Path], logged: tuple[EmulatorThread, list[str]], tmp_path: Path
) -> None:
    whole, half = halves
    emulator, lines = logged
    ends_early = f"{half}: the file ends early"
    one_line_refusal(qwenvid("media", "info", str(half)), ends_early)
    assert qwenvid("media", "info", str(whole)).returncode == 0
    i2v = qwenvid(
        "i2v", "Go on", "--clip", str(half), "--model", "wan2.7-i2v", "--resolution", "720P", emulator=emulator
    )
    one_line_refusal(i2v, f"--clip {half}: the file ends early")
    assert not [line for line in lines if "POST" in line] and emulator.state.task_count() == 0  # nothing uploaded
    runner = CliRunner()
    joined = tmp_path / "joined.mp4"
    one_line_refusal(runner.invoke(app, ["media", "concat", str(whole), str(half), "-o", str(joined)]), ends_early)
    assert not joined.exists()
    fit = runner.invoke(app, ["media", "fit", str(half), "--model", "wan2.7-i2v", "--as", "clip"])
    one_line_refusal(fit, ends_early)


# -- a 15000x15000 PNG -------------------------------------------------------------------------------


def test_a_huge_png_is_one_line_everywhere_and_media_fit_repairs_it(
    logged: tuple[EmulatorThread, list[str]], tmp_path: Path
) -> None:
    emulator, lines = logged
    bomb = huge_png(tmp_path / "bomb.png", 15000, 15000)
    i2v = qwenvid("i2v", "Smile", "--image", str(bomb), "--model", "wan2.6-i2v", emulator=emulator)
    one_line_refusal(i2v, f"--image {bomb}: 15000x15000 px is out of range")
    assert f"qwenvid media fit {bomb}" in i2v.stderr  # the hint names the repair
    assert not [line for line in lines if "POST" in line] and emulator.state.task_count() == 0
    info = qwenvid("media", "info", str(bomb), "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["width"] == 15000 and info.stderr == ""  # no bomb warning leaks
    fit = CliRunner().invoke(app, ["media", "fit", str(bomb), "--model", "wan2.6-i2v", "--as", "first_frame"])
    assert fit.exit_code == 0, fit.stderr
    assert "resized 15000x15000 -> 2000x2000" in fit.stderr and "Warning" not in fit.stderr
    with Image.open(fit.stdout.strip()) as fitted:
        assert fitted.size == (2000, 2000)


def test_an_image_too_large_to_decode_is_refused_in_one_line(tmp_path: Path) -> None:
    giant = huge_png(tmp_path / "giant.png", 40000, 40000, data=False)  # 1.6 GB of pixels once decoded
    fit = CliRunner().invoke(app, ["media", "fit", str(giant), "--model", "wan2.6-i2v", "--as", "first_frame"])
    one_line_refusal(fit, "40000x40000 px is too large to open safely")


# -- plans that used to exhaust memory ---------------------------------------------------------------


def test_200000_seeds_are_one_line_not_gigabytes(tmp_path: Path) -> None:
    plan = tmp_path / "seeds.json"
    step = {"model": "wan2.1-t2v-turbo", "prompt": "A kitten", "size": "832*480", "seeds": list(range(200_000))}
    plan.write_text(json.dumps({"steps": {"kitten": step}}), encoding="utf-8")
    result = qwenvid("--emulator", "run", str(plan), "--dry-run")
    one_line_refusal(result, "step 'kitten': seeds lists 200000 seeds; at most 1000")
    assert len(result.stdout + result.stderr) < 2000


def test_a_batch_over_the_step_cap_is_refused_before_any_row_is_built(tmp_path: Path) -> None:
    batch = tmp_path / "rows.jsonl"
    row = json.dumps({"model": "wan2.1-t2v-turbo", "input": {"prompt": "A kitten"}})
    batch.write_text((row + "\n") * 10_001, encoding="utf-8")
    result = qwenvid("--emulator", "run", str(batch), "--dry-run", "--json")
    one_line_refusal(result, "rows.jsonl: the batch has more than 10000 rows")
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "PlanTooLarge" and error["code"] == "PlanTooLarge"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("deep.toml", "x = " + "[" * 50_000 + "]" * 50_000 + "\n"),
        ("deep.json", '{"steps": ' + "[" * 50_000 + "]" * 50_000 + "}"),
        ("deep.jsonl", '{"input": {"prompt": "x"}, "parameters": {"a": ' + "[" * 40 + "]" * 40 + "}}\n"),
    ],
)
def test_deeply_nested_plans_are_a_usage_error(tmp_path: Path, name: str, text: str) -> None:
    plan = tmp_path / name
    plan.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["--emulator", "run", str(plan), "--dry-run"])
    one_line_refusal(result, "nest too deeply (at most 32 levels)")
