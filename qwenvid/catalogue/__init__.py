"""The Wan video model catalogue (dashscope-api.md §2, §4.2, §7), shared by client and emulator.

The models are data: models.toml, read and checked once, on first use, by load.py (docs/catalogue.md).
This module keeps the types (spec.py) and the functions that answer questions about the models.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, overload

from qwenvid.catalogue.spec import (
    AUTO_DURATION,
    BJ,
    FRA,
    INSTRUCT,
    MB,
    MODES,
    PATHS,
    PRICING_URL,
    RATIOS,
    SEED_RANGE,
    SELECTABLE_REGIONS,
    SG,
    SHOT_TYPES,
    SIZE_TABLE,
    TIER_PIXELS,
    US,
    USAGE_STYLES,
    VACE_COMMON_PARAMETERS,
    VACE_CONTROL_CONDITIONS,
    VACE_EDIT_CONTROL_CONDITIONS,
    VACE_EXPAND_MODES,
    VACE_FUNCTION_ALIASES,
    VACE_FUNCTIONS,
    VACE_MASK_TYPES,
    VACE_OBJ_OR_BG,
    VACE_SCALE_RANGE,
    VACE_UNIT_RANGE,
    WAN3_FRAME_TYPES,
    WAN3_MEDIA_LIMITS,
    WAN3_MODES_EXCLUSIVE,
    WAN3_REFERENCE_SECONDS,
    WAN3_REFERENCE_TYPES,
    WAN27_DIMENSIONS,
    WAN27_EDIT_AUDIO_SETTINGS,
    WAN27_EDIT_MEDIA_TYPES,
    WAN27_I2V_COMBINATIONS,
    WAN27_I2V_LENIENT_COMBINATIONS,
    WAN27_R2V_MEDIA_TYPES,
    AudioKind,
    AudioLimits,
    DurationRule,
    Endpoint,
    ImageLimits,
    InputLimits,
    MediaKind,
    Mode,
    ModelSpec,
    Protocol,
    ReferenceLimits,
    ResolutionField,
    VaceFunction,
    VideoLimits,
    canonical_vace_function,
    parse_size,
    sizes_for,
    tier_of_size,
)

if TYPE_CHECKING:
    from qwenvid.catalogue.load import Catalogue

__all__ = [
    "WAN3_REFERENCE_TYPES",
    "WAN3_REFERENCE_SECONDS",
    "WAN3_MODES_EXCLUSIVE",
    "WAN3_MEDIA_LIMITS",
    "WAN3_FRAME_TYPES",
    "AUTO_DURATION",
    "BJ",
    "FRA",
    "INSTRUCT",
    "MB",
    "MODES",
    "PATHS",
    "PRICING_URL",
    "RATIOS",
    "SEED_RANGE",
    "SELECTABLE_REGIONS",
    "SG",
    "SHOT_TYPES",
    "SIZE_TABLE",
    "TIER_PIXELS",
    "US",
    "USAGE_STYLES",
    "VACE_COMMON_PARAMETERS",
    "VACE_CONTROL_CONDITIONS",
    "VACE_EDIT_CONTROL_CONDITIONS",
    "VACE_EXPAND_MODES",
    "VACE_FUNCTIONS",
    "VACE_FUNCTION_ALIASES",
    "VACE_MASK_TYPES",
    "VACE_OBJ_OR_BG",
    "VACE_SCALE_RANGE",
    "VACE_UNIT_RANGE",
    "WAN27_DIMENSIONS",
    "WAN27_EDIT_AUDIO_SETTINGS",
    "WAN27_EDIT_MEDIA_TYPES",
    "WAN27_I2V_COMBINATIONS",
    "WAN27_I2V_LENIENT_COMBINATIONS",
    "WAN27_R2V_MEDIA_TYPES",
    "AudioKind",
    "AudioLimits",
    "DurationRule",
    "Endpoint",
    "ImageLimits",
    "InputLimits",
    "MediaKind",
    "Mode",
    "ModelSpec",
    "Protocol",
    "ReferenceLimits",
    "ResolutionField",
    "VaceFunction",
    "VideoLimits",
    "canonical_vace_function",
    "parse_size",
    "sizes_for",
    "tier_of_size",
    "DEFAULT_MODELS",
    "MODELS",
    "CatalogueError",
]


@cache
def _catalogue() -> Catalogue:
    """The shipped data file, read and checked once (never at import: `--help` does not need it)."""
    from qwenvid.catalogue.load import load

    return load()


def __getattr__(name: str) -> Any:
    """The names that are data now, kept for callers that import them (read on first use)."""
    if name == "CatalogueError":
        from qwenvid.catalogue.load import CatalogueError

        return CatalogueError
    if name == "DEFAULT_INSTRUCT_MODEL":
        return default_instruct_model()
    if name in _NAMED_LIMITS:
        return _catalogue().limits[_NAMED_LIMITS[name]]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# The input limits tests and callers name as constants, and the [limits.KIND.NAME] table each is.
_NAMED_LIMITS: dict[str, tuple[str, str]] = {
    "LEGACY_I2V_IMAGE": ("image", "legacy_i2v"),
    "VACE_IMAGE": ("image", "legacy_i2v"),
    "KF2V_IMAGE": ("image", "kf2v"),
    "R2V26_IMAGE": ("image", "r2v26"),
    "WAN27_IMAGE": ("image", "wan27"),
    "SOUNDTRACK": ("audio", "soundtrack"),
    "WAN27_SOUNDTRACK": ("audio", "wan27_soundtrack"),
    "DRIVING_AUDIO": ("audio", "driving_audio"),
    "REFERENCE_VOICE": ("audio", "reference_voice"),
    "WAN27_CLIP": ("video", "wan27_clip"),
    "WAN27_EDIT_VIDEO": ("video", "wan27_edit"),
    "R2V_REFERENCE_VIDEO": ("video", "r2v_reference"),
    "VACE_VIDEO": ("video", "vace"),
    "VACE_CLIP": ("video", "vace_clip"),
}


class _Models(Sequence[ModelSpec]):
    """Every model in file order; a sequence that reads the data file on first use."""

    @overload
    def __getitem__(self, index: int) -> ModelSpec: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[ModelSpec]: ...
    def __getitem__(self, index: int | slice) -> ModelSpec | Sequence[ModelSpec]:
        return _catalogue().models[index]

    def __len__(self) -> int:
        return len(_catalogue().models)

    def __iter__(self) -> Iterator[ModelSpec]:
        return iter(_catalogue().models)

    def __repr__(self) -> str:
        return repr(_catalogue().models)


class _ModeDefaults(Mapping[Mode, str]):
    """The default model of each mode; a mapping that reads the data file on first use."""

    def __getitem__(self, mode: Mode) -> str:
        if mode not in MODES:
            raise KeyError(mode)
        return _catalogue().mode_defaults[mode]

    def __iter__(self) -> Iterator[Mode]:
        return iter(MODES)

    def __len__(self) -> int:
        return len(MODES)

    def __repr__(self) -> str:
        return repr(dict(self))


MODELS: Sequence[ModelSpec] = _Models()
DEFAULT_MODELS: Mapping[Mode, str] = _ModeDefaults()


def default_instruct_model() -> str:
    """The model `vace --function instruct` uses unless told (wan2.7-videoedit)."""
    return _catalogue().mode_defaults[INSTRUCT]


def get_model(model_id: str) -> ModelSpec | None:
    """The spec for a model id or alias; None for ids the catalogue does not know."""
    return _catalogue().by_id.get(model_id.strip())


def models_for_mode(mode: Mode) -> list[ModelSpec]:
    """Every model of a mode, the default model first, then catalogue order."""
    default = DEFAULT_MODELS[mode]
    specs = [spec for spec in MODELS if spec.serves(mode)]  # an all-in-one model serves several modes
    return sorted(specs, key=lambda spec: spec.id != default)


def all_model_ids() -> list[str]:
    """Every id the catalogue accepts, aliases included."""
    return list(_catalogue().by_id)


def models_that_can_be_silent(mode: Mode) -> list[str]:
    """Ids of the models of a mode that can make a silent video (toggle models first)."""
    specs = [spec for spec in MODELS if spec.mode == mode and spec.can_be_silent]
    return [spec.id for spec in sorted(specs, key=lambda spec: spec.audio != "toggle")]


# ---------------------------------------------------------------------------------------------
# Input kinds, dimensions and billing
# ---------------------------------------------------------------------------------------------

VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".webm", ".avi", ".mkv")
AUDIO_EXTENSIONS = (".wav", ".mp3", ".m4a", ".aac", ".flac", ".ogg")


def guess_kind(location: str) -> MediaKind:
    """Image, video or audio, from a data: MIME type or the path/URL extension (images otherwise).

    Used to split `reference_urls` into images and videos: DashScope decides from the file itself,
    but an `oss://` key keeps the uploaded file's name, so the extension is a faithful guide.
    """
    if location.startswith("data:"):
        mime = location[5:].split(";", 1)[0].split(",", 1)[0]
        major = mime.split("/", 1)[0]
        return "video" if major == "video" else "audio" if major == "audio" else "image"
    path = location.split("?", 1)[0].split("#", 1)[0].lower()
    if path.endswith(VIDEO_EXTENSIONS):
        return "video"
    if path.endswith(AUDIO_EXTENSIONS):
        return "audio"
    return "image"


def scale_to_tier(tier: str, input_wh: tuple[int, int]) -> tuple[int, int]:
    """Keep the input's aspect, use the tier's pixel budget, floor both sides to multiples of 16.

    §2.1 example: 750x1000 @720P -> 816x1104.
    """
    width, height = input_wh
    pixels = TIER_PIXELS[tier]
    aspect = width / height
    out_w = math.sqrt(pixels * aspect)
    out_h = math.sqrt(pixels / aspect)
    return (max(16, int(out_w // 16) * 16), max(16, int(out_h // 16) * 16))


def _cap_to_720p(input_wh: tuple[int, int]) -> tuple[int, int]:
    """VACE repaint / extend / outpaint: same as the input if <=720P, else downscaled to 720P."""
    if input_wh[0] * input_wh[1] <= TIER_PIXELS["720P"]:
        return input_wh
    return scale_to_tier("720P", input_wh)


def output_dimensions(
    spec: ModelSpec,
    *,
    size: str | None = None,
    resolution: str | None = None,
    ratio: str | None = None,
    input_wh: tuple[int, int] | None = None,
) -> tuple[int, int]:
    """Width and height of the video the model will render for these parameters.

    size models: the size (VACE functions without `size` follow the input, capped at 720P);
    resolution+ratio models: the wan2.7 table (no ratio + an input = the input's aspect);
    resolution-tier models: the input's aspect at the tier's pixel count (16:9 without an input).
    """
    if spec.resolution_field == "size":
        if size is None and spec.mode == "vace" and input_wh is not None:
            return _cap_to_720p(input_wh)
        return parse_size(size or spec.default_size or "1280*720")
    tier = resolution or spec.default_resolution or "720P"
    if spec.resolution_field == "resolution+ratio":
        chosen_ratio = ratio or spec.default_ratio
        if chosen_ratio in (None, "adaptive") and input_wh is not None:
            return scale_to_tier(tier, input_wh)
        key = (tier, chosen_ratio if chosen_ratio not in (None, "adaptive") else "16:9")
        if key in WAN27_DIMENSIONS:
            return WAN27_DIMENSIONS[key]
        width, _, height = key[1].partition(":")  # 480P, 4:5, 21:9 ...: the ratio at the tier's pixel count
        return scale_to_tier(tier, (int(width), int(height)))
    if input_wh is not None:
        return scale_to_tier(tier, input_wh)
    return parse_size(SIZE_TABLE[tier][0])


def billable_seconds(
    spec: ModelSpec,
    duration: int | None,
    reference_video_seconds: float = 0,
    *,
    input_video_seconds: float | None = None,
) -> float:
    """Seconds the task will be billed for (price x seconds, §2 / §5).

    r2v bills the reference videos' seconds on top of the output (§3.2, documented for wan2.6,
    INFERRED for wan2.7). VACE has no duration parameter: its output is at most 5 s (the input
    video's length when known). wan2.7-videoedit with duration 0 keeps the input's length
    (`input_video_seconds`; the 10 s maximum when unknown).
    """
    rule = spec.durations
    if not rule.parameter:
        cap = float(rule.max_output or rule.default)
        output = min(cap, input_video_seconds) if input_video_seconds else cap
        if spec.bills_input_video:  # HappyHorse edit: input + output; an unknown input at its longest
            video = spec.limits.video
            output += input_video_seconds or (video.max_seconds if video else 0.0)
        return output
    seconds = float(rule.default if duration is None else duration)
    if seconds == 0 and 0 in rule.extra:
        seconds = input_video_seconds if input_video_seconds else float(rule.max or 0)
    if seconds == AUTO_DURATION and AUTO_DURATION in rule.extra:
        # "The model picks the length", priced honestly at the longest it may pick.
        longest = float(rule.max or 0)
        if spec.max_total_seconds is not None:
            longest = min(longest, spec.max_total_seconds - reference_video_seconds - (input_video_seconds or 0.0))
        seconds = max(longest, 0.0)
    if spec.mode == "r2v" or spec.bills_input_video:
        seconds += reference_video_seconds
    return seconds


def resolution_tier(spec: ModelSpec, *, size: str | None = None, resolution: str | None = None) -> str:
    """The billing tier ("480P" / "720P" / "1080P") of a request, for the cost notice."""
    if spec.resolution_field == "size":
        return tier_of_size(size or spec.default_size or "") or "720P"
    return resolution or spec.default_resolution or "720P"


@dataclass(frozen=True)
class ExpectedOutput:
    """What a finished video of a request should show; None = cannot be known before the task runs."""

    duration: float | None
    has_audio: bool | None
    width: int | None = None
    height: int | None = None


def expected_output(model_id: str, body: Mapping[str, object] | None) -> ExpectedOutput | None:
    """The duration, audio track and (for `size` models) dimensions a submitted wire body promises."""
    spec = get_model(model_id)
    if spec is None:
        return None
    raw_parameters = (body or {}).get("parameters")
    parameters: Mapping[str, object] = raw_parameters if isinstance(raw_parameters, Mapping) else {}
    duration = parameters.get("duration", spec.durations.default)
    seconds = float(duration) if isinstance(duration, int) and duration > 0 and spec.durations.parameter else None
    if spec.audio == "toggle":
        has_audio: bool | None = parameters.get("audio", True) is not False
    elif spec.audio == "always":
        has_audio = None if spec.audio_settings else True  # videoedit: the model decides (audio_setting auto)
    else:
        has_audio = False
    size = parameters.get("size")
    if spec.resolution_field == "size" and isinstance(size, str) and size in spec.sizes:
        width, height = parse_size(size)
        return ExpectedOutput(seconds, has_audio, width, height)
    if spec.resolution_field == "resolution+ratio" and spec.mode == "t2v":
        resolution, ratio = parameters.get("resolution"), parameters.get("ratio")
        key = (
            resolution if isinstance(resolution, str) else spec.default_resolution or "1080P",
            ratio if isinstance(ratio, str) else spec.default_ratio or "16:9",
        )
        if key in WAN27_DIMENSIONS:
            width, height = WAN27_DIMENSIONS[key]
            return ExpectedOutput(seconds, has_audio, width, height)
    return ExpectedOutput(seconds, has_audio)


def offered_regions(spec: ModelSpec) -> tuple[str, ...]:
    """The regions a model is offered in that `--region` can select."""
    return tuple(region for region in spec.regions if region in SELECTABLE_REGIONS)


def region_warning(model: str, region: str) -> str | None:
    """A warning when a catalogue model is not offered in `region` (unknown models: nothing to say)."""
    spec = get_model(model)
    if spec is None or region in spec.regions:
        return None
    elsewhere = ", ".join(offered_regions(spec)) or "no region --region can select"
    return (
        f"{spec.id} is not offered in {region} (offered in {elsewhere}); the service will likely refuse it. "
        "Choose another model (`qwenvid models`) or --region."
    )


def workspace_warning(model: str) -> str | None:
    """A model documented on workspace hosts only, about to be sent to a shared (legacy) host."""
    spec = get_model(model)
    if spec is None or not spec.workspace_only:
        return None
    return (
        f"{spec.id} is documented on workspace hosts only; sending it to the shared host (a refusal costs "
        "nothing). Set --workspace ID (or QWEN_WORKSPACE_ID) to use your workspace's host."
    )
