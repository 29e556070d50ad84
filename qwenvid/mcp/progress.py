"""A library `Reporter` that turns a run's phases and task updates into MCP progress (progress, total, message).

MCP progress must only grow, so the reported value is the seconds since the call began (never less than
the last one sent); `total` is the expected end, labelled as an estimate in the message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qwenvid.tasks.session import Phase
    from qwenvid.wire.client import TaskInfo

Send = Callable[[float, "float | None", str], None]


class ProgressReporter:
    """Reporter for one tool call; `send(progress, total, message)` delivers a notification."""

    def __init__(self, send: Send | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._send = send
        self._clock = clock
        self._start = clock()
        self._last = 0.0
        self._last_status: str | None = None
        self._last_sent_at = -1.0
        self.task_id: str | None = None

    def _emit(self, message: str, total: float | None = None, *, force: bool = True) -> None:
        if self._send is None:
            return
        now = self._clock()
        if not force and now - self._last_sent_at < 1.0:
            return  # a task update every poll would flood the client; state changes always go
        self._last_sent_at = now
        self._last = max(self._last + 0.001, now - self._start)
        self._send(round(self._last, 3), total, message)

    def phase(self, phase: Phase, message: str = "") -> None:
        if phase.value in ("queued", "rendering") and message:
            self.task_id = message
        self._emit(f"{phase.value}: {message}" if message else phase.value)

    def task_update(self, info: TaskInfo, elapsed: float, estimate: float) -> None:
        self.task_id = info.task_id
        changed = info.status != self._last_status
        self._last_status = info.status
        total = self._last + max(0.0, estimate - elapsed) if estimate else None
        self._emit(
            f"task {info.task_id} {info.status}, {elapsed:.0f} s of about {estimate:.0f} s (estimate)",
            total,
            force=changed,
        )

    def transfer(self, phase: Phase, done: int, total: int | None) -> None:
        of = f" of {total / 1e6:.1f} MB" if total else ""
        self._emit(f"{phase.value}: {done / 1e6:.1f} MB{of}", force=total is not None and done >= total)

    def notice(self, text: str) -> None:
        self._emit(text)

    def close(self) -> None:
        pass

    def plan_step(self, record: Any, finished: int, total: int) -> None:
        """A plan's step changed state."""
        self._emit(f"plan step {record.id}: {record.status} ({finished} of {total} steps finished)")
