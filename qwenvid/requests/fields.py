"""Type and text checks for request values that come from untyped input: request JSON, plans, the command line.

A request JSON can hold `{"prompt": 5}`; a terminal can hand over bytes that are not UTF-8 (Python keeps
them as lone surrogates, which no JSON encoder sends). Both are the user's input, so both are refused here
with a message naming the field, before any check that assumes the right type runs.
"""

from __future__ import annotations

import functools
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

from qwenvid.errors import ValidationError

_SURROGATE = re.compile("[\ud800-\udfff]")

# The kinds a request field can be, in words a user reads.
_KIND_WORDS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true or false",
    "list[str]": "a list of texts",
    "list[str | None]": "a list of texts",
}

# Fields of the skill's request JSON and the kind each must have (dashscope-api.md §2 and the skill's shape).
SKILL_JSON_KINDS: dict[str, str] = {
    **dict.fromkeys(
        (
            "model", "prompt", "negative_prompt", "size", "resolution", "ratio", "shot_type", "function",
            "template", "audio_url", "img_url", "reference_image", "first_frame_url", "last_frame_url",
            "first_clip_url", "last_clip_url", "driving_audio_url", "video_url", "mask_image_url",
            "mask_video_url", "control_condition", "mask_type", "expand_mode", "audio_setting",
        ),
        "str",
    ),
    **dict.fromkeys(("duration", "seed", "mask_frame_id"), "int"),
    **dict.fromkeys(("prompt_extend", "watermark", "audio"), "bool"),
    **dict.fromkeys(
        ("strength", "expand_ratio", "top_scale", "bottom_scale", "left_scale", "right_scale"), "float"
    ),
    **dict.fromkeys(
        ("reference_urls", "reference_video_urls", "ref_images_url", "reference_images", "obj_or_bg"), "list[str]"
    ),
}  # fmt: skip


def text_problem(text: str) -> str | None:
    """Why a text cannot be sent, or None: NUL characters, or bytes that were not valid UTF-8."""
    if "\x00" in text:
        return "contains a NUL character"
    bad = _SURROGATE.search(text)
    if bad is not None:
        return f"is not valid UTF-8 text (undecodable bytes at character {bad.start() + 1})"
    return None


def check_text(text: str, label: str) -> str:
    """`text`, or a ValidationError naming `label` when it cannot be sent."""
    problem = text_problem(text)
    if problem is not None:
        hint = (
            "Remove the NUL character (\\u0000); it cannot be sent."
            if "NUL" in problem
            else "Save or type the text as UTF-8 (check the terminal's or the file's encoding)."
        )
        raise ValidationError(f"{label} {problem}.", field=label, hint=hint)
    return text


def _kind_error(label: str, kind: str, value: object) -> ValidationError:
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return ValidationError(
        f"{label} must be {_KIND_WORDS[kind]}, not {shown}.", field=label, value=value, allowed=_KIND_WORDS[kind]
    )


def check_value(value: object, kind: str, label: str) -> None:
    """Raise a ValidationError naming `label` unless `value` is of `kind` (None always passes)."""
    if value is None:
        return
    if kind == "str":
        if not isinstance(value, str):
            raise _kind_error(label, kind, value)
        check_text(value, label)
    elif kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _kind_error(label, kind, value)
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise _kind_error(label, kind, value)
    elif kind == "bool":
        if not isinstance(value, bool):
            raise _kind_error(label, kind, value)
    elif kind.startswith("list["):
        if not isinstance(value, list):
            raise _kind_error(label, kind, value)
        for item in value:
            if item is None and "None" in kind:
                continue
            if not isinstance(item, str):
                raise _kind_error(label, kind, value)
            check_text(item, label)


def _kind_of(hint: Any) -> str | None:
    """"str", "int", "float", "bool", "list[str]" or "list[str | None]" for a field's type; None for others."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is list:
        return "list[str | None]" if type(None) in typing.get_args(args[0]) else "list[str]"
    if typing.get_origin(hint) in (types.UnionType, typing.Union):
        others = [arg for arg in args if arg is not type(None)]
        return _kind_of(others[0]) if len(others) == 1 else None
    return hint.__name__ if hint in (str, int, float, bool) else None


@functools.cache
def _field_kinds(cls: Any) -> dict[str, str]:
    """Each dataclass field of a request type and its kind."""
    hints = typing.get_type_hints(cls)
    kinds = {item.name: _kind_of(hints[item.name]) for item in fields(cls)}
    return {name: kind for name, kind in kinds.items() if kind is not None}


def check_request_fields(request: Any, label: Callable[[str], str]) -> None:
    """Every field of a request dataclass has its declared kind and sendable text; `label` names a field."""
    for name, kind in _field_kinds(request.__class__).items():
        check_value(getattr(request, name), kind, label(name))


def check_skill_json(flat: Mapping[str, Any]) -> None:
    """The known fields of a (flattened) skill request JSON have the right kinds; media items are checked too."""
    for key, kind in SKILL_JSON_KINDS.items():
        check_value(flat.get(key), kind, f"`{key}`")
    media = flat.get("media")
    if isinstance(media, list):
        for index, item in enumerate(media):
            if isinstance(item, Mapping):
                for key in ("type", "url", "reference_voice"):
                    check_value(item.get(key), "str", f"`media[{index}].{key}`")
