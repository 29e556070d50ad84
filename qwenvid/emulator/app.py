"""The emulator's Starlette app: DashScope's async video API, the OSS upload form, signed results, controls."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from qwenvid.catalogue import PATHS, get_model
from qwenvid.emulator.bucket import RESERVED as BUCKET_RESERVED
from qwenvid.emulator.bucket import bucket_object
from qwenvid.emulator.config import Clock, EmulatorConfig
from qwenvid.emulator.faults import KINDS, TARGETS, Fault, describe, parse_fault
from qwenvid.emulator.inputs import face_found
from qwenvid.emulator.state import (
    FAILURE_MESSAGES,
    REJECT_MESSAGES,
    STATUSES,
    UNKNOWN,
    ApiFailure,
    EmulatorState,
    ListQuery,
    OssFailure,
    throttled,
)
from qwenvid.errors import ValidationError
from qwenvid.requests.performers import FACE_DETECT_MODEL, FACE_DETECT_PATH
from qwenvid.requests.validation import check_body, deferred_failure, truncate_text_fields

API = "/api/v1"
OSS_PATH = "/__oss"
RESULTS_PATH = "/__results"
OSS_HOST_ID = "dashscope-file-mgr.oss-emulator.local"
DAY_SECONDS = 24 * 3600
ASYNC_REQUIRED = "current user api does not support synchronous calls"
CANCEL_REFUSED = "Failed to cancel the task, please confirm if the task is in PENDING status."
SERVER_ERROR = "An internal error has occurred, please try again later or contact service support."
SERVICE_UNAVAILABLE = "Too many requests in route. Please try again later."
# A submit body is JSON with at most a few data: URIs; nothing legitimate comes near this.
MAX_SUBMIT_BYTES = 32 << 20
MAX_CONTROL_BYTES = 64 << 10
FORM_OVERHEAD_BYTES = 1 << 20  # multipart boundaries and the policy fields around an upload's file
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})

log = logging.getLogger("qwenvid.emulator")
Handler = Callable[[Request, "Call"], Awaitable[Response]]


class ConnectionDropped(Exception):
    """Raised after the response headers went out, so the server closes the connection mid-response."""


class _QuietDrops(logging.Filter):
    """Keep injected connection drops out of uvicorn's error log; they are on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, ConnectionDropped)


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


@dataclass(frozen=True)
class Call:
    """What a DashScope handler gets besides the request."""

    state: EmulatorState
    request_id: str
    api_key_id: str


# ---------------------------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------------------------


def api_json(body: dict[str, Any], request_id: str, status: int = 200, headers: Mapping[str, str] | None = None
             ) -> JSONResponse:
    """A DashScope JSON answer: always a request_id in the body and the X-Request-ID header."""
    return JSONResponse({**body, "request_id": request_id}, status_code=status,
                        headers={"X-Request-ID": request_id, **(headers or {})})


def api_error(failure: ApiFailure, request_id: str) -> JSONResponse:
    return api_json({"code": failure.code, "message": failure.message}, request_id, failure.status, failure.headers)


def oss_error(failure: OssFailure, request_id: str, head_only: bool = False) -> Response:
    """An OSS error: XML body (omitted for HEAD), x-oss-request-id header."""
    extra = "".join(f"  <{k}>{escape(v)}</{k}>\n" for k, v in failure.extra.items())
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
        f"  <Code>{escape(failure.code)}</Code>\n  <Message>{escape(failure.message)}</Message>\n"
        f"  <RequestId>{request_id}</RequestId>\n  <HostId>{OSS_HOST_ID}</HostId>\n{extra}</Error>\n"
    )
    headers = {"x-oss-request-id": request_id, "x-oss-ec": failure.code}
    return Response(b"" if head_only else body.encode(), failure.status, headers, media_type="application/xml")


class DroppedResponse(Response):
    """Sends the status line and headers of a JSON answer, then drops the connection."""

    def __init__(self, request_id: str) -> None:
        super().__init__(b"", 200, {"X-Request-ID": request_id}, media_type="application/json")
        self.headers["content-length"] = "512"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        raise ConnectionDropped("injected fault: connection dropped")


class TruncatedFileResponse(Response):
    """Serves about half of the requested bytes of a file, then drops the connection."""

    def __init__(self, path: str, size: int, start: int, end: int, headers: Mapping[str, str]) -> None:
        status = 206 if (start, end) != (0, size - 1) else 200
        super().__init__(b"", status, dict(headers), media_type="video/mp4")
        self.path, self.start, self.end = path, start, end
        self.headers["content-length"] = str(end - start + 1)
        if status == 206:
            self.headers["content-range"] = f"bytes {start}-{end}/{size}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        remaining = max(1, (self.end - self.start + 1) // 2)
        with open(self.path, "rb") as file:
            file.seek(self.start)
            while remaining > 0:
                chunk = file.read(min(remaining, 1 << 16))
                if not chunk:
                    break
                remaining -= len(chunk)
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        raise ConnectionDropped("injected fault: download truncated")


class ResultFileResponse(FileResponse):
    """Starlette's FileResponse (Range, HEAD, ETag) with bigger reads: 1 GiB results stream several times faster."""

    chunk_size = 1024 * 1024


def _single_range(header: str | None, size: int) -> tuple[int, int]:
    """(start, end) of a simple `bytes=a-b` / `bytes=a-` / `bytes=-n` header, else the whole file."""
    if not header or not header.startswith("bytes=") or "," in header:
        return 0, size - 1
    first, _, last = header[6:].strip().partition("-")
    try:
        if not first:
            return max(0, size - int(last)), size - 1
        return int(first), min(size - 1, int(last)) if last else size - 1
    except ValueError:
        return 0, size - 1


# ---------------------------------------------------------------------------------------------
# The wrapper every DashScope route goes through: slow, auth, faults, query limits, errors
# ---------------------------------------------------------------------------------------------


def _emulator(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


def api_key_id(key: str) -> str:
    """A stable public id for a key (DashScope lists `api_key_id`), without keeping the key."""
    return str(int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 1_000_000)


def _authenticate(request: Request, state: EmulatorState) -> str:
    scheme, _, key = request.headers.get("authorization", "").strip().partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise ApiFailure(401, "InvalidApiKey", "No API-key provided.")
    if state.config.api_keys and key not in state.config.api_keys:
        raise ApiFailure(401, "InvalidApiKey", "Invalid API-key provided.")
    return api_key_id(key)


async def _slow(state: EmulatorState, target: str) -> None:
    fault = state.faults.take("slow", target)
    if fault is not None and fault.seconds:
        await asyncio.sleep(fault.seconds)


def _generic_fault(state: EmulatorState, target: str, request_id: str) -> Response | None:
    """The answer of an armed throttle / 5xx / 503 / drop fault for this request, if one fires."""
    if (fault := state.faults.take("throttle", target)) is not None:
        return api_error(throttled(retry_after=fault.seconds if fault.seconds is not None else 1), request_id)
    if state.faults.take("5xx", target) is not None:
        return api_error(ApiFailure(500, "InternalError", SERVER_ERROR), request_id)
    if state.faults.take("503", target) is not None:
        return api_error(ApiFailure(503, "ServiceUnavailable", SERVICE_UNAVAILABLE), request_id)
    if state.faults.take("drop", target) is not None:
        return DroppedResponse(request_id)
    return None


QUERY_LIMITED = ("query", "list", "cancel")


def api_route(path: str, handler: Handler, target: str, methods: list[str]) -> Route:
    async def endpoint(request: Request) -> Response:
        state = _emulator(request)
        request_id = str(uuid.uuid4())
        try:
            await _slow(state, target)
            key_id = _authenticate(request, state)
            if (faulted := _generic_fault(state, target, request_id)) is not None:
                return faulted
            if target in QUERY_LIMITED:
                state.check_rate(target, state.config.query_qps)
            return await handler(request, Call(state, request_id, key_id))
        except ApiFailure as failure:
            return api_error(failure, request_id)
        except Exception:  # an emulator bug must still look like a DashScope answer
            log.exception("emulator error on %s %s", request.method, request.url.path)
            return api_error(ApiFailure(500, "InternalError", SERVER_ERROR), request_id)

    return Route(path, endpoint, methods=methods)


def _base(request: Request) -> str:
    """This server's own address, from the socket the request came in on: never the client's Host header,
    which would let anyone steer upload and result URLs to a host of their choosing."""
    server = request.scope.get("server")
    if not server or server[1] is None:
        return f"{request.url.scheme}://127.0.0.1"
    host, port = server
    shown = f"[{host}]" if ":" in str(host) else str(host)
    return f"{request.url.scheme}://{shown}:{port}"


async def read_capped(request: Request, limit: int) -> bytes:
    """The request body, refusing (413) to hold more than `limit` bytes: by Content-Length or as it streams."""
    declared = request.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > limit:
        raise ApiFailure(413, "RequestEntityTooLarge", _too_large(int(declared), limit))
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiFailure(413, "RequestEntityTooLarge", _too_large(None, limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int | None, limit: int) -> str:
    amount = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes"
    return f"The request body is {amount}; the most accepted is {limit:,} bytes."


# ---------------------------------------------------------------------------------------------
# DashScope handlers
# ---------------------------------------------------------------------------------------------


def _oss_urls(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if value.startswith("oss://"):
            yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _oss_urls(item)
    elif isinstance(value, list):
        for item in value:
            yield from _oss_urls(item)


def submit_handler(path: str) -> Handler:
    async def submit(request: Request, call: Call) -> Response:
        state = call.state
        if request.headers.get("x-dashscope-async", "").strip().lower() != "enable":
            raise ApiFailure(403, "AccessDenied", ASYNC_REQUIRED)
        try:
            body = json.loads(await read_capped(request, MAX_SUBMIT_BYTES) or b"null")
        except (ValueError, UnicodeDecodeError):
            raise ApiFailure(400, "InvalidParameter",
                             "Required body invalid, please check the request body format.") from None
        try:
            spec = check_body(API + path, body, lenient=True)
        except ValidationError as error:
            raise ApiFailure(400, error.code or "InvalidParameter", error.message) from None
        if spec is None:  # check_body(lenient=True) refuses unknown models itself; kept for type narrowing
            raise ApiFailure(400, "InvalidParameter", "Model not exist.")
        if (reject := state.faults.take("reject", "submit")) is not None and reject.code:
            raise ApiFailure(400, reject.code, REJECT_MESSAGES.get(reject.code, f"Request rejected: {reject.code}"))
        oss_urls = list(_oss_urls(body.get("input")))
        if oss_urls and request.headers.get("x-dashscope-ossresourceresolve", "").strip().lower() != "enable":
            raise ApiFailure(400, "InvalidParameter", f"The provided URL does not appear to be valid: {oss_urls[0]}. "
                             "oss:// temporary URLs need the request header X-DashScope-OssResourceResolve: enable.")
        for url in oss_urls:
            state.resolve_oss(url, spec, str(body["model"]))
        if state.faults.take("drop-before-create", "submit") is not None:
            return DroppedResponse(call.request_id)
        body = truncate_text_fields(body, spec)
        fail = state.faults.take("fail", "submit")
        planned = ((fail.code, FAILURE_MESSAGES.get(fail.code, f"Task failed: {fail.code}"))
                   if fail is not None and fail.code else deferred_failure(body))
        task = state.create_task(spec, path, body, api_key_id=call.api_key_id, request_id=call.request_id,
                                 planned_failure=planned)
        if state.faults.take("drop-after-create", "submit") is not None:
            return DroppedResponse(call.request_id)
        if (late := state.faults.take("late-after-create", "submit")) is not None and late.seconds:
            await asyncio.sleep(late.seconds)  # the task exists; its id arrives after the client gave up
        if state.faults.take("5xx-after-create", "submit") is not None:
            raise ApiFailure(500, "InternalError", SERVER_ERROR)
        return api_json({"output": {"task_status": task.status, "task_id": task.task_id}}, call.request_id)

    return submit


BODY_INVALID = "Required body invalid, please check the request body format."


async def face_detect(request: Request, call: Call) -> Response:
    """wan2.2-s2v-detect: synchronous, no task; HTTP 200 whether the face check passes or not (§4.1)."""
    try:
        body = json.loads(await read_capped(request, MAX_SUBMIT_BYTES) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise ApiFailure(400, "InvalidParameter", BODY_INVALID) from None
    if not isinstance(body, dict) or body.get("model") != FACE_DETECT_MODEL:
        raise ApiFailure(400, "InvalidParameter", "Model not exist.")
    url = (body.get("input") or {}).get("image_url") if isinstance(body.get("input"), dict) else None
    if not isinstance(url, str) or not url:
        raise ApiFailure(400, "InvalidParameter", "Field required: input.image_url")
    if url.startswith("oss://"):
        s2v = get_model("wan2.2-s2v")
        assert s2v is not None  # the catalogue has it: tests/test_catalogue_data.py
        call.state.resolve_oss(url, s2v, FACE_DETECT_MODEL)
    if face_found(call.state.fetch_input(url)):
        output: dict[str, Any] = {"check_pass": True, "humanoid": True}
    else:
        output = {"check_pass": False, "code": "", "message": ""}
    return api_json({"output": output, "usage": {"image_count": 1}}, call.request_id)


async def get_task(request: Request, call: Call) -> Response:
    task_id = request.path_params["task_id"]
    task = call.state.get_task(task_id)
    if task is None:
        return api_json({"output": {"task_id": task_id, "task_status": UNKNOWN}}, call.request_id)
    output, usage = call.state.task_output(task, _base(request))
    body: dict[str, Any] = {"output": output}
    if usage is not None:
        body["usage"] = usage
    return api_json(body, call.request_id)


def _int_param(request: Request, name: str, default: int) -> int:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ApiFailure(400, "InvalidParameter", f"{name} must be a positive integer, not {text!r}") from None
    if value < 1:
        raise ApiFailure(400, "InvalidParameter", f"{name} must be a positive integer, not {text!r}")
    return value


def _list_window(request: Request, state: EmulatorState) -> tuple[float, float]:
    """[start, end] of a list call: defaults per §1.3, 24 h at most, times 'YYYYMMDDhhmmss'."""
    texts = {name: request.query_params.get(name) or None for name in ("start_time", "end_time")}
    parsed: dict[str, float] = {}
    for name, text in texts.items():
        if text is not None:
            try:
                parsed[name] = state.parse_list_time(text)
            except ValueError:
                raise ApiFailure(400, "InvalidParameter", f"{name} {text!r} is not a time in the format "
                                 "YYYYMMDDhhmmss") from None
    start, end = parsed.get("start_time"), parsed.get("end_time")
    if start is None and end is None:
        end = state.now()
        start = end - DAY_SECONDS
    elif start is None:
        start = end - DAY_SECONDS  # type: ignore[operator]
    elif end is None:
        end = start + DAY_SECONDS
    assert start is not None and end is not None
    if end < start:
        raise ApiFailure(400, "InvalidParameter", "start_time must not be later than end_time.")
    if end - start > DAY_SECONDS:
        raise ApiFailure(400, "InvalidParameter", "The time range between start_time and end_time cannot exceed "
                         "24 hours.")
    return start, end + 0.999  # end_time has second precision: include the whole last second


async def list_tasks(request: Request, call: Call) -> Response:
    state = call.state
    start, end = _list_window(request, state)
    params = request.query_params
    status = params.get("status") or None
    if status is not None and status.upper() not in STATUSES:
        raise ApiFailure(400, "InvalidParameter", f"status {status!r} is not one of {', '.join(STATUSES)}")
    page_no, page_size = _int_param(request, "page_no", 1), _int_param(request, "page_size", 10)
    query = ListQuery(start, end, params.get("task_id") or None, params.get("model_name") or None, status,
                      params.get("api_key_id") or None, params.get("region") or None)
    found = state.list_tasks(query)
    page = found[(page_no - 1) * page_size: page_no * page_size]
    return api_json(
        {
            "total": len(found),
            "data": [state.list_entry(task) for task in page],
            "total_page": math.ceil(len(found) / page_size),
            "page_no": page_no,
            "page_size": page_size,
        },
        call.request_id,
    )


async def cancel_task(request: Request, call: Call) -> Response:
    if not call.state.cancel(request.path_params["task_id"]):
        raise ApiFailure(400, "UnsupportedOperation", CANCEL_REFUSED)
    return api_json({}, call.request_id)


async def upload_policy(request: Request, call: Call) -> Response:
    params = request.query_params
    if params.get("action") != "getPolicy":
        raise ApiFailure(400, "InvalidParameter", f"Unsupported action {params.get('action')!r}; use getPolicy.")
    model = (params.get("model") or "").strip()
    if not model:
        raise ApiFailure(400, "InvalidParameter", "Field required: model")
    call.state.check_rate(f"policy:{model}", call.state.config.policy_qps)
    data = call.state.issue_policy(model, _base(request) + OSS_PATH)
    return api_json({"data": data}, call.request_id)


# ---------------------------------------------------------------------------------------------
# OSS: the upload form and signed result downloads (no DashScope key here)
# ---------------------------------------------------------------------------------------------


def _oss_fault(state: EmulatorState, target: str, request_id: str, head_only: bool = False) -> Response | None:
    """OSS's answers to armed faults: throttling is 503 SlowDown there, server errors are XML too."""
    if (fault := state.faults.take("throttle", target)) is not None:
        response = oss_error(OssFailure(503, "SlowDown", "Please reduce your request rate."), request_id, head_only)
        response.headers["Retry-After"] = f"{fault.seconds if fault.seconds is not None else 1:g}"
        return response
    if state.faults.take("5xx", target) is not None:
        return oss_error(OssFailure(500, "InternalError", "We encountered an internal error. Please try again."),
                         request_id, head_only)
    if state.faults.take("503", target) is not None:
        return oss_error(OssFailure(503, "ServiceUnavailable", "Please reduce your request rate."), request_id,
                         head_only)
    if state.faults.take("drop", target) is not None:
        return DroppedResponse(request_id)
    return None


async def oss_upload(request: Request) -> Response:
    state = _emulator(request)
    request_id = uuid.uuid4().hex[:24].upper()
    await _slow(state, "upload")
    if (faulted := _oss_fault(state, "upload", request_id)) is not None:
        return faulted
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        return oss_error(
            OssFailure(400, "InvalidArgument", "The body of a POST upload must be multipart/form-data."), request_id
        )
    max_file = state.config.max_upload_mb * 1024 * 1024
    declared = request.headers.get("content-length", "").strip()
    if declared.isdigit() and int(declared) > max_file + FORM_OVERHEAD_BYTES:
        return oss_error(OssFailure(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."),
                         request_id)
    # The policy and signature are checked when the file part begins, before one byte of it is stored
    # (OSS wants the file last in the form); python-multipart spools the file to disk past 1 MiB.
    parser = _PolicyFirstParser(request.headers, request.stream(), state, max_file)
    try:
        form = await parser.parse()
    except OssFailure as failure:
        return oss_error(failure, request_id)
    except (ValueError, KeyError):
        return oss_error(OssFailure(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON."), request_id)
    except MultiPartException as error:
        return oss_error(OssFailure(400, "InvalidArgument", f"Malformed form: {error.message}"), request_id)
    try:
        fields = {name: value for name, value in form.multi_items() if isinstance(value, str)}
        part = form.get("file")
        if part is None or isinstance(part, str):
            return oss_error(OssFailure(400, "InvalidArgument", "The form field file is required."), request_id)
        try:
            upload = await asyncio.to_thread(
                state.accept_upload, fields, part.file, part.content_type or "application/octet-stream"
            )
        except OssFailure as failure:
            return oss_error(failure, request_id)
        except (ValueError, KeyError):
            return oss_error(OssFailure(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON."), request_id)
    finally:
        await form.close()
    status = fields.get("success_action_status", "204")
    headers = {"x-oss-request-id": request_id, "ETag": f'"{upload.md5.upper()}"'}
    if status == "201":
        xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Bucket>dashscope-file-mgr</Bucket>'
               f"<Key>{escape(upload.key)}</Key><ETag>{headers['ETag']}</ETag></PostResponse>")
        return Response(xml, 201, headers, media_type="application/xml")
    return Response(b"", 200 if status == "200" else 204, headers)


class _PolicyFirstParser(MultiPartParser):
    """Starlette's multipart parser that checks the policy fields when the file part begins and caps its size."""

    def __init__(self, headers: Headers, stream: Any, state: EmulatorState, max_file: int) -> None:
        super().__init__(headers, stream, max_files=1, max_fields=32)
        self._state = state
        self._max_file = max_file
        self._file_bytes = 0

    def on_headers_finished(self) -> None:
        super().on_headers_finished()
        if self._current_part.file is not None:
            fields = {name: value for name, value in self.items if isinstance(value, str)}
            self._state.check_upload_fields(fields)  # raises OssFailure: nothing of the file is kept

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._current_part.file is not None:
            self._file_bytes += end - start
            if self._file_bytes > self._max_file:
                raise OssFailure(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
        super().on_part_data(data, start, end)


async def result_download(request: Request) -> Response:
    state = _emulator(request)
    request_id = uuid.uuid4().hex[:24].upper()
    head_only = request.method == "HEAD"
    await _slow(state, "download")
    if request.headers.get("authorization"):
        state.auth_on_download += 1
        return oss_error(OssFailure(400, "InvalidArgument", "Only one auth mechanism allowed: this URL is already "
                                    "signed, so the request must not carry an Authorization header."),
                         request_id, head_only)
    if (faulted := _oss_fault(state, "download", request_id, head_only)) is not None:
        return faulted
    params = request.query_params
    try:
        path = state.result_file(request.path_params["name"], params.get("Expires"), params.get("OSSAccessKeyId"),
                                 params.get("Signature"))
    except OssFailure as failure:
        return oss_error(failure, request_id, head_only)
    headers = {"x-oss-request-id": request_id, "x-oss-object-type": "Normal"}
    if not head_only and state.faults.take("truncate", "download") is not None:
        size = path.stat().st_size
        start, end = _single_range(request.headers.get("range"), size)
        return TruncatedFileResponse(str(path), size, start, end, headers)
    return ResultFileResponse(path, media_type="video/mp4", headers=headers)


# ---------------------------------------------------------------------------------------------
# Controls (not DashScope): state, faults, clock
# ---------------------------------------------------------------------------------------------


async def control_state(request: Request) -> Response:
    state = _emulator(request)
    tasks = state.tasks
    return JSONResponse({
        "task_count": state.task_count(),
        "tasks_by_status": state.counts_by_status(),
        "tasks": [{"task_id": t.task_id, "model": t.model, "status": t.status} for t in tasks],
        "uploads": state.upload_count(),
        "faults": [describe(f) for f in state.faults.armed()],
        "auth_on_download": state.auth_on_download,
        "limit_hits": state.limit_counts(),
        "clock": {"time": state.now(), "manual": bool(getattr(state.clock, "manual", False))},
    })


class ControlRefused(Exception):
    """A control request refused before it acts: (status, message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def control_payload(request: Request, default: Any) -> Any:
    """The JSON body of a control POST, after the checks that keep web pages out.

    A browser may send a cross-site POST with a "simple" content type (text/plain, form encodings)
    without asking first; requiring application/json forces a CORS preflight, which is never granted,
    and an Origin that is not this loopback server is refused outright (DNS rebinding included).
    """
    origin = request.headers.get("origin")
    if origin is not None and not _same_loopback_origin(origin, request):
        raise ControlRefused(403, f"cross-origin control requests are refused (Origin {origin[:100]!r})")
    raw = await read_capped(request, MAX_CONTROL_BYTES)
    if not raw.strip():
        return default
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise ControlRefused(415, f"control requests must be Content-Type: application/json, not {kind or 'none'!r}")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise ControlRefused(400, f"the body is not valid JSON: {error}") from None


def _same_loopback_origin(origin: str, request: Request) -> bool:
    """Whether a browser page at `origin` is this machine's own (loopback, or this server's own address)."""
    try:
        host = urlsplit(origin.strip()).hostname
    except ValueError:
        return False
    server = request.scope.get("server") or (None, None)
    return host is not None and (host in LOOPBACK_HOSTS or host == str(server[0]))


def _refused(error: ControlRefused | ApiFailure) -> JSONResponse:
    if isinstance(error, ApiFailure):
        return JSONResponse({"error": error.message}, status_code=error.status)
    return JSONResponse({"error": str(error)}, status_code=error.status)


def _fault_from_json(item: Any) -> Fault:
    if isinstance(item, str):
        return parse_fault(item)
    if isinstance(item, Mapping):
        if "spec" in item:
            return parse_fault(str(item["spec"]))
        return _fault_from_mapping(item)
    raise ValueError(f"not a fault: {item!r}")


def _fault_from_mapping(item: Mapping[str, Any]) -> Fault:
    """A Fault from its fields, each checked: a bad one is refused here, not later by every request."""
    known = {f.name for f in fields(Fault)}
    unknown = sorted(set(item) - known)
    if unknown:
        raise ValueError(f"unknown fault field(s) {', '.join(map(str, unknown))}; known: {', '.join(sorted(known))}")
    kind, target = item.get("kind"), item.get("target", "any")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if target not in (*TARGETS, "any"):
        raise ValueError(f"target must be one of {', '.join((*TARGETS, 'any'))}, not {target!r}")
    count = item.get("count", 1)
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise ValueError(f"count must be a whole number of at least 1, or null for every time, not {count!r}")
    seconds = item.get("seconds")
    if seconds is not None and (
        isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds) or seconds < 0
    ):
        raise ValueError(f"seconds must be a number of at least 0, not {seconds!r}")
    for name in ("code", "scope"):
        if item.get(name) is not None and not isinstance(item[name], str):
            raise ValueError(f"{name} must be a string, not {item[name]!r}")
    return Fault(**dict(item))


async def control_faults(request: Request) -> Response:
    state = _emulator(request)
    if request.method == "POST":
        try:
            payload = await control_payload(request, [])
            if isinstance(payload, Mapping) and payload.get("clear"):
                state.faults.clear()
            items = payload.get("faults", [payload] if "spec" in payload or "kind" in payload else []) \
                if isinstance(payload, Mapping) else payload
            for item in items if isinstance(items, list) else [items]:
                state.faults.arm(_fault_from_json(item))
        except (ControlRefused, ApiFailure) as error:
            return _refused(error)
        except (ValueError, TypeError, ValidationError) as error:
            message = error.message if isinstance(error, ValidationError) else str(error)
            return JSONResponse({"error": message}, status_code=400)
    return JSONResponse({"faults": [describe(f) for f in state.faults.armed()]})


async def control_clock(request: Request) -> Response:
    state = _emulator(request)
    advance = getattr(state.clock, "advance", None)
    if request.method == "POST":
        if advance is None:
            return JSONResponse({"error": "the emulator clock is not manual"}, status_code=400)
        try:
            payload = await control_payload(request, {})
            seconds = float(payload.get("seconds", 0))
            if not math.isfinite(seconds) or seconds < 0:
                raise ValueError(f"seconds must be a number of at least 0, not {payload.get('seconds')!r}")
            advance(seconds)
        except (ControlRefused, ApiFailure) as error:
            return _refused(error)
        except (ValueError, TypeError, AttributeError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
    return JSONResponse({"time": state.now(), "manual": advance is not None})


async def control_wait(request: Request) -> Response:
    state = _emulator(request)
    try:
        payload = await control_payload(request, {})
        timeout = float(payload.get("timeout", 30))
        if not math.isfinite(timeout) or timeout < 0:
            raise ValueError(f"timeout must be a number of at least 0, not {payload.get('timeout')!r}")
    except (ControlRefused, ApiFailure) as error:
        return _refused(error)
    except (ValueError, TypeError, AttributeError) as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    done = await asyncio.to_thread(state.wait_rendered, min(timeout, 600.0))
    return JSONResponse({"rendered": done})


async def own_bucket(request: Request) -> Response:
    """The user's own OSS bucket (qwenvid/emulator/bucket.py); the emulator's own paths stay DashScope's 404s."""
    if request.path_params["bucket"] in BUCKET_RESERVED or request.method == "POST":
        return await not_found(request, HTTPException(404))  # a DashScope path not served here
    return await bucket_object(request, _emulator(request).bucket)


async def not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: "NotFound", 405: "MethodNotAllowed"}.get(status, "InternalError")
    request_id = str(uuid.uuid4())
    message = f"{request.method} {request.url.path} is not a DashScope API path served here"
    return api_json({"code": code, "message": message}, request_id, status)


# ---------------------------------------------------------------------------------------------
# The app
# ---------------------------------------------------------------------------------------------


def create_app(config: EmulatorConfig | None = None, clock: Clock | None = None,
               state: EmulatorState | None = None) -> Starlette:
    """The emulator as an ASGI app; its state is `app.state.emulator`."""
    state = state or EmulatorState(config, clock)
    routes = [
        *(api_route(API + path, submit_handler(path), "submit", ["POST"]) for path in PATHS.values()),
        api_route(API + FACE_DETECT_PATH, face_detect, "face-detect", ["POST"]),
        *(api_route(API + path + "/", submit_handler(path), "submit", ["POST"]) for path in PATHS.values()),
        api_route(API + "/tasks", list_tasks, "list", ["GET"]),
        api_route(API + "/tasks/", list_tasks, "list", ["GET"]),
        api_route(API + "/tasks/{task_id}", get_task, "query", ["GET"]),
        api_route(API + "/tasks/{task_id}/cancel", cancel_task, "cancel", ["POST"]),
        api_route(API + "/uploads", upload_policy, "policy", ["GET"]),
        Route(OSS_PATH, oss_upload, methods=["POST"]),
        Route(OSS_PATH + "/", oss_upload, methods=["POST"]),
        Route(RESULTS_PATH + "/{name}", result_download, methods=["GET", "HEAD"]),
        Route("/__emulator/state", control_state, methods=["GET"]),
        Route("/__emulator/faults", control_faults, methods=["GET", "POST"]),
        Route("/__emulator/clock", control_clock, methods=["GET", "POST"]),
        Route("/__emulator/clock/advance", control_clock, methods=["POST"]),
        Route("/__emulator/wait-rendered", control_wait, methods=["POST"]),
        *_story_routes(),
        # Last: the emulated OSS bucket, path style, as the official SDK addresses an IP endpoint.
        Route("/{bucket}/{key:path}", own_bucket, methods=["GET", "HEAD", "PUT", "DELETE", "POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    # The bucket's path-style route matches "/nowhere/": Starlette would answer "/nowhere" with a 307 to it,
    # where the real service says 404. Every route that takes a trailing slash lists it (above).
    app.router.redirect_slashes = False
    app.state.emulator = state
    app.state.story_files = {}
    return app


def _story_routes() -> list[Route]:
    """Chat, speech and text-to-image for story tooling (qwenvid/emulator/story_api.py)."""
    from qwenvid.emulator import story_api

    return [
        api_route(API + story_api.MULTIMODAL_PATH, story_api.multimodal, "story", ["POST"]),
        api_route(story_api.COMPAT_CHAT_PATH, story_api.chat_completions, "chat", ["POST"]),
        Route(story_api.FILES_PATH + "/{name}", story_api.story_file, methods=["GET"]),
    ]
