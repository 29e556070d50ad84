"""From a generation step's fields to a typed request: input fields, path resolution, mode and request class."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from qwenvid.errors import ValidationError
from qwenvid.plans.model import Step
from qwenvid.plans.parse import SKILL_KEYS, infer_mode

# Input fields of a generation step by the kind of file they take (request field names and skill JSON names).
IMAGE_FIELDS = frozenset(
    {
        "image",
        "last_frame",
        "first_frame",
        "mask_image",
        "ref_images",
        "img_url",
        "reference_image",
        "ref_images_url",
        "reference_images",
        "first_frame_url",
        "last_frame_url",
        "mask_image_url",
    }
)
VIDEO_FIELDS = frozenset(
    {
        "clip",
        "video",
        "mask_video",
        "first_clip",
        "last_clip",
        "video_url",
        "mask_video_url",
        "first_clip_url",
        "last_clip_url",
        "reference_video_urls",
    }
)
AUDIO_FIELDS = frozenset({"speech", "driving_audio", "audio_file", "ref_voices", "audio_url", "driving_audio_url"})
ANY_FIELDS = frozenset({"refs", "reference_urls"})
INPUT_FIELDS = IMAGE_FIELDS | VIDEO_FIELDS | AUDIO_FIELDS | ANY_FIELDS | {"media"}
# Media step parameters that are inputs, and their kind.
MEDIA_INPUT_KINDS = {"input": "video", "inputs": "video", "video": "video", "audio": "audio"}

InputFn = Callable[[str, str], str]  # (value, kind) -> new value


def kind_of_field(name: str, media_type: str | None = None) -> str:
    if name == "media":
        kind = media_type or ""
        return (
            "image"
            if "frame" in kind or "image" in kind
            else "audio"
            if "audio" in kind or "voice" in kind
            else "video"
        )
    if name in IMAGE_FIELDS:
        return "image"
    if name in VIDEO_FIELDS:
        return "video"
    if name in AUDIO_FIELDS:
        return "audio"
    return "any"


def map_inputs(step: Step, fn: InputFn) -> dict[str, Any]:
    """The step's fields with every input string passed through `fn(value, kind)` (lists and media items too)."""
    out: dict[str, Any] = {}
    for key, value in step.fields.items():
        if step.kind == "media":
            kind = MEDIA_INPUT_KINDS.get(key)
            if kind is None:
                out[key] = value
            elif isinstance(value, list):
                out[key] = [fn(v, kind) if isinstance(v, str) else v for v in value]
            else:
                out[key] = fn(value, kind) if isinstance(value, str) else value
            continue
        if key not in INPUT_FIELDS:
            out[key] = value
        elif key == "media" and isinstance(value, list):
            items: list[Any] = []
            for item in value:
                if isinstance(item, Mapping) and isinstance(item.get("url"), str):
                    items.append({**item, "url": fn(item["url"], kind_of_field("media", str(item.get("type"))))})
                elif isinstance(item, str):
                    items.append(fn(item, "image"))
                else:
                    items.append(item)
            out[key] = items
        elif isinstance(value, list):
            out[key] = [fn(v, kind_of_field(key)) if isinstance(v, str) else v for v in value]
        elif isinstance(value, str):
            out[key] = fn(value, kind_of_field(key))
        else:
            out[key] = value
    return out


def local_path(value: str, base_dir: Path) -> Path | None:
    """The file a plan input names, relative to the plan's folder; None for URLs and references."""
    from qwenvid.requests.shapes import is_url

    if value.startswith("@") or is_url(value):
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else base_dir / path


def step_mode(step: Step) -> str:
    return step.mode or infer_mode(step.fields)


def build_request(step: Step, fields: Mapping[str, Any]) -> Any:
    """The typed request for a generation step whose inputs are already paths or URLs."""
    from qwenvid.catalogue import DEFAULT_MODELS, INSTRUCT, canonical_vace_function, get_model
    from qwenvid.requests import shapes as requests

    mode = step.mode or infer_mode(fields)
    values = dict(fields)
    if not values.get("model"):
        values["model"] = DEFAULT_MODELS[mode]  # type: ignore[index]
    spec = get_model(str(values["model"]))
    function = values.get("function")
    if mode == "vace" and isinstance(function, str):
        name = canonical_vace_function(function)
        if name is None:
            raise ValidationError(f"unknown vace function {function!r}", field="function", value=function)
        values["function"] = name
    instruct = mode == "vace" and (
        values.get("function") == INSTRUCT
        or (spec is not None and spec.mode == "vace" and spec.functions == (INSTRUCT,))
    )
    if instruct:
        values.pop("function", None)
    if mode in ("s2v", "animate"):
        from qwenvid.requests import performer_requests

        cls: Any = performer_requests.S2VRequest if mode == "s2v" else performer_requests.AnimateRequest
    elif mode in ("t2v", "i2v", "kf2v", "r2v", "vace"):
        cls_name = {
            "t2v": "T2VRequest",
            "i2v": "I2VRequest",
            "kf2v": "KF2VRequest",
            "r2v": "R2VRequest",
            "vace": "VideoEditRequest" if instruct else "VaceRequest",
        }[mode]
        cls = getattr(requests, cls_name)
    else:
        raise ValidationError(
            f"{values['model']} ({mode}) cannot run in a plan", field="model", value=values["model"]
        )
    names = {f.name for f in dataclasses.fields(cls)}
    skill = {k: v for k, v in values.items() if k in SKILL_KEYS and k not in names}
    direct = {k: v for k, v in values.items() if k in names}
    unknown = sorted(set(values) - names - set(skill))
    if unknown:
        raise ValidationError(
            f"{', '.join(repr(u) for u in unknown)} cannot be used with a {mode} request of {values['model']}",
            field=unknown[0],
        )
    if skill:
        if mode == "vace" and not instruct and "function" in values:
            skill["function"] = values["function"]
        skill["model"] = values["model"]
        base = requests.request_from_skill_json(skill, mode=mode)  # type: ignore[arg-type]
        return dataclasses.replace(
            base, **{k: v for k, v in direct.items() if k in {f.name for f in dataclasses.fields(type(base))}}
        )
    return cls(**direct)
