"""Putting a cast into a request: its references first, the model's reference words in place of the names."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qwenvid.errors import ValidationError
from qwenvid.story.cast import Member
from qwenvid.story.references import ReferenceStyle, pick_model, reference_models, style_for


@dataclass(frozen=True)
class Casting:
    """The request fields with the cast in them, the prompt as written and as sent, and what to tell the user."""

    fields: dict[str, Any]
    model: str
    prompt_written: str
    prompt_sent: str
    notices: tuple[str, ...]


def substitute(prompt: str, names: Sequence[str], style: ReferenceStyle) -> str:
    """Each cast name (a whole word) becomes the model's word for its reference: `character1`, `Image 1`, ..."""
    if not names:
        return prompt
    by_name = {name: style.name(index) for index, name in enumerate(names, start=1)}
    words = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    pattern = re.compile(r"(?<![\w-])(" + words + r")(?![\w-])")
    return pattern.sub(lambda m: by_name[m.group(1)], prompt)


def named_in(prompt: str, names: Sequence[str]) -> list[str]:
    """The cast names a prompt mentions, in the order given."""
    return [n for n in names if re.search(r"(?<![\w-])" + re.escape(n) + r"(?![\w-])", prompt)]


def cannot_keep(model: str, *, flag: str = "--model") -> ValidationError:
    return ValidationError(
        f"{flag} {model} cannot keep a cast: it takes no reference images.",
        field="model",
        value=model,
        hint=f"Use a model that takes references ({', '.join(reference_models())}), or leave {flag} out.",
    )


def cast_fields(fields: Mapping[str, Any], members: Sequence[Member], *, model: str | None) -> Casting:
    """An r2v request's fields with the cast's images (and voices, where the model takes them) as references.

    `model` is the model the user chose (None: a reference-capable one is picked, with a notice)."""
    notices: list[str] = []
    if model:
        style = style_for(model)
        if style is None:
            raise cannot_keep(model)
        chosen = model
    else:
        chosen = pick_model(voices=any(m.voice for m in members))
        style = style_for(chosen)
        assert style is not None
        why = "reference images and a voice per reference" if style.voices else "reference images"
        notices.append(f"Cast {', '.join(m.name for m in members)}: using {chosen} (it takes {why}).")
    values = {k: v for k, v in fields.items() if k not in ("image", "template")}
    values["model"] = chosen
    extra_refs = [r for r in (values.get("refs") or []) if isinstance(r, str)]
    values["refs"] = [str(m.image) for m in members] + extra_refs
    if style.voices and any(m.voice for m in members):
        voices: list[str | None] = [str(m.voice) if m.voice else None for m in members]
        values["ref_voices"] = voices + list(values.get("ref_voices") or [None] * len(extra_refs))
    else:
        values.pop("ref_voices", None)
    written = str(values.get("prompt") or "")
    names = [m.name for m in members]
    sent = substitute(written, names, style)
    values["prompt"] = sent
    missing = [n for n in names if n not in named_in(written, names)]
    if missing:
        notices.append(f"Not named in the prompt: {', '.join(missing)} (their references are sent anyway).")
    return Casting(values, chosen, written, sent, tuple(notices))
