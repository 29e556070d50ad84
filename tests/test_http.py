"""Retry-After parsing, backoff delays, the query rate limiter and DashScope error mapping."""

from __future__ import annotations

import random
import threading
import time

import httpx
import pytest

from qwenvid.errors import (
    AuthenticationError,
    BadRequestError,
    ModerationError,
    NotFoundError,
    QuotaError,
    ServerError,
    ThrottledError,
)
from qwenvid.wire.http import RateLimiter, RetryPolicy, clean_server_text, parse_retry_after, raise_for_response

NOW = 1696004797.0  # Fri, 29 Sep 2023 16:26:37 GMT, the instant openai-python's table is pinned to


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "20"}, 20.0),
        ({"Retry-After": "20"}, 20.0),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": " 7 "}, 7.0),
        ({"retry-after": "-10"}, None),
        ({"retry-after": "Fri, 29 Sep 2023 16:26:57 GMT"}, 20.0),
        ({"retry-after": "Fri, 29 Sep 2023 16:26:37 GMT"}, 0.0),
        ({"retry-after": "Fri, 29 Sep 2023 16:26:27 GMT"}, 0.0),
        ({"retry-after": "Fri, 29 Sep 2023 16:27:37 GMT"}, 60.0),
        ({"retry-after": "Fri, 29 Sep 2023 18:26:57 +0200"}, 20.0),
        ({"retry-after": "Zun, 29 Sep 2023 16:26:27 GMT"}, None),
        ({"retry-after": "Fri, 32 Sep 2023 16:26:27 GMT"}, None),
        ({"retry-after": ""}, None),
        ({"retry-after": "soon"}, None),
        ({"retry-after": "nan"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "0x10"}, None),
        ({"retry-after": "²"}, None),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"retry-after-ms": "1500", "retry-after": "30"}, 1.5),
        ({"retry-after-ms": "bogus", "retry-after": "30"}, 30.0),
        ({}, None),
    ],
)
def test_parse_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert parse_retry_after(headers, now=lambda: NOW) == expected


def test_parse_retry_after_reads_httpx_headers() -> None:
    assert parse_retry_after(httpx.Headers({"Retry-After": "3"})) == 3.0


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(
    ("attempt", "retry_after", "draw", "expected"),
    [
        (0, None, 0.0, 1.0),
        (1, None, 0.0, 2.0),
        (2, None, 0.0, 4.0),
        (4, None, 0.0, 16.0),
        (5, None, 0.0, 30.0),  # capped at `maximum`
        (1000, None, 0.0, 30.0),  # no overflow
        (0, None, 1.0, 0.75),  # jitter shortens by at most 25 %
        (3, None, 0.5, 8.0 * 0.875),
        (0, 20.0, 0.0, 20.0),  # Retry-After honoured as given
        (4, 0.0, 0.0, 0.0),
        (0, 500.0, 0.0, 120.0),  # ... up to the cap
        (2, float("nan"), 0.0, 4.0),  # unusable values fall back to backoff
        (2, -1.0, 0.0, 4.0),
    ],
)
def test_retry_delay_table(attempt: int, retry_after: float | None, draw: float, expected: float) -> None:
    policy = RetryPolicy(rng=FixedRandom(draw))
    assert policy.delay(attempt, retry_after) == pytest.approx(expected)


def test_retry_delays_with_a_seeded_rng_are_reproducible_and_bounded() -> None:
    one, two = RetryPolicy(rng=random.Random(7)), RetryPolicy(rng=random.Random(7))
    first = [one.delay(n) for n in range(8)]
    assert [two.delay(n) for n in range(8)] == first
    assert len(set(first[:5])) == 5
    for n, value in enumerate(first):
        base = min(2.0**n, 30.0)
        assert 0.75 * base <= value <= base


class FakeTime:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_rate_limiter_paces_acquisitions_at_qps() -> None:
    fake = FakeTime()
    limiter = RateLimiter(10.0, clock=fake.clock, sleep=fake.sleep)
    stamps = []
    for _ in range(21):
        limiter.acquire()
        stamps.append(fake.now)
    assert stamps[0] == 0.0
    assert stamps[-1] == pytest.approx(2.0)
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    assert all(gap == pytest.approx(0.1) for gap in gaps)


def test_rate_limiter_lets_idle_time_refill_up_to_the_burst() -> None:
    fake = FakeTime()
    limiter = RateLimiter(10.0, burst=3, clock=fake.clock, sleep=fake.sleep)
    fake.now = 100.0  # a long idle spell refills the bucket, but only to `burst`
    waits = [limiter.acquire() for _ in range(5)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(0.1)
    assert waits[4] == pytest.approx(0.1)


def test_rate_limiter_is_shared_safely_by_threads() -> None:
    qps, per_thread, threads = 400.0, 20, 4
    limiter = RateLimiter(qps)
    stamps: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(per_thread):
            limiter.acquire()
            with lock:
                stamps.append(time.monotonic())

    workers = [threading.Thread(target=work) for _ in range(threads)]
    began = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    total = per_thread * threads
    assert len(stamps) == total
    # 80 tokens at 400/s with a burst of 1 cannot all be handed out in less than 79/400 s.
    assert max(stamps) - began >= (total - 1) / qps * 0.95


def test_rate_limiter_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)


def response(
    status: int, body: object = None, *, text: str | None = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (400, "InvalidParameter", BadRequestError),
        (400, "DataInspectionFailed", ModerationError),
        (400, "Arrearage", QuotaError),
        (401, "InvalidApiKey", AuthenticationError),
        (403, "AccessDenied", AuthenticationError),
        (404, "ModelNotFound", NotFoundError),
        (429, "Throttling.RateQuota", ThrottledError),
        (500, "InternalError", ServerError),
        (503, "ServiceUnavailable", ServerError),
    ],
)
def test_raise_for_response_maps_dashscope_codes(status: int, code: str, expected: type[Exception]) -> None:
    body = {"code": code, "message": "something", "request_id": "req-1"}
    with pytest.raises(expected) as caught:
        raise_for_response(response(status, body), task_id="t-1")
    error = caught.value
    assert error.code == code  # type: ignore[attr-defined]
    assert error.request_id == "req-1"  # type: ignore[attr-defined]
    assert error.task_id == "t-1"  # type: ignore[attr-defined]
    assert error.status_code == status  # type: ignore[attr-defined]


def test_raise_for_response_does_nothing_on_success() -> None:
    raise_for_response(response(200, {"output": {}}))


def test_non_json_error_body_is_code_unknown_with_header_request_id() -> None:
    with pytest.raises(ServerError) as caught:
        raise_for_response(response(502, text="<html>Bad gateway</html>", headers={"X-Request-ID": "hdr-9"}))
    assert caught.value.code == "Unknown"
    assert caught.value.request_id == "hdr-9"
    assert "Bad gateway" in caught.value.message


def test_msg_key_is_read_like_the_sdk_does() -> None:
    with pytest.raises(BadRequestError, match="from msg"):
        raise_for_response(response(400, {"code": "InvalidParameter", "msg": "from msg"}))


def test_throttled_error_carries_retry_after() -> None:
    with pytest.raises(ThrottledError) as caught:
        raise_for_response(response(429, {"code": "Throttling"}, headers={"Retry-After": "12"}))
    assert caught.value.retry_after == 12.0


def test_error_text_is_scrubbed_and_stripped_of_terminal_controls() -> None:
    body = {"code": "InvalidParameter", "message": "bad key sk-abcdef0123456789 \x1b[31mred\x1b[0m\x07 end"}
    with pytest.raises(BadRequestError) as caught:
        raise_for_response(response(400, body))
    assert "sk-abcdef0123456789" not in caught.value.message
    assert "\x1b" not in caught.value.message and "\x07" not in caught.value.message
    assert "red" in caught.value.message


def test_clean_server_text_caps_length() -> None:
    assert len(clean_server_text("x" * 5000)) == 300
