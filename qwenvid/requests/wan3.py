"""Wan 3.0's all-in-one `input.media[]`: which media types, counts and combinations a body may hold (§1.2)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, NoReturn

from qwenvid.catalogue import (
    AUTO_DURATION,
    WAN3_FRAME_TYPES,
    WAN3_MEDIA_LIMITS,
    WAN3_MODES_EXCLUSIVE,
    ModelSpec,
)
from qwenvid.errors import ValidationError

ALLOWED_COMBINATIONS = (
    "prompt only | first_frame | first_frame+last_frame | any reference_image/video/audio | "
    "file or link (+ references) | reference_video (+ image/audio) to edit or extend"
)


def _fail(message: str, field: str, value: object = None, allowed: str | None = None) -> NoReturn:
    error = ValidationError(message, field=field, value=value, allowed=allowed)
    error.code = "InvalidParameter"
    raise error


def media_types(inputs: Mapping[str, Any]) -> list[str]:
    media = inputs.get("media")
    if not isinstance(media, list):
        return []
    return [str(item.get("type")) for item in media if isinstance(item, Mapping)]


def check_media(spec: ModelSpec, inputs: Mapping[str, Any], parameters: Mapping[str, Any], lenient: bool) -> None:
    """Refuse what the service refuses. Frames mixed with references the real API accepts and then FAILS
    (deferred_failure); the client refuses it here, the emulator (lenient) lets the task fail."""
    media = inputs.get("media")
    if media is None:
        if not inputs.get("prompt"):
            _fail(f"Field required: input.prompt or input.media ({spec.id} needs one of them)", "input.prompt")
        return
    if not isinstance(media, list) or not media:
        _fail(f"input.media must be a non-empty list of {{type, url}} objects for {spec.id}", "input.media", media)
    allowed_types = ", ".join(WAN3_MEDIA_LIMITS)
    for index, item in enumerate(media):
        field = f"input.media[{index}]"
        if not isinstance(item, Mapping):
            _fail(f"{field} must be an object {{type, url}}", field, item)
        if item.get("type") not in WAN3_MEDIA_LIMITS:
            _fail(
                f"{field}.type {item.get('type')!r} is not accepted by {spec.id}; allowed: {allowed_types}",
                f"{field}.type",
                item.get("type"),
                allowed_types,
            )
        url = item.get("url")
        if not isinstance(url, str) or not url.strip():
            _fail(f"{field}.url must be a URL", f"{field}.url", url)
    counts = Counter(media_types(inputs))
    for kind, count in counts.items():
        if count > WAN3_MEDIA_LIMITS[kind]:
            _fail(
                f"input.media holds {count} {kind} items; {spec.id} takes at most {WAN3_MEDIA_LIMITS[kind]}",
                "input.media",
                count,
                f"<= {WAN3_MEDIA_LIMITS[kind]}",
            )
    if counts["last_frame"] and not counts["first_frame"]:
        _fail(
            f"a last_frame needs a first_frame on {spec.id}; allowed: {ALLOWED_COMBINATIONS}",
            "input.media",
            "last_frame",
            ALLOWED_COMBINATIONS,
        )
    if counts["file"] and counts["link"]:
        _fail(f"input.media: file and link cannot be sent together to {spec.id}", "input.media", "file+link")
    if (counts["file"] or counts["link"]) and parameters.get("prompt_extend") is False:
        _fail(
            f"parameters.prompt_extend must be true when input.media holds a file or link ({spec.id})",
            "parameters.prompt_extend",
            False,
        )
    if not lenient and frames_mixed(inputs):
        _fail(f"{WAN3_MODES_EXCLUSIVE} ({spec.id})", "input.media", "+".join(sorted(counts)), ALLOWED_COMBINATIONS)


def frames_mixed(inputs: Mapping[str, Any]) -> bool:
    """Frames together with references, file or link: the combination Wan 3.0 answers with a FAILED task."""
    types = set(media_types(inputs))
    return bool(types & set(WAN3_FRAME_TYPES)) and bool(types - set(WAN3_FRAME_TYPES))


def check_total_seconds(spec: ModelSpec, duration: object, input_video_seconds: float) -> None:
    """Input video + output <= max_total_seconds (Wan 3.0: 30 s), checked once the inputs' lengths are known."""
    limit = spec.max_total_seconds
    if limit is None or not input_video_seconds or not isinstance(duration, int) or duration == AUTO_DURATION:
        return
    if input_video_seconds + duration > limit:
        room = max(0, int(limit - input_video_seconds))
        raise ValidationError(
            f"--duration {duration} with {input_video_seconds:.1f} s of input video is more than {spec.id}'s "
            f"{limit} s in total (input + output); allowed: at most {room} s, or --duration auto",
            field="--duration",
            value=duration,
            allowed=f"<= {room}",
        )
