"""Step identity: the resolved request plus the sha256 of every input, so a rerun recognises finished work.

A generation step's identity is the wire body it would send, with each local input replaced by
`sha256:<hex>` of its bytes (a reference: the upstream output's sha256), plus its variant number. The
identity is stored as the ledger row's fingerprint; a media step's identity is kept in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from qwenvid.plans.model import Step

_CHUNK = 1 << 20
_cache: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """sha256 of a file, remembered per (path, size, mtime) so a plan hashes each input once."""
    stat = os.stat(path)
    key = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    found = _cache.get(key)
    if found is not None:
        return found
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    _cache[key] = digest.hexdigest()
    return _cache[key]


def _digest(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return "plan-" + hashlib.sha256(text.encode()).hexdigest()


def generation_identity(step: Step, request: Any, hashes: Mapping[str, str], *, occurrence: int = 0) -> str:
    """Identity of a generation: its wire body with inputs as `sha256:<hex>`, the variant and occurrence.

    `hashes` maps each local input path of the request to its sha256. `occurrence` tells apart identical
    requests written twice in one plan (two batch rows with the same prompt are two videos).
    """
    from qwenvid.requests.shapes import build_payload

    payload = build_payload(request, {path: f"sha256:{digest}" for path, digest in hashes.items()})
    return _digest(
        {
            "kind": "generate",
            "endpoint": payload.endpoint_path,
            "body": payload.body,
            "variant": step.variant,
            "occurrence": occurrence,
        }
    )


def media_identity(step: Step, params: Mapping[str, Any]) -> str:
    """Identity of a media step: its op and parameters with every input as `sha256:<hex>` (or its URL)."""
    return _digest({"kind": "media", "op": step.op, "params": dict(params)})
