"""What the emulator's chat, speech and image endpoints make: deterministic JSON, WAV and PNG bytes."""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import struct
import zlib
from collections.abc import Mapping
from typing import Any

SAMPLE_RATE = 24000
_SENTENCE = re.compile(r"[^.!?。！？]+[.!?。！？]*")


def sentences(text: str) -> list[str]:
    found = [s.strip() for s in _SENTENCE.findall(text) if s.strip()]
    return found or [text.strip() or "..."]


def pseudo_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 3))


# -- chat ------------------------------------------------------------------------------------------


def from_schema(schema: Mapping[str, Any], paragraph: str) -> Any:
    """An instance of a JSON schema built from the paragraph (dashscope-api-story.md §7): arrays hold one
    item per sentence (clamped to minItems/maxItems), strings the sentence, arrays of enum strings the
    enum values the sentence names, numbers their minimum, booleans false."""
    parts = sentences(paragraph)
    return _instance(schema, parts, 0, "value")


def _instance(schema: Mapping[str, Any], parts: list[str], index: int, name: str) -> Any:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if "enum" in schema and schema["enum"]:
        return schema["enum"][0]
    if kind == "object":
        props = schema.get("properties") or {}
        return {key: _instance(sub, parts, index, key) for key, sub in props.items()}
    if kind == "array":
        items = schema.get("items") or {}
        if isinstance(items, Mapping) and items.get("enum"):
            sentence = parts[index % len(parts)]
            return [v for v in items["enum"] if isinstance(v, str) and re.search(rf"\b{re.escape(v)}\b", sentence)]
        low = int(schema.get("minItems", 1))
        high = int(schema.get("maxItems", max(low, len(parts))))
        count = min(max(len(parts), low), high)
        return [_instance(items, parts, i, name) for i in range(count)]
    if kind in ("number", "integer"):
        value = schema.get("minimum", index + 1)
        return int(value) if kind == "integer" else value
    if kind == "boolean":
        return False
    sentence = parts[index % len(parts)]
    if name in ("title", "name", "id"):
        return f"{name} {index + 1}"
    return sentence


def chat_content(body: Mapping[str, Any]) -> str:
    """The assistant's answer: JSON (as a string) for JSON modes, else a fixed echo."""
    messages = body.get("messages") or []
    user = next((str(m.get("content") or "") for m in reversed(messages) if m.get("role") == "user"), "")
    fmt = body.get("response_format") or {}
    kind = fmt.get("type") if isinstance(fmt, Mapping) else None
    if kind == "json_schema":
        spec = fmt.get("json_schema") or {}
        schema = spec.get("schema") or {}
        return json.dumps(from_schema(schema, user), ensure_ascii=False)
    if kind == "json_object":
        shots = [{"index": i, "description": s, "duration_s": 5} for i, s in enumerate(sentences(user), start=1)]
        return json.dumps({"shots": shots}, ensure_ascii=False)
    return f"You said: {user[:200]}"


# -- speech ----------------------------------------------------------------------------------------


def speech_seconds(text: str) -> float:
    return min(max(0.06 * len(text), 0.5), 60.0)


def tts_characters(text: str) -> int:
    """CJK characters count double (dashscope-api-story.md §3.3)."""
    return sum(2 if "\u3000" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af" else 1 for ch in text)


def wav_bytes(text: str, voice: str) -> bytes:
    """A mono s16le 24 kHz WAV of the line's length: a quiet tone per word (no speech engine), same bytes per input."""
    seconds = speech_seconds(text)
    frames = int(round(seconds * SAMPLE_RATE))
    seed = int.from_bytes(hashlib.sha256(f"{voice}\0{text}".encode()).digest()[:2], "big")
    base = 140 + seed % 120
    words = max(1, len(text.split()))
    per_word = max(1, frames // words)
    samples = bytearray()
    for i in range(frames):
        word, at = divmod(i, per_word)
        gap = at > per_word * 0.85  # a little silence between words
        freq = base * (1 + 0.08 * (word % 5))
        value = 0 if gap else int(3000 * math.sin(2 * math.pi * freq * i / SAMPLE_RATE))
        samples += struct.pack("<h", value)
    header = b"RIFF" + struct.pack("<I", 36 + len(samples)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16)
    header += b"data" + struct.pack("<I", len(samples))
    return header + bytes(samples)


# -- images ----------------------------------------------------------------------------------------


def png_bytes(width: int, height: int, prompt: str, seed: int | None, index: int) -> bytes:
    """A real PNG of W x H: a colour gradient from sha256(prompt, seed, index), a face-like disc for portraits."""
    digest = hashlib.sha256(f"{prompt}\0{seed}\0{index}".encode()).digest()
    r0, g0, b0, r1, g1, b1 = digest[:6]
    cx, cy, radius = width // 2, height * 2 // 5, min(width, height) // 4
    raw = bytearray()
    for y in range(height):
        raw.append(0)
        t = y / max(1, height - 1)
        row_colour = bytes(
            (int(r0 + (r1 - r0) * t) & 255, int(g0 + (g1 - g0) * t) & 255, int(b0 + (b1 - b0) * t) & 255)
        )
        dy = y - cy
        if abs(dy) < radius:
            half = int(math.sqrt(radius * radius - dy * dy))
            left, right = max(0, cx - half), min(width, cx + half)
            raw += row_colour * left + bytes((230, 200, 170)) * (right - left) + row_colour * (width - right)
        else:
            raw += row_colour * width

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    out = io.BytesIO()
    out.write(b"\x89PNG\r\n\x1a\n")
    out.write(chunk(b"IHDR", ihdr))
    out.write(chunk(b"IDAT", zlib.compress(bytes(raw), 6)))
    out.write(chunk(b"IEND", b""))
    return out.getvalue()
