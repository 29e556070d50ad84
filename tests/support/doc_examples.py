"""The JSON request examples of dashscope-api.md §2, literally: one copy for every test that checks against them."""

from __future__ import annotations

from typing import Any

from qwenvid.catalogue import PATHS

VG = PATHS["video-generation"]

# The JSON examples of dashscope-api.md §2, literally ("…" kept; URLs completed to be URLs).
DOC_EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    (
        VG,
        {
            "model": "wan2.6-t2v",
            "input": {"prompt": "…", "audio_url": "https://…/bgm.mp3"},
            "parameters": {
                "size": "1280*720",
                "duration": 10,
                "prompt_extend": True,
                "shot_type": "multi",
                "watermark": False,
                "seed": 12345,
            },
        },
    ),
    (
        VG,
        {
            "model": "wan2.7-t2v",
            "input": {"prompt": "…", "negative_prompt": "…", "audio_url": "https://…/a.mp3"},
            "parameters": {
                "resolution": "720P",
                "ratio": "16:9",
                "duration": 5,
                "prompt_extend": True,
                "watermark": False,
                "seed": 12345,
            },
        },
    ),
    (
        VG,
        {
            "model": "wan2.6-i2v-flash",
            "input": {"prompt": "…", "img_url": "https://…/rap.png", "audio_url": "https://…/rap.mp3"},
            "parameters": {
                "resolution": "720P",
                "duration": 10,
                "prompt_extend": True,
                "shot_type": "multi",
                "audio": True,
            },
        },
    ),
]

T2V_WAN26_EXAMPLE, T2V_WAN27_EXAMPLE, I2V_WAN26_FLASH_EXAMPLE = (body for _, body in DOC_EXAMPLES)
