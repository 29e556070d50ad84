"""The error boundary's helpers: machine errors retold, undecodable argv refused, a closed stdout pipe taken quietly."""

from __future__ import annotations

import os
import sys

from qwenvid.errors import QwenvidError, UsageError


def environment_error(exc: BaseException) -> QwenvidError | None:
    """An error the user's machine raised (a file system refusal, a damaged ledger) retold as a QwenvidError.

    Specific checks catch these earlier with better words; this is the net for a path nobody foresaw,
    so that what a user pointed qwenvid at never surfaces as `unexpected ...`.
    """
    sqlite3 = sys.modules.get("sqlite3")  # loaded only if the ledger was opened; otherwise not the cause
    if sqlite3 is not None and isinstance(exc, sqlite3.DatabaseError):
        from qwenvid.errors import LedgerError

        return LedgerError(
            f"The ledger database cannot be used: {exc}.",
            hint="`qwenvid doctor` checks it; move the file it names aside to start a new ledger.",
        )
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        return QwenvidError(
            f"{exc.filename}: {exc.strerror}.",
            hint="Check that the path exists and that you may read (or write) it.",
        )
    return None


def undecodable_argument(args: list[str]) -> UsageError | None:
    """A command-line word with bytes that are not UTF-8 (Python keeps them as lone surrogates): name it.

    Nothing downstream can send or store such text (JSON, HTTP, SQLite all refuse it), so it is refused
    here, once, for every command and option.
    """
    from qwenvid.requests.fields import text_problem

    for index, word in enumerate(args):
        problem = text_problem(word)
        if problem is None or "UTF-8" not in problem:
            continue
        before = args[index - 1] if index > 0 else ""
        what = f"The value of {before}" if before.startswith("-") and "=" not in before else f"Argument {index + 1}"
        try:
            shown = word.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:
            shown = word.encode("utf-8", "backslashreplace").decode("utf-8")
        return UsageError(
            f"{what} ({shown}) {problem}.",
            hint="Type it again, or check the terminal's encoding (locale); qwenvid reads and sends UTF-8.",
        )
    return None


def silence_stdout() -> None:
    """The reader of stdout went away (`qwenvid tasks | head -1`): drop the rest of the output quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (a test runner's buffer): nothing to redirect
        pass


def stdout_is_devnull() -> bool:
    """True when stdout is /dev/null (where `silence_stdout`, or Rich after a closed pipe, sends it)."""
    try:
        here, null = os.fstat(sys.stdout.fileno()), os.stat(os.devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (a test runner's buffer)
        return False
    return (here.st_dev, here.st_ino) == (null.st_dev, null.st_ino)
