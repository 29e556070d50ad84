"""Whether a new file can be made in a folder, found out by making (and removing) one."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def why_unwritable(folder: Path) -> str | None:
    """Why no file can be created in `folder` (the OS's reason), or None when one can.

    Asked by trying, not with os.access: that answers yes for root on /proc, /sys and read-only
    mounts, where the real write would then fail only after the work (or the payment) was done.
    """
    try:
        handle, name = tempfile.mkstemp(prefix=".qwenvid-check-", dir=folder)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(handle)
    with contextlib.suppress(OSError):
        os.unlink(name)
    return None


def why_unusable(folder: Path) -> str | None:
    """Why `folder` could not be created (if missing) and written, asked without creating it; None when it could.

    The nearest existing ancestor must be a folder a file can be made in (creating a sub-folder needs
    the same), so a run the user then declines leaves nothing behind.
    """
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    return why_unwritable(existing)
