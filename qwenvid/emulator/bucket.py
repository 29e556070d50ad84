"""An OSS-compatible bucket for the emulator: path-style PUT/GET/HEAD/DELETE checked with OSS's V4 signature.

The official `alibabacloud-oss-v2` SDK talks to it unchanged (an IP endpoint makes the SDK use path
style: `http://127.0.0.1:PORT/BUCKET/KEY`). Every request is signed, in the Authorization header
(`OSS4-HMAC-SHA256 Credential=AK/DATE/REGION/oss/aliyun_v4_request,Signature=…`) or, for a presigned
link, in the query (`x-oss-credential`, `x-oss-date`, `x-oss-expires`, `x-oss-signature`). The
signature is recomputed here with the secret this emulator was configured with
(`EmulatorConfig.bucket_keys`), so a wrong secret is refused as OSS refuses it; a presigned link past
its `x-oss-date + x-oss-expires` on the emulator's clock is refused as expired. Objects live in memory:
this bucket holds the few inputs of a test or a local run, not a data lake.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

from qwenvid.emulator.config import Clock, EmulatorConfig

ALGORITHM = "OSS4-HMAC-SHA256"
# OSS refuses a header-signed request whose x-oss-date is further than this from its own clock.
MAX_SKEW_SECONDS = 15 * 60
# V4 presigned links live at most 7 days (the SDK refuses longer ones too).
MAX_PRESIGN_SECONDS = 7 * 24 * 3600
HOST_ID = "bucket.oss-emulator.local"
# The first path segments the emulator's own routes use: never bucket names here.
RESERVED = frozenset({"api", "__oss", "__results", "__emulator"})


class BucketFailure(Exception):
    """An OSS error answer: status, code and message as OSS words them."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    content_type: str
    etag: str
    stored_at: float


class BucketStore:
    """The emulated buckets' objects and what was asked of them (counters for tests), behind one lock."""

    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.keys = dict(config.bucket_keys)
        self.max_bytes = config.max_upload_mb * 1024 * 1024
        self.clock = clock
        self._objects: dict[tuple[str, str], StoredObject] = {}
        self._lock = threading.Lock()
        # "put", "get", "head", "delete" answered 2xx; "refused" for every 4xx; per bucket/key in `puts_of`.
        self.counts: Counter[str] = Counter()
        self.puts_of: Counter[str] = Counter()

    def get(self, bucket: str, key: str) -> StoredObject | None:
        with self._lock:
            return self._objects.get((bucket, key))

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> StoredObject:
        stored = StoredObject(data, content_type, hashlib.md5(data).hexdigest().upper(), self.clock.time())
        with self._lock:
            self._objects[(bucket, key)] = stored
            self.counts["put"] += 1
            self.puts_of[f"{bucket}/{key}"] += 1
        return stored

    def delete(self, bucket: str, key: str) -> None:
        with self._lock:
            self._objects.pop((bucket, key), None)
            self.counts["delete"] += 1

    def keys_in(self, bucket: str) -> list[str]:
        with self._lock:
            return sorted(key for name, key in self._objects if name == bucket)

    def count(self, what: str) -> int:
        with self._lock:
            return self.counts[what]

    def tally(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1


# ---------------------------------------------------------------------------------------------
# V4 signature (the SDK's signer/v4.py, recomputed from what arrived)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Signed:
    access_key_id: str
    date: str  # yyyymmdd
    region: str
    product: str
    timestamp: str  # x-oss-date, yyyymmddTHHMMSSZ
    additional: tuple[str, ...]
    signature: str
    query_auth: bool
    expires: int | None


def _raw_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for pair in query.split("&") if query else []:
        key, _, value = pair.partition("=")
        pairs.append((key, value))
    return pairs


def _credential_parts(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[4] != "aliyun_v4_request":
        raise BucketFailure(400, "InvalidArgument", "Invalid credential in the request.")
    return parts[0], parts[1], parts[2], parts[3]


def _signed_from(request: Request, raw_query: str) -> _Signed:
    authorization = request.headers.get("authorization", "")
    params = dict(_raw_pairs(raw_query))
    if authorization:
        scheme, _, rest = authorization.partition(" ")
        if scheme != ALGORITHM:
            raise BucketFailure(403, "AccessDenied", "Only the OSS4-HMAC-SHA256 (V4) signature is accepted here.")
        fields = {}
        for item in rest.split(","):
            name, _, value = item.strip().partition("=")
            fields[name] = value
        if "Credential" not in fields or "Signature" not in fields:
            raise BucketFailure(400, "InvalidArgument", "Authorization header is invalid.")
        ak, date, region, product = _credential_parts(fields["Credential"])
        additional = tuple(h for h in fields.get("AdditionalHeaders", "").split(";") if h)
        timestamp = request.headers.get("x-oss-date", "")
        return _Signed(ak, date, region, product, timestamp, additional, fields["Signature"], False, None)
    if "x-oss-signature" in params:
        if unquote(params.get("x-oss-signature-version", "")) != ALGORITHM:
            raise BucketFailure(400, "InvalidArgument", "x-oss-signature-version must be OSS4-HMAC-SHA256.")
        ak, date, region, product = _credential_parts(unquote(params.get("x-oss-credential", "")))
        additional = tuple(h for h in unquote(params.get("x-oss-additional-headers", "")).split(";") if h)
        try:
            expires = int(params.get("x-oss-expires", ""))
        except ValueError:
            raise BucketFailure(400, "InvalidArgument", "x-oss-expires must be a number of seconds.") from None
        return _Signed(ak, date, region, product, params.get("x-oss-date", ""), additional,
                       unquote(params["x-oss-signature"]), True, expires)
    raise BucketFailure(403, "AccessDenied", "Anonymous access is forbidden for this operation.")


def _canonical_request(request: Request, bucket: str, key: str, raw_query: str, signed: _Signed) -> str:
    uri = quote(f"/{bucket}/{key}", safe="/")
    pairs = [(k, v) for k, v in _raw_pairs(raw_query) if not (signed.query_auth and k == "x-oss-signature")]
    query = "&".join(f"{k}={v}" if v else k for k, v in sorted(pairs))
    extra = set(signed.additional)
    headers = sorted(
        (name.lower(), value)
        for name, value in request.headers.items()
        if name.lower().startswith("x-oss-") or name.lower() in ("content-type", "content-md5") or name.lower() in extra
    )
    canonical_headers = "".join(f"{name}:{value}\n" for name, value in headers)
    payload = request.headers.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD")
    return f"{request.method}\n{uri}\n{query}\n{canonical_headers}\n{';'.join(signed.additional)}\n{payload}"


def signature_for(secret: str, signed: _Signed, canonical_request: str) -> str:
    scope = f"{signed.date}/{signed.region}/{signed.product}/aliyun_v4_request"
    to_sign = "\n".join(
        [ALGORITHM, signed.timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()]
    )
    key = ("aliyun_v4" + secret).encode()
    for part in (signed.date, signed.region, signed.product, "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _epoch(timestamp: str) -> float:
    try:
        return datetime.strptime(timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise BucketFailure(400, "InvalidArgument", "x-oss-date is not a yyyymmddTHHMMSSZ time.") from None


def verify(store: BucketStore, request: Request, bucket: str, key: str, raw_query: str) -> _Signed:
    """The request's signature checked against the configured secret, and its time window; BucketFailure else."""
    signed = _signed_from(request, raw_query)
    secret = store.keys.get(signed.access_key_id)
    if secret is None:
        raise BucketFailure(
            403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records."
        )
    if signed.date != signed.timestamp[:8] or signed.product != "oss":
        raise BucketFailure(400, "InvalidArgument", "The credential scope does not match the request date or product.")
    expected = signature_for(secret, signed, _canonical_request(request, bucket, key, raw_query, signed))
    if not hmac.compare_digest(expected, signed.signature):
        raise BucketFailure(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                            "signature you provided. Check your key and signing method.")
    signed_at, now = _epoch(signed.timestamp), store.clock.time()
    if signed.query_auth:
        assert signed.expires is not None
        if signed.expires <= 0 or signed.expires > MAX_PRESIGN_SECONDS:
            raise BucketFailure(400, "InvalidArgument", "x-oss-expires must be between 1 second and 7 days.")
        if now > signed_at + signed.expires:
            raise BucketFailure(403, "AccessDenied", "Request has expired.")
    elif abs(now - signed_at) > MAX_SKEW_SECONDS:
        raise BucketFailure(403, "RequestTimeTooSkewed", "The difference between the request time and the current "
                            "time is too large.")
    return signed


# ---------------------------------------------------------------------------------------------
# CRC-64/ECMA-182 as OSS reports it (x-oss-hash-crc64ecma), which the SDK checks after a PUT
# ---------------------------------------------------------------------------------------------


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xC96C5795D7870F42 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc_table()
_MASK = 0xFFFFFFFFFFFFFFFF


def crc64(data: bytes) -> int:
    crc = _MASK
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ _MASK


# ---------------------------------------------------------------------------------------------
# The handler
# ---------------------------------------------------------------------------------------------


def bucket_error(failure: BucketFailure, request_id: str, head_only: bool = False) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n'
        f"  <Code>{escape(failure.code)}</Code>\n  <Message>{escape(failure.message)}</Message>\n"
        f"  <RequestId>{request_id}</RequestId>\n  <HostId>{HOST_ID}</HostId>\n</Error>\n"
    )
    headers = {"x-oss-request-id": request_id, "x-oss-ec": failure.code}
    return Response(b"" if head_only else body.encode(), failure.status, headers, media_type="application/xml")


def _object_headers(stored: StoredObject, request_id: str) -> dict[str, str]:
    return {
        "x-oss-request-id": request_id,
        "ETag": f'"{stored.etag}"',
        "Last-Modified": format_datetime(datetime.fromtimestamp(stored.stored_at, UTC), usegmt=True),
        "x-oss-hash-crc64ecma": str(crc64(stored.data)),
    }


async def bucket_object(request: Request, store: BucketStore) -> Response:
    """PUT, GET, HEAD or DELETE one object, path style: /BUCKET/KEY."""
    request_id = uuid.uuid4().hex[:24].upper()
    bucket, key = request.path_params["bucket"], request.path_params["key"]
    head = request.method == "HEAD"
    raw_query = request.scope.get("query_string", b"").decode("latin-1")
    try:
        if not key:
            raise BucketFailure(400, "InvalidArgument", "Only object operations are served by the emulated bucket.")
        verify(store, request, bucket, key, raw_query)
        if request.method == "PUT":
            declared = request.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > store.max_bytes:
                raise BucketFailure(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
            data = await request.body()
            if len(data) > store.max_bytes:
                raise BucketFailure(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
            stored = store.put(bucket, key, data, request.headers.get("content-type", "application/octet-stream"))
            return Response(b"", 200, _object_headers(stored, request_id))
        if request.method == "DELETE":
            store.delete(bucket, key)
            return Response(b"", 204, {"x-oss-request-id": request_id})
        found = store.get(bucket, key)
        if found is None:
            raise BucketFailure(404, "NoSuchKey", "The specified key does not exist.")
        store.tally("head" if head else "get")
        headers = _object_headers(found, request_id)
        if head:
            headers["Content-Length"] = str(len(found.data))
            return Response(b"", 200, headers, media_type=found.content_type)
        return Response(found.data, 200, headers, media_type=found.content_type)
    except BucketFailure as failure:
        store.tally("refused")
        return bucket_error(failure, request_id, head)
