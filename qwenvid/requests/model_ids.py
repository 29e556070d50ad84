"""The model-id rule (product.md §3.1): a typo of a known id is refused with "did you mean"; a far one passes."""

from __future__ import annotations

import re

from qwenvid.errors import ValidationError

# Set for each command by the CLI's global --allow-unknown-model (and by library callers who want it).
_ALLOW = {"unknown": False}
# An id this few edits from a known one is a typo, not a model the catalogue has not heard of.
TYPO_EDITS = 2


def allow_unknown_models(allow: bool) -> None:
    _ALLOW["unknown"] = allow


def edits(a: str, b: str) -> int:
    """Levenshtein distance, with a swap of two neighbours counting as one edit."""
    previous_row: list[int] | None = None
    row = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        before, row = row, [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            row[j] = min(before[j] + 1, row[j - 1] + 1, before[j - 1] + (char_a != char_b))
            if previous_row is not None and i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                row[j] = min(row[j], previous_row[j - 2] + 1)
        previous_row = before
    return row[-1]


def _shape(model_id: str) -> str:
    """The id with its version digits blanked: ids that differ only there are other versions, not typos."""
    return re.sub(r"\d", "#", model_id.lower())


def near_ids(model: str, known: list[str]) -> list[str]:
    """Known ids within TYPO_EDITS of `model`, nearest first; another version number (wan3.5-t2v beside
    wan2.6-t2v) is a model the catalogue may not know yet, not a typo."""
    wanted = model.strip().lower()
    scored = sorted((edits(wanted, candidate.lower()), candidate) for candidate in known)
    return [
        candidate
        for distance, candidate in scored
        if distance <= TYPO_EDITS and (_shape(candidate) != _shape(wanted) or candidate.lower() == wanted)
    ]


def unknown_model_warning(model: str, known: list[str], *, allow: bool | None = None) -> str:
    """The warning an unknown id passes with; a typo of a known id is refused (exit 2) unless allowed."""
    allowed = _ALLOW["unknown"] if allow is None else allow
    close = near_ids(model, known)
    if close and not allowed:
        suggestion = " or ".join(close[:2])
        raise ValidationError(
            f"unknown model {model!r}: did you mean {suggestion}?",
            field="--model",
            value=model,
            allowed=suggestion,
            hint="Check the id with `qwenvid models`; --allow-unknown-model sends it anyway.",
        )
    return f"unknown model {model!r} passed through unchecked (the catalogue may be behind)"
