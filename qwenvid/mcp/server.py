"""`qwenvid mcp`: the Model Context Protocol server (official `mcp` SDK, FastMCP over stdio).

Each tool is a thin async wrapper: it runs `qwenvid.mcp.service` on a worker thread, sends the run's
progress as MCP progress notifications against the call's progress token, asks the person through MCP
elicitation above the confirmation threshold, and turns every qwenvid error into a tool error (one line
and a hint, secrets scrubbed) so a bad call never ends the server. This is the only module that imports
the SDK; the CLI imports it only inside the `mcp` command.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Annotated, Any, Literal

import anyio
from mcp import types
from mcp.server.fastmcp import Context, FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from pydantic import BaseModel, Field

from qwenvid import errors
from qwenvid.mcp import arguments, spending
from qwenvid.mcp.progress import ProgressReporter
from qwenvid.mcp.service import Service

# The in-process emulator (`qwenvid --emulator mcp`) accepts any key; this one only exists to be sent.
EMULATOR_KEY = "sk-qwenvid-local-emulator"
EMULATOR_ESTIMATE_SECONDS = 2.0
QUICK_EMULATOR_TIMING = {"pending_seconds": 0.1, "running_seconds": 0.2}
# Agents' tool calls time out after about a minute: a call waits less than that, then says "call again".
DEFAULT_WAIT = 45.0
MAX_WAIT = 600.0

INSTRUCTIONS = """qwenvid makes videos with Alibaba's Wan models (DashScope) and keeps a ledger so nothing is
paid twice. Start with list_models and estimate_cost. generate submits and waits up to wait_seconds; if the
result says done=false, call wait_for_task with its task_id (again and again) until done. Calling generate
again with the same arguments returns the same task: it never pays twice (pass take=2, 3... or a different
seed for a deliberate variation). A result marked outcome_unknown must not be retried: follow its note.
Pass a result's video_url on to other tools while it is valid rather than uploading the file again."""

Mode = Literal["t2v", "i2v", "kf2v", "r2v", "vace"]
TaskRef = Annotated[str, Field(description="The task id, or qwenvid's local id (q-...) from a generate result.")]


class Confirm(BaseModel):
    """The question asked through the client above the confirmation threshold."""

    pay: bool = Field(description="Submit the video and pay for it")


def build_server(service: Service) -> FastMCP:
    """The FastMCP app with every tool bound to `service`."""
    server = FastMCP("qwenvid", instructions=INSTRUCTIONS, log_level="WARNING")
    locks: dict[str, asyncio.Lock] = {}

    async def list_models(mode: Mode | None = None) -> dict[str, Any]:
        """The Wan models qwenvid knows, with what each accepts (sizes, resolutions, durations, audio)."""
        return await _call(service.list_models, mode)

    async def estimate_cost(**given: Any) -> dict[str, Any]:
        """Billable seconds, resolution tier and pricing link of a request (an amount only from the user's
        own price table). Validates the request, local files included; sends nothing."""
        return await _call(service.estimate_cost, given)

    async def generate(ctx: Context, **given: Any) -> dict[str, Any]:
        """Make a video (any mode) and wait up to wait_seconds for it; never pays twice for the same request.

        The same arguments again return the task already made for them (its file, or its state while it
        runs). If the result says done=false, call wait_for_task with its task_id. Spending is bounded by
        max_seconds and, above the user's confirmation threshold, the user's own yes."""
        wait = min(max(float(given.pop("wait_seconds", DEFAULT_WAIT)), 0.0), MAX_WAIT)
        max_seconds = given.pop("max_seconds", None)
        generation = await _call(service.prepare, given)
        lock = locks.setdefault(generation.identity, asyncio.Lock())
        async with lock:  # the same request twice at once: the second one finds the first one's task
            existing = await _call(service.find_earlier, generation)
            if existing:
                return await _call(service.existing_result, generation)
            await _call(service.check_ready, generation)
            with _tool_errors():
                spending.check_limits(generation.plan.cost, max_seconds=max_seconds, session=service.session)
            await _confirm(ctx, service, generation.plan.cost)
            with _progress(ctx) as reporter:
                return await _call(service.run, generation, wait, reporter)

    async def task_status(task: TaskRef) -> dict[str, Any]:
        """One task: the ledger's record and the service's state; local file and result link when done."""
        return await _call(service.task_status, task)

    async def wait_for_task(
        ctx: Context,
        task: TaskRef,
        timeout_seconds: Annotated[
            float, Field(description="Wait at most this long (default 45 s); then call again if not done.")
        ] = DEFAULT_WAIT,
        output: Annotated[str | None, Field(description="Where the video goes (.mp4 or a folder).")] = None,
    ) -> dict[str, Any]:
        """Wait for a task (progress notifications meanwhile) and download its verified video when it
        succeeds. Returns the state; done=false means it is still running: call wait_for_task again."""
        with _progress(ctx) as reporter:
            timeout = min(max(timeout_seconds, 0.0), MAX_WAIT)
            return await _call(service.wait, task, timeout, reporter, output)

    async def fetch_video(
        task: TaskRef,
        output: Annotated[str | None, Field(description="Where the video goes (.mp4 or a folder).")] = None,
    ) -> dict[str, Any]:
        """Download a finished task's video (verified), also one this machine never submitted."""
        return await _call(service.fetch, task, output)

    async def cancel_task(task: TaskRef) -> dict[str, Any]:
        """Cancel a task that is still queued (PENDING); a running task cannot be cancelled."""
        return await _call(service.cancel, task)

    async def list_tasks(
        limit: Annotated[int, Field(ge=1, le=100, description="How many, newest first.")] = 20,
        status: Annotated[str | None, Field(description="Only this status, e.g. RUNNING or outcome_unknown.")] = None,
        remote: Annotated[bool, Field(description="The account's task list on the service instead.")] = False,
    ) -> dict[str, Any]:
        """Tasks in the local ledger (or, with remote, the account's task list on the service)."""
        return await _call(service.list_tasks, limit, status, remote)

    async def run_plan(
        ctx: Context,
        plan_file: Annotated[str, Field(description="A plan: .toml, .json, .jsonl, .csv or .txt (see qwenvid run).")],
        output: Annotated[str | None, Field(description="Folder the plan's folder goes in.")] = None,
        max_seconds: Annotated[
            float | None, Field(description="Refuse the plan if its new billable seconds exceed this.")
        ] = None,
        dry_run: Annotated[bool, Field(description="Validate and cost it only; send nothing.")] = False,
        wait_seconds: Annotated[float, Field(description="How long this call follows the plan.")] = 40.0,
        allow_outside: Annotated[
            bool, Field(description="Upload local files from outside the plan's folder (ask your user first).")
        ] = False,
    ) -> dict[str, Any]:
        """Run a plan (many generations and media steps): costed first, then run by this server; finished
        steps are reused and tasks in flight followed. Returns per-step progress; call plan_status to follow."""
        prepared, backend, finder, _folder = await _call(service.prepare_plan, plan_file, output)
        if dry_run:
            uploads = await _call(lambda: service.plan_uploads(prepared, allow_outside=True))
            return {**prepared.preview_json(), "uploads": uploads}
        await _call(lambda: service.plan_uploads(prepared, allow_outside=allow_outside))
        preview = prepared.preview_json()
        cost = SimpleNamespace(
            billable_seconds=prepared.new_seconds, tier=None, model=f"plan {prepared.spec.name}",
            amount=None, currency=None, pricing_url=preview.get("pricing_url"),
        )
        with _tool_errors():
            spending.check_limits(cost, max_seconds=max_seconds, session=service.session)
        await _confirm(ctx, service, cost)
        with _progress(ctx) as reporter:
            run = await _call(service.start_plan, prepared, backend, finder, reporter.plan_step)
            await anyio.to_thread.run_sync(run.thread.join, min(max(wait_seconds, 0.0), MAX_WAIT))
        return await _call(service.plan_status, run.name)

    async def plan_status(
        plan: Annotated[str, Field(description="The plan's name, its file, or its output folder.")],
    ) -> dict[str, Any]:
        """Per-step progress of a plan: this server's run of it, else the manifest its last run left."""
        return await _call(service.plan_status, plan)

    async def media_info(path: Annotated[str, Field(description="A video, image or audio file.")]) -> dict[str, Any]:
        """What a media file is: duration, size, fps, audio."""
        return await _call(service.media_info, path)

    async def media_frame(
        video: str,
        output: Annotated[str, Field(description="The .png (or .jpg) to write.")],
        at: Annotated[str, Field(description="first, last, or seconds from the start.")] = "last",
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """Save one frame of a video as an image (the last frame starts the next clip)."""
        return await _call(service.media_frame, video, output, at, overwrite)

    async def media_concat(
        clips: Annotated[list[str], Field(min_length=1, description="Videos, in order.")],
        output: str,
        crossfade: Annotated[float, Field(ge=0, description="Seconds of crossfade between clips.")] = 0.0,
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """Join clips into one MP4 (stream copy when they match)."""
        return await _call(service.media_concat, clips, output, crossfade, overwrite)

    async def media_add_audio(
        video: str,
        audio: str,
        output: str,
        mode: Literal["replace", "mix"] = "replace",
        fit: Literal["pad", "loop", "trim"] = "pad",
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """Lay a soundtrack under a video (replace or mix its sound); the output is as long as the video."""
        return await _call(service.media_add_audio, video, audio, output, mode, fit, overwrite)

    estimate_cost.__signature__ = _request_signature()  # type: ignore[attr-defined]
    arguments.with_signature(generate, arguments.signature_of_generate(), "ctx")
    for tool in (
        list_models, estimate_cost, generate, task_status, wait_for_task, fetch_video, cancel_task, list_tasks,
        run_plan, plan_status, media_info, media_frame, media_concat, media_add_audio,
    ):
        server.add_tool(tool, name=tool.__name__, structured_output=False)
    return server


def _request_signature() -> inspect.Signature:
    """estimate_cost takes the request itself: generate's parameters without the run's."""
    full = arguments.signature_of_generate()
    return full.replace(parameters=[p for p in full.parameters.values() if p.name not in arguments.RUN_ARGUMENTS])


# -- helpers -----------------------------------------------------------------------------------------


async def _call(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a library call on a worker thread; its errors become tool errors (the server keeps serving)."""
    with _tool_errors():
        return await anyio.to_thread.run_sync(lambda: fn(*args))


@contextmanager
def _tool_errors() -> Iterator[None]:
    try:
        yield
    except ToolError:
        raise
    except errors.QwenvidError as exc:
        text = exc.message + (f" {exc.hint}" if exc.hint else "")
        raise ToolError(errors.scrub(f"[exit {int(exc.exit_code)}] {text}")) from None
    except Exception as exc:  # a bug: said in one line, never a crashed server
        raise ToolError(errors.scrub(f"unexpected {type(exc).__name__}: {exc}")) from None


@contextmanager
def _progress(ctx: Context) -> Iterator[ProgressReporter]:
    """A reporter whose updates go to the client as progress notifications, for as long as the call lasts."""
    loop = asyncio.get_running_loop()
    meta = ctx.request_context.meta
    live = [meta is not None and meta.progressToken is not None]

    def send(progress: float, total: float | None, message: str) -> None:
        if live[0]:
            asyncio.run_coroutine_threadsafe(ctx.report_progress(progress, total, errors.scrub(message)), loop)

    try:
        yield ProgressReporter(send)
    finally:
        live[0] = False


def supports_elicitation(ctx: Context) -> bool:
    capability = types.ClientCapabilities(elicitation=types.ElicitationCapability())
    return bool(ctx.request_context.session.check_client_capability(capability))


async def _confirm(ctx: Context, service: Service, cost: Any) -> None:
    """Above the threshold: the person's yes through the client, or a clear refusal; nothing is sent before."""
    settings = service.session.settings
    if not spending.needs_confirmation(cost, settings=settings, emulated=service.emulated):
        return
    if not supports_elicitation(ctx):
        with _tool_errors():
            raise spending.cannot_ask(cost, settings)
    answer = await ctx.elicit(spending.question(cost, settings), Confirm)
    if answer.action == "accept" and answer.data.pay:
        return
    with _tool_errors():
        raise spending.declined(answer.action if answer.action != "accept" else "no")


# -- running -----------------------------------------------------------------------------------------


def serve(
    *,
    emulator: bool = False,
    base_url: str | None = None,
    region: str | None = None,
    realistic: bool = False,
    faults: tuple[str, ...] = (),
) -> None:
    """Serve MCP on stdin/stdout until the client closes it; with `emulator`, an in-process emulator whose
    tasks end with the server (`realistic` timings and `faults` as `--emulator-realistic` / `--emulator-fault`)."""
    from qwenvid.config import load_settings
    from qwenvid.tasks.session import Session

    logging.getLogger("mcp").setLevel(logging.WARNING)
    thread = None
    if emulator:
        from qwenvid.config import emulator_render_cache
        from qwenvid.emulator.config import EmulatorConfig
        from qwenvid.emulator.server import EmulatorThread

        timing: dict[str, Any] = {"realistic": True} if realistic else dict(QUICK_EMULATOR_TIMING)
        config = EmulatorConfig(**timing, faults=faults, render_cache_dir=emulator_render_cache())
        thread = EmulatorThread(config).start()
        settings = dataclasses.replace(
            load_settings(api_key=EMULATOR_KEY, base_url=thread.base_url, region=region),
            key_source="--emulator (any key works there)",
            base_url_source="--emulator",
        )
    else:
        settings = load_settings(base_url=base_url, region=region)
    session = Session(settings, emulated=emulator)
    quick = emulator and not realistic
    service = Service(session, emulated=emulator, estimate=EMULATOR_ESTIMATE_SECONDS if quick else None)
    try:
        build_server(service).run("stdio")
    finally:
        session.close()
        if thread is not None:
            thread.stop(wait=False)
