"""The emulator's story endpoints over loopback: chat (JSON modes, refusals), TTS (real WAVs), text-to-image (PNGs)."""

from __future__ import annotations

import io
import json
import wave

import httpx
import pytest
from PIL import Image

from qwenvid.emulator.server import EmulatorThread
from qwenvid.wire.story_http import compat_base
from tests.support.emulator import CANARY_KEY

MULTIMODAL = "/services/aigc/multimodal-generation/generation"


def client(emulator: EmulatorThread) -> httpx.Client:
    return httpx.Client(headers={"Authorization": f"Bearer {CANARY_KEY}"}, timeout=10)


def chat(emulator: EmulatorThread, body: dict) -> httpx.Response:
    with client(emulator) as http:
        return http.post(compat_base(emulator.base_url) + "/chat/completions", json=body)


def test_compat_base_is_derived_from_the_native_one() -> None:
    assert compat_base("https://dashscope-intl.aliyuncs.com/api/v1") == (
        "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
    )
    assert compat_base("http://127.0.0.1:8765/api/v1/") == "http://127.0.0.1:8765/compatible-mode/v1"


SCHEMA = {
    "type": "object",
    "properties": {
        "title": {"type": "string"},
        "shots": {
            "type": "array",
            "minItems": 4,
            "maxItems": 6,
            "items": {
                "type": "object",
                "properties": {
                    "prompt": {"type": "string"},
                    "cast": {"type": "array", "items": {"type": "string", "enum": ["Mira", "Tom"]}},
                    "duration": {"type": "integer", "minimum": 2},
                },
            },
        },
    },
}


def test_chat_json_schema_follows_the_shape_and_the_paragraph(emulator: EmulatorThread) -> None:
    body = {
        "model": "qwen3.7-flash",
        "messages": [{"role": "system", "content": "Write a storyboard."},
                     {"role": "user", "content": "Mira rows out. Tom waits on the pier. Night falls."}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "board", "schema": SCHEMA}},
        "enable_thinking": False,
    }
    first, second = chat(emulator, body), chat(emulator, body)
    assert first.status_code == 200, first.text
    data = first.json()
    assert data["object"] == "chat.completion" and data["usage"]["total_tokens"] > 0
    board = json.loads(data["choices"][0]["message"]["content"])
    assert len(board["shots"]) == 4  # three sentences, at least minItems
    assert board["shots"][0] == {"prompt": "Mira rows out.", "cast": ["Mira"], "duration": 2}
    assert board["shots"][1]["cast"] == ["Tom"]
    assert first.json()["choices"] == second.json()["choices"]  # deterministic


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"enable_thinking": True}, 400, "enable_thinking is true"),
        ({"enable_thinking": None}, 400, "enable_thinking is true"),  # 3.x flash: thinking on by default
        ({"response_format": {"type": "json_object"}, "messages": [{"role": "user", "content": "A story"}]}, 400,
         "must contain the word 'json'"),
        ({"max_tokens": 0}, 400, "Range of max_tokens"),
        ({"messages": [{"role": "user", "content": "A story [[emu:inspect]]"}]}, 400, "inappropriate content"),
        ({"messages": [{"role": "user", "content": "busy [[emu:429]]"}]}, 429, "rate limit"),
    ],
)
def test_chat_refusals(emulator: EmulatorThread, change: dict, status: int, words: str) -> None:
    body = {
        "model": "qwen3.7-flash",
        "messages": [{"role": "user", "content": "A story in json."}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "b", "schema": SCHEMA}},
        "enable_thinking": False,
    }
    body.update(change)
    body = {k: v for k, v in body.items() if v is not None}
    answer = chat(emulator, body)
    assert answer.status_code == status
    assert words in answer.json()["error"]["message"]


def test_tts_returns_a_real_wav_of_plausible_length(emulator: EmulatorThread) -> None:
    text = "The boat drifts out into the grey morning, and nobody waves."
    body = {"model": "qwen3-tts-flash", "input": {"text": text, "voice": "Cherry", "language_type": "English"}}
    with client(emulator) as http:
        first = http.post(emulator.base_url + MULTIMODAL, json=body)
        assert first.status_code == 200, first.text
        audio = first.json()["output"]["audio"]
        assert first.json()["usage"]["characters"] == len(text)
        data = http.get(audio["url"]).content
        again = http.get(http.post(emulator.base_url + MULTIMODAL, json=body).json()["output"]["audio"]["url"]).content
        refused = http.post(emulator.base_url + MULTIMODAL, json={**body, "input": {"text": text, "voice": "Nobody"}})
    assert data == again
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (24000, 1, 2)
        assert wav.getnframes() / 24000 == pytest.approx(0.06 * len(text), abs=0.01)
    assert refused.status_code == 400 and "Voice" in refused.json()["message"]


def test_text_to_image_returns_pngs_of_the_requested_size(emulator: EmulatorThread) -> None:
    body = {
        "model": "wan2.6-t2i",
        "input": {"messages": [{"role": "user", "content": [{"text": "A lighthouse keeper"}]}]},
        "parameters": {"n": 2, "size": "1104*1472", "seed": 3},
    }
    with client(emulator) as http:
        answer = http.post(emulator.base_url + MULTIMODAL, json=body)
        assert answer.status_code == 200, answer.text
        choices = answer.json()["output"]["choices"]
        assert answer.json()["usage"]["image_count"] == 2
        images = [http.get(c["message"]["content"][0]["image"]).content for c in choices]
        moderated = http.post(emulator.base_url + MULTIMODAL, json={
            **body, "input": {"messages": [{"role": "user", "content": [{"text": "x [[emu:inspect]]"}]}]}})
        too_small = http.post(emulator.base_url + MULTIMODAL, json={**body, "parameters": {"size": "512*512"}})
    for data in images:
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "PNG" and image.size == (1104, 1472)
    assert images[0] != images[1]
    assert moderated.status_code == 400 and moderated.json()["code"] == "DataInspectionFailed"
    assert too_small.status_code == 400


def test_story_endpoints_need_the_key(emulator: EmulatorThread) -> None:
    with httpx.Client(timeout=10) as http:
        answer = http.post(emulator.base_url + MULTIMODAL, json={"model": "qwen3-tts-flash"})
    assert answer.status_code == 401


def test_armed_faults_reach_the_story_endpoints(make_emulator) -> None:  # type: ignore[no-untyped-def]
    from qwenvid.emulator.config import EmulatorConfig

    emulator = make_emulator(EmulatorConfig(faults=("throttle:chat", "5xx:story")))
    body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]}
    assert chat(emulator, body).status_code == 429
    assert chat(emulator, body).status_code == 200  # fired once
    speech = {"model": "qwen3-tts-flash", "input": {"text": "Hello.", "voice": "Cherry"}}
    with client(emulator) as http:
        assert http.post(emulator.base_url + MULTIMODAL, json=speech).status_code == 500
        assert http.post(emulator.base_url + MULTIMODAL, json=speech).status_code == 200


def test_a_throttled_call_is_sent_again_after_the_wait_a_refused_one_is_not(make_emulator) -> None:  # type: ignore[no-untyped-def]
    from qwenvid.emulator.config import EmulatorConfig
    from qwenvid.errors import ModerationError
    from qwenvid.wire.story_http import post_json

    emulator = make_emulator(EmulatorConfig(faults=("throttle:chat:2",)))
    waits: list[float] = []
    url = compat_base(emulator.base_url) + "/chat/completions"
    body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]}
    answer = post_json(CANARY_KEY, url, body, sleep=waits.append)
    assert answer["object"] == "chat.completion" and waits == [1.0, 1.0]  # the emulator's Retry-After
    refused = {"model": "qwen-plus", "messages": [{"role": "user", "content": "[[emu:inspect]]"}]}
    with pytest.raises(ModerationError):
        post_json(CANARY_KEY, url, refused, sleep=waits.append)
    assert len(waits) == 2
