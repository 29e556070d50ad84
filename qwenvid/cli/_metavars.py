"""Plain metavars in help (TEXT, PATH, SECONDS; none for flags) instead of Typer's Python type names."""

from __future__ import annotations

import typing
from typing import Any

# By parameter name first (units), then by the parameter's Python type. Flags show none.
_NAMED_METAVARS = {
    "duration": "SECONDS",
    "timeout": "SECONDS",
    "pending_seconds": "SECONDS",
    "running_seconds": "SECONDS",
    "output": "PATH",
    "file": "PATH",
    "prompt_file": "PATH",
    "size": "WIDTH*HEIGHT",
    "ratio": "W:H",
    "since": "DATE",
    "until": "DATE",
    "port": "PORT",
    "host": "HOST",
    "base_url": "URL",
    "region": "REGION",
    "model": "MODEL",
    "resolution": "TIER",
}
_TYPE_METAVARS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "Path": "PATH", "bool": ""}


def plain_metavars(command: Any, ctx: Any) -> Any:
    """Give every parameter of `command` a plain metavar (TEXT, PATH, SECONDS; none for flags), once.

    Typer's defaults are Python type names (`<str>`, `<bool>`, `<float range>`), which mean little to a user.
    """
    if command is None or getattr(command, "context_settings", {}).get("help_option_names") == []:
        return command  # a listed-only command (see _PASS_THROUGH): it has no help of its own
    for sub in getattr(command, "commands", {}).values():  # a sub-app (config, media): its commands too
        plain_metavars(sub, ctx)
    helper = command.get_help_option(ctx)
    for param in [*command.params, *([helper] if helper is not None else [])]:
        if param.param_type_name == "argument":
            # Typer shows an argument's Python type beside its name; its metavar already says what it is.
            setattr(param, "display_type_rich", lambda ctx: None)  # noqa: B010 - this instance only
        if param.metavar is not None:
            continue
        annotation = param.type_descriptor.annotation
        if typing.get_origin(annotation) is list:
            annotation = typing.get_args(annotation)[0]
        kind = getattr(annotation, "__name__", "")
        if kind == "bool" or getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.param_type_name == "argument":
            param.metavar = (param.name or "value").upper()
        else:
            param.metavar = _NAMED_METAVARS.get(param.name or "", _TYPE_METAVARS.get(kind, "TEXT"))
    return command
