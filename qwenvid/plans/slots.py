"""The submit slots single runs take through qwenvid.store.pacing (when present): a plan takes one per task too,
so a `qwenvid t2v` next to a running plan counts the plan's tasks, as the plan counts its (ledger rows)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


class _Busy(Exception):
    """The pacer would wait: the plan's scheduler waits in its own loop instead."""


def _busy(_seconds: float) -> None:
    raise _Busy


class SharedSlots:
    def __init__(self, ledger_path: Path, clock: Callable[[], float]) -> None:
        self._pacer: Any = None
        try:
            from qwenvid.store.pacing import SubmitPacer  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            return
        # Slots are compared across processes in epoch seconds; an injected test clock is used as it is.
        wall = time.time if clock is time.monotonic else clock
        self._pacer = SubmitPacer(ledger_path, clock=wall, sleep=_busy)

    def try_take(self, holder: str, model: str, service: str, expected_seconds: float) -> bool:
        """Take a slot of `model` without waiting; False when the pacer says another submit must wait."""
        if self._pacer is None:
            return True
        from qwenvid.store.pacing import RENEW_SECONDS, limits_for  # type: ignore[import-not-found, unused-ignore]

        canonical, rate, concurrency = limits_for(model)
        try:
            self._pacer.acquire(
                holder,
                model=canonical,
                service=service.rstrip("/"),
                rate=rate,
                concurrency=concurrency,
                lease=1.5 * max(expected_seconds, 1.0) + RENEW_SECONDS,
            )
        except _Busy:
            return False
        return True

    def note(self, holder: str, status: str) -> None:
        """A poll saw the task: a finished one frees its slot, a live one keeps it."""
        if self._pacer is not None:
            from qwenvid.store.pacing import note_status  # type: ignore[import-not-found, unused-ignore]

            note_status(self._pacer, holder, status)

    def answered(self, holder: str) -> None:
        """The submit was answered: its rate stamp moves to now (see SubmitPacer.answered)."""
        if self._pacer is not None:
            self._pacer.answered(holder)

    def release(self, holder: str) -> None:
        if self._pacer is not None:
            self._pacer.release(holder)
