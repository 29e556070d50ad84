"""Speech synthesis (narration): Qwen TTS over the shared multimodal-generation endpoint; a WAV per line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from qwenvid.wire.story_http import post_json

PATH = "/services/aigc/multimodal-generation/generation"
TTS_MODEL = "qwen3-tts-flash"
MAX_CHARACTERS = 600  # qwen3 TTS models take at most 600 characters of text a call


@dataclass(frozen=True)
class SpeechResult:
    url: str
    characters: int
    request_id: str | None


def speech_body(text: str, voice: str, *, model: str = TTS_MODEL, language: str = "Auto") -> dict[str, Any]:
    return {"model": model, "input": {"text": text, "voice": voice, "language_type": language}}


def synthesize(api_key: str | None, base_url: str, body: dict[str, Any], *,
               transport: httpx.BaseTransport | None = None) -> SpeechResult:
    data = post_json(api_key, base_url.rstrip("/") + PATH, body, transport=transport)
    audio = ((data.get("output") or {}).get("audio")) or {}
    url = audio.get("url") if isinstance(audio, dict) else None
    if not isinstance(url, str) or not url:
        from qwenvid.errors import NetworkError

        raise NetworkError("The speech answer has no audio link.")
    usage = data.get("usage") or {}
    characters = int(usage.get("characters") or len(str(body.get("input", {}).get("text", ""))))
    return SpeechResult(url, characters, data.get("request_id"))
