"""Typed generation requests per mode, their validation in CLI terms, and the exact wire payload per model."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Literal

from qwenvid.catalogue import (
    DEFAULT_MODELS,
    INSTRUCT,
    PATHS,
    SEED_RANGE,
    SHOT_TYPES,
    VACE_COMMON_PARAMETERS,
    VACE_FUNCTION_ALIASES,
    VACE_FUNCTIONS,
    WAN27_I2V_COMBINATIONS,
    AudioLimits,
    ImageLimits,
    MediaKind,
    Mode,
    ModelSpec,
    VideoLimits,
    canonical_vace_function,
    default_instruct_model,
    get_model,
    guess_kind,
    models_for_mode,
    models_that_can_be_silent,
)
from qwenvid.errors import ValidationError
from qwenvid.requests.fields import check_request_fields, check_skill_json
from qwenvid.requests.validation import URL_PREFIXES, check_body
from qwenvid.requests.wan3_docs import check_doc_link, media_items

# ---------------------------------------------------------------------------------------------
# Request types
# ---------------------------------------------------------------------------------------------


@dataclass
class BaseRequest:
    """Options every generation shares. Input fields hold a local path or a URL (http(s)://, oss://, data:).

    `model` left empty becomes the mode's default model. None everywhere else means "not given":
    build_payload then sends the catalogue default where the model has one (duration, size/resolution).
    """

    mode: ClassVar[Mode]
    prompt: str | None = None
    model: str = ""
    negative_prompt: str | None = None
    duration: int | None = None
    size: str | None = None
    resolution: str | None = None
    ratio: str | None = None
    seed: int | None = None
    prompt_extend: bool | None = None
    watermark: bool | None = None
    audio: bool | None = None
    audio_file: str | None = None
    shot_type: str | None = None
    doc: str | None = None  # Wan 3.0 only: a document (local path or URL), sent as a `file` media item
    link: str | None = None  # Wan 3.0 only: a public web page, sent as a `link` media item

    def __post_init__(self) -> None:
        self.model = (self.model or "").strip() or self.default_model()
        # One rule for every entry point (flags, request JSON, wizard, library): blank text is no text.
        if isinstance(self.prompt, str) and not self.prompt.strip():
            self.prompt = None
        if isinstance(self.negative_prompt, str) and not self.negative_prompt.strip():
            self.negative_prompt = None
        if isinstance(self.resolution, str):
            self.resolution = self.resolution.strip().upper()
        if isinstance(self.size, str):
            self.size = self.size.strip().replace("x", "*").replace("X", "*")

    def default_model(self) -> str:
        return DEFAULT_MODELS[self.mode]


@dataclass
class T2VRequest(BaseRequest):
    mode: ClassVar[Mode] = "t2v"


@dataclass
class I2VRequest(BaseRequest):
    """First frame (`image`); wan2.7-i2v also last frame, continuation clip, driving audio."""

    mode: ClassVar[Mode] = "i2v"
    image: str | None = None
    last_frame: str | None = None
    clip: str | None = None
    driving_audio: str | None = None
    template: str | None = None


@dataclass
class KF2VRequest(BaseRequest):
    mode: ClassVar[Mode] = "kf2v"
    first_frame: str | None = None
    last_frame: str | None = None
    template: str | None = None


@dataclass
class R2VRequest(BaseRequest):
    """References (images and videos, told apart by their extension); wan2.7-r2v adds voices and a first frame."""

    mode: ClassVar[Mode] = "r2v"
    refs: list[str] = field(default_factory=list)
    ref_voices: list[str | None] = field(default_factory=list)  # wan2.7-r2v: voice of refs[i]
    first_frame: str | None = None


@dataclass
class VaceRequest(BaseRequest):
    """wan2.1-vace-plus: one of five functions (aliases accepted); "instruct" routes to wan2.7-videoedit."""

    mode: ClassVar[Mode] = "vace"
    function: str = ""
    video: str | None = None
    mask_image: str | None = None
    mask_video: str | None = None
    mask_frame_id: int | None = None
    ref_images: list[str] = field(default_factory=list)
    obj_or_bg: list[str] = field(default_factory=list)
    first_clip: str | None = None
    last_clip: str | None = None
    first_frame: str | None = None
    last_frame: str | None = None
    control_condition: str | None = None
    strength: float | None = None
    mask_type: str | None = None
    expand_ratio: float | None = None
    expand_mode: str | None = None
    top_scale: float | None = None
    bottom_scale: float | None = None
    left_scale: float | None = None
    right_scale: float | None = None
    audio_setting: str | None = None  # only meaningful for "instruct" (wan2.7-videoedit)

    def __post_init__(self) -> None:
        self.function = canonical_vace_function(self.function) or self.function
        super().__post_init__()

    def default_model(self) -> str:
        return default_instruct_model() if self.function == INSTRUCT else DEFAULT_MODELS["vace"]


@dataclass
class VideoEditRequest(BaseRequest):
    """wan2.7-videoedit: edit a video by instruction, optionally guided by reference images (vace "instruct")."""

    mode: ClassVar[Mode] = "vace"
    function: ClassVar[str] = INSTRUCT
    video: str | None = None
    ref_images: list[str] = field(default_factory=list)
    audio_setting: str | None = None

    def default_model(self) -> str:
        return default_instruct_model()


Request = T2VRequest | I2VRequest | KF2VRequest | R2VRequest | VaceRequest | VideoEditRequest

REQUEST_TYPES: dict[Mode, type[BaseRequest]] = {
    "t2v": T2VRequest,
    "i2v": I2VRequest,
    "kf2v": KF2VRequest,
    "r2v": R2VRequest,
    "vace": VaceRequest,
}


def as_video_edit(req: VaceRequest) -> VideoEditRequest:
    """A `vace instruct` request as the wan2.7-videoedit request it is."""
    common = {f.name: getattr(req, f.name) for f in fields(BaseRequest)}
    return VideoEditRequest(**common, video=req.video, ref_images=list(req.ref_images), audio_setting=req.audio_setting)


def _normalized(req: BaseRequest) -> BaseRequest:
    if isinstance(req, VaceRequest) and req.function == INSTRUCT:
        return as_video_edit(req)
    return req


# ---------------------------------------------------------------------------------------------
# Option names (CLI terms used in validate_request messages)
# ---------------------------------------------------------------------------------------------

OPTION_NAMES: dict[str, str] = {
    "prompt": "the prompt",
    "refs": "--ref",
    "ref_voices": "--ref-voice",
    "ref_images": "--ref-image",
    "mask_frame_id": "--mask-frame",
    "audio": "--audio/--no-audio",
    "prompt_extend": "--prompt-extend/--no-prompt-extend",
    "function": "the VACE function",
}


def option(name: str) -> str:
    """The CLI option that sets a request field: 'audio_file' -> '--audio-file'."""
    return OPTION_NAMES.get(name, "--" + name.replace("_", "-"))


def _join(values: Any) -> str:
    return ", ".join(str(v) for v in values)


def _error(message: str, name: str, value: object = None, allowed: str | None = None) -> ValidationError:
    return ValidationError(message, field=option(name), value=value, allowed=allowed)


# ---------------------------------------------------------------------------------------------
# Inputs: URLs, local files, slots
# ---------------------------------------------------------------------------------------------


def is_url(value: str) -> bool:
    return value.startswith(URL_PREFIXES)


@dataclass(frozen=True)
class LocalInput:
    """A local file a request will upload: the wire field it fills, its path, kind and size in bytes."""

    field: str
    path: str
    kind: MediaKind | Literal["document"]
    size: int
    option: str = ""  # the CLI option it came from, for messages


@dataclass(frozen=True)
class _Slot:
    """One input of a request: request field, wire field, kind, and the limits slot of the catalogue."""

    attr: str  # request field name ("refs" for lists)
    wire: str  # wire field: "img_url", "reference_urls", "media.first_frame", ...
    kind: MediaKind
    limits: str  # InputLimits attribute: image, video, clip, audio, voice, reference_video
    value: str


def _slots(req: BaseRequest, spec: ModelSpec | None) -> Iterator[_Slot]:
    """Every input of the request (URLs and local paths) with what it fills."""
    if spec is not None and spec.protocol == "wan3":
        yield from _wan3_slots(req)
        return
    own_slots = getattr(req, "input_slots", None)
    if own_slots is not None:  # s2v / animate requests (performer_requests.py) name their own inputs
        for attr, wire, kind, slot, value in own_slots():
            yield _Slot(attr, wire, kind, slot, value)
        return
    media = spec.protocol == "media" if spec else req.model.startswith("wan2.7")
    if req.audio_file:
        yield _Slot("audio_file", "audio_url", "audio", "audio", req.audio_file)
    if isinstance(req, I2VRequest):
        first = "media.first_frame" if media else "img_url"
        for attr, wire, kind, slot in (
            ("image", first, "image", "image"),
            ("last_frame", "media.last_frame", "image", "image"),
            ("driving_audio", "media.driving_audio", "audio", "audio"),
            ("clip", "media.first_clip", "video", "clip"),
        ):
            if getattr(req, attr):
                yield _Slot(attr, wire, kind, slot, getattr(req, attr))  # type: ignore[arg-type]
    elif isinstance(req, KF2VRequest):
        for attr in ("first_frame", "last_frame"):
            if getattr(req, attr):
                yield _Slot(attr, f"{attr}_url", "image", "image", getattr(req, attr))
    elif isinstance(req, R2VRequest):
        for index, ref in enumerate(req.refs):
            kind = guess_kind(ref)
            slot = "reference_video" if kind == "video" else "image"
            wire = f"media.reference_{kind}" if media else "reference_urls"
            yield _Slot("refs", wire, kind, slot, ref)
            voice = req.ref_voices[index] if index < len(req.ref_voices) else None
            if voice:
                yield _Slot("ref_voices", "media.reference_voice", "audio", "voice", voice)
        if req.first_frame:
            yield _Slot("first_frame", "media.first_frame", "image", "image", req.first_frame)
    elif isinstance(req, VideoEditRequest):
        if req.video:
            yield _Slot("video", "media.video", "video", "video", req.video)
        for ref in req.ref_images:
            yield _Slot("ref_images", "media.reference_image", "image", "image", ref)
    elif isinstance(req, VaceRequest):
        for attr, kind, slot in (
            ("video", "video", "video"),
            ("mask_image", "image", "image"),
            ("mask_video", "video", "video"),
            ("first_clip", "video", "clip"),
            ("last_clip", "video", "clip"),
            ("first_frame", "image", "image"),
            ("last_frame", "image", "image"),
        ):
            if getattr(req, attr):
                yield _Slot(attr, f"{attr}_url", kind, slot, getattr(req, attr))  # type: ignore[arg-type]
        for ref in req.ref_images:
            yield _Slot("ref_images", "ref_images_url", "image", "image", ref)


def input_slots(req: BaseRequest) -> list[tuple[str, str, MediaKind, Any]]:
    """Every input of the request as (option, value, kind, the model's limits for it or None)."""
    req = _normalized(req)
    spec = get_model(req.model)
    return [
        (option(slot.attr), slot.value, slot.kind, getattr(spec.limits, slot.limits) if spec else None)
        for slot in _slots(req, spec)
    ]


_WAN3_SLOT = {"image": "image", "video": "reference_video", "audio": "audio"}


def _wan3_slots(req: BaseRequest) -> Iterator[_Slot]:
    """Wan 3.0 takes every input as an `input.media[]` item (dashscope-api-2026.md §1.2): frames as
    first_frame / last_frame, everything else as references; a voice is a reference_audio item of its
    own, as Alibaba's CLI sends it; the clip to continue or the video to edit is a reference_video."""

    def item(attr: str, wire_type: str, value: str | None) -> Iterator[_Slot]:
        if value:
            kind: MediaKind = "image" if wire_type in ("first_frame", "last_frame") else guess_kind(value)
            if wire_type.startswith("reference_") and wire_type != "reference_" + kind:
                wire_type = "reference_" + kind
            yield _Slot(attr, f"media.{wire_type}", kind, _WAN3_SLOT[kind], value)

    if isinstance(req, I2VRequest):
        yield from item("image", "first_frame", req.image)
        yield from item("last_frame", "last_frame", req.last_frame)
        yield from item("clip", "reference_video", req.clip)
        yield from item("driving_audio", "reference_audio", req.driving_audio)
    elif isinstance(req, KF2VRequest):
        yield from item("first_frame", "first_frame", req.first_frame)
        yield from item("last_frame", "last_frame", req.last_frame)
    elif isinstance(req, R2VRequest):
        for ref in req.refs:
            yield from item("refs", "reference_" + guess_kind(ref), ref)
        for voice in req.ref_voices:
            yield from item("ref_voices", "reference_audio", voice)
        yield from item("first_frame", "first_frame", req.first_frame)
    elif isinstance(req, VideoEditRequest):
        yield from item("video", "reference_video", req.video)
        for ref in req.ref_images:
            yield from item("ref_images", "reference_image", ref)
    if req.audio_file:
        yield from item("audio_file", "reference_audio", req.audio_file)


def _build_wan3(req: BaseRequest, spec: ModelSpec | None, url: _Urls) -> tuple[dict[str, Any], dict[str, Any]]:
    inputs = _texts(req)
    media: list[dict[str, Any]] = [
        {"type": slot.wire.removeprefix("media."), "url": url(slot.value)} for slot in _wan3_slots(req)
    ]
    media += media_items(req, url)
    if media:
        inputs["media"] = media
    params = _common_parameters(req, spec)
    _put(params, "audio_setting", getattr(req, "audio_setting", None))
    return inputs, params


def local_inputs(req: BaseRequest) -> list[LocalInput]:
    """Local files the request would upload, each listed once (a missing file has size -1)."""
    req = _normalized(req)
    seen: set[str] = set()
    found: list[LocalInput] = []
    for slot in _slots(req, get_model(req.model)):
        if is_url(slot.value) or slot.value in seen:
            continue
        seen.add(slot.value)
        path = Path(slot.value).expanduser()
        size = path.stat().st_size if path.is_file() else -1
        found.append(LocalInput(slot.wire, slot.value, slot.kind, size, option(slot.attr)))
    doc = getattr(req, "doc", None)
    if doc and not is_url(doc) and doc not in seen:
        path = Path(doc).expanduser()
        found.append(LocalInput("media.file", doc, "document", path.stat().st_size if path.is_file() else -1, "--doc"))
    return found


# ---------------------------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    """What goes on the wire: endpoint path (relative to the API base), JSON body, and whether the
    body holds `oss://` URLs (then the `X-DashScope-OssResourceResolve: enable` header is needed)."""

    endpoint_path: str
    body: dict[str, Any]
    oss_resolve: bool


def _has_oss(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith("oss://")
    if isinstance(value, Mapping):
        return any(_has_oss(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_oss(v) for v in value)
    return False


def _put(target: dict[str, Any], name: str, value: Any) -> None:
    if value is not None:
        target[name] = value


def _resolution_parameters(req: BaseRequest, spec: ModelSpec | None, *, takes_size: bool = True) -> dict[str, Any]:
    """size / resolution / ratio: the model's own field with its default, plus whatever the user set
    (a wrong field stays in the body so that check_body names it)."""
    params: dict[str, Any] = {}
    kind = spec.resolution_field if spec else None
    if kind == "size" and spec is not None:
        _put(params, "size", req.size or (spec.default_size if takes_size else None))
    else:
        _put(params, "size", req.size)
    if kind in ("resolution", "resolution+ratio") and spec is not None:
        _put(params, "resolution", req.resolution or spec.default_resolution)
    else:
        _put(params, "resolution", req.resolution)
    if kind == "resolution+ratio" and spec is not None:
        _put(params, "ratio", req.ratio or spec.default_ratio)
    else:
        _put(params, "ratio", req.ratio)
    return params


def _common_parameters(req: BaseRequest, spec: ModelSpec | None, *, takes_size: bool = True) -> dict[str, Any]:
    params = _resolution_parameters(req, spec, takes_size=takes_size)
    rule = spec.durations if spec else None
    if rule is not None and rule.parameter:
        params["duration"] = rule.default if req.duration is None else req.duration
    else:
        _put(params, "duration", req.duration)
    _put(params, "prompt_extend", req.prompt_extend)
    _put(params, "shot_type", req.shot_type)
    _put(params, "watermark", req.watermark)
    _put(params, "seed", req.seed)
    if spec is not None and spec.audio == "toggle":
        params["audio"] = True if req.audio is None else req.audio
    elif req.audio is not None and (spec is None or req.audio != spec.has_audio_by_default):
        params["audio"] = req.audio  # a request the model cannot honour; check_body names it
    return params


def _texts(req: BaseRequest) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    if req.prompt:
        inputs["prompt"] = req.prompt
    _put(inputs, "negative_prompt", req.negative_prompt)
    return inputs


class _Urls:
    """Maps local paths to their uploaded `oss://` URLs; URLs pass through."""

    def __init__(self, uploaded: Mapping[str, str]) -> None:
        self.uploaded = uploaded

    def __call__(self, value: str | None) -> str | None:
        return None if value is None else self.uploaded.get(value, value)


def _build_t2v(req: BaseRequest, spec: ModelSpec | None, url: _Urls) -> tuple[dict[str, Any], dict[str, Any]]:
    inputs = _texts(req)
    _put(inputs, "audio_url", url(req.audio_file))
    return inputs, _common_parameters(req, spec)


def _build_i2v_legacy(req: I2VRequest, spec: ModelSpec | None, url: _Urls) -> tuple[dict[str, Any], dict[str, Any]]:
    inputs = _texts(req)
    _put(inputs, "img_url", url(req.image))
    _put(inputs, "audio_url", url(req.audio_file))
    _put(inputs, "template", req.template)
    return inputs, _common_parameters(req, spec)


def _build_i2v_media(req: I2VRequest, spec: ModelSpec | None, url: _Urls) -> tuple[dict[str, Any], dict[str, Any]]:
    media = [
        {"type": kind, "url": url(value)}
        for kind, value in (
            ("first_frame", req.image),
            ("last_frame", req.last_frame),
            ("driving_audio", req.driving_audio),
            ("first_clip", req.clip),
        )
        if value
    ]
    inputs = _texts(req)
    if media:
        inputs["media"] = media
    _put(inputs, "audio_url", url(req.audio_file))
    return inputs, _common_parameters(req, spec)


def _build_kf2v(req: KF2VRequest, spec: ModelSpec | None, url: _Urls) -> tuple[dict[str, Any], dict[str, Any]]:
    inputs = _texts(req)
    _put(inputs, "first_frame_url", url(req.first_frame))
    _put(inputs, "last_frame_url", url(req.last_frame))
    _put(inputs, "template", req.template)
    _put(inputs, "audio_url", url(req.audio_file))
    return inputs, _common_parameters(req, spec)


def _build_r2v_legacy(req: R2VRequest, spec: ModelSpec | None, url: _Urls) -> tuple[dict[str, Any], dict[str, Any]]:
    inputs = _texts(req)
    inputs["reference_urls"] = [url(ref) for ref in req.refs]
    _put(inputs, "audio_url", url(req.audio_file))
    return inputs, _common_parameters(req, spec)


def _build_r2v_media(req: R2VRequest, spec: ModelSpec | None, url: _Urls) -> tuple[dict[str, Any], dict[str, Any]]:
    media: list[dict[str, Any]] = []
    for index, ref in enumerate(req.refs):
        item: dict[str, Any] = {"type": f"reference_{'video' if guess_kind(ref) == 'video' else 'image'}"}
        item["url"] = url(ref)
        voice = req.ref_voices[index] if index < len(req.ref_voices) else None
        _put(item, "reference_voice", url(voice))
        media.append(item)
    if req.first_frame:
        media.append({"type": "first_frame", "url": url(req.first_frame)})
    inputs = _texts(req)
    inputs["media"] = media
    _put(inputs, "audio_url", url(req.audio_file))
    return inputs, _common_parameters(req, spec)


def _build_vace(req: VaceRequest, spec: ModelSpec | None, url: _Urls) -> tuple[dict[str, Any], dict[str, Any]]:
    # Placement as the skill's build_vace_payload and the [D-EDIT] examples: URLs and mask_frame_id in
    # `input`; obj_or_bg, control_condition, strength, mask_type, expand_ratio, *_scale, size in `parameters`.
    inputs: dict[str, Any] = {"function": req.function}
    inputs.update(_texts(req))
    for attr in ("video", "mask_image", "mask_video", "first_clip", "last_clip", "first_frame", "last_frame"):
        _put(inputs, f"{attr}_url", url(getattr(req, attr)))
    if req.ref_images:
        inputs["ref_images_url"] = [url(ref) for ref in req.ref_images]
    _put(inputs, "mask_frame_id", req.mask_frame_id)
    _put(inputs, "audio_url", url(req.audio_file))
    function = VACE_FUNCTIONS.get(req.function)
    params = _common_parameters(req, spec, takes_size=function is not None and function.takes_size)
    if req.obj_or_bg:
        params["obj_or_bg"] = list(req.obj_or_bg)
    for name in (
        "control_condition",
        "strength",
        "mask_type",
        "expand_ratio",
        "expand_mode",
        "top_scale",
        "bottom_scale",
        "left_scale",
        "right_scale",
    ):
        _put(params, name, getattr(req, name))
    _put(params, "audio_setting", req.audio_setting)
    return inputs, params


def _build_videoedit(
    req: VideoEditRequest, spec: ModelSpec | None, url: _Urls
) -> tuple[dict[str, Any], dict[str, Any]]:
    media: list[dict[str, Any]] = []
    if req.video:
        media.append({"type": "video", "url": url(req.video)})
    media.extend({"type": "reference_image", "url": url(ref)} for ref in req.ref_images)
    inputs = _texts(req)
    inputs["media"] = media
    _put(inputs, "audio_url", url(req.audio_file))
    params = _common_parameters(req, spec)
    _put(params, "audio_setting", req.audio_setting)
    return inputs, params


def _protocol(req: BaseRequest, spec: ModelSpec | None) -> str:
    if spec is not None:
        return spec.protocol
    # Unknown model: the protocol its name implies (wan2.7 = media), the endpoint its mode implies.
    return "media" if req.model.startswith("wan2.7") else "legacy"


def build_payload(req: BaseRequest, uploaded: Mapping[str, str] | None = None) -> Payload:
    """The exact submit body and endpoint for the request; `uploaded` maps local paths to `oss://` URLs.

    Defaults are always explicit (duration, size or resolution) so the cost notice is exact. A field
    the model does not take is still placed if the user set it, so that check_body can say so.
    """
    req = _normalized(req)
    spec = get_model(req.model)
    url = _Urls(uploaded or {})
    protocol = _protocol(req, spec)
    own_parts = getattr(req, "wire_parts", None)
    if own_parts is not None:  # s2v / animate requests build their own (small) bodies
        inputs, params = own_parts(spec, url)
    elif protocol == "wan3":
        inputs, params = _build_wan3(req, spec, url)
    elif isinstance(req, VideoEditRequest):
        inputs, params = _build_videoedit(req, spec, url)
    elif isinstance(req, VaceRequest):
        inputs, params = _build_vace(req, spec, url)
    elif isinstance(req, I2VRequest):
        builder = _build_i2v_media if protocol == "media" else _build_i2v_legacy
        inputs, params = builder(req, spec, url)
    elif isinstance(req, KF2VRequest):
        inputs, params = _build_kf2v(req, spec, url)
    elif isinstance(req, R2VRequest):
        r2v_builder = _build_r2v_media if protocol == "media" else _build_r2v_legacy
        inputs, params = r2v_builder(req, spec, url)
    else:
        inputs, params = _build_t2v(req, spec, url)
    body = {"model": req.model, "input": inputs, "parameters": params}
    path = spec.endpoint_path if spec else PATHS["image2video" if req.mode == "kf2v" else "video-generation"]
    return Payload(endpoint_path=path, body=body, oss_resolve=_has_oss(body))


# ---------------------------------------------------------------------------------------------
# Validation in CLI terms
# ---------------------------------------------------------------------------------------------


def validate_request(req: BaseRequest, *, check_files: bool = True) -> list[str]:
    """Check a request before any spend; raise ValidationError naming the option, the value and what
    is allowed; return warnings (an unknown model id passes with one).

    Local input files are checked too (exists, format, dimensions, duration, size) — a missing file is
    an error even for a dry run; `check_files=False` is for tests of the option rules only.
    """
    check_request_fields(req, option)  # right kinds and sendable text before any rule reads them
    req = _normalized(req)
    spec = get_model(req.model)
    _check_urls(req, spec)
    check_doc_link(req, spec)
    if spec is None:
        from qwenvid.catalogue import all_model_ids
        from qwenvid.requests.model_ids import unknown_model_warning

        warning = unknown_model_warning(req.model, all_model_ids())  # a typo of a known id stops here
        if check_files:
            _check_files_exist(req)
        return [warning]
    _check_model_mode(req, spec)
    for check in (
        _check_prompts,
        _check_resolution_options,
        _check_duration_option,
        _check_scalar_options,
        _check_audio_options,
    ):
        check(req, spec)
    rule = INPUT_RULES.get(type(req))
    if rule is not None:
        rule(req, spec)
    else:
        req.check_inputs(spec)  # type: ignore[attr-defined]  # requests of their own module (performer_requests)
    if check_files:
        _check_files(req, spec)
    # The wire check is the last word, so the client never sends what the emulator would refuse.
    placeholders = {item.path: f"oss://local/{Path(item.path).name}" for item in local_inputs(req)}
    payload = build_payload(req, placeholders)
    try:
        check_body(payload.endpoint_path, payload.body)
    except ValidationError as error:
        raise _in_option_terms(error) from None
    return _warnings(req, spec)


# Wire fields whose request field is not simply the wire name without "_url".
_WIRE_TO_ATTR = {
    "reference_urls": "refs",
    "ref_images_url": "ref_images",
    "audio_url": "audio_file",
    "img_url": "image",
    "media": "image",
}


def _in_option_terms(error: ValidationError) -> ValidationError:
    """A check_body error retold with the CLI option in place of the wire field."""
    wire = error.field or ""
    leaf = wire.split(".", 1)[-1].split("[", 1)[0]
    attr = _WIRE_TO_ATTR.get(leaf, leaf.removesuffix("_url"))
    name = option(attr)
    message = error.message.replace(wire, name) if wire else error.message
    return ValidationError(message, field=name, value=error.value, allowed=error.allowed, hint=error.hint)


def _warnings(req: BaseRequest, spec: ModelSpec) -> list[str]:
    warnings = []
    if req.shot_type == "multi" and req.prompt_extend is False:
        warnings.append("--shot-type multi only takes effect with prompt extension on (--prompt-extend)")
    if spec.protocol == "media" and req.mode == "r2v" and req.ratio and getattr(req, "first_frame", None):
        warnings.append("--ratio is ignored when --first-frame is given (the output follows the first frame)")
    return warnings


def _check_model_mode(req: BaseRequest, spec: ModelSpec) -> None:
    if not spec.serves(req.mode):
        ids = _join(s.id for s in models_for_mode(req.mode))
        article = "an" if spec.mode[0] in "aeiou" else "a"  # "an i2v model"
        error = _error(f"{spec.id} is {article} {spec.mode} model; {req.mode} models: {ids}", "model", req.model, ids)
        error.hint = f"Run it with `qwenvid {spec.mode}`, or choose one of the {req.mode} models."
        raise error
    if isinstance(req, VaceRequest):
        names = _join([*VACE_FUNCTIONS, INSTRUCT])
        if req.function not in VACE_FUNCTIONS:
            aliases = _join(sorted(a for a in VACE_FUNCTION_ALIASES if a not in VACE_FUNCTIONS))
            raise _error(
                f"VACE function {req.function!r} is unknown; use one of {names} (short forms: {aliases})",
                "function",
                req.function,
                names,
            )
        if spec.functions == (INSTRUCT,):
            raise _error(
                f"{spec.id} edits by instruction only (function instruct); {req.function} needs wan2.1-vace-plus",
                "model",
                req.model,
            )
    if isinstance(req, VideoEditRequest) and spec.functions != (INSTRUCT,):
        raise _error(f"function instruct needs {default_instruct_model()}, not {spec.id}", "model", req.model)


def _check_prompts(req: BaseRequest, spec: ModelSpec) -> None:
    function = VACE_FUNCTIONS.get(getattr(req, "function", ""))
    required = spec.prompt_required or (function is not None and function.prompt_required)
    if required and not req.prompt:
        raise _error(f"{spec.id} needs a prompt (text that is not only spaces)", "prompt")
    if req.prompt and len(req.prompt) > spec.prompt_max:
        raise _error(
            f"the prompt is {len(req.prompt)} characters; {spec.id} takes at most {spec.prompt_max} "
            "(the API would silently cut the rest)",
            "prompt",
            len(req.prompt),
            f"<= {spec.prompt_max} characters",
        )
    if req.negative_prompt and len(req.negative_prompt) > spec.negative_prompt_max:
        raise _error(
            f"--negative-prompt is {len(req.negative_prompt)} characters; at most {spec.negative_prompt_max} "
            "(the API would silently cut the rest)",
            "negative_prompt",
            len(req.negative_prompt),
            f"<= {spec.negative_prompt_max} characters",
        )


def _takes_options(spec: ModelSpec) -> str:
    if spec.resolution_field == "size":
        return f"--size ({_join(spec.sizes)})"
    text = f"--resolution ({_join(spec.resolutions)})"
    if spec.resolution_field == "resolution+ratio":
        text += f" and --ratio ({_join(spec.ratios)})"
    return text


def _check_resolution_options(req: BaseRequest, spec: ModelSpec) -> None:
    field_kind = spec.resolution_field
    given = {"size": req.size, "resolution": req.resolution, "ratio": req.ratio}
    accepted = {"size": ("size",), "resolution": ("resolution",), "resolution+ratio": ("resolution", "ratio")}
    for name, value in given.items():
        if value is not None and name not in accepted[field_kind]:
            extra = " (the aspect ratio follows the input)" if name == "ratio" and field_kind == "resolution" else ""
            raise _error(
                f"{spec.id} takes {_takes_options(spec)}, not {option(name)}{extra}",
                name,
                value,
                _takes_options(spec),
            )
    function = VACE_FUNCTIONS.get(getattr(req, "function", ""))
    if req.size is not None and function is not None and not function.takes_size:
        raise _error(
            f"--size is not used by VACE {function.name}: the output follows the input video (at most 720P)",
            "size",
            req.size,
        )
    for name, allowed in (("size", spec.sizes), ("resolution", spec.resolutions), ("ratio", spec.ratios)):
        value = given[name]
        if value is not None and value not in allowed:
            raise _error(
                f"{option(name)} {value!r} is not offered by {spec.id}; allowed: {_join(allowed)}",
                name,
                value,
                _join(allowed),
            )


def _reference_video_count(req: BaseRequest) -> int:
    return sum(1 for ref in getattr(req, "refs", []) if guess_kind(ref) == "video")


def _check_duration_option(req: BaseRequest, spec: ModelSpec) -> None:
    rule, duration = spec.durations, req.duration
    if duration is None:
        return
    if not rule.parameter:
        raise _error(f"{spec.id} has no --duration ({rule.describe()})", "duration", duration)
    if rule.fixed and duration != rule.default:
        raise _error(
            f"{spec.id} has a fixed duration of {rule.default} s; --duration {duration} is not accepted",
            "duration",
            duration,
            rule.describe(),
        )
    if isinstance(duration, bool) or not isinstance(duration, int) or not rule.allows(duration):
        raise _error(
            f"--duration {duration!r} is not accepted by {spec.id}; allowed: {rule.describe()}",
            "duration",
            duration,
            rule.describe(),
        )
    limit = spec.duration_max_with_reference_video
    if limit is not None and duration > limit and _reference_video_count(req):
        raise _error(
            f"--duration {duration} is too long for {spec.id} with a reference video; allowed: {rule.min}-{limit} s",
            "duration",
            duration,
            f"{rule.min}-{limit} s",
        )


def _check_scalar_options(req: BaseRequest, spec: ModelSpec) -> None:
    if req.seed is not None and (
        isinstance(req.seed, bool) or not isinstance(req.seed, int) or not SEED_RANGE[0] <= req.seed <= SEED_RANGE[1]
    ):
        raise _error(
            f"--seed {req.seed!r} is not an integer in [{SEED_RANGE[0]}, {SEED_RANGE[1]}]",
            "seed",
            req.seed,
            f"{SEED_RANGE[0]}-{SEED_RANGE[1]}",
        )
    if req.prompt_extend is not None and not spec.prompt_extend:
        raise _error(f"{spec.id} has no {option('prompt_extend')} (not documented for it)", "prompt_extend")
    if req.shot_type is not None:
        if not spec.shot_type:
            with_shots = _join(s.id for s in models_for_mode(spec.mode) if s.shot_type) or "none"
            raise _error(
                f"{spec.id} has no --shot-type; {spec.mode} models with it: {with_shots}",
                "shot_type",
                req.shot_type,
            )
        if req.shot_type not in SHOT_TYPES:
            raise _error(
                f"--shot-type {req.shot_type!r} is not one of {_join(SHOT_TYPES)}",
                "shot_type",
                req.shot_type,
                _join(SHOT_TYPES),
            )
    template = getattr(req, "template", None)
    if template is not None and not spec.templates:
        raise _error(f"{spec.id} takes no --template", "template", template)


def _check_audio_options(req: BaseRequest, spec: ModelSpec) -> None:
    if req.audio is False and spec.audio == "always":
        can = models_that_can_be_silent(spec.mode)
        names = _join(can) if can else f"no {spec.mode} model"
        raise _error(
            f"{spec.id} always makes sound, so --no-audio is not possible; silent {spec.mode} models: {names}",
            "audio",
            False,
            _join(can),
        )
    if req.audio is True and spec.audio == "silent":
        raise _error(f"{spec.id} makes silent videos; --audio is not possible", "audio", True)
    if req.audio_file is not None and not spec.audio_url:
        hint = "; use --driving-audio" if spec.mode == "i2v" and spec.protocol == "media" else ""
        raise _error(f"{spec.id} takes no --audio-file (custom soundtrack){hint}", "audio_file", req.audio_file)
    setting = getattr(req, "audio_setting", None)
    if setting is not None and setting not in spec.audio_settings:
        allowed = _join(spec.audio_settings) or "none (only wan2.7-videoedit has it)"
        raise _error(
            f"--audio-setting {setting!r} is not accepted by {spec.id}; allowed: {allowed}",
            "audio_setting",
            setting,
            allowed,
        )


# ---- inputs per request type ----


def _only_for(req: BaseRequest, spec: ModelSpec, names: tuple[str, ...], who: str) -> None:
    for name in names:
        value = getattr(req, name)
        if value:
            raise _error(f"{spec.id} takes no {option(name)}; {who}", name, value)


def _check_t2v_inputs(req: BaseRequest, spec: ModelSpec) -> None:
    return None


def _i2v_combination_text(combo: frozenset[str]) -> str:
    names = {
        "first_frame": "--image",
        "last_frame": "--last-frame",
        "driving_audio": "--driving-audio",
        "first_clip": "--clip",
    }
    return " ".join(names[t] for t in ("first_frame", "first_clip", "last_frame", "driving_audio") if t in combo)


def _check_i2v_inputs(req: I2VRequest, spec: ModelSpec) -> None:
    if spec.protocol == "legacy":
        _only_for(
            req, spec, ("last_frame", "clip", "driving_audio"), "only wan2.7-i2v takes these (kf2v does first+last)"
        )
        if not req.image:
            raise _error(f"{spec.id} needs --image (the first frame)", "image")
        return
    given = {
        t
        for t, v in (
            ("first_frame", req.image),
            ("last_frame", req.last_frame),
            ("driving_audio", req.driving_audio),
            ("first_clip", req.clip),
        )
        if v
    }
    if frozenset(given) not in WAN27_I2V_COMBINATIONS:
        allowed = " | ".join(_i2v_combination_text(c) for c in WAN27_I2V_COMBINATIONS)
        raise _error(
            (
                f"{spec.id} cannot take {_i2v_combination_text(frozenset(given))} together"
                if given
                else f"{spec.id} needs an input"
            )
            + f"; allowed combinations: {allowed}",
            "image",
            _i2v_combination_text(frozenset(given)),
            allowed,
        )


def _check_kf2v_inputs(req: KF2VRequest, spec: ModelSpec) -> None:
    if not req.first_frame:
        raise _error(f"{spec.id} needs --first-frame", "first_frame")
    if not req.last_frame and not req.template:
        raise _error(f"{spec.id} needs --last-frame (or an effect --template)", "last_frame")


def _check_r2v_inputs(req: R2VRequest, spec: ModelSpec) -> None:
    limits = spec.limits.references
    assert limits is not None
    if spec.protocol == "legacy":
        _only_for(req, spec, ("first_frame", "ref_voices"), "only wan2.7-r2v takes these")
    if len(req.ref_voices) > len(req.refs):
        raise _error("more --ref-voice than --ref", "ref_voices", len(req.ref_voices))
    videos = _reference_video_count(req)
    images = len(req.refs) - videos
    allowed = f"1-{limits.max_total} references, images <= {limits.max_images}, videos <= {limits.max_videos}"
    if (
        images > limits.max_images
        or videos > limits.max_videos
        or not limits.min_total <= len(req.refs) <= limits.max_total
    ):
        raise _error(
            f"--ref: {images} reference image(s) and {videos} video(s) are not accepted by {spec.id}; "
            f"allowed: {allowed}",
            "refs",
            len(req.refs),
            allowed,
        )


def _check_vace_inputs(req: VaceRequest, spec: ModelSpec) -> None:
    function = VACE_FUNCTIONS[req.function]
    wire_to_attr = {
        f"{a}_url": a
        for a in ("video", "mask_image", "mask_video", "first_clip", "last_clip", "first_frame", "last_frame")
    }
    wire_to_attr.update({"ref_images_url": "ref_images", "mask_frame_id": "mask_frame_id"})
    for wire in function.required:
        if not getattr(req, wire_to_attr[wire]):
            raise _error(f"VACE {function.name} needs {option(wire_to_attr[wire])}", wire_to_attr[wire])
    if function.one_of:
        names = [wire_to_attr[w] for w in function.one_of]
        given = [n for n in names if getattr(req, n)]
        if not given or (function.exactly_one and len(given) > 1):
            how = "exactly one" if function.exactly_one else "at least one"
            raise _error(
                f"VACE {function.name} needs {how} of {_join(option(n) for n in names)}",
                names[0],
                _join(given) or None,
                _join(option(n) for n in names),
            )
    own = {wire_to_attr[w] for w in (*function.required, *function.one_of, *function.optional)}
    for attr in sorted(set(wire_to_attr.values()) - own):
        if getattr(req, attr):
            raise _error(f"{option(attr)} is not used by VACE {function.name}", attr, getattr(req, attr))
    own_params = {*function.parameters, *VACE_COMMON_PARAMETERS, "size"}
    for name in (
        "obj_or_bg",
        "control_condition",
        "strength",
        "mask_type",
        "expand_ratio",
        "expand_mode",
        "top_scale",
        "bottom_scale",
        "left_scale",
        "right_scale",
    ):
        if getattr(req, name) not in (None, []) and name not in own_params:
            raise _error(f"{option(name)} is not used by VACE {function.name}", name, getattr(req, name))
    limits = spec.limits.references
    assert limits is not None
    if (function.name == "image_reference" or req.ref_images) and not 1 <= len(req.ref_images) <= limits.max_total:
        raise _error(
            f"VACE {function.name} takes 1-{limits.max_total} --ref-image (the API ignores extras)",
            "ref_images",
            len(req.ref_images),
            f"1-{limits.max_total}",
        )
    if req.obj_or_bg and len(req.obj_or_bg) != len(req.ref_images):
        raise _error(
            f"give one --obj-or-bg (obj or bg) per --ref-image: {len(req.ref_images)}, not {len(req.obj_or_bg)}",
            "obj_or_bg",
            req.obj_or_bg,
            f"{len(req.ref_images)} values",
        )


def _check_videoedit_inputs(req: VideoEditRequest, spec: ModelSpec) -> None:
    if not req.video:
        raise _error(f"{spec.id} needs --video (the video to edit)", "video")
    limits = spec.limits.references
    assert limits is not None
    if len(req.ref_images) > limits.max_images:
        raise _error(
            f"{spec.id} takes at most {limits.max_images} --ref-image, not {len(req.ref_images)}",
            "ref_images",
            len(req.ref_images),
            f"<= {limits.max_images}",
        )


INPUT_RULES: dict[type, Any] = {
    T2VRequest: _check_t2v_inputs,
    I2VRequest: _check_i2v_inputs,
    KF2VRequest: _check_kf2v_inputs,
    R2VRequest: _check_r2v_inputs,
    VaceRequest: _check_vace_inputs,
    VideoEditRequest: _check_videoedit_inputs,
}


# ---- local files ----


def _check_urls(req: BaseRequest, spec: ModelSpec | None) -> None:
    for slot in _slots(req, spec):
        if is_url(slot.value):
            from qwenvid.media.inputs import check_url

            check_url(slot.value, option(slot.attr))


def _check_files_exist(req: BaseRequest) -> None:
    for item in local_inputs(req):
        if item.size < 0:
            from qwenvid.media.inputs import require_file

            require_file(item.path, item.option)


def _check_files(req: BaseRequest, spec: ModelSpec) -> None:
    files = [slot for slot in _slots(req, spec) if not is_url(slot.value)]
    if not files:
        return  # a prompt-only request never loads the media checks (start-up: tests/test_startup_imports.py)
    from qwenvid.media.inputs import FixableInputError, check_local_file, require_file

    seen: set[str] = set()
    for slot in files:
        if slot.value in seen:
            continue
        seen.add(slot.value)
        require_file(slot.value, option(slot.attr))
        limits: ImageLimits | VideoLimits | AudioLimits | None = getattr(spec.limits, slot.limits)
        try:
            check_local_file(Path(slot.value).expanduser(), slot.kind, limits, field=option(slot.attr))
        except FixableInputError as refused:
            from qwenvid.media.clips.fit import fit_command, role_for

            # Name the command that makes the file acceptable instead of sending the user to other tools.
            command = fit_command(slot.value, spec.id, role_for(slot.kind, slot.attr, slot.limits))
            raise ValidationError(
                refused.message,
                field=refused.field,
                value=refused.value,
                allowed=refused.allowed,
                hint=f"Fix it with: {command}",
            ) from None


# ---------------------------------------------------------------------------------------------
# The skill's request JSON
# ---------------------------------------------------------------------------------------------

# Flat fields of the skill's request JSON that map one-to-one onto BaseRequest fields.
_COMMON_JSON_FIELDS = (
    "prompt",
    "negative_prompt",
    "duration",
    "size",
    "resolution",
    "ratio",
    "seed",
    "prompt_extend",
    "watermark",
    "audio",
    "shot_type",
)
_VACE_JSON_FIELDS = {
    "video_url": "video",
    "mask_image_url": "mask_image",
    "mask_video_url": "mask_video",
    "mask_frame_id": "mask_frame_id",
    "first_clip_url": "first_clip",
    "last_clip_url": "last_clip",
    "first_frame_url": "first_frame",
    "last_frame_url": "last_frame",
    "control_condition": "control_condition",
    "strength": "strength",
    "mask_type": "mask_type",
    "expand_ratio": "expand_ratio",
    "expand_mode": "expand_mode",
    "top_scale": "top_scale",
    "bottom_scale": "bottom_scale",
    "left_scale": "left_scale",
    "right_scale": "right_scale",
    "audio_setting": "audio_setting",
}


# Every field the skill's request JSON may carry (flat, or inside the wire body's input/parameters).
SKILL_JSON_FIELDS = frozenset(
    {
        *_COMMON_JSON_FIELDS,
        *_VACE_JSON_FIELDS,
        "model",
        "function",
        "audio_url",
        "media",
        "reference_urls",
        "reference_video_urls",
        "img_url",
        "reference_image",
        "driving_audio_url",
        "template",
        "ref_images_url",
        "reference_images",
        "obj_or_bg",
        "extend_prompt",
        # The skill's run settings, not request fields: timeout_s is the CLI's --timeout when that is not
        # given; poll_interval_s has nothing to set (qwenvid's poller picks its own intervals).
        "timeout_s",
        "poll_interval_s",
    }
)


def check_skill_fields(flat: Mapping[str, Any]) -> None:
    """Refuse fields qwenvid would drop: a misspelt `durration` or `img_ur1` must not become a paid wrong video."""
    import difflib

    unknown = sorted(str(key) for key in flat if key not in SKILL_JSON_FIELDS)
    if not unknown:
        return
    parts = []
    for key in unknown:
        close = difflib.get_close_matches(key, sorted(SKILL_JSON_FIELDS), n=1, cutoff=0.75)
        parts.append(f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key))
    noun = "field" if len(unknown) == 1 else "fields"
    raise ValidationError(
        f"the request JSON has unknown {noun} {', '.join(parts)}",
        field="request",
        value=unknown,
        allowed=", ".join(sorted(SKILL_JSON_FIELDS)),
        hint="Known fields: " + ", ".join(sorted(SKILL_JSON_FIELDS)) + ".",
    )


def flatten_skill_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """The skill's flat request shape; a nested wire body {model, input, parameters} is flattened."""
    if not isinstance(data, Mapping):
        raise ValidationError("the request JSON must be an object", field="request", value=type(data).__name__)
    flat = {k: v for k, v in data.items() if k not in ("input", "parameters")}
    for part in ("input", "parameters"):
        section = data.get(part)
        if isinstance(section, Mapping):
            flat.update(section)
        elif section is not None:
            raise ValidationError(f"'{part}' must be an object", field=part, value=section)
    if flat.get("function") == "video-synthesis":
        del flat["function"]  # the official SDK's routing leftover, not a VACE function (dashscope-api.md §6.1)
    flat.pop("extend_prompt", None)  # the SDK's deprecated extra
    return flat


def _model_id(flat: Mapping[str, Any]) -> str:
    model = str(flat.get("model") or "")
    spec = get_model(model) if model else None
    return spec.id if spec else model


def detect_mode(skill_json: Mapping[str, Any]) -> Mode:
    """The mode of a skill request JSON, by the skill's rules (product.md §2) plus two of ours:
    a wan2.7-videoedit model means vace (instruct), media with a wan2.7-r2v model means r2v."""
    flat = flatten_skill_json(skill_json)
    model = _model_id(flat)
    by_family = _mode_by_family(model, flat)
    if by_family is not None:
        return by_family
    if flat.get("function"):
        return "vace"
    if model == default_instruct_model():
        return "vace"
    if flat.get("reference_urls"):
        return "r2v"
    if flat.get("media") and model == "wan2.7-r2v":
        return "r2v"
    if flat.get("media") or flat.get("first_clip_url"):
        return "i2v"
    if flat.get("first_frame_url"):
        return "i2v" if model == "wan2.7-i2v" else "kf2v"
    if flat.get("img_url") or flat.get("reference_image"):
        return "i2v"
    return "t2v"


# Families detected by model before fields (product.md §3.1): their media types mean other things.
NEWER_FAMILIES = ("wan3.0", "happyhorse")


def _mode_by_family(model: str, flat: Mapping[str, Any]) -> Mode | None:
    spec = get_model(model) if model else None
    if spec is None or spec.family not in NEWER_FAMILIES:
        return None
    if spec.protocol != "wan3":
        return spec.mode
    types = {kind for kind, _item in _media_by_type(flat)}
    frames = {"first_frame", "last_frame"}
    if types and types <= frames:
        return "i2v"  # first frame, or first + last
    return "r2v" if types else "t2v"  # references (images, videos, audio) edit, extend or guide


def _media_by_type(flat: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    media = flat.get("media") or []
    if not isinstance(media, list):
        raise ValidationError("'media' must be a list of {type, url} objects", field="media", value=media)
    items: list[tuple[str, Mapping[str, Any]]] = []
    for index, item in enumerate(media):
        if isinstance(item, str):  # the skill accepts bare URLs as reference images
            items.append(("reference_image", {"url": item}))
        elif isinstance(item, Mapping) and isinstance(item.get("type"), str):
            items.append((item["type"], item))
        else:
            raise ValidationError(f"media[{index}] must be {{type, url}}", field=f"media[{index}]", value=item)
    return items


def request_from_skill_json(
    skill_json: Mapping[str, Any], *, mode: Mode | None = None, override_mode: bool = False
) -> BaseRequest:
    """A typed request from the skill's request JSON (flat, or the nested wire shape).

    `mode` is the mode the caller expects (the per-mode commands): a JSON of another mode is then an
    error. With `override_mode` (the skill's own `--mode`), `mode` replaces detection instead.
    Unknown fields are an error that names them.
    """
    flat = flatten_skill_json(skill_json)
    check_skill_fields(flat)
    check_skill_json(flat)
    detected = mode if (override_mode and mode is not None) else detect_mode(flat)
    if mode is not None and mode != detected:
        raise ValidationError(
            f"this request JSON is a {detected} request, not {mode} (use `qwenvid {detected}` or `qwenvid generate`)",
            field="request",
            value=detected,
        )
    common: dict[str, Any] = {name: flat[name] for name in _COMMON_JSON_FIELDS if flat.get(name) is not None}
    common["model"] = str(flat.get("model") or "")
    if flat.get("audio_url"):
        common["audio_file"] = flat["audio_url"]
    media = _media_by_type(flat)
    for wire, attr in (("file", "doc"), ("link", "link")):
        urls = [item.get("url") for kind, item in media if kind == wire]
        if len(urls) > 1:  # never dropped silently: the request would not be the one written
            raise ValidationError(f"media holds {len(urls)} {wire} items; Wan 3.0 takes at most one", field="media")
        if urls:
            common[attr] = urls[0]
    first = {kind: item.get("url") for kind, item in reversed(media)}
    model = _model_id(flat)
    if detected == "vace":
        fields = {attr: flat[key] for key, attr in _VACE_JSON_FIELDS.items() if flat.get(key) is not None}
        ref_images = list(flat.get("ref_images_url") or flat.get("reference_images") or [])
        ref_images += [item.get("url") for kind, item in media if kind == "reference_image"]
        if not flat.get("function") or model == default_instruct_model():
            video = first.get("video") or flat.get("video_url")
            return VideoEditRequest(
                **common, video=video, ref_images=ref_images, audio_setting=flat.get("audio_setting")
            )
        return VaceRequest(
            **common,
            function=str(flat["function"]),
            ref_images=ref_images,
            obj_or_bg=list(flat.get("obj_or_bg") or []),
            **fields,
        )
    if detected == "r2v":
        refs = [str(u) for u in flat.get("reference_urls") or []] + [
            str(u) for u in flat.get("reference_video_urls") or []
        ]
        voices: list[str | None] = [None] * len(refs)
        for kind, item in media:
            if kind in ("reference_image", "reference_video", "reference_audio"):
                refs.append(str(item.get("url")))
                voices.append(item.get("reference_voice"))
        while voices and voices[-1] is None:
            voices.pop()
        return R2VRequest(**common, refs=refs, ref_voices=voices, first_frame=first.get("first_frame"))
    if detected == "i2v":
        return I2VRequest(
            **common,
            image=first.get("first_frame")
            or flat.get("img_url")
            or flat.get("reference_image")
            or flat.get("first_frame_url"),
            last_frame=first.get("last_frame") or flat.get("last_frame_url"),
            clip=first.get("first_clip") or flat.get("first_clip_url"),
            driving_audio=first.get("driving_audio") or flat.get("driving_audio_url"),
            template=flat.get("template"),
        )
    if detected == "kf2v":
        return KF2VRequest(
            **common,
            first_frame=flat.get("first_frame_url"),
            last_frame=flat.get("last_frame_url"),
            template=flat.get("template"),
        )
    return T2VRequest(**common)
