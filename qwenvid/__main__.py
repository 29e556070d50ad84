"""`python -m qwenvid` runs the CLI."""

from qwenvid.cli import main

main()
