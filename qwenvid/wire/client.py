"""DashScope native async API client: submit, query, cancel, list and temporary uploads, on httpx.

Retry rules (product.md §4, "never billed twice"):

* the submit POST is retried only when the request certainly created nothing — the connection was
  never established (connect error or timeout, no pooled connection free) or DashScope answered 429.
  Any failure after the request may have left (read timeout, dropped connection, 5xx, a 200 without a
  task id) raises `SubmitOutcomeUnknown`; the ledger then reconciles through the account task list.
* queries (task, list, upload policy) are retried on transport errors, 429 and 500/502/503/504 with
  exponential backoff, jitter and Retry-After, and all of them share one token bucket that keeps the
  client under the account-wide query limit however many tasks are in flight.
* POSTs (submit, cancel) always use a fresh connection, so a connect error really means "not sent"
  and never "a pooled connection the server had just closed".

The key only ever travels in the Authorization header of requests to the API base URL: uploads go to
the OSS host and downloads to signed result URLs without it.
"""

from __future__ import annotations

import functools
import json
import logging
import mimetypes
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, BinaryIO, TypeVar, cast
from urllib.parse import urlsplit

import httpx

from qwenvid import __version__
from qwenvid.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    NetworkError,
    ServerError,
    SubmitOutcomeUnknown,
    ValidationError,
    error_for_status,
    register_secret,
    scrub,
)
from qwenvid.wire.deadlines import bounded_transport, expired, shielded
from qwenvid.wire.http import (
    RETRYABLE_STATUSES,
    RateLimiter,
    RetryPolicy,
    clean_server_text,
    error_body,
    is_permanent,
    parse_retry_after,
    raise_for_response,
    send_bounded,
)

log = logging.getLogger("qwenvid.wire.client")

T = TypeVar("T")

SUBMIT_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=10.0)
QUERY_TIMEOUT = httpx.Timeout(connect=10.0, read=30.0, write=30.0, pool=10.0)
UPLOAD_TIMEOUT = httpx.Timeout(connect=10.0, read=120.0, write=120.0, pool=10.0)
DOWNLOAD_TIMEOUT = httpx.Timeout(connect=10.0, read=60.0, write=30.0, pool=10.0)
# Overall deadlines per request (httpx's timeouts above bound each read or write, not the whole exchange).
SUBMIT_DEADLINE = 120.0
QUERY_DEADLINE = 60.0
UPLOAD_DEADLINE = 120.0
UPLOAD_MIN_RATE = 64 * 1024  # bytes/s: an upload may take UPLOAD_DEADLINE + size / this

TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"})
# The list API refuses windows longer than 24 h (dashscope-api.md §1.3).
LIST_WINDOW = timedelta(hours=24)
# The list API's YYYYMMDDhhmmss times are read in server time; Beijing and Singapore are both UTC+8.
# INFERRED from the Beijing-time examples in §3.2; naive datetimes are sent as they are.
SERVER_TZ = timezone(timedelta(hours=8), "UTC+8")

# Transport failures that prove the request never reached the server.
_NEVER_SENT: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


# The package's own version string: asking importlib.metadata costs ~0.1 s of start-up on every run.
USER_AGENT = f"qwenvid/{__version__}"


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context for every client in the process: each new one costs ~30 ms to load the CAs."""
    return httpx.create_ssl_context()


@dataclass(frozen=True)
class SubmitResult:
    """What the submit POST answered (§3.1)."""

    task_id: str
    task_status: str
    request_id: str | None


@dataclass(frozen=True)
class TaskInfo:
    """One `GET /tasks/{id}` answer (§3.2). Times are the server's strings (`YYYY-MM-DD HH:mm:ss.SSS`)."""

    task_id: str
    status: str
    submit_time: str | None = None
    scheduled_time: str | None = None
    end_time: str | None = None
    video_url: str | None = None
    orig_prompt: str | None = None
    actual_prompt: str | None = None
    code: str | None = None
    message: str | None = None
    usage: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    task_metrics: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class RemoteTask:
    """One entry of the account task list (§3.3); times there are epoch milliseconds."""

    task_id: str
    status: str
    model_name: str | None
    gmt_create: datetime | None
    end_time: datetime | None
    request_id: str | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class TaskPage:
    """One page of `GET /tasks`."""

    total: int
    total_page: int
    page_no: int
    page_size: int
    items: list[RemoteTask]
    request_id: str | None = None


@dataclass(frozen=True)
class UploadPolicy:
    """The temporary-storage policy (`GET /uploads?action=getPolicy`, §1.4)."""

    policy: str
    signature: str
    upload_dir: str
    upload_host: str
    oss_access_key_id: str
    object_acl: str = "private"
    forbid_overwrite: str = "true"
    max_file_size_mb: float | None = None


class DashScopeClient:
    """A thread-safe client for DashScope's asynchronous video API; use one for many tasks in flight."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str,
        *,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        query_qps: float = 15.0,
    ) -> None:
        register_secret(api_key)
        self._api_key = api_key or None
        self.base_url = base_url.rstrip("/")
        self._retry = retry or RetryPolicy()
        self._sleep = sleep
        self._limiter = RateLimiter(query_qps, clock=clock, sleep=sleep)
        self._transport = _SharedTransport(transport) if transport is not None else None
        common: dict[str, Any] = {
            "base_url": self.base_url,
            "headers": {"User-Agent": USER_AGENT, "Accept": "application/json"},
            "follow_redirects": False,
        }
        self._queries = httpx.Client(timeout=QUERY_TIMEOUT, transport=self._transport or _TransportByScheme(),
                                     **common)
        # POSTs get a fresh connection each time: a connect error then proves nothing was sent.
        posts_transport = self._transport or _TransportByScheme(limits=httpx.Limits(max_keepalive_connections=0))
        self._posts = httpx.Client(timeout=SUBMIT_TIMEOUT, transport=posts_transport, **common)
        self._closed = threading.Event()

    def __repr__(self) -> str:
        return f"DashScopeClient(base_url={self.base_url!r})"

    # -- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._queries.close()
            self._posts.close()
            if self._transport is not None:
                self._transport.inner.close()

    def __enter__(self) -> DashScopeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def http_for_downloads(self) -> httpx.Client:
        """An httpx client for signed result URLs: no Authorization header, redirects followed, TLS verified.

        The caller closes it. An injected transport serves it too (tests, in-process emulator).
        """
        return httpx.Client(
            headers={"User-Agent": USER_AGENT},
            timeout=DOWNLOAD_TIMEOUT,
            follow_redirects=True,
            transport=self._transport or _TransportByScheme(),
        )

    # -- submit -----------------------------------------------------------------------------------

    def submit(
        self,
        endpoint_path: str,
        body: dict[str, Any],
        *,
        oss_resolve: bool = False,
        on_retry: Callable[[float], None] | None = None,
    ) -> SubmitResult:
        """Create a task. Retried only when nothing can have been created; see the module docstring.

        `on_retry(delay)` replaces the pause before a retry (a 429, or a request that never connected):
        the caller waits `delay` seconds itself, knowing no task exists meanwhile (qwenvid/tasks/submit.py).
        """
        pause = self._sleep if on_retry is None else on_retry
        headers = self._auth_headers({"Content-Type": "application/json", "X-DashScope-Async": "enable"})
        if oss_resolve:
            headers["X-DashScope-OssResourceResolve"] = "enable"
        content = json.dumps(body, ensure_ascii=False).encode("utf-8")
        attempt = 0
        while True:
            try:
                with shielded(SUBMIT_DEADLINE):  # never cut by a command's --timeout: see deadlines.shielded
                    response = send_bounded(
                        self._posts, "POST", endpoint_path, budget=SUBMIT_DEADLINE, content=content, headers=headers
                    )
            except _NEVER_SENT as exc:
                if self._retry.gives_up(attempt, exc):
                    raise self._network_error("submit the task", exc, attempt) from exc
                pause(self._retry.delay(attempt))
                attempt += 1
                continue
            except httpx.HTTPError as exc:
                raise _outcome_unknown(f"{type(exc).__name__}: {exc}", code=type(exc).__name__) from exc
            self._log(response)
            # After a 429 nothing was created: retry, but not past the command's deadline.
            if response.status_code == 429 and attempt < self._retry.max_retries and not expired():
                pause(self._retry.delay(attempt, parse_retry_after(response.headers)))
                attempt += 1
                continue
            if response.status_code >= 500:
                code, message, request_id = error_body(response)
                raise _outcome_unknown(
                    f"HTTP {response.status_code} {code or ''}: {message or ''}".strip(),
                    code=code,
                    request_id=request_id,
                )
            self._raise_for(response)
            return _parse_submit(response)

    # -- queries ----------------------------------------------------------------------------------

    def get_task(self, task_id: str) -> TaskInfo:
        """The task's current state; retried with backoff, jitter and Retry-After."""
        return self._get(f"/tasks/{_path_id(task_id)}", None, _parse_task, task_id=task_id)

    def list_tasks(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        model: str | None = None,
        status: str | None = None,
        page_no: int = 1,
        page_size: int = 10,
        task_id: str | None = None,
    ) -> TaskPage:
        """One page of the account task list; the window may not exceed 24 h (the server's default is the last 24 h)."""
        if start is not None and end is not None:
            if end < start:
                raise ValidationError("The list window ends before it starts.", field="end")
            if end - start > LIST_WINDOW:
                raise ValidationError(
                    "DashScope lists at most 24 hours at a time; use iter_tasks() for longer windows.", field="start"
                )
        params: dict[str, str | int] = {"page_no": page_no, "page_size": page_size}
        optional = {
            "start_time": format_list_time(start) if start else None,
            "end_time": format_list_time(end) if end else None,
            "model_name": model,
            "status": status,
            "task_id": task_id,
        }
        params.update({name: value for name, value in optional.items() if value})
        return self._get("/tasks", params, _parse_page)

    def iter_tasks(
        self,
        *,
        start: datetime,
        end: datetime,
        model: str | None = None,
        status: str | None = None,
        page_size: int = 10,
    ) -> Iterator[RemoteTask]:
        """Every task in [start, end], walking 24 h windows and all their pages; each task once."""
        seen: set[str] = set()
        window_start = start
        while window_start < end:
            window_end = min(window_start + LIST_WINDOW, end)
            page_no = 1
            while True:
                page = self.list_tasks(
                    start=window_start, end=window_end, model=model, status=status, page_no=page_no, page_size=page_size
                )
                for item in page.items:
                    if item.task_id not in seen:
                        seen.add(item.task_id)
                        yield item
                if not page.items or page_no >= page.total_page:
                    break
                page_no += 1
            window_start = window_end

    # -- cancel -----------------------------------------------------------------------------------

    def cancel(self, task_id: str) -> str:
        """Cancel a PENDING task; returns the request id. Retried only when the request never left (or on 429)."""
        path = f"/tasks/{_path_id(task_id)}/cancel"
        attempt = 0
        while True:
            self._limiter.acquire()
            try:
                response = send_bounded(
                    self._posts, "POST", path, budget=QUERY_DEADLINE, content=b"", headers=self._auth_headers(),
                    timeout=QUERY_TIMEOUT,
                )
            except _NEVER_SENT as exc:
                if attempt >= self._retry.max_retries or self._retry.gives_up(attempt, exc):
                    raise self._network_error("cancel the task", exc, attempt, task_id=task_id) from exc
                self._sleep(self._retry.delay(attempt))
                attempt += 1
                continue
            except httpx.HTTPError as exc:
                raise NetworkError(
                    f"The cancel request for task {task_id} got no answer ({type(exc).__name__}).",
                    hint=f"It may or may not have arrived: check with `qwenvid status {task_id}`.",
                    task_id=task_id,
                ) from exc
            self._log(response)
            if response.status_code == 429 and attempt < self._retry.max_retries and not expired():
                self._sleep(self._retry.delay(attempt, parse_retry_after(response.headers)))
                attempt += 1
                continue
            try:
                self._raise_for(response, task_id=task_id)
            except BadRequestError as exc:
                if exc.code == "UnsupportedOperation":
                    exc.hint = (
                        f"Only PENDING tasks can be canceled; task {task_id} has already started or finished "
                        f"(see `qwenvid status {task_id}`)."
                    )
                raise
            return _request_id(response) or ""

    # -- uploads ----------------------------------------------------------------------------------

    def get_upload_policy(self, model: str) -> UploadPolicy:
        """A temporary-storage policy for files that `model` will read (§1.4 step 1)."""
        return self._get("/uploads", {"action": "getPolicy", "model": model}, _parse_policy)

    def upload_file(
        self, path: Path | str, model: str, *, on_progress: Callable[[int, int], None] | None = None
    ) -> str:
        """Upload a local file to DashScope's temporary storage and return its `oss://` URL.

        The file is streamed from disk in the multipart form (never read whole into memory), and
        `on_progress(sent, total)` follows the bytes. The OSS host never sees the API key.
        """
        path = Path(path)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ValidationError(f"Cannot read {path}: {exc.strerror}", field="file", value=str(path)) from None
        policy = self.get_upload_policy(model)
        if policy.max_file_size_mb is not None and size > policy.max_file_size_mb * 1024 * 1024:
            raise ValidationError(
                f"{path.name} is {size / 1048576:.1f} MB; "
                f"temporary storage takes at most {policy.max_file_size_mb:g} MB.",
                field="file",
                value=str(path),
            )
        key = f"{policy.upload_dir}/{path.name}"
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        fields = {
            "OSSAccessKeyId": policy.oss_access_key_id,
            "Signature": policy.signature,
            "policy": policy.policy,
            "key": key,
            "x-oss-object-acl": policy.object_acl,
            "x-oss-forbid-overwrite": policy.forbid_overwrite,
            "success_action_status": "200",
            "x-oss-content-type": content_type,
        }
        attempt = 0
        while True:
            with path.open("rb") as handle:
                reader = _ProgressReader(handle, size, on_progress)
                try:
                    # Deliberately no Authorization header: OSS authenticates the form by its policy signature.
                    response = send_bounded(
                        self._queries,
                        "POST",
                        policy.upload_host,
                        budget=UPLOAD_DEADLINE + size / UPLOAD_MIN_RATE,
                        data=fields,
                        files={"file": (path.name, cast(IO[bytes], reader), content_type)},
                        headers={"Accept": "*/*"},
                        timeout=UPLOAD_TIMEOUT,
                    )
                except httpx.HTTPError as exc:
                    if (
                        attempt >= self._retry.max_retries
                        or is_permanent(exc)
                        or expired()
                        or not isinstance(exc, httpx.TransportError)
                    ):
                        raise self._network_error(f"upload {path.name}", exc, attempt) from exc
                    self._sleep(self._retry.delay(attempt))
                    attempt += 1
                    continue
            self._log(response)
            if response.status_code in RETRYABLE_STATUSES and attempt < self._retry.max_retries and not expired():
                self._sleep(self._retry.delay(attempt, parse_retry_after(response.headers)))
                attempt += 1
                continue
            if response.status_code == 200 or (attempt > 0 and _oss_code(response) == "FileAlreadyExists"):
                # FileAlreadyExists after a retry: the earlier attempt landed before its answer was lost.
                return f"oss://{key}"
            raise _oss_error(response, path.name)

    # -- internals --------------------------------------------------------------------------------

    def _auth_headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        return headers

    def _get(
        self,
        path: str,
        params: dict[str, str | int] | None,
        parse: Callable[[dict[str, Any]], T],
        *,
        task_id: str | None = None,
    ) -> T:
        """GET with retries on transport errors, 429, 5xx and malformed answers; paced by the rate limiter."""
        attempt = 0
        while True:
            self._limiter.acquire()
            try:
                response = send_bounded(
                    self._queries, "GET", path, budget=QUERY_DEADLINE, params=params, headers=self._auth_headers()
                )
            except httpx.HTTPError as exc:
                if self._retry.gives_up(attempt, exc):
                    raise self._network_error("query DashScope", exc, attempt, task_id=task_id) from exc
                self._sleep(self._retry.delay(attempt))
                attempt += 1
                continue
            self._log(response)
            if response.status_code in RETRYABLE_STATUSES and attempt < self._retry.max_retries and not expired():
                self._sleep(self._retry.delay(attempt, parse_retry_after(response.headers)))
                attempt += 1
                continue
            self._raise_for(response, task_id=task_id)
            try:
                return parse(response.json())
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                if attempt >= self._retry.max_retries:
                    raise ServerError(
                        f"DashScope answered {path} with a body qwenvid cannot read: {exc}",
                        status_code=response.status_code,
                        code="MalformedResponse",
                        request_id=_request_id(response),
                        task_id=task_id,
                    ) from None
                self._sleep(self._retry.delay(attempt))
                attempt += 1

    def _raise_for(self, response: httpx.Response, *, task_id: str | None = None) -> None:
        try:
            raise_for_response(response, task_id=task_id)
        except AuthenticationError as exc:
            if self._api_key and self._api_key.startswith("sk-sp-"):
                exc.hint = (
                    "This is a Coding Plan key (sk-sp-...), which the video API does not accept; "
                    "use a standard key from the Model Studio console."
                )
            raise

    def _network_error(self, action: str, exc: Exception, attempt: int, *, task_id: str | None = None) -> NetworkError:
        host = urlsplit(self.base_url).netloc
        tries = f" after {attempt + 1} attempts" if attempt else ""
        return NetworkError(
            f"Could not {action} at {host}{tries}: {type(exc).__name__}: {scrub(str(exc)) or 'no details'}",
            hint=_network_hint(exc),
            code=type(exc).__name__,
            task_id=task_id,
        )

    @staticmethod
    def _log(response: httpx.Response) -> None:
        request = response.request
        log.debug(
            "%s %s -> %s (request_id=%s)", request.method, request.url.path, response.status_code, _request_id(response)
        )


class _TransportByScheme(httpx.BaseTransport):
    """httpx's own transport (with the command's deadline, `bounded_transport`), built on first use per URL scheme.

    Every https request is verified with `tls_context()`; plain-http use (the local emulator) never
    pays for loading the CA bundle. The http transport gets a context without CA certificates, which
    would refuse any certificate, but plain http never reaches it.
    """

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._lock = threading.Lock()
        self._by_scheme: dict[str, httpx.HTTPTransport] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.transport_for(request.url.scheme).handle_request(request)

    def transport_for(self, scheme: str) -> httpx.HTTPTransport:
        with self._lock:
            transport = self._by_scheme.get(scheme)
            if transport is None:
                verify = tls_context() if scheme == "https" else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                transport = self._by_scheme[scheme] = bounded_transport(verify=verify, **self._options)
            return transport

    def close(self) -> None:
        with self._lock:
            transports, self._by_scheme = list(self._by_scheme.values()), {}
        for transport in transports:
            transport.close()


def _network_hint(exc: Exception) -> str:
    if is_permanent(exc):  # the server answered, but not with anything usable: waiting will not help
        return "Check that QWEN_BASE_URL (or QWEN_REGION) points at DashScope; `qwenvid doctor` tests it."
    if expired():
        return "The command's --timeout ran out; run it again with a longer one."
    return "Check the network, the region (QWEN_REGION) or QWEN_BASE_URL; `qwenvid doctor` tests reachability."


class _SharedTransport(httpx.BaseTransport):
    """Lets several httpx clients use one injected transport; only the DashScope client closes it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:
        pass


class _ProgressReader:
    """A binary file wrapper that reports how many bytes httpx has read from it for the upload."""

    def __init__(self, handle: BinaryIO, total: int, on_progress: Callable[[int, int], None] | None) -> None:
        self._handle = handle
        self._total = total
        self._on_progress = on_progress
        self._sent = 0
        self._report()

    def read(self, size: int = -1) -> bytes:
        chunk = self._handle.read(size)
        self._sent += len(chunk)
        if chunk:
            self._report()
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        position = self._handle.seek(offset, whence)
        self._sent = position
        return position

    def tell(self) -> int:
        return self._handle.tell()

    def fileno(self) -> int:
        return self._handle.fileno()

    def _report(self) -> None:
        if self._on_progress is not None:
            self._on_progress(self._sent, self._total)


# -- parsing ---------------------------------------------------------------------------------------


_TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")


def _path_id(task_id: str) -> str:
    """A task id made safe for a URL path: DashScope ids are UUID-like, so anything else is refused."""
    task_id = task_id.strip()
    if not _TASK_ID.fullmatch(task_id):
        raise ValidationError(
            f"{task_id!r} is not a task id (they look like 0385dc79-5ff8-4d82-bcb6-0123456789ab).",
            field="task_id",
            value=task_id,
        )
    return task_id


def check_task_id(task_id: str) -> str:
    """A task id as typed, or a ValidationError when it cannot be one (before anything is stored or sent)."""
    return _path_id(task_id)


def _request_id(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("request_id"):
        return str(body["request_id"])
    return response.headers.get("x-request-id")


def _outcome_unknown(detail: str, *, code: str | None = None, request_id: str | None = None) -> SubmitOutcomeUnknown:
    return SubmitOutcomeUnknown(
        f"The submit request was sent but no usable answer came back ({clean_server_text(detail)}); "
        "a task may have been created.",
        hint="Do not submit again: `qwenvid resume` looks for the task in the account task list first.",
        code=code,
        request_id=request_id,
    )


def _parse_submit(response: httpx.Response) -> SubmitResult:
    try:
        body = response.json()
        output = body["output"]
        task_id = output["task_id"]
        if not isinstance(task_id, str) or not task_id:
            raise ValueError("empty task_id")
    except (ValueError, KeyError, TypeError) as exc:
        raise _outcome_unknown(
            f"HTTP {response.status_code} without a task id: {exc}", code="MalformedResponse"
        ) from None
    return SubmitResult(
        task_id=task_id,
        task_status=str(output.get("task_status") or "PENDING"),
        request_id=body.get("request_id") or response.headers.get("x-request-id"),
    )


def _opt_str(mapping: dict[str, Any], name: str) -> str | None:
    value = mapping.get(name)
    return str(value) if value not in (None, "") else None


def _video_url(output: dict[str, Any]) -> str | None:
    url = _opt_str(output, "video_url")
    if url:
        return url
    # Some async APIs answer `results: [{"url": ...}]` instead (the skill checks both).
    for result in output.get("results") or []:
        if isinstance(result, dict) and result.get("url"):
            return str(result["url"])
    return None


def _parse_task(body: dict[str, Any]) -> TaskInfo:
    output = body["output"]
    if not isinstance(output, dict) or not output.get("task_status"):
        raise ValueError("no output.task_status")
    message = _opt_str(output, "message")
    usage = body.get("usage")
    metrics = output.get("task_metrics")
    return TaskInfo(
        task_id=str(output.get("task_id") or ""),
        status=str(output["task_status"]),
        submit_time=_opt_str(output, "submit_time"),
        scheduled_time=_opt_str(output, "scheduled_time"),
        end_time=_opt_str(output, "end_time"),
        video_url=_video_url(output),
        orig_prompt=_opt_str(output, "orig_prompt"),
        actual_prompt=_opt_str(output, "actual_prompt"),
        code=_opt_str(output, "code"),
        message=clean_server_text(message) if message else None,
        usage=dict(usage) if isinstance(usage, dict) else {},
        request_id=_opt_str(body, "request_id"),
        task_metrics=dict(metrics) if isinstance(metrics, dict) else None,
        raw=body,
    )


def _epoch_ms(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value / 1000.0, tz=UTC)


def _parse_page(body: dict[str, Any]) -> TaskPage:
    items = body.get("data") or []
    if not isinstance(items, list):
        raise ValueError("data is not a list")
    return TaskPage(
        total=int(body.get("total") or 0),
        total_page=int(body.get("total_page") or 0),
        page_no=int(body.get("page_no") or 1),
        page_size=int(body.get("page_size") or len(items)),
        items=[
            RemoteTask(
                task_id=str(item["task_id"]),
                status=str(item.get("status") or "UNKNOWN"),
                model_name=_opt_str(item, "model_name"),
                gmt_create=_epoch_ms(item.get("gmt_create")),
                end_time=_epoch_ms(item.get("end_time")),
                request_id=_opt_str(item, "request_id"),
                raw=item,
            )
            for item in items
        ],
        request_id=_opt_str(body, "request_id"),
    )


def _parse_policy(body: dict[str, Any]) -> UploadPolicy:
    data = body.get("data") or body.get("output")  # the SDK renames `data` to `output`; accept both
    if not isinstance(data, dict):
        raise ValueError("no data in the upload policy answer")
    host = str(data["upload_host"])
    if urlsplit(host).scheme not in ("http", "https"):
        raise ValueError(f"upload_host {host!r} is not an http(s) URL")
    size = data.get("max_file_size_mb")
    return UploadPolicy(
        policy=str(data["policy"]),
        signature=str(data["signature"]),
        upload_dir=str(data["upload_dir"]).rstrip("/"),
        upload_host=host,
        oss_access_key_id=str(data["oss_access_key_id"]),
        object_acl=str(data.get("x_oss_object_acl") or "private"),
        forbid_overwrite=str(data.get("x_oss_forbid_overwrite") or "true"),
        max_file_size_mb=float(size) if isinstance(size, int | float) and not isinstance(size, bool) else None,
    )


def _oss_code(response: httpx.Response) -> str | None:
    match = re.search(r"<Code>([^<]*)</Code>", response.text)
    return match.group(1) if match else None


def _oss_error(response: httpx.Response, name: str) -> APIError:
    """OSS answers errors in XML; a policy that expired mid-upload gets its own explanation."""
    code = _oss_code(response) or "Unknown"
    found = re.search(r"<Message>([^<]*)</Message>", response.text)
    message = clean_server_text(found.group(1) if found else response.text or f"HTTP {response.status_code}")
    if "policy expired" in message.lower():
        return APIError(
            f"Uploading {name} took longer than the upload policy allows ({message}).",
            status_code=response.status_code,
            code="PolicyExpired",
            hint="Retry; on a slow connection host the file at a public URL and pass the URL instead.",
        )
    if response.status_code >= 500:
        return error_for_status(response.status_code, code, message)
    return APIError(
        f"Temporary storage refused {name}: {code}: {message}",
        status_code=response.status_code,
        code=code,
        hint="Check the file, or host it at a public URL and pass the URL instead.",
    )


def format_list_time(moment: datetime) -> str:
    """`YYYYMMDDhhmmss` for the list API; aware datetimes are converted to server time (UTC+8)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(SERVER_TZ)
    return moment.strftime("%Y%m%d%H%M%S")


__all__ = [
    "DashScopeClient",
    "RemoteTask",
    "SubmitResult",
    "TaskInfo",
    "TaskPage",
    "UploadPolicy",
    "format_list_time",
]
