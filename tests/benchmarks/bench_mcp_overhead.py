"""What an agent pays in time per question: an MCP tool call to a running `qwenvid mcp` against a fresh CLI
process asking the same (list models, estimate the cost, one task's status).

Run: python tests/benchmarks/bench_mcp_overhead.py [CALLS]
Both talk to the same emulator (started here, on loopback) with the same state folder. The MCP side
starts `qwenvid mcp` once through the official client (ClientSession over stdio) and times CALLS calls of
each tool; the CLI side starts `qwenvid models --json`, `qwenvid t2v ... --dry-run --json` and
`qwenvid status ID --json` CALLS / 4 times each (each is a whole interpreter start-up). Medians and
ranges of wall time are printed; the server's own start-up (spawn + initialize) is printed apart.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from qwenvid.emulator.config import EmulatorConfig
from qwenvid.emulator.server import EmulatorThread

SMALL = {"prompt": "A lighthouse at dusk", "model": "wan2.1-t2v-turbo", "size": "832*480"}


def qwenvid() -> list[str]:
    beside = Path(sys.executable).with_name("qwenvid")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "qwenvid"]


def summary(times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    return f"median {statistics.median(ms):7.1f} ms  (min {ms[0]:.1f}, max {ms[-1]:.1f}, n={len(ms)})"


async def mcp_side(env: dict[str, str], calls: int) -> tuple[float, dict[str, list[float]], str]:
    params = StdioServerParameters(command=qwenvid()[0], args=[*qwenvid()[1:], "mcp"], env=env)
    started = time.perf_counter()
    with open(os.devnull, "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write, read_timeout_seconds=timedelta(seconds=60)) as session:
                await session.initialize()
                startup = time.perf_counter() - started
                made = await session.call_tool("generate", {**SMALL, "wait_seconds": 0})
                task_id = json.loads(made.content[0].text)["task_id"]  # type: ignore[union-attr]
                cases: dict[str, tuple[str, dict[str, Any]]] = {
                    "list_models": ("list_models", {}),
                    "estimate_cost": ("estimate_cost", SMALL),
                    "task_status": ("task_status", {"task": task_id}),
                }
                times: dict[str, list[float]] = {name: [] for name in cases}
                for _ in range(calls):
                    for name, (tool, arguments) in cases.items():
                        began = time.perf_counter()
                        result = await session.call_tool(tool, arguments)
                        times[name].append(time.perf_counter() - began)
                        assert not result.isError, result.content
    return startup, times, task_id


def cli_side(env: dict[str, str], rounds: int, task_id: str) -> dict[str, list[float]]:
    cases = {
        "list_models": ["models", "--json"],
        "estimate_cost": ["t2v", SMALL["prompt"], "--model", SMALL["model"], "--size", SMALL["size"],
                          "--dry-run", "--json"],
        "task_status": ["status", task_id, "--json"],
    }
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, args in cases.items():
            began = time.perf_counter()
            done = subprocess.run([*qwenvid(), *args], env=env, capture_output=True, text=True, check=False)
            times[name].append(time.perf_counter() - began)
            assert done.returncode == 0, done.stderr
    return times


def main() -> None:
    calls = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    with tempfile.TemporaryDirectory() as home, EmulatorThread(EmulatorConfig()) as emulator:
        env = {**os.environ, "QWENVID_HOME": home, "DASHSCOPE_API_KEY": "sk-bench-0123456789",
               "QWEN_BASE_URL": emulator.base_url, "NO_COLOR": "1"}
        os.chdir(home)
        startup, mcp_times, task_id = anyio.run(mcp_side, env, calls)
        cli_times = cli_side(env, max(3, calls // 4), task_id)
    print(f"qwenvid mcp start-up (spawn + initialize): {startup * 1000:.0f} ms, once per agent session")
    print(f"{'question':<14} {'MCP tool call':<48} CLI process")
    for name in mcp_times:
        print(f"{name:<14} {summary(mcp_times[name]):<48} {summary(cli_times[name])}")


if __name__ == "__main__":
    main()
