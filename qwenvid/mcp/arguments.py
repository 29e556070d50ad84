"""The `generate` tool's parameters, made from the request dataclasses the CLI builds, and back to a request.

The fields of every mode's request type (`qwenvid.requests.shapes`) become one flat, typed parameter list,
so an agent sees the same names and types the library validates; a field the chosen mode's type does not
have is refused with the same words the CLI uses for an option that does not fit.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal

from qwenvid.errors import ValidationError

MODES = ("t2v", "i2v", "kf2v", "r2v", "vace")
Mode = Literal["t2v", "i2v", "kf2v", "r2v", "vace"]

# What each field means, for the tool's input schema (the agent reads these, as a person reads --help).
FIELD_HELP = {
    "prompt": "What the video shows (for vace/instruct: the edit to make).",
    "model": "Model id (see list_models). Default: the mode's default model.",
    "negative_prompt": "What the video should not show.",
    "duration": "Output seconds (see list_models for what each model allows).",
    "size": "Output size WIDTH*HEIGHT, e.g. 832*480 (models that take a size).",
    "resolution": "Output resolution tier: 480P, 720P or 1080P (models that take a resolution).",
    "ratio": "Aspect ratio, e.g. 16:9 (wan2.7 models).",
    "seed": "Random seed; a different seed is a deliberate variation of the same request.",
    "prompt_extend": "Let the service rewrite the prompt (default on for most models).",
    "watermark": "Add the service's watermark.",
    "audio": "Make a soundtrack (models that toggle audio).",
    "audio_file": "Soundtrack to use: local path or URL.",
    "shot_type": "single or multi (multi-shot models).",
    "image": "i2v: first frame, local path or URL.",
    "last_frame": "Last frame image: local path or URL.",
    "clip": "i2v (wan2.7-i2v): video to continue, local path or URL.",
    "driving_audio": "i2v (wan2.7-i2v): audio that drives the video.",
    "template": "Effect template name (wan2.1 models).",
    "first_frame": "First frame image: local path or URL.",
    "refs": "r2v: reference images or videos (local paths or URLs), up to 5.",
    "ref_voices": "r2v (wan2.7-r2v): a voice per reference, same order.",
    "function": "vace: image_reference, video_repainting, video_edit, video_extension, video_outpainting, "
    "or instruct (wan2.7-videoedit).",
    "video": "vace: source video, local path or URL.",
    "mask_image": "vace video_edit: mask image (white = edit).",
    "mask_video": "vace video_edit: mask video (white = edit).",
    "mask_frame_id": "vace video_edit: the frame the mask image belongs to (1-based).",
    "ref_images": "vace: reference images (local paths or URLs).",
    "obj_or_bg": "vace image_reference: obj or bg per reference image, in order.",
    "first_clip": "vace video_extension: clip to continue.",
    "last_clip": "vace video_extension: clip to lead into.",
}

# Arguments of `generate` that are not request fields.
RUN_ARGUMENTS: dict[str, tuple[Any, Any, str]] = {
    "take": (
        int | None,
        None,
        "A deliberate extra take of the same request (1, 2, ...): without it the same request returns the "
        "task already made for it instead of paying again.",
    ),
    "max_seconds": (
        float | None,
        None,
        "Refuse (nothing submitted) if the request bills more than this many seconds.",
    ),
    "wait_seconds": (
        float,
        40.0,
        "How long this call waits for the video (0-50 s); if not done by then, call wait_for_task.",
    ),
    "output": (str | None, None, "Where the video goes: an .mp4 path or a folder. Default: output/qwenvid/."),
}


def request_types() -> list[type]:
    """Every request dataclass, in the order their fields are listed."""
    from qwenvid.requests import shapes

    return [
        shapes.T2VRequest,
        shapes.I2VRequest,
        shapes.KF2VRequest,
        shapes.R2VRequest,
        shapes.VaceRequest,
        shapes.VideoEditRequest,
    ]


@functools.cache
def request_fields() -> dict[str, Any]:
    """Field name -> its type, over every request type (first declaration wins), ClassVars left out."""
    found: dict[str, Any] = {}
    for cls in request_types():
        hints = typing.get_type_hints(cls)
        for item in dataclasses.fields(cls):
            if item.name in found:
                continue
            kind = hints[item.name]
            # Every field is optional to the tool: unset means "the model's default", as with the CLI.
            found[item.name] = kind if _allows_none(kind) else kind | None
    return found


def _allows_none(kind: Any) -> bool:
    return type(None) in typing.get_args(kind)


def signature_of_generate() -> inspect.Signature:
    """mode, the request fields, then the run arguments; all keyword-only, typed, described."""
    from pydantic import Field

    def param(name: str, kind: Any, default: Any, text: str) -> inspect.Parameter:
        described = Annotated[kind, Field(description=text)] if text else kind
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=described)

    params = [param("mode", Mode, "t2v", "t2v, i2v, kf2v, r2v or vace.")]
    for name, kind in request_fields().items():
        params.append(param(name, kind, None, FIELD_HELP.get(name, "")))
    for name, (kind, default, text) in RUN_ARGUMENTS.items():
        params.append(param(name, kind, default, text))
    return inspect.Signature(params)


def with_signature(fn: Callable[..., Any], signature: inspect.Signature, context: str) -> Callable[..., Any]:
    """`fn(**kwargs)` presented with `signature` (plus the context parameter), so schema tools read it."""
    context_param = inspect.Parameter(
        context, inspect.Parameter.KEYWORD_ONLY, annotation=fn.__annotations__.get(context, inspect.Parameter.empty)
    )
    fn.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), context_param]
    )
    return fn


def build_request(arguments: Mapping[str, Any]) -> Any:
    """The library request object for the tool's arguments (only those given), as the CLI builds it."""
    from qwenvid.catalogue import INSTRUCT, canonical_vace_function
    from qwenvid.requests import shapes

    mode = arguments.get("mode") or "t2v"
    if mode not in MODES:
        raise ValidationError(f"mode {mode!r} is not a mode.", hint=f"Use one of: {', '.join(MODES)}.")
    fields = request_fields()
    given = {key: value for key, value in arguments.items() if key in fields and value is not None and value != []}
    cls: type = {
        "t2v": shapes.T2VRequest,
        "i2v": shapes.I2VRequest,
        "kf2v": shapes.KF2VRequest,
        "r2v": shapes.R2VRequest,
        "vace": shapes.VaceRequest,
    }[mode]
    if mode == "vace":
        function = given.get("function")
        if function is None:
            raise ValidationError("mode vace needs a function.", hint=f"function: {FIELD_HELP['function']}")
        name = canonical_vace_function(str(function))
        if name is None:
            raise ValidationError(f"Unknown vace function {function!r}.", hint=f"Use one of: {FIELD_HELP['function']}")
        if name == INSTRUCT:
            cls = shapes.VideoEditRequest
            given.pop("function")
        else:
            given["function"] = name
    names = {item.name for item in dataclasses.fields(cls)}
    unknown = sorted(set(given) - names)
    if unknown:
        raise ValidationError(
            f"{', '.join(unknown)} cannot be used with mode {mode}"
            + (" (instruct)" if cls is shapes.VideoEditRequest else "")
            + ".",
            hint=f"mode {mode} takes: {', '.join(sorted(names))}.",
        )
    return cls(**given)
