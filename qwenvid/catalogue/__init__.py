"""The Wan video model catalogue as data (dashscope-api.md §2, §4.2, §7), shared by client and emulator."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Mode = Literal["t2v", "i2v", "kf2v", "r2v", "vace"]
Endpoint = Literal["video-generation", "image2video"]
Protocol = Literal["legacy", "media"]
ResolutionField = Literal["size", "resolution", "resolution+ratio"]
AudioKind = Literal["silent", "always", "toggle"]
MediaKind = Literal["image", "video", "audio"]

MODES: tuple[Mode, ...] = ("t2v", "i2v", "kf2v", "r2v", "vace")

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
            parts.insert(0, ", ".join(str(c) for c in self.extra))
        return " or ".join(parts) + " s"


def _range(lo: int, hi: int, default: int = 5) -> DurationRule:
    return DurationRule(default=default, min=lo, max=hi)


def _choices(*values: int, default: int = 5) -> DurationRule:
    return DurationRule(default=default, choices=values)


FIXED_5 = _choices(5)


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

# §2.3 [D-I2V] says [360, 2000] px / 10 MB; wrappers report [240, 8000] / 20 MB for wan2.6-i2v-flash (§2.3, §8.4).
LEGACY_I2V_IMAGE = ImageLimits(
    min_px=360, max_px=2000, max_bytes=10 * MB, lenient_min_px=240, lenient_max_px=8000, lenient_max_bytes=20 * MB
)
# §2.4: the current kf2v page says [240, 8000]; an older copy of the same page says [360, 2000] (§8.4).
KF2V_IMAGE = ImageLimits(min_px=360, max_px=2000, max_bytes=10 * MB, lenient_min_px=240, lenient_max_px=8000)
R2V26_IMAGE = ImageLimits(min_px=240, max_px=5000, max_bytes=10 * MB)  # §2.5 [D-R2V]
WAN27_IMAGE = ImageLimits(min_px=240, max_px=8000, max_bytes=20 * MB, max_aspect=8.0)  # §2.6 [RELAY-i2v27]
# VACE image limits are not in §2.7; the legacy i2v reading is the closest documented one.
VACE_IMAGE = LEGACY_I2V_IMAGE

SOUNDTRACK = AudioLimits(max_bytes=15 * MB, min_seconds=3, max_seconds=30)  # audio_url wan2.5/2.6 (§2.2)
WAN27_SOUNDTRACK = AudioLimits(max_bytes=15 * MB, min_seconds=2, max_seconds=30)  # wan2.7-t2v (§2.2, secondary)
DRIVING_AUDIO = AudioLimits(max_bytes=15 * MB, min_seconds=2, max_seconds=30)  # §2.6
REFERENCE_VOICE = AudioLimits(max_bytes=15 * MB, min_seconds=1, max_seconds=10)  # §2.5 wan2.7-r2v [3P]

WAN27_CLIP = VideoLimits(max_bytes=100 * MB, min_seconds=2, max_seconds=10, min_px=240, max_px=4096)  # §2.6
WAN27_EDIT_VIDEO = VideoLimits(
    max_bytes=100 * MB, min_seconds=2, max_seconds=10, min_px=240, max_px=4096, max_aspect=8.0
)  # §2.7
R2V_REFERENCE_VIDEO = VideoLimits(max_bytes=100 * MB, min_seconds=1, max_seconds=30)  # §2.5
VACE_VIDEO = VideoLimits(max_bytes=50 * MB, max_seconds=5, formats=("mp4",))  # §2.7 video_repainting: MP4 <=50 MB <=5 s
VACE_CLIP = VideoLimits(max_bytes=50 * MB, max_seconds=3, formats=("mp4",))  # video_extension clips <=3 s

LEGACY_I2V_LIMITS = InputLimits(image=LEGACY_I2V_IMAGE)
LEGACY_I2V_AUDIO_LIMITS = InputLimits(image=LEGACY_I2V_IMAGE, audio=SOUNDTRACK)


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


VACE_LIMITS = InputLimits(
    image=VACE_IMAGE,
    video=VACE_VIDEO,
    clip=VACE_CLIP,
    references=ReferenceLimits(min_total=0, max_total=3, max_images=3, max_videos=0, lenient_max_total=64),
)

MODELS: tuple[ModelSpec, ...] = (
    # ---- text-to-video (§2.2) ----
    ModelSpec(
        id="wan2.7-t2v",
        mode="t2v",
        protocol="media",  # no media inputs in t2v; "media" marks the wan2.7 protocol (resolution + ratio)
        endpoint="video-generation",
        resolution_field="resolution+ratio",
        resolutions=("720P", "1080P"),
        ratios=RATIOS,
        default_resolution="1080P",  # skill injects 1080P (also the API default)
        default_ratio="16:9",
        durations=_range(2, 15),
        prompt_max=5000,
        prompt_required=True,
        audio="always",
        audio_url=True,
        limits=InputLimits(audio=WAN27_SOUNDTRACK),
        regions=(SG, BJ),
        submit_rps=5,
        concurrency_limit=5,
        usage_style="wan27",
        aliases=("wan2.7-t2v-2026-04-25", "wan2.7-t2v-2026-06-12"),  # 2026-06-12: secondary sources only
        summary="audio (auto or custom), resolution + ratio, 2-15 s, multi-shot described in the prompt",
    ),
    ModelSpec(
        id="wan2.6-t2v",
        mode="t2v",
        protocol="legacy",
        endpoint="video-generation",
        resolution_field="size",
        sizes=sizes_for("720P", "1080P"),
        default_size="1920*1080",  # API default; the skill injects none for t2v
        # Dec-2025 doc says 5/10/15; newer pages and the skill say int 2-15 (§8.1). Client and emulator: 2-15.
        durations=_range(2, 15),
        prompt_max=1500,
        prompt_required=True,
        audio="always",
        audio_url=True,
        shot_type=True,
        limits=InputLimits(audio=SOUNDTRACK),
        regions=(SG, BJ, US, FRA),
        submit_rps=5,
        concurrency_limit=5,
        usage_style="wan26",
        aliases=("wan2.6-t2v-us",),
        summary="audio, multi-shot, 720P/1080P sizes, 2-15 s",
    ),
    ModelSpec(
        id="wan2.5-t2v-preview",
        mode="t2v",
        protocol="legacy",
        endpoint="video-generation",
        resolution_field="size",
        sizes=sizes_for("480P", "720P", "1080P"),
        default_size="1920*1080",
        durations=_choices(5, 10),
        prompt_max=1500,
        prompt_required=True,
        audio="always",
        audio_url=True,
        limits=InputLimits(audio=SOUNDTRACK),
        regions=(SG, BJ),
        submit_rps=5,
        concurrency_limit=5,
        usage_style="t2v_legacy",
        summary="audio, 480P/720P/1080P sizes, 5 or 10 s",
    ),
    ModelSpec(
        id="wan2.2-t2v-plus",
        mode="t2v",
        protocol="legacy",
        endpoint="video-generation",
        resolution_field="size",
        sizes=sizes_for("480P", "1080P"),
        default_size="1920*1080",
        durations=FIXED_5,
        prompt_max=800,
        prompt_required=True,
        audio="silent",
        limits=InputLimits(),
        regions=(SG, BJ),
        submit_rps=2,
        concurrency_limit=2,
        usage_style="t2v_legacy",
        summary="silent, 480P/1080P sizes, 5 s",
    ),
    ModelSpec(
        id="wan2.1-t2v-turbo",
        typical_seconds=85,  # flash/turbo: sold as the fast tier; assumed ~0.6x (not documented)
        mode="t2v",
        protocol="legacy",
        endpoint="video-generation",
        resolution_field="size",
        sizes=sizes_for("480P", "720P"),
        default_size="1280*720",
        durations=FIXED_5,
        prompt_max=800,
        prompt_required=True,
        audio="silent",
        limits=InputLimits(),
        regions=(SG, BJ),
        submit_rps=2,
        concurrency_limit=2,
        usage_style="t2v_legacy",
        aliases=("wanx2.1-t2v-turbo",),  # Beijing name
        summary="silent, 480P/720P sizes, 5 s",
    ),
    ModelSpec(
        id="wan2.1-t2v-plus",
        mode="t2v",
        protocol="legacy",
        endpoint="video-generation",
        resolution_field="size",
        sizes=sizes_for("720P"),
        default_size="1280*720",
        durations=FIXED_5,
        prompt_max=800,
        prompt_required=True,
        audio="silent",
        limits=InputLimits(),
        regions=(SG, BJ),
        submit_rps=2,
        concurrency_limit=2,
        usage_style="t2v_legacy",
        aliases=("wanx2.1-t2v-plus",),  # Beijing name
        summary="silent, 720P sizes, 5 s",
    ),
    # ---- image-to-video (§2.3, §2.6) ----
    ModelSpec(
        id="wan2.7-i2v",
        mode="i2v",
        protocol="media",
        endpoint="video-generation",
        resolution_field="resolution",  # aspect follows the input media; no ratio
        resolutions=("720P", "1080P"),
        default_resolution="1080P",
        durations=_range(2, 15),
        prompt_max=5000,
        audio="always",  # auto-generated sound, or `driving_audio`
        limits=InputLimits(image=WAN27_IMAGE, clip=WAN27_CLIP, audio=DRIVING_AUDIO),
        regions=(SG, BJ),
        submit_rps=5,
        concurrency_limit=5,
        usage_style="wan27",
        aliases=("wan2.7-i2v-2026-04-25",),
        summary="first frame, first+last frame, continuation (first clip), driving audio; 720P/1080P, 2-15 s",
    ),
    ModelSpec(
        id="wan2.6-i2v-flash",
        typical_seconds=85,  # flash/turbo: sold as the fast tier; assumed ~0.6x (not documented)
        mode="i2v",
        protocol="legacy",
        endpoint="video-generation",
        resolution_field="resolution",
        resolutions=("720P", "1080P"),
        default_resolution="720P",  # skill injects 720P (API default 1080P)
        durations=_range(2, 15),
        prompt_max=1500,
        audio="toggle",  # `parameters.audio` bool, default true; false = silent output, silent billing
        audio_url=True,
        shot_type=True,
        limits=LEGACY_I2V_AUDIO_LIMITS,
        regions=(SG, BJ),
        submit_rps=5,
        concurrency_limit=5,
        usage_style="wan26_audio_flag",
        summary="audio or silent, multi-shot, 720P/1080P, 2-15 s",
    ),
    ModelSpec(
        id="wan2.6-i2v",
        mode="i2v",
        protocol="legacy",
        endpoint="video-generation",
        resolution_field="resolution",
        resolutions=("720P", "1080P"),
        default_resolution="720P",  # skill injects 720P
        durations=_range(2, 15),  # Jan-2026 doc: 5/10/15; skill and newer pages: 2-15 (§8.1)
        prompt_max=1500,
        audio="always",
        audio_url=True,
        shot_type=True,
        limits=LEGACY_I2V_AUDIO_LIMITS,
        regions=(SG, BJ, US, FRA),
        submit_rps=5,
        concurrency_limit=5,
        usage_style="wan26",
        aliases=("wan2.6-i2v-us",),
        summary="audio, multi-shot, 720P/1080P, 2-15 s",
    ),
    ModelSpec(
        id="wan2.5-i2v-preview",
        mode="i2v",
        protocol="legacy",
        endpoint="video-generation",
        resolution_field="resolution",
        resolutions=("480P", "720P", "1080P"),
        default_resolution="720P",  # skill injects 720P
        durations=_choices(5, 10),
        prompt_max=1500,
        audio="always",
        audio_url=True,
        limits=LEGACY_I2V_AUDIO_LIMITS,
        regions=(SG, BJ),
        submit_rps=5,
        concurrency_limit=5,
        usage_style="i2v22",
        summary="audio, 480P/720P/1080P, 5 or 10 s",
    ),
    ModelSpec(
        id="wan2.2-i2v-flash",
        typical_seconds=85,  # flash/turbo: sold as the fast tier; assumed ~0.6x (not documented)
        mode="i2v",
        protocol="legacy",
        endpoint="video-generation",
        resolution_field="resolution",
        resolutions=("480P", "720P", "1080P"),
        default_resolution="720P",
        durations=FIXED_5,
        prompt_max=800,
        audio="silent",
        limits=LEGACY_I2V_LIMITS,
        regions=(BJ,),  # not in the Singapore rate-limit table (§7)
        submit_rps=2,
        concurrency_limit=2,
        usage_style="i2v22",
        summary="silent, 480P/720P/1080P, 5 s",
    ),
    ModelSpec(
        id="wan2.2-i2v-plus",
        mode="i2v",
        protocol="legacy",
        endpoint="video-generation",
        resolution_field="resolution",
        resolutions=("480P", "1080P"),
        default_resolution="1080P",  # the skill's 720P is not offered by this model; API default instead
        durations=FIXED_5,
        prompt_max=800,
        audio="silent",
        limits=LEGACY_I2V_LIMITS,
        regions=(SG, BJ),
        submit_rps=2,
        concurrency_limit=2,
        usage_style="i2v22",
        summary="silent, 480P/1080P, 5 s",
    ),
    ModelSpec(
        id="wan2.1-i2v-turbo",
        typical_seconds=85,  # flash/turbo: sold as the fast tier; assumed ~0.6x (not documented)
        mode="i2v",
        protocol="legacy",
        endpoint="video-generation",
        resolution_field="resolution",
        resolutions=("480P", "720P"),
        default_resolution="720P",
        durations=_choices(3, 4, 5),
        prompt_max=800,
        audio="silent",
        templates=True,
        limits=LEGACY_I2V_LIMITS,
        regions=(SG, BJ),
        submit_rps=2,
        concurrency_limit=2,
        usage_style="i2v21",
        aliases=("wanx2.1-i2v-turbo",),
        summary="silent, 480P/720P, 3-5 s, effect templates",
    ),
    ModelSpec(
        id="wan2.1-i2v-plus",
        mode="i2v",
        protocol="legacy",
        endpoint="video-generation",
        resolution_field="resolution",
        resolutions=("720P",),
        default_resolution="720P",
        durations=FIXED_5,
        prompt_max=800,
        audio="silent",
        limits=LEGACY_I2V_LIMITS,
        regions=(SG, BJ),
        submit_rps=2,
        concurrency_limit=2,
        usage_style="i2v21",
        aliases=("wanx2.1-i2v-plus",),
        summary="silent, 720P, 5 s",
    ),
    # ---- first + last frame (§2.4) ----
    ModelSpec(
        id="wan2.2-kf2v-flash",
        typical_seconds=85,  # flash/turbo: sold as the fast tier; assumed ~0.6x (not documented)
        mode="kf2v",
        protocol="legacy",
        endpoint="image2video",
        resolution_field="resolution",
        resolutions=("480P", "720P", "1080P"),
        default_resolution="720P",
        durations=FIXED_5,  # fixed; the skill always sends duration 5
        prompt_max=800,
        audio="silent",
        templates=True,
        limits=InputLimits(image=KF2V_IMAGE),
        regions=(BJ, SG),  # SG UNCONFIRMED (§8.3) but the skill's default there
        submit_rps=2,
        concurrency_limit=2,
        usage_style="kf2v22",
        summary="silent, 480P/720P/1080P, fixed 5 s",
    ),
    ModelSpec(
        id="wan2.1-kf2v-plus",
        mode="kf2v",
        protocol="legacy",
        endpoint="image2video",
        resolution_field="resolution",
        resolutions=("720P",),
        default_resolution="720P",
        durations=FIXED_5,
        prompt_max=800,
        audio="silent",
        templates=True,
        limits=InputLimits(image=KF2V_IMAGE),
        regions=(SG, BJ),
        submit_rps=1,  # Singapore: 1 RPS / 2 concurrent; Beijing 2/2 — keep the stricter
        concurrency_limit=2,
        usage_style="kf2v21",
        aliases=("wanx2.1-kf2v-plus",),  # Beijing name
        summary="silent, 720P, fixed 5 s, effect templates",
    ),
    # ---- reference-to-video (§2.5) ----
    ModelSpec(
        id="wan2.7-r2v",
        mode="r2v",
        protocol="media",
        endpoint="video-generation",
        resolution_field="resolution+ratio",
        resolutions=("720P", "1080P"),
        ratios=RATIOS,
        default_resolution="1080P",  # decision: wan2.7 default 1080P (= API default)
        default_ratio=None,  # API default 16:9; ignored when a first_frame is given, so not sent unless asked
        durations=_range(2, 15),
        duration_max_with_reference_video=10,
        prompt_max=5000,
        prompt_required=True,
        audio="always",
        limits=InputLimits(
            image=WAN27_IMAGE,
            reference_video=R2V_REFERENCE_VIDEO,
            voice=REFERENCE_VOICE,
            references=ReferenceLimits(min_total=1, max_total=5, max_images=5, max_videos=5),
        ),
        regions=(SG, BJ),
        submit_rps=5,
        concurrency_limit=5,
        usage_style="wan27",
        aliases=("wan2.7-r2v-2026-06-12",),  # secondary sources only
        summary="reference images+videos (<=5), voice per reference, optional first frame, 2-15 s",
    ),
    ModelSpec(
        id="wan2.6-r2v",
        mode="r2v",
        protocol="legacy",
        endpoint="video-generation",
        resolution_field="size",
        sizes=sizes_for("720P", "1080P"),
        default_size="1280*720",  # skill injects 1280*720 (API default 1920*1080)
        durations=_range(2, 10),
        prompt_max=1500,
        prompt_required=True,
        audio="always",
        shot_type=True,
        prompt_extend=False,  # not documented for r2v: never sent
        limits=InputLimits(
            image=R2V26_IMAGE,
            reference_video=R2V_REFERENCE_VIDEO,
            references=ReferenceLimits(min_total=1, max_total=5, max_images=5, max_videos=3),
        ),
        regions=(SG, BJ, US, FRA),
        submit_rps=5,
        concurrency_limit=5,
        usage_style="r2v26",
        summary="reference images (<=5) / videos (<=3), audio, multi-shot, 2-10 s",
    ),
    ModelSpec(
        id="wan2.6-r2v-flash",
        typical_seconds=85,  # flash/turbo: sold as the fast tier; assumed ~0.6x (not documented)
        mode="r2v",
        protocol="legacy",
        endpoint="video-generation",
        resolution_field="size",
        sizes=sizes_for("720P", "1080P"),
        default_size="1280*720",
        durations=_range(2, 10),
        prompt_max=1500,
        prompt_required=True,
        audio="toggle",
        shot_type=True,
        prompt_extend=False,
        limits=InputLimits(
            image=R2V26_IMAGE,
            reference_video=R2V_REFERENCE_VIDEO,
            references=ReferenceLimits(min_total=1, max_total=5, max_images=5, max_videos=3),
        ),
        regions=(SG, BJ),
        submit_rps=5,
        concurrency_limit=5,
        usage_style="r2v26",
        summary="reference images/videos, audio or silent, multi-shot, 2-10 s",
    ),
    # ---- video editing (§2.7) ----
    ModelSpec(
        id="wan2.1-vace-plus",
        mode="vace",
        protocol="legacy",
        endpoint="video-generation",
        resolution_field="size",  # only image_reference and video_edit take `size`
        sizes=sizes_for("720P"),
        default_size="1280*720",
        durations=DurationRule(default=5, parameter=False, max_output=5),
        prompt_max=800,
        audio="silent",
        limits=VACE_LIMITS,
        functions=tuple(VACE_FUNCTIONS),
        regions=(SG, BJ),
        submit_rps=2,
        concurrency_limit=2,
        usage_style="vace",
        typical_seconds=450,  # VACE takes 5-10 min (§5): 7.5 min for its 5 s at 720P
        aliases=("wanx2.1-vace-plus",),  # Beijing name
        summary="5 functions: image_reference, video_repainting, video_edit, video_extension, video_outpainting",
    ),
    ModelSpec(
        id="wan2.7-videoedit",
        mode="vace",  # qwenvid files it under vace as the pseudo-function "instruct" (alias "videoedit")
        protocol="media",
        endpoint="video-generation",
        resolution_field="resolution+ratio",
        resolutions=("720P", "1080P"),
        ratios=RATIOS,
        default_resolution="1080P",
        default_ratio=None,  # API default: the input video's ratio
        durations=DurationRule(default=0, min=2, max=10, extra=(0,)),  # 0 = keep the full input length
        prompt_max=5000,
        audio="always",
        audio_settings=WAN27_EDIT_AUDIO_SETTINGS,
        functions=(INSTRUCT,),
        # ReferenceLimits: 4 reference images per [D-EDIT] and [RELAY]; the [ACS] summary's 3 is not used.
        limits=InputLimits(
            video=WAN27_EDIT_VIDEO,
            image=WAN27_IMAGE,
            references=ReferenceLimits(min_total=0, max_total=4, max_images=4, max_videos=0),
        ),
        regions=(SG, BJ),
        submit_rps=5,
        concurrency_limit=5,
        usage_style="wan27",
        summary="instruction editing / style transfer of a 2-10 s video, up to 4 reference images",
    ),
)

DEFAULT_MODELS: dict[Mode, str] = {
    "t2v": "wan2.6-t2v",
    "i2v": "wan2.6-i2v-flash",
    "kf2v": "wan2.2-kf2v-flash",
    "r2v": "wan2.6-r2v-flash",
    "vace": "wan2.1-vace-plus",
}
DEFAULT_INSTRUCT_MODEL = "wan2.7-videoedit"

_BY_ID: dict[str, ModelSpec] = {model_id: spec for spec in MODELS for model_id in spec.all_ids()}


def get_model(model_id: str) -> ModelSpec | None:
    """The spec for a model id or alias; None for ids the catalogue does not know."""
    return _BY_ID.get(model_id.strip())


def models_for_mode(mode: Mode) -> list[ModelSpec]:
    """Every model of a mode, the default model first, then catalogue order."""
    default = DEFAULT_MODELS[mode]
    specs = [spec for spec in MODELS if spec.mode == mode]
    return sorted(specs, key=lambda spec: spec.id != default)


def all_model_ids() -> list[str]:
    """Every id the catalogue accepts, aliases included."""
    return list(_BY_ID)


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
        if chosen_ratio is None and input_wh is not None:
            return scale_to_tier(tier, input_wh)
        return WAN27_DIMENSIONS[(tier, chosen_ratio or "16:9")]
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
        return min(cap, input_video_seconds) if input_video_seconds else cap
    seconds = float(rule.default if duration is None else duration)
    if seconds == 0 and 0 in rule.extra:
        seconds = input_video_seconds if input_video_seconds else float(rule.max or 0)
    if spec.mode == "r2v":
        seconds += reference_video_seconds
    return seconds


def resolution_tier(spec: ModelSpec, *, size: str | None = None, resolution: str | None = None) -> str:
    """The billing tier ("480P" / "720P" / "1080P") of a request, for the cost notice."""
    if spec.resolution_field == "size":
        return tier_of_size(size or spec.default_size or "") or "720P"
    return resolution or spec.default_resolution or "720P"


def _check_catalogue(models: Mapping[str, ModelSpec]) -> None:
    """Fail at import time if the data contradicts itself (ids unique, defaults allowed)."""
    ids = [model_id for spec in MODELS for model_id in spec.all_ids()]
    if len(ids) != len(set(ids)):
        raise RuntimeError("duplicate model id in the catalogue")
    for spec in MODELS:
        if spec.default_size and spec.default_size not in spec.sizes:
            raise RuntimeError(f"{spec.id}: default size not allowed")
        if spec.default_resolution and spec.default_resolution not in spec.resolutions:
            raise RuntimeError(f"{spec.id}: default resolution not allowed")
        if spec.durations.parameter and not spec.durations.allows(spec.durations.default):
            raise RuntimeError(f"{spec.id}: default duration not allowed")
    for mode, model_id in DEFAULT_MODELS.items():
        if models.get(model_id) is None or models[model_id].mode != mode:
            raise RuntimeError(f"default model {model_id} is not a {mode} model")


_check_catalogue(_BY_ID)


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
