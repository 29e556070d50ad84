"""Speech-to-video (wan2.2-s2v) and animate (wan2.2-animate-move/-mix) wire bodies and their checks (§4, §5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NoReturn

from qwenvid.catalogue import ModelSpec
from qwenvid.errors import ValidationError

# `--quality` -> the wire's `parameters.mode`; the usage reports it back as `video_ratio` standard / pro.
ANIMATE_QUALITIES: dict[str, str] = {"std": "wan-std", "pro": "wan-pro"}
ANIMATE_VIDEO_RATIO: dict[str, str] = {"wan-std": "standard", "wan-pro": "pro"}
ANIMATE_KINDS: dict[str, str] = {"move": "wan2.2-animate-move", "mix": "wan2.2-animate-mix"}

# The synchronous face check s2v needs first (§4.1): billed per image whether it passes or not.
FACE_DETECT_MODEL = "wan2.2-s2v-detect"
FACE_DETECT_PATH = "/services/aigc/image2video/face-detect"
FACE_DETECT_UNIT = "image"


def _fail(message: str, field: str, value: object = None, allowed: str | None = None) -> NoReturn:
    error = ValidationError(message, field=field, value=value, allowed=allowed)
    error.code = "InvalidParameter"
    raise error


def _require_url(spec: ModelSpec, inputs: Mapping[str, Any], name: str, what: str) -> None:
    value = inputs.get(name)
    if not isinstance(value, str) or not value.strip():
        _fail(f"Field required: input.{name} ({spec.id} needs {what})", f"input.{name}", value)


def check_s2v(spec: ModelSpec, inputs: Mapping[str, Any], parameters: Mapping[str, Any], lenient: bool) -> None:
    """image_url and audio_url required; `style` (one example only) tolerated by the lenient reading."""
    _require_url(spec, inputs, "image_url", "a photo of the speaker")
    _require_url(spec, inputs, "audio_url", "the speech")
    if "style" in parameters and not lenient:
        _fail(f"parameters.style is not in {spec.id}'s parameter table; leave it out", "parameters.style")


def check_animate(spec: ModelSpec, inputs: Mapping[str, Any], parameters: Mapping[str, Any], lenient: bool) -> None:
    """image_url, video_url and parameters.mode (wan-std | wan-pro) required; watermark sits in `input`."""
    _require_url(spec, inputs, "image_url", "a character image")
    _require_url(spec, inputs, "video_url", "a motion video")
    mode = parameters.get("mode")
    allowed = ", ".join(ANIMATE_QUALITIES.values())
    if mode not in ANIMATE_QUALITIES.values():
        _fail(
            f"parameters.mode {mode!r} is required by {spec.id}; allowed: {allowed}", "parameters.mode", mode, allowed
        )
    for name, where in (("watermark", inputs), ("check_image", parameters)):
        value = where.get(name)
        if value is not None and not isinstance(value, bool):
            place = "input" if where is inputs else "parameters"
            _fail(f"{place}.{name} must be true or false, not {value!r}", f"{place}.{name}", value)
    if "watermark" in parameters and not lenient:
        _fail(f"{spec.id} reads watermark from input, not parameters", "parameters.watermark", parameters["watermark"])


def face_check_body(image_url: str) -> dict[str, Any]:
    return {"model": FACE_DETECT_MODEL, "input": {"image_url": image_url}}
