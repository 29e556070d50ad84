"""How a task verb reports progress: its phases and the Reporter the CLI implements (no display code here)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from qwenvid.wire.client import TaskInfo


class Phase(StrEnum):
    VALIDATING = "validating"
    UPLOADING = "uploading"
    SUBMITTING = "submitting"
    QUEUED = "queued"
    RENDERING = "rendering"
    DOWNLOADING = "downloading"
    VERIFYING = "verifying"
    DONE = "done"


class Reporter(Protocol):
    """Progress sink; the CLI implements it with Rich or plain lines."""

    def phase(self, phase: Phase, message: str = "") -> None: ...

    def task_update(self, info: TaskInfo, elapsed: float, estimate: float) -> None: ...

    def transfer(self, phase: Phase, done: int, total: int | None) -> None: ...

    def notice(self, text: str) -> None: ...

    def close(self) -> None: ...


class NullReporter:
    """Reports nothing (scripts, --quiet)."""

    def phase(self, phase: Phase, message: str = "") -> None:
        pass

    def task_update(self, info: TaskInfo, elapsed: float, estimate: float) -> None:
        pass

    def transfer(self, phase: Phase, done: int, total: int | None) -> None:
        pass

    def notice(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass
