"""Text-to-image (a character's portrait): wan2.6-t2i over the shared sync multimodal-generation endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from qwenvid.wire.story_http import post_json

PATH = "/services/aigc/multimodal-generation/generation"
PORTRAIT_MODEL = "wan2.6-t2i"
PORTRAIT_SIZE = "1104*1472"  # 3:4, within wan2.6-t2i's pixel range (dashscope-api-story.md §4.4)


@dataclass(frozen=True)
class ImageResult:
    urls: tuple[str, ...]
    image_count: int
    request_id: str | None
    usage: dict[str, Any]


def portrait_body(prompt: str, *, model: str = PORTRAIT_MODEL, size: str = PORTRAIT_SIZE, seed: int | None = None
                  ) -> dict[str, Any]:
    parameters: dict[str, Any] = {"n": 1, "size": size, "prompt_extend": False, "watermark": False}
    if seed is not None:
        parameters["seed"] = seed
    return {
        "model": model,
        "input": {"messages": [{"role": "user", "content": [{"text": prompt}]}]},
        "parameters": parameters,
    }


def generate_image(api_key: str | None, base_url: str, body: dict[str, Any], *,
                   transport: httpx.BaseTransport | None = None) -> ImageResult:
    """One sync text-to-image call; every image URL the answer holds (one choice per image)."""
    data = post_json(api_key, base_url.rstrip("/") + PATH, body, transport=transport)
    urls: list[str] = []
    for choice in (data.get("output") or {}).get("choices") or []:
        for item in ((choice.get("message") or {}).get("content") or []):
            if isinstance(item, dict) and isinstance(item.get("image"), str):
                urls.append(item["image"])
    found = data.get("usage")
    usage: dict[str, Any] = found if isinstance(found, dict) else {}
    count = int(usage.get("image_count") or len(urls))
    return ImageResult(tuple(urls), count, data.get("request_id"), dict(usage))
