""""Did you mean …?" for a mistyped name: the closest known one, when it is close enough to be a typo."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def closest(word: str, known: Iterable[str], *, cutoff: float = 0.75) -> str | None:
    """The known name `word` is most likely a typo of, or None."""
    names = sorted({str(name) for name in known} - {word})  # the word itself is no suggestion
    lowered = {name.lower(): name for name in names}
    if word.lower() in lowered and word not in names:
        return lowered[word.lower()]  # only the case differs
    found = difflib.get_close_matches(word, names, n=1, cutoff=cutoff)
    return found[0] if found else None


def did_you_mean(word: str, known: Iterable[str], *, cutoff: float = 0.75) -> str:
    """` (did you mean 'x'?)` to append to a message about `word`, or ``."""
    match = closest(word, known, cutoff=cutoff)
    return f" (did you mean {match!r}?)" if match is not None else ""
