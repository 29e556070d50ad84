"""Chat completions (the storyboard): the OpenAI-compatible endpoint beside the native base, JSON out, thinking off."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from qwenvid.wire.story_http import compat_base, post_json

CHAT_MODEL = "qwen3.7-flash"


@dataclass(frozen=True)
class ChatResult:
    content: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None
    request_id: str | None

    def json(self) -> Any:
        return json.loads(self.content)


def chat_body(system: str, user: str, *, model: str = CHAT_MODEL, seed: int | None = None,
              max_tokens: int = 6000) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "response_format": {"type": "json_object"},
        "enable_thinking": False,  # JSON mode refuses thinking (dashscope-api-story.md §2.4)
        "temperature": 0.7,
        "max_tokens": max_tokens,
        "stream": False,
    }
    if seed is not None:
        body["seed"] = seed
    return body


def complete(api_key: str | None, base_url: str, body: dict[str, Any], *,
             transport: httpx.BaseTransport | None = None) -> ChatResult:
    data = post_json(api_key, compat_base(base_url) + "/chat/completions", body, transport=transport)
    choices = data.get("choices") or []
    first = choices[0] if choices and isinstance(choices[0], dict) else {}
    message = first.get("message") or {}
    usage = data.get("usage") or {}
    return ChatResult(
        content=str(message.get("content") or ""),
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        finish_reason=first.get("finish_reason"),
        request_id=data.get("request_id") or data.get("id"),
    )
