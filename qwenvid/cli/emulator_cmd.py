"""`qwenvid emulator`: serve the local DashScope emulator until stopped."""

from __future__ import annotations

import errno
import functools
import os
import socket
import sys
from typing import Annotated, Any, TextIO, cast

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
    "qwenvid emulator --background --port 0",
    "qwenvid emulator stop",
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
    action: Annotated[
        str | None,
        typer.Argument(
            metavar="[stop [URL]]",
            help="`stop` stops a background emulator (the one at URL, else every one started from this state "
            "folder).",
            show_default=False,
        ),
    ] = None,
    url: Annotated[str | None, typer.Argument(metavar="", hidden=True, show_default=False)] = None,
    background: Annotated[
        bool,
        typer.Option(
            "--background",
            help="Start it in the background: print its base URL once it serves, and return "
            "(`qwenvid emulator stop` stops it).",
        ),
    ] = False,
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
    if action is not None:
        _stop(state, action, url)
        return
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
    config = EmulatorConfig(**settings)  # refuses bad values before anything starts
    if background:
        _start_background(state, ctx)
        return
    banner = functools.partial(_print_usage, keys_required=bool(api_key), logged=not no_log)
    try:
        serve(
            host,
            port,
            config,
            out=cast(TextIO, _JsonFirstLine()) if state.out.json else None,
            on_listening=None if quiet else banner,
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


def usage_lines(base_url: str, *, keys_required: bool = False, logged: bool = True) -> list[str]:
    """How to point qwenvid and the official SDK at the emulator (stderr, after the URL line on stdout).

    It says what is true of this server: with --api-key only those keys work (the sample uses a placeholder
    for one, never the key itself); with --no-log nothing is logged.
    """
    if keys_required:
        which, key = "only the keys given with --api-key work", "YOUR_API_KEY"
    else:
        which, key = "any API key works", "sk-test"
    lines = [
        f"DashScope emulator listening on {base_url} ({which}; Ctrl-C stops it).",
        f'  qwenvid:       QWEN_BASE_URL={base_url} DASHSCOPE_API_KEY={key} qwenvid t2v "A kitten"',
        f"  dashscope SDK: DASHSCOPE_HTTP_BASE_URL={base_url} DASHSCOPE_API_KEY={key} python your_script.py",
        f"  own bucket:    QWEN_TMP_OSS_ENDPOINT={base_url.removesuffix('/api/v1')} QWEN_TMP_OSS_BUCKET=any "
        "QWEN_TMP_OSS_REGION=cn-beijing, key pair from the README (its Uploads section)",
    ]
    if keys_required:
        lines.append("  (YOUR_API_KEY: one of the --api-key values this emulator was started with.)")
    if logged:
        lines.append("Requests are logged below: time, method, path, status, task id (--no-log to silence).")
    return lines


def _print_usage(base_url: str, *, keys_required: bool = False, logged: bool = True) -> None:
    sys.stderr.write("".join(line + "\n" for line in usage_lines(base_url, keys_required=keys_required, logged=logged)))
    sys.stderr.flush()


class _JsonFirstLine:
    """--json: the base URL line on stdout becomes one JSON object on one line ({"base_url": ...})."""

    def write(self, text: str) -> int:
        import json

        for line in text.splitlines():
            if line.strip():
                sys.stdout.write(json.dumps({"base_url": line.strip(), "pid": os.getpid()}) + "\n")
        return len(text)

    def flush(self) -> None:
        sys.stdout.flush()


def _start_background(state: Any, ctx: typer.Context) -> None:
    """Run this same command line (without --background) as a server of its own; print its URL once it serves."""
    from qwenvid.cli._emulator_background import start
    from qwenvid.config import home_folder

    args = [word for word in _own_args(ctx) if word != "--background"]
    server = start(args, home_folder())
    if state.out.json:
        state.out.result_json(server.to_json())
    else:
        state.out.result(server.base_url)
    state.out.info(
        f"Emulator serving {server.base_url} in the background (pid {server.pid}; its log: {server.log}). "
        f"Stop it with `qwenvid emulator stop {server.base_url}`."
    )


def _own_args(ctx: typer.Context) -> list[str]:
    """The words given to `qwenvid emulator` (the global options are the parent's and stay there)."""
    from qwenvid.cli import _ARGV

    words = _ARGV or sys.argv[1:]
    at = words.index("emulator") if "emulator" in words else len(words)
    return [word for word in words[at + 1 :] if word not in ("--json", "--quiet", "-q", "--debug")]


def _stop(state: Any, action: str, url: str | None) -> None:
    from qwenvid.cli._emulator_background import stop
    from qwenvid.config import home_folder

    if action != "stop":
        raise UsageError(f"Unknown action {action!r}: the only one is `stop [URL]`.", hint="See `qwenvid emulator -h`.")
    stopped = stop(home_folder(), url, say=state.out.info)
    if state.out.json:
        state.out.result_json({"stopped": [server.to_json() for server in stopped], "count": len(stopped)})


def _log_line(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def register(app: typer.Typer) -> None:
    app.command(cls=FaultHelpCommand, epilog=EMULATOR_EXAMPLES)(emulator)
