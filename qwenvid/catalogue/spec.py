"""The catalogue's types and fixed tables: what a model spec is made of (dashscope-api.md §2, §4.2, §7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mode = Literal["t2v", "i2v", "kf2v", "r2v", "vace", "s2v", "animate"]
Endpoint = Literal["video-generation", "image2video"]
Protocol = Literal["legacy", "media", "wan3"]  # wan3 = the all-in-one `input.media[]` of Wan 3.0
ResolutionField = Literal["size", "resolution", "resolution+ratio"]
AudioKind = Literal["silent", "always", "toggle"]
MediaKind = Literal["image", "video", "audio"]

MODES: tuple[Mode, ...] = ("t2v", "i2v", "kf2v", "r2v", "vace", "s2v", "animate")

PATHS: dict[Endpoint, str] = {
    "video-generation": "/services/aigc/video-generation/video-synthesis",
    "image2video": "/services/aigc/image2video/video-synthesis",
}

# Regions by the names QWEN_REGION uses (dashscope-api.md §1.1).
SG, BJ, US, FRA = "ap-southeast-1", "cn-beijing", "us-east-1", "eu-central-1"
# The regions `--region` / QWEN_REGION select (config.REGIONS has their URLs). Frankfurt has no shared
# endpoint, only per-workspace URLs (dashscope-api.md §1.1), so it is reached with a base URL instead.
SELECTABLE_REGIONS = (SG, BJ, US)

PRICING_URL = "https://www.alibabacloud.com/help/en/model-studio/model-pricing"

# ---------------------------------------------------------------------------------------------
# Size / resolution tables (dashscope-api.md §2.1)
# ---------------------------------------------------------------------------------------------

RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4")

# `size` strings per tier, in §2.1 column order (16:9, 9:16, 1:1, 4:3, 3:4); 480P has no 4:3 / 3:4.
SIZE_TABLE: dict[str, tuple[str, ...]] = {
    "480P": ("832*480", "480*832", "624*624"),
    "720P": ("1280*720", "720*1280", "960*960", "1088*832", "832*1088"),
    "1080P": ("1920*1080", "1080*1920", "1440*1440", "1632*1248", "1248*1632"),
}

# wan2.7 `resolution` + `ratio` output dimensions; the 4:3 sizes differ from the `size` table.
WAN27_DIMENSIONS: dict[tuple[str, str], tuple[int, int]] = {
    ("720P", "16:9"): (1280, 720),
    ("720P", "9:16"): (720, 1280),
    ("720P", "1:1"): (960, 960),
    ("720P", "4:3"): (1104, 832),
    ("720P", "3:4"): (832, 1104),
    ("1080P", "16:9"): (1920, 1080),
    ("1080P", "9:16"): (1080, 1920),
    ("1080P", "1:1"): (1440, 1440),
    ("1080P", "4:3"): (1648, 1248),
    ("1080P", "3:4"): (1248, 1648),
}

# Pixel budget of a resolution tier, for models whose aspect follows the input (§2.1 "tier only").
TIER_PIXELS: dict[str, int] = {"480P": 832 * 480, "720P": 1280 * 720, "1080P": 1920 * 1080}


def sizes_for(*tiers: str) -> tuple[str, ...]:
    """All `size` strings of the given tiers, in table order."""
    return tuple(size for tier in tiers for size in SIZE_TABLE[tier])


def tier_of_size(size: str) -> str | None:
    """The resolution tier ("720P", ...) a `size` string belongs to, or None."""
    for tier, sizes in SIZE_TABLE.items():
        if size in sizes:
            return tier
    return None


def parse_size(size: str) -> tuple[int, int]:
    """'1280*720' -> (1280, 720)."""
    width, _, height = size.partition("*")
    return int(width), int(height)


# ---------------------------------------------------------------------------------------------
# Rules and limits
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DurationRule:
    """Allowed `parameters.duration` values: a set of choices, or an inclusive range plus extras."""

    default: int
    choices: tuple[int, ...] = ()  # discrete values; empty = use min..max
    min: int | None = None
    max: int | None = None
    extra: tuple[int, ...] = ()  # values allowed outside the range (wan2.7-videoedit: 0 = keep input length)
    parameter: bool = True  # False: the model has no duration parameter at all (VACE)
    max_output: int | None = None  # longest possible output when there is no parameter

    @property
    def fixed(self) -> bool:
        """True when only one value is possible (sent anyway, so the cost notice is exact)."""
        return self.parameter and self.choices == (self.default,)

    def allows(self, seconds: int) -> bool:
        if seconds in self.choices or seconds in self.extra:
            return True
        return self.min is not None and self.max is not None and self.min <= seconds <= self.max

    def describe(self) -> str:
        """Human text of what is allowed, e.g. '2-15 s' or '5, 10 s' or 'fixed 5 s'."""
        if not self.parameter:
            return f"no duration parameter (output up to {self.max_output} s)"
        if self.fixed:
            return f"fixed {self.default} s"
        parts = [", ".join(str(c) for c in self.choices)] if self.choices else []
        if self.min is not None and self.max is not None:
            parts.append(f"{self.min}-{self.max}")
        if self.extra:
            parts.insert(0, ", ".join("auto" if c == AUTO_DURATION else str(c) for c in self.extra))
        return " or ".join(parts) + " s"




@dataclass(frozen=True)
class ImageLimits:
    """Limits of an input image. `lenient_*` is the widest documented reading (emulator, §8.4)."""

    min_px: int
    max_px: int
    max_bytes: int
    formats: tuple[str, ...] = ("JPEG", "PNG", "BMP", "WEBP")  # Pillow format names
    max_aspect: float | None = None  # 8.0 = aspect between 1:8 and 8:1
    alpha_allowed: bool = False  # "PNG (no alpha)" everywhere in §2
    lenient_min_px: int | None = None
    lenient_max_px: int | None = None
    lenient_max_bytes: int | None = None

    def px_range(self, lenient: bool = False) -> tuple[int, int]:
        if lenient:
            return (self.lenient_min_px or self.min_px, self.lenient_max_px or self.max_px)
        return (self.min_px, self.max_px)

    def byte_limit(self, lenient: bool = False) -> int:
        return (self.lenient_max_bytes or self.max_bytes) if lenient else self.max_bytes


@dataclass(frozen=True)
class VideoLimits:
    """Limits of an input video (format names are lower-case container extensions)."""

    max_bytes: int
    max_seconds: float
    min_seconds: float = 0.0
    formats: tuple[str, ...] = ("mp4", "mov")
    min_px: int | None = None
    max_px: int | None = None
    max_aspect: float | None = None


@dataclass(frozen=True)
class AudioLimits:
    """Limits of an input audio file."""

    max_bytes: int
    min_seconds: float
    max_seconds: float
    formats: tuple[str, ...] = ("wav", "mp3")


@dataclass(frozen=True)
class ReferenceLimits:
    """How many reference items a request may carry."""

    min_total: int
    max_total: int
    max_images: int
    max_videos: int
    lenient_max_total: int | None = None  # VACE: "extra images ignored" by the API


@dataclass(frozen=True)
class InputLimits:
    """Input limits per slot. A slot is None when the model has no such input."""

    image: ImageLimits | None = None  # img_url / first_frame / last_frame / ref images
    video: VideoLimits | None = None  # video_url / media video
    clip: VideoLimits | None = None  # first_clip (wan2.7-i2v) / first_clip_url, last_clip_url (VACE)
    audio: AudioLimits | None = None  # audio_url / driving_audio
    voice: AudioLimits | None = None  # wan2.7-r2v reference_voice
    reference_video: VideoLimits | None = None  # r2v reference videos
    references: ReferenceLimits | None = None


MB = 1024 * 1024


# ---------------------------------------------------------------------------------------------
# VACE functions (wan2.1-vace-plus) and the wan2.7-videoedit pseudo-function (§2.7)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VaceFunction:
    """One `input.function` of wan2.1-vace-plus: which inputs and parameters it takes."""

    name: str
    required: tuple[str, ...] = ()  # input fields that must be present
    one_of: tuple[str, ...] = ()  # at least one of these input fields
    exactly_one: bool = False  # ... and not more than one (video_edit: mask image OR mask video)
    optional: tuple[str, ...] = ()  # other input fields it accepts
    parameters: tuple[str, ...] = ()  # function-specific parameters (beyond prompt_extend/seed/watermark)
    prompt_required: bool = False
    takes_size: bool = False  # output dims from `size` (else: follow the input video, capped at 720P)


VACE_COMMON_PARAMETERS = ("prompt_extend", "seed", "watermark")

VACE_FUNCTIONS: dict[str, VaceFunction] = {
    f.name: f
    for f in (
        VaceFunction(
            "image_reference",
            required=("ref_images_url",),
            parameters=("obj_or_bg", "size"),
            takes_size=True,
        ),
        VaceFunction(
            "video_repainting",
            required=("video_url",),
            optional=("ref_images_url",),
            parameters=("control_condition", "strength"),
        ),
        VaceFunction(
            "video_edit",
            required=("video_url",),
            one_of=("mask_image_url", "mask_video_url"),
            exactly_one=True,
            optional=("ref_images_url", "mask_frame_id"),
            # control_condition / expand_mode for video_edit come from secondary code only (UNCONFIRMED).
            parameters=("mask_type", "expand_ratio", "size", "control_condition", "expand_mode"),
            takes_size=True,
        ),
        VaceFunction(
            "video_extension",
            one_of=("first_clip_url", "last_clip_url", "first_frame_url", "last_frame_url"),
            prompt_required=True,
        ),
        VaceFunction(
            "video_outpainting",
            required=("video_url",),
            parameters=("top_scale", "bottom_scale", "left_scale", "right_scale"),
        ),
    )
}

# wan2.7-videoedit has no `function` on the wire; qwenvid files it under mode "vace" as "instruct".
INSTRUCT = "instruct"

VACE_FUNCTION_ALIASES: dict[str, str] = {
    "reference": "image_reference",
    "ref": "image_reference",
    "repaint": "video_repainting",
    "repainting": "video_repainting",
    "edit": "video_edit",
    "extend": "video_extension",
    "extension": "video_extension",
    "outpaint": "video_outpainting",
    "outpainting": "video_outpainting",
    "videoedit": INSTRUCT,
    INSTRUCT: INSTRUCT,
    **{name: name for name in VACE_FUNCTIONS},
}


def canonical_vace_function(name: str) -> str | None:
    """'repaint' -> 'video_repainting', 'videoedit' -> 'instruct'; None if unknown."""
    return VACE_FUNCTION_ALIASES.get(name.strip().lower().replace("-", "_"))


# Value sets of VACE parameters (§2.7).
VACE_CONTROL_CONDITIONS = ("posebodyface", "posebody", "depth", "scribble")
VACE_EDIT_CONTROL_CONDITIONS = ("posebodyface", "depth")  # video_edit, secondary source
VACE_MASK_TYPES = ("tracking", "fixed")
VACE_EXPAND_MODES = ("hull", "bbox", "original")
VACE_OBJ_OR_BG = ("obj", "bg")
VACE_SCALE_RANGE = (1.0, 2.0)
VACE_UNIT_RANGE = (0.0, 1.0)  # strength, expand_ratio

# wan2.7-i2v media combinations (§2.6): each type at most once.
WAN27_I2V_COMBINATIONS: tuple[frozenset[str], ...] = (
    frozenset({"first_frame"}),
    frozenset({"first_frame", "driving_audio"}),
    frozenset({"first_frame", "last_frame"}),
    frozenset({"first_frame", "last_frame", "driving_audio"}),
    frozenset({"first_clip"}),
    frozenset({"first_clip", "last_frame"}),
)
# Continuation with driving audio: "reported unsupported by integrators — UNCONFIRMED officially" (§2.6).
# The client refuses it; the emulator (lenient) lets it through.
WAN27_I2V_LENIENT_COMBINATIONS: tuple[frozenset[str], ...] = (frozenset({"first_clip", "driving_audio"}),)

WAN27_R2V_MEDIA_TYPES = ("reference_image", "reference_video", "first_frame")
WAN27_EDIT_MEDIA_TYPES = ("video", "reference_image")
WAN27_EDIT_AUDIO_SETTINGS = ("auto", "origin")

SHOT_TYPES = ("single", "multi")
AUTO_DURATION = -1  # Wan 3.0 "smart duration": the model picks the length (`--duration auto`)
# Wan 3.0 `input.media[].type` values and how many of each (dashscope-api-2026.md §1.2).
WAN3_MEDIA_LIMITS: dict[str, int] = {
    "first_frame": 1,
    "last_frame": 1,
    "reference_image": 10,
    "reference_video": 5,
    "reference_audio": 5,
    "file": 1,
    "link": 1,
}
WAN3_FRAME_TYPES = ("first_frame", "last_frame")
WAN3_REFERENCE_TYPES = ("reference_image", "reference_video", "reference_audio")
WAN3_REFERENCE_SECONDS = 15  # reference videos, and reference audios, each total <= 15 s
# The real FAILED message for frames mixed with references (dashscope-api-2026.md §1.2 [W3-0820]).
WAN3_MODES_EXCLUSIVE = (
    "The two modes are mutually exclusive. Do not pass reference_xx and first_frame/last_frame at the same time."
)
SEED_RANGE = (0, 2147483647)

# Usage shapes the API returns on SUCCEEDED, per family (§3.2). The emulator renders these.
USAGE_STYLES: dict[str, str] = {
    "wan26": "duration, size, input_video_duration, output_video_duration, video_count, SR",
    "wan26_audio_flag": "wan26 + audio (bool) — wan2.6-i2v-flash",
    "r2v26": "duration (float, input+output), size, input_video_duration, output_video_duration, video_count, SR",
    "t2v_legacy": "video_count, video_duration, video_ratio (= size) — wan2.5 and older t2v",
    "i2v22": "duration, SR, video_count — wan2.2/2.5 i2v",
    "i2v21": "video_duration, video_ratio 'standard', video_count — wan2.1 i2v",
    "kf2v22": "video_duration, video_count, SR",
    "kf2v21": "video_duration, video_count, video_ratio 'standard'",
    "vace": "video_duration, video_ratio, video_count (UNCONFIRMED; same family as wan2.1)",
    "wan27": "duration, output_video_duration, SR, ratio, video_count (UNCONFIRMED)",
    "wan30": "video_count, duration (f, in+out), input_video_duration (f), output_video_duration (f), fps, SR, ratio",
    "happyhorse": "duration, input_video_duration (0), output_video_duration, video_count, SR, ratio",
    "happyhorse_i2v": "as happyhorse, without ratio",
    "s2v": "duration (f), size, fps (16), video_count, SR; result at output.results.video_url",
    "animate": "video_duration (f), video_ratio (standard/pro); result at output.results.video_url",
    "happyhorse_edit": "duration (f, in+out), input_video_duration (f), output_video_duration (f), video_count, SR",
}


# ---------------------------------------------------------------------------------------------
# Model specs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """Everything qwenvid knows about one Wan model id."""

    id: str
    mode: Mode
    protocol: Protocol  # "media" = the wan2.7 protocol (resolution/ratio, `input.media[]` where there are inputs)
    endpoint: Endpoint
    resolution_field: ResolutionField
    durations: DurationRule
    prompt_max: int
    audio: AudioKind
    limits: InputLimits
    regions: tuple[str, ...]
    submit_rps: int  # submit requests per second (§4.2)
    concurrency_limit: int  # concurrent running tasks (§4.2)
    usage_style: str
    sizes: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    ratios: tuple[str, ...] = ()
    default_size: str | None = None
    default_resolution: str | None = None
    default_ratio: str | None = None
    prompt_required: bool = False
    negative_prompt_max: int = 500
    audio_url: bool = False  # custom soundtrack (`input.audio_url`)
    shot_type: bool = False
    prompt_extend: bool = True
    templates: bool = False  # effect `input.template`
    functions: tuple[str, ...] = ()  # VACE `input.function` values; ("instruct",) for wan2.7-videoedit
    duration_max_with_reference_video: int | None = None  # wan2.7-r2v: 2-15 s, but 2-10 s with a reference video
    audio_settings: tuple[str, ...] = ()  # wan2.7-videoedit `parameters.audio_setting`
    # Render seconds of the reference output (720P, 5 s, from text): qwenvid/requests/priors.py scales it to the
    # request's duration, size and inputs for the cold estimate and the emulator's realistic mode.
    # 140 s puts 720P/5 s at ~2.3 min and 1080P/15 s at ~9 min, inside the documented 1-5 min / ~10 min (§5).
    typical_seconds: int = 140
    aliases: tuple[str, ...] = ()
    summary: str = ""
    family: str = ""  # the model family `qwenvid models` groups by ("wan2.7", "wan3.0", ...)
    modes: tuple[Mode, ...] = ()  # further modes an all-in-one model serves (Wan 3.0: i2v, kf2v, r2v, vace)
    media_types: tuple[str, ...] = ()  # the `input.media[].type` values it takes, where narrower than its protocol's
    watermark_default: bool = False  # HappyHorse marks its videos unless told not to
    max_total_seconds: int | None = None  # input video + output <= this (Wan 3.0: 30)
    bills_input_video: bool = False  # input video seconds are billed on top of the output (Wan 3.0, HappyHorse edit)
    workspace_only: bool = False  # documented on workspace hosts only (Wan 3.0)
    note: str = ""  # what is unconfirmed about the model, shown by `qwenvid models`

    @property
    def endpoint_path(self) -> str:
        return PATHS[self.endpoint]

    @property
    def rpm_limit(self) -> int:
        """Submit rate limit — requests per SECOND despite the name kept from the contract (§4.2)."""
        return self.submit_rps

    @property
    def can_be_silent(self) -> bool:
        return self.audio in ("silent", "toggle")

    @property
    def has_audio_by_default(self) -> bool:
        return self.audio != "silent"

    def all_ids(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)

    def serves(self, mode: Mode) -> bool:
        """True when the model makes videos of `mode` (its own, or one more of an all-in-one model)."""
        return mode == self.mode or mode in self.modes

    @property
    def duration_auto(self) -> bool:
        """True when `duration` -1 lets the model pick the length (`--duration auto`)."""
        return AUTO_DURATION in self.durations.extra
