"""The local DashScope emulator: the async video API, uploads, signed results and fault injection."""

from __future__ import annotations

from qwenvid.emulator.config import Clock, EmulatorConfig, ManualClock, SystemClock
from qwenvid.emulator.faults import FAULT_HELP, Fault, FaultPlan, parse_fault

__all__ = [
    "FAULT_HELP",
    "Clock",
    "EmulatorConfig",
    "EmulatorThread",
    "Fault",
    "FaultPlan",
    "ManualClock",
    "SystemClock",
    "create_app",
    "parse_fault",
    "serve",
]


def __getattr__(name: str) -> object:
    """Import the server parts (Starlette, uvicorn, PyAV) only when they are asked for."""
    if name in ("EmulatorThread", "serve"):
        from qwenvid.emulator import server

        return getattr(server, name)
    if name == "create_app":
        from qwenvid.emulator.app import create_app

        return create_app
    raise AttributeError(name)
