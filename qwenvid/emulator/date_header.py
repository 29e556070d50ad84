"""Every answer carries a `Date` from the emulator's own clock, as DashScope's carry the service's.

Clients learn the service's clock from it (qwenvid/wire/service_clock.py); with a manual or shifted
emulator clock, uvicorn's own `Date` (the machine's clock) would tell them the wrong time.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]


class DateHeader:
    """ASGI middleware: set `date` on each HTTP response from `now()` (epoch seconds)."""

    def __init__(self, app: Any, now: Callable[[], float]) -> None:
        self.app = app
        self.now = now

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return

        async def with_date(message: Message) -> None:
            if message.get("type") == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                headers.append((b"date", email.utils.formatdate(self.now(), usegmt=True).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_date)
