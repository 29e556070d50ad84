"""The `qwenvid` console script and `python -m qwenvid`: a start-up turn for a generation command, then the CLI."""

from __future__ import annotations

import sys


def main() -> None:
    """Take a start-up turn before Typer and the client load (qwenvid/store/startup_gate.py), then run the CLI."""
    from qwenvid.privacy import private_process
    from qwenvid.store import startup_gate

    private_process()  # every file this process writes is private from its first byte (qwenvid/privacy.py)
    if startup_gate.wants_turn(sys.argv[1:]):
        startup_gate.enter()
    from qwenvid.cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
