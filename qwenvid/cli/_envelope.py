"""The one JSON object `--json` prints for a run, a detach, a timeout, `status`, `fetch` and any error.

Every key is always present (null when unknown), so a script reads the same shape whatever happened:

    {"ok", "exit_code", "task_id", "status", "mode", "model", "video_path", "video_url", "usage",
     "request_id", "local_id", "billed_seconds", "sha256", "size", "actual_prompt", "sidecar_path",
     "error": null | {"type", "message", "hint", "code", "request_id", "task_id"}}

`status` adds "local" (the ledger row) and "remote" (the service's answer). README "For scripts" documents it.
"""

from __future__ import annotations

from typing import Any

RESULT_KEYS = (
    "task_id",
    "status",
    "mode",
    "model",
    "video_path",
    "video_url",
    "usage",
    "request_id",
    "local_id",
    "billed_seconds",
    "sha256",
    "size",
    "actual_prompt",
    "sidecar_path",
)


def envelope(
    result: dict[str, Any] | None = None,
    *,
    error: Any = None,
    exit_code: int = 0,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The object: `result` (a RunResult.to_json() or part of one), the error (a QwenvidError) if any."""
    result = result or {}
    data: dict[str, Any] = {"ok": error is None and exit_code == 0, "exit_code": exit_code}
    data |= {key: result.get(key) for key in RESULT_KEYS}
    if error is not None:
        details = error.to_dict() if hasattr(error, "to_dict") else {"error": type(error).__name__}
        data["task_id"] = data["task_id"] or details.get("task_id")
        data["request_id"] = data["request_id"] or details.get("request_id")
        data["status"] = data["status"] or getattr(error, "status", None)
        data["error"] = {
            "type": details.get("error"),
            "message": details.get("message", str(error)),
            "hint": details.get("hint"),
            "code": details.get("code"),
            "request_id": details.get("request_id"),
            "task_id": details.get("task_id"),
        }
    else:
        data["error"] = None
    if extra:
        data |= extra
    return data


def plain_error_envelope(kind: str, message: str, exit_code: int, hint: str | None = None) -> dict[str, Any]:
    """An outcome that is not a QwenvidError (a usage error, a declined question), in the same shape."""
    return envelope(error=_Plain({"error": kind, "message": message, "hint": hint}), exit_code=exit_code)


def usage_error_envelope(message: str) -> dict[str, Any]:
    """A command line Click could not parse (unknown option, bad value): exit 2, same shape."""
    return plain_error_envelope("UsageError", message, 2, "See --help.")


class _Plain:
    """An error that is only its dict (usage errors are Click's, not QwenvidErrors)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def to_dict(self) -> dict[str, Any]:
        return self.data
