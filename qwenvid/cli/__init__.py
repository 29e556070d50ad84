"""The qwenvid command line: the Typer app, its global options, and main() with the error boundary."""

from __future__ import annotations

import os
import sys
import traceback
from importlib import import_module
from importlib.util import find_spec
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from qwenvid.cli import emulator_cmd, generate, info, tasks
from qwenvid.cli._output import Output, clean
from qwenvid.cli._session import CliState
from qwenvid.errors import ExitCode, QwenvidError, scrub

EXIT_CODES_HELP = (
    "Exit codes: 0 done, 1 other error, 2 usage or validation, 3 authentication, 4 throttled or quota, "
    "5 still running (the id and the command to continue are printed), 6 network unreachable, "
    "7 confirmation needed but no terminal, 8 task failed/canceled/expired, 9 download failed, "
    "10 content moderation, 130 interrupted."
)


def report_error(exc: BaseException, out: Output) -> int:
    """Turn an exception into one line + a hint on stderr (and JSON on stdout with --json); return the exit code."""
    if out.debug:
        out.console.print(scrub("".join(traceback.format_exception(exc))), markup=False, highlight=False)
    if isinstance(exc, QwenvidError):
        if out.json:
            out.result_json(exc.to_dict())
        out.error(exc.message, exc.hint)
        return int(exc.exit_code)
    # A bug, not a user error: say so briefly; the traceback is one flag away.
    out.error(f"unexpected {type(exc).__name__}: {clean(exc)}", "Run again with --debug (or QWENVID_DEBUG=1).")
    return int(ExitCode.ERROR)


class QwenvidGroup(TyperGroup):
    """Routes every command's errors through `report_error`, under the test runner as in real use."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except QwenvidError as exc:
            state = ctx.obj if isinstance(ctx.obj, CliState) else CliState()
            raise typer.Exit(report_error(exc, state.out)) from exc


app = typer.Typer(
    name="qwenvid",
    cls=QwenvidGroup,
    help="Make videos with Alibaba's Wan models on DashScope: submit, follow live, download a verified MP4.",
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def global_options(
    ctx: typer.Context,
    base_url: Annotated[
        str | None,
        typer.Option("--base-url", help="Full native API base, e.g. http://127.0.0.1:8765/api/v1 (env QWEN_BASE_URL)."),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option("--region", help="ap-southeast-1 (default), cn-beijing or us-east-1 (env QWEN_REGION)."),
    ] = None,
    emulator: Annotated[
        bool,
        typer.Option(
            "--emulator", help="Run against an in-process emulator on a free local port: free, no key needed."
        ),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Results as JSON on stdout; no progress display.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the result on stdout, and errors.")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks on errors (secrets removed). Env QWENVID_DEBUG=1.")
    ] = False,
) -> None:
    """Make videos with Alibaba's Wan models on DashScope: submit, follow live, download a verified MP4."""
    debug = debug or os.environ.get("QWENVID_DEBUG", "") not in ("", "0")
    ctx.obj = CliState(
        base_url=base_url,
        region=region,
        emulator=emulator,
        out=Output(json=json_out, quiet=quiet, debug=debug),
    )


generate.register(app)
tasks.register(app)
info.register(app)
emulator_cmd.register(app)
# The wizard is written separately; it joins the app once its module exists.
if find_spec("qwenvid.cli.wizard") is not None:
    import_module("qwenvid.cli.wizard").register(app)


def main() -> None:
    """Console-script entry point: run the app; anything that escapes it still gets one clean line."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(int(ExitCode.INTERRUPTED))
    except Exception as exc:  # noqa: BLE001 - this is the last boundary before a raw traceback
        debug = "--debug" in sys.argv or os.environ.get("QWENVID_DEBUG", "") not in ("", "0")
        sys.exit(report_error(exc, Output(json="--json" in sys.argv, debug=debug)))
