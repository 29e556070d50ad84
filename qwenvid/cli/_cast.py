"""One-liners with --cast: load the named characters and turn the request into a reference request."""

from __future__ import annotations

import dataclasses
from typing import Any

from qwenvid.cli._output import Output


def with_cast(out: Output, request: Any, names: list[str] | None, *, model: str | None) -> Any:
    """The request with the cast's references and the model's reference words (prompt as sent shown)."""
    if not names:
        return request
    from qwenvid.errors import ValidationError
    from qwenvid.requests.shapes import R2VRequest
    from qwenvid.story.cast import find_cast_dir, load_member, usable
    from qwenvid.story.casting import cast_fields

    cast_dir = find_cast_dir()
    if cast_dir is None:
        raise ValidationError(
            "--cast: no cast/ folder here or in any parent folder.",
            field="cast",
            hint=f"Add a character first: `qwenvid cast add {names[0]} --image FILE`.",
        )
    seen: list[str] = []
    for name in names:
        if name not in seen:
            seen.append(name)
    members = [usable(load_member(cast_dir, name)) for name in seen]
    fields = {f.name: getattr(request, f.name) for f in dataclasses.fields(request)}
    given = {k: v for k, v in fields.items() if v not in (None, [], "")}
    casting = cast_fields(given, members, model=model)
    r2v_names = {f.name for f in dataclasses.fields(R2VRequest)}
    dropped = sorted(k for k in casting.fields if k not in r2v_names)
    if dropped:
        raise ValidationError(
            f"{', '.join('--' + d.replace('_', '-') for d in dropped)} cannot be used with --cast "
            f"(a reference request on {casting.model}).",
            field=dropped[0],
        )
    for notice in casting.notices:
        out.notice(notice)
    out.info(f"Prompt as sent: {casting.prompt_sent}")
    return R2VRequest(**casting.fields)
