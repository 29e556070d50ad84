"""A start-up turnstile: at most as many qwenvid runs get ready to submit at once as the machine has cores.

Twenty runs started together (a shell loop, `xargs -P`, a script) each spend ~0.25 s of CPU before
their submit (interpreter, Typer, the client). Sharing two cores, all twenty would reach their submit
at about the same time, ~2.5 s after launch, although only the first few can submit at once anyway
(qwenvid/store/pacing.py). Through this turnstile the first runs get the cores and submit within a fraction
of that; the rest start up one after another while those tasks render.

A ticket is an exclusive `flock` on one of N files (N = usable cores) in a private per-user folder, so
it is machine-wide, costs a few system calls when nobody else is starting, and is freed by the
kernel when its process ends however it ends. It is handed back as soon as the run is ready to
submit or asks a question (`leave`), and on its own after HOLD_MAX seconds in any case, so a run
held up elsewhere never holds the others back for long; nor does one wait more than WAIT_MAX.
Where `fcntl` is missing (Windows) or the folder cannot be made private, there is no turnstile.

    if startup_gate.wants_turn(sys.argv[1:]):   # qwenvid/__main__.py, before the CLI is even imported
        startup_gate.enter()                     # blocks while N others start up
    startup_gate.leave()                         # ready to submit, or about to ask the user something
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

# The longest a run waits for a ticket, and the longest it keeps one.
WAIT_MAX = 10.0
HOLD_MAX = 2.0
# How often a waiting run tries the tickets again.
RETRY = 0.01

# The commands that submit, and the global options that take a value (the word after them is no command
# name): the CLI's own tables say the same (tests/test_startup_gate.py keeps them equal), but this runs
# before the CLI and Typer are imported.
GENERATION_COMMANDS = frozenset({"t2v", "i2v", "kf2v", "r2v", "vace", "generate"})
VALUE_OPTIONS = frozenset({"--base-url", "--region", "--emulator-fault", "--workspace"})
_HELP = frozenset({"--help", "-h"})

_lock = threading.Lock()
_held: int | None = None  # the file descriptor whose flock is this process's ticket
_turns = [0]  # tickets taken so far in this process: a late timer leaves a later ticket alone


def wants_turn(argv: list[str]) -> bool:
    """Whether a command line runs a generation command (not its help, nor shell completion)."""
    if _HELP.intersection(argv) or any(key.startswith("_QWENVID_COMPLETE") for key in os.environ):
        return False
    words = iter(argv)
    for word in words:
        if word in VALUE_OPTIONS:
            next(words, None)
        elif not word.startswith("-"):
            return word in GENERATION_COMMANDS
    return False


def gate_folder() -> Path | None:
    """The private per-user folder of the ticket files, or None when there is no safe one."""
    try:
        uid = os.getuid()
    except AttributeError:  # pragma: no cover - Windows
        return None
    base = os.environ.get("XDG_RUNTIME_DIR") or os.environ.get("TMPDIR") or "/tmp"
    folder = Path(base) / f"qwenvid-{uid}-start"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    # Another user's folder (or a symlink planted in a shared /tmp) is not ours to lock in.
    if info.st_uid != uid or not folder.is_dir() or folder.is_symlink() or info.st_mode & 0o077:
        return None
    return folder


def usable_cores() -> int:
    """The cores this process may run on (a container's or `taskset`'s share, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def enter(
    *,
    tickets: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Take a start-up ticket, waiting while every one is taken (at most WAIT_MAX); True when one was taken."""
    global _held
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return False
    folder = gate_folder()
    if folder is None:
        return False
    count = max(1, tickets or usable_cores())
    try:
        fds = [os.open(folder / f"ticket-{index}", os.O_RDWR | os.O_CREAT, 0o600) for index in range(count)]
    except OSError:
        return False
    deadline = clock() + WAIT_MAX
    taken: int | None = None
    try:
        while taken is None:
            for fd in fds:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # another run holds this ticket
                except OSError:
                    return False  # no flock here (some network file systems): no turnstile
                taken = fd
                break
            if taken is None:
                if clock() >= deadline:
                    return False
                sleep(RETRY)
    finally:
        for fd in fds:
            if fd != taken:
                os.close(fd)
    with _lock:
        _held = taken
        turn = _turns[0] = _turns[0] + 1
    timer = threading.Timer(HOLD_MAX, _expire, (turn,))
    timer.daemon = True
    timer.start()
    return True


def leave() -> None:
    """Hand the ticket back (idempotent): this run is past its start-up, or waits for the user."""
    global _held
    with _lock:
        fd, _held = _held, None
    if fd is not None:
        os.close(fd)  # closing the descriptor releases its flock


def _expire(turn: int) -> None:
    """HOLD_MAX after a ticket was taken: hand it back if it is still that one."""
    if _turns[0] == turn:
        leave()


def holding() -> bool:
    """Whether this process holds a ticket now (tests)."""
    return _held is not None
