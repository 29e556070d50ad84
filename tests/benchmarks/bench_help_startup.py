"""Start-up of `qwenvid --help`, `qwenvid models` and every `qwenvid COMMAND --help` against a bare Typer app
with the same commands and options (goal: every ratio <= 1.2).

Run: python tests/benchmarks/bench_help_startup.py [ROUNDS]
The bare app is generated from qwenvid's own app: the same command names, help texts, epilogs and,
for the app and every command, the same options and arguments (types, flags, help, metavars), with
bodies that do nothing. Each case starts a fresh interpreter the same way for both (`python -m
qwenvid ARGS` against `python -m bare_app ARGS`, so both load cached bytecode, as an installed
package does, even if this shell sets PYTHONDONTWRITEBYTECODE). The two alternate within every
round, so machine load hits both alike. Wall and CPU (user + system) medians are printed side by
side for every case; CPU time is the steadier figure on a busy machine.
"""

from __future__ import annotations

import inspect
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin, get_type_hints

GOAL = 1.2
# The fields of typer.Option / typer.Argument that change what help shows or how a value is parsed.
_INFO_FIELDS = ("help", "metavar", "show_default", "hidden", "rich_help_panel", "min", "max", "count")


def _type_source(hint: Any) -> str:
    """Source text for a parameter type (str, int, Path | None, list[str] | None, ...)."""
    text = hint.__name__ if isinstance(hint, type) and not get_args(hint) else repr(hint)
    return text.replace("pathlib.", "").replace("NoneType", "None")


def _info_source(info: Any) -> str:
    kind = "Argument" if type(info).__name__ == "ArgumentInfo" else "Option"
    decls = [info.default] if isinstance(info.default, str) and info.default.startswith("-") else []
    decls += list(info.param_decls or ())
    fields = [repr(decl) for decl in decls]
    fields += [f"{name}={value!r}" for name in _INFO_FIELDS
               if (value := getattr(info, name, None)) is not None and value is not False]
    return f"typer.{kind}({', '.join(fields)})"


def _signature_source(callback: Any) -> str:
    hints = get_type_hints(callback, include_extras=True)
    params = []
    for name, param in inspect.signature(callback).parameters.items():
        hint = hints[name]
        if get_origin(hint) is not Annotated:
            params.append(f"{name}: typer.Context")
            continue
        base, info = get_args(hint)[:2]
        default = "" if param.default is inspect.Parameter.empty else f" = {param.default!r}"
        params.append(f"{name}: Annotated[{_type_source(base)}, {_info_source(info)}]{default}")
    return ", ".join(params)


def bare_app_source() -> str:
    """A Typer app with qwenvid's commands, options, help and epilogs, and nothing behind them."""
    import typer

    from qwenvid.cli import app

    group = typer.main.get_command(app)
    lines = [
        "from __future__ import annotations",
        "from pathlib import Path",
        "from typing import Annotated",
        "import typer",
        f"app = typer.Typer(name='qwenvid', help={group.help!r}, epilog={group.epilog!r}, no_args_is_help=True,",
        "                  context_settings={'help_option_names': ['-h', '--help']})",
        "@app.callback()",
        f"def global_options({_signature_source(app.registered_callback.callback)}) -> None:",
        "    pass",
    ]
    lines += _commands_source("app", app, group)
    for sub in app.registered_groups:  # sub-apps such as `qwenvid media`, one level deep
        sub_group = group.commands[sub.name]  # type: ignore[attr-defined]
        variable = f"app_{sub.name}"
        lines += [
            f"{variable} = typer.Typer(name={sub.name!r}, help={sub_group.help!r}, epilog={sub_group.epilog!r},",
            "                  no_args_is_help=True, context_settings={'help_option_names': ['-h', '--help']})",
            f"app.add_typer({variable})",
            *_commands_source(variable, sub.typer_instance, sub_group),
        ]
    lines += ["if __name__ == '__main__':", "    app()"]
    return "\n".join(lines) + "\n"


def _commands_source(variable: str, typer_app: Any, group: Any) -> list[str]:
    lines = []
    for info in typer_app.registered_commands:
        name = info.name or info.callback.__name__.replace("_", "-")
        command = group.commands[name]
        lines += [
            f"@{variable}.command({name!r}, help={command.help!r}, epilog={command.epilog!r})",
            f"def command_{variable}_{name.replace('-', '_')}({_signature_source(info.callback)}) -> None:",
            "    pass",
        ]
    return lines


ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str], env: dict[str, str] = ENV) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run; CPU time (user + system) shrugs off the load of other programs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def cases() -> list[list[str]]:
    """`--help`, `models`, every command's `--help`, and every sub-app command's (`media info --help`, …)."""
    import typer

    from qwenvid.cli import COMMANDS, app

    group = typer.main.get_command(app)
    nested = [
        [name, sub, "--help"]
        for name, command in group.commands.items()  # type: ignore[attr-defined]
        for sub in getattr(command, "commands", {})
    ]
    return [["--help"], ["models"], *([name, "--help"] for name in COMMANDS), *nested]


def main(rounds: int = 7) -> dict[str, float]:
    """Print wall and CPU medians side by side; return the wall-time ratio of every case.

    Rounds are the outer loop: each round runs every case once for qwenvid and once for the bare app
    (in a random order within the pair), so a burst of load from other programs lands on many cases
    a little rather than on all the runs of one case. Medians over the rounds; the fastest wall time
    of each side is printed too, as the figure least touched by load.
    """
    import random

    ratios: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as folder:
        bare = Path(folder) / "bare_app.py"
        bare.write_text(bare_app_source(), encoding="utf-8")
        env = {**ENV, "PYTHONPATH": folder}
        subprocess.run([sys.executable, "-m", "bare_app", "t2v", "--help"], check=True, capture_output=True, env=env)
        all_cases = cases()
        argvs = {
            " ".join(args): ([sys.executable, "-m", "qwenvid", *args], [sys.executable, "-m", "bare_app", *args])
            for args in all_cases
        }
        for ours_argv, bare_argv in argvs.values():
            timed(ours_argv), timed(bare_argv, env)  # warm the file cache (and the bytecode) for both
        runs: dict[str, tuple[list[tuple[float, float]], list[tuple[float, float]]]] = {
            label: ([], []) for label in argvs
        }
        rng = random.Random(9)
        for _ in range(rounds):
            for label, (ours_argv, bare_argv) in argvs.items():
                pair = [(0, ours_argv, ENV), (1, bare_argv, env)]
                rng.shuffle(pair)
                for side, argv, environment in pair:
                    runs[label][side].append(timed(argv, environment))
        print(f"{rounds} rounds, every case in each, ms; medians unless marked; CPU = user + system time")
        print(f"{'qwenvid ...':22} {'wall':>6} {'bare':>6} {'ratio':>6}   {'min':>5} {'bare':>5} {'ratio':>6}   "
              f"{'CPU':>6} {'bare':>6} {'ratio':>6}")
        for label, (ours, theirs) in runs.items():
            wall = [statistics.median(run[0] for run in side) for side in (ours, theirs)]
            fastest = [min(run[0] for run in side) for side in (ours, theirs)]
            cpu = [statistics.median(run[1] for run in side) for side in (ours, theirs)]
            ratios[label] = wall[0] / wall[1]
            flag = "" if max(ratios[label], cpu[0] / cpu[1]) <= GOAL else "  > goal"
            print(f"{label:22} {wall[0] * 1000:6.0f} {wall[1] * 1000:6.0f} {ratios[label]:6.2f}   "
                  f"{fastest[0] * 1000:5.0f} {fastest[1] * 1000:5.0f} {fastest[0] / fastest[1]:6.2f}   "
                  f"{cpu[0] * 1000:6.0f} {cpu[1] * 1000:6.0f} {cpu[0] / cpu[1]:6.2f}{flag}")
    worst = max(ratios, key=ratios.__getitem__)
    print(f"worst wall ratio: {worst} {ratios[worst]:.2f} (goal <= {GOAL})")
    return ratios


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 7)
