"""Test isolation: a private state folder, no real keys, stable terminal settings."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fixtures import *  # noqa: F403  (shared fixtures: emulator, clocks, canary key)

REAL_KEY_VARS = ("DASHSCOPE_API_KEY", "QWEN_API_KEY", "QWEN_BASE_URL", "QWEN_REGION", "DASHSCOPE_HTTP_BASE_URL",
                 "QWENVID_EMULATOR",  # the emulator as default (product.md §3.1) is each test's own choice
                 # a developer's own bucket must not catch the tests' uploads (qwenvid/config/oss.py)
                 "QWEN_TMP_OSS_BUCKET", "QWEN_TMP_OSS_REGION", "QWEN_TMP_OSS_ENDPOINT", "QWEN_TMP_OSS_PREFIX",
                 "QWEN_TMP_OSS_URL_EXPIRES", "QWEN_TMP_OSS_AK_ID", "QWEN_TMP_OSS_AK_SECRET", "OSS_ACCESS_KEY_ID",
                 "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN",
                 # a developer's shared ledger, workspace, host id or test clock must not reach the tests either
                 "QWENVID_LEDGER_URL", "QWENVID_HOST_ID", "QWEN_WORKSPACE_ID", "QWENVID_TEST_CLOCK_SKEW")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own state folder and working directory and never sees a real key."""
    for var in REAL_KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    home = tmp_path / "qwenvid-home"
    monkeypatch.setenv("QWENVID_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TERM", "unknown")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return home


@pytest.fixture(autouse=True)
def reset_debug_logging() -> Iterator[None]:
    """`--debug` attaches stderr handlers to the qwenvid and httpx loggers; one test's run must not leak them."""
    yield
    for name in ("qwenvid", "httpx"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
