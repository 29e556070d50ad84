"""`qwenvid open ID`: play a task's video (or show it in its folder) with the system's own viewer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from qwenvid.cli._help import examples
from qwenvid.cli._options import TaskRefArg
from qwenvid.cli._session import INJECTED, load_settings, state_of
from qwenvid.errors import QwenvidError, ValidationError

OPEN_EXAMPLES = examples("qwenvid open 0385dc79", "qwenvid open 0385dc79 --reveal", "qwenvid open 0385dc79 --json")


def system_launcher(target: Path) -> list[str]:
    """The command that opens `target` the way a double click would, on this platform."""
    if sys.platform == "darwin":
        return ["open", str(target)]
    if sys.platform.startswith("win"):
        return ["explorer", str(target)]
    for program in ("xdg-open", "gio"):
        found = shutil.which(program)
        if found:
            return [found, str(target)] if program == "xdg-open" else [found, "open", str(target)]
    raise QwenvidError(
        f"No program to open files with was found (xdg-open or gio); the file is {target}.",
        hint="Open it with your video player, or install xdg-utils.",
    )


def _launch(argv: list[str]) -> None:
    """Start the viewer and return at once: it is the user's program now, not a child to wait for."""
    subprocess.Popen(  # noqa: S603 - a fixed program name and our own file path
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def launcher() -> Callable[[list[str]], None]:
    """How the command is run; tests replace it (INJECTED["launcher"]) and never start a viewer."""
    injected = INJECTED.get("launcher")
    return injected if injected is not None else _launch


def open_(
    ctx: typer.Context,
    ref: TaskRefArg,
    reveal: Annotated[bool, typer.Option("--reveal", help="Open the folder that holds the video instead.")] = False,
) -> None:
    """Play or show a task's video (or a plan's folder) with the system's viewer."""
    from qwenvid.store.ledger import Ledger

    state = state_of(ctx)
    target = Path(ref)
    task_id = None
    if not target.exists():
        with Ledger(load_settings(state).ledger_path) as ledger:
            row = ledger.get(ref)
        if row is None:
            raise ValidationError(
                f"No task {ref!r} in the ledger, and no such file.", hint="`qwenvid tasks` lists your tasks."
            )
        task_id = row.task_id or row.id
        if not row.video_path:
            raise QwenvidError(
                f"Task {task_id} has no video on this machine yet.",
                hint=f"`qwenvid fetch {task_id}` downloads it (`qwenvid status {task_id}` says where it stands).",
            )
        target = Path(row.video_path)
        if not target.exists():
            raise QwenvidError(
                f"The video of task {task_id} is no longer at {target}.",
                hint=f"`qwenvid fetch {task_id}` downloads it again while its link lasts (24 h).",
            )
    opened = target.parent if reveal and target.is_file() else target
    argv = system_launcher(opened.resolve())
    launcher()(argv)
    if state.out.json:
        state.out.result_json({"task_id": task_id, "path": str(target), "opened": str(opened), "command": argv})
        return
    state.out.result(str(target))
    state.out.info(f"Opened {opened} with {os.path.basename(argv[0])}.")


def register(app: typer.Typer) -> None:
    app.command("open", epilog=OPEN_EXAMPLES)(open_)
