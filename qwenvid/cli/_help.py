"""Help text pieces shared by the commands: the Examples epilog (a module of its own so help stays light)."""

from __future__ import annotations


def examples(*lines: str) -> str:
    """An Examples epilog; one command per line (Rich keeps the line breaks)."""
    return "[bold]Examples[/bold]\n\n" + "\n\n".join(f"  $ {line}" for line in lines)
