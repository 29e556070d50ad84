"""The offset between this machine's clock and the service's, learned from the `Date` of every answer.

A submit's window in the account task list is compared with the service's creation times, so it must
be placed on the service's clock: a client clock minutes off would otherwise look in the wrong minutes
and conclude "no task was created". `Date` has one-second resolution and the answer took some time to
arrive, so the offset is known to about a second, which is far inside any window's margin.
"""

from __future__ import annotations

import email.utils
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from qwenvid.timestamps import wall_now


@dataclass
class ServiceClock:
    """Service time minus local time, from the latest answer that carried a readable `Date`."""

    _offset: timedelta | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def note(self, date_header: str | None, *, received: datetime | None = None) -> None:
        """Learn from one answer's `Date` header (ignored when missing or unreadable)."""
        if not date_header:
            return
        try:
            served = email.utils.parsedate_to_datetime(date_header)
        except (TypeError, ValueError, IndexError):
            return
        if served is None or served.tzinfo is None:
            return
        # `Date` is truncated to the second: its middle is half a second later.
        offset = served.astimezone(UTC) + timedelta(seconds=0.5) - (received or wall_now())
        with self._lock:
            self._offset = offset

    @property
    def offset(self) -> timedelta | None:
        """Service minus local (positive: the service is ahead of this machine); None until an answer told it."""
        with self._lock:
            return self._offset
