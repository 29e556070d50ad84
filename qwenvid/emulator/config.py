"""Emulator settings and clocks: timing, limits, keys, time-to-live values, padding, faults."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from qwenvid.emulator.faults import Fault, parse_fault

DAY = 24 * 3600.0


class Clock(Protocol):
    """Where the emulator reads the time: epoch seconds that never go backwards."""

    def time(self) -> float: ...


class SystemClock:
    """Wall-clock epoch seconds that follow the monotonic clock, so they never jump backwards."""

    manual = False

    def __init__(self) -> None:
        self._wall = time.time()
        self._mono = time.monotonic()

    def time(self) -> float:
        return self._wall + (time.monotonic() - self._mono)

    def __call__(self) -> float:
        return self.time()


class ManualClock:
    """A clock that moves only when told to; `sleep` advances it, so pollers never sleep for real.

    It starts at the real current time so that list windows computed from the wall clock still match.
    Callable like `time.monotonic`, so one instance can be the emulator's clock and a poller's clock.
    """

    manual = True

    def __init__(self, start: float | None = None) -> None:
        self._now = time.time() if start is None else start
        self._lock = threading.Lock()
        self._barriers: list[Callable[[], object]] = []

    def add_barrier(self, barrier: Callable[[], object]) -> None:
        """Run `barrier` before every `sleep`: work that takes real time (a render) finishes before time moves.

        Without it a poller sleeping on this clock could race far past its deadline while a render is
        still being encoded for real.
        """
        self._barriers.append(barrier)

    def remove_barrier(self, barrier: Callable[[], object]) -> None:
        if barrier in self._barriers:
            self._barriers.remove(barrier)

    def time(self) -> float:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        return self.time()

    def __call__(self) -> float:
        return self.time()

    def advance(self, seconds: float) -> float:
        """Move the clock forward; returns the new time."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += seconds
            return self._now

    def sleep(self, seconds: float) -> None:
        for barrier in list(self._barriers):
            barrier()
        self.advance(max(0.0, seconds))


@dataclass
class EmulatorConfig:
    """How the emulator behaves. Defaults are fast; `realistic=True` takes the times qwenvid expects.

    Realistic timing is each request's cold prior (qwenvid/requests/priors.py: model, duration, size, inputs)
    with its scatter: a queue of a few seconds and the render ±20 %, drawn from `realistic_seed`.
    """

    pending_seconds: float = 0.3
    running_seconds: float = 1.2
    realistic: bool = False
    realistic_seed: int | None = None  # None: a different draw every run
    api_keys: tuple[str, ...] = ()  # empty: any Bearer key is accepted
    limits: bool = True  # submit RPS, concurrency and the query QPS limits (dashscope-api.md §4.2)
    concurrency_mode: Literal["queue", "reject"] = "queue"  # over-limit tasks wait PENDING, or 429
    query_qps: int = 20  # per kind: query, list, cancel
    policy_qps: int = 100  # getPolicy, per model
    task_ttl_seconds: float = DAY  # then a task reads UNKNOWN
    url_ttl_seconds: float = DAY  # signed result URLs
    upload_ttl_seconds: float = 2 * DAY  # oss:// temporary files
    policy_ttl_seconds: float = 300.0  # upload policy (expire_in_seconds)
    max_upload_mb: int = 1024
    result_padding_bytes: int = 0  # pad each result MP4 with a trailing `free` box up to this size
    results_dir: Path | None = None  # None: a temporary folder removed when the emulator stops
    # A folder of rendered videos kept across emulator runs (None: renders live in the results folder):
    # asking for the same video again (same model, prompt, size, duration, audio, images) skips its render.
    render_cache_dir: Path | None = None
    render_cache_keep: int = 50  # videos kept in render_cache_dir, the most recently used
    render_workers: int = 2
    fetch_remote_inputs: bool = True  # try a short fetch of http(s) image inputs; fall back leniently
    region: str = "ap-southeast-1"
    # Access key id -> secret the emulated OSS bucket (qwenvid/emulator/bucket.py) checks V4 signatures with.
    bucket_keys: tuple[tuple[str, str], ...] = (("LTAI5tEmulatorBucketKey", "emulator-bucket-secret"),)
    utc_offset_hours: float = 8.0  # DashScope prints times in Beijing/Singapore time (UTC+8)
    faults: tuple[Fault | str, ...] = field(default_factory=tuple)

    def parsed_faults(self) -> list[Fault]:
        return [parse_fault(f) if isinstance(f, str) else f for f in self.faults]
