"""HTTP plumbing shared by the client: retry delays, Retry-After, the query rate limiter, error mapping."""

from __future__ import annotations

import email.utils
import json
import math
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC

import httpx

from qwenvid.errors import error_for_status, scrub

# Statuses a GET may retry: throttling and the server-side failures DashScope documents as transient (§4.1).
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

# ESC-introduced terminal sequences and the other C0/C1 controls (tab and newline survive).
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.|[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MAX_ERROR_TEXT = 300


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter that honours Retry-After.

    Without Retry-After, retry `n` (0-based) waits `min(initial * 2**n, maximum)` shortened by up to
    `jitter` (25 %) at random, so clients that failed together do not come back together. A
    Retry-After from the server is honoured as given, but never beyond `max_retry_after`.
    """

    max_retries: int = 5
    # A refused connection or failed DNS lookup is rarely fixed by waiting half a minute: fail fast and
    # let the caller (the poller, which tolerates a bounded run of network errors) decide.
    connect_retries: int = 2
    initial: float = 1.0
    maximum: float = 30.0
    jitter: float = 0.25
    max_retry_after: float = 120.0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def gives_up(self, attempt: int, exc: BaseException) -> bool:
        """Whether retry number `attempt` after transport error `exc` is one too many."""
        limit = self.connect_retries if isinstance(exc, httpx.ConnectError) else self.max_retries
        return attempt >= min(limit, self.max_retries)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0 for the first retry)."""
        if retry_after is not None and math.isfinite(retry_after) and retry_after >= 0:
            return min(retry_after, self.max_retry_after)
        base = min(self.initial * 2.0 ** min(max(attempt, 0), 64), self.maximum)
        return base * (1.0 - self.jitter * self.rng.random())


def parse_retry_after(headers: Mapping[str, str], *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds the server asked us to wait, from `retry-after-ms` or `Retry-After` (seconds or HTTP date).

    Returns None when there is no usable value (absent, negative, not finite, unparseable); a date in
    the past means 0.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    millis = _parse_seconds(lowered.get("retry-after-ms"))
    if millis is not None:
        return millis / 1000.0
    raw = lowered.get("retry-after")
    if raw is None:
        return None
    seconds = _parse_seconds(raw)
    if seconds is not None:
        return seconds
    return _parse_http_date(raw, now())


def _parse_seconds(raw: str | None) -> float | None:
    if raw is None or not re.fullmatch(r"\s*[0-9]+(\.[0-9]+)?\s*", raw):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_NAMES = frozenset(_WEEKDAYS) | {day[:3] for day in _WEEKDAYS}


def _parse_http_date(raw: str, now: float) -> float | None:
    day = re.match(r"\s*([A-Za-z]+),", raw)
    if day and day.group(1).lower() not in _DAY_NAMES:  # email.utils would skip a garbled day name
        return None
    try:
        when = email.utils.parsedate_to_datetime(raw.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with no claim about the local zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


class RateLimiter:
    """A thread-safe token bucket: at most `qps` acquisitions per second, bursts of `burst`.

    Callers that find the bucket empty reserve the next free slot and sleep until it, outside the
    lock, so many threads are paced fairly without holding each other up.
    """

    def __init__(
        self,
        qps: float = 15.0,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if qps <= 0 or burst < 1:
            raise ValueError("qps must be above 0 and burst at least 1")
        self.qps = qps
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = burst
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping if needed; returns how long this call waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.qps)
            self._updated = now
            self._tokens -= 1.0
            wait = -self._tokens / self.qps if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


def clean_server_text(text: str, limit: int = _MAX_ERROR_TEXT) -> str:
    """Server text made safe to show: secrets scrubbed, terminal control sequences removed, length capped."""
    text = _CONTROL.sub("", scrub(text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_body(response: httpx.Response) -> tuple[str | None, str | None, str | None]:
    """(code, message, request_id) from a DashScope error body (§3.5); non-JSON bodies give code "Unknown"."""
    try:
        response.read()
        body = json.loads(response.content) if response.content else None
    except (ValueError, httpx.StreamError):
        body = None
    request_id = response.headers.get("x-request-id")
    if not isinstance(body, dict):
        text = clean_server_text(response.text) if response.content else ""
        return "Unknown", text or response.reason_phrase or None, request_id
    code = body.get("code")
    message = body.get("message") or body.get("msg")
    request_id = body.get("request_id") or request_id
    return (
        str(code) if code else None,
        clean_server_text(str(message)) if message else None,
        str(request_id) if request_id else None,
    )


def raise_for_response(response: httpx.Response, *, task_id: str | None = None) -> None:
    """Raise the typed qwenvid error for a non-2xx DashScope response; do nothing for success."""
    if response.is_success:
        return
    code, message, request_id = error_body(response)
    raise error_for_status(
        response.status_code,
        code,
        message,
        request_id=request_id,
        task_id=task_id,
        retry_after=parse_retry_after(response.headers),
    )
