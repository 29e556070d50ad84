"""`qwenvid emulator`: serve the local DashScope emulator until stopped."""

from __future__ import annotations

import errno
import socket
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperCommand

from qwenvid.cli._help import examples
from qwenvid.cli._session import state_of
from qwenvid.errors import ConfigError, UsageError

# bind() failures that come from the chosen host or port, not from a bug.
_LISTEN_ERRNOS = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES, errno.EPERM, errno.EAFNOSUPPORT})

EMULATOR_EXAMPLES = examples(
    "qwenvid emulator",
    "qwenvid emulator --port 0 --realistic",
    "qwenvid emulator --fault throttle:submit:2 --fault fail:DataInspectionFailed:1",
    "qwenvid emulator --no-log",
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
    port: Annotated[
        int, typer.Option("--port", "-p", min=0, max=65535, help="TCP port, 0-65535; 0 picks a free one.")
    ] = 8765,
    fault: Annotated[
        list[str] | None, typer.Option("--fault", help="Inject a fault (repeatable); the specs are listed below.")
    ] = None,
    pending_seconds: Annotated[
        float | None,
        typer.Option("--pending-seconds", min=0, help="Seconds a task stays PENDING. Default: 0.3."),
    ] = None,
    running_seconds: Annotated[
        float | None,
        typer.Option("--running-seconds", min=0, help="Seconds a task stays RUNNING. Default: 1.2."),
    ] = None,
    realistic: Annotated[
        bool, typer.Option("--realistic", help="Tasks take minutes, as on the service (expected time ±20 %).")
    ] = False,
    api_key: Annotated[
        list[str] | None,
        typer.Option("--api-key", help="Accept only this Bearer key (repeatable). Default: any key is accepted."),
    ] = None,
    no_limits: Annotated[
        bool, typer.Option("--no-limits", help="Turn off the per-model submit, concurrency and query QPS limits.")
    ] = False,
    no_log: Annotated[
        bool,
        typer.Option("--no-log", help="Do not log each request on stderr (--quiet also drops the usage lines)."),
    ] = False,
) -> None:
    """Run the local DashScope emulator: same API, real MP4s, free; prints its base URL first."""
    from qwenvid.emulator.config import EmulatorConfig
    from qwenvid.emulator.faults import parse_fault
    from qwenvid.emulator.server import serve

    state = state_of(ctx)
    quiet = state.out.quiet
    for spec in fault or []:
        parse_fault(spec)  # refuse a bad spec before the server starts
    if any(not key.strip() for key in api_key or []):
        raise UsageError("--api-key must not be empty.", hint="Give the key the emulator should accept.")
    from qwenvid.config import emulator_render_cache

    settings: dict[str, Any] = {
        "realistic": realistic,
        "limits": not no_limits,
        "faults": tuple(fault or ()),
        "render_cache_dir": emulator_render_cache(),
    }
    if pending_seconds is not None:
        settings["pending_seconds"] = pending_seconds
    if running_seconds is not None:
        settings["running_seconds"] = running_seconds
    if api_key:
        settings["api_keys"] = tuple(api_key)
    try:
        serve(
            host,
            port,
            EmulatorConfig(**settings),
            on_listening=None if quiet else _print_usage,
            request_log=None if quiet or no_log else _log_line,
        )
    except KeyboardInterrupt:
        pass
    except OSError as exc:  # the address is taken, not ours, or not an address at all
        if exc.errno not in _LISTEN_ERRNOS and not isinstance(exc, socket.gaierror):
            raise
        raise ConfigError(
            f"Cannot listen on {host}:{port}: {exc.strerror or exc}.",
            hint="Choose another --port (0 picks a free one) or --host (127.0.0.1 is this machine only).",
        ) from None


def usage_lines(base_url: str) -> list[str]:
    """How to point qwenvid and the official SDK at the emulator (stderr, after the URL line on stdout)."""
    return [
        f"DashScope emulator listening on {base_url} (any API key works; Ctrl-C stops it).",
        f'  qwenvid:       QWEN_BASE_URL={base_url} DASHSCOPE_API_KEY=sk-test qwenvid t2v "A kitten"',
        f"  dashscope SDK: DASHSCOPE_HTTP_BASE_URL={base_url} DASHSCOPE_API_KEY=sk-test python your_script.py",
        f"  own bucket:    QWEN_TMP_OSS_ENDPOINT={base_url.removesuffix('/api/v1')} QWEN_TMP_OSS_BUCKET=any "
        "QWEN_TMP_OSS_REGION=cn-beijing, key pair from the README (its Uploads section)",
        "Requests are logged below: time, method, path, status, task id (--no-log to silence).",
    ]


def _print_usage(base_url: str) -> None:
    sys.stderr.write("".join(line + "\n" for line in usage_lines(base_url)))
    sys.stderr.flush()


def _log_line(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def register(app: typer.Typer) -> None:
    app.command(cls=FaultHelpCommand, epilog=EMULATOR_EXAMPLES)(emulator)
