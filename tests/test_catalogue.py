"""The model catalogue: every model of dashscope-api.md §7, aliases, defaults, dimensions, billing."""

from __future__ import annotations

import pytest

from qwenvid.catalogue import (
    DEFAULT_MODELS,
    MODELS,
    PATHS,
    WAN27_DIMENSIONS,
    billable_seconds,
    canonical_vace_function,
    expected_output,
    get_model,
    guess_kind,
    models_for_mode,
    models_that_can_be_silent,
    output_dimensions,
    resolution_tier,
    sizes_for,
)

# (id, mode, endpoint, resolution field, audio kind) — dashscope-api.md §7 and §2.
SECTION_7 = [
    ("wan2.7-t2v", "t2v", "video-generation", "resolution+ratio", "always"),
    ("wan2.6-t2v", "t2v", "video-generation", "size", "always"),
    ("wan2.5-t2v-preview", "t2v", "video-generation", "size", "always"),
    ("wan2.2-t2v-plus", "t2v", "video-generation", "size", "silent"),
    ("wan2.1-t2v-turbo", "t2v", "video-generation", "size", "silent"),
    ("wan2.1-t2v-plus", "t2v", "video-generation", "size", "silent"),
    ("wan2.7-i2v", "i2v", "video-generation", "resolution", "always"),
    ("wan2.6-i2v-flash", "i2v", "video-generation", "resolution", "toggle"),
    ("wan2.6-i2v", "i2v", "video-generation", "resolution", "always"),
    ("wan2.5-i2v-preview", "i2v", "video-generation", "resolution", "always"),
    ("wan2.2-i2v-flash", "i2v", "video-generation", "resolution", "silent"),
    ("wan2.2-i2v-plus", "i2v", "video-generation", "resolution", "silent"),
    ("wan2.1-i2v-turbo", "i2v", "video-generation", "resolution", "silent"),
    ("wan2.1-i2v-plus", "i2v", "video-generation", "resolution", "silent"),
    ("wan2.2-kf2v-flash", "kf2v", "image2video", "resolution", "silent"),
    ("wan2.1-kf2v-plus", "kf2v", "image2video", "resolution", "silent"),
    ("wan2.7-r2v", "r2v", "video-generation", "resolution+ratio", "always"),
    ("wan2.6-r2v", "r2v", "video-generation", "size", "always"),
    ("wan2.6-r2v-flash", "r2v", "video-generation", "size", "toggle"),
    ("wan2.7-videoedit", "vace", "video-generation", "resolution+ratio", "always"),
    ("wan2.1-vace-plus", "vace", "video-generation", "size", "silent"),
    # dashscope-api-2026.md §1, §2
    ("wan3.0-video", "t2v", "video-generation", "resolution+ratio", "toggle"),
    ("wan3.0-video-prime", "t2v", "video-generation", "resolution+ratio", "toggle"),
    ("happyhorse-1.1-t2v", "t2v", "video-generation", "resolution+ratio", "always"),
    ("happyhorse-1.1-i2v", "i2v", "video-generation", "resolution", "always"),
    ("happyhorse-1.1-r2v", "r2v", "video-generation", "resolution+ratio", "always"),
    ("happyhorse-1.0-t2v", "t2v", "video-generation", "resolution+ratio", "always"),
    ("happyhorse-1.0-i2v", "i2v", "video-generation", "resolution", "always"),
    ("happyhorse-1.0-r2v", "r2v", "video-generation", "resolution+ratio", "always"),
    ("happyhorse-1.0-video-edit", "vace", "video-generation", "resolution", "always"),
    # §4, §5
    ("wan2.2-s2v", "s2v", "image2video", "resolution", "always"),
    ("wan2.2-animate-move", "animate", "image2video", "resolution", "silent"),
    ("wan2.2-animate-mix", "animate", "image2video", "resolution", "silent"),
]

ALIASES = [
    ("wanx2.1-t2v-turbo", "wan2.1-t2v-turbo"),
    ("wanx2.1-t2v-plus", "wan2.1-t2v-plus"),
    ("wanx2.1-i2v-turbo", "wan2.1-i2v-turbo"),
    ("wanx2.1-i2v-plus", "wan2.1-i2v-plus"),
    ("wanx2.1-kf2v-plus", "wan2.1-kf2v-plus"),
    ("wan2.1-kf2v-plus", "wan2.1-kf2v-plus"),
    ("wanx2.1-vace-plus", "wan2.1-vace-plus"),
    ("wan2.1-vace-plus", "wan2.1-vace-plus"),
    ("wan2.6-t2v-us", "wan2.6-t2v"),
    ("wan2.6-i2v-us", "wan2.6-i2v"),
    ("wan2.7-t2v-2026-04-25", "wan2.7-t2v"),
    ("wan2.7-i2v-2026-04-25", "wan2.7-i2v"),
    (" wan2.6-t2v ", "wan2.6-t2v"),
]


@pytest.mark.parametrize(("model_id", "mode", "endpoint", "field", "audio"), SECTION_7)
def test_every_section_7_model_is_in_the_catalogue(model_id: str, mode: str, endpoint: str, field: str, audio: str):
    spec = get_model(model_id)
    assert spec is not None
    assert (spec.id, spec.mode, spec.endpoint, spec.resolution_field, spec.audio) == (
        model_id,
        mode,
        endpoint,
        field,
        audio,
    )
    assert spec.endpoint_path == PATHS[endpoint]
    media = model_id.startswith(("wan2.7", "happyhorse"))
    expected = "wan3" if model_id.startswith("wan3") else "media" if media else "legacy"
    assert spec.protocol == expected


def test_catalogue_holds_exactly_the_section_7_models():
    assert sorted(spec.id for spec in MODELS) == sorted(row[0] for row in SECTION_7)


@pytest.mark.parametrize(("alias", "canonical"), ALIASES)
def test_aliases_and_snapshots_resolve(alias: str, canonical: str):
    spec = get_model(alias)
    assert spec is not None and spec.id == canonical


@pytest.mark.parametrize(
    "model_id",
    ["wanx-txt2video-pro", "wanx-kf2v", "wan2.2-s2v-detect", "happyhorse-1.1-video-edit", "wan3.1-video", "gpt-4"],
)
def test_out_of_scope_and_unknown_ids_are_none(model_id: str):
    assert get_model(model_id) is None


@pytest.mark.parametrize(
    ("mode", "default"),
    [
        ("t2v", "wan2.6-t2v"),
        ("i2v", "wan2.6-i2v-flash"),
        ("kf2v", "wan2.2-kf2v-flash"),
        ("r2v", "wan2.6-r2v-flash"),
        ("vace", "wan2.1-vace-plus"),
    ],
)
def test_default_model_per_mode_comes_first(mode: str, default: str):
    assert DEFAULT_MODELS[mode] == default  # type: ignore[index]
    listed = models_for_mode(mode)  # type: ignore[arg-type]
    assert listed[0].id == default
    assert all(spec.serves(mode) for spec in listed)  # its own models, and all-in-one models (Wan 3.0)


@pytest.mark.parametrize(
    ("model_id", "field", "default"),
    [
        ("wan2.6-t2v", "default_size", "1920*1080"),
        ("wan2.1-t2v-turbo", "default_size", "1280*720"),
        ("wan2.6-r2v-flash", "default_size", "1280*720"),  # skill's injected default
        ("wan2.1-vace-plus", "default_size", "1280*720"),
        ("wan2.6-i2v-flash", "default_resolution", "720P"),  # skill's injected default
        ("wan2.2-i2v-plus", "default_resolution", "1080P"),  # 720P not offered: API default
        ("wan2.2-kf2v-flash", "default_resolution", "720P"),
        ("wan2.7-t2v", "default_resolution", "1080P"),
        ("wan2.7-t2v", "default_ratio", "16:9"),
        ("wan2.7-i2v", "default_resolution", "1080P"),
        ("wan2.7-r2v", "default_resolution", "1080P"),
        ("wan2.7-videoedit", "default_ratio", None),  # the input video's ratio
    ],
)
def test_defaults(model_id: str, field: str, default: str | None):
    assert getattr(get_model(model_id), field) == default


@pytest.mark.parametrize(
    ("model_id", "allowed", "rejected", "default"),
    [
        ("wan2.6-t2v", [2, 5, 11, 15], [1, 16], 5),
        ("wan2.6-i2v", [2, 15], [1, 16], 5),
        ("wan2.5-t2v-preview", [5, 10], [4, 6, 15], 5),
        ("wan2.1-i2v-turbo", [3, 4, 5], [2, 6], 5),
        ("wan2.2-kf2v-flash", [5], [4, 6], 5),
        ("wan2.6-r2v", [2, 10], [1, 11], 5),
        ("wan2.7-r2v", [2, 15], [1, 16], 5),
        ("wan2.7-videoedit", [0, 2, 10], [1, 11], 0),
    ],
)
def test_duration_rules(model_id: str, allowed: list[int], rejected: list[int], default: int):
    rule = get_model(model_id).durations  # type: ignore[union-attr]
    assert rule.default == default
    assert all(rule.allows(value) for value in allowed)
    assert not any(rule.allows(value) for value in rejected)


def test_vace_has_no_duration_parameter():
    rule = get_model("wan2.1-vace-plus").durations  # type: ignore[union-attr]
    assert not rule.parameter
    assert rule.describe() == "no duration parameter (output up to 5 s)"


def test_duration_descriptions():
    assert get_model("wan2.2-kf2v-flash").durations.describe() == "fixed 5 s"  # type: ignore[union-attr]
    assert get_model("wan2.6-t2v").durations.describe() == "2-15 s"  # type: ignore[union-attr]
    assert get_model("wan2.5-t2v-preview").durations.describe() == "5, 10 s"  # type: ignore[union-attr]
    assert get_model("wan2.7-videoedit").durations.describe() == "0 or 2-10 s"  # type: ignore[union-attr]


def test_size_tables_match_section_2_1():
    assert sizes_for("480P") == ("832*480", "480*832", "624*624")
    assert get_model("wan2.2-t2v-plus").sizes == (  # type: ignore[union-attr]
        "832*480",
        "480*832",
        "624*624",
        "1920*1080",
        "1080*1920",
        "1440*1440",
        "1632*1248",
        "1248*1632",
    )
    assert get_model("wan2.1-t2v-plus").sizes == (  # type: ignore[union-attr]
        "1280*720",
        "720*1280",
        "960*960",
        "1088*832",
        "832*1088",
    )
    assert WAN27_DIMENSIONS[("720P", "4:3")] == (1104, 832)
    assert WAN27_DIMENSIONS[("1080P", "3:4")] == (1248, 1648)


@pytest.mark.parametrize(
    ("model_id", "kwargs", "expected"),
    [
        ("wan2.6-i2v-flash", {"resolution": "720P", "input_wh": (750, 1000)}, (816, 1104)),  # §2.1 example
        ("wan2.7-i2v", {"resolution": "720P", "input_wh": (750, 1000)}, (816, 1104)),
        ("wan2.2-kf2v-flash", {"resolution": "1080P", "input_wh": (1920, 1080)}, (1920, 1072)),
        ("wan2.6-i2v-flash", {"resolution": "720P"}, (1280, 720)),
        ("wan2.6-t2v", {"size": "832*1088"}, (832, 1088)),
        ("wan2.6-t2v", {}, (1920, 1080)),
        ("wan2.7-t2v", {"resolution": "720P", "ratio": "4:3"}, (1104, 832)),
        ("wan2.7-t2v", {}, (1920, 1080)),
        ("wan2.7-videoedit", {"resolution": "720P", "input_wh": (1080, 1920)}, (720, 1280)),
        ("wan2.7-videoedit", {"resolution": "720P", "ratio": "1:1", "input_wh": (1080, 1920)}, (960, 960)),
        ("wan2.1-vace-plus", {"input_wh": (640, 360)}, (640, 360)),  # repaint: same as input when <= 720P
        ("wan2.1-vace-plus", {"input_wh": (1920, 1080)}, (1280, 720)),  # downscaled to 720P
        ("wan2.1-vace-plus", {"size": "960*960", "input_wh": (1920, 1080)}, (960, 960)),
    ],
)
def test_output_dimensions(model_id: str, kwargs: dict, expected: tuple[int, int]):
    assert output_dimensions(get_model(model_id), **kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model_id", "args", "kwargs", "expected"),
    [
        ("wan2.6-t2v", (10,), {}, 10.0),
        ("wan2.6-t2v", (None,), {}, 5.0),
        ("wan2.6-r2v", (5, 5.0), {}, 10.0),  # reference video seconds are billed (§3.2)
        ("wan2.6-i2v", (5, 5.0), {}, 5.0),  # ... only for r2v
        ("wan2.1-vace-plus", (None,), {}, 5.0),
        ("wan2.1-vace-plus", (None,), {"input_video_seconds": 3.0}, 3.0),
        ("wan2.7-videoedit", (0,), {"input_video_seconds": 7.5}, 7.5),
        ("wan2.7-videoedit", (0,), {}, 10.0),
        ("wan2.7-videoedit", (4,), {"input_video_seconds": 7.5}, 4.0),
    ],
)
def test_billable_seconds(model_id: str, args: tuple, kwargs: dict, expected: float):
    assert billable_seconds(get_model(model_id), *args, **kwargs) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model_id", "kwargs", "tier"),
    [
        ("wan2.6-t2v", {"size": "624*624"}, "480P"),
        ("wan2.6-t2v", {}, "1080P"),
        ("wan2.6-i2v-flash", {}, "720P"),
        ("wan2.7-t2v", {"resolution": "720P"}, "720P"),
    ],
)
def test_resolution_tier(model_id: str, kwargs: dict, tier: str):
    assert resolution_tier(get_model(model_id), **kwargs) == tier  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        ("https://x/a.mp4", "video"),
        ("https://x/a.MOV?Expires=1", "video"),
        ("oss://dashscope-instant/k/clip.mov", "video"),
        ("https://x/a.png", "image"),
        ("https://x/noext", "image"),
        ("voice.mp3", "audio"),
        ("data:video/mp4;base64,AAAA", "video"),
        ("data:image/png;base64,AAAA", "image"),
    ],
)
def test_guess_kind(location: str, kind: str):
    assert guess_kind(location) == kind


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("ref", "image_reference"),
        ("reference", "image_reference"),
        ("repaint", "video_repainting"),
        ("edit", "video_edit"),
        ("extend", "video_extension"),
        ("extension", "video_extension"),
        ("outpaint", "video_outpainting"),
        ("Video-Edit", "video_edit"),
        ("videoedit", "instruct"),
        ("instruct", "instruct"),
        ("zoom", None),
    ],
)
def test_vace_function_aliases(name: str, canonical: str | None):
    assert canonical_vace_function(name) == canonical


def test_models_that_can_be_silent_names_toggle_models_first():
    assert models_that_can_be_silent("i2v")[0] == "wan2.6-i2v-flash"
    assert models_that_can_be_silent("r2v") == ["wan2.6-r2v-flash"]
    assert "wan2.6-t2v" not in models_that_can_be_silent("t2v")


@pytest.mark.parametrize(
    ("model_id", "parameters", "expected"),
    [
        ("wan2.6-t2v", {"size": "1280*720", "duration": 10}, (10.0, True, 1280, 720)),
        ("wan2.6-i2v-flash", {"resolution": "720P", "duration": 5, "audio": False}, (5.0, False, None, None)),
        ("wan2.2-kf2v-flash", {"resolution": "720P", "duration": 5}, (5.0, False, None, None)),
        ("wan2.7-t2v", {"resolution": "720P", "ratio": "9:16", "duration": 3}, (3.0, True, 720, 1280)),
        ("wan2.1-vace-plus", {}, (None, False, None, None)),
        ("wan2.7-videoedit", {"duration": 0}, (None, None, None, None)),
    ],
)
def test_expected_output(model_id: str, parameters: dict, expected: tuple):
    out = expected_output(model_id, {"model": model_id, "input": {}, "parameters": parameters})
    assert out is not None
    assert (out.duration, out.has_audio, out.width, out.height) == expected


def test_expected_output_unknown_model_is_none():
    assert expected_output("wan9-t2v", {"parameters": {}}) is None


def test_submit_limits_from_section_4_2():
    kf2v = get_model("wan2.1-kf2v-plus")
    assert kf2v is not None and (kf2v.rpm_limit, kf2v.concurrency_limit) == (1, 2)
    t2v = get_model("wan2.6-t2v")
    assert t2v is not None and (t2v.submit_rps, t2v.concurrency_limit) == (5, 5)
