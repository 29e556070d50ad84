"""The long-video recipe as a plan: chain segments after a video until it is long enough, join, score.

Methods (dashscope-api.md §2.6, §2.7):
  continue    wan2.7-i2v clip continuation from the previous segment's last 3 s (the default)
  vace        wan2.1-vace-plus video_extension from the previous segment's last 3 s (5 s segments)
  last-frame  image-to-video from the previous segment's last frame
  wan3        Wan 3.0 video extension: the previous segment's last 3 s as a reference_video (billed as input),
              `ratio` adaptive, input + output <= 30 s per segment
Each new segment is taken to be new footage of its `duration`; the joined film is trimmed to the target.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qwenvid.errors import ValidationError

METHODS = ("continue", "vace", "last-frame", "wan3")
DEFAULT_MODEL = {
    "continue": "wan2.7-i2v",
    "vace": "wan2.1-vace-plus",
    "last-frame": "wan2.6-i2v",
    "wan3": "wan3.0-video",
}
# Seconds of the previous segment handed to the next one (VACE takes at most 3 s; wan2.7-i2v at least 2 s).
TAIL_SECONDS = 3.0
MAX_SEGMENTS = 60


@dataclass
class ExtendRequest:
    video: Path
    target_seconds: float
    prompts: list[str]
    method: str = "continue"
    model: str | None = None
    segment_seconds: int | None = None
    resolution: str | None = None
    audio: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source_size: tuple[int, int] | None = None  # width, height of `video` (picks a size of the same shape)


TIER_ORDER = ("480P", "720P", "1080P")


def source_tier(width: int, height: int) -> str:
    """The resolution tier a video of this size is in (the smallest tier holding its pixels)."""
    from qwenvid.catalogue import TIER_PIXELS

    pixels = width * height
    for tier in TIER_ORDER:
        if pixels <= TIER_PIXELS[tier] * 1.05:  # 5 %: encoders round sizes to even numbers
            return tier
    return TIER_ORDER[-1]


def model_tiers(model: str) -> tuple[str, ...]:
    """The tiers a model can make, lowest first (empty for a model the catalogue does not know)."""
    from qwenvid.catalogue import get_model, tier_of_size

    spec = get_model(model)
    if spec is None:
        return ()
    found = set(spec.resolutions) | {tier for size in spec.sizes if (tier := tier_of_size(size))}
    return tuple(tier for tier in TIER_ORDER if tier in found)


def segment_tier(request: ExtendRequest, width: int, height: int) -> tuple[str | None, str | None]:
    """The tier new segments are made at, and a one-line note when it is not the source's own.

    The source's tier by default (segments joined to a 720P clip are not worth paying 1080P for); when the
    model lacks it, the nearest tier above (below only when there is none above). `--resolution` wins.
    """
    if request.resolution:
        return request.resolution, None
    model = request.model or DEFAULT_MODEL.get(request.method, "")
    own = source_tier(width, height)
    tiers = model_tiers(model)
    if not tiers or own in tiers:
        return own, None
    above = [t for t in tiers if TIER_ORDER.index(t) > TIER_ORDER.index(own)]
    chosen = above[0] if above else tiers[-1]
    return chosen, f"{model} makes no {own} (the source's tier); new segments are made at {chosen}."


def tier_field(spec: Any, tier: str, source_size: tuple[int, int] | None) -> dict[str, str]:
    """The request field that asks for `tier`: `resolution`, or for a `size` model the size of that tier
    whose shape is closest to the source's."""
    from qwenvid.catalogue import parse_size, tier_of_size

    if spec is None or spec.resolution_field != "size":
        return {"resolution": tier}
    sizes = [size for size in spec.sizes if tier_of_size(size) == tier]
    if not sizes:
        return {}
    width, height = source_size or (16, 9)

    def distance(size: str) -> float:
        w, h = parse_size(size)
        return abs(w / h - width / max(height, 1))

    return {"size": min(sizes, key=distance)}


def plan_name_for(video: Path) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", video.stem).strip("-_")[:40] or "video"
    return f"extend-{stem}"


def segment_seconds(method: str, model: str | None = None, wanted: int | None = None) -> int:
    """Seconds each new segment adds: VACE video_extension always 5; else `wanted` (5) within the model's range."""
    from qwenvid.catalogue import get_model

    if method == "vace":
        return 5  # video_extension always makes 5 s
    spec = get_model(model or DEFAULT_MODEL[method])
    low = spec.durations.min if spec and spec.durations.min else 2
    high = spec.durations.max if spec and spec.durations.max else 10
    if spec is not None and spec.max_total_seconds is not None:  # Wan 3.0: the clip sent counts too
        high = min(high, int(spec.max_total_seconds - TAIL_SECONDS))
    return max(low, min(high, wanted or min(5, high)))


def segment_count(method: str, source_seconds: float, target_seconds: float, model: str | None = None) -> int:
    """How many new segments take a clip of `source_seconds` to `target_seconds` (the wizard asks that many prompts)."""
    missing = target_seconds - source_seconds
    return max(1, math.ceil(missing / segment_seconds(method, model))) if missing > 0 else 0


def extend_plan_data(request: ExtendRequest, source_seconds: float) -> dict[str, Any]:
    """The plan (the same shape as a TOML plan file) that makes `request.video` `target_seconds` long."""
    if request.method not in METHODS:
        raise ValidationError(f"--method {request.method!r}: allowed: {', '.join(METHODS)}", field="method")
    if not request.prompts:
        raise ValidationError("extend needs at least one --prompt (one per segment tells the story in order)")
    missing = request.target_seconds - source_seconds
    if missing <= 0:
        raise ValidationError(
            f"{request.video} is already {source_seconds:g} s long; --to {request.target_seconds:g} adds nothing",
            field="to",
        )
    from qwenvid.catalogue import get_model

    model = request.model or DEFAULT_MODEL[request.method]
    spec = get_model(model)
    segment = segment_seconds(request.method, model, request.segment_seconds)
    count = math.ceil(missing / segment)
    if count > MAX_SEGMENTS:
        raise ValidationError(f"--to {request.target_seconds:g} needs {count} segments; at most {MAX_SEGMENTS}")
    video = str(request.video.resolve())
    steps: dict[str, dict[str, Any]] = {}
    previous = video
    for index in range(1, count + 1):
        sid = f"segment-{index}"
        prompt = request.prompts[min(index - 1, len(request.prompts) - 1)]
        step: dict[str, Any] = {"model": model, "prompt": prompt, **request.extra}
        if request.method == "last-frame":
            source = f"@{previous}:last-frame" if previous != video else "@source-frame"
            step |= {"mode": "i2v", "image": source, "duration": segment}
        else:
            source = f"@{previous}:last-{TAIL_SECONDS:g}s" if previous != video else "@source-tail"
            if request.method == "continue":
                step |= {"mode": "i2v", "clip": source, "duration": segment}
            elif request.method == "wan3":  # extension: the clip as a reference video; the ratio must be adaptive
                step |= {"mode": "i2v", "clip": source, "duration": segment, "ratio": "adaptive"}
            else:
                step |= {"mode": "vace", "function": "video_extension", "first_clip": source}
        if request.resolution and request.method != "vace":
            step |= tier_field(spec, request.resolution, request.source_size)
        steps[sid] = step
        previous = sid
    if request.method == "last-frame":
        steps = {"source-frame": {"op": "frame", "input": video, "at": "last"}, **steps}
    else:
        seconds = min(TAIL_SECONDS, source_seconds)
        steps = {"source-tail": {"op": "tail", "input": video, "seconds": seconds}, **steps}
    steps["joined"] = {"op": "concat", "inputs": [video] + [f"@segment-{i}" for i in range(1, count + 1)]}
    last = "joined"
    if source_seconds + count * segment > request.target_seconds + 0.01:
        steps["trimmed"] = {"op": "trim", "input": "@joined", "start": 0, "end": request.target_seconds}
        last = "trimmed"
    if request.audio is not None:
        steps["final"] = {"op": "add_audio", "video": f"@{last}", "audio": str(request.audio.resolve()), "fit": "loop"}
    return {"steps": steps}


def extension_note(data: dict[str, Any], method: str) -> str | None:
    """What a Wan 3.0 extension bills beyond its output: the clip each segment sends (input seconds)."""
    if method != "wan3":
        return None
    segments = [step for sid, step in data["steps"].items() if sid.startswith("segment-")]
    if not segments:
        return None
    output = int(segments[0].get("duration") or 0)
    return (
        f"Wan 3.0 extension: each of the {len(segments)} segments sends the last {TAIL_SECONDS:g} s before it "
        f"(billed as input video: {TAIL_SECONDS * len(segments):g} s in all) and makes {output} s; input + output "
        f"is {TAIL_SECONDS + output:g} s of the 30 s a Wan 3.0 task may hold."
    )
