"""Shell completion: model ids and the ledger's task ids, and --show/--install-completion that honour SHELL."""

from __future__ import annotations

from typing import Any

import typer


def complete_model(incomplete: str) -> list[tuple[str, str]]:
    """Model ids from the catalogue, with their mode as the description."""
    from qwenvid.catalogue import MODELS

    return [(spec.id, f"{spec.mode}: {spec.summary}" if spec.summary else spec.mode)
            for spec in MODELS if spec.id.startswith(incomplete)]  # fmt: skip


def complete_task(incomplete: str) -> list[tuple[str, str]]:
    """Task ids (or local ids before there is one) from the ledger, newest first; nothing if it cannot be read."""
    from qwenvid.config import load_settings
    from qwenvid.errors import QwenvidError
    from qwenvid.store.sqlite_store import recent_refs

    try:
        rows = recent_refs(load_settings().ledger_path)
    except (QwenvidError, OSError):  # completion must never print an error into the shell
        return []
    found: list[tuple[str, str]] = []
    for local_id, task_id, model, status, state in rows:
        ref = task_id or local_id
        if ref.startswith(incomplete):
            found.append((ref, f"{model or '?'} {status or state}"))
    return found


_SHELLS = ("bash", "zsh", "fish", "powershell", "pwsh")
_COMPLETION_OPTIONS = ("--show-completion", "--install-completion")
_DETECT = "auto"  # what a bare --show-completion means: the shell this runs in


def with_completion_shell(argv: list[str]) -> list[str]:
    """`--show-completion` with no SHELL after it gets `auto` (the parser needs a value to follow it)."""
    out: list[str] = []
    for index, word in enumerate(argv):
        out.append(word)
        following = argv[index + 1] if index + 1 < len(argv) else None
        if word in _COMPLETION_OPTIONS and (following is None or following.startswith("-")):
            out.append(_DETECT)
    return out


def completion_callback(ctx: typer.Context, param: Any, value: str | None) -> None:
    """--show-completion / --install-completion with the shell the user named (Typer's own ignores it)."""
    if value is None or ctx.resilient_parsing:
        return
    from typer import completion

    value = "" if value == _DETECT else value
    if value and value.lower() not in _SHELLS:
        raise typer.BadParameter(f"{value!r} is not a shell qwenvid completes; use one of {', '.join(_SHELLS)}.")
    completion.completion_init()
    run = completion.show_callback if param.name == "show_completion" else completion.install_callback
    run(ctx, param, value.lower() if value else True)  # True: detect the running shell
