"""`--dry-run --json` prints the exact body the API expects (dashscope-api.md §2) and sends nothing."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from qwenvid.cli import app

U = "https://example.com/"
VG = "/services/aigc/video-generation/video-synthesis"
I2V = "/services/aigc/image2video/video-synthesis"


@pytest.fixture
def closed_base_url() -> str:
    """A loopback port nobody listens on: any network call would fail loudly (exit 6)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v1"


def dry_run(base_url: str, *args: str) -> tuple[dict[str, Any], str]:
    result = CliRunner().invoke(app, ["--base-url", base_url, *args, "--dry-run", "--json"])
    assert result.exit_code == 0, result.stderr + result.stdout
    return json.loads(result.stdout), result.stderr


CASES = [
    pytest.param(
        ["t2v", "A kitten", "--model", "wan2.6-t2v", "--audio-file", U + "bgm.mp3", "--size", "1280*720",
         "--duration", "10", "--prompt-extend", "--shot-type", "multi", "--no-watermark", "--seed", "12345"],
        VG,
        {"model": "wan2.6-t2v", "input": {"prompt": "A kitten", "audio_url": U + "bgm.mp3"},
         "parameters": {"size": "1280*720", "duration": 10, "prompt_extend": True, "shot_type": "multi",
                        "watermark": False, "seed": 12345}},
        id="t2v-wan2.6 (§2.2 example)",
    ),
    pytest.param(
        ["t2v", "A kitten", "--model", "wan2.7-t2v", "-n", "blur", "--audio-file", U + "a.mp3",
         "--resolution", "720P", "--ratio", "16:9", "--duration", "5", "--prompt-extend", "--no-watermark",
         "--seed", "12345"],
        VG,
        {"model": "wan2.7-t2v", "input": {"prompt": "A kitten", "negative_prompt": "blur", "audio_url": U + "a.mp3"},
         "parameters": {"resolution": "720P", "ratio": "16:9", "duration": 5, "prompt_extend": True,
                        "watermark": False, "seed": 12345}},
        id="t2v-wan2.7 (§2.2 example)",
    ),
    pytest.param(
        ["t2v", "Waves", "--model", "wan2.1-t2v-turbo", "--size", "832*480"],
        VG,
        {"model": "wan2.1-t2v-turbo", "input": {"prompt": "Waves"}, "parameters": {"size": "832*480", "duration": 5}},
        id="t2v-wan2.1",
    ),
    pytest.param(
        ["i2v", "Rap", "--model", "wan2.6-i2v-flash", "--image", U + "rap.png", "--audio-file", U + "rap.mp3",
         "--resolution", "720P", "--duration", "10", "--prompt-extend", "--shot-type", "multi", "--audio"],
        VG,
        {"model": "wan2.6-i2v-flash", "input": {"prompt": "Rap", "img_url": U + "rap.png", "audio_url": U + "rap.mp3"},
         "parameters": {"resolution": "720P", "duration": 10, "prompt_extend": True, "shot_type": "multi",
                        "audio": True}},
        id="i2v-wan2.6-flash (§2.3 example)",
    ),
    pytest.param(
        ["i2v", "Bloom", "--model", "wan2.7-i2v", "--image", U + "bud.png", "--last-frame", U + "flower.png",
         "--resolution", "720P"],
        VG,
        {"model": "wan2.7-i2v",
         "input": {"prompt": "Bloom", "media": [{"type": "first_frame", "url": U + "bud.png"},
                                                 {"type": "last_frame", "url": U + "flower.png"}]},
         "parameters": {"resolution": "720P", "duration": 5}},
        id="i2v-wan2.7 first+last (§2.6)",
    ),
    pytest.param(
        ["kf2v", "Open", "--model", "wan2.2-kf2v-flash", "--first-frame", U + "a.png", "--last-frame", U + "b.png",
         "--resolution", "480P"],
        I2V,
        {"model": "wan2.2-kf2v-flash",
         "input": {"prompt": "Open", "first_frame_url": U + "a.png", "last_frame_url": U + "b.png"},
         "parameters": {"resolution": "480P", "duration": 5}},
        id="kf2v-wan2.2 (§2.4)",
    ),
    pytest.param(
        ["r2v", "character1 waves", "--model", "wan2.6-r2v", "--ref", U + "a.png", "--ref", U + "b.mp4",
         "--size", "1280*720", "--duration", "5"],
        VG,
        {"model": "wan2.6-r2v", "input": {"prompt": "character1 waves", "reference_urls": [U + "a.png", U + "b.mp4"]},
         "parameters": {"size": "1280*720", "duration": 5}},
        id="r2v-wan2.6 (§2.5)",
    ),
    pytest.param(
        ["vace", "ref", "A girl in a garden", "--ref-image", U + "g.png", "--ref-image", U + "bg.png",
         "--obj-or-bg", "obj", "--obj-or-bg", "bg", "--size", "1280*720"],
        VG,
        {"model": "wan2.1-vace-plus",
         "input": {"function": "image_reference", "prompt": "A girl in a garden",
                   "ref_images_url": [U + "g.png", U + "bg.png"]},
         "parameters": {"obj_or_bg": ["obj", "bg"], "size": "1280*720"}},
        id="vace-image_reference (§2.7)",
    ),
    pytest.param(
        ["vace", "outpaint", "Wide", "--video", U + "v.mp4", "--left-scale", "1.5", "--right-scale", "1.5"],
        VG,
        {"model": "wan2.1-vace-plus",
         "input": {"function": "video_outpainting", "prompt": "Wide", "video_url": U + "v.mp4"},
         "parameters": {"left_scale": 1.5, "right_scale": 1.5}},
        id="vace-video_outpainting (§2.7)",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("args", "path", "body"), CASES)
def test_dry_run_body_matches_the_api(closed_base_url: str, args: list[str], path: str, body: dict[str, Any]) -> None:
    plan, _ = dry_run(closed_base_url, *args)
    assert plan["method"] == "POST"
    assert plan["url"] == closed_base_url + path
    assert plan["headers"]["X-DashScope-Async"] == "enable"
    assert plan["headers"]["Authorization"] == "Bearer sk-…"
    assert plan["payload"] == body
    assert plan["uploads"] == []


@pytest.mark.parametrize(
    ("args", "mode_fields"),
    [
        (["i2v", "Go", "--model", "wan2.7-i2v", "--clip", U + "c.mp4"], {"first_clip"}),
        (["r2v", "Image 1 walks", "--model", "wan2.7-r2v", "--ref", U + "p.png", "--resolution", "720P"],
         {"reference_image"}),
        (["vace", "instruct", "Make it snow", "--video", U + "s.mp4"], {"video"}),
    ],
)  # fmt: skip
def test_dry_run_wan27_media_protocol(closed_base_url: str, args: list[str], mode_fields: set[str]) -> None:
    plan, _ = dry_run(closed_base_url, *args)
    assert {item["type"] for item in plan["payload"]["input"]["media"]} == mode_fields
    assert plan["url"].endswith(VG)


def test_dry_run_lists_local_uploads_and_never_shows_the_key(
    closed_base_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    image = tmp_path / "cat.png"
    Image.new("RGB", (640, 480), "orange").save(image)
    monkeypatch.setenv("DASHSCOPE_API_KEY", "sk-canary0123456789secret")
    plan, stderr = dry_run(closed_base_url, "i2v", "The cat turns", "--image", str(image))
    assert plan["uploads"] == [
        {"path": str(image), "field": plan["uploads"][0]["field"], "kind": "image", "size": image.stat().st_size}
    ]
    assert "img_url" in plan["uploads"][0]["field"]
    assert plan["headers"]["X-DashScope-OssResourceResolve"] == "enable"
    assert "canary" not in json.dumps(plan) + stderr


@pytest.mark.parametrize(
    ("skill_json", "path", "model"),
    [
        ({"prompt": "A kitten"}, VG, "wan2.6-t2v"),
        ({"prompt": "Move", "img_url": U + "a.png"}, VG, "wan2.6-i2v-flash"),
        ({"prompt": "Open", "first_frame_url": U + "a.png", "last_frame_url": U + "b.png"}, I2V, "wan2.2-kf2v-flash"),
        ({"prompt": "character1", "reference_urls": [U + "a.png"]}, VG, "wan2.6-r2v-flash"),
        ({"prompt": "Clay", "function": "video_repainting", "video_url": U + "v.mp4"}, VG, "wan2.1-vace-plus"),
    ],
)
def test_generate_detects_the_mode_like_the_skill(
    closed_base_url: str, skill_json: dict[str, Any], path: str, model: str
) -> None:
    plan, _ = dry_run(closed_base_url, "generate", "--request", json.dumps(skill_json))
    assert plan["url"] == closed_base_url + path
    assert plan["payload"]["model"] == model


def test_generate_reads_a_file_and_flags_override_it(closed_base_url: str, tmp_path: Path) -> None:
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"prompt": "A kitten", "model": "wan2.6-t2v", "duration": 10}))
    plan, _ = dry_run(closed_base_url, "t2v", "--file", str(request), "--duration", "5")
    assert plan["payload"]["input"]["prompt"] == "A kitten"
    assert plan["payload"]["parameters"]["duration"] == 5


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["t2v", "x", "--model", "wan2.7-t2v", "--size", "1280*720"], "--resolution"),
        (["t2v", "x", "--model", "wan2.6-t2v", "--resolution", "720P"], "--size"),
        (["i2v", "x", "--image", U + "a.png", "--size", "1280*720"], "--resolution"),
        (["vace", "sideways", "x"], "image_reference"),
        (["t2v", "--request", '{"prompt": "x", "img_url": "https://e/a.png"}'], "i2v"),
        (["generate", "--request", "not json"], "JSON"),
    ],
)
def test_wrong_option_is_exit_2_naming_the_right_one(closed_base_url: str, args: list[str], names: str) -> None:
    result = CliRunner().invoke(app, ["--base-url", closed_base_url, *args, "--dry-run"])
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    assert names in result.stderr
    assert result.stderr.startswith("Error: ") or "\nError: " in result.stderr
