"""The exception tree: HTTP status + DashScope code → exception and exit code; secrets scrubbed from text."""

from __future__ import annotations

import pytest

from qwenvid import errors
from qwenvid.errors import ExitCode, error_for_status, register_secret, scrub, task_failure


@pytest.mark.parametrize(
    ("status", "code", "kind", "exit_code"),
    [
        (400, "InvalidParameter", errors.BadRequestError, ExitCode.USAGE),
        (400, "InvalidParameter.DataInspection", errors.BadRequestError, ExitCode.USAGE),
        (400, "DataInspectionFailed", errors.ModerationError, ExitCode.MODERATION),
        (400, "data_inspection_failed", errors.ModerationError, ExitCode.MODERATION),
        (400, "IPInfringementSuspect", errors.ModerationError, ExitCode.MODERATION),
        (400, "Arrearage", errors.QuotaError, ExitCode.THROTTLED),
        (403, "AllocationQuota.FreeTierOnly", errors.QuotaError, ExitCode.THROTTLED),
        (429, "Throttling.AllocationQuota", errors.QuotaError, ExitCode.THROTTLED),
        (400, "UnsupportedOperation", errors.BadRequestError, ExitCode.USAGE),
        (401, "InvalidApiKey", errors.AuthenticationError, ExitCode.AUTH),
        (401, "NOT AUTHORIZED", errors.AuthenticationError, ExitCode.AUTH),
        (403, "AccessDenied", errors.AuthenticationError, ExitCode.AUTH),
        (403, "AccessDenied.Unpurchased", errors.AuthenticationError, ExitCode.AUTH),
        (403, "Model.AccessDenied", errors.AuthenticationError, ExitCode.AUTH),
        (404, "ModelNotFound", errors.NotFoundError, ExitCode.ERROR),
        (429, "Throttling", errors.ThrottledError, ExitCode.THROTTLED),
        (429, "Throttling.RateQuota", errors.ThrottledError, ExitCode.THROTTLED),
        (429, "Throttling.BurstRate", errors.ThrottledError, ExitCode.THROTTLED),
        (429, "Throttling.Concurrency", errors.ThrottledError, ExitCode.THROTTLED),
        (500, "InternalError", errors.ServerError, ExitCode.ERROR),
        (500, "InternalError.Timeout", errors.ServerError, ExitCode.ERROR),
        (503, "ServiceUnavailable", errors.ServerError, ExitCode.ERROR),
        (502, None, errors.ServerError, ExitCode.ERROR),
    ],
)
def test_status_and_code_map_to_the_documented_exit_code(
    status: int, code: str | None, kind: type[errors.APIError], exit_code: ExitCode
) -> None:
    error = error_for_status(status, code, "some message", request_id="req-1", task_id="task-1", retry_after=3.0)
    assert type(error) is kind
    assert error.exit_code == exit_code
    assert error.status_code == status and error.code == (code or "Unknown")
    assert error.request_id == "req-1" and error.task_id == "task-1"
    assert error.message.startswith(f"{code or 'Unknown'}: some message")
    assert error.to_dict()["exit_code"] == int(exit_code)
    if isinstance(error, errors.ThrottledError):
        assert error.retry_after == 3.0
    if status < 500:
        assert error.hint  # every refusal says what to do next


@pytest.mark.parametrize(
    ("status", "code", "kind", "exit_code"),
    [
        ("FAILED", "InternalError.Algo", errors.TaskFailed, ExitCode.TASK_FAILED),
        ("FAILED", "DataInspectionFailed", errors.TaskModerated, ExitCode.MODERATION),
        ("CANCELED", None, errors.TaskFailed, ExitCode.TASK_FAILED),
        ("UNKNOWN", None, errors.TaskFailed, ExitCode.TASK_FAILED),
    ],
)
def test_task_failures(status: str, code: str | None, kind: type[errors.TaskFailed], exit_code: ExitCode) -> None:
    failure = task_failure(status, code, "why", task_id="t-1", request_id="r-1")
    assert type(failure) is kind and failure.exit_code == exit_code
    assert failure.status == status and failure.task_id == "t-1" and "t-1" in failure.message
    if status == "UNKNOWN":
        assert "expired" in failure.message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("key sk-abcdef123456 leaked", "key sk-*** leaked"),
        ("coding plan sk-sp-abcdef123456", "coding plan sk-sp-***"),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***"),
        ("nothing secret here", "nothing secret here"),
        ("short sk-abc stays", "short sk-abc stays"),
    ],
)
def test_scrub_removes_key_shaped_strings(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_registered_secrets_are_scrubbed_whatever_their_shape() -> None:
    register_secret("weird-token-Zq9")
    error = errors.QwenvidError("failed with weird-token-Zq9 inside", hint="retry weird-token-Zq9")
    assert "weird-token-Zq9" not in error.message and "weird-token-Zq9" not in (error.hint or "")
    assert "weird-token-Zq9" not in str(error.to_dict())
