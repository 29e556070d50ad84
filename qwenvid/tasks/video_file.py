"""Whether a task's video is on disk: the file at the ledger's path is that video only if its sha256 says so.

A plan step edited and run again moves the old video into `superseded/` (named by its digest), and
`-o x.mp4 --overwrite` by another run replaces the file at a path a row still names. Saying "already
downloaded: x.mp4" then would point at another video. So the ledger's path is verified against the
ledger's sha256, followed into `superseded/` where qwenvid moves files, and forgotten when neither holds it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qwenvid.store.ledger import LedgerRow
    from qwenvid.store.seam import LedgerRows


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _holds(path: Path, sha256: str | None) -> bool:
    if not path.is_file():
        return False
    return sha256 is None or file_digest(path) == sha256


def superseded_name(path: Path, sha256: str) -> Path:
    """Where a plan rerun puts an older output it replaces (plans/backend.py `set_aside`)."""
    return path.parent / "superseded" / f"{path.stem}.{sha256[:8]}{path.suffix}"


def verified_video(ledger: LedgerRows, row: LedgerRow) -> Path | None:
    """The row's video on disk (its path updated if qwenvid moved it), or None (the row forgets a wrong path)."""
    if not row.video_path:
        return None
    path = Path(row.video_path)
    if _holds(path, row.video_sha256):
        return path
    if row.video_sha256:
        moved = superseded_name(path, row.video_sha256)
        if _holds(moved, row.video_sha256):
            ledger.set_video_path(row.id, moved)
            return moved
    ledger.set_video_path(row.id, None)  # gone, or another video now has its name
    return None
