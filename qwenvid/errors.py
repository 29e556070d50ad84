"""Exception tree for qwenvid; every error carries the exit code the CLI returns.

    QwenvidError                    exit 1   base; message, hint, code, request_id, task_id
    ├── ValidationError             exit 2   bad request or input, found before any spend
    ├── UsageError                  exit 2   the command line itself is wrong (unknown option, bad value)
    ├── ConfigError                 exit 2   bad configuration (unknown region, bad base URL)
    ├── LedgerError                 exit 1   the ledger file cannot be opened or read (damaged, unreadable)
    ├── ConfirmationRequired        exit 7   a confirmation was needed but there is no terminal
    ├── APIError                    exit 1   DashScope answered with an error (status_code, code)
    │   ├── BadRequestError         exit 2   400 InvalidParameter and kin: the server refused the request
    │   │   └── ModerationError     exit 10  DataInspectionFailed, IPInfringementSuspect
    │   ├── AuthenticationError     exit 3   401, 403 AccessDenied and kin (also no key set)
    │   ├── NotFoundError           exit 1   404
    │   ├── QuotaError              exit 4   Arrearage, free-tier quota exhausted
    │   ├── ThrottledError          exit 4   429 Throttling.* (retry_after)
    │   └── ServerError             exit 1   5xx
    ├── NetworkError                exit 6   the service could not be reached
    │   └── SubmitOutcomeUnknown    exit 6   the submit left but no answer came back: a task may exist
    ├── TaskFailed                  exit 8   the task ended FAILED, CANCELED or UNKNOWN (expired)
    │   └── TaskModerated           exit 10  ... because of content moderation
    ├── StillRunning                exit 5   the wait ended (timeout, detach) while the task runs on
    ├── DownloadError               exit 9   the task succeeded but the video could not be saved
    └── Interrupted                 exit 130 Ctrl-C during a wait; the task keeps running

Messages never contain the API key: `scrub` removes it (and anything shaped like a key)
from every string that comes from the server or from an exception chain.
"""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Any


class ExitCode(IntEnum):
    """The documented exit codes (product.md §3)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    AUTH = 3
    THROTTLED = 4
    STILL_RUNNING = 5
    NETWORK = 6
    CONFIRMATION_NEEDED = 7
    TASK_FAILED = 8
    DOWNLOAD_FAILED = 9
    MODERATION = 10
    INTERRUPTED = 130


# Codes DashScope uses for content moderation, at submit time or on a FAILED task.
MODERATION_CODES = frozenset(
    {
        "DataInspectionFailed",
        "data_inspection_failed",
        "IPInfringementSuspect",
        "DataInspection",
    }
)

# Anything that looks like a DashScope key: sk-..., sk-sp-..., or a Bearer token.
_KEY_PATTERN = re.compile(r"(sk-(?:sp-)?)[A-Za-z0-9_\-]{6,}|(Bearer\s+)[^\s\"',]+")
_registered_secrets: set[str] = set()
# A presigned OSS link (V4, as the SDK makes for uploads to your own bucket) is a secret (product.md §3.1):
# its query is masked wherever it shows, also in a process that never made the link.
PRESIGNED_PATTERN = re.compile(r"(\?)[^\s\"'<>]*?x-oss-signature[^\s\"'<>]*", re.IGNORECASE)
PRESIGNED_MASK = "<presigned, masked>"


def register_secret(secret: str | None) -> None:
    """Remember a secret so that `scrub` removes it wherever it appears."""
    if secret and len(secret) >= 4:
        _registered_secrets.add(secret)


def scrub(text: str) -> str:
    """Remove registered secrets and key-shaped strings from text meant for people or logs."""
    for secret in sorted(_registered_secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    text = PRESIGNED_PATTERN.sub(lambda m: m.group(1) + PRESIGNED_MASK, text)
    return _KEY_PATTERN.sub(lambda m: (m.group(1) or m.group(2)) + "***", text)


class QwenvidError(Exception):
    """Base of every error qwenvid raises on purpose."""

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        code: str | None = None,
        request_id: str | None = None,
        task_id: str | None = None,
    ) -> None:
        self.message = scrub(message)
        self.hint = scrub(hint) if hint else None
        self.code = code
        self.request_id = request_id
        self.task_id = task_id
        super().__init__(self.message)

    def to_dict(self) -> dict[str, object]:
        """A stable JSON shape for `--json` error output."""
        return {
            "error": type(self).__name__,
            "message": self.message,
            "hint": self.hint,
            "code": self.code,
            "request_id": self.request_id,
            "task_id": self.task_id,
            "exit_code": int(self.exit_code),
        }


class ValidationError(QwenvidError):
    """A request or an input file breaks the model's rules; nothing was sent."""

    exit_code = ExitCode.USAGE

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        value: object = None,
        allowed: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, code="InvalidParameter")
        self.field = field
        self.value = value
        self.allowed = allowed


class UsageError(QwenvidError):
    """The command line cannot be parsed: an unknown option, a value of the wrong kind, a missing argument."""

    exit_code = ExitCode.USAGE


class LedgerError(QwenvidError):
    """The ledger file cannot be used: not a SQLite database, damaged, unreadable or not writable."""


class ConfigError(QwenvidError):
    """The configuration cannot be used as it is."""

    exit_code = ExitCode.USAGE


class ConfirmationRequired(QwenvidError):
    """The run needs a yes from a person, and there is no terminal to ask on."""

    exit_code = ExitCode.CONFIRMATION_NEEDED


class APIError(QwenvidError):
    """DashScope answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        task_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, code=code, request_id=request_id, task_id=task_id)
        self.status_code = status_code


class BadRequestError(APIError):
    exit_code = ExitCode.USAGE


class ModerationError(BadRequestError):
    exit_code = ExitCode.MODERATION


class AuthenticationError(APIError):
    exit_code = ExitCode.AUTH


class NotFoundError(APIError):
    exit_code = ExitCode.ERROR


class QuotaError(APIError):
    exit_code = ExitCode.THROTTLED


class ThrottledError(APIError):
    exit_code = ExitCode.THROTTLED

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status_code: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        task_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(
            message, status_code=status_code, code=code, request_id=request_id, task_id=task_id, hint=hint
        )
        self.retry_after = retry_after


class ServerError(APIError):
    exit_code = ExitCode.ERROR


class NetworkError(QwenvidError):
    """The service could not be reached (DNS, refused, reset, timeout)."""

    exit_code = ExitCode.NETWORK


class SubmitOutcomeUnknown(NetworkError):
    """The submit request left, but no usable answer came back: a task may have been created."""


class TaskFailed(QwenvidError):
    """The task ended without a video: FAILED, CANCELED or UNKNOWN (expired or never existed)."""

    exit_code = ExitCode.TASK_FAILED

    def __init__(
        self,
        message: str,
        *,
        status: str,
        code: str | None = None,
        request_id: str | None = None,
        task_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint, code=code, request_id=request_id, task_id=task_id)
        self.status = status


class TaskModerated(TaskFailed):
    exit_code = ExitCode.MODERATION


class StillRunning(QwenvidError):
    """The wait ended while the task is still running; it is not lost."""

    exit_code = ExitCode.STILL_RUNNING


class NotSubmitted(QwenvidError):
    """The command ended before its submit left (a --timeout while waiting for a slot): nothing was created."""

    exit_code = ExitCode.STILL_RUNNING


class DownloadError(QwenvidError):
    """The task succeeded but its video could not be downloaded or verified."""

    exit_code = ExitCode.DOWNLOAD_FAILED


class Interrupted(QwenvidError):
    """Ctrl-C during a wait. The task keeps running on the server."""

    exit_code = ExitCode.INTERRUPTED


def error_for_status(
    status_code: int,
    code: str | None,
    message: str | None,
    *,
    request_id: str | None = None,
    task_id: str | None = None,
    retry_after: float | None = None,
) -> APIError:
    """Map an HTTP status and a DashScope `code` (dashscope-api.md §4.1) to the right exception."""
    code = code or "Unknown"
    full = f"{code}: {scrub(message or f'HTTP {status_code}')}"
    ids: dict[str, Any] = {"status_code": status_code, "code": code, "request_id": request_id, "task_id": task_id}
    if code in MODERATION_CODES:
        return ModerationError(full, hint="Change the prompt or the inputs; moderated requests are not billed.", **ids)
    if code == "Arrearage" or "AllocationQuota" in code:
        return QuotaError(full, hint="Check your account balance and quota in the Model Studio console.", **ids)
    if status_code == 429 or code.startswith("Throttling"):
        return ThrottledError(
            full, retry_after=retry_after, hint="DashScope throttles per account; wait a minute and retry.", **ids
        )
    if status_code in (401, 403) or code in ("InvalidApiKey", "NOT AUTHORIZED") or code.startswith("AccessDenied"):
        return AuthenticationError(
            full,
            hint="Check DASHSCOPE_API_KEY and that the key belongs to the region you call (qwenvid doctor).",
            **ids,
        )
    if status_code == 404:
        return NotFoundError(
            full, hint="Check the model id (`qwenvid models`), the region and the base URL (`qwenvid doctor`).", **ids
        )
    if status_code >= 500:
        return ServerError(full, **ids)
    if 400 <= status_code < 500:
        return BadRequestError(
            full,
            hint="DashScope refused the request, so nothing was created or billed; "
            "`qwenvid models` lists what each model accepts.",
            **ids,
        )
    return APIError(full, **ids)


def task_failure(
    status: str, code: str | None, message: str | None, *, task_id: str, request_id: str | None = None
) -> TaskFailed:
    """The exception for a task that ended without a video."""
    if status == "UNKNOWN":
        text = f"Task {task_id} is UNKNOWN: it expired (tasks are kept 24 h) or never existed."
    elif status == "CANCELED":
        text = f"Task {task_id} was canceled."
    else:
        text = f"Task {task_id} failed: {code or 'Unknown'}: {scrub(message or 'no reason given')}"
    cls = TaskModerated if code in MODERATION_CODES else TaskFailed
    return cls(text, status=status, code=code, task_id=task_id, request_id=request_id)
