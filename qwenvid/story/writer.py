"""Writing the storyboard: ask the text model once (reused from the ledger on reruns), write the plan file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from qwenvid.story.board import BoardRequest, Look, body_for, plan_text, read_board, speaker_voices
from qwenvid.story.costs import ExtraCost, reuse_or_call
from qwenvid.wire.chat import CHAT_MODEL, complete

if TYPE_CHECKING:
    from qwenvid.tasks.extra_budget import ExtraBudget

LOOKS = {
    "480P": Look("wan2.1-t2v-turbo", "832*480", "wan2.1-i2v-turbo", "480P"),
    "720P": Look("wan2.6-t2v", "1280*720", "wan2.6-i2v-flash", "720P"),
    "1080P": Look("wan2.6-t2v", "1920*1080", "wan2.6-i2v-flash", "1080P"),
}


@dataclass(frozen=True)
class Written:
    path: Path
    cost: ExtraCost
    shots: int


def estimate(body: dict[str, Any], model: str) -> ExtraCost:
    """Before the call only the prompt side is known (~3 characters a token); the answer's size is not."""
    chars = sum(len(str(m.get("content", ""))) for m in body["messages"]) + len(str(body.get("response_format")))
    return ExtraCost("storyboard", model, chars // 3, "tokens", input_units=chars // 3, output_units=0, estimated=True)


def write_storyboard(
    request: BoardRequest,
    target: Path,
    *,
    name: str,
    look: Look,
    cast_voices: dict[str, str | None],
    api_key: str | None,
    base_url: str,
    ledger: Path,
    model: str = CHAT_MODEL,
    seed: int | None = None,
    burn_subtitles: bool = False,
    transport: httpx.BaseTransport | None = None,
    budget: ExtraBudget | None = None,
) -> Written:
    """Ask for the shot list (JSON schema, thinking off) and write it as a plan; the same request again is reused."""
    body = body_for(request, model=model, seed=seed)

    def usable(detail: dict[str, Any]) -> bool:
        return isinstance(detail.get("content"), str)

    def call() -> tuple[float, str, dict[str, Any]]:
        result = complete(api_key, base_url, body, transport=transport)
        detail = {
            "content": result.content,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "finish_reason": result.finish_reason,
        }
        return float(result.prompt_tokens + result.completion_tokens), "tokens", detail

    detail, reused = reuse_or_call(
        ledger,
        kind="storyboard",
        model=model,
        body=body,
        base_url=base_url,
        usable=usable,
        call=call,
        budget=budget,
        planned=estimate(body, model),
    )
    if detail.get("finish_reason") == "length":
        from qwenvid.errors import ValidationError

        raise ValidationError("The text model's storyboard was cut off (too long); try fewer --shots.")
    title, shots = read_board(str(detail["content"]), request)
    voices = speaker_voices(cast_voices, request.cast)
    text = plan_text(request, title, shots, name=name, look=look, voices=voices, burn_subtitles=burn_subtitles)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(target.name + ".part")
    temp.write_text(text, encoding="utf-8")
    temp.replace(target)
    cost = ExtraCost(
        "storyboard",
        model,
        float(detail.get("prompt_tokens", 0)) + float(detail.get("completion_tokens", 0)),
        "tokens",
        input_units=float(detail.get("prompt_tokens", 0)),
        output_units=float(detail.get("completion_tokens", 0)),
        reused=reused,
    )
    return Written(target, cost, len(shots))
