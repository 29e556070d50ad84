"""Every file qwenvid writes is private to the user from its first byte (0600, folders 0700): one rule.

State, downloads and their sidecars, plan folders and their outputs (media steps, `*.last-frame.png`,
`superseded/`, manifests, `plan-slots.lock`), media commands' outputs and the emulator's renders alike.
A qwenvid process (the console script, `qwenvid emulator`) runs with the umask 077 from its start
(`private_process`), so whatever writes a file — PyAV, Pillow, SQLite, shutil — creates it private; the
library's own writers (downloads, plans, media outputs, renders) narrow it with `private_umask()` too,
for programs that use qwenvid as a library.

Changing a mode after the file exists leaves a window in which anyone on the machine can read it, and
files created by other code (SQLite's -wal/-shm, a download's .part) are never chmod-ed at all. So
the mode is set at creation: `private_umask()` narrows the process umask to 077 while qwenvid writes,
and `private_dir()` / `create_private_file()` create with the right mode directly.
"""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PRIVATE_UMASK = 0o077

# The umask is process-wide: threads writing at the same time share one narrowed umask, and the
# old one comes back only when the last of them is done.
_lock = threading.Lock()
_depth = 0
_saved: int | None = None


def private_process() -> None:
    """The console script's first act: everything this process creates is private (umask 077, kept narrower)."""
    global _saved
    with _lock:
        old = os.umask(PRIVATE_UMASK)
        os.umask(old | PRIVATE_UMASK)
        if _saved is not None:  # inside a private_umask(): what it restores is private too
            _saved |= PRIVATE_UMASK


@contextmanager
def private_umask() -> Iterator[None]:
    """Everything created inside is at most 0600 (files) / 0700 (folders)."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = os.umask(PRIVATE_UMASK)
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                os.umask(_saved)
                _saved = None


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700; an existing state folder is narrowed to 0700 too."""
    with private_umask():
        path.mkdir(parents=True, exist_ok=True)
    _narrow(path, 0o700)
    return path


def create_private_file(path: Path) -> bool:
    """Create an empty 0600 file if none exists (True when created); an existing one is narrowed to 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        _narrow(path, 0o600)
        return False
    os.close(fd)
    return True


def narrow_existing(*paths: Path) -> None:
    """Repair files an older qwenvid left group- or world-readable (e.g. a ledger's -wal)."""
    for path in paths:
        _narrow(path, 0o600)


def _narrow(path: Path, mode: int) -> None:
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~mode:
            os.chmod(path, current & mode)
    except OSError:  # missing, or a file system without POSIX modes
        pass
