"""Shell completion of model ids and of the task ids in the local ledger."""

from __future__ import annotations

import sqlite3


def complete_model(incomplete: str) -> list[tuple[str, str]]:
    """Model ids from the catalogue, with their mode as the description."""
    from qwenvid.catalogue import MODELS

    return [(spec.id, f"{spec.mode}: {spec.summary}" if spec.summary else spec.mode)
            for spec in MODELS if spec.id.startswith(incomplete)]  # fmt: skip


def complete_task(incomplete: str) -> list[tuple[str, str]]:
    """Task ids (or local ids before there is one) from the ledger, newest first; nothing if it cannot be read."""
    from qwenvid.config import load_settings
    from qwenvid.errors import QwenvidError

    try:
        path = load_settings().ledger_path
        if not path.is_file():
            return []
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
        try:
            rows = conn.execute(
                "SELECT id, task_id, model, remote_status, local_state FROM tasks ORDER BY created_at DESC LIMIT 200"
            ).fetchall()
        finally:
            conn.close()
    except (QwenvidError, sqlite3.Error, OSError):  # completion must never print an error into the shell
        return []
    found: list[tuple[str, str]] = []
    for local_id, task_id, model, status, state in rows:
        ref = task_id or local_id
        if ref.startswith(incomplete):
            found.append((ref, f"{model or '?'} {status or state}"))
    return found
