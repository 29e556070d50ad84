"""The output sink: results (a path or JSON) on stdout, everything else on a stderr console."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qwenvid.errors import scrub

if TYPE_CHECKING:
    from rich.console import Console

# CSI / OSC / other escape sequences, then any remaining C0/C1 control character except tab and newline.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(text: object) -> str:
    """Text from a server or a file made safe for a terminal: no escape sequences, no secrets."""
    return scrub(_CONTROLS.sub("", _ESCAPES.sub("", str(text))))


def stderr_is_terminal() -> bool:
    """True when progress can be drawn live (a person is watching stderr)."""
    return sys.stderr.isatty() and os.environ.get("TERM") not in ("dumb", "unknown")


@dataclass
class Output:
    """Where every byte the CLI writes goes; configured once by the global options."""

    json: bool = False
    quiet: bool = False
    debug: bool = False
    _console: Console | None = field(default=None, repr=False)

    @property
    def console(self) -> Console:
        """The stderr console (Rich honours NO_COLOR and non-terminals by itself)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=True, highlight=False, soft_wrap=True)
        return self._console

    # -- stdout: results only ---------------------------------------------------------------
    def result(self, text: str) -> None:
        """One result line on stdout (a path, an id)."""
        sys.stdout.write(clean(text) + "\n")
        sys.stdout.flush()

    def result_json(self, data: Any) -> None:
        """One JSON document on stdout; keys keep their order so the shape stays stable."""
        # Written as it is encoded: a big plan's preview never exists as one more string in memory.
        for chunk in json.JSONEncoder(indent=2, ensure_ascii=False, default=str).iterencode(data):
            sys.stdout.write(chunk)
        sys.stdout.write("\n")
        sys.stdout.flush()

    def table(
        self,
        columns: list[str],
        rows: list[list[str]],
        *,
        keep_whole: Collection[str] = (),
        shorten: str | None = None,
        unbounded: bool = False,
        drop: Sequence[str] = (),
    ) -> None:
        """A listing on stdout: a Rich table for a person, tab-separated lines (never cut) for a pipe.

        Columns in `keep_whole` never wrap (ids, model names); the `shorten` column gives way first,
        cut at its start with an ellipsis, so that the end of a path (the file name) stays visible.
        `unbounded`: nothing gives way; one line per row however long (the terminal wraps it, not Rich).
        """
        cells = [[clean(cell) for cell in row] for row in rows]
        if not sys.stdout.isatty():
            for line in [columns, *cells]:
                sys.stdout.write("\t".join(line) + "\n")
            sys.stdout.flush()
            return
        from rich.console import Console
        from rich.table import Table

        console = Console(highlight=False)
        columns, cells, hidden = _narrow(columns, cells, drop, console.width, shorten)
        if shorten is not None and shorten in columns:
            cells = _shorten_column(columns, cells, shorten, console.width)
        if unbounded:
            console = Console(highlight=False, width=max(console.width, _natural_width(columns, cells)))
        table = Table(box=None, header_style="bold", pad_edge=False)
        for index, column in enumerate(columns):
            whole = unbounded or column in keep_whole or column == shorten
            # A wrapped cell breaks between words ("1:1/ 3:4"), never inside one: the column is as wide as its
            # longest word.
            table.add_column(column, no_wrap=whole, overflow="ellipsis" if whole else "fold",
                             min_width=None if whole else _longest_word(cells, index))  # fmt: skip
        for row in cells:
            table.add_row(*row, style=None)
        console.print(table)
        if hidden:
            self.info(f"({', '.join(hidden)} not shown: the terminal is too narrow; a pipe or --json has every column)")

    # -- stderr: everything else ------------------------------------------------------------
    def _plain(self, line: str) -> bool:
        """Write `line` as is when stderr is not a terminal (nothing to style there): no Rich to load."""
        if self._console is not None or sys.stderr.isatty() or os.environ.get("FORCE_COLOR"):
            return False
        sys.stderr.write(line + "\n")
        sys.stderr.flush()
        return True

    def info(self, text: str) -> None:
        """A line for people (suppressed by --quiet)."""
        if not self.quiet and not self._plain(clean(text)):
            self.console.print(clean(text), markup=False)

    def rich(self, renderable: Any) -> None:
        """A Rich renderable (table, panel) for people, on stderr."""
        if not self.quiet:
            self.console.print(renderable)

    def notice(self, text: str) -> None:
        """Something the user should read before money is spent; shown even with --json."""
        if not self.quiet and not self._plain(clean(text)):
            self.console.print(clean(text), markup=False, style="bold")

    def warning(self, text: str) -> None:
        if not self._plain("Warning: " + clean(text)):
            self.console.print("Warning: " + clean(text), markup=False, style="yellow")

    def error(self, text: str, hint: str | None = None) -> None:
        if not self._plain("Error: " + clean(text)):
            self.console.print("Error: " + clean(text), markup=False, style="red")
        if hint and not self._plain("Hint: " + clean(hint)):
            self.console.print("Hint: " + clean(hint), markup=False)


_COLUMN_GAP = 2  # Rich pads each cell by one space on either side; the outer edges are not padded


def _natural_width(columns: list[str], cells: list[list[str]]) -> int:
    """Width of a table whose cells never wrap."""
    widths = [max(len(column), *(len(row[i]) for row in cells)) for i, column in enumerate(columns)]
    return sum(widths) + _COLUMN_GAP * (len(columns) - 1)


def _longest_word(cells: list[list[str]], index: int) -> int:
    return min(24, max((len(word) for row in cells for word in row[index].split()), default=1))


def _narrow(
    columns: list[str], cells: list[list[str]], drop: Sequence[str], width: int, shorten: str | None
) -> tuple[list[str], list[list[str]], list[str]]:
    """Drop the `drop` columns, in that order, while the table's words cannot fit `width` side by side."""
    hidden: list[str] = []

    def needed() -> int:
        words = [len(column) for column in columns]
        for i, column in enumerate(columns):
            longest = 12 if column == shorten else max((len(w) for row in cells for w in row[i].split()), default=1)
            words[i] = max(words[i], min(24, longest))
        return sum(words) + _COLUMN_GAP * (len(columns) - 1)

    for name in drop:
        if needed() <= width or name not in columns:
            continue
        at = columns.index(name)
        columns = [c for i, c in enumerate(columns) if i != at]
        cells = [[c for i, c in enumerate(row) if i != at] for row in cells]
        hidden.append(name)
    return columns, cells, hidden


def _shorten_column(columns: list[str], cells: list[list[str]], name: str, width: int) -> list[list[str]]:
    """Cut the cells of column `name` at their start ("…/kitten.mp4") so that every row fits `width`."""
    index = columns.index(name)
    others = [column for i, column in enumerate(columns) if i != index]
    rest = [[cell for i, cell in enumerate(row) if i != index] for row in cells]
    room = max(width - _natural_width(others, rest) - _COLUMN_GAP, 12)

    def cut(cell: str) -> str:
        return "…" + cell[len(cell) - room + 1 :] if len(cell) > room else cell

    return [[cut(cell) if i == index else cell for i, cell in enumerate(row)] for row in cells]


class _ScrubbingFormatter(logging.Formatter):
    """Debug log lines pass through `clean` too: no key, no escape sequences, whatever a library logs."""

    def format(self, record: logging.LogRecord) -> str:
        return clean(super().format(record))


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at each record, not the stream of the moment it was made: while a live
    display runs, Rich puts a proxy there that prints above the display (a line past it would stay behind in
    the scrollback as a stale frame of the display)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:
        return sys.stderr


def enable_debug_logging() -> None:
    """--debug: qwenvid's and httpx's request logs on stderr (method, path, status, request id)."""
    handler = _CurrentStderr()
    handler.setFormatter(_ScrubbingFormatter("debug: %(name)s: %(message)s"))
    for name in ("qwenvid", "httpx"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        # Replace, not add: a second run in one process (tests, scripts) must not write to an old stream.
        for old in [h for h in logger.handlers if isinstance(h.formatter, _ScrubbingFormatter)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
