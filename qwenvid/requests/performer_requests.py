"""Typed requests for `qwenvid s2v` and `qwenvid animate`: inputs, exact wire parts and option checks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from qwenvid.catalogue import MediaKind, Mode, ModelSpec
from qwenvid.errors import ValidationError
from qwenvid.requests.performers import ANIMATE_KINDS, ANIMATE_QUALITIES
from qwenvid.requests.shapes import BaseRequest

# (request field, wire field, kind, catalogue limits slot, value) — shapes wraps these as its input slots.
Slot = tuple[str, str, MediaKind, str, str]


@dataclass
class S2VRequest(BaseRequest):
    """wan2.2-s2v: a photo of the speaker (`image`) and the speech (`speech`) make a talking video."""

    mode: ClassVar[Mode] = "s2v"
    image: str | None = None
    speech: str | None = None

    def input_slots(self) -> Iterator[Slot]:
        if self.image:
            yield ("image", "image_url", "image", "image", self.image)
        if self.speech:
            yield ("speech", "audio_url", "audio", "audio", self.speech)

    def wire_parts(self, spec: ModelSpec | None, url: Callable[[str | None], str | None]) -> tuple[dict, dict]:
        inputs: dict[str, Any] = {}
        for _attr, wire, _kind, _slot, value in self.input_slots():
            inputs[wire] = url(value)
        params: dict[str, Any] = {}
        resolution = self.resolution or (spec.default_resolution if spec else None)
        if resolution:
            params["resolution"] = resolution
        return inputs, params

    def check_inputs(self, spec: ModelSpec) -> None:
        if not self.image:
            raise ValidationError(f"{spec.id} needs --image (a photo of the speaker)", field="--image")
        if not self.speech:
            raise ValidationError(f"{spec.id} needs --speech (wav/mp3, under 20 s)", field="--speech")
        for name, value in (("--duration", self.duration), ("--ratio", self.ratio), ("--size", self.size)):
            if value is not None:
                raise ValidationError(
                    f"{spec.id} takes no {name}: the video is as long as the speech and shaped like the photo",
                    field=name,
                    value=value,
                )


@dataclass
class AnimateRequest(BaseRequest):
    """wan2.2-animate-move / -mix: a character `image` and a motion `video`; `quality` std or pro."""

    mode: ClassVar[Mode] = "animate"
    image: str | None = None
    video: str | None = None
    quality: str = "std"
    check_image: bool | None = None

    def input_slots(self) -> Iterator[Slot]:
        if self.image:
            yield ("image", "image_url", "image", "image", self.image)
        if self.video:
            yield ("video", "video_url", "video", "video", self.video)

    def wire_parts(self, spec: ModelSpec | None, url: Callable[[str | None], str | None]) -> tuple[dict, dict]:
        inputs: dict[str, Any] = {wire: url(value) for _attr, wire, _kind, _slot, value in self.input_slots()}
        if self.watermark is not None:
            inputs["watermark"] = self.watermark  # animate reads it from input (§5)
        params: dict[str, Any] = {"mode": ANIMATE_QUALITIES.get(self.quality, self.quality)}
        if self.check_image is not None:
            params["check_image"] = self.check_image
        return inputs, params

    def check_inputs(self, spec: ModelSpec) -> None:
        if self.quality not in ANIMATE_QUALITIES:
            allowed = ", ".join(ANIMATE_QUALITIES)
            raise ValidationError(
                f"--quality {self.quality!r} is not offered; allowed: {allowed}", field="--quality", allowed=allowed
            )
        if not self.image:
            raise ValidationError(f"{spec.id} needs --image (the character)", field="--image")
        if not self.video:
            raise ValidationError(f"{spec.id} needs --video (the motion, 2-30 s)", field="--video")
        for name, value in (
            ("--duration", self.duration),
            ("--resolution", self.resolution),
            ("--ratio", self.ratio),
            ("--size", self.size),
            ("--seed", self.seed),
        ):
            if value is not None:
                raise ValidationError(
                    f"{spec.id} takes no {name}: the video follows the motion video", field=name, value=value
                )


def animate_model(kind: str) -> str:
    """'move' -> wan2.2-animate-move; refused in one line otherwise."""
    if kind not in ANIMATE_KINDS:
        allowed = ", ".join(ANIMATE_KINDS)
        raise ValidationError(f"animate {kind!r} is not a kind; allowed: {allowed}", field="KIND", allowed=allowed)
    return ANIMATE_KINDS[kind]


def speech_seconds(request: object) -> float | None:
    """The length of an s2v request's local speech file (what it is billed for); None for a URL or no speech."""
    from pathlib import Path

    from qwenvid.media.inputs import inspect_audio
    from qwenvid.requests.shapes import is_url

    speech = getattr(request, "speech", None)
    if not isinstance(speech, str) or is_url(speech) or speech.startswith(("@", "data:", "oss://")):
        return None
    path = Path(speech).expanduser()
    if not path.is_file():
        return None
    return inspect_audio(path, field="--speech").duration or None
