"""What leaves the machine: every local file a run will upload, said before the first upload (product.md §3.1).

Every front end shows these lines on stderr before anything is uploaded; a file whose earlier upload is
reused is listed as "reused, not uploaded" (pass `reused`: path -> the link already on the service).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Outbound:
    """One local file that leaves the machine: where it is, its size, and what it is sent as."""

    path: str
    size: int
    use: str  # "--image", "step 'b' (image)", ...
    via: str | None = None  # how its content leaves when it is not sent itself ("its last 3 s, through step 'x'")


def human_size(size: int) -> str:
    if size < 0:
        return "missing"
    if size < 1024:
        return f"{size} B"
    value = size / 1024
    for unit in ("KB", "MB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


def outbound_lines(items: Iterable[Outbound], reused: Mapping[str, str] | None = None) -> list[str]:
    """The listing: a head line, then one line per file (nothing when no local file leaves)."""
    items = list(items)
    if not items:
        return []
    reused = reused or {}
    sent = sum(1 for item in items if item.path not in reused)
    head = f"Uploads: {sent} local file{'s' if sent != 1 else ''} will leave this machine"
    head += " (to the service's temporary storage):" if sent else " (none; earlier uploads are reused):"
    lines = [head]
    for item in items:
        line = f"  {item.path} ({human_size(item.size)}) as {item.use}"
        if item.via:
            line += f", {item.via}"
        if item.path in reused:
            line += ": reused, not uploaded"
        lines.append(line)
    return lines


def request_outbound(local_inputs: Iterable[object]) -> list[Outbound]:
    """A single request's uploads (`LocalInput`s) as Outbound items."""
    return [
        Outbound(str(getattr(item, "path", "")), int(getattr(item, "size", -1)), str(getattr(item, "option", "")))
        for item in local_inputs
    ]
