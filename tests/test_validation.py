"""check_body: wire bodies against the catalogue, strict (client) and lenient (emulator)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from qwenvid.catalogue import PATHS
from qwenvid.errors import ValidationError
from qwenvid.requests.validation import check_body, deferred_failure, truncate_text_fields
from tests.support.doc_examples import DOC_EXAMPLES

VG = PATHS["video-generation"]
I2V_PATH = PATHS["image2video"]

def _raises(path: str, body: dict[str, Any], *, lenient: bool = False) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        check_body(path, body, lenient=lenient)
    return caught.value


@pytest.mark.parametrize(("path", "body"), DOC_EXAMPLES, ids=lambda v: v["model"] if isinstance(v, dict) else "")
@pytest.mark.parametrize("lenient", [False, True])
def test_doc_examples_pass(path: str, body: dict[str, Any], lenient: bool):
    spec = check_body(path, body, lenient=lenient)
    assert spec is not None and spec.id == body["model"]


def test_sdk_extras_are_tolerated():
    """The official SDK adds input.extend_prompt and input.function='video-synthesis' to every call."""
    body = copy.deepcopy(DOC_EXAMPLES[0][1])
    body["input"].update({"extend_prompt": True, "function": "video-synthesis", "something_new": 1})
    assert check_body("/api/v1" + VG, body, lenient=True) is not None


def test_message_names_field_value_and_what_is_allowed():
    body = {"model": "wan2.6-i2v-flash", "input": {"img_url": "https://x/a.png"}, "parameters": {"size": "1280*720"}}
    error = _raises(VG, body)
    assert error.message == (
        "parameters.size '1280*720' is not accepted by wan2.6-i2v-flash: it takes parameters.resolution (720P, 1080P)"
    )
    assert (error.field, error.value, error.code) == ("parameters.size", "1280*720", "InvalidParameter")


def test_unknown_model_passes_for_the_client_and_is_refused_by_the_emulator():
    body = {"model": "wan9.9-t2v", "input": {"prompt": "x"}, "parameters": {"size": "1*1"}}
    assert check_body(VG, body) is None
    error = _raises(VG, body, lenient=True)
    assert error.message == "Model not exist."
    assert error.code == "InvalidParameter"
    assert check_body(VG, body, lenient=True, allow_unknown_model=True) is None


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"input": {"prompt": "x"}}, "BadRequest.EmptyModel", "model"),
        ({"model": "wan2.6-t2v"}, "BadRequest.EmptyInput", "input"),
        ({"model": "wan2.6-t2v", "input": "x"}, "BadRequest.EmptyInput", "input"),
        ({"model": "wan2.6-t2v", "input": {"prompt": "x"}, "parameters": []}, "InvalidParameter", "parameters"),
    ],
)
def test_envelope_errors(body: dict[str, Any], code: str, field: str):
    error = _raises(VG, body, lenient=True)
    assert (error.code, error.field) == (code, field)


def test_model_on_the_wrong_endpoint_is_a_url_error():
    body = {
        "model": "wan2.2-kf2v-flash",
        "input": {"first_frame_url": "https://a/1.png", "last_frame_url": "https://a/2.png"},
    }
    assert check_body(I2V_PATH, body) is not None
    error = _raises(VG, body, lenient=True)
    assert error.message.startswith("url error, please check url!")
    assert error.field == "path"


@pytest.mark.parametrize(
    ("model", "inputs", "parameters", "field"),
    [
        ("wan2.6-t2v", {"prompt": "x"}, {"resolution": "720P"}, "parameters.resolution"),
        ("wan2.7-t2v", {"prompt": "x"}, {"size": "1280*720"}, "parameters.size"),
        (
            "wan2.7-i2v",
            {"media": [{"type": "first_frame", "url": "https://a/b.png"}]},
            {"ratio": "16:9"},
            "parameters.ratio",
        ),
        ("wan2.6-t2v", {"prompt": "x"}, {"duration": "5"}, "parameters.duration"),
        ("wan2.6-t2v", {"prompt": "x"}, {"duration": True}, "parameters.duration"),
        ("wan2.6-t2v", {"prompt": "x"}, {"seed": 2147483648}, "parameters.seed"),
        ("wan2.6-t2v", {"prompt": "x"}, {"watermark": "yes"}, "parameters.watermark"),
        ("wan2.6-t2v", {"prompt": 5}, {}, "input.prompt"),
        ("wan2.6-t2v", {}, {}, "input.prompt"),
        ("wan2.6-i2v-flash", {"img_url": "/home/me/a.png"}, {}, "input.img_url"),
        ("wan2.6-i2v-flash", {}, {}, "input.img_url"),
        ("wan2.6-r2v", {"prompt": "x", "reference_urls": "https://a/b.png"}, {}, "input.reference_urls"),
        (
            "wan2.7-r2v",
            {"prompt": "x", "media": [{"type": "first_frame", "url": "https://a/b.png"}]},
            {},
            "input.media",
        ),
        (
            "wan2.7-r2v",
            {
                "prompt": "x",
                "media": [{"type": "reference_image", "url": "https://a/b.png", "reference_voice": "v.mp3"}],
            },
            {},
            "input.media[0].reference_voice",
        ),
        (
            "wan2.7-i2v",
            {
                "media": [
                    {"type": "first_frame", "url": "https://a/b.png"},
                    {"type": "first_frame", "url": "https://a/c.png"},
                ]
            },
            {},
            "input.media",
        ),
        ("wan2.7-i2v", {"media": [{"type": "video", "url": "https://a/b.mp4"}]}, {}, "input.media[0].type"),
        ("wan2.7-videoedit", {"media": [{"type": "reference_image", "url": "https://a/b.png"}]}, {}, "input.media"),
        ("wan2.1-vace-plus", {"prompt": "x", "function": "video-synthesis"}, {}, "input.function"),
        ("wan2.1-vace-plus", {"prompt": "x"}, {}, "input.function"),
        (
            "wan2.1-vace-plus",
            {
                "function": "video_edit",
                "video_url": "https://a/v.mp4",
                "mask_image_url": "https://a/m.png",
                "mask_frame_id": 0,
            },
            {},
            "input.mask_frame_id",
        ),
        (
            "wan2.6-r2v",
            {"prompt": "x", "reference_urls": ["https://a/b.png"]},
            {"audio_setting": "auto"},
            "parameters.audio_setting",
        ),
    ],
)
@pytest.mark.parametrize("lenient", [False, True])
def test_rejected_in_both_modes(model: str, inputs: dict, parameters: dict, field: str, lenient: bool):
    error = _raises(VG, {"model": model, "input": inputs, "parameters": parameters}, lenient=lenient)
    assert error.field == field
    assert field in error.message or error.message.startswith("Field required")


def test_prompt_over_the_limit_is_truncated_by_the_emulator():
    body = {"model": "wan2.6-t2v", "input": {"prompt": "p" * 1600, "negative_prompt": "n" * 600}, "parameters": {}}
    error = _raises(VG, body)
    assert "1600 characters" in error.message and "1500" in error.message
    spec = check_body(VG, body, lenient=True)
    assert spec is not None
    cut = truncate_text_fields(body, spec)
    assert (len(cut["input"]["prompt"]), len(cut["input"]["negative_prompt"])) == (1500, 500)
    assert len(body["input"]["prompt"]) == 1600  # the original is left alone


def test_wan27_i2v_without_media_is_accepted_then_fails():
    body = {"model": "wan2.7-i2v", "input": {"prompt": "x"}, "parameters": {"resolution": "720P"}}
    assert _raises(VG, body).field == "input.media"
    assert check_body(VG, body, lenient=True) is not None
    assert deferred_failure(body) == ("InvalidParameter", "Field required: input.media")
    assert deferred_failure(DOC_EXAMPLES[0][1]) is None


def test_obj_or_bg_length_mismatch_uses_the_documented_message():
    body = {
        "model": "wan2.1-vace-plus",
        "input": {
            "function": "image_reference",
            "prompt": "x",
            "ref_images_url": ["https://a/1.png", "https://a/2.png"],
        },
        "parameters": {"obj_or_bg": ["obj"]},
    }
    assert _raises(VG, body, lenient=True).message == "ref_images_url and obj_or_bg must be the same length."


def test_r2v_reference_kinds_follow_the_extension():
    refs = [f"oss://dashscope-instant/x/clip{i}.mp4" for i in range(4)]
    body = {"model": "wan2.6-r2v", "input": {"prompt": "x", "reference_urls": refs}, "parameters": {}}
    error = _raises(VG, body, lenient=True)
    assert "4 video(s)" in error.message and "videos <= 3" in error.message
    body["input"]["reference_urls"] = refs[:3] + ["https://a/face.jpg", "https://a/b.webp"]
    assert check_body(VG, body) is not None
