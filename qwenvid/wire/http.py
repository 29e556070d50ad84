"""HTTP plumbing shared by the client: retry delays, Retry-After, the query rate limiter, error mapping,
bounded requests (an overall deadline and a size cap on every answer read into memory)."""

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

from qwenvid.errors import error_for_status, scrub, scrub_id
from qwenvid.wire import deadlines

# Statuses a GET may retry: throttling and the server-side failures DashScope documents as transient (§4.1).
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

# ESC-introduced terminal sequences and the other C0/C1 controls (tab and newline survive).
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.|[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_MAX_ERROR_TEXT = 300
# DashScope answers are a few KB (a 100-task list page is ~50 KB): anything past this is not an answer.
MAX_ANSWER_BYTES = 8 << 20


class AnswerTooLarge(httpx.DecodingError):
    """An API answer bigger than MAX_ANSWER_BYTES: reading stops there (never retried)."""


# Failures that waiting will not fix: retrying them only delays the error.
PERMANENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.UnsupportedProtocol,  # file://, ftp://, ... (e.g. after a redirect)
    httpx.TooManyRedirects,
    httpx.LocalProtocolError,
    AnswerTooLarge,
)


def is_permanent(exc: BaseException) -> bool:
    return isinstance(exc, PERMANENT_ERRORS)


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
        """Whether retry number `attempt` after transport error `exc` is one too many.

        Permanent errors and a passed deadline (see qwenvid.wire.deadlines) end the retries at once.
        """
        if is_permanent(exc) or deadlines.expired():
            return True
        limit = self.connect_retries if isinstance(exc, httpx.ConnectError) else self.max_retries
        return attempt >= min(limit, self.max_retries)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `attempt` (0 for the first retry), never past the deadline."""
        if retry_after is not None and math.isfinite(retry_after) and retry_after >= 0:
            wait = min(retry_after, self.max_retry_after)
        else:
            base = min(self.initial * 2.0 ** min(max(attempt, 0), 64), self.maximum)
            wait = base * (1.0 - self.jitter * self.rng.random())
        left = deadlines.remaining()
        return wait if left is None else min(wait, left)


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
        scrub_id(request_id),
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


def read_limited(response: httpx.Response, limit: int = MAX_ANSWER_BYTES) -> bytes:
    """The (decoded) body of a streamed response, refusing to hold more than `limit` bytes."""
    declared = response.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise AnswerTooLarge(_too_large(response, int(declared), limit), request=response.request)
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > limit:
            raise AnswerTooLarge(_too_large(response, None, limit), request=response.request)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(response: httpx.Response, size: int | None, limit: int) -> str:
    amount = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes"
    return (
        f"the answer to {response.request.method} {response.request.url.path} is {amount}; "
        f"qwenvid reads at most {limit >> 20} MiB from the API"
    )


def send_bounded(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    budget: float,
    limit: int = MAX_ANSWER_BYTES,
    **kwargs: object,
) -> httpx.Response:
    """One request whose whole exchange (connect, send, answer) ends within `budget` seconds (or the
    enclosing deadline, if sooner) and whose answer is read into memory only up to `limit` bytes.

    Failures are httpx's own exceptions (a passed deadline is a ConnectTimeout before anything was
    sent, else a Read/WriteTimeout), so callers keep their retry and "was it sent?" rules. The
    returned response has its body read (decoded), and no open connection.
    """
    with deadlines.bounded(budget):
        if deadlines.expired():
            raise httpx.ConnectTimeout("the overall deadline passed before the request was sent")
        request = client.build_request(method, url, **kwargs)  # type: ignore[arg-type]
        response = client.send(request, stream=True)
        try:
            body = read_limited(response, limit)
        finally:
            response.close()
    # The body is decoded already: the copy must not announce an encoding or a length of its own.
    skip = {"content-encoding", "content-length", "transfer-encoding"}
    headers = [(name, value) for name, value in response.headers.multi_items() if name.lower() not in skip]
    return httpx.Response(
        response.status_code, headers=headers, content=body, request=request, extensions=response.extensions
    )
