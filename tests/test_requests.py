"""Typed requests: validation in option terms, exact payloads, mode detection, the skill's request JSON."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qwenvid.catalogue import PATHS
from qwenvid.errors import ValidationError
from qwenvid.requests.shapes import (
    BaseRequest,
    I2VRequest,
    KF2VRequest,
    R2VRequest,
    T2VRequest,
    VaceRequest,
    VideoEditRequest,
    build_payload,
    detect_mode,
    local_inputs,
    request_from_skill_json,
    validate_request,
)
from qwenvid.requests.validation import check_body
from tests.support.doc_examples import I2V_WAN26_FLASH_EXAMPLE, T2V_WAN26_EXAMPLE, T2V_WAN27_EXAMPLE
from tests.support.media_files import make_image

VG = PATHS["video-generation"]
IMG = "https://example.com/a.png"
IMG2 = "https://example.com/b.png"
VID = "https://example.com/v.mp4"
AUD = "https://example.com/a.mp3"

OK, REJECT, LENIENT, CLIENT_ONLY = "ok", "reject", "lenient", "client-only"


@dataclass
class Case:
    """One validation rule. expect: OK (both accept), REJECT (both refuse), LENIENT (docs disagree: client
    strict, emulator lenient), CLIENT_ONLY (an input the wire body cannot express, refused by the client)."""

    id: str
    request: BaseRequest
    expect: str = OK
    says: str = ""  # text the client's message must contain (the option name, the allowed values)


def t2v(model: str = "wan2.6-t2v", prompt: str = "a cat", **kw: Any) -> T2VRequest:
    return T2VRequest(prompt, model=model, **kw)


def i2v(model: str = "wan2.6-i2v-flash", **kw: Any) -> I2VRequest:
    kw.setdefault("image", IMG)
    return I2VRequest("a cat", model=model, **kw)


def i27(**kw: Any) -> I2VRequest:
    return I2VRequest("a cat", model="wan2.7-i2v", **kw)


def kf2v(model: str = "wan2.2-kf2v-flash", **kw: Any) -> KF2VRequest:
    kw.setdefault("first_frame", IMG)
    kw.setdefault("last_frame", IMG2)
    kw.setdefault("prompt", "a cat")
    return KF2VRequest(model=model, **kw)


def r2v(model: str = "wan2.6-r2v-flash", images: int = 1, videos: int = 0, **kw: Any) -> R2VRequest:
    refs = [f"https://example.com/r{i}.png" for i in range(images)] + [
        f"https://example.com/v{i}.mp4" for i in range(videos)
    ]
    return R2VRequest("character1 waves", model=model, refs=refs, **kw)


def vace(function: str, prompt: str | None = "edit it", **kw: Any) -> VaceRequest:
    return VaceRequest(prompt, function=function, **kw)


def edit(**kw: Any) -> VideoEditRequest:
    kw.setdefault("video", VID)
    return VideoEditRequest("make it snow", **kw)


CASES = [
    # ---- t2v wan2.6 (size, 2-15 s, 1500 chars, audio always, shot_type) ----
    Case("t2v26-defaults", t2v()),
    Case("t2v26-size-1080", t2v(size="1920*1080")),
    Case("t2v26-size-x", t2v(size="1280x720")),
    Case("t2v26-size-480", t2v(size="832*480"), REJECT, "--size '832*480' is not offered by wan2.6-t2v"),
    Case("t2v26-resolution", t2v(resolution="720P"), REJECT, "wan2.6-t2v takes --size"),
    Case("t2v26-ratio", t2v(ratio="16:9"), REJECT, "not --ratio"),
    Case("t2v26-dur-2", t2v(duration=2)),
    Case("t2v26-dur-15", t2v(duration=15)),
    Case("t2v26-dur-16", t2v(duration=16), REJECT, "allowed: 2-15 s"),
    Case("t2v26-dur-1", t2v(duration=1), REJECT, "--duration 1"),
    Case("t2v26-prompt-1500", t2v(prompt="p" * 1500)),
    Case("t2v26-prompt-1501", t2v(prompt="p" * 1501), LENIENT, "at most 1500"),
    Case("t2v26-no-prompt", t2v(prompt=""), REJECT, "needs a prompt"),
    Case("t2v26-negative-500", t2v(negative_prompt="n" * 500)),
    Case("t2v26-negative-501", t2v(negative_prompt="n" * 501), LENIENT, "--negative-prompt"),
    Case("t2v26-no-audio", t2v(audio=False), REJECT, "silent t2v models: wan3.0-video"),
    Case("t2v26-audio", t2v(audio=True)),
    Case("t2v26-audio-file", t2v(audio_file=AUD)),
    Case("t2v26-shot-multi", t2v(shot_type="multi", prompt_extend=True)),
    Case("t2v26-shot-bad", t2v(shot_type="double"), REJECT, "single, multi"),
    Case("t2v26-seed-max", t2v(seed=2147483647)),
    Case("t2v26-seed-neg", t2v(seed=-1), REJECT, "--seed"),
    Case("t2v26-us", t2v(model="wan2.6-t2v-us", duration=7)),
    # ---- t2v wan2.7 (resolution + ratio, 5000 chars) ----
    Case("t2v27-defaults", t2v(model="wan2.7-t2v")),
    Case("t2v27-720-4:3", t2v(model="wan2.7-t2v", resolution="720p", ratio="4:3")),
    Case(
        "t2v27-size", t2v(model="wan2.7-t2v", size="1280*720"), REJECT, "takes --resolution (720P, 1080P) and --ratio"
    ),
    Case("t2v27-480", t2v(model="wan2.7-t2v", resolution="480P"), REJECT, "--resolution '480P'"),
    Case("t2v27-ratio-21:9", t2v(model="wan2.7-t2v", ratio="21:9"), REJECT, "16:9, 9:16, 1:1, 4:3, 3:4"),
    Case("t2v27-dur-15", t2v(model="wan2.7-t2v", duration=15)),
    Case("t2v27-shot", t2v(model="wan2.7-t2v", shot_type="multi"), REJECT, "--shot-type"),
    Case("t2v27-prompt-5000", t2v(model="wan2.7-t2v", prompt="p" * 5000)),
    Case("t2v27-prompt-5001", t2v(model="wan2.7-t2v", prompt="p" * 5001), LENIENT, "at most 5000"),
    Case("t2v27-snapshot", t2v(model="wan2.7-t2v-2026-04-25")),
    # ---- t2v older ----
    Case("t2v25-dur-10", t2v(model="wan2.5-t2v-preview", duration=10, size="832*480")),
    Case("t2v25-dur-7", t2v(model="wan2.5-t2v-preview", duration=7), REJECT, "allowed: 5, 10 s"),
    Case("t2v25-shot", t2v(model="wan2.5-t2v-preview", shot_type="single"), REJECT, "with it: wan2.6-t2v"),
    Case("t2v22-480", t2v(model="wan2.2-t2v-plus", size="832*480")),
    Case("t2v22-720", t2v(model="wan2.2-t2v-plus", size="1280*720"), REJECT, "not offered by wan2.2-t2v-plus"),
    Case("t2v22-dur-10", t2v(model="wan2.2-t2v-plus", duration=10), REJECT, "fixed duration of 5 s"),
    Case("t2v22-dur-5", t2v(model="wan2.2-t2v-plus", duration=5)),
    Case("t2v22-audio", t2v(model="wan2.2-t2v-plus", audio=True), REJECT, "makes silent videos"),
    Case("t2v22-no-audio", t2v(model="wan2.2-t2v-plus", audio=False)),
    Case("t2v22-audio-file", t2v(model="wan2.2-t2v-plus", audio_file=AUD), REJECT, "--audio-file"),
    Case("t2v22-prompt-801", t2v(model="wan2.2-t2v-plus", prompt="p" * 801), LENIENT, "at most 800"),
    Case("t2v21-turbo-720", t2v(model="wanx2.1-t2v-turbo", size="1280*720")),
    Case("t2v21-turbo-1080", t2v(model="wan2.1-t2v-turbo", size="1920*1080"), REJECT, "--size"),
    Case("t2v21-plus-480", t2v(model="wan2.1-t2v-plus", size="832*480"), REJECT, "--size"),
    # ---- i2v legacy ----
    Case("i2v-flash-defaults", i2v()),
    Case("i2v-flash-1080", i2v(resolution="1080P")),
    Case("i2v-flash-480", i2v(resolution="480P"), REJECT, "--resolution '480P' is not offered"),
    Case(
        "i2v-flash-size", i2v(size="1280*720"), REJECT, "wan2.6-i2v-flash takes --resolution (720P, 1080P), not --size"
    ),
    Case("i2v-flash-ratio", i2v(ratio="16:9"), REJECT, "aspect ratio follows the input"),
    Case("i2v-flash-no-audio", i2v(audio=False)),
    Case("i2v-flash-dur-2", i2v(duration=2)),
    Case("i2v-flash-dur-16", i2v(duration=16), REJECT, "2-15 s"),
    Case("i2v-flash-shot", i2v(shot_type="multi")),
    Case("i2v-flash-no-image", i2v(image=None), REJECT, "--image"),
    Case("i2v-flash-last-frame", i2v(last_frame=IMG2), CLIENT_ONLY, "--last-frame"),
    Case("i2v-flash-clip", i2v(clip=VID), CLIENT_ONLY, "--clip"),
    Case("i2v-flash-template", i2v(template="flying"), REJECT, "--template"),
    Case("i2v26-no-audio", i2v(model="wan2.6-i2v", audio=False), REJECT, "wan2.6-i2v-flash"),
    Case("i2v26-dur-15", i2v(model="wan2.6-i2v-us", duration=15)),
    Case("i2v25-480", i2v(model="wan2.5-i2v-preview", resolution="480P", duration=10)),
    Case("i2v25-dur-15", i2v(model="wan2.5-i2v-preview", duration=15), REJECT, "5, 10 s"),
    Case("i2v25-shot", i2v(model="wan2.5-i2v-preview", shot_type="multi"), REJECT, "--shot-type"),
    Case("i2v22-plus-720", i2v(model="wan2.2-i2v-plus", resolution="720P"), REJECT, "480P, 1080P"),
    Case("i2v22-plus-480", i2v(model="wan2.2-i2v-plus", resolution="480P")),
    Case("i2v22-flash-defaults", i2v(model="wan2.2-i2v-flash")),
    Case("i2v21-turbo-dur-3", i2v(model="wanx2.1-i2v-turbo", duration=3, template="flying")),
    Case("i2v21-turbo-dur-2", i2v(model="wan2.1-i2v-turbo", duration=2), REJECT, "3, 4, 5 s"),
    Case("i2v21-plus-template", i2v(model="wan2.1-i2v-plus", template="flying"), REJECT, "--template"),
    Case("i2v-wrong-mode", i2v(model="wan2.6-t2v"), CLIENT_ONLY, "wan2.6-t2v is a t2v model"),
    # ---- i2v wan2.7 media combinations (§2.6) ----
    Case("i27-first", i27(image=IMG)),
    Case("i27-first-audio", i27(image=IMG, driving_audio=AUD)),
    Case("i27-first-last", i27(image=IMG, last_frame=IMG2)),
    Case("i27-first-last-audio", i27(image=IMG, last_frame=IMG2, driving_audio=AUD)),
    Case("i27-clip", i27(clip=VID)),
    Case("i27-clip-last", i27(clip=VID, last_frame=IMG2)),
    Case("i27-clip-audio", i27(clip=VID, driving_audio=AUD), LENIENT, "allowed combinations"),
    Case("i27-first-clip", i27(image=IMG, clip=VID), REJECT, "cannot take --image --clip together"),
    Case("i27-last-only", i27(last_frame=IMG2), REJECT, "allowed combinations"),
    Case("i27-nothing", i27(), LENIENT, "wan2.7-i2v needs an input; allowed combinations: --image | "),
    Case("i27-ratio", i27(image=IMG, ratio="16:9"), REJECT, "takes --resolution (720P, 1080P), not --ratio"),
    Case("i27-720", i27(image=IMG, resolution="720P", duration=15)),
    Case("i27-dur-16", i27(image=IMG, duration=16), REJECT, "2-15 s"),
    Case("i27-audio-file", i27(image=IMG, audio_file=AUD), REJECT, "use --driving-audio"),
    Case("i27-no-audio", i27(image=IMG, audio=False), REJECT, "--no-audio"),
    # ---- kf2v ----
    Case("kf2v-defaults", kf2v()),
    Case("kf2v-1080", kf2v(resolution="1080P", duration=5)),
    Case("kf2v-dur-10", kf2v(duration=10), REJECT, "fixed duration of 5 s"),
    Case("kf2v-size", kf2v(size="1280*720"), REJECT, "takes --resolution"),
    Case("kf2v-no-last", kf2v(last_frame=None), LENIENT, "--last-frame"),
    Case("kf2v-template-only", kf2v(last_frame=None, template="hanfu-1")),
    Case("kf2v-audio", kf2v(audio=True), REJECT, "silent"),
    Case("kf2v-shot", kf2v(shot_type="multi"), REJECT, "--shot-type"),
    Case("kf2v-plus-480", kf2v(model="wanx2.1-kf2v-plus", resolution="480P"), REJECT, "720P"),
    Case("kf2v-plus-prompt-801", kf2v(model="wan2.1-kf2v-plus", prompt="p" * 801), LENIENT, "800"),
    # ---- r2v wan2.6 ----
    Case("r2v-flash-1", r2v()),
    Case("r2v-flash-5-images", r2v(images=5)),
    Case("r2v-flash-6-images", r2v(images=6), REJECT, "images <= 5"),
    Case("r2v-flash-3v-2i", r2v(images=2, videos=3)),
    Case("r2v-flash-4-videos", r2v(images=0, videos=4), REJECT, "videos <= 3"),
    Case("r2v-flash-none", r2v(images=0), REJECT, "--ref"),
    Case("r2v-flash-dur-10", r2v(duration=10)),
    Case("r2v-flash-dur-11", r2v(duration=11), REJECT, "2-10 s"),
    Case("r2v-flash-no-audio", r2v(audio=False)),
    Case("r2v-flash-1080", r2v(size="1920*1080", shot_type="multi")),
    Case("r2v-flash-resolution", r2v(resolution="720P"), REJECT, "takes --size"),
    Case("r2v-flash-prompt-extend", r2v(prompt_extend=True), LENIENT, "--prompt-extend"),
    Case("r2v-flash-first-frame", r2v(first_frame=IMG), CLIENT_ONLY, "--first-frame"),
    Case("r2v26-no-audio", r2v(model="wan2.6-r2v", audio=False), REJECT, "silent r2v models: wan2.6-r2v-flash"),
    Case("r2v26-no-prompt", R2VRequest(None, model="wan2.6-r2v", refs=[IMG]), REJECT, "needs a prompt"),
    # ---- r2v wan2.7 ----
    Case("r2v27-mixed-5", r2v(model="wan2.7-r2v", images=3, videos=2, duration=10)),
    Case("r2v27-6", r2v(model="wan2.7-r2v", images=6), REJECT, "allowed: 1-5 references"),
    Case("r2v27-dur-15-images", r2v(model="wan2.7-r2v", images=2, duration=15)),
    Case("r2v27-dur-15-video", r2v(model="wan2.7-r2v", videos=1, duration=15), REJECT, "with a reference video"),
    Case("r2v27-first-frame", r2v(model="wan2.7-r2v", first_frame=IMG)),
    Case("r2v27-720-9:16", r2v(model="wan2.7-r2v", resolution="720P", ratio="9:16", prompt_extend=False)),
    Case("r2v27-size", r2v(model="wan2.7-r2v", size="1280*720"), REJECT, "not --size"),
    Case("r2v27-voices", r2v(model="wan2.7-r2v", images=2, ref_voices=[AUD, None])),
    Case("r2v27-shot", r2v(model="wan2.7-r2v", shot_type="multi"), REJECT, "--shot-type"),
    # ---- vace: image_reference ----
    Case("vace-ref-1", vace("ref", ref_images=[IMG])),
    Case("vace-ref-3", vace("image_reference", ref_images=[IMG] * 3, obj_or_bg=["obj", "obj", "bg"])),
    Case("vace-ref-4", vace("reference", ref_images=[IMG] * 4), LENIENT, "1-3 --ref-image"),
    Case("vace-ref-0", vace("ref"), REJECT, "--ref-image"),
    Case("vace-ref-obj-mismatch", vace("ref", ref_images=[IMG, IMG2], obj_or_bg=["obj"]), REJECT, "--obj-or-bg"),
    Case("vace-ref-obj-bad", vace("ref", ref_images=[IMG], obj_or_bg=["fg"]), REJECT, "obj or bg"),
    Case("vace-ref-size-960", vace("ref", ref_images=[IMG], size="960*960")),
    Case("vace-ref-size-1080", vace("ref", ref_images=[IMG], size="1920*1080"), REJECT, "--size '1920*1080'"),
    Case("vace-ref-duration", vace("ref", ref_images=[IMG], duration=5), REJECT, "has no --duration"),
    Case("vace-ref-audio", vace("ref", ref_images=[IMG], audio=True), REJECT, "silent"),
    Case("vace-ref-shot", vace("ref", ref_images=[IMG], shot_type="single"), REJECT, "--shot-type"),
    # ---- vace: video_repainting ----
    Case("vace-repaint", vace("repaint", video=VID, control_condition="depth", strength=0.5)),
    Case("vace-repaint-ref", vace("repaint", video=VID, control_condition="posebody", ref_images=[IMG])),
    Case("vace-repaint-canny", vace("repaint", video=VID, control_condition="canny"), REJECT, "posebodyface"),
    Case("vace-repaint-strength", vace("repaint", video=VID, strength=1.5), REJECT, "--strength"),
    Case("vace-repaint-size", vace("repaint", video=VID, size="1280*720"), REJECT, "follows the input video"),
    Case("vace-repaint-no-video", vace("repaint"), REJECT, "--video"),
    Case("vace-repaint-mask", vace("repaint", video=VID, mask_image=IMG), REJECT, "--mask-image"),
    Case("vace-repaint-scale", vace("repaint", video=VID, top_scale=1.5), REJECT, "--top-scale"),
    # ---- vace: video_edit ----
    Case("vace-edit-mask-image", vace("edit", video=VID, mask_image=IMG, mask_frame_id=3, mask_type="fixed")),
    Case("vace-edit-mask-video", vace("video_edit", video=VID, mask_video=VID, expand_ratio=0.05, size="720*1280")),
    Case("vace-edit-both-masks", vace("edit", video=VID, mask_image=IMG, mask_video=VID), REJECT, "exactly one"),
    Case("vace-edit-no-mask", vace("edit", video=VID), REJECT, "--mask-image, --mask-video"),
    Case("vace-edit-mask-type", vace("edit", video=VID, mask_image=IMG, mask_type="loose"), REJECT, "tracking"),
    Case("vace-edit-expand", vace("edit", video=VID, mask_image=IMG, expand_ratio=1.5), REJECT, "--expand-ratio"),
    # ---- vace: video_extension ----
    Case("vace-extend-clip", vace("extend", first_clip=VID)),
    Case("vace-extend-frames", vace("extension", first_frame=IMG, last_frame=IMG2)),
    Case("vace-extend-no-prompt", vace("extend", prompt=None, first_clip=VID), REJECT, "needs a prompt"),
    Case("vace-extend-nothing", vace("extend"), REJECT, "at least one of --first-clip"),
    Case("vace-extend-video", vace("extend", first_clip=VID, video=VID), REJECT, "--video is not used"),
    # ---- vace: video_outpainting ----
    Case("vace-outpaint", vace("outpaint", video=VID, top_scale=1.5, left_scale=2.0)),
    Case("vace-outpaint-2.5", vace("outpaint", video=VID, top_scale=2.5), REJECT, "--top-scale"),
    Case("vace-outpaint-0.5", vace("outpaint", video=VID, right_scale=0.5), REJECT, "--right-scale"),
    Case("vace-outpaint-strength", vace("outpaint", video=VID, strength=0.5), REJECT, "--strength"),
    Case("vace-unknown-function", vace("zoom", video=VID), REJECT, "image_reference"),
    Case("vace-wanx-alias", VaceRequest("x", model="wanx2.1-vace-plus", function="repaint", video=VID)),
    # ---- vace: instruct (wan2.7-videoedit) ----
    Case("instruct-via-vace", vace("videoedit", video=VID, ref_images=[IMG])),
    Case("instruct-defaults", edit()),
    Case("instruct-dur-0", edit(duration=0)),
    Case("instruct-dur-2", edit(duration=2)),
    Case("instruct-dur-1", edit(duration=1), REJECT, "0 or 2-10 s"),
    Case("instruct-dur-11", edit(duration=11), REJECT, "0 or 2-10 s"),
    Case("instruct-4-refs", edit(ref_images=[IMG] * 4)),
    Case("instruct-5-refs", edit(ref_images=[IMG] * 5), REJECT, "at most 4 --ref-image"),
    Case("instruct-origin", edit(audio_setting="origin", ratio="1:1", resolution="720P")),
    Case("instruct-loud", edit(audio_setting="loud"), REJECT, "auto, origin"),
    Case("instruct-size", edit(size="1280*720"), REJECT, "not --size"),
    Case("instruct-no-video", edit(video=None), REJECT, "--video"),
    Case("instruct-no-prompt", VideoEditRequest(None, video=VID)),
    Case(
        "instruct-wrong-model", VideoEditRequest("x", model="wan2.1-vace-plus", video=VID), REJECT, "wan2.7-videoedit"
    ),
    Case("repaint-on-videoedit", vace("repaint", model="wan2.7-videoedit", video=VID), REJECT, "wan2.1-vace-plus"),
    Case("audio-setting-on-t2v", t2v(), OK),
]


def _client(request: BaseRequest) -> ValidationError | None:
    try:
        validate_request(request, check_files=False)
    except ValidationError as error:
        return error
    return None


def _wire(request: BaseRequest, *, lenient: bool) -> ValidationError | None:
    payload = build_payload(request)
    try:
        check_body(payload.endpoint_path, payload.body, lenient=lenient)
    except ValidationError as error:
        return error
    return None


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_client_validation_table(case: Case):
    error = _client(case.request)
    if case.expect == OK:
        assert error is None, error
        return
    assert error is not None, "expected the client to refuse this request"
    assert case.says in error.message
    assert error.field and (error.field.startswith("--") or error.field in ("the prompt", "the VACE function"))


@pytest.mark.parametrize("case", [c for c in CASES if c.expect != CLIENT_ONLY], ids=lambda case: case.id)
def test_client_and_wire_check_agree(case: Case):
    """validate_request and check_body(build_payload(...).body) accept and refuse the same requests;
    the cases where the docs disagree are refused by the client and accepted by the lenient emulator."""
    client, strict, lenient = (
        _client(case.request),
        _wire(case.request, lenient=False),
        _wire(case.request, lenient=True),
    )
    if case.expect == OK:
        assert (client, strict, lenient) == (None, None, None)
    elif case.expect == REJECT:
        assert client is not None and strict is not None and lenient is not None
    else:
        assert client is not None and strict is not None
        assert lenient is None, lenient


def test_client_messages_name_the_right_option():
    error = _client(i2v(size="1280*720"))
    assert error is not None
    assert error.message == "wan2.6-i2v-flash takes --resolution (720P, 1080P), not --size"
    assert (error.field, error.value, error.allowed) == ("--size", "1280*720", "--resolution (720P, 1080P)")


def test_wire_only_rules_are_retold_in_option_terms():
    error = _client(vace("outpaint", video=VID, top_scale=2.5))
    assert error is not None
    assert error.message == "--top-scale 2.5 is not a number in [1.0, 2.0]"
    assert error.field == "--top-scale"


def test_unknown_model_passes_with_a_warning():
    request = T2VRequest("x", model="wan3.5-t2v", size="9*9")
    warnings = validate_request(request)
    assert warnings == ["unknown model 'wan3.5-t2v' passed through unchecked (the catalogue may be behind)"]
    payload = build_payload(request)
    assert payload.body == {"model": "wan3.5-t2v", "input": {"prompt": "x"}, "parameters": {"size": "9*9"}}
    assert payload.endpoint_path == VG


@pytest.mark.parametrize(
    ("request_", "path", "body"),
    [
        (
            I2VRequest(None, model="wan2.7-i2v-2099", image=IMG, resolution="720P"),
            VG,
            {
                "model": "wan2.7-i2v-2099",
                "input": {"media": [{"type": "first_frame", "url": IMG}]},
                "parameters": {"resolution": "720P"},
            },
        ),
        (
            KF2VRequest(None, model="wan9-kf2v", first_frame=IMG, last_frame=IMG2),
            PATHS["image2video"],
            {"model": "wan9-kf2v", "input": {"first_frame_url": IMG, "last_frame_url": IMG2}, "parameters": {}},
        ),
    ],
)
def test_unknown_model_uses_the_protocol_its_name_and_mode_imply(request_: BaseRequest, path: str, body: dict):
    payload = build_payload(request_)
    assert (payload.endpoint_path, payload.body) == (path, body)


def test_no_audio_names_the_models_that_can_be_silent():
    error = _client(i2v(model="wan2.6-i2v", audio=False))
    assert error is not None
    assert error.message == (
        "wan2.6-i2v always makes sound, so --no-audio is not possible; silent i2v models: wan2.6-i2v-flash, "
        "wan2.2-i2v-flash, wan2.2-i2v-plus, wan2.1-i2v-turbo, wan2.1-i2v-plus"
    )


def test_multi_shot_without_prompt_extension_warns():
    assert validate_request(t2v(shot_type="multi", prompt_extend=False)) == [
        "--shot-type multi only takes effect with prompt extension on (--prompt-extend)"
    ]


# ---------------------------------------------------------------------------------------------
# Payloads vs dashscope-api.md §2
# ---------------------------------------------------------------------------------------------

PAYLOADS = [
    # §2.2 example 1, literally
    (
        T2VRequest(
            "…",
            model="wan2.6-t2v",
            audio_file="https://…/bgm.mp3",
            size="1280*720",
            duration=10,
            prompt_extend=True,
            shot_type="multi",
            watermark=False,
            seed=12345,
        ),
        VG,
        T2V_WAN26_EXAMPLE,
    ),
    # §2.2 example 2, literally
    (
        T2VRequest(
            "…",
            model="wan2.7-t2v",
            negative_prompt="…",
            audio_file="https://…/a.mp3",
            resolution="720P",
            ratio="16:9",
            duration=5,
            prompt_extend=True,
            watermark=False,
            seed=12345,
        ),
        VG,
        T2V_WAN27_EXAMPLE,
    ),
    # §2.3 example, literally
    (
        I2VRequest(
            "…",
            model="wan2.6-i2v-flash",
            image="https://…/rap.png",
            audio_file="https://…/rap.mp3",
            resolution="720P",
            duration=10,
            prompt_extend=True,
            shot_type="multi",
            audio=True,
        ),
        VG,
        I2V_WAN26_FLASH_EXAMPLE,
    ),
    # defaults are explicit: the skill's where it injects one, else the API's
    (
        T2VRequest("a cat"),
        VG,
        {"model": "wan2.6-t2v", "input": {"prompt": "a cat"}, "parameters": {"size": "1920*1080", "duration": 5}},
    ),
    (
        T2VRequest("a cat", model="wan2.7-t2v"),
        VG,
        {
            "model": "wan2.7-t2v",
            "input": {"prompt": "a cat"},
            "parameters": {"resolution": "1080P", "ratio": "16:9", "duration": 5},
        },
    ),
    (
        I2VRequest(None, image=IMG),
        VG,
        {
            "model": "wan2.6-i2v-flash",
            "input": {"img_url": IMG},
            "parameters": {"resolution": "720P", "duration": 5, "audio": True},
        },
    ),
    (
        I2VRequest("p", model="wan2.1-i2v-turbo", image=IMG, template="flying", duration=3),
        VG,
        {
            "model": "wan2.1-i2v-turbo",
            "input": {"prompt": "p", "img_url": IMG, "template": "flying"},
            "parameters": {"resolution": "720P", "duration": 3},
        },
    ),
    # §2.6: wan2.7-i2v media items
    (
        I2VRequest("p", model="wan2.7-i2v", image=IMG, last_frame=IMG2, driving_audio=AUD, seed=7),
        VG,
        {
            "model": "wan2.7-i2v",
            "input": {
                "prompt": "p",
                "media": [
                    {"type": "first_frame", "url": IMG},
                    {"type": "last_frame", "url": IMG2},
                    {"type": "driving_audio", "url": AUD},
                ],
            },
            "parameters": {"resolution": "1080P", "duration": 5, "seed": 7},
        },
    ),
    (
        I2VRequest(None, model="wan2.7-i2v", clip=VID, resolution="720P", duration=10),
        VG,
        {
            "model": "wan2.7-i2v",
            "input": {"media": [{"type": "first_clip", "url": VID}]},
            "parameters": {"resolution": "720P", "duration": 10},
        },
    ),
    # §2.4: kf2v on the image2video endpoint, duration always 5
    (
        KF2VRequest("p", first_frame=IMG, last_frame=IMG2, negative_prompt="blur"),
        PATHS["image2video"],
        {
            "model": "wan2.2-kf2v-flash",
            "input": {"prompt": "p", "negative_prompt": "blur", "first_frame_url": IMG, "last_frame_url": IMG2},
            "parameters": {"resolution": "720P", "duration": 5},
        },
    ),
    # §2.5: wan2.6 r2v — reference_urls, size, no prompt_extend
    (
        R2VRequest("character1 and character2", refs=[IMG, VID], shot_type="multi", watermark=True),
        VG,
        {
            "model": "wan2.6-r2v-flash",
            "input": {"prompt": "character1 and character2", "reference_urls": [IMG, VID]},
            "parameters": {"size": "1280*720", "duration": 5, "shot_type": "multi", "watermark": True, "audio": True},
        },
    ),
    (
        R2VRequest("character1", model="wan2.6-r2v", refs=[IMG], size="1920*1080", duration=10),
        VG,
        {
            "model": "wan2.6-r2v",
            "input": {"prompt": "character1", "reference_urls": [IMG]},
            "parameters": {"size": "1920*1080", "duration": 10},
        },
    ),
    # §2.5: wan2.7-r2v media with a voice per reference and a first frame
    (
        R2VRequest(
            "Image 1 talks",
            model="wan2.7-r2v",
            refs=[IMG, VID],
            ref_voices=[AUD],
            first_frame=IMG2,
            resolution="720P",
            prompt_extend=False,
        ),
        VG,
        {
            "model": "wan2.7-r2v",
            "input": {
                "prompt": "Image 1 talks",
                "media": [
                    {"type": "reference_image", "url": IMG, "reference_voice": AUD},
                    {"type": "reference_video", "url": VID},
                    {"type": "first_frame", "url": IMG2},
                ],
            },
            "parameters": {"resolution": "720P", "duration": 5, "prompt_extend": False},
        },
    ),
    # §2.7: VACE functions, placement as the skill's build_vace_payload
    (
        VaceRequest("a dog", function="ref", ref_images=[IMG, IMG2], obj_or_bg=["obj", "bg"]),
        VG,
        {
            "model": "wan2.1-vace-plus",
            "input": {"function": "image_reference", "prompt": "a dog", "ref_images_url": [IMG, IMG2]},
            "parameters": {"size": "1280*720", "obj_or_bg": ["obj", "bg"]},
        },
    ),
    (
        VaceRequest(
            "a robot", function="repaint", video=VID, control_condition="depth", strength=0.7, prompt_extend=False
        ),
        VG,
        {
            "model": "wan2.1-vace-plus",
            "input": {"function": "video_repainting", "prompt": "a robot", "video_url": VID},
            "parameters": {"prompt_extend": False, "control_condition": "depth", "strength": 0.7},
        },
    ),
    (
        VaceRequest(
            "a hat",
            function="edit",
            video=VID,
            mask_image=IMG,
            mask_frame_id=1,
            mask_type="tracking",
            expand_ratio=0.05,
        ),
        VG,
        {
            "model": "wan2.1-vace-plus",
            "input": {
                "function": "video_edit",
                "prompt": "a hat",
                "video_url": VID,
                "mask_image_url": IMG,
                "mask_frame_id": 1,
            },
            "parameters": {"size": "1280*720", "mask_type": "tracking", "expand_ratio": 0.05},
        },
    ),
    (
        VaceRequest("go on", function="extend", first_clip=VID),
        VG,
        {
            "model": "wan2.1-vace-plus",
            "input": {"function": "video_extension", "prompt": "go on", "first_clip_url": VID},
            "parameters": {},
        },
    ),
    (
        VaceRequest(
            "wider", model="wanx2.1-vace-plus", function="outpaint", video=VID, top_scale=1.5, bottom_scale=1.5
        ),
        VG,
        {
            "model": "wanx2.1-vace-plus",
            "input": {"function": "video_outpainting", "prompt": "wider", "video_url": VID},
            "parameters": {"top_scale": 1.5, "bottom_scale": 1.5},
        },
    ),
    # §2.7: wan2.7-videoedit, no function, media video + reference images
    (
        VaceRequest("make it snow", function="videoedit", video=VID, ref_images=[IMG], audio_setting="origin"),
        VG,
        {
            "model": "wan2.7-videoedit",
            "input": {
                "prompt": "make it snow",
                "media": [{"type": "video", "url": VID}, {"type": "reference_image", "url": IMG}],
            },
            "parameters": {"resolution": "1080P", "duration": 0, "audio_setting": "origin"},
        },
    ),
]


@pytest.mark.parametrize(("request_", "path", "body"), PAYLOADS, ids=lambda v: getattr(v, "model", None) or "")
def test_payload_bodies(request_: BaseRequest, path: str, body: dict[str, Any]):
    payload = build_payload(request_)
    assert payload.endpoint_path == path
    assert payload.body == body
    assert payload.oss_resolve is False
    assert validate_request(request_, check_files=False) == []
    assert check_body(path, payload.body) is not None


@pytest.mark.parametrize(("request_", "path", "body"), PAYLOADS, ids=lambda v: getattr(v, "model", None) or "")
def test_wire_body_round_trips_through_the_skill_json_reader(request_: BaseRequest, path: str, body: dict):
    """A wire body read back as a request builds the very same body."""
    again = request_from_skill_json(body)
    assert type(again).mode == type(request_).mode
    assert build_payload(again).body == body


def test_uploaded_paths_become_oss_urls(tmp_path: Path):
    first = make_image(tmp_path / "first.png", 400, 400)
    last = make_image(tmp_path / "last.jpg", 400, 300)
    request = KF2VRequest("p", first_frame=str(first), last_frame=str(last))
    assert [(i.field, i.path, i.kind, i.size) for i in local_inputs(request)] == [
        ("first_frame_url", str(first), "image", first.stat().st_size),
        ("last_frame_url", str(last), "image", last.stat().st_size),
    ]
    payload = build_payload(request, {str(first): "oss://dashscope-instant/k/first.png"})
    assert payload.body["input"]["first_frame_url"] == "oss://dashscope-instant/k/first.png"
    assert payload.body["input"]["last_frame_url"] == str(last)  # not uploaded yet
    assert payload.oss_resolve is True


def test_local_inputs_list_wire_fields_and_skip_urls(tmp_path: Path):
    image = make_image(tmp_path / "face.png")
    request = R2VRequest("character1", model="wan2.7-r2v", refs=[str(image), VID, str(image)])
    items = local_inputs(request)
    assert [(i.field, i.kind, i.option) for i in items] == [("media.reference_image", "image", "--ref")]
    missing = local_inputs(I2VRequest(image=str(tmp_path / "nope.png")))
    assert [(i.field, i.size) for i in missing] == [("img_url", -1)]


# ---------------------------------------------------------------------------------------------
# Mode detection and the skill's request JSON
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("skill_json", "mode"),
    [
        ({"prompt": "x"}, "t2v"),
        ({"prompt": "x", "model": "wan2.7-t2v", "resolution": "720P"}, "t2v"),
        ({"function": "video_repainting", "video_url": VID, "reference_urls": [IMG]}, "vace"),
        ({"reference_urls": [IMG], "img_url": IMG}, "r2v"),
        ({"media": [{"type": "first_frame", "url": IMG}]}, "i2v"),
        ({"first_clip_url": VID, "first_frame_url": IMG}, "i2v"),
        ({"first_frame_url": IMG, "last_frame_url": IMG2}, "kf2v"),
        ({"first_frame_url": IMG, "model": "wan2.7-i2v"}, "i2v"),
        ({"first_frame_url": IMG, "model": "wan2.7-i2v-2026-04-25"}, "i2v"),
        ({"img_url": IMG}, "i2v"),
        ({"reference_image": IMG}, "i2v"),
        ({"media": [{"type": "video", "url": VID}], "model": "wan2.7-videoedit"}, "vace"),
        ({"video_url": VID, "model": "wan2.7-videoedit"}, "vace"),
        ({"media": [{"type": "reference_image", "url": IMG}], "model": "wan2.7-r2v"}, "r2v"),
        ({"model": "wan2.6-t2v", "input": {"prompt": "x", "function": "video-synthesis"}}, "t2v"),  # SDK leftover
        ({"model": "wan2.2-kf2v-flash", "input": {"first_frame_url": IMG}, "parameters": {}}, "kf2v"),
        ({"model": "wan2.1-vace-plus", "input": {"function": "image_reference"}}, "vace"),
    ],
)
def test_detect_mode(skill_json: dict, mode: str):
    assert detect_mode(skill_json) == mode


@pytest.mark.parametrize(
    ("skill_json", "body"),
    [
        (
            {"prompt": "A kitten", "duration": 10, "size": "1280*720", "audio_url": AUD, "seed": 1},
            {
                "model": "wan2.6-t2v",
                "input": {"prompt": "A kitten", "audio_url": AUD},
                "parameters": {"size": "1280*720", "duration": 10, "seed": 1},
            },
        ),
        (
            {"prompt": "A kitten", "img_url": IMG, "audio": False},
            {
                "model": "wan2.6-i2v-flash",
                "input": {"prompt": "A kitten", "img_url": IMG},
                "parameters": {"resolution": "720P", "duration": 5, "audio": False},
            },
        ),
        (
            {"model": "wan2.7-i2v", "first_frame_url": IMG, "last_frame_url": IMG2, "driving_audio_url": AUD},
            {
                "model": "wan2.7-i2v",
                "input": {
                    "media": [
                        {"type": "first_frame", "url": IMG},
                        {"type": "last_frame", "url": IMG2},
                        {"type": "driving_audio", "url": AUD},
                    ]
                },
                "parameters": {"resolution": "1080P", "duration": 5},
            },
        ),
        (
            {"first_frame_url": IMG, "last_frame_url": IMG2, "prompt": "p"},
            {
                "model": "wan2.2-kf2v-flash",
                "input": {"prompt": "p", "first_frame_url": IMG, "last_frame_url": IMG2},
                "parameters": {"resolution": "720P", "duration": 5},
            },
        ),
        (
            {"prompt": "character1", "reference_urls": [IMG], "shot_type": "multi"},
            {
                "model": "wan2.6-r2v-flash",
                "input": {"prompt": "character1", "reference_urls": [IMG]},
                "parameters": {"size": "1280*720", "duration": 5, "shot_type": "multi", "audio": True},
            },
        ),
        (
            {"function": "video_outpainting", "video_url": VID, "prompt": "wide", "left_scale": 1.2},
            {
                "model": "wan2.1-vace-plus",
                "input": {"function": "video_outpainting", "prompt": "wide", "video_url": VID},
                "parameters": {"left_scale": 1.2},
            },
        ),
        (
            {"model": "wan2.7-videoedit", "video_url": VID, "reference_images": [IMG], "prompt": "snow"},
            {
                "model": "wan2.7-videoedit",
                "input": {
                    "prompt": "snow",
                    "media": [{"type": "video", "url": VID}, {"type": "reference_image", "url": IMG}],
                },
                "parameters": {"resolution": "1080P", "duration": 0},
            },
        ),
    ],
)
def test_skill_json_to_request_to_payload(skill_json: dict, body: dict):
    request = request_from_skill_json(skill_json)
    assert validate_request(request, check_files=False) == []
    assert build_payload(request).body == body


def test_skill_json_of_another_mode_is_refused_by_a_mode_command():
    with pytest.raises(ValidationError, match="is a kf2v request, not i2v"):
        request_from_skill_json({"first_frame_url": IMG, "last_frame_url": IMG2}, mode="i2v")


def test_skill_json_must_be_an_object():
    with pytest.raises(ValidationError):
        request_from_skill_json({"model": "wan2.6-t2v", "input": ["x"]})


# ---------------------------------------------------------------------------------------------
# Local files inside validate_request
# ---------------------------------------------------------------------------------------------


def test_validate_request_checks_local_files(tmp_path: Path):
    good = make_image(tmp_path / "good.png", 800, 600)
    assert validate_request(I2VRequest("p", image=str(good))) == []
    alpha = make_image(tmp_path / "alpha.png", 800, 600, mode="RGBA")
    with pytest.raises(ValidationError, match=r"--image .*alpha\.png: PNG with transparency") as caught:
        validate_request(I2VRequest("p", image=str(alpha)))
    assert caught.value.field == "--image"


def test_missing_file_is_an_error_even_for_an_unknown_model(tmp_path: Path):
    with pytest.raises(ValidationError, match="no such file"):
        validate_request(I2VRequest("p", model="wan9-i2v", image=str(tmp_path / "gone.png")))
    with pytest.raises(ValidationError, match="--first-frame .*gone.png: no such file"):
        validate_request(KF2VRequest("p", first_frame=str(tmp_path / "gone.png"), last_frame=IMG))
