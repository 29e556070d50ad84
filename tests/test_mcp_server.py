"""`qwenvid mcp` driven by the official MCP client (ClientSession over stdio) against the emulator.

Five server start-ups in all: one under `--emulator` (tools, a failed task, progress, the same call twice,
bad arguments, plans, media), one started from the README's client config against a test emulator on a manual clock
with a canary key (max_seconds, elicitation declined and accepted, cancel, no key anywhere), one with a
client that cannot elicit, and two around a server killed mid-wait (a standalone `qwenvid emulator`).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

from qwenvid.emulator.config import ManualClock
from qwenvid.emulator.server import EmulatorThread
from tests.support.emulator import CANARY_KEY, EmulatorFactory
from tests.support.media_files import make_image
from tests.support.terminal import qwenvid_argv

pytestmark = pytest.mark.slow

README = Path(__file__).resolve().parents[1] / "README.md"
SMALL = {"model": "wan2.1-t2v-turbo", "size": "832*480"}
TOOLS = {
    "list_models", "estimate_cost", "generate", "task_status", "wait_for_task", "fetch_video", "cancel_task",
    "list_tasks", "run_plan", "plan_status", "media_info", "media_frame", "media_concat", "media_add_audio",
}
Elicit = Callable[[Any, types.ElicitRequestParams], Awaitable[types.ElicitResult | types.ErrorData]]


class Server:
    """One connected server: call tools, keep every result text for the secret check."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session
        self.texts: list[str] = []

    async def raw(self, name: str, arguments: dict[str, Any], **kwargs: Any) -> types.CallToolResult:
        result = await self.session.call_tool(name, arguments, **kwargs)
        self.texts += [item.text for item in result.content if isinstance(item, types.TextContent)]
        return result

    async def call(self, name: str, arguments: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        result = await self.raw(name, arguments or {}, **kwargs)
        text = result.content[0].text  # type: ignore[union-attr]
        assert not result.isError, text
        return json.loads(text)

    async def error(self, name: str, arguments: dict[str, Any]) -> str:
        result = await self.raw(name, arguments)
        assert result.isError, result.content
        return str(result.content[0].text)  # type: ignore[union-attr]


@asynccontextmanager
async def connect(
    command: list[str], env: dict[str, str], stderr: Path, elicit: Elicit | None = None
) -> AsyncIterator[Server]:
    params = StdioServerParameters(command=command[0], args=command[1:], env=env, cwd=os.getcwd())
    with stderr.open("a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(
                read, write, read_timeout_seconds=timedelta(seconds=120), elicitation_callback=elicit
            ) as session:
                await session.initialize()
                yield Server(session)


def base_env() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DASHSCOPE_API_KEY", "QWEN_BASE_URL")}
    return env


def mcp_command(*global_options: str) -> list[str]:
    return [*qwenvid_argv(), *global_options, "mcp"]


# -- 1. --emulator: the tools, progress, idempotency, bad arguments, plans, media ----------------------------


def test_tools_progress_same_call_twice_bad_arguments_plans_and_media_under_the_in_process_emulator(
    tmp_path: Path,
) -> None:
    plan = tmp_path / "short.toml"
    plan.write_text(
        'name = "short"\n[steps.shot]\nmode = "t2v"\nmodel = "wan2.1-t2v-turbo"\nprompt = "A red kite"\n'
        'size = "832*480"\n[steps.still]\nop = "frame"\ninput = "@shot"\nat = "last"\n',
        encoding="utf-8",
    )

    async def scenario() -> None:
        command = mcp_command("--emulator", "--emulator-fault", "fail:DataInspectionFailed:1")
        async with connect(command, base_env(), tmp_path / "stderr.txt") as server:
            tools = {tool.name: tool for tool in (await server.session.list_tools()).tools}
            assert set(tools) == TOOLS
            schema = tools["generate"].inputSchema["properties"]
            # Typed from the request dataclasses: every mode's inputs, with their types.
            assert schema["mode"]["enum"] == ["t2v", "i2v", "kf2v", "r2v", "vace"]
            assert {"integer", "null"} == {kind["type"] for kind in schema["duration"]["anyOf"]}
            assert {"image", "refs", "first_frame", "mask_image", "take", "max_seconds"} <= set(schema)

            models = await server.call("list_models", {"mode": "t2v"})
            assert any(model["id"] == "wan2.1-t2v-turbo" for model in models["models"])
            cost = await server.call("estimate_cost", {"prompt": "A lighthouse", **SMALL})
            assert cost["billable_seconds"] == 5 and cost["tier"] == "480P" and cost["pricing_url"]

            # The first task ends FAILED (moderation): a result saying so, not a failed call.
            failed = await server.call("generate", {"prompt": "A doomed kite", **SMALL})
            assert failed["status"] == "FAILED" and failed["done"] is True and failed["exit_code"] == 10
            assert failed["error"]["code"] == "DataInspectionFailed" and failed["video_path"] is None

            progress: list[tuple[float, float | None, str | None]] = []

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                progress.append((value, total, message))

            request = {"prompt": "A lighthouse at dusk", **SMALL}
            first = await server.call("generate", request, progress_callback=on_progress)
            assert first["done"] is True and first["status"] == "SUCCEEDED", first
            assert Path(first["video_path"]).is_file() and first["sha256"]
            assert first["video_url"] and first["video_url_expires_at"]  # the service's link, while valid
            assert len(progress) >= 3 and [p[0] for p in progress] == sorted({p[0] for p in progress})
            assert any(first["task_id"] in (message or "") for _, _, message in progress)

            again = await server.call("generate", request)
            assert again["task_id"] == first["task_id"] and again["reused"] is True
            assert again["video_path"] == first["video_path"]
            listed = await server.call("list_tasks", {"remote": True})
            listed_ids = sorted(task["task_id"] for task in listed["tasks"])
            assert listed_ids == sorted([failed["task_id"], first["task_id"]])  # one task for the two calls

            other = await server.call("generate", {**request, "take": 2})  # a deliberate variation pays again
            assert other["task_id"] != first["task_id"] and other["done"]

            # Another mode, with a local input: its identity includes the file's sha256, not its name.
            image = tmp_path / "cat.png"
            make_image(image, 640, 480)
            i2v = {"mode": "i2v", "prompt": "The cat turns its head", "image": str(image),
                   "model": "wan2.1-i2v-turbo", "resolution": "480P", "duration": 3}
            animated = await server.call("generate", i2v)
            assert animated["done"] and animated["mode"] == "i2v" and Path(animated["video_path"]).is_file()
            assert (await server.call("generate", i2v))["task_id"] == animated["task_id"]
            make_image(image, 640, 360)  # other bytes under the same name: another request
            assert (await server.call("generate", i2v))["task_id"] != animated["task_id"]

            assert "duration" in await server.error("generate", {"prompt": "x", "duration": "long"})
            wrong = await server.error("generate", {"prompt": "x", "image": "cat.png", **SMALL})
            assert "image cannot be used with mode t2v" in wrong and "Traceback" not in wrong
            typo = await server.error("generate", {"prompt": "x", "model": "wan2.1-t2v-turbo", "size": "1*1"})
            assert "[exit 2]" in typo and "1*1" in typo
            assert "No plan" in await server.error("plan_status", {"plan": "nothing-here"})
            # Still serving after the errors.
            status = await server.call("task_status", {"task": first["task_id"]})
            assert status["status"] == "SUCCEEDED" and status["video_path"] == first["video_path"]

            ran = await server.call("run_plan", {"plan_file": str(plan), "wait_seconds": 60})
            assert ran["done"] is True and ran["finished_steps"] == ran["total_steps"] == 2, json.dumps(ran)
            assert ran["steps"]["shot"]["status"] == "done" and ran["steps"]["still"]["file"].endswith(".png")
            followed = await server.call("plan_status", {"plan": "short"})
            assert followed["steps"]["shot"]["task_id"] == ran["steps"]["shot"]["task_id"]
            rerun = await server.call("run_plan", {"plan_file": str(plan), "wait_seconds": 60})
            assert rerun["steps"]["shot"]["status"] == "reused"  # the same plan again pays nothing

            # A shared plan that reaches outside its folder: refused unless the agent's user allowed it.
            (tmp_path / "shared").mkdir()
            shared = tmp_path / "shared" / "shared.toml"
            shared.write_text(
                '[steps.a]\nmode = "i2v"\nmodel = "wan2.1-i2v-turbo"\nprompt = "x"\nresolution = "480P"\n'
                'duration = 3\nimage = "../cat.png"\n',
                encoding="utf-8",
            )
            refused = await server.error("run_plan", {"plan_file": str(shared)})
            assert "[exit 2]" in refused and "--allow-outside" in refused and str(image.resolve()) in refused
            dry = await server.call("run_plan", {"plan_file": str(shared), "dry_run": True})
            assert dry["uploads"] == [
                {"path": str(image.resolve()), "size": image.stat().st_size, "use": "step 'a' (image)",
                 "via": None, "outside_plan_folder": True}
            ]
            log = (tmp_path / "stderr.txt").read_text(encoding="utf-8")
            assert f"{image} (" in log and "Uploads: 1 local file will leave this machine" in log  # generate's

            info = await server.call("media_info", {"path": first["video_path"]})
            assert info["width"] == 832 and info["height"] == 480
            frame = await server.call(
                "media_frame", {"video": first["video_path"], "output": str(tmp_path / "last.png")}
            )
            assert Path(frame["path"]).is_file()

    anyio.run(scenario)


# -- 2. the README's client config, a canary key, spending bounds, elicitation, cancel -------------------------


def readme_client_config() -> dict[str, Any]:
    """The client config JSON in the README's "Using qwenvid from an agent" section."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Using qwenvid from an agent", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```json\n(.*?)```", section, re.DOTALL)
    assert block, "the README section has a JSON client config"
    config: dict[str, Any] = json.loads(block.group(1))
    return config


@pytest.fixture
def held_emulator(make_emulator: EmulatorFactory) -> tuple[EmulatorThread, ManualClock]:
    """A test emulator on a manual clock: its tasks stay PENDING until the test moves time on."""
    clock = ManualClock()
    return make_emulator(clock=clock), clock


def threshold_home(home: Path, seconds: float) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(f"confirm_above_seconds = {seconds}\n", encoding="utf-8")


def test_readme_config_canary_key_max_seconds_elicitation_and_cancel(
    tmp_path: Path, isolated_env: Path, held_emulator: tuple[EmulatorThread, ManualClock]
) -> None:
    emulator, _clock = held_emulator
    threshold_home(isolated_env, 3)
    entry = readme_client_config()["mcpServers"]["qwenvid"]
    assert entry["command"] == "qwenvid" and entry["args"] == ["mcp"]
    assert set(entry["env"]) == {"DASHSCOPE_API_KEY"}
    env = {**base_env(), **entry["env"], "DASHSCOPE_API_KEY": CANARY_KEY, "QWEN_BASE_URL": emulator.base_url}
    command = [*qwenvid_argv(), *entry["args"]]
    answers = ["decline", "accept", "accept"]
    asked: list[str] = []

    async def elicit(_ctx: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        asked.append(params.message)
        action = answers.pop(0)
        return types.ElicitResult(action=action, content={"pay": True} if action == "accept" else None)  # type: ignore[arg-type]

    stderr = tmp_path / "stderr.txt"

    async def scenario() -> Server:
        async with connect(command, env, stderr, elicit) as server:
            request = {"prompt": "A kite over the sea", **SMALL, "wait_seconds": 0}
            over = await server.error("generate", {**request, "max_seconds": 2})
            assert "more than max_seconds 2" in over and "nothing was submitted" in over
            assert asked == [] and emulator.state.task_count() == 0

            declined = await server.error("generate", request)
            assert "declined" in declined and "nothing was submitted" in declined
            assert len(asked) == 1 and "5 s billable" in asked[0] and "threshold of 3 s" in asked[0]
            assert emulator.state.task_count() == 0

            made = await server.call("generate", request)
            assert len(asked) == 2 and emulator.state.task_count() == 1
            assert made["done"] is False and "wait_for_task" in made["next"] and made["task_id"]

            canceled = await server.call("cancel_task", {"task": made["task_id"]})
            assert canceled["status"] == "CANCELED"
            status = await server.call("task_status", {"task": made["local_id"]})
            assert status["status"] == "CANCELED" and status["done"] is True
            listed = await server.call("list_tasks", {})
            assert [task["task_id"] for task in listed["tasks"]] == [made["task_id"]]

            # The connection drops after the service made the task: the outcome is unknown to the server.
            emulator.state.faults.arm("drop-after-create:1")
            lost = {**request, "prompt": "A kite lost in the fog"}
            unknown = await server.error("generate", lost)
            assert "[exit 6]" in unknown and "Do not resubmit" in unknown
            assert emulator.state.task_count() == 2
            again = await server.call("generate", lost)  # the agent retries anyway: nothing is sent again
            assert again["reused"] is True and emulator.state.task_count() == 2, again
            assert again.get("outcome_unknown") or again["task_id"] == emulator.state.tasks[-1].task_id
            assert len(asked) == 3  # the retry asked nobody: nothing was going to be paid
            return server

    server = anyio.run(scenario)
    assert server.texts and all(CANARY_KEY not in text for text in server.texts)
    assert CANARY_KEY not in stderr.read_text()


def test_a_client_that_cannot_elicit_gets_a_clear_refusal_above_the_threshold(
    tmp_path: Path, isolated_env: Path, held_emulator: tuple[EmulatorThread, ManualClock]
) -> None:
    emulator, _clock = held_emulator
    threshold_home(isolated_env, 3)
    env = {**base_env(), "DASHSCOPE_API_KEY": CANARY_KEY, "QWEN_BASE_URL": emulator.base_url}

    async def scenario() -> None:
        async with connect(mcp_command(), env, tmp_path / "stderr.txt") as server:
            refused = await server.error("generate", {"prompt": "A kite", **SMALL, "wait_seconds": 0})
            assert "above the confirmation threshold of 3 s" in refused
            assert "cannot ask the person" in refused and "nothing was submitted" in refused
            small = await server.call("estimate_cost", {"prompt": "A kite", **SMALL})
            assert small["billable_seconds"] == 5

    anyio.run(scenario)
    assert emulator.state.task_count() == 0


# -- 3. killed mid-wait, started again: wait_for_task finishes the same task ----------------------------------


@pytest.fixture
def emulator_process() -> Iterator[str]:
    """`qwenvid emulator` on its own, with renders slow enough to kill a server in the middle of a wait."""
    process = subprocess.Popen(
        [*qwenvid_argv(), "emulator", "--port", "0", "--pending-seconds", "0.2", "--running-seconds", "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/api/v1", line)
        assert found, line
        yield found.group(0)
    finally:
        process.terminate()
        process.wait(timeout=10)


def server_pids() -> list[int]:
    """This test's own `qwenvid ... mcp` children (by parent pid)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"mcp" in cmdline:
            found.append(int(entry.name))
    return found


def test_a_server_killed_mid_wait_and_started_again_finishes_the_same_task(
    tmp_path: Path, emulator_process: str
) -> None:
    env = {**base_env(), "DASHSCOPE_API_KEY": CANARY_KEY, "QWEN_BASE_URL": emulator_process}
    request = {"prompt": "A slow sunrise", **SMALL, "wait_seconds": 60}
    seen: list[str] = []

    async def killed_mid_wait() -> None:
        async with connect(mcp_command(), env, tmp_path / "stderr.txt") as server:
            running = anyio.Event()

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                seen.append(message or "")
                if "RUNNING" in (message or "") or "rendering" in (message or ""):
                    running.set()

            async def call() -> None:
                try:
                    await server.raw("generate", request, progress_callback=on_progress)
                except Exception:  # noqa: BLE001 - the server is gone; the call cannot finish
                    pass

            async with anyio.create_task_group() as group:
                group.start_soon(call)
                with anyio.fail_after(60):
                    await running.wait()
                pids = server_pids()
                assert len(pids) == 1, pids
                os.kill(pids[0], signal.SIGKILL)
                await anyio.sleep(0.5)
                group.cancel_scope.cancel()

    async def started_again() -> dict[str, Any]:
        async with connect(mcp_command(), env, tmp_path / "stderr.txt") as server:
            rows = (await server.call("list_tasks", {}))["tasks"]
            assert len(rows) == 1 and rows[0]["task_id"] and rows[0]["done"] is False, rows
            done: dict[str, Any] = {"done": False}
            followed: list[str] = []

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                followed.append(message or "")

            for _ in range(5):  # as an agent does: call again while not done
                done = await server.call(
                    "wait_for_task", {"task": rows[0]["task_id"], "timeout_seconds": 20}, progress_callback=on_progress
                )
                if done["done"]:
                    break
            assert any(rows[0]["task_id"] in message for message in followed), followed  # progress meanwhile
            assert done["task_id"] == rows[0]["task_id"]
            again = await server.call("generate", request)  # the same request: the same task, not a new one
            assert again["task_id"] == rows[0]["task_id"] and again["reused"]
            return done

    anyio.run(killed_mid_wait)
    done = anyio.run(started_again)
    assert done["status"] == "SUCCEEDED" and Path(done["video_path"]).is_file(), done
    state = httpx.get(emulator_process.replace("/api/v1", "/__emulator/state")).json()
    assert state["task_count"] == 1
    assert CANARY_KEY not in (tmp_path / "stderr.txt").read_text()
