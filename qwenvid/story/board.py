"""The storyboard: what the text model is asked (prompt guide rules, a JSON schema) and the plan file it becomes."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from qwenvid.errors import ValidationError

NARRATOR_VOICE = "Cherry"
SPEAKER_VOICES = ("Ethan", "Serena", "Ryan", "Chelsie", "Aiden", "Bella")

SYSTEM = """You are a film storyboard writer for Wan video models. Reply in JSON only, following the schema.
Split the story into shots. For each shot write one video prompt in English following these rules:
- describe subject, scene, motion and look: lighting (daylight, backlight, rim light), shot size (close-up ...
  extreme full shot), camera angle (eye level, low angle, aerial), lens, tone, time of day, camera move
  (pushes in, pans left, fixed, orbiting) and speed words (slowly, gradually);
- name characters only by their cast names exactly as given (they are replaced by reference images);
- one subject action per shot, no text overlays, no scene numbers;
- keep the look consistent from shot to shot (same place, light and style unless the story moves on).
For each shot also give: the cast names that appear in it, a duration in seconds, how it joins the previous
shot ("last-frame" when it continues the same action, else "cut"), and one short narration line (may be empty)
with who speaks it ("narrator" or a cast name)."""


@dataclass(frozen=True)
class BoardRequest:
    paragraph: str
    shots: int | None = None
    cast: tuple[str, ...] = ()
    minutes: float | None = None
    descriptions: Mapping[str, str] = field(default_factory=dict)

    def shot_range(self) -> tuple[int, int]:
        if self.shots:
            return self.shots, self.shots
        if self.minutes:
            count = max(2, round(self.minutes * 60 / 5))
            return count, count
        return 3, 12


def schema(request: BoardRequest) -> dict[str, Any]:
    low, high = request.shot_range()
    speakers = ["narrator", *request.cast]
    shot: dict[str, Any] = {
        "type": "object",
        "properties": {
            "prompt": {"type": "string"},
            "cast": {"type": "array", "items": {"type": "string", "enum": list(request.cast) or ["none"]}},
            "duration": {"type": "integer", "minimum": 2, "maximum": 10},
            "continuity": {"type": "string", "enum": ["last-frame", "cut"]},
            "narration": {"type": "string"},
            "speaker": {"type": "string", "enum": speakers},
        },
        "required": ["prompt", "cast", "duration", "continuity", "narration", "speaker"],
    }
    return {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "shots": {"type": "array", "minItems": low, "maxItems": high, "items": shot},
        },
        "required": ["title", "shots"],
    }


def constraints(request: BoardRequest) -> str:
    lines = [""]
    if request.cast:
        lines.append("Cast (use these names exactly):")
        lines += [f"- {n}: {request.descriptions.get(n) or 'see the reference image'}" for n in request.cast]
    low, high = request.shot_range()
    lines.append(f"Shots: {low}" + (f" to {high}" if high != low else "") + ".")
    if request.minutes:
        lines.append(f"Total length: about {request.minutes:g} minutes.")
    return "\n".join(lines)


def body_for(request: BoardRequest, *, model: str, seed: int | None = None) -> dict[str, Any]:
    from qwenvid.wire.chat import chat_body

    body = chat_body(SYSTEM + constraints(request), request.paragraph.strip(), model=model, seed=seed)
    body["response_format"] = {
        "type": "json_schema",
        "json_schema": {"name": "storyboard", "schema": schema(request), "strict": True},
    }
    return body


@dataclass(frozen=True)
class Shot:
    prompt: str
    cast: tuple[str, ...]
    duration: int
    continuity: str
    narration: str
    speaker: str


def read_board(content: str, request: BoardRequest) -> tuple[str, list[Shot]]:
    """The text model's answer as shots; a malformed answer is a clear error, never a half-written plan."""
    try:
        data = json.loads(content)
    except ValueError:
        raise ValidationError("The text model's storyboard is not JSON; run again with --rewrite.") from None
    raw = data.get("shots") if isinstance(data, dict) else None
    if not isinstance(raw, list) or not raw:
        raise ValidationError("The text model's storyboard has no shots; run again with --rewrite.")
    shots = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("prompt"), str) or not item["prompt"].strip():
            raise ValidationError("A shot of the storyboard has no prompt; run again with --rewrite.")
        cast = tuple(c for c in item.get("cast") or [] if isinstance(c, str) and c in request.cast)
        duration = item.get("duration")
        speaker = item.get("speaker") if item.get("speaker") in ("narrator", *request.cast) else "narrator"
        shots.append(
            Shot(
                prompt=" ".join(item["prompt"].split()),
                cast=cast,
                duration=int(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else 5,
                continuity="last-frame" if item.get("continuity") == "last-frame" else "cut",
                narration=" ".join(str(item.get("narration") or "").split()),
                speaker=str(speaker),
            )
        )
    title = data.get("title") if isinstance(data.get("title"), str) else ""
    return str(title), shots


def plan_name(paragraph: str, *choices: object) -> str:
    """A readable, stable plan name: the paragraph's first words and a short hash of it and the choices made."""
    words = re.findall(r"[A-Za-z0-9]+", paragraph.lower())[:4] or ["story"]
    key = json.dumps([paragraph.strip(), *[repr(c) for c in choices]], ensure_ascii=False)
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:6]
    return "-".join(words)[:40] + "-" + digest


def _fit_duration(model: str, seconds: int) -> int:
    from qwenvid.catalogue import get_model

    spec = get_model(model)
    if spec is None:
        return seconds
    rule = spec.durations
    if rule.choices:
        return min(rule.choices, key=lambda c: (abs(c - seconds), c))
    low = rule.min if rule.min is not None else seconds
    high = rule.max if rule.max is not None else seconds
    return max(low, min(high, seconds))


@dataclass(frozen=True)
class Look:
    """The models and sizes the plan uses where the cast does not decide (the cast picks a reference model)."""

    t2v_model: str = "wan2.6-t2v"
    t2v_size: str = "1280*720"
    i2v_model: str = "wan2.6-i2v-flash"
    i2v_resolution: str = "720P"
    cast_model: str | None = None  # None: the cast picks (qwenvid/story/references.py)


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def plan_text(
    request: BoardRequest,
    title: str,
    shots: Sequence[Shot],
    *,
    name: str,
    look: Look,
    voices: Mapping[str, str],
    burn_subtitles: bool = False,
) -> str:
    """An ordinary plan file a person can read and edit: one step per shot, the film, the narration."""
    from qwenvid.story.references import pick_model

    lines = [
        f"# Storyboard written by `qwenvid story` from: {_q(request.paragraph.strip()[:200])}",
        "# Edit freely: running it again (`qwenvid story` with the same paragraph, or `qwenvid run` on this file)",
        "# makes only the shots you changed and what is built on them. Names in prompts are cast members.",
        f"name = {_q(name)}",
    ]
    if request.cast:
        lines.append(f"cast = [{', '.join(_q(c) for c in request.cast)}]")
    if title:
        lines.append(f"# Title: {title}")
    lines += ["", "[defaults.t2v]", f"model = {_q(look.t2v_model)}", f"size = {_q(look.t2v_size)}"]
    ids: list[str] = []
    for index, shot in enumerate(shots, start=1):
        sid = f"shot{index}"
        lines += ["", f"[steps.{sid}]"]
        if shot.cast:
            model = look.cast_model or pick_model(voices=False)
            lines.append(f"cast = [{', '.join(_q(c) for c in shot.cast)}]")
            if look.cast_model:
                lines.append(f"model = {_q(look.cast_model)}")
            lines.append(f"duration = {_fit_duration(model, shot.duration)}")
        elif shot.continuity == "last-frame" and ids:
            lines += [
                'mode = "i2v"',
                f"model = {_q(look.i2v_model)}",
                f"resolution = {_q(look.i2v_resolution)}",
                f'image = "@{ids[-1]}:last-frame"  # continues the previous shot',
                f"duration = {_fit_duration(look.i2v_model, shot.duration)}",
            ]
        else:
            lines += ['mode = "t2v"', f"duration = {_fit_duration(look.t2v_model, shot.duration)}"]
        lines.append(f"prompt = {_q(shot.prompt)}")
        ids.append(sid)
    lines += ["", "[steps.film]", 'op = "concat"', f"inputs = [{', '.join(_q('@' + i) for i in ids)}]"]
    lines += ["", "# Narration: spoken with Qwen TTS, laid under the film, subtitles (SRT) beside it.", "[narration]"]
    lines += ['film = "film"', f"voice = {_q(voices.get('narrator', NARRATOR_VOICE))}"]
    lines.append(f"burn_subtitles = {'true' if burn_subtitles else 'false'}")
    speakers = {s.speaker for s in shots if s.narration and s.speaker != "narrator"}
    if speakers:
        lines.append("[narration.voices]")
        lines += [f"{s} = {_q(voices.get(s, NARRATOR_VOICE))}" for s in sorted(speakers)]
    for sid, shot in zip(ids, shots, strict=True):
        if not shot.narration:
            continue
        lines += ["", "[[narration.lines]]", f"shot = {_q(sid)}"]
        if shot.speaker != "narrator":
            lines.append(f"speaker = {_q(shot.speaker)}")
        lines.append(f"text = {_q(shot.narration)}")
    return "\n".join(lines) + "\n"


def speaker_voices(cast_voices: Mapping[str, str | None], names: Sequence[str]) -> dict[str, str]:
    """A TTS preset per speaker: the cast member's own narration voice, else one from a fixed list."""
    voices = {"narrator": NARRATOR_VOICE}
    spare = iter(SPEAKER_VOICES)
    for name in names:
        voices[name] = cast_voices.get(name) or next(spare, NARRATOR_VOICE)
    return voices
