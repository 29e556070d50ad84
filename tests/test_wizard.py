"""The wizard driven through real prompts: prompt_toolkit pipe input (arrows, Enter, text, Ctrl-C), no terminal.

Layer 1: `build_request` with keystrokes, asserting on the request for every mode and VACE function.
Layer 2: the `wizard` command under CliRunner with the prompt-I/O hook on the pipe: dry runs whose printed
one-liner builds the identical request, runs against the emulator, Ctrl-C, and the refusal without a terminal.
Every keystroke script ends with a Ctrl-C guard, so a script that runs short fails instead of hanging.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import pytest
import questionary
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output import DummyOutput
from typer.testing import CliRunner, Result

from qwenvid.catalogue import VACE_IMAGE, WAN27_EDIT_VIDEO, models_for_mode
from qwenvid.cli import _session, _wizard_flow, app, wizard
from qwenvid.cli._wizard_flow import build_request, file_check, float_check, int_check, text_check
from qwenvid.emulator.config import ManualClock
from qwenvid.emulator.server import EmulatorThread
from qwenvid.requests.shapes import (
    BaseRequest,
    I2VRequest,
    KF2VRequest,
    R2VRequest,
    T2VRequest,
    VaceRequest,
    VideoEditRequest,
    validate_request,
)
from qwenvid.store.ledger import Ledger
from tests.support.media_files import make_image, make_mp4, make_wav

DOWN, ENTER, CTRL_C, CLEAR = "\x1b[B", "\r", "\x03", "\x15"  # CLEAR = Ctrl-U: erase the rejected answer
GUARD = CTRL_C * 3


def pick(index: int) -> str:
    """Move the cursor down `index` rows from the first (default) choice and take it."""
    return DOWN * index + ENTER


def typed(text: str) -> str:
    return text + ENTER


def model(mode: str, model_id: str) -> str:
    return pick([spec.id for spec in models_for_mode(mode)].index(model_id))  # type: ignore[arg-type]


MODE = {name: pick(index) for index, name in enumerate(("t2v", "i2v", "kf2v", "r2v", "vace"))}
FUNCTION = {
    name: MODE["vace"] + pick(index)
    for index, name in enumerate(
        ("image_reference", "video_repainting", "video_edit", "video_extension", "video_outpainting", "instruct")
    )
}
NO_SEED_NO_NEGATIVE = ENTER + ENTER


@dataclass(frozen=True)
class Media:
    image: str  # 640x480 PNG
    image2: str
    small: str  # 100x100 PNG: below every model's minimum
    alpha: str  # PNG with transparency
    clip: str  # 2 s 640x480 MP4
    mov: str  # the same as a MOV container
    wav: str  # 3 s WAV


@pytest.fixture
def media(tmp_path: Path) -> Media:
    folder = tmp_path / "inputs"
    return Media(
        image=str(make_image(folder / "cat.png", 640, 480)),
        image2=str(make_image(folder / "flower.png", 640, 480)),
        small=str(make_image(folder / "tiny.png", 100, 100)),
        alpha=str(make_image(folder / "ghost.png", 640, 480, mode="RGBA")),
        clip=str(make_mp4(folder / "clip.mp4", width=640, height=480, seconds=2.0)),
        mov=str(make_mp4(folder / "clip.mov", width=640, height=480, seconds=2.0)),
        wav=str(make_wav(folder / "voice.wav", 3.0)),
    )


@pytest.fixture
def prompt_io(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Point the wizard command at a pipe keyboard; call the result with the keys to send."""
    monkeypatch.setattr(wizard, "is_interactive", lambda: True)
    with create_pipe_input() as pipe:
        monkeypatch.setitem(wizard.PROMPT_IO, "input", pipe)
        monkeypatch.setitem(wizard.PROMPT_IO, "output", DummyOutput())
        yield lambda keys: pipe.send_text(keys + GUARD)


def drive_raw(keys: str, notes: list[str] | None = None) -> BaseRequest:
    with create_pipe_input() as pipe:
        pipe.send_text(keys + GUARD)
        return build_request(note=(notes if notes is not None else []).append, input=pipe, output=DummyOutput())


def drive(keys: str, notes: list[str] | None = None) -> BaseRequest:
    """The request the keys build; a script that runs short fails the test (pytest would stop on Ctrl-C)."""
    try:
        return drive_raw(keys, notes)
    except KeyboardInterrupt:
        pytest.fail("the keys ran out before the wizard finished (the Ctrl-C guard fired)")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


# -- every mode and function: keys -> request ---------------------------------------------------------


@dataclass(frozen=True)
class Case:
    keys: Callable[[Media], str]
    kind: type[BaseRequest]
    expected: Callable[[Media], dict[str, Any]]


CASES: dict[str, Case] = {
    "t2v default model, range duration, size, multi-shot": Case(
        lambda m: (
            MODE["t2v"]
            + model("t2v", "wan2.6-t2v")
            + typed("A kitten in the moonlight")
            + typed("8")
            + pick(1)  # 1280*720
            + ENTER  # sound generated with the video
            + pick(1)  # multi-shot
            + typed("7")
            + ENTER
        ),
        T2VRequest,
        lambda m: {
            "model": "wan2.6-t2v",
            "prompt": "A kitten in the moonlight",
            "duration": 8,
            "size": "1280*720",
            "shot_type": "multi",
            "prompt_extend": True,
            "seed": 7,
            "negative_prompt": None,
        },
    ),
    "t2v wan2.7: resolution + ratio, own soundtrack": Case(
        lambda m: (
            MODE["t2v"]
            + model("t2v", "wan2.7-t2v")
            + typed("A city at dawn")
            + ENTER  # duration: the default
            + pick(1)  # 720P
            + pick(1)  # 9:16
            + pick(1)  # my own audio file
            + typed(m.wav)
            + ENTER
            + typed("no text")
        ),
        T2VRequest,
        lambda m: {
            "model": "wan2.7-t2v",
            "duration": 5,
            "resolution": "720P",
            "ratio": "9:16",
            "audio_file": m.wav,
            "negative_prompt": "no text",
        },
    ),
    "t2v wan2.5: duration choices; a prompt that looks like an option": Case(
        lambda m: (
            MODE["t2v"]
            + model("t2v", "wan2.5-t2v-preview")
            + typed("-Waves 'at' \"dusk\" $HOME")
            + pick(1)  # 10 s
            + pick(1)  # 832*480
            + ENTER
            + NO_SEED_NO_NEGATIVE
        ),
        T2VRequest,
        lambda m: {"prompt": "-Waves 'at' \"dusk\" $HOME", "duration": 10, "size": "832*480"},
    ),
    "i2v default model, sound off": Case(
        lambda m: (
            MODE["i2v"]
            + model("i2v", "wan2.6-i2v-flash")
            + typed(m.image)
            + ENTER  # no prompt
            + ENTER  # 5 s
            + ENTER  # 720P
            + "n"  # sound off
            + ENTER  # single shot
            + NO_SEED_NO_NEGATIVE
        ),
        I2VRequest,
        lambda m: {
            "model": "wan2.6-i2v-flash",
            "image": m.image,
            "prompt": None,
            "duration": 5,
            "resolution": "720P",
            "audio": False,
        },
    ),
    "i2v wan2.7: first + last frame": Case(
        lambda m: (
            MODE["i2v"]
            + model("i2v", "wan2.7-i2v")
            + pick(1)  # first + last frame
            + typed(m.image)
            + typed(m.image2)
            + typed("Bloom")
            + typed("10")
            + pick(1)  # 720P
            + NO_SEED_NO_NEGATIVE
        ),
        I2VRequest,
        lambda m: {"image": m.image, "last_frame": m.image2, "duration": 10, "resolution": "720P", "clip": None},
    ),
    "kf2v: fixed 5 s, silent": Case(
        lambda m: (
            MODE["kf2v"]
            + ENTER
            + typed(m.image)
            + typed(m.image2)
            + ENTER  # no prompt
            + pick(2)  # resolutions, default first: 720P, 480P, 1080P
            + NO_SEED_NO_NEGATIVE
        ),
        KF2VRequest,
        lambda m: {
            "model": "wan2.2-kf2v-flash",
            "first_frame": m.image,
            "last_frame": m.image2,
            "resolution": "1080P",
            "duration": None,
            "audio": None,
        },
    ),
    "r2v default model: image + video references": Case(
        lambda m: (
            MODE["r2v"]
            + ENTER
            + typed(m.image)
            + typed(m.clip)
            + ENTER  # no third reference
            + typed("character1 waves at character2")
            + typed("6")
            + ENTER  # 1280*720
            + ENTER  # sound on
            + pick(1)  # multi-shot (this model has no prompt extension to switch on)
            + NO_SEED_NO_NEGATIVE
        ),
        R2VRequest,
        lambda m: {
            "model": "wan2.6-r2v-flash",
            "refs": [m.image, m.clip],
            "duration": 6,
            "size": "1280*720",
            "audio": True,
            "shot_type": "multi",
            "prompt_extend": None,
        },
    ),
    "r2v wan2.7: a voice per reference": Case(
        lambda m: (
            MODE["r2v"]
            + model("r2v", "wan2.7-r2v")
            + typed(m.image)
            + typed(m.wav)  # voice of reference 1
            + ENTER  # no second reference
            + ENTER  # no first frame
            + typed("Image 1 sings")
            + ENTER
            + ENTER  # 1080P
            + ENTER  # ratio: the default
            + NO_SEED_NO_NEGATIVE
        ),
        R2VRequest,
        lambda m: {"refs": [m.image], "ref_voices": [m.wav], "resolution": "1080P", "ratio": None, "duration": 5},
    ),
    "vace image_reference": Case(
        lambda m: (
            FUNCTION["image_reference"]
            + typed(m.image)
            + typed(m.image2)
            + ENTER  # no third image
            + ENTER  # image 1: obj
            + pick(1)  # image 2: bg
            + typed("A girl in a garden")
            + ENTER  # 1280*720
            + NO_SEED_NO_NEGATIVE
        ),
        VaceRequest,
        lambda m: {
            "function": "image_reference",
            "model": "wan2.1-vace-plus",
            "ref_images": [m.image, m.image2],
            "obj_or_bg": ["obj", "bg"],
            "size": "1280*720",
        },
    ),
    "vace video_repainting": Case(
        lambda m: (
            FUNCTION["video_repainting"]
            + typed(m.clip)
            + pick(2)  # depth
            + typed("0.7")
            + typed("Claymation")
            + NO_SEED_NO_NEGATIVE
        ),
        VaceRequest,
        lambda m: {"function": "video_repainting", "video": m.clip, "control_condition": "depth", "strength": 0.7},
    ),
    "vace video_edit": Case(
        lambda m: (
            FUNCTION["video_edit"]
            + typed(m.clip)
            + ENTER  # mask as an image
            + typed(m.image2)
            + ENTER  # tracking
            + ENTER  # default growth
            + typed("A red hat")
            + pick(1)  # 720*1280
            + NO_SEED_NO_NEGATIVE
        ),
        VaceRequest,
        lambda m: {
            "function": "video_edit",
            "video": m.clip,
            "mask_image": m.image2,
            "mask_type": "tracking",
            "expand_ratio": None,
            "size": "720*1280",
        },
    ),
    "vace video_extension": Case(
        lambda m: (
            FUNCTION["video_extension"]
            + pick(2)  # first clip and last clip
            + typed(m.clip)
            + typed(m.clip)
            + typed("The dog keeps running")
            + NO_SEED_NO_NEGATIVE
        ),
        VaceRequest,
        lambda m: {"function": "video_extension", "first_clip": m.clip, "last_clip": m.clip, "size": None},
    ),
    "vace video_outpainting": Case(
        lambda m: (
            FUNCTION["video_outpainting"]
            + typed(m.clip)
            + typed("1.5")
            + ENTER
            + typed("1.25")
            + ENTER
            + ENTER  # no prompt
            + NO_SEED_NO_NEGATIVE
        ),
        VaceRequest,
        lambda m: {
            "function": "video_outpainting",
            "top_scale": 1.5,
            "bottom_scale": None,
            "left_scale": 1.25,
            "right_scale": None,
            "prompt": None,
        },
    ),
    "vace instruct (wan2.7-videoedit)": Case(
        lambda m: (
            FUNCTION["instruct"]
            + ENTER  # the model: wan2.7-videoedit, the first of the instruction editors
            + typed(m.clip)
            + ENTER  # no reference image
            + typed("Make it snow")
            + pick(1)  # audio: origin
            + ENTER  # duration 0 = the input's length
            + pick(1)  # 720P
            + ENTER  # ratio: the input's
            + typed("3")
            + ENTER
        ),
        VideoEditRequest,
        lambda m: {
            "model": "wan2.7-videoedit",
            "video": m.clip,
            "prompt": "Make it snow",
            "audio_setting": "origin",
            "duration": 0,
            "resolution": "720P",
            "ratio": None,
            "seed": 3,
        },
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_mode_builds_the_request_it_was_told(name: str, media: Media) -> None:
    case = CASES[name]
    request = drive(case.keys(media))
    assert type(request) is case.kind
    for field, value in case.expected(media).items():
        assert getattr(request, field) == value, field
    validate_request(request)  # the whole request is valid, local files included


def test_only_the_options_a_model_supports_are_asked(media: Media) -> None:
    notes: list[str] = []
    drive(CASES["kf2v: fixed 5 s, silent"].keys(media), notes)
    assert "Duration: fixed 5 s" in notes
    assert "Sound: none (this model makes silent videos)" in notes
    notes.clear()
    drive(CASES["vace video_repainting"].keys(media), notes)
    assert any(note.startswith("Duration: no duration parameter") for note in notes)
    assert "Size: follows the input video (at most 720P)" in notes
    assert any(note.startswith("Model: wan2.1-vace-plus (the only model") for note in notes)


# -- validation as the answers are typed ---------------------------------------------------------------


@pytest.fixture
def rejections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every message a validator showed the user (the prompts themselves stay real)."""
    shown: list[str] = []
    real_text = questionary.text

    def spying_text(message: str, validate: Callable[[str], bool | str], **kwargs: Any) -> Any:
        def recording(value: str) -> bool | str:
            verdict = validate(value)
            if verdict is not True:
                shown.append(str(verdict))
            return verdict

        return real_text(message, validate=recording, **kwargs)

    monkeypatch.setattr(_wizard_flow.questionary, "text", spying_text)
    return shown


def test_wrong_answers_are_refused_with_what_is_allowed_then_the_right_one_taken(rejections: list[str]) -> None:
    keys = (
        MODE["t2v"]
        + ENTER
        + ENTER  # empty prompt: refused
        + typed("A kitten")
        + typed("20")  # refused
        + CLEAR
        + typed("9")
        + ENTER
        + ENTER
        + ENTER
        + typed("-1")  # refused
        + CLEAR
        + typed("5")
        + typed("x" * 501)  # refused
        + CLEAR
        + ENTER
    )
    request = drive(keys)
    assert rejections == [
        # The wizard's messages name its questions, not the one-liner's options (--duration, --seed).
        "The prompt is required (1-1500 characters)",
        "Duration 20 is not allowed: enter a whole number 2-15",
        "Seed -1 is not allowed: enter a whole number 0-2147483647",
        "The negative prompt is 501 characters; at most 500 are allowed",
    ]
    assert (request.prompt, request.duration, request.seed, request.negative_prompt) == ("A kitten", 9, 5, None)


def test_local_files_are_checked_as_typed_and_urls_accepted(rejections: list[str], media: Media) -> None:
    keys = MODE["i2v"] + ENTER
    for wrong in ("/no/such/cat.png", media.clip):
        keys += typed(wrong) + CLEAR
    # then: no prompt, 5 s, 720P, sound on, generated sound, single shot
    keys += typed("https://example.com/cat.png") + ENTER * 6 + NO_SEED_NO_NEGATIVE
    request = drive(keys)
    assert isinstance(request, I2VRequest) and request.image == "https://example.com/cat.png"
    assert len(rejections) == 2
    assert "no such file" in rejections[0] and "a local file path or a URL" in rejections[0]
    assert "not a readable image" in rejections[1]


def test_an_input_the_model_would_refuse_is_offered_a_fit_on_the_spot(rejections: list[str], media: Media) -> None:
    """Too small: the offer is declined and the question comes back; with alpha: accepted (Enter = yes)."""
    notes: list[str] = []
    keys = MODE["i2v"] + ENTER + typed(media.small) + "n" + typed(media.alpha) + ENTER
    keys += ENTER * 6 + NO_SEED_NO_NEGATIVE
    request = drive(keys, notes)
    assert rejections == []  # nothing refused outright: each was explained and offered a fix
    assert isinstance(request, I2VRequest)
    fitted = Path(media.alpha).with_name("ghost-fit.png")
    assert request.image == str(fitted) and fitted.is_file()
    assert not Path(media.small).with_name("tiny-fit.png").exists()  # declined: nothing written
    assert any("100x100 px is out of range" in note for note in notes)
    assert any("transparency" in note for note in notes)
    assert any(note.startswith("Fitted ghost.png: flattened transparency") for note in notes)
    validate_request(request)  # the fitted file passes the same model's checks


@pytest.mark.parametrize("accept", [False, True])
def test_a_video_too_long_for_the_model_is_offered_a_cut(
    rejections: list[str], tmp_path: Path, media: Media, accept: bool
) -> None:
    long_clip = str(make_mp4(tmp_path / "long.mp4", width=320, height=240, seconds=6.0))
    notes: list[str] = []
    answer = ENTER if accept else "n" + typed(media.clip)
    request = drive(FUNCTION["video_outpainting"] + typed(long_clip) + answer + ENTER * 5 + NO_SEED_NO_NEGATIVE, notes)
    assert rejections == []
    # The wizard names its question, not the one-liner's option (--video).
    assert f"Video to widen {long_clip}: duration 6.00 s is out of range; allowed: at most 5 s" in notes
    assert isinstance(request, VaceRequest)
    if accept:
        assert request.video == str(tmp_path / "long-fit.mp4")
        with av.open(request.video) as container:
            assert float(container.duration) / 1_000_000 == pytest.approx(5.0, abs=0.05)
        validate_request(request)
    else:
        assert request.video == media.clip and not (tmp_path / "long-fit.mp4").exists()


@pytest.mark.parametrize(
    ("check", "answer", "verdict"),
    [
        (int_check("--duration", 2, 10, extra=(0,)), "0", True),
        (
            int_check("--duration", 2, 10, extra=(0,)),
            "1",
            "--duration 1 is not allowed: enter 0 or a whole number 2-10",
        ),
        (int_check("--seed", 0, 9), "", True),
        (int_check("--seed", 0, 9), "four", "--seed 'four' is not allowed: enter a whole number 0-9"),
        (float_check("--strength", 0.0, 1.0), "1.5", "--strength 1.5 is out of range; allowed: 0 to 1"),
        (float_check("--left-scale", 1.0, 2.0), "wide", "--left-scale 'wide' is not a number; allowed: 1 to 2"),
        (float_check("--left-scale", 1.0, 2.0), "", True),
        (text_check("the prompt", max_chars=5, required=False), "", True),
        (
            text_check("the prompt", max_chars=5, required=False),
            "sixsix",
            "the prompt is 6 characters; at most 5 are allowed",
        ),
        (file_check("image", VACE_IMAGE, "--ref-image"), "oss://bucket/a.png", True),
        (file_check("image", VACE_IMAGE, "--ref-image", required=False), "", True),
        (
            file_check("image", VACE_IMAGE, "--ref-image"),
            "",
            "--ref-image is required: a local file path or a URL (http://, https://, oss://)",
        ),
    ],
)
def test_validators_say_what_is_allowed(check: Callable[[str], bool | str], answer: str, verdict: bool | str) -> None:
    assert check(answer) == verdict


def test_file_format_is_checked_against_the_model(media: Media) -> None:
    assert file_check("video", WAN27_EDIT_VIDEO, "--video")(media.mov) is True  # wan2.7-videoedit takes MOV
    vace = file_check("video", models_for_mode("vace")[0].limits.video, "--video")
    assert vace(f"'{media.mov}'") == f"--video {media.mov}: format mov is not accepted; allowed: mp4"


# -- Ctrl-C ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("keys", [CTRL_C, MODE["t2v"] + ENTER + "A kit" + CTRL_C, FUNCTION["video_edit"] + CTRL_C])
def test_ctrl_c_at_any_question_raises_keyboard_interrupt(keys: str) -> None:
    with pytest.raises(KeyboardInterrupt):
        drive_raw(keys)


@pytest.fixture
def cli_emulator(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch
) -> EmulatorThread:
    monkeypatch.setenv("QWEN_BASE_URL", emulator.base_url)
    monkeypatch.setenv("DASHSCOPE_API_KEY", canary_key)
    monkeypatch.setitem(_session.INJECTED, "session", {"clock": manual_clock, "sleep": manual_clock.sleep})
    return emulator


def ledger_rows(home: Path) -> int:
    path = home / "ledger.sqlite3"
    if not path.exists():
        return 0
    with Ledger(path) as ledger:
        return len(ledger.list())


T2V_KEYS = MODE["t2v"] + model("t2v", "wan2.1-t2v-turbo") + typed("A kitten") + pick(1) + NO_SEED_NO_NEGATIVE


@pytest.mark.parametrize("keys", [CTRL_C, T2V_KEYS + CTRL_C], ids=["first question", "confirmation"])
def test_ctrl_c_exits_130_with_nothing_submitted(
    keys: str, prompt_io: Callable[[str], None], cli_emulator: EmulatorThread, isolated_env: Path
) -> None:
    prompt_io(keys)
    result = run("wizard")
    assert result.exit_code == 130, result.stderr
    assert "nothing was submitted" in result.stderr
    assert result.stdout == ""
    assert cli_emulator.state.task_count() == 0
    assert ledger_rows(isolated_env) == 0


def test_saying_no_at_the_summary_submits_nothing(
    prompt_io: Callable[[str], None], cli_emulator: EmulatorThread, isolated_env: Path
) -> None:
    prompt_io(T2V_KEYS + "n")
    result = run("wizard")
    assert result.exit_code == 1
    assert "Nothing was submitted." in result.stderr
    assert "The same as a command: qwenvid t2v 'A kitten' --model wan2.1-t2v-turbo --size '832*480'" in result.stderr
    assert cli_emulator.state.task_count() == 0 and ledger_rows(isolated_env) == 0


def test_without_a_terminal_it_refuses_and_points_to_the_flags() -> None:
    result = run("wizard")  # the runner's stdin is no terminal; the real is_interactive() says so
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "interactive terminal" in result.stderr and 'qwenvid t2v "' in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- the printed one-liner builds the identical request ------------------------------------------------


def printed_command(stderr: str) -> list[str]:
    lines = [line for line in stderr.splitlines() if line.startswith("The same as a command: ")]
    assert len(lines) == 1, stderr
    return shlex.split(lines[0].removeprefix("The same as a command: "))


@pytest.mark.parametrize("name", list(CASES))
def test_the_printed_command_builds_the_identical_request(
    name: str, media: Media, prompt_io: Callable[[str], None]
) -> None:
    prompt_io(CASES[name].keys(media) + ENTER)  # Enter: yes, print the request
    result = run("--json", "wizard", "--dry-run")
    assert result.exit_code == 0, result.stderr
    from_wizard = json.loads(result.stdout)
    argv = printed_command(result.stderr)
    assert argv[0] == "qwenvid" and "--dry-run" in argv and "--json" in argv
    again = run(*argv[1:])
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout) == from_wizard
    assert from_wizard["payload"]["model"] == CASES[name].expected(media).get("model", from_wizard["payload"]["model"])


# -- end to end against the emulator (global --emulator) ------------------------------------------------


@pytest.fixture
def in_process_emulator(manual_clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """--emulator's own emulator and the poller on one manual clock: nothing sleeps for real."""
    monkeypatch.setitem(_session.INJECTED, "session", {"clock": manual_clock, "sleep": manual_clock.sleep})
    monkeypatch.setitem(_session.INJECTED, "emulator_clock", manual_clock)


def probe(path: Path) -> tuple[float, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return float(container.duration or 0) / av.time_base, stream.codec_context.width, stream.codec_context.height


E2E: dict[str, tuple[Callable[[Media], str], float, str]] = {
    "t2v": (lambda m: T2V_KEYS, 5.0, "qwenvid --emulator t2v 'A kitten' --model wan2.1-t2v-turbo --size '832*480'"),
    "i2v with a local PNG": (
        lambda m: (
            MODE["i2v"]
            + model("i2v", "wan2.1-i2v-turbo")
            + typed(m.image)
            + typed("The cat turns its head")
            + pick(1)  # 3 s (choices, default 5 first)
            + pick(1)  # 480P
            + NO_SEED_NO_NEGATIVE
        ),
        3.0,
        "qwenvid --emulator i2v 'The cat turns its head' --model wan2.1-i2v-turbo --duration 3 --resolution 480P",
    ),
    "vace video_repainting": (
        lambda m: (
            FUNCTION["video_repainting"] + typed(m.clip) + ENTER + ENTER + typed("Claymation") + NO_SEED_NO_NEGATIVE
        ),
        0.0,
        "qwenvid --emulator vace video_repainting Claymation --model wan2.1-vace-plus",
    ),
}


@pytest.mark.parametrize("name", list(E2E))
def test_the_wizard_runs_to_a_video_on_the_emulator(
    name: str, media: Media, prompt_io: Callable[[str], None], in_process_emulator: None, isolated_env: Path
) -> None:
    keys, seconds, command = E2E[name]
    prompt_io(keys(media) + ENTER)  # Enter: yes, submit
    result = run("--emulator", "wizard")
    assert result.exit_code == 0, result.stderr
    path = Path(result.stdout.strip())
    assert result.stdout == f"{path}\n" and path.is_file() and path.suffix == ".mp4"
    duration, width, height = probe(path)
    assert width > 0 and height > 0
    if seconds:
        assert abs(duration - seconds) < 0.2
    assert "Cost: free (local emulator)" in result.stderr
    assert "The same as a command: " + command in result.stderr
    assert ledger_rows(isolated_env) == 1


def test_the_summary_shows_the_choices_and_the_cost_before_asking(
    media: Media, prompt_io: Callable[[str], None]
) -> None:
    prompt_io(CASES["vace instruct (wan2.7-videoedit)"].keys(media) + ENTER)
    result = run("wizard", "--dry-run")
    assert result.exit_code == 0, result.stderr
    summary = result.stderr[result.stderr.index("Summary") : result.stderr.index("Cost:")]
    assert summary.splitlines()[1:4] == [
        "  mode: vace (instruct)",
        "  model: wan2.7-videoedit",
        "  prompt: Make it snow",
    ]
    assert "  duration: the input's length" in summary and f"  video: {media.clip}" in summary
    # duration 0 keeps the input's length: the 2 s clip
    assert "Cost: 2 s billable at 720P on wan2.7-videoedit. Official prices: https://" in result.stderr


def test_without_a_key_it_says_so_before_the_first_question(prompt_io: Callable[[str], None]) -> None:
    prompt_io("")  # no keys: a question asked would hit the Ctrl-C guard and exit 130 instead
    result = run("wizard")
    assert result.exit_code == 3, result.stderr
    assert "No DashScope API key is set" in result.stderr and "--emulator" in result.stderr


def test_the_cost_notice_shows_once_and_the_run_does_not_ask_again(
    media: Media, prompt_io: Callable[[str], None], in_process_emulator: None
) -> None:
    keys, _seconds, _command = E2E["t2v"]
    prompt_io(keys(media) + ENTER)
    result = run("--emulator", "wizard")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("Cost: ") == 1


def test_a_budget_refuses_the_wizards_run_before_anything_is_sent(
    media: Media, prompt_io: Callable[[str], None], in_process_emulator: None, isolated_env: Path
) -> None:
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "config.toml").write_text("[budget]\ndaily_seconds = 1\ncount_emulator = true\n")
    keys, _seconds, _command = E2E["t2v"]
    prompt_io(keys(media) + ENTER)
    result = run("--emulator", "wizard")
    assert result.exit_code == 11, result.stderr
    assert "Budget: daily_seconds: this run" in result.stderr  # the summary said so before the question
    assert "would cross budget.daily_seconds = 1 s" in result.stderr and "Traceback" not in result.stderr
    assert ledger_rows(isolated_env) == 0
