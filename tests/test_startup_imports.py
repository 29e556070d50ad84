"""Start-up stays lean: a run loads only what its submit needs; help and `models` load no client at all.

Each case starts a fresh interpreter on the real CLI (`qwenvid.cli.main`), so the imports of this
test process play no part. The generation case stops at the submit: the client's `submit` is
replaced by one that reports the loaded modules and ends the process, so nothing is sent (the base
URL is a closed port). 20 runs started at once share the CPU while they start, so every module
loaded before the submit delays the first task (tests/benchmarks/bench_parallel_runs.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Heavy or unrelated to a prompt-only submit: media decoding, the wizard, the emulator server, plans.
NOT_BEFORE_SUBMIT = (
    "av",
    "PIL",
    "numpy",
    "questionary",
    "prompt_toolkit",
    "starlette",
    "uvicorn",
    "qwenvid.emulator",
    "qwenvid.media.clips",
    "qwenvid.media.inputs",
    "qwenvid.plans",
    "qwenvid.media.probe",
    "mcp",  # the MCP SDK: only `qwenvid mcp` loads it
    "qwenvid.mcp",
)
# Help and the model table need neither the network client nor the ledger.
NOT_FOR_HELP = (
    *NOT_BEFORE_SUBMIT, "httpx", "sqlite3", "qwenvid.wire.client", "qwenvid.tasks.session", "qwenvid.store.ledger"
)

_UP_TO_SUBMIT = """
import json, os, sys
import qwenvid.wire.client

def submit(self, *args, **kwargs):
    sys.stdout.write(json.dumps(sorted(sys.modules)))
    sys.stdout.flush()
    os._exit(0)

qwenvid.wire.client.DashScopeClient.submit = submit
sys.argv = ["qwenvid", *sys.argv[1:]]
from qwenvid.cli import main
main()
"""

_AFTER_COMMAND = """
import json, sys
sys.argv = ["qwenvid", *sys.argv[1:]]
from qwenvid.cli import main
try:
    main()
except SystemExit:
    pass
sys.stderr.write("MODULES " + json.dumps(sorted(sys.modules)))
"""


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "QWENVID_HOME": str(tmp_path / "home"),
        "DASHSCOPE_API_KEY": "sk-startup-test-not-a-real-key",
        "QWEN_BASE_URL": "http://127.0.0.1:9/api/v1",
        "NO_COLOR": "1",
    }


def _loaded(names: list[str], prefixes: tuple[str, ...]) -> list[str]:
    # qwenvid/__init__.py registers a stand-in `httpx._main` (httpx's CLI, never used): not httpx itself.
    names = [name for name in names if name != "httpx._main"]
    return sorted(name for name in names for prefix in prefixes if name == prefix or name.startswith(prefix + "."))


@pytest.mark.parametrize("quiet", [["--quiet"], []], ids=["quiet", "progress-lines"])
def test_a_prompt_only_run_reaches_its_submit_without_media_wizard_or_emulator_modules(
    tmp_path: Path, quiet: list[str]
) -> None:
    argv = [*quiet, "t2v", "A lighthouse at dusk", "--duration", "2", "--size", "1280*720", "--yes",
            "-o", str(tmp_path / "out")]
    done = subprocess.run(
        [sys.executable, "-c", _UP_TO_SUBMIT, *argv], capture_output=True, text=True, env=_env(tmp_path), timeout=60
    )
    assert done.returncode == 0, done.stderr
    modules = json.loads(done.stdout)  # printed at the submit: the run got that far
    assert "httpx" in modules and "qwenvid.tasks.session" in modules
    assert _loaded(modules, NOT_BEFORE_SUBMIT) == []


@pytest.mark.parametrize(
    "args", [["--help"], ["t2v", "--help"], ["models"], ["run", "--help"], ["mcp", "--help"], ["skill"]]
)
def test_help_and_models_load_no_client_ledger_or_media(tmp_path: Path, args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _AFTER_COMMAND, *args], capture_output=True, text=True, env=_env(tmp_path), timeout=60
    )
    assert "MODULES " in done.stderr, done.stderr
    modules = json.loads(done.stderr.split("MODULES ", 1)[1])
    assert "qwenvid.cli" in modules
    assert _loaded(modules, NOT_FOR_HELP) == []
