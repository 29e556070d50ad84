"""What a task's result video is made from: its input media, output size, duration and audio."""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

import av
import httpx

from qwenvid.catalogue import ModelSpec, guess_kind, output_dimensions
from qwenvid.emulator.render import RenderJob

Fetch = Callable[[str], bytes | None]
MAX_REMOTE_BYTES = 50 * 1024 * 1024
REMOTE_TIMEOUT = 3.0
REMOTE_DEADLINE = 20.0
DEFAULT_SECONDS = 5.0
SDK_ROUTING_FUNCTION = "video-synthesis"  # the SDK's leftover `input.function`, never a VACE function


@dataclass(frozen=True)
class Plan:
    """A task's render job plus the facts the usage block reports."""

    job: RenderJob
    reference_video_seconds: float = 0.0


@dataclass(frozen=True)
class _Video:
    width: int
    height: int
    seconds: float
    first_frame: bytes | None


def decode_data_uri(url: str) -> bytes | None:
    """The bytes of a `data:` URI (base64 or percent-encoded); None if it is malformed."""
    header, sep, payload = url.partition(",")
    if not sep:
        return None
    if header.endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError):
            return None
    return unquote_to_bytes(payload)


def fetch_remote(url: str) -> bytes | None:
    """A short, bounded GET of a public input URL; None on any failure (the emulator stays lenient)."""
    from qwenvid.wire.deadlines import bounded, bounded_transport

    try:
        # A whole-fetch deadline, not only per read: a host that trickles bytes must not hold a render forever.
        with bounded(REMOTE_DEADLINE), httpx.Client(transport=bounded_transport()) as client, client.stream(
            "GET", url, timeout=REMOTE_TIMEOUT, follow_redirects=True, headers={"User-Agent": "DashScopeUserBot"}
        ) as response:
            if response.status_code != 200:
                return None
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_REMOTE_BYTES:
                    return None
                chunks.append(chunk)
            return b"".join(chunks)
    except (httpx.HTTPError, OSError, ValueError):
        return None


def image_size(data: bytes | None) -> tuple[int, int] | None:
    if not data:
        return None
    from qwenvid.errors import ValidationError
    from qwenvid.media.safe_open import open_image

    try:
        with open_image(io.BytesIO(data), field="upload") as image:  # the header only; no bomb warning
            return tuple(image.size)
    except ValidationError:
        return None


def _probe_video(data: bytes | None) -> _Video | None:
    """Size, length and first frame (PNG) of an input video; None if it cannot be read."""
    if not data:
        return None
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            stream = container.streams.video[0]
            seconds = float(container.duration) / av.time_base if container.duration else 0.0
            first = None
            for frame in container.decode(stream):
                buffer = io.BytesIO()
                frame.to_image().save(buffer, format="PNG")
                first = buffer.getvalue()
                break
            return _Video(stream.width, stream.height, seconds, first)
    except (av.error.FFmpegError, IndexError, OSError, ValueError):
        return None


def _media(inputs: Mapping[str, Any], kind: str) -> str | None:
    for item in inputs.get("media") or []:
        if isinstance(item, Mapping) and item.get("type") == kind and isinstance(item.get("url"), str):
            return str(item["url"])
    return None


def _roles(spec: ModelSpec, inputs: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(first image, last image, input video) URLs, per model protocol."""
    if spec.protocol == "media":
        video = _media(inputs, "first_clip") or _media(inputs, "video")
        return _media(inputs, "first_frame"), _media(inputs, "last_frame"), video
    if spec.mode == "i2v":
        return inputs.get("img_url"), None, None
    if spec.mode == "kf2v":
        return inputs.get("first_frame_url"), inputs.get("last_frame_url"), None
    if spec.mode == "vace":
        video = inputs.get("video_url") or inputs.get("first_clip_url") or inputs.get("last_clip_url")
        return inputs.get("first_frame_url"), inputs.get("last_frame_url"), video
    return None, None, None


def _reference_videos(spec: ModelSpec, inputs: Mapping[str, Any]) -> list[str]:
    if spec.mode != "r2v":
        return []
    if spec.protocol == "media":
        return [str(item["url"]) for item in inputs.get("media") or []
                if isinstance(item, Mapping) and item.get("type") == "reference_video" and item.get("url")]
    urls = [*(inputs.get("reference_urls") or []), *(inputs.get("reference_video_urls") or [])]
    return [url for url in urls if isinstance(url, str) and guess_kind(url) == "video"]


def _label(spec: ModelSpec, inputs: Mapping[str, Any]) -> str:
    function = inputs.get("function")
    if spec.mode == "vace" and isinstance(function, str) and function != SDK_ROUTING_FUNCTION:
        return f"{spec.mode} · {function}"
    return spec.mode


def _seed_label(parameters: Mapping[str, Any]) -> str:
    """A given seed shows in the frames: takes (seed, seed+1, ...) are told apart, as the service's would be."""
    seed = parameters.get("seed")
    return f" · seed {seed}" if isinstance(seed, int) and not isinstance(seed, bool) else ""


def _seconds(spec: ModelSpec, parameters: Mapping[str, Any], video: _Video | None) -> float:
    rule = spec.durations
    if not rule.parameter:  # VACE: up to max_output, or the input video's length when shorter
        cap = float(rule.max_output or DEFAULT_SECONDS)
        return min(cap, round(video.seconds)) if video and video.seconds >= 1 else cap
    duration = parameters.get("duration", rule.default)
    if not isinstance(duration, int | float) or isinstance(duration, bool):
        duration = rule.default
    if duration == 0:  # wan2.7-videoedit: keep the input's length
        if video and video.seconds >= 1:
            return float(min(max(round(video.seconds), rule.min or 1), rule.max or 10))
        return DEFAULT_SECONDS
    return float(duration)


def has_audio(spec: ModelSpec, parameters: Mapping[str, Any]) -> bool:
    """Whether the model makes a soundtrack for these parameters."""
    if spec.audio == "always":
        return True
    return spec.audio == "toggle" and parameters.get("audio") is not False


def plan_render(spec: ModelSpec, body: Mapping[str, Any], fetch: Fetch) -> Plan:
    """Everything the render needs for this submit body; `fetch` turns an input URL into bytes."""
    inputs: Mapping[str, Any] = body.get("input") or {}
    parameters: Mapping[str, Any] = body.get("parameters") or {}
    first_url, last_url, video_url = _roles(spec, inputs)
    first = fetch(first_url) if isinstance(first_url, str) else None
    last = fetch(last_url) if isinstance(last_url, str) else None
    video = _probe_video(fetch(video_url)) if isinstance(video_url, str) else None
    if first is None and video is not None:
        first = video.first_frame
    input_wh = image_size(first) or ((video.width, video.height) if video else None)
    width, height = output_dimensions(
        spec,
        size=_text(parameters.get("size")),
        resolution=_text(parameters.get("resolution")),
        ratio=_text(parameters.get("ratio")),
        input_wh=input_wh,
    )
    reference_seconds = 0.0
    for url in _reference_videos(spec, inputs):
        probed = _probe_video(fetch(url))
        reference_seconds += probed.seconds if probed else 0.0
    job = RenderJob(
        model=str(body.get("model", spec.id)),
        prompt=str(inputs.get("prompt") or ""),
        width=width,
        height=height,
        # video_extension always makes 5 s (dashscope-api.md §2.7); the other functions follow their input video.
        seconds=_seconds(spec, parameters, None if inputs.get("function") == "video_extension" else video),
        audio=has_audio(spec, parameters),
        first_image=first,
        last_image=last,
        label=_label(spec, inputs) + _seed_label(parameters),
    )
    return Plan(job, round(reference_seconds, 3))


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
