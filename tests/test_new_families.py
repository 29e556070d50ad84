"""Wan 3.0 and HappyHorse through the CLI (dashscope-api-2026.md §1, §2).

Golden tests: the contract file's request examples reproduced exactly by `--dry-run --json`. Refusals the
contract lists: one line, exit 2, nothing sent. End to end on the emulator: a real MP4 probed with PyAV.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.emulator.server import EmulatorThread
from tests.support.media_files import make_wav
from tests.support.videos import make_mp4

CLOSED = "http://127.0.0.1:9/api/v1"  # nothing listens: a dry run or a refusal must not need the service


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def dry_payload(*args: str) -> dict[str, Any]:
    result = run("--base-url", CLOSED, *args, "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["payload"]


# ---- golden: the contract's examples, exactly ----

GOLDEN = [
    (
        # §1.2: references of three kinds, every parameter given
        [
            "r2v", "视频1抱着图3 …", "--model", "wan3.0-video", "--ref", "https://x/a.jpg", "--ref", "https://x/b.mp4",
            "--ref", "https://x/c.mp3", "--resolution", "720P", "--ratio", "adaptive", "--duration", "5", "--audio",
            "--prompt-extend", "--no-watermark", "--seed", "42",
        ],
        {
            "model": "wan3.0-video",
            "input": {
                "prompt": "视频1抱着图3 …",
                "media": [
                    {"type": "reference_image", "url": "https://x/a.jpg"},
                    {"type": "reference_video", "url": "https://x/b.mp4"},
                    {"type": "reference_audio", "url": "https://x/c.mp3"},
                ],
            },
            "parameters": {
                "resolution": "720P", "ratio": "adaptive", "duration": 5, "audio": True,
                "prompt_extend": True, "watermark": False, "seed": 42,
            },
        },
    ),
    (
        # §2.2: HappyHorse 1.1 image-to-video (no watermark sent: the service's default, on, applies)
        [
            "i2v", "一只猫在草地上奔跑", "--model", "happyhorse-1.1-i2v", "--image", "https://x/wanx-demo-1.png",
            "--resolution", "720P", "--duration", "5",
        ],
        {
            "model": "happyhorse-1.1-i2v",
            "input": {"prompt": "一只猫在草地上奔跑", "media": [{"type": "first_frame", "url": "https://x/wanx-demo-1.png"}]},
            "parameters": {"resolution": "720P", "duration": 5},
        },
    ),
    (
        # §2.2: HappyHorse video edit with a reference image
        [
            "vace", "instruct", "让视频中的…穿上图片中的条纹毛衣", "--model", "happyhorse-1.0-video-edit",
            "--video", "https://x/in.mp4", "--ref-image", "https://x/x.webp", "--resolution", "720P",
        ],
        {
            "model": "happyhorse-1.0-video-edit",
            "input": {
                "prompt": "让视频中的…穿上图片中的条纹毛衣",
                "media": [
                    {"type": "video", "url": "https://x/in.mp4"},
                    {"type": "reference_image", "url": "https://x/x.webp"},
                ],
            },
            "parameters": {"resolution": "720P"},
        },
    ),
]  # fmt: skip


@pytest.mark.parametrize(("args", "body"), GOLDEN, ids=["wan3-references", "happyhorse-i2v", "happyhorse-edit"])
def test_the_contract_examples_are_reproduced_exactly(args: list[str], body: dict[str, Any]) -> None:
    assert dry_payload(*args) == body


@pytest.mark.parametrize(
    "body", [body for _args, body in GOLDEN], ids=["wan3-references", "happyhorse-i2v", "happyhorse-edit"]
)
def test_skill_shaped_json_of_the_examples_is_sent_as_it_is(body: dict[str, Any]) -> None:
    """`generate --request` with the contract's own JSON: the family is detected by model, the body kept."""
    assert dry_payload("generate", "--request", json.dumps(body, ensure_ascii=False)) == body


def test_wan3_skill_json_with_frames_is_image_to_video() -> None:
    body = {
        "model": "wan3.0-video",
        "prompt": "dusk",
        "media": [{"type": "first_frame", "url": "https://x/a.png"}, {"type": "last_frame", "url": "https://x/b.png"}],
    }
    sent = dry_payload("generate", "--request", json.dumps(body))
    assert sent["input"]["media"] == body["media"] and sent["parameters"]["ratio"] == "adaptive"


def test_wan3_modes_map_onto_media_items() -> None:
    first_last = dry_payload("kf2v", "day to night", "--model", "wan3.0-video", "--first-frame", "https://x/a.png",
                             "--last-frame", "https://x/b.png")  # fmt: skip
    assert first_last["input"]["media"] == [
        {"type": "first_frame", "url": "https://x/a.png"},
        {"type": "last_frame", "url": "https://x/b.png"},
    ]
    voiced = dry_payload("r2v", "图1 says hello", "--model", "wan3.0-video", "--ref", "https://x/a.png",
                         "--ref-voice", "https://x/v.mp3")  # fmt: skip
    assert voiced["input"]["media"] == [
        {"type": "reference_image", "url": "https://x/a.png"},
        {"type": "reference_audio", "url": "https://x/v.mp3"},
    ]
    auto = dry_payload("t2v", "a storm", "--model", "wan3.0-video-prime", "--duration", "auto")
    assert auto["parameters"]["duration"] == -1 and auto["parameters"]["ratio"] == "adaptive"
    assert "media" not in auto["input"]


# ---- refusals: before paying, one line, exit 2 ----

REFUSALS = [
    (["r2v", "x", "--model", "wan3.0-video", "--ref", "https://x/a.png", "--first-frame", "https://x/b.png"],
     "mutually exclusive"),
    (["i2v", "x", "--model", "wan3.0-video", "--image", "https://x/a.png", "--driving-audio", "https://x/a.mp3"],
     "mutually exclusive"),
    (["t2v", "x", "--model", "wan3.0-video", "--duration", "31"], "allowed: auto or 2-30 s"),
    (["t2v", "x", "--model", "wan3.0-video", "--ratio", "21:9"], "21:9"),
    (["t2v", "x", "--model", "happyhorse-1.1-t2v", "--duration", "2"], "3-15 s"),
    (["t2v", "x", "--model", "happyhorse-1.0-t2v", "--resolution", "480P"], "720P, 1080P"),
    (["t2v", "x", "--model", "happyhorse-1.1-t2v", "--no-audio"], "always makes sound"),
    (["i2v", "x", "--model", "happyhorse-1.1-i2v", "--image", "https://x/a.png", "--ratio", "16:9"], "ratio"),
    (["i2v", "x", "--model", "happyhorse-1.1-i2v", "--image", "https://x/a.png", "--last-frame", "https://x/b.png"],
     "last_frame"),
    (["r2v", "x", "--model", "happyhorse-1.1-r2v", *[arg for i in range(10) for arg in ("--ref", f"https://x/{i}.png")]],
     "reference image"),
    (["r2v", "x", "--model", "happyhorse-1.1-r2v", "--ref", "https://x/a.mp4"], "video"),
    (["vace", "instruct", "x", "--model", "happyhorse-1.0-video-edit", "--video", "https://x/v.mp4", "--duration", "5"],
     "no --duration"),
    (["vace", "repaint", "x", "--model", "wan3.0-video", "--video", "https://x/v.mp4"], "instruction only"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "says"), REFUSALS, ids=[f"{i}-{r[1][:16]}" for i, r in enumerate(REFUSALS)])
def test_refusals_are_one_line_exit_2_before_anything_is_sent(args: list[str], says: str, canary_key: str) -> None:
    result = run("--base-url", CLOSED, *args, "--yes")
    assert result.exit_code == 2, (result.stdout, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and says in errors[0], result.stderr
    assert "Traceback" not in result.stderr


def test_input_video_plus_output_over_30_s_is_refused(tmp_path: Path) -> None:
    clip = make_mp4(tmp_path / "clip.mp4", width=320, height=240, seconds=12.0)
    result = run("--base-url", CLOSED, "vace", "instruct", "make it snow", "--model", "wan3.0-video",
                 "--video", str(clip), "--duration", "20", "--dry-run")  # fmt: skip
    assert result.exit_code == 2
    assert "30 s in total" in result.stderr and "at most 18 s" in result.stderr


def test_cost_notice_prices_auto_at_its_longest_and_states_the_watermark_default(
    canary_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", canary_key)
    # No terminal and above the confirmation threshold: the notice, then exit 7, nothing sent.
    auto = run("--base-url", CLOSED, "t2v", "a storm", "--model", "wan3.0-video", "--duration", "auto")
    assert auto.exit_code == 7
    assert "Cost: 30 s billable at 1080P on wan3.0-video" in auto.stderr
    horse = run("--base-url", CLOSED, "t2v", "a horse", "--model", "happyhorse-1.1-t2v", "--duration", "15")
    assert horse.exit_code == 7
    assert "Note: watermark on (happyhorse-1.1-t2v's default; --no-watermark turns it off)" in horse.stderr
    unmarked = run("--base-url", CLOSED, "t2v", "a horse", "--model", "happyhorse-1.1-t2v", "--duration", "15",
                   "--no-watermark")  # fmt: skip
    assert unmarked.exit_code == 7 and "watermark" not in unmarked.stderr.lower()


# ---- end to end on the emulator, probed with PyAV ----


def _probe(path: Path) -> tuple[float, int, int, bool]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = float(container.duration or 0) / av.time_base
        return duration, stream.codec_context.width, stream.codec_context.height, bool(container.streams.audio)


def _image(path: Path, size: tuple[int, int] = (640, 480)) -> str:
    Image.new("RGB", size, "teal").save(path)
    return str(path)


def test_wan3_text_silent_480p_end_to_end(cli: EmulatorThread, tmp_path: Path) -> None:
    result = run("t2v", "rain on a window", "--model", "wan3.0-video", "--resolution", "480P", "--ratio", "16:9",
                 "--duration", "2", "--no-audio", "-o", str(tmp_path / "w3.mp4"), "--yes")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    duration, width, height, audio = _probe(Path(result.stdout.strip()))
    assert abs(duration - 2) < 0.2 and not audio and width > height
    (task,) = cli.state.tasks
    assert task.body["parameters"]["audio"] is False


def test_wan3_reference_image_and_voice_end_to_end(cli: EmulatorThread, tmp_path: Path) -> None:
    ref = _image(tmp_path / "hero.png")
    voice = str(make_wav(tmp_path / "voice.wav", 2.0))
    result = run("r2v", "图1 waves and says hello", "--model", "wan3.0-video", "--ref", ref, "--ref-voice", voice,
                 "--resolution", "480P", "--duration", "3", "-o", str(tmp_path / "voiced.mp4"), "--yes")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    duration, width, height, audio = _probe(Path(result.stdout.strip()))
    assert abs(duration - 3) < 0.2 and audio
    (task,) = cli.state.tasks
    assert [item["type"] for item in task.body["input"]["media"]] == ["reference_image", "reference_audio"]


def test_happyhorse_first_frame_end_to_end(cli: EmulatorThread, tmp_path: Path) -> None:
    frame = _image(tmp_path / "first.png", (480, 640))
    result = run("i2v", "the cat runs", "--model", "happyhorse-1.1-i2v", "--image", frame, "--resolution", "480P",
                 "--duration", "3", "-o", str(tmp_path / "hh.mp4"), "--yes")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    duration, width, height, audio = _probe(Path(result.stdout.strip()))
    assert abs(duration - 3) < 0.2 and audio and height > width  # the aspect follows the first frame


def test_happyhorse_edit_end_to_end(cli: EmulatorThread, tmp_path: Path) -> None:
    clip = make_mp4(tmp_path / "in.mp4", width=640, height=360, seconds=3.0)
    result = run("vace", "instruct", "make it snow", "--model", "happyhorse-1.0-video-edit", "--video", str(clip),
                 "--resolution", "720P", "-o", str(tmp_path / "edit.mp4"), "--yes")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    duration, _width, _height, audio = _probe(Path(result.stdout.strip()))
    assert abs(duration - 3) < 0.2 and audio


def test_emulator_fails_frames_mixed_with_references_with_the_documented_message(cli: EmulatorThread) -> None:
    import httpx

    body = {
        "model": "wan3.0-video",
        "input": {"prompt": "x", "media": [{"type": "first_frame", "url": "data:image/png;base64,AA=="},
                                           {"type": "reference_image", "url": "data:image/png;base64,AA=="}]},
    }  # fmt: skip
    with httpx.Client(
        base_url=cli.base_url, headers={"Authorization": "Bearer sk-test", "X-DashScope-Async": "enable"}
    ) as client:
        answer = client.post("/services/aigc/video-generation/video-synthesis", json=body)
    assert answer.status_code == 200  # accepted at submit, as the real service does
    (task,) = cli.state.tasks
    assert task.planned_failure is not None and "mutually exclusive" in task.planned_failure[1]


def test_wizard_in_a_terminal_makes_a_wan3_video_from_a_reference_image_and_a_voice(tmp_path: Path) -> None:
    """A real pseudo-terminal: r2v, wan3.0-video, one reference image with its voice, to a video on the emulator."""
    from qwenvid.catalogue import models_for_mode
    from tests.support.terminal import Terminal

    _image(tmp_path / "hero.png")
    make_wav(tmp_path / "voice.wav", 2.0)
    down, enter = "\x1b[B", "\r"
    env = {"QWENVID_HOME": str(tmp_path / "home"), "DASHSCOPE_API_KEY": "sk-canary-wizard-0000"}
    terminal = Terminal("--emulator", "wizard", "-o", str(tmp_path / "out.mp4"), env=env, cwd=tmp_path)
    answers = [
        ("What do you want to make?", down * 3 + enter),  # r2v
        ("Which model?", down * [spec.id for spec in models_for_mode("r2v")].index("wan3.0-video") + enter),
        ("Reference 1", "hero.png" + enter),
        ("Voice for reference 1", "voice.wav" + enter),
        ("Reference 2", enter),
        ("Prompt", "图1 waves and says hello" + enter),
        ("Duration in seconds", "2" + enter),
        ("Resolution", down + enter),  # 480P
        ("Aspect ratio", down + enter),  # 16:9
        ("Sound on?", enter),
        ("Seed", enter),
        ("Negative prompt", enter),
        ("Submit it?", enter),
    ]
    for question, keys in answers:
        terminal.expect(question)
        terminal.type(keys)
    assert terminal.finish(120) == 0, terminal.text[-2000:]
    assert "model: wan3.0-video" in terminal.text
    assert "--ref hero.png --ref-voice voice.wav" in terminal.text.replace("\n", " ")  # the command it stands for
    seconds, width, height, audio = _probe(tmp_path / "out.mp4")
    assert abs(seconds - 2) < 0.2 and audio and width > height


def test_models_groups_the_families_on_a_terminal() -> None:
    from tests.support.terminal import run_in_terminal

    shown = run_in_terminal(["models"], columns=200, env={"NO_COLOR": "1"})
    assert shown.returncode == 0
    text = shown.output
    assert "wan3.0: up to 30 s, --duration auto, audio or silent, references up to 20, voices" in text
    assert "happyhorse: up to 15 s, audio, references up to 9, watermark on by default" in text
    assert "Unconfirmed: " in text and "invitation test / preview" in text
    assert text.index("wan3.0:") < text.index("happyhorse:") < text.index("wan2.7:") < text.index("wan2.1:")


def test_models_json_gains_family_and_a_mode_filter_finds_all_in_one_models() -> None:
    listed = json.loads(run("models", "--json").stdout)["models"]
    assert {item["id"]: item["family"] for item in listed}["wan3.0-video"] == "wan3.0"
    assert all(item["family"] for item in listed)
    horse = next(item for item in listed if item["id"] == "happyhorse-1.1-t2v")
    assert horse["watermark_default"] is True
    i2v = [item["id"] for item in json.loads(run("models", "--mode", "i2v", "--json").stdout)["models"]]
    assert "wan3.0-video" in i2v and "happyhorse-1.1-i2v" in i2v and "wan2.6-t2v" not in i2v


# ---- model ids: the typo rule (product.md §3.1) ----


def test_a_typo_of_a_known_id_is_refused_with_did_you_mean() -> None:
    result = run("--base-url", CLOSED, "t2v", "x", "--model", "wan3.0-vide", "--dry-run")
    assert result.exit_code == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: unknown model 'wan3.0-vide': did you mean wan3.0-video?"]
    assert "--allow-unknown-model" in result.stderr


def test_allow_unknown_model_sends_a_typo_anyway_and_a_far_id_passes_with_the_warning() -> None:
    allowed = run("--base-url", CLOSED, "--allow-unknown-model", "t2v", "x", "--model", "wan3.0-vide",
                  "--dry-run", "--json")  # fmt: skip
    assert allowed.exit_code == 0 and json.loads(allowed.stdout)["payload"]["model"] == "wan3.0-vide"
    assert "passed through unchecked" in allowed.stderr
    after = run("--base-url", CLOSED, "t2v", "x", "--model", "wan3.0-vide", "--dry-run")
    assert after.exit_code == 2  # the flag held for its own command only
    far = run("--base-url", CLOSED, "t2v", "x", "--model", "my-own-model", "--dry-run", "--json")
    assert far.exit_code == 0 and "passed through unchecked" in far.stderr


def test_the_typo_rule_holds_for_skill_json_and_plans(tmp_path: Path) -> None:
    skill = run("--base-url", CLOSED, "generate", "--request", '{"model": "happyhorse-1.1-t2x", "prompt": "x"}',
                "--dry-run")  # fmt: skip
    assert skill.exit_code == 2 and "did you mean happyhorse-1.1-t2v" in skill.stderr
    plan = tmp_path / "plan.jsonl"
    plan.write_text('{"id": "one", "prompt": "x", "model": "wan2.6-t2w"}\n', encoding="utf-8")
    planned = run("--base-url", CLOSED, "run", str(plan), "--dry-run")
    assert planned.exit_code == 2 and "did you mean wan2.6-t2v" in planned.stderr


# ---- workspace hosts (product.md §3.1) ----


def test_workspace_host_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    from qwenvid.config import load_settings

    env = {"QWEN_WORKSPACE_ID": "llm-abc123", "QWEN_REGION": "cn-hongkong"}
    settings = load_settings(environ=env)
    assert settings.base_url == "https://llm-abc123.cn-hongkong.maas.aliyuncs.com/api/v1"
    assert settings.workspace_id == "llm-abc123"
    flag = load_settings(environ=env, workspace="llm-other", region="ap-northeast-1")
    assert flag.base_url == "https://llm-other.ap-northeast-1.maas.aliyuncs.com/api/v1"
    explicit = load_settings(environ={**env, "QWEN_BASE_URL": "http://127.0.0.1:9/api/v1"})
    assert explicit.base_url == "http://127.0.0.1:9/api/v1"  # base URL > workspace > region
    assert load_settings(environ={}).base_url == "https://dashscope-intl.aliyuncs.com/api/v1"  # legacy default


def test_workspace_flag_reaches_the_dry_run_and_doctor(canary_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = run("--workspace", "llm-abc123", "--region", "cn-hongkong", "t2v", "x", "--model", "wan3.0-video",
               "--dry-run", "--json")  # fmt: skip
    assert json.loads(sent.stdout)["url"].startswith("https://llm-abc123.cn-hongkong.maas.aliyuncs.com/api/v1/")
    assert "workspace hosts only" not in sent.stderr
    legacy = run("t2v", "x", "--model", "wan3.0-video", "--dry-run", "--json")
    assert "wan3.0-video is documented on workspace hosts only" in legacy.stderr
    bad = run("--workspace", "not a workspace!", "t2v", "x", "--dry-run")
    assert bad.exit_code == 2 and "is not a workspace id" in bad.stderr
    monkeypatch.setenv("DASHSCOPE_API_KEY", canary_key)
    doctor = run("--workspace", "llm-abc123", "doctor", "--json")
    report = json.loads(doctor.stdout)
    assert report["workspace_id"] == "llm-abc123" and ".maas.aliyuncs.com" in report["base_url"]
    assert canary_key not in doctor.stdout


# ---- doctor --contract ----


def test_doctor_contract_prints_the_one_answer_a_changed_emulator_gives_differently(
    make_emulator: Any, canary_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from qwenvid.emulator.config import EmulatorConfig
    from qwenvid.store.ledger import Ledger

    changed = make_emulator(EmulatorConfig())
    changed.arm("503:query:1")  # the one changed answer: the query of a made-up task id
    monkeypatch.setenv("DASHSCOPE_API_KEY", canary_key)
    record_dir = tmp_path / "answers"
    result = run("--base-url", changed.base_url, "doctor", "--contract", "--record", str(record_dir))
    assert result.exit_code == 1, result.stderr
    found = [line.strip() for line in result.stdout.splitlines() if line.startswith("  ")]
    assert found and all(line.startswith("query of a made-up task id:") for line in found), result.stdout
    assert "status is 503, the emulator says 200" in result.stdout
    assert "1 difference" not in result.stdout or len(found) == 1
    for path in record_dir.iterdir():  # ready to become emulator tests, and without the key
        assert canary_key not in path.read_text(encoding="utf-8")
    assert sorted(path.name for path in record_dir.iterdir()) == ["emulator.json", "service.json"]
    rows = Ledger(Path(os.environ["QWENVID_HOME"]) / "ledger.sqlite3").list()
    assert len(rows) == 3 and {row.local_state for row in rows} == {"rejected"}  # a row before each submit
    assert changed.state.tasks == []  # nothing was created, nothing billed


def test_doctor_contract_against_the_emulator_finds_no_difference(tmp_path: Path) -> None:
    result = run("--emulator", "doctor", "--contract", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["differences"] == []


def test_plans_take_the_new_families_their_mode_read_from_the_inputs_of_an_all_in_one_model(tmp_path: Path) -> None:
    plan = tmp_path / "today.jsonl"
    plan.write_text(
        '{"id": "voiced", "prompt": "hi", "model": "wan3.0-video", "refs": ["https://x/a.png"],'
        ' "ref_voices": ["https://x/v.mp3"]}\n'
        '{"id": "frames", "prompt": "dusk", "model": "wan3.0-video", "image": "https://x/a.png",'
        ' "last_frame": "https://x/b.png"}\n'
        '{"id": "edit", "prompt": "snow", "model": "happyhorse-1.0-video-edit", "video": "https://x/in.mp4"}\n',
        encoding="utf-8",
    )
    result = run("--base-url", CLOSED, "run", str(plan), "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    bodies = {step["id"]: step["request"]["payload"] for step in json.loads(result.stdout)["steps"]}
    assert [m["type"] for m in bodies["voiced"]["input"]["media"]] == ["reference_image", "reference_audio"]
    assert [m["type"] for m in bodies["frames"]["input"]["media"]] == ["first_frame", "last_frame"]
    assert bodies["edit"]["input"]["media"] == [{"type": "video", "url": "https://x/in.mp4"}]


def test_extend_with_the_wan3_method_sends_the_clip_and_states_its_billed_input(tmp_path: Path) -> None:
    clip = make_mp4(tmp_path / "clip.mp4", width=640, height=360, seconds=3.0)
    result = run("--emulator", "extend", str(clip), "--to", "8", "--method", "wan3", "--prompt", "Keep going",
                 "--resolution", "480P", "--dry-run", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "billed as input video: 3 s in all" in result.stderr and "of the 30 s" in result.stderr
    preview = json.loads(result.stdout)
    (segment,) = [step for step in preview["steps"] if step["id"].startswith("segment-")]
    body = segment["request"]["payload"]
    assert body["model"] == "wan3.0-video" and body["parameters"]["ratio"] == "adaptive"
    assert [item["type"] for item in body["input"]["media"]] == ["reference_video"]
    assert segment["billable_seconds"] == 8.0  # 5 s made + the 3 s clip sent


@pytest.mark.parametrize(
    ("usage", "mode", "billed"),
    [
        ({"video_count": 1, "duration": 8.0, "input_video_duration": 3.0, "output_video_duration": 5.0,
          "fps": 30, "SR": 720, "ratio": "16:9"}, "i2v", 8.0),  # Wan 3.0 extension: input + output
        ({"duration": 13.24, "input_video_duration": 6.62, "output_video_duration": 6.62, "video_count": 1,
          "SR": 720}, "vace", 13.24),  # HappyHorse edit (the contract's example)
        ({"duration": 5, "input_video_duration": 0, "output_video_duration": 5, "video_count": 1, "SR": 720,
          "ratio": "16:9"}, "t2v", 5.0),  # HappyHorse t2v
        ({"video_duration": 5.2, "video_ratio": "standard"}, "animate", 5.2),
        ({"duration": 18.13, "size": "512*640", "fps": 16, "video_count": 1, "SR": 480}, "s2v", 18.13),
    ],
)  # fmt: skip
def test_billed_seconds_are_read_from_each_new_usage_shape(usage: dict[str, Any], mode: str, billed: float) -> None:
    from qwenvid.store.ledger import billed_seconds_from_usage

    assert billed_seconds_from_usage(usage, mode) == billed


def test_what_is_not_offered_yet_is_refused_rather_than_dropped(tmp_path: Path) -> None:
    plan = tmp_path / "talk.jsonl"
    plan.write_text('{"id": "s", "model": "wan2.2-s2v", "image": "https://x/a.png"}\n', encoding="utf-8")
    planned = run("--base-url", CLOSED, "run", str(plan), "--dry-run")
    assert planned.exit_code == 2 and "wan2.2-s2v needs speech (wav/mp3" in planned.stderr  # plans take s2v steps now


def test_the_emulator_reads_wan3_leniently_and_fails_overlong_speech(cli: EmulatorThread, tmp_path: Path) -> None:
    import httpx

    from qwenvid.requests.validation import check_body

    wide = {"model": "wan3.0-video", "input": {"prompt": "x"}, "parameters": {"ratio": "21:9"}}
    assert check_body("/api/v1/services/aigc/video-generation/video-synthesis", wide, lenient=True) is not None
    with pytest.raises(Exception, match="21:9"):
        check_body("/services/aigc/video-generation/video-synthesis", wide)
    speech = make_wav(tmp_path / "long.wav", 21.0)
    face_png = tmp_path / "face.png"
    Image.new("RGB", (480, 640), "wheat").save(face_png)
    headers = {"Authorization": "Bearer sk-test", "X-DashScope-Async": "enable"}
    with httpx.Client(base_url=cli.base_url, headers=headers) as client:
        import base64

        def data(path: Path, mime: str) -> str:
            return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()

        body = {"model": "wan2.2-s2v", "input": {"image_url": data(face_png, "image/png"),
                                                 "audio_url": data(speech, "audio/wav")}}  # fmt: skip
        answer = client.post("/services/aigc/image2video/video-synthesis/", json=body)  # the trailing slash too
        assert answer.status_code == 200, answer.text
        task_id = answer.json()["output"]["task_id"]
        cli.state.wait_rendered()
        cli.clock.advance(3600)  # type: ignore[attr-defined]
        cli.state.wait_rendered()
        status = client.get(f"/tasks/{task_id}").json()["output"]
    assert status["task_status"] == "FAILED"
    (task,) = cli.state.tasks
    assert task.render_error is not None and "takes under 20 s" in task.render_error


def test_wan3_first_and_last_frame_and_edit_end_to_end(cli: EmulatorThread, tmp_path: Path) -> None:
    first, last = _image(tmp_path / "a.png", (640, 360)), _image(tmp_path / "b.png", (640, 360))
    frames = run("kf2v", "day to night", "--model", "wan3.0-video", "--first-frame", first, "--last-frame", last,
                 "--resolution", "480P", "--duration", "2", "-o", str(tmp_path / "frames.mp4"), "--yes")  # fmt: skip
    assert frames.exit_code == 0, frames.stderr
    seconds, width, height, audio = _probe(Path(frames.stdout.strip()))
    assert abs(seconds - 2) < 0.2 and audio and width > height  # adaptive: the frames' shape
    clip = make_mp4(tmp_path / "in.mp4", width=640, height=360, seconds=2.0)
    edited = run("vace", "instruct", "make it snow", "--model", "wan3.0-video", "--video", str(clip),
                 "--resolution", "480P", "--duration", "3", "-o", str(tmp_path / "edit.mp4"), "--yes",
                 "--json")  # fmt: skip
    assert edited.exit_code == 0, edited.stderr
    envelope = json.loads(edited.stdout)
    assert abs(_probe(Path(envelope["video_path"]))[0] - 3) < 0.2
    assert envelope["usage"]["fps"] == 30 and envelope["usage"]["input_video_duration"] == pytest.approx(2.0, abs=0.1)
    assert envelope["billed_seconds"] == pytest.approx(5.0, abs=0.1)  # 2 s sent + 3 s made
