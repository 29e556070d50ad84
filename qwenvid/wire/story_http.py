"""The one synchronous JSON call the story APIs share (chat, speech, images): bearer key, bounded, typed errors."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx

from qwenvid.errors import NetworkError, error_for_status, register_secret
from qwenvid.wire.http import clean_server_text, parse_retry_after, send_bounded

CALL_SECONDS = 300.0  # a sync image call takes ~20 s; the text and speech calls far less
FILE_LIMIT = 64 << 20


def compat_base(base_url: str) -> str:
    """The OpenAI-compatible base beside a native one: `…/api/v1` -> `…/compatible-mode/v1`."""
    base = base_url.rstrip("/")
    if base.endswith("/api/v1"):
        return base[: -len("/api/v1")] + "/compatible-mode/v1"
    return base + "/compatible-mode/v1" if not base.endswith("/compatible-mode/v1") else base


def post_json(
    api_key: str | None,
    url: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    attempts: int = 3,
) -> dict[str, Any]:
    """POST `body`; the JSON answer, or the typed error (moderation, throttling, auth...) for a refusal.

    Sent again only after an answer that certainly made nothing (429, honouring Retry-After); a call that may
    have been served (a read timeout, a 5xx) is never repeated here: it may bill."""
    from qwenvid.errors import ThrottledError

    for attempt in range(1, attempts + 1):
        try:
            return _post_once(api_key, url, body, headers=headers, transport=transport)
        except ThrottledError as exc:
            if attempt == attempts:
                raise
            sleep(min(30.0, exc.retry_after or 2.0 ** attempt))
    raise AssertionError("unreachable")


def _post_once(
    api_key: str | None,
    url: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str] | None,
    transport: httpx.BaseTransport | None,
) -> dict[str, Any]:
    from qwenvid.wire.client import USER_AGENT

    register_secret(api_key)
    sent = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json", "User-Agent": USER_AGENT}
    sent.update(headers or {})
    with httpx.Client(transport=transport, follow_redirects=False) as client:
        try:
            response = send_bounded(client, "POST", url, budget=CALL_SECONDS, json=body, headers=sent)
        except httpx.ConnectError as exc:
            raise NetworkError(f"Cannot reach {httpx.URL(url).host}: {exc}.", hint="Check the network.") from None
        except httpx.HTTPError as exc:
            raise NetworkError(
                f"The call to {httpx.URL(url).path} did not finish: {type(exc).__name__}.",
                hint="It may have been billed; running the same command again asks once more.",
            ) from None
    try:
        data = json.loads(response.content) if response.content else None
    except ValueError:
        data = None
    if not response.is_success:
        code, message, request_id = _error_of(data, response)
        raise error_for_status(
            response.status_code, code, message, request_id=request_id, retry_after=parse_retry_after(response.headers)
        )
    if not isinstance(data, dict):
        raise NetworkError(f"{httpx.URL(url).path} answered with something that is not a JSON object.")
    return data


def _error_of(data: Any, response: httpx.Response) -> tuple[str | None, str | None, str | None]:
    """Native `{code, message}` and OpenAI-compatible `{"error": {code, message}}` bodies alike."""
    if isinstance(data, dict):
        error = data.get("error")
        inner: dict[str, Any] = error if isinstance(error, dict) else data
        code = inner.get("code") or inner.get("type")
        message = inner.get("message")
        request_id = data.get("request_id") or response.headers.get("x-request-id")
        return (
            str(code) if code else None,
            clean_server_text(str(message)) if message else None,
            str(request_id) if request_id else None,
        )
    return "Unknown", clean_server_text(response.text) or None, response.headers.get("x-request-id")


def download(url: str, target: Any, *, transport: httpx.BaseTransport | None = None) -> int:
    """A result file (audio, image) onto disk; its size. Result links carry their own signature: no key sent."""
    from pathlib import Path

    from qwenvid.errors import DownloadError

    path = Path(target)
    with httpx.Client(transport=transport, follow_redirects=True) as client:
        try:
            response = send_bounded(client, "GET", url, budget=CALL_SECONDS, limit=FILE_LIMIT)
        except httpx.HTTPError as exc:
            raise DownloadError(f"Download of {httpx.URL(url).path} failed: {type(exc).__name__}.") from None
    if not response.is_success:
        raise DownloadError(f"Download of {httpx.URL(url).path} failed: HTTP {response.status_code}.")
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(path.name + ".part")
    temp.write_bytes(response.content)
    temp.replace(path)
    return len(response.content)
