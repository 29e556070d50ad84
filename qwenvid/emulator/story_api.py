"""The emulator's story endpoints: chat completions, Qwen TTS and text-to-image (dashscope-api-story.md §7)."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qwenvid.emulator.state import ApiFailure
from qwenvid.emulator.story_content import (
    chat_content,
    png_bytes,
    pseudo_tokens,
    tts_characters,
    wav_bytes,
)

MULTIMODAL_PATH = "/services/aigc/multimodal-generation/generation"
COMPAT_CHAT_PATH = "/compatible-mode/v1/chat/completions"
FILES_PATH = "/__story_files"
INSPECTION = (
    "Input data may contain inappropriate content. For details, see: "
    "https://help.aliyun.com/zh/model-studio/error-code#inappropriate-content"
)
CHAT_MODELS = {
    "qwen3.7-flash": 131072, "qwen3.6-flash": 65536, "qwen3.5-flash": 65536, "qwen-flash": 32768,
    "qwen-turbo": 16384, "qwen-plus": 32768, "qwen3.7-plus": 131072, "qwen3-max": 65536,
}
THINKING_ON_BY_DEFAULT = ("qwen3.5", "qwen3.6", "qwen3.7")
TTS_VOICES = frozenset({
    "Cherry", "Serena", "Ethan", "Chelsie", "Momo", "Vivian", "Moon", "Maia", "Kai", "Nofish", "Bella",
    "Jennifer", "Ryan", "Katerina", "Aiden", "Eldric Sage",
})
IMAGE_MODELS = {"wan2.6-t2i": 4, "qwen-image-plus": 1, "qwen-image-max": 1, "qwen-image-2.0": 1, "wan2.7-image": 1}
DAY = 86400
# The sizes the wan2.6-t2i page lists by ratio (1104*1472 among them, though a little under its pixel floor).
WAN26_PRESETS = frozenset({"1280*1280", "1104*1472", "1472*1104", "960*1696", "1696*960"})


def _files(request: Request) -> dict[str, tuple[bytes, str]]:
    files: dict[str, tuple[bytes, str]] = request.app.state.story_files
    return files


def _base(request: Request) -> str:
    server = request.scope.get("server")
    host, port = server if server and server[1] is not None else ("127.0.0.1", 80)
    return f"{request.url.scheme}://{host}:{port}"


def _marker_fault(text: str, compat: bool) -> None:
    """`[[emu:inspect]]`, `[[emu:429]]`, `[[emu:500]]` in the text: the service's refusals, deterministically."""
    if "[[emu:inspect]]" in text:
        raise ApiFailure(400, "data_inspection_failed" if compat else "DataInspectionFailed", INSPECTION)
    if "[[emu:429]]" in text:
        raise ApiFailure(429, "Throttling.RateQuota", "Requests rate limit exceeded, please try again later.")
    if "[[emu:500]]" in text:
        raise ApiFailure(500, "InternalError", "An internal error has occurred, please try again later.")


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiFailure(
            400, "InvalidParameter", "Required body invalid, please check the request body format."
        ) from None
    if not isinstance(body, dict):
        raise ApiFailure(400, "InvalidParameter", "Required body invalid, please check the request body format.")
    return body


def _key(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


# -- chat ------------------------------------------------------------------------------------------


def _compat_error(failure: ApiFailure, request_id: str) -> JSONResponse:
    body = {"error": {"message": failure.message, "type": failure.code, "param": None, "code": failure.code},
            "id": f"chatcmpl-{request_id}", "request_id": request_id}
    return JSONResponse(body, status_code=failure.status, headers={"X-Request-ID": request_id})


def check_chat(body: Mapping[str, Any]) -> None:
    model = str(body.get("model") or "")
    if model not in CHAT_MODELS:
        raise ApiFailure(404, "model_not_found", f"The model `{model}` does not exist or you do not have access to it.")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiFailure(400, "invalid_parameter_error", "'messages' must be a non-empty list")
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and not (isinstance(max_tokens, int) and 1 <= max_tokens <= CHAT_MODELS[model]):
        raise ApiFailure(400, "invalid_parameter_error", f"Range of max_tokens should be [1, {CHAT_MODELS[model]}]")
    temperature = body.get("temperature")
    if temperature is not None and not (isinstance(temperature, int | float) and 0 <= temperature < 2):
        raise ApiFailure(400, "invalid_parameter_error", "Range of temperature should be [0.0, 2.0)")
    fmt = body.get("response_format")
    if fmt is not None:
        if not isinstance(fmt, Mapping) or fmt.get("type") not in ("text", "json_object", "json_schema"):
            raise ApiFailure(400, "invalid_parameter_error", "Unknown format of response_format, response_format "
                             "should be a dict, includes 'type' and an optional key 'json_schema'.")
        thinking = body.get("enable_thinking")
        thinking_on = thinking is True or (thinking is None and model.startswith(THINKING_ON_BY_DEFAULT))
        if fmt.get("type") != "text" and thinking_on:
            raise ApiFailure(
                400, "invalid_parameter_error", "Json mode response is not supported when enable_thinking is true"
            )
        if fmt.get("type") == "json_object" and not any("json" in str(m.get("content", "")).lower() for m in messages):
            raise ApiFailure(400, "invalid_parameter_error", "'messages' must contain the word 'json' in some form, "
                             "to use 'response_format' of type 'json_object'.")


async def chat_completions(request: Request, call: Any) -> Response:
    try:
        body = await _body(request)
        check_chat(body)
        text = " ".join(str(m.get("content") or "") for m in body["messages"])
        _marker_fault(text, compat=True)
    except ApiFailure as failure:
        return _compat_error(failure, call.request_id)
    content = chat_content(body)
    prompt_tokens = pseudo_tokens(text)
    completion = pseudo_tokens(content)
    finish = "stop"
    limit = body.get("max_tokens")
    if isinstance(limit, int) and completion > limit:
        content, completion, finish = content[: limit * 3], limit, "length"
    answer = {
        "choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": finish, "index": 0,
                     "logprobs": None}],
        "object": "chat.completion",
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion,
                  "total_tokens": prompt_tokens + completion},
        "created": int(time.time()),
        "system_fingerprint": "",
        "model": body["model"],
        "id": f"chatcmpl-{uuid.uuid5(uuid.NAMESPACE_URL, _key(body))}",
    }
    return JSONResponse(answer, headers={"X-Request-ID": call.request_id})


# -- the shared native endpoint: speech and images -----------------------------------------------


async def multimodal(request: Request, call: Any) -> Response:
    body = await _body(request)
    model = str(body.get("model") or "")
    if model.startswith(("qwen3-tts", "qwen-tts")):
        answer = _speech(request, body)
    elif model in IMAGE_MODELS:
        answer = _image(request, body)
    else:
        raise ApiFailure(400, "InvalidParameter", f"Model not exist: {model}")
    return JSONResponse({**answer, "request_id": call.request_id}, headers={"X-Request-ID": call.request_id})


def _speech(request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
    data = body.get("input") or {}
    text, voice = data.get("text"), data.get("voice")
    if not isinstance(text, str) or not text.strip():
        raise ApiFailure(400, "InvalidParameter", "input.text is required")
    if len(text) > 600:
        raise ApiFailure(400, "InvalidParameter", "Range of input length should be [1, 600]")
    if voice not in TTS_VOICES:
        raise ApiFailure(400, "InvalidParameter", f"Voice {voice!r} is not supported.")
    _marker_fault(text, compat=False)
    key = _key(body)
    name = f"tts-{key[:32]}.wav"
    _files(request)[name] = (wav_bytes(text, str(voice)), "audio/wav")
    expires = int(time.time()) + DAY
    return {
        "output": {"text": None, "finish_reason": "stop", "choices": None,
                   "audio": {"data": "", "url": f"{_base(request)}{FILES_PATH}/{name}?Expires={expires}",
                             "id": f"audio_{uuid.uuid5(uuid.NAMESPACE_URL, key)}", "expires_at": expires}},
        "usage": {"input_tokens": 0, "output_tokens": 0, "characters": tts_characters(text)},
    }


def _size(model: str, value: Any) -> tuple[int, int]:
    if value is None:
        return (1280, 1280) if model.startswith("wan") else (1664, 928)
    named = {"1K": 1024, "2K": 2048, "4K": 4096}
    if value in named:
        return named[value], named[value]
    try:
        width, height = (int(v) for v in str(value).split("*"))
    except ValueError:
        raise ApiFailure(400, "InvalidParameter", f"size {value!r} must look like 1280*1280") from None
    in_range = 1280 * 1280 <= width * height <= 1440 * 1440 and 0.25 <= width / height <= 4
    if model == "wan2.6-t2i" and f"{width}*{height}" not in WAN26_PRESETS and not in_range:
        raise ApiFailure(400, "InvalidParameter", "size: total pixels must be within [1280*1280, 1440*1440], "
                         "aspect ratio 1:4 to 4:1")
    return width, height


def _image(request: Request, body: Mapping[str, Any]) -> dict[str, Any]:
    model = str(body["model"])
    messages = (body.get("input") or {}).get("messages")
    if not isinstance(messages, list) or len(messages) != 1 or messages[0].get("role") != "user":
        raise ApiFailure(400, "InvalidParameter", "input.messages must hold exactly one user message")
    texts = [c.get("text") for c in messages[0].get("content") or [] if isinstance(c, Mapping) and "text" in c]
    if len(texts) != 1 or not isinstance(texts[0], str) or not texts[0].strip():
        raise ApiFailure(400, "InvalidParameter", "the message must hold exactly one text")
    prompt = texts[0]
    _marker_fault(prompt, compat=False)
    parameters = body.get("parameters") or {}
    n = parameters.get("n", IMAGE_MODELS[model] if model.startswith("wan2.6") else 1)
    if model.startswith("qwen-image") and model != "qwen-image-2.0" and n != 1:
        raise ApiFailure(400, "InvalidParameter", "n must be 1")
    if not isinstance(n, int) or not 1 <= n <= 4:
        raise ApiFailure(400, "InvalidParameter", "n must be from 1 to 4")
    width, height = _size(model, parameters.get("size"))
    seed = parameters.get("seed")
    key = _key(body)
    expires = int(time.time()) + DAY
    choices = []
    for index in range(n):
        name = f"img-{key[:32]}-{index}.png"
        _files(request)[name] = (png_bytes(width, height, prompt, seed, index), "image/png")
        choices.append({"finish_reason": "stop", "message": {"role": "assistant", "content": [
            {"image": f"{_base(request)}{FILES_PATH}/{name}?Expires={expires}", "type": "image"}]}})
    return {
        "output": {"choices": choices, "finished": True},
        "usage": {"image_count": n, "input_tokens": 0, "output_tokens": 0, "size": f"{width}*{height}",
                  "total_tokens": 0},
    }


async def story_file(request: Request) -> Response:
    found = _files(request).get(request.path_params["name"])
    if found is None:
        return Response(status_code=404)
    data, media_type = found
    return Response(data, media_type=media_type)
