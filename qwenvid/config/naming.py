"""The output name template (config `output_name`): how a downloaded video's file is named.

Fields: {date} (20260131), {time} (120501, UTC), {mode}, {model}, {task} (the task id's first 8
characters), {task_id}, {prompt} (its start). The default is the name qwenvid always used:
`{date}-{time}_{mode}_{model}_{task}_{prompt}`. The result is made a safe file name by the download
(no folders, no control characters), and never overwrites a file: a number is added instead.
"""

from __future__ import annotations

import string
from datetime import datetime

DEFAULT_TEMPLATE = "{date}-{time}_{mode}_{model}_{task}_{prompt}"
FIELDS = ("date", "time", "mode", "model", "task", "task_id", "prompt")


def template_problem(template: str) -> str | None:
    """Why `template` cannot name files (unknown field, bad braces), or None."""
    from qwenvid.suggest import did_you_mean

    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"is not a template ({exc}); write fields as {{model}}"
    names = [name for _text, name, _spec, _conv in parts if name is not None]
    for name in names:
        if name not in FIELDS:
            return f"has an unknown field {{{name}}}{did_you_mean(name, FIELDS)}; fields: " + ", ".join(
                "{" + field + "}" for field in FIELDS
            )
    if not names:
        return "has no field: every video would get the same name (add {task} or {prompt})"
    return None


def _after_stamp(values: dict[str, str]) -> tuple[str, ...]:
    return values["mode"], values["model"], values["task"], values["prompt"]


def render_name(
    template: str | None, *, created: datetime, mode: str | None, model: str | None, task_id: str, prompt: str | None
) -> str:
    """The name (before it is made file-safe) for one video."""
    values = {
        "date": created.strftime("%Y%m%d"),
        "time": created.strftime("%H%M%S"),
        "mode": mode or "",
        "model": model or "",
        "task": task_id[:8],
        "task_id": task_id,
        "prompt": prompt or "",
    }
    if not template:
        return "_".join(part for part in (f"{values['date']}-{values['time']}", *_after_stamp(values)) if part)
    return template.format(**values).strip("_- ") or values["task"]
