"""The CLI pointed at the in-process emulator with the canary key, its waits on the emulator's manual clock."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from qwenvid.cli import _session
from qwenvid.emulator.config import ManualClock
from qwenvid.emulator.server import EmulatorThread

# A small, fast render for runs whose subject is not the model.
SMALL = ("--model", "wan2.1-t2v-turbo", "--size", "832*480")


def use_emulator(emu: EmulatorThread, clock: ManualClock, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_BASE_URL", emu.base_url)
    monkeypatch.setenv("DASHSCOPE_API_KEY", key)

    def sleep(seconds: float) -> None:
        """Time passes on the shared clock, and the renders it made due get finished (they run in threads)."""
        clock.sleep(seconds)
        emu.state.wait_rendered()

    monkeypatch.setitem(_session.INJECTED, "session", {"clock": clock, "sleep": sleep})


@pytest.fixture
def cli(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch
) -> EmulatorThread:
    """Point the CLI at the emulator with the canary key; the poller sleeps on the emulator's clock."""
    use_emulator(emulator, manual_clock, canary_key, monkeypatch)
    return emulator


def use_flag_emulator(
    clock: ManualClock, monkeypatch: pytest.MonkeyPatch, sleep: Callable[[float], None] | None = None
) -> None:
    """`--emulator` runs (the emulator in-process) and the poller both on `clock`; `sleep` defaults to the clock's."""
    monkeypatch.setitem(_session.INJECTED, "session", {"clock": clock, "sleep": sleep or clock.sleep})
    monkeypatch.setitem(_session.INJECTED, "emulator_clock", clock)
