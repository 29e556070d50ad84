"""qwenvid: make videos with Alibaba's Wan models on DashScope, and emulate DashScope locally."""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import Any

__version__ = "0.1.0"


def _defer_httpx_cli() -> None:
    """Keep `import httpx` from loading httpx's own command-line tool (Rich, Pygments, Click: ~100 modules).

    httpx imports `httpx._main` on import only to offer `httpx.main`; qwenvid never calls it. A stand-in
    takes its place and loads the real tool if anyone ever does. Nothing changes if httpx came first.
    """
    if "httpx" in sys.modules or "httpx._main" in sys.modules:
        return

    def main(*args: Any, **kwargs: Any) -> Any:
        sys.modules.pop("httpx._main", None)
        return import_module("httpx._main").main(*args, **kwargs)

    stand_in = types.ModuleType("httpx._main", "A stand-in for httpx's command-line tool, loaded on first use.")
    stand_in.main = main  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = stand_in


_defer_httpx_cli()

# The library's front door, imported on first use so that `import qwenvid` (and the CLI's start-up)
# stays cheap: name -> module that defines it.
_EXPORTS = {
    "Session": "qwenvid.tasks.session",
    "RunOptions": "qwenvid.tasks.session",
    "RunResult": "qwenvid.tasks.session",
    "NullReporter": "qwenvid.tasks.session",
    "Phase": "qwenvid.tasks.session",
    "load_settings": "qwenvid.config",
    "Settings": "qwenvid.config",
    "DashScopeClient": "qwenvid.wire.client",
    "Ledger": "qwenvid.store.ledger",
    "T2VRequest": "qwenvid.requests.shapes",
    "I2VRequest": "qwenvid.requests.shapes",
    "KF2VRequest": "qwenvid.requests.shapes",
    "R2VRequest": "qwenvid.requests.shapes",
    "VaceRequest": "qwenvid.requests.shapes",
    "VideoEditRequest": "qwenvid.requests.shapes",
    "get_model": "qwenvid.catalogue",
    "EmulatorThread": "qwenvid.emulator.server",
    "EmulatorConfig": "qwenvid.emulator.config",
    "QwenvidError": "qwenvid.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'qwenvid' has no attribute {name!r}")
