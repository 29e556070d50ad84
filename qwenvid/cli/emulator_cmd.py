"""`qwenvid emulator`: serve the local DashScope emulator until stopped."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from qwenvid.cli._session import state_of
from qwenvid.cli.generate import examples

EMULATOR_EXAMPLES = examples(
    "qwenvid emulator",
    "qwenvid emulator --port 0 --realistic",
    "qwenvid emulator --fault throttle:submit:2 --fault fail:DataInspectionFailed:1",
    'QWEN_BASE_URL=http://127.0.0.1:8765/api/v1 DASHSCOPE_API_KEY=sk-test qwenvid t2v "A kitten"',
)


class FaultHelpCommand(TyperCommand):
    """Adds the fault spec reference to the epilog only when help is shown, so startup stays light."""

    @property
    def epilog(self) -> str | None:
        from rich.markup import escape

        from qwenvid.emulator.faults import FAULT_HELP

        paragraphs = [escape(part) for part in FAULT_HELP.strip().split("\n\n")]
        return self._examples + "\n\n" + "\n\n".join(paragraphs)

    @epilog.setter
    def epilog(self, value: str | None) -> None:
        self._examples = value or ""


def emulator(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on. Anything but loopback exposes it (any key works, the controls are open).",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="TCP port; 0 picks a free one.")] = 8765,
    fault: Annotated[
        list[str] | None, typer.Option("--fault", help="Inject a fault (repeatable); the specs are listed below.")
    ] = None,
    pending_seconds: Annotated[
        float | None, typer.Option("--pending-seconds", help="Seconds a task stays PENDING. Default: 0.3.")
    ] = None,
    running_seconds: Annotated[
        float | None, typer.Option("--running-seconds", help="Seconds a task stays RUNNING. Default: 1.2.")
    ] = None,
    realistic: Annotated[
        bool, typer.Option("--realistic", help="Use the models' documented typical render times (minutes).")
    ] = False,
    api_key: Annotated[
        list[str] | None,
        typer.Option("--api-key", help="Accept only this Bearer key (repeatable). Default: any key is accepted."),
    ] = None,
    no_limits: Annotated[
        bool, typer.Option("--no-limits", help="Turn off the per-model submit, concurrency and query QPS limits.")
    ] = False,
) -> None:
    """Run the local DashScope emulator: same API, real MP4s, free; prints its base URL first."""
    from qwenvid.emulator.config import EmulatorConfig
    from qwenvid.emulator.faults import parse_fault
    from qwenvid.emulator.server import serve

    state_of(ctx)
    for spec in fault or []:
        parse_fault(spec)  # refuse a bad spec before the server starts
    settings: dict[str, Any] = {"realistic": realistic, "limits": not no_limits, "faults": tuple(fault or ())}
    if pending_seconds is not None:
        settings["pending_seconds"] = pending_seconds
    if running_seconds is not None:
        settings["running_seconds"] = running_seconds
    if api_key:
        settings["api_keys"] = tuple(api_key)
    try:
        serve(host, port, EmulatorConfig(**settings))
    except KeyboardInterrupt:
        pass


def register(app: typer.Typer) -> None:
    app.command(cls=FaultHelpCommand, epilog=EMULATOR_EXAMPLES)(emulator)
