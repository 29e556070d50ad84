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
