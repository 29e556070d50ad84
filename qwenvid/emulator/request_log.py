"""One line per request the emulator answers: time, method, path, HTTP status, task id and state or error code."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Only small JSON answers are read for the task id and code (DashScope's are a few hundred bytes).
_MAX_BODY = 64 * 1024
# A task id in a path: /api/v1/tasks/ID, /api/v1/tasks/ID/cancel, /__results/ID.mp4
_TASK_IN_PATH = re.compile(r"/(?:tasks|__results)/([0-9A-Za-z-]{8,})(?:\.mp4|/cancel)?$")


def describe(method: str, path: str, status: int, body: bytes, dropped: bool = False) -> str:
    """The log line (without the time) for one answered request; never the query string or any header."""
    parts = [method, path, str(status) if status else "-"]
    found = _TASK_IN_PATH.search(path)
    task_id = found.group(1) if found else None
    task_status = code = None
    if body:
        try:
            data: Any = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            found_output = data.get("output")
            output: dict[str, Any] = found_output if isinstance(found_output, dict) else {}
            task_id = output.get("task_id") or task_id
            task_status = output.get("task_status")
            code = data.get("code") or output.get("code")
    if task_id and task_id not in path:
        parts.append(f"task {task_id}")
    if task_status:
        parts.append(str(task_status))
    if code:
        parts.append(str(code))
    if dropped:
        parts.append("(connection dropped)")
    return " ".join(parts)


class RequestLog:
    """ASGI middleware: after each HTTP answer, `write` gets one line such as
    `12:00:01.250 GET /api/v1/tasks/3f2a… 200 task 3f2a… RUNNING`.
    """

    def __init__(self, app: ASGIApp, write: Callable[[str], None], now: Callable[[], float] = time.time) -> None:
        self.app = app
        self.write = write
        self.now = now

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        is_json = False
        body = bytearray()

        async def capture(message: Message) -> None:
            nonlocal status, is_json
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = dict(message.get("headers") or [])
                is_json = headers.get(b"content-type", b"").startswith(b"application/json")
            elif message["type"] == "http.response.body" and is_json and len(body) < _MAX_BODY:
                body.extend(message.get("body", b""))
            await send(message)

        dropped = True
        try:
            await self.app(scope, receive, capture)
            dropped = False
        finally:
            self._log(scope, status, bytes(body) if len(body) <= _MAX_BODY else b"", dropped)

    def _log(self, scope: Scope, status: int, body: bytes, dropped: bool) -> None:
        stamp = self.now()
        clock = time.strftime("%H:%M:%S", time.localtime(stamp)) + f".{int(stamp * 1000) % 1000:03d}"
        try:
            self.write(f"{clock} {describe(scope['method'], scope['path'], status, body, dropped)}")
        except (OSError, ValueError):
            pass  # a closed or broken log stream must not break the answer
