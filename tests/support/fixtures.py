"""Shared pytest fixtures; each section is owned by the module it serves."""

from __future__ import annotations

from tests.support.emulator import *  # noqa: F403  (emulator, live_emulator, make_emulator, manual_clock, canary_key)
