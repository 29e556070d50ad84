"""Your own OSS bucket through Alibaba's official `alibabacloud-oss-v2` SDK: put, head, presign, delete.

The SDK is the optional `oss` extra (`pip install 'qwenvid[oss]'`; `.[test]` installs it): imported
only when a bucket is used, and its absence is one line naming the extra (exit 2). Errors become
qwenvid's one-line errors with the bucket and the OSS code, never a credential: the messages are
written here, not copied from the SDK, and scrubbed anyway. A presigned link is a secret
(product.md §3.1): `errors.scrub` masks its query (`x-oss-signature…`) wherever text is shown or stored, so
the ledger keeps the object's address and never the link.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qwenvid.config.oss import OssSettings
from qwenvid.errors import (
    AuthenticationError,
    ConfigError,
    NetworkError,
    QwenvidError,
    ServerError,
    scrub,
)

EXTRA = "oss"
INSTALL_HINT = f"pip install 'qwenvid[{EXTRA}]'"
# OSS codes that mean the key pair is wrong (or lacks the bucket), not that the bucket is.
CREDENTIAL_CODES = frozenset({"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "RequestTimeTooSkewed"})
CONNECT_TIMEOUT = 10.0
READ_WRITE_TIMEOUT = 120.0


def load_sdk() -> Any:
    """The SDK module, or a one-line ConfigError (exit 2) naming the extra that brings it."""
    try:
        import alibabacloud_oss_v2 as sdk
    except ImportError:
        raise ConfigError(
            f"Uploads to your own OSS bucket need the `{EXTRA}` extra (Alibaba's alibabacloud-oss-v2 SDK): "
            f"{INSTALL_HINT}, or unset QWEN_TMP_OSS_BUCKET to use DashScope's temporary storage."
        ) from None
    return sdk


class BucketClient:
    """One bucket, one SDK client; thread-safe as the SDK's client is."""

    def __init__(self, settings: OssSettings) -> None:
        settings.require_usable()
        self.settings = settings
        self.bucket = settings.bucket
        sdk = self._sdk = load_sdk()
        config = sdk.config.load_default()
        config.credentials_provider = sdk.credentials.StaticCredentialsProvider(
            settings.access_key_id, settings.access_key_secret, settings.session_token
        )
        config.region = settings.region
        if settings.endpoint:
            config.endpoint = settings.endpoint
        config.connect_timeout = CONNECT_TIMEOUT
        config.readwrite_timeout = READ_WRITE_TIMEOUT
        self._client = sdk.Client(config)

    def put(self, path: Path, key: str, *, on_progress: Callable[[int, int], None] | None = None) -> None:
        """Upload a local file to `key` (streamed from disk; `on_progress(sent, total)` follows it)."""
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"

        def progress(_increment: int, transferred: int, total: int) -> None:
            if on_progress is not None:
                on_progress(transferred, total)

        with path.open("rb") as handle:
            request = self._sdk.PutObjectRequest(
                bucket=self.bucket, key=key, body=handle, content_type=content_type, progress_fn=progress
            )
            self._call(f"upload {path.name}", self._client.put_object, request)

    def exists(self, key: str) -> bool:
        """Whether `key` is still in the bucket (a lifecycle rule may have removed it)."""
        try:
            self._call("look up an upload", self._client.head_object,
                       self._sdk.HeadObjectRequest(bucket=self.bucket, key=key))
        except _Missing:
            return False
        return True

    def delete(self, key: str) -> None:
        self._call("delete a test object", self._client.delete_object,
                   self._sdk.DeleteObjectRequest(bucket=self.bucket, key=key))

    def put_bytes(self, key: str, data: bytes) -> None:
        self._call("write a test object", self._client.put_object,
                   self._sdk.PutObjectRequest(bucket=self.bucket, key=key, body=data, content_type="text/plain"))

    def presign_get(self, key: str, seconds: float) -> tuple[str, float]:
        """A presigned GET link for `key`, valid `seconds` from now (capped at 7 days): (link, epoch expiry)."""
        seconds = max(60.0, min(seconds, 7 * 24 * 3600.0 - 60.0))
        result = self._call("presign a link", self._client.presign,
                            self._sdk.GetObjectRequest(bucket=self.bucket, key=key),
                            expires=dt.timedelta(seconds=seconds))
        url = str(result.url)
        expiration = result.expiration or (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds))
        return url, expiration.timestamp()

    def close(self) -> None:
        pass  # the SDK's client keeps a requests session; nothing to release explicitly

    # -- errors ---------------------------------------------------------------------------------------

    def _call(self, action: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except self._sdk.exceptions.BaseError as exc:
            raise self._translate(action, exc) from None

    def _translate(self, action: str, exc: Exception) -> QwenvidError:
        sdk_errors = self._sdk.exceptions
        cause: Any = exc
        while isinstance(cause, sdk_errors.OperationError | sdk_errors.ResponseError | sdk_errors.RequestError):
            inner = cause.unwrap() if hasattr(cause, "unwrap") else None
            if inner is None or inner is cause:
                break
            cause = inner
        where = f"OSS bucket {self.bucket}"
        if isinstance(cause, sdk_errors.ServiceError):
            code, status = str(cause.code or "Error"), int(cause.status_code or 0)
            said = scrub(str(cause.message or "")).rstrip(".")
            if status == 404 and action == "look up an upload":
                return _Missing(code)
            if code in CREDENTIAL_CODES or status == 403:
                return AuthenticationError(
                    f"The {where} refused to {action}: {code} ({status}): {said}. Check the key pair from "
                    f"{self.settings.credentials_source} and its permission on the bucket.",
                    code=f"Oss{code}",
                )
            if code == "NoSuchBucket":
                return ConfigError(f"The {where} does not exist in region {self.settings.region} ({code}).")
            if status >= 500 or status in (0, 429):
                return ServerError(f"The {where} could not {action}: {code} ({status}): {said}.", code=f"Oss{code}")
            return ConfigError(f"The {where} refused to {action}: {code} ({status}): {said}.")
        if isinstance(cause, sdk_errors.CredentialsBaseError):
            return AuthenticationError(
                f"No usable OSS credentials to {action} at the {where}.", code="NoOssCredentials"
            )
        detail = scrub(type(cause).__name__)
        return NetworkError(
            f"Could not {action} at the {where} ({self.settings.endpoint or self.settings.region}): {detail}.",
            hint="Check the network and QWEN_TMP_OSS_ENDPOINT / QWEN_TMP_OSS_REGION.",
            code=detail,
        )


class _Missing(QwenvidError):
    """The object is not there (HEAD 404): not an error for `exists`."""
