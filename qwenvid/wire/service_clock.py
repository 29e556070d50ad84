"""The offset between this machine's clock and the service's, learned from the `Date` of every answer.

A submit's window in the account task list is compared with the service's creation times, so it must
be placed on the service's clock: a client clock minutes off would otherwise look in the wrong minutes
and conclude "no task was created". `Date` has one-second resolution and the answer took some time to
arrive, so the offset is known to about a second, which is far inside any window's margin.
"""

from __future__ import annotations

import email.utils
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from qwenvid.timestamps import wall_now


@dataclass
class ServiceClock:
    """The service's time as the latest answer with a readable `Date` told it, carried forward on this
    machine's monotonic clock; compared with any local reading of "now" (the caller's clock, if injected)."""

    _served: datetime | None = None
    _received: float = 0.0  # time.monotonic() when it arrived
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def note(self, date_header: str | None, *, received: float | None = None) -> None:
        """Learn from one answer's `Date` header (ignored when missing or unreadable)."""
        if not date_header:
            return
        try:
            served = email.utils.parsedate_to_datetime(date_header)
        except (TypeError, ValueError, IndexError):
            return
        if served is None or served.tzinfo is None:
            return
        with self._lock:
            # `Date` is truncated to the second: its middle is half a second later.
            self._served = served.astimezone(UTC) + timedelta(seconds=0.5)
            self._received = time.monotonic() if received is None else received

    def now(self) -> datetime | None:
        """The service's clock now, or None until an answer told it."""
        with self._lock:
            if self._served is None:
                return None
            return self._served + timedelta(seconds=max(0.0, time.monotonic() - self._received))

    def offset_from(self, local_now: datetime) -> timedelta | None:
        """Service minus local (positive: the service is ahead of `local_now`'s clock); None while unknown."""
        served = self.now()
        return None if served is None else served - local_now

    @property
    def offset(self) -> timedelta | None:
        """Service minus this machine's wall clock."""
        return self.offset_from(wall_now())
