"""Validation of a wire body (what goes to DashScope) against the catalogue; used by client and emulator alike.

`check_body(path, body)` is the client's last check before submit; `check_body(path, body, lenient=True)`
is the emulator's check on every submit. Both read the same catalogue, so they agree, except where the
sources disagree (dashscope-api.md §8) and the lenient reading follows the wider one. The lenient
differences, all deliberate:

- prompt / negative_prompt over the limit: the API truncates silently (`truncate_text_fields` does it);
- VACE `ref_images_url` beyond 3: the API ignores the extras;
- `parameters.prompt_extend` on wan2.6 r2v (undocumented there; the API tolerates unknown fields);
- kf2v without `last_frame_url` (optional in the schema, required in practice);
- wan2.6 r2v `input.reference_video_urls` (deprecated, still accepted);
- wan2.7-i2v continuation + driving audio (reported unsupported, UNCONFIRMED);
- wan2.7-i2v without `input.media`: accepted, then the task FAILS (`deferred_failure`).

Unknown models: the client lets them through (the catalogue moves faster than we do); the emulator
answers the API's 400 InvalidParameter "Model not exist." (`allow_unknown_model` defaults to `not lenient`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from qwenvid.catalogue import (
    SEED_RANGE,
    SHOT_TYPES,
    VACE_COMMON_PARAMETERS,
    VACE_CONTROL_CONDITIONS,
    VACE_EDIT_CONTROL_CONDITIONS,
    VACE_EXPAND_MODES,
    VACE_FUNCTIONS,
    VACE_MASK_TYPES,
    VACE_OBJ_OR_BG,
    VACE_SCALE_RANGE,
    VACE_UNIT_RANGE,
    WAN3_MODES_EXCLUSIVE,
    WAN27_EDIT_MEDIA_TYPES,
    WAN27_I2V_COMBINATIONS,
    WAN27_I2V_LENIENT_COMBINATIONS,
    WAN27_R2V_MEDIA_TYPES,
    ModelSpec,
    get_model,
    guess_kind,
    models_that_can_be_silent,
)
from qwenvid.errors import ValidationError

URL_PREFIXES = ("http://", "https://", "oss://", "data:")
WAN27_I2V_MEDIA_TYPES = ("first_frame", "last_frame", "driving_audio", "first_clip")
# The official SDK adds `input.function: "video-synthesis"` to every call (dashscope-api.md §2, §6.1).
SDK_ROUTING_FUNCTION = "video-synthesis"

# Every input field that holds one URL, and every one that holds a list of URLs (legacy protocol).
URL_FIELDS = (
    "img_url",
    "audio_url",
    "first_frame_url",
    "last_frame_url",
    "video_url",
    "mask_image_url",
    "mask_video_url",
    "first_clip_url",
    "last_clip_url",
)
URL_LIST_FIELDS = ("reference_urls", "reference_video_urls", "ref_images_url")

# VACE input fields and parameters that belong to some function; the others are common or unknown.
VACE_FUNCTION_INPUTS = frozenset(
    name for function in VACE_FUNCTIONS.values() for name in (*function.required, *function.one_of, *function.optional)
)
VACE_FUNCTION_PARAMETERS = frozenset(name for function in VACE_FUNCTIONS.values() for name in function.parameters)


def fail(
    message: str, *, field: str, value: object = None, allowed: str | None = None, code: str = "InvalidParameter"
) -> NoReturn:
    """Raise the ValidationError every check uses; `code` is what the emulator answers with."""
    error = ValidationError(message, field=field, value=value, allowed=allowed)
    error.code = code
    raise error


def _join(values: Iterable[object]) -> str:
    return ", ".join(str(v) for v in values)


@dataclass(frozen=True)
class _Body:
    """The parts of a body every check needs."""

    spec: ModelSpec
    input: Mapping[str, Any]
    parameters: Mapping[str, Any]
    lenient: bool


def check_body(
    path: str,
    body: Mapping[str, Any],
    *,
    lenient: bool = False,
    allow_unknown_model: bool | None = None,
) -> ModelSpec | None:
    """Validate a submit body for `path`; return the model's spec, or None for an unknown model let through.

    Raises ValidationError naming the wire field, the value and what is allowed.
    """
    if not isinstance(body, Mapping):
        fail(
            "Required body invalid, please check the request body format.", field="body", code="BadRequest.IllegalInput"
        )
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        fail("Field required: model", field="model", value=model, code="BadRequest.EmptyModel")
    spec = get_model(model)
    if spec is None:
        if allow_unknown_model if allow_unknown_model is not None else not lenient:
            return None
        fail("Model not exist.", field="model", value=model)
    _check_endpoint(path, spec)
    inputs = body.get("input")
    if not isinstance(inputs, Mapping):
        fail("Field required: input", field="input", code="BadRequest.EmptyInput")
    parameters = body.get("parameters")
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, Mapping):
        fail("parameters must be a JSON object", field="parameters", value=parameters)
    checked = _Body(spec, inputs, parameters, lenient)
    for check in (_check_texts, _check_scalars, _check_resolution, _check_audio, _check_duration):
        check(checked)
    INPUT_CHECKS[(spec.mode, spec.protocol)](checked)
    return spec


def _check_endpoint(path: str, spec: ModelSpec) -> None:
    if not path.rstrip("/").endswith(spec.endpoint_path):
        fail(
            f"url error, please check url! {spec.id} is served at {spec.endpoint_path}, not {path}",
            field="path",
            value=path,
            allowed=spec.endpoint_path,
        )


# ---------------------------------------------------------------------------------------------
# Prompts and scalar parameters
# ---------------------------------------------------------------------------------------------


def _prompt_required(body: _Body) -> bool:
    if body.spec.prompt_required:
        return True
    function = VACE_FUNCTIONS.get(str(body.input.get("function")))
    return body.spec.protocol == "legacy" and function is not None and function.prompt_required


def _check_texts(body: _Body) -> None:
    spec = body.spec
    prompt = body.input.get("prompt")
    if prompt is not None and not isinstance(prompt, str):
        fail(f"input.prompt must be a string, not {type(prompt).__name__}", field="input.prompt", value=prompt)
    if not prompt and _prompt_required(body):
        fail(f"Field required: input.prompt ({spec.id} needs a prompt)", field="input.prompt", value=prompt)
    if prompt and len(prompt) > spec.prompt_max and not body.lenient:
        fail(
            f"input.prompt is {len(prompt)} characters; {spec.id} takes at most {spec.prompt_max} "
            "(the API would cut the rest silently)",
            field="input.prompt",
            value=len(prompt),
            allowed=f"<= {spec.prompt_max} characters",
        )
    negative = body.input.get("negative_prompt")
    if negative is not None and not isinstance(negative, str):
        fail("input.negative_prompt must be a string", field="input.negative_prompt", value=negative)
    if negative and len(negative) > spec.negative_prompt_max and not body.lenient:
        fail(
            f"input.negative_prompt is {len(negative)} characters; {spec.id} takes at most "
            f"{spec.negative_prompt_max} (the API would cut the rest silently)",
            field="input.negative_prompt",
            value=len(negative),
            allowed=f"<= {spec.negative_prompt_max} characters",
        )


def _check_bool(parameters: Mapping[str, Any], name: str) -> None:
    value = parameters.get(name)
    if value is not None and not isinstance(value, bool):
        fail(f"parameters.{name} must be true or false, not {value!r}", field=f"parameters.{name}", value=value)


def _check_scalars(body: _Body) -> None:
    spec, parameters = body.spec, body.parameters
    for name in ("watermark", "prompt_extend", "audio"):
        _check_bool(parameters, name)
    seed = parameters.get("seed")
    if seed is not None and (
        isinstance(seed, bool) or not isinstance(seed, int) or not SEED_RANGE[0] <= seed <= SEED_RANGE[1]
    ):
        fail(
            f"parameters.seed {seed!r} is not an integer in [{SEED_RANGE[0]}, {SEED_RANGE[1]}]",
            field="parameters.seed",
            value=seed,
            allowed=f"{SEED_RANGE[0]}-{SEED_RANGE[1]}",
        )
    if "prompt_extend" in parameters and not spec.prompt_extend and not body.lenient:
        fail(
            f"parameters.prompt_extend is not documented for {spec.id}; leave it out",
            field="parameters.prompt_extend",
            value=parameters["prompt_extend"],
        )
    shot_type = parameters.get("shot_type")
    if shot_type is not None:
        if not spec.shot_type:
            fail(
                f"parameters.shot_type is not accepted by {spec.id} (only wan2.6 t2v/i2v/r2v models take it)",
                field="parameters.shot_type",
                value=shot_type,
            )
        if shot_type not in SHOT_TYPES:
            fail(
                f"parameters.shot_type {shot_type!r} is not one of {_join(SHOT_TYPES)}",
                field="parameters.shot_type",
                value=shot_type,
                allowed=_join(SHOT_TYPES),
            )
    template = body.input.get("template")
    if template is not None and not spec.templates:
        fail(f"input.template is not accepted by {spec.id}", field="input.template", value=template)


# ---------------------------------------------------------------------------------------------
# Resolution fields
# ---------------------------------------------------------------------------------------------


def _takes(spec: ModelSpec) -> str:
    """What resolution fields a model takes, as wire names with their values."""
    if spec.resolution_field == "size":
        return f"parameters.size ({_join(spec.sizes)})"
    text = f"parameters.resolution ({_join(spec.resolutions)})"
    if spec.resolution_field == "resolution+ratio":
        text += f" and parameters.ratio ({_join(spec.ratios)})"
    return text


def _wrong_field(spec: ModelSpec, name: str, value: object, why: str = "") -> NoReturn:
    fail(
        f"parameters.{name} {value!r} is not accepted by {spec.id}: it takes {_takes(spec)}{why}",
        field=f"parameters.{name}",
        value=value,
        allowed=_takes(spec),
    )


def _check_choice(spec: ModelSpec, name: str, value: object, allowed: Sequence[str]) -> None:
    if value is not None and value not in allowed:
        fail(
            f"parameters.{name} {value!r} is not accepted by {spec.id}; allowed: {_join(allowed)}",
            field=f"parameters.{name}",
            value=value,
            allowed=_join(allowed),
        )


def _check_resolution(body: _Body) -> None:
    spec, parameters = body.spec, body.parameters
    size, resolution, ratio = (parameters.get(name) for name in ("size", "resolution", "ratio"))
    if spec.resolution_field == "size":
        for name, value in (("resolution", resolution), ("ratio", ratio)):
            if value is not None:
                _wrong_field(spec, name, value)
        _check_choice(spec, "size", size, spec.sizes)
        function = VACE_FUNCTIONS.get(str(body.input.get("function")))
        if size is not None and function is not None and not function.takes_size:
            fail(
                f"parameters.size is not used by the VACE function {function.name}: the output follows the "
                "input video (at most 720P)",
                field="parameters.size",
                value=size,
            )
        return
    if size is not None:
        _wrong_field(spec, "size", size)
    if ratio is not None and spec.resolution_field == "resolution":
        _wrong_field(spec, "ratio", ratio, " (the aspect ratio follows the input image)")
    _check_choice(spec, "resolution", resolution, spec.resolutions)
    # 21:9 appears in one Wan 3.0 doc version only: the client does not offer it, the emulator accepts it.
    lenient_ratios = ("21:9",) if body.lenient and spec.protocol == "wan3" else ()
    _check_choice(spec, "ratio", ratio, (*spec.ratios, *lenient_ratios))


# ---------------------------------------------------------------------------------------------
# Audio and duration
# ---------------------------------------------------------------------------------------------


def _check_audio(body: _Body) -> None:
    spec, parameters = body.spec, body.parameters
    audio = parameters.get("audio")
    if audio is True and spec.audio == "silent":
        fail(f"{spec.id} makes silent videos; parameters.audio cannot be true", field="parameters.audio", value=audio)
    if audio is False and spec.audio == "always":
        can = models_that_can_be_silent(spec.mode)
        fail(
            f"{spec.id} always makes sound; parameters.audio false is not accepted. "
            f"Silent {spec.mode} models: {_join(can) or 'none'}",
            field="parameters.audio",
            value=audio,
            allowed=_join(can),
        )
    if body.input.get("audio_url") is not None and not spec.audio_url:
        if spec.id.startswith("wan2.7-i2v"):
            hint = ": use an input.media item of type driving_audio"
        else:
            hint = " (only wan2.5/2.6/2.7 t2v and wan2.5/2.6 i2v models take a soundtrack)"
        fail(f"input.audio_url is not accepted by {spec.id}{hint}", field="input.audio_url", value="...")
    setting = parameters.get("audio_setting")
    if setting is not None:
        if not spec.audio_settings:
            fail(
                f"parameters.audio_setting is not accepted by {spec.id}",
                field="parameters.audio_setting",
                value=setting,
            )
        _check_choice(spec, "audio_setting", setting, spec.audio_settings)


def _has_reference_video(body: _Body) -> bool:
    media = body.input.get("media")
    if isinstance(media, list) and any(isinstance(m, Mapping) and m.get("type") == "reference_video" for m in media):
        return True
    urls = body.input.get("reference_urls")
    return isinstance(urls, list) and any(isinstance(u, str) and guess_kind(u) == "video" for u in urls)


def _check_duration(body: _Body) -> None:
    spec, rule = body.spec, body.spec.durations
    duration = body.parameters.get("duration")
    if duration is None:
        return
    if not rule.parameter:
        fail(
            f"parameters.duration is not accepted by {spec.id}: {rule.describe()}",
            field="parameters.duration",
            value=duration,
        )
    if isinstance(duration, bool) or not isinstance(duration, int) or not rule.allows(duration):
        fail(
            f"parameters.duration {duration!r} is not accepted by {spec.id}; allowed: {rule.describe()}",
            field="parameters.duration",
            value=duration,
            allowed=rule.describe(),
        )
    limit = spec.duration_max_with_reference_video
    if limit is not None and duration > limit and _has_reference_video(body):
        fail(
            f"parameters.duration {duration} is too long for {spec.id} with a reference video; "
            f"allowed: {rule.min}-{limit} s",
            field="parameters.duration",
            value=duration,
            allowed=f"{rule.min}-{limit} s",
        )


# ---------------------------------------------------------------------------------------------
# Inputs per mode and protocol
# ---------------------------------------------------------------------------------------------


def _check_url(field: str, value: object) -> None:
    if not isinstance(value, str) or not value.startswith(URL_PREFIXES):
        fail(
            f"{field} {value!r} is not a URL (http(s)://, oss:// or data:)",
            field=field,
            value=value,
            allowed="http(s)://, oss://, data:",
            code="InvalidURL" if isinstance(value, str) else "InvalidParameter",
        )


def _check_url_fields(body: _Body) -> None:
    for name in URL_FIELDS:
        if body.input.get(name) is not None:
            _check_url(f"input.{name}", body.input[name])
    for name in URL_LIST_FIELDS:
        values = body.input.get(name)
        if values is None:
            continue
        if not isinstance(values, list):
            fail(f"input.{name} must be a list of URLs", field=f"input.{name}", value=values)
        for index, value in enumerate(values):
            _check_url(f"input.{name}[{index}]", value)


def _require(body: _Body, name: str) -> None:
    if not body.input.get(name):
        fail(f"Field required: input.{name} ({body.spec.id})", field=f"input.{name}")


def _check_t2v(body: _Body) -> None:
    _check_url_fields(body)


def _check_i2v_legacy(body: _Body) -> None:
    _check_url_fields(body)
    _require(body, "img_url")


def _check_kf2v(body: _Body) -> None:
    _check_url_fields(body)
    _require(body, "first_frame_url")
    if not body.input.get("last_frame_url") and not body.input.get("template") and not body.lenient:
        fail(
            f"Field required: input.last_frame_url ({body.spec.id} needs a last frame unless a template is used)",
            field="input.last_frame_url",
        )


def _check_r2v_legacy(body: _Body) -> None:
    _check_url_fields(body)
    spec, limits = body.spec, body.spec.limits.references
    assert limits is not None  # every r2v model has reference limits
    deprecated = body.input.get("reference_video_urls") or []
    if deprecated and not body.lenient:
        fail(
            "input.reference_video_urls is deprecated; put videos in input.reference_urls",
            field="input.reference_video_urls",
            value=len(deprecated),
        )
    urls = list(body.input.get("reference_urls") or [])
    if not urls and not deprecated:
        fail(
            f"Field required: input.reference_urls ({spec.id} needs 1-{limits.max_total} references)",
            field="input.reference_urls",
        )
    videos = sum(1 for url in urls if guess_kind(url) == "video") + len(deprecated)
    images = len(urls) + len(deprecated) - videos
    _check_reference_counts(spec.id, "input.reference_urls", images, videos, body)


def _check_reference_counts(model: str, field: str, images: int, videos: int, body: _Body) -> None:
    limits = body.spec.limits.references
    assert limits is not None
    max_total = (limits.lenient_max_total or limits.max_total) if body.lenient else limits.max_total
    # VACE: the API ignores reference images beyond the third, so the lenient reading lifts that cap too.
    max_images = limits.lenient_max_total if body.lenient and limits.lenient_max_total else limits.max_images
    allowed = f"images <= {max_images}, videos <= {limits.max_videos}, together {limits.min_total}-{max_total}"
    if images > max_images or videos > limits.max_videos or not limits.min_total <= images + videos <= max_total:
        fail(
            f"{field}: {images} image(s) and {videos} video(s) are not accepted by {model}; allowed: {allowed}",
            field=field,
            value=images + videos,
            allowed=allowed,
        )


def _media_items(body: _Body, allowed_types: Sequence[str]) -> list[Mapping[str, Any]]:
    media = body.input.get("media")
    if not isinstance(media, list):
        fail(
            f"input.media must be a list of {{type, url}} objects for {body.spec.id}", field="input.media", value=media
        )
    for index, item in enumerate(media):
        field = f"input.media[{index}]"
        if not isinstance(item, Mapping):
            fail(f"{field} must be an object {{type, url}}", field=field, value=item)
        if item.get("type") not in allowed_types:
            fail(
                f"{field}.type {item.get('type')!r} is not accepted by {body.spec.id}; allowed: {_join(allowed_types)}",
                field=f"{field}.type",
                value=item.get("type"),
                allowed=_join(allowed_types),
            )
        _check_url(f"{field}.url", item.get("url"))
    return media


def _combo_text(combo: frozenset[str]) -> str:
    return "+".join(t for t in WAN27_I2V_MEDIA_TYPES if t in combo)


def _check_i2v_media(body: _Body) -> None:
    if body.input.get("media") is None and body.lenient:
        return  # the API accepts the task, then it FAILS: see deferred_failure()
    if not body.input.get("media"):
        fail(f"Field required: input.media ({body.spec.id})", field="input.media")
    items = _media_items(body, body.spec.media_types or WAN27_I2V_MEDIA_TYPES)
    types = [str(item["type"]) for item in items]
    combos = WAN27_I2V_COMBINATIONS + (WAN27_I2V_LENIENT_COMBINATIONS if body.lenient else ())
    allowed = " | ".join(_combo_text(c) for c in WAN27_I2V_COMBINATIONS)
    if len(types) != len(set(types)) or frozenset(types) not in combos:
        fail(
            f"input.media types {'+'.join(types)} are not a combination {body.spec.id} accepts; allowed: {allowed}",
            field="input.media",
            value="+".join(types),
            allowed=allowed,
        )


def _check_r2v_media(body: _Body) -> None:
    if not body.input.get("media"):
        fail(f"Field required: input.media ({body.spec.id} needs reference images or videos)", field="input.media")
    items = _media_items(body, body.spec.media_types or WAN27_R2V_MEDIA_TYPES)
    types = [item["type"] for item in items]
    if types.count("first_frame") > 1:
        fail("input.media: at most one first_frame", field="input.media", value=types.count("first_frame"))
    for index, item in enumerate(items):
        voice = item.get("reference_voice")
        if voice is None:
            continue
        if body.spec.limits.voice is None:
            fail(
                f"input.media[{index}].reference_voice is not accepted by {body.spec.id}",
                field=f"input.media[{index}].reference_voice",
            )
        if item["type"] == "first_frame":
            fail(
                f"input.media[{index}].reference_voice belongs on a reference item, not the first frame",
                field=f"input.media[{index}].reference_voice",
            )
        _check_url(f"input.media[{index}].reference_voice", voice)
    _check_reference_counts(
        body.spec.id, "input.media", types.count("reference_image"), types.count("reference_video"), body
    )


def _check_videoedit(body: _Body) -> None:
    if not body.input.get("media"):
        fail(f"Field required: input.media ({body.spec.id} needs one video)", field="input.media")
    items = _media_items(body, body.spec.media_types or WAN27_EDIT_MEDIA_TYPES)
    types = [item["type"] for item in items]
    if types.count("video") != 1:
        fail(
            f"input.media must hold exactly one item of type video for {body.spec.id}, not {types.count('video')}",
            field="input.media",
            value=types.count("video"),
            allowed="1",
        )
    _check_reference_counts(body.spec.id, "input.media", types.count("reference_image"), 0, body)


def _check_vace(body: _Body) -> None:
    spec, inputs, parameters = body.spec, body.input, body.parameters
    name = inputs.get("function")
    function = VACE_FUNCTIONS.get(str(name))
    if function is None:
        what = "Field required: input.function" if name in (None, SDK_ROUTING_FUNCTION) else f"input.function {name!r}"
        fail(
            f"{what}: {spec.id} takes one of {_join(VACE_FUNCTIONS)}",
            field="input.function",
            value=name,
            allowed=_join(VACE_FUNCTIONS),
        )
    _check_url_fields(body)
    for required in function.required:
        if not inputs.get(required):
            fail(f"Field required: input.{required} (VACE {function.name})", field=f"input.{required}")
    given = [field for field in function.one_of if inputs.get(field)]
    if function.one_of and (not given or (function.exactly_one and len(given) > 1)):
        how = "exactly one" if function.exactly_one else "at least one"
        fail(
            f"VACE {function.name} needs {how} of {_join('input.' + f for f in function.one_of)}",
            field="input." + function.one_of[0],
            value=_join(given) or None,
            allowed=_join(function.one_of),
        )
    own_inputs = {*function.required, *function.one_of, *function.optional}
    for field in sorted(VACE_FUNCTION_INPUTS - own_inputs):
        if inputs.get(field) is not None:
            fail(f"input.{field} is not used by VACE {function.name}", field=f"input.{field}")
    for field in sorted(VACE_FUNCTION_PARAMETERS - {*function.parameters, *VACE_COMMON_PARAMETERS}):
        if parameters.get(field) is not None and field != "size":  # size: reported by _check_resolution
            fail(f"parameters.{field} is not used by VACE {function.name}", field=f"parameters.{field}")
    _check_vace_values(body, function.name)


def _check_range(parameters: Mapping[str, Any], name: str, bounds: tuple[float, float]) -> None:
    value = parameters.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not bounds[0] <= value <= bounds[1]:
        fail(
            f"parameters.{name} {value!r} is not a number in [{bounds[0]}, {bounds[1]}]",
            field=f"parameters.{name}",
            value=value,
            allowed=f"{bounds[0]}-{bounds[1]}",
        )


def _check_vace_values(body: _Body, function: str) -> None:
    spec, inputs, parameters = body.spec, body.input, body.parameters
    refs = inputs.get("ref_images_url") or []
    if function == "image_reference" or refs:
        _check_reference_counts(spec.id, "input.ref_images_url", len(refs), 0, body)
    obj_or_bg = parameters.get("obj_or_bg")
    if obj_or_bg is not None:
        if not isinstance(obj_or_bg, list) or len(obj_or_bg) != len(refs):
            fail(
                "ref_images_url and obj_or_bg must be the same length.",
                field="parameters.obj_or_bg",
                value=obj_or_bg,
                allowed=f"{len(refs)} items of {_join(VACE_OBJ_OR_BG)}",
            )
        for item in obj_or_bg:
            if item not in VACE_OBJ_OR_BG:
                fail(
                    f"parameters.obj_or_bg item {item!r} is not obj or bg",
                    field="parameters.obj_or_bg",
                    value=item,
                    allowed=_join(VACE_OBJ_OR_BG),
                )
    conditions = VACE_EDIT_CONTROL_CONDITIONS if function == "video_edit" else VACE_CONTROL_CONDITIONS
    _check_choice(spec, "control_condition", parameters.get("control_condition"), conditions)
    _check_choice(spec, "mask_type", parameters.get("mask_type"), VACE_MASK_TYPES)
    _check_choice(spec, "expand_mode", parameters.get("expand_mode"), VACE_EXPAND_MODES)
    for name in ("strength", "expand_ratio"):
        _check_range(parameters, name, VACE_UNIT_RANGE)
    for name in ("top_scale", "bottom_scale", "left_scale", "right_scale"):
        _check_range(parameters, name, VACE_SCALE_RANGE)
    frame = inputs.get("mask_frame_id")
    if frame is not None and (isinstance(frame, bool) or not isinstance(frame, int) or frame < 1):
        fail(
            f"input.mask_frame_id {frame!r} is not a frame number (1 or more)",
            field="input.mask_frame_id",
            value=frame,
            allowed=">= 1",
        )


def _check_wan3(body: _Body) -> None:
    from qwenvid.requests.wan3 import check_media

    check_media(body.spec, body.input, body.parameters, body.lenient)


def _check_s2v(body: _Body) -> None:
    from qwenvid.requests.performers import check_s2v

    check_s2v(body.spec, body.input, body.parameters, body.lenient)


def _check_animate(body: _Body) -> None:
    from qwenvid.requests.performers import check_animate

    check_animate(body.spec, body.input, body.parameters, body.lenient)


INPUT_CHECKS = {
    ("t2v", "wan3"): _check_wan3,
    ("s2v", "legacy"): _check_s2v,
    ("animate", "legacy"): _check_animate,
    ("t2v", "legacy"): _check_t2v,
    ("t2v", "media"): _check_t2v,
    ("i2v", "legacy"): _check_i2v_legacy,
    ("i2v", "media"): _check_i2v_media,
    ("kf2v", "legacy"): _check_kf2v,
    ("r2v", "legacy"): _check_r2v_legacy,
    ("r2v", "media"): _check_r2v_media,
    ("vace", "legacy"): _check_vace,
    ("vace", "media"): _check_videoedit,
}


# ---------------------------------------------------------------------------------------------
# Helpers for the emulator's lenient reading
# ---------------------------------------------------------------------------------------------


def truncate_text_fields(body: Mapping[str, Any], spec: ModelSpec) -> dict[str, Any]:
    """A copy of `body` with prompt and negative_prompt cut to the model's limits, as the API does."""
    inputs = dict(body.get("input") or {})
    for name, limit in (("prompt", spec.prompt_max), ("negative_prompt", spec.negative_prompt_max)):
        if isinstance(inputs.get(name), str):
            inputs[name] = inputs[name][:limit]
    return {**body, "input": inputs}


def deferred_failure(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """(code, message) for a body the API accepts but whose task then FAILS (dashscope-api.md §2.6)."""
    spec = get_model(str(body.get("model", "")))
    inputs = body.get("input") or {}
    if spec is not None and spec.mode == "i2v" and spec.protocol == "media" and not inputs.get("media"):
        return ("InvalidParameter", "Field required: input.media")
    if spec is not None and spec.protocol == "wan3":
        from qwenvid.requests.wan3 import frames_mixed

        if frames_mixed(inputs):
            return ("InvalidParameter", WAN3_MODES_EXCLUSIVE)
    return None
