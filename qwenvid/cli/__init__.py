"""The qwenvid command line: the Typer app, its global options, and main() with the error boundary."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Collection, Sequence
from importlib import import_module
from typing import Annotated, Any

import typer
from typer._click import exceptions as click  # Typer's own (vendored) Click: its exceptions are raised
from typer.core import TyperGroup

from qwenvid.cli._boundary import environment_error, silence_stdout, stdout_is_devnull, undecodable_argument
from qwenvid.cli._complete import completion_callback, with_completion_shell
from qwenvid.cli._metavars import plain_metavars
from qwenvid.cli._output import Output, clean
from qwenvid.cli._session import CliState
from qwenvid.errors import ExitCode, QwenvidError, StillRunning, UsageError, scrub

EXIT_CODES_HELP = (
    "Exit codes: 0 done, 1 other error, 2 usage or validation, 3 authentication, 4 throttled or quota, "
    "5 still running (the id and the command to continue are printed), 6 network unreachable, "
    "7 confirmation needed but no terminal, 8 task failed/canceled/expired, 9 download failed, "
    "10 content moderation, 11 a budget would be crossed (nothing submitted), 130 interrupted."
)


def report_error(exc: BaseException, out: Output) -> int:
    """Turn an exception into one line + a hint on stderr (and JSON on stdout with --json); return the exit code."""
    if out.debug:
        out.console.print(scrub("".join(traceback.format_exception(exc))), markup=False, highlight=False)
    exc = environment_error(exc) or exc
    if isinstance(exc, QwenvidError):
        if out.json:
            from qwenvid.cli._envelope import envelope

            out.result_json(
                envelope(
                    getattr(exc, "result", None),
                    error=exc,
                    exit_code=int(exc.exit_code),
                    extra=getattr(exc, "extra", None),
                )
            )
        if isinstance(exc, StillRunning):
            # An outcome, not an error (asked for with --detach, or a wait that ended): said, never "Error:".
            out.info(exc.message)
            if exc.hint:
                out.info(f"Next: {exc.hint}")
        else:
            out.error(exc.message, exc.hint)
        return int(exc.exit_code)
    # A bug, not a user error: say so briefly; the traceback is one flag away.
    if out.json:
        from qwenvid.cli._envelope import envelope

        out.result_json(envelope(error=exc, exit_code=int(ExitCode.ERROR)))
    hint = "The traceback is above." if out.debug else "Run again with --debug (or QWENVID_DEBUG=1)."
    out.error(f"unexpected {type(exc).__name__}: {clean(exc)}", hint)
    return int(ExitCode.ERROR)


# Click's UsageError, whichever copy of Click this Typer uses (newer Typers vendor their own).
USAGE_ERROR: type[Exception] = next(cls for cls in typer.BadParameter.__mro__ if cls.__name__ == "UsageError")


def _usage_error_json(exc: Any, args: list[str]) -> None:
    """With --json anywhere on the command line, a usage error is also the one JSON object on stdout."""
    if "--json" in args[: args.index("--")] if "--" in args else "--json" in args:
        from qwenvid.cli._envelope import usage_error_envelope

        Output(json=True).result_json(usage_error_envelope(clean(exc.format_message())))


def _usage_error(exc: click.UsageError, args: list[str]) -> int:
    """Click's usage errors as one `Error:` line with a hint, through the same path as every other error."""
    ctx = exc.ctx
    where = ctx.command_path if ctx is not None else "qwenvid"
    _usage_error_json(exc, args)  # with --json: the one JSON object on stdout (the envelope's usage shape)
    error = UsageError(exc.format_message(), hint=f"See `{where} --help`.")
    return report_error(error, Output(debug=_debug_requested(args)))


def _debug_requested(args: list[str]) -> bool:
    return "--debug" in args or os.environ.get("QWENVID_DEBUG", "") not in ("", "0")


class QwenvidGroup(TyperGroup):
    """Routes every command's errors through `report_error`, under the test runner as in real use."""

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        return plain_metavars(super().get_command(ctx, cmd_name), ctx)

    def get_params(self, ctx: Any) -> Any:
        plain_metavars(self, ctx)
        return super().get_params(ctx)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Usage errors as one line (not a boxed panel), and a closed stdout pipe as a quiet success."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        if any(key.startswith("_QWENVID_COMPLETE") for key in os.environ):
            from typer.completion import completion_init

            completion_init()  # the shells' completion classes (add_completion=False skips registering them)
        argv = hoist_global_options(with_completion_shell(list(sys.argv[1:] if args is None else args)))
        _ARGV[:] = argv
        undecodable = undecodable_argument(argv)
        if undecodable is not None:
            sys.exit(report_error(undecodable, Output(json="--json" in argv, debug=_debug_requested(argv))))
        was_devnull = stdout_is_devnull()
        try:
            code = super().main(argv, prog_name, complete_var, False, windows_expand_args, **extra)
        except SystemExit as exc:
            # Rich meets a closed pipe (`qwenvid --help | head -1`) by sending stdout to /dev/null and exiting 1;
            # the reader has what it wanted, as with our own listings: a quiet success.
            if exc.code != 1 or was_devnull or not stdout_is_devnull():
                raise
            code = 0
        except click.NoArgsIsHelpError:
            code = int(ExitCode.USAGE)  # the help was shown; exit as for any other usage error
        except click.UsageError as exc:
            code = _usage_error(exc, argv)
        except click.ClickException as exc:
            exc.show()
            code = exc.exit_code
        except typer.Abort:
            sys.stderr.write("Aborted.\n")
            code = int(ExitCode.ERROR)
        except BrokenPipeError:
            silence_stdout()
            code = 0
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, USAGE_ERROR):  # usage errors: main() reports them (JSON too)
            raise
        except BrokenPipeError:
            silence_stdout()  # `qwenvid tasks | head -1`: the reader has what it wanted
            raise typer.Exit(0) from None
        except Exception as exc:
            error = exc if isinstance(exc, QwenvidError) else environment_error(exc)
            if error is None:
                raise  # a bug: main() reports it as `unexpected ...` (tests see the exception itself)
            state = ctx.obj if isinstance(ctx.obj, CliState) else CliState()
            raise typer.Exit(report_error(error, state.out)) from exc

    def list_commands(self, ctx: Any) -> list[str]:
        """Help lists commands in the table's order, whether a module registered a command or a sub-app."""
        order = list(COMMANDS)
        names = super().list_commands(ctx)
        return sorted(names, key=lambda name: order.index(name) if name in order else len(order))


# The command line being run (after hoisting): eager callbacks such as --version look at it for --json.
_ARGV: list[str] = []


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        if "--json" in _ARGV[: _ARGV.index("--") if "--" in _ARGV else None]:
            Output(json=True).result_json({"name": "qwenvid", "version": version("qwenvid")})
        else:
            sys.stdout.write(f"qwenvid {version('qwenvid')}\n")
        raise typer.Exit(0)


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
            "--emulator",
            help="Run against an in-process emulator on a free local port: free, no key needed "
            "(by default too with QWENVID_EMULATOR=1 or `emulator = true` in config.toml).",
        ),
    ] = False,
    no_emulator: Annotated[
        bool,
        typer.Option("--no-emulator", help="Use the real service for this command, whatever QWENVID_EMULATOR says."),
    ] = False,
    emulator_realistic: Annotated[
        bool,
        typer.Option(
            "--emulator-realistic",
            help="With --emulator (implied): tasks take minutes, as on the service (expected time ±20 %).",
        ),
    ] = False,
    emulator_fault: Annotated[
        list[str] | None,
        typer.Option(
            "--emulator-fault",
            metavar="SPEC",
            help="With --emulator (implied): inject a fault, e.g. fail:DataInspectionFailed:1 (repeatable; "
            "the specs are listed in `qwenvid emulator --help`).",
        ),
    ] = None,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            metavar="ID",
            help="Your workspace id: send to its host ID.REGION.maas.aliyuncs.com (env QWEN_WORKSPACE_ID, "
            "config workspace_id). A base URL wins over it; it wins over the region's shared host.",
        ),
    ] = None,
    allow_unknown_model: Annotated[
        bool,
        typer.Option(
            "--allow-unknown-model",
            help="Send a model id the catalogue does not know even when it looks like a typo of one it does.",
        ),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Results as JSON on stdout; no progress display.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the result on stdout, and errors.")] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks on errors (secrets removed). Env QWENVID_DEBUG=1.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version, help="Print the version and exit."),
    ] = False,
    show_completion: Annotated[
        str | None,
        typer.Option(
            "--show-completion",
            metavar="[SHELL]",
            is_eager=True,
            expose_value=False,
            callback=completion_callback,
            help="Print the completion script for SHELL (bash, zsh, fish, powershell; default: this shell).",
        ),
    ] = None,
    install_completion: Annotated[
        str | None,
        typer.Option(
            "--install-completion",
            metavar="[SHELL]",
            is_eager=True,
            expose_value=False,
            callback=completion_callback,
            help="Install completion for SHELL (default: this shell); it works in new terminals.",
        ),
    ] = None,
    no_preview: Annotated[
        bool,
        typer.Option(
            "--no-preview", help="No thumbnail strip under a finished video (or preview = false in config.toml)."
        ),
    ] = False,
) -> None:
    """Make videos with Alibaba's Wan models on DashScope: submit, follow live, download a verified MP4."""
    debug = debug or os.environ.get("QWENVID_DEBUG", "") not in ("", "0")
    if debug:
        from qwenvid.cli._output import enable_debug_logging

        enable_debug_logging()
    faults = tuple(emulator_fault or ())
    if no_emulator and (emulator or emulator_realistic or faults):
        raise typer.BadParameter("cannot be combined with --emulator options.", param_hint="'--no-emulator'")
    if faults:
        from qwenvid.emulator.faults import parse_fault
        from qwenvid.errors import ValidationError

        for spec in faults:
            try:
                parse_fault(spec)  # a bad spec is a usage error before anything starts
            except ValidationError as exc:
                raise typer.BadParameter(exc.message, param_hint="'--emulator-fault'") from None
    from qwenvid.requests.model_ids import allow_unknown_models

    allow_unknown_models(allow_unknown_model)  # set for every command, so one run's choice never leaks into the next
    inherited = ctx.obj if isinstance(ctx.obj, CliState) else None  # `qwenvid cost` runs a command inside
    ctx.obj = CliState(
        cost_only=inherited.cost_only if inherited else False,
        base_url=base_url,
        region=region,
        workspace=workspace,
        emulator_flag=False if no_emulator else (True if emulator or emulator_realistic or faults else None),
        emulator_realistic=emulator_realistic,
        emulator_faults=faults,
        out=Output(json=json_out, quiet=quiet, debug=debug),
        preview=not no_preview,
    )


# Every command, the module that defines it, and its one-line summary. `main()` imports only the module
# of the command being run and lists the others from this table, so `qwenvid --help` and every command
# start without paying for the rest (tests/test_help.py keeps the summaries equal to the docstrings).
COMMANDS: dict[str, tuple[str, str]] = {
    "t2v": ("generate", "Make a video from a text prompt."),
    "i2v": (
        "generate",
        "Animate an image (first frame; wan2.7-i2v also last frame, clip continuation, driving audio).",
    ),
    "kf2v": ("generate", "Make a video between a first and a last frame."),
    "r2v": ("generate", "Make a video of the characters in reference images or videos."),
    "vace": (
        "generate",
        "Edit or extend videos: the five VACE functions, or instruction editing with wan2.7-videoedit.",
    ),
    "generate": (
        "generate",
        "Run a request in the QwenCloud video skill's JSON shape; the mode is detected from its fields.",
    ),
    "s2v": ("performers", "Make a photo talk or sing from a speech track (wan2.2-s2v, after a face check)."),
    "animate": ("performers", "Copy a video's motion onto a character (move) or put it into the video (mix)."),
    "status": (
        "tasks",
        "Show one task from the local ledger and the service; --wait follows it and downloads the video.",
    ),
    "fetch": ("tasks", "Download the video of a finished task, also one this machine never submitted."),
    "cancel": ("tasks", "Cancel a task that is still queued (PENDING); running tasks cannot be cancelled."),
    "tasks": (
        "tasks",
        "List your tasks from the local ledger (with billed-seconds totals), or the account's with --remote.",
    ),
    "resume": (
        "tasks",
        "Finish every unfinished task: reconcile unknown submits, wait, download. Safe to run any time.",
    ),
    "spend": (
        "spend",
        "Show what was spent: billed seconds per day, model, tier, mode and plan, beside the estimates.",
    ),
    "ledger": (
        "ledger_cmd",
        "The shared ledger: import a machine's local SQLite ledger into the PostgreSQL one (ledger_url).",
    ),
    "models": ("info", "List the Wan models qwenvid knows, with what each one accepts."),
    "doctor": (
        "info",
        "Check the set-up: key set or not (never its value), key kind, region, base URL, reachability, paths.",
    ),
    "config": (
        "config_cmd",
        "Show the settings and where each one comes from; get, set or unset a key of config.toml.",
    ),
    "media": (
        "media",
        "Clip tools: info, frame, trim, tail, concat, add-audio, sheet, preview, fit (no ffmpeg needed).",
    ),
    "emulator": (
        "emulator_cmd",
        "Run the local DashScope emulator: same API, real MP4s, free; prints its base URL first.",
    ),
    "run": ("run", "Run a plan: many generations and multi-step chains from one file."),
    "extend": (
        "extend",
        "Make a video longer: chain new segments after it, join them, and optionally lay a soundtrack.",
    ),
    "mcp": ("mcp_cmd", "Serve qwenvid to an AI agent over the Model Context Protocol (stdio)."),
    "skill": (
        "mcp_cmd",
        "Print the SKILL.md that teaches an agent to use qwenvid safely (or install it into a skills folder).",
    ),
    "cast": ("cast", "The cast: named characters kept the same from shot to shot (add, list, show, remove)."),
    "story": ("story", "A paragraph to a narrated film: a storyboard written as a plan file, then the plan run."),
    "pick": ("pick", "Choose the take of a step that later steps build on; picking itself pays nothing."),
    "cost": (
        "cost_cmd",
        "The cost of a command without running it: billable seconds, tier, and an amount from your price table.",
    ),
    "open": ("open_cmd", "Play or show a task's video (or a plan's folder) with the system's viewer."),
    "wizard": (
        "wizard",
        "Guided flow: mode, model, inputs and options, each checked as you answer; then the same run as the "
        "one-liners.",
    ),
}
# Global options that take a value: the word after them is not a command name.
_VALUE_OPTIONS = frozenset({"--base-url", "--region", "--emulator-fault", "--workspace"})
# Global options people also write after the command (`qwenvid t2v "..." --emulator`); main() moves them
# in front of it, where Typer expects them; `--json` too, so that it works in both places for every command.
_GLOBAL_FLAGS = frozenset(
    {"--emulator", "--no-emulator", "--emulator-realistic", "--debug", "--quiet", "-q", "--no-preview", "--json",
     "--allow-unknown-model"}
)


def build_app(commands: Collection[str] | None = None) -> typer.Typer:
    """The Typer app. With `commands`, only their modules load; every other command is listed by name."""
    app = typer.Typer(
        name="qwenvid",
        cls=QwenvidGroup,
        help="Make videos with Alibaba's Wan models on DashScope: submit, follow live, download a verified MP4.",
        epilog=EXIT_CODES_HELP,
        no_args_is_help=True,
        add_completion=False,  # global_options has --show-completion/--install-completion that honour SHELL
        pretty_exceptions_show_locals=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(global_options)
    wanted = COMMANDS if commands is None else commands
    modules = sorted({COMMANDS[name][0] for name in wanted})
    for module in modules:
        import_module(f"qwenvid.cli.{module}").register(app)
    # Typer builds the options of every registered command on each run (~5 ms a command): keep only the
    # wanted ones (a module registers several) and list the others by name, like the unloaded modules'.
    app.registered_commands = [info for info in app.registered_commands if _name_of(info) in wanted]
    present = {_name_of(info) for info in app.registered_commands} | {info.name for info in app.registered_groups}
    for name, (_module, summary) in COMMANDS.items():
        if name not in present:
            app.command(name, help=summary, context_settings=_PASS_THROUGH)(_rerun_with_every_command)
    # Help lists commands in registration order; keep the table's order whichever modules loaded.
    order = list(COMMANDS)
    app.registered_commands.sort(key=lambda info: order.index(_name_of(info)))
    return app


def _name_of(info: Any) -> str:
    return str(info.name or info.callback.__name__.replace("_", "-"))


# A listed-only command accepts anything: if it is ever invoked (an argument order `_command_in` did not
# foresee), it runs the same command line again with every command loaded.
_PASS_THROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def _rerun_with_every_command(ctx: typer.Context) -> None:
    build_app()(args=hoist_global_options(sys.argv[1:]), prog_name="qwenvid")


def _command_at(argv: list[str]) -> int | None:
    """Where the command name stands in a command line, if it names one; options before it are global."""
    index = 0
    while index < len(argv):
        word = argv[index]
        if word in _VALUE_OPTIONS:
            index += 2
            continue
        if not word.startswith("-"):
            return index if word in COMMANDS else None
        index += 1
    return None


def _command_in(argv: list[str]) -> str | None:
    """The command a command line runs, if it names one."""
    at = _command_at(argv)
    return None if at is None else argv[at]


def hoist_global_options(argv: list[str]) -> list[str]:
    """Move global options written after the command to before it; everything after `--` stays put."""
    at = _command_at(argv)
    if at is None:
        return argv
    moved: list[str] = []
    kept: list[str] = []
    rest = iter(argv[at + 1 :])
    for word in rest:
        if word == "--":
            kept += [word, *rest]
        elif word in _GLOBAL_FLAGS or ("=" in word and word.split("=", 1)[0] in _VALUE_OPTIONS):
            moved.append(word)
        elif word in _VALUE_OPTIONS:
            moved += [word, *([value] if (value := next(rest, None)) is not None else [])]
        else:
            kept.append(word)
    return [*argv[:at], *moved, argv[at], *kept]


_full_app: typer.Typer | None = None


def __getattr__(name: str) -> Any:
    """`qwenvid.cli.app` is the app with every command (tests, completion, importers)."""
    global _full_app
    if name == "app":
        if _full_app is None:
            _full_app = build_app()
        return _full_app
    raise AttributeError(name)


def main() -> None:
    """Console-script entry point: run the app; anything that escapes it still gets one clean line."""
    # Shell completion needs every command; an ordinary run needs only the one it names.
    completing = any(key.startswith("_QWENVID_COMPLETE") for key in os.environ)
    args = hoist_global_options(sys.argv[1:])
    command = _command_in(args)
    app = build_app(None if completing else [command] if command else [])
    try:
        app(args=args, prog_name="qwenvid")
    except KeyboardInterrupt:
        sys.exit(int(ExitCode.INTERRUPTED))
    except Exception as exc:  # noqa: BLE001 - this is the last boundary before a raw traceback
        sys.exit(report_error(exc, Output(json="--json" in sys.argv, debug=_debug_requested(sys.argv))))
