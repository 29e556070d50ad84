"""A plan's cast: steps whose prompt names a cast member (or that list `cast = [...]`) become reference steps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qwenvid.errors import ValidationError
from qwenvid.story.cast import Member, find_cast_dir, load_member, usable
from qwenvid.story.casting import cast_fields, named_in

# Defaults a reference step keeps from [defaults] / flags (sizes and models there are meant for other modes).
_KEPT_DEFAULTS = ("duration", "negative_prompt", "seed", "watermark")


def cast_steps(builder: Any, base_dir: Path) -> None:
    """Rewrite the builder's generation steps that show cast members; problems and notes go on the builder."""
    cast_dir = find_cast_dir(plan_dir=base_dir)
    loaded: dict[str, Member | None] = {}

    def member(name: str, sid: str) -> Member | None:
        if name not in loaded:
            try:
                if cast_dir is None:
                    raise ValidationError(
                        f"cast member {name!r}: no cast/ folder beside the plan or in the current folder's tree "
                        f"(add one with `qwenvid cast add {name} --image FILE`)"
                    )
                loaded[name] = usable(load_member(cast_dir, name))
            except ValidationError as exc:
                builder.problem(exc.message if not exc.hint else f"{exc.message} {exc.hint}", sid)
                loaded[name] = None
        return loaded[name]

    notes: list[str] = []
    for sid, step in list(builder.steps.items()):
        if step.kind != "generate" or step.hidden:
            continue
        own = builder.step_cast.get(sid)
        prompt = str(step.fields.get("prompt") or "")
        names = own if own is not None else named_in(prompt, builder.cast)
        if not names:
            continue
        members = [m for m in (member(n, sid) for n in names) if m is not None]
        if len(members) != len(names):
            continue
        table = builder.step_tables.get(sid, {})
        fields = {k: v for k, v in step.fields.items() if k in table or k in _KEPT_DEFAULTS or k == "seed"}
        model = table.get("model")
        try:
            casting = cast_fields(fields, members, model=str(model) if model else None)
        except ValidationError as exc:
            builder.problem(exc.message, sid)
            continue
        step.fields = casting.fields
        for member_ in members:
            for path in (*member_.images[:1], *([member_.voice] if member_.voice else [])):
                if str(path) not in builder.cast_files:
                    builder.cast_files.append(str(path))
        if not model and casting.model == "wan2.7-r2v" and not step.fields.get("resolution"):
            # Picked for a voice: 720P, not the model's 1080P default, so a story shot costs what the others do.
            step.fields["resolution"] = "720P"
        step.mode = "r2v"
        for notice in casting.notices:
            if notice.startswith("Cast "):
                notice = "Steps with cast members: " + notice.split(": ", 1)[1]
            if notice not in notes:
                notes.append(notice)
        if casting.prompt_sent != casting.prompt_written:
            notes.append(f"step {sid!r}: prompt as sent: {casting.prompt_sent}")
    builder.notes.extend(notes)
