"""Shared pytest fixtures; each section is owned by the module it serves."""

from __future__ import annotations

from tests.support.cli_emulator import cli  # noqa: F401  (the CLI on the emulator, canary key, manual clock)
from tests.support.emulator import *  # noqa: F403  (emulator, live_emulator, make_emulator, manual_clock, canary_key)
from tests.support.postgres import pg_url, postgres_server  # noqa: F401  (a real PostgreSQL server, a db per test)
