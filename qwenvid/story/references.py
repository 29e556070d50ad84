"""How each reference-capable model names its references in a prompt, and whether it takes a voice per reference.

One row per model: a new model that keeps a cast (Wan 3.0, HappyHorse) is one more row here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReferenceStyle:
    """`word` is a template with `{n}` (1-based position of the reference among the images)."""

    model: str
    word: str
    voices: bool  # takes a voice sample per reference (wan2.7-r2v reference_voice)

    def name(self, position: int) -> str:
        return self.word.format(n=position)


STYLES: dict[str, ReferenceStyle] = {
    style.model: style
    for style in (
        ReferenceStyle("wan2.6-r2v-flash", "character{n}", voices=False),
        ReferenceStyle("wan2.6-r2v", "character{n}", voices=False),
        ReferenceStyle("wan2.7-r2v", "Image {n}", voices=True),
    )
}
# Without --model: the cheaper model when no character has a voice sample, else the one that takes voices.
DEFAULT_MODEL = "wan2.6-r2v-flash"
DEFAULT_VOICE_MODEL = "wan2.7-r2v"


def style_for(model: str) -> ReferenceStyle | None:
    """The reference style of a model id (aliases resolve); None when it cannot keep a cast."""
    from qwenvid.catalogue import get_model

    spec = get_model(model)
    return STYLES.get(spec.id if spec is not None else model)


def reference_models() -> list[str]:
    return list(STYLES)


def pick_model(*, voices: bool) -> str:
    return DEFAULT_VOICE_MODEL if voices else DEFAULT_MODEL
