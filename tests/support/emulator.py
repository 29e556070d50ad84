"""Emulator fixtures: a manual clock, a canary key, and emulators on loopback ports (started per test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from qwenvid.emulator.config import Clock, EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread

CANARY_KEY = "sk-canary-0123456789abcdef"


@pytest.fixture
def canary_key() -> str:
    """A key-shaped secret that must never show up in any output, log, ledger row or sidecar."""
    return CANARY_KEY


@pytest.fixture
def manual_clock() -> ManualClock:
    """One clock for the emulator and the code under test: `sleep` advances it, nothing sleeps for real."""
    return ManualClock()


EmulatorFactory = Callable[..., EmulatorThread]


@pytest.fixture
def make_emulator() -> Iterator[EmulatorFactory]:
    """Start emulators with any config / clock: `make_emulator(EmulatorConfig(...), clock=...)`; all stop after."""
    started: list[EmulatorThread] = []

    def make(config: EmulatorConfig | None = None, clock: Clock | None = None, **options: Any) -> EmulatorThread:
        emulator = EmulatorThread(config or EmulatorConfig(**options), clock=clock)
        started.append(emulator.start())
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(make_emulator: EmulatorFactory, manual_clock: ManualClock) -> EmulatorThread:
    """The default emulator on the shared manual clock (fast timings, limits on)."""
    return make_emulator(EmulatorConfig(), clock=manual_clock)


@pytest.fixture
def live_emulator(make_emulator: EmulatorFactory) -> EmulatorThread:
    """An emulator on the real clock with short timings, for end-to-end runs that really wait a little."""
    return make_emulator(EmulatorConfig(pending_seconds=0.05, running_seconds=0.2))
