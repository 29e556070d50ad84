"""Every local input uploaded once: choose the upload path, reuse what the ledger knows, upload the rest.

Two paths. Without a bucket, DashScope's temporary storage (`oss://`): a file there is bound to the
model named at upload, the account's key and the service, and deleted after 48 h; its credential
call (getPolicy) is paced across processes (qwenvid/store/uploads.py). With `QWEN_TMP_OSS_BUCKET`,
the user's own bucket through the official SDK (qwenvid/wire/oss.py): the object is bound to nothing
but the bucket, and each submit gets a fresh presigned https link (presigning is free) valid for
longer than the task is expected to take.

Either way a local file's content hash finds an earlier upload in the ledger: reused while it
outlives the task's expected time (a bucket object: while it is still there), uploaded again when it
would not. A reused file is reported as "reused, not uploaded".
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwenvid.store.uploads import UploadedInput
from qwenvid.tasks.reporting import NullReporter, Phase
from qwenvid.timestamps import shown

if TYPE_CHECKING:
    from qwenvid.store.seam import UploadRecords
    from qwenvid.tasks.context import TaskContext
    from qwenvid.tasks.outcomes import Plan
    from qwenvid.tasks.reporting import Reporter
    from qwenvid.wire.oss import BucketClient

# DashScope deletes temporary files after 48 hours (dashscope-api.md §1.4).
TEMPORARY_TTL = 48 * 3600.0
# An upload is reused only when it outlives the task by this much: twice the expected queue and render
# (a busy service queues longer) plus ten minutes for the submit to wait for a slot.
SLACK_FACTOR = 2.0
SLACK_SECONDS = 600.0
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_bucket_lock = threading.Lock()


TEMPORARY_PLACEHOLDER = "oss://<upload of "


def dry_run_body(settings: Any, body: Any) -> Any:
    """The payload `--dry-run` shows: with a bucket, each planned upload as the (masked) link it will become."""
    oss = settings.oss
    if oss is None:
        return body
    if isinstance(body, dict):
        return {key: dry_run_body(settings, value) for key, value in body.items()}
    if isinstance(body, list):
        return [dry_run_body(settings, value) for value in body]
    if isinstance(body, str) and body.startswith(TEMPORARY_PLACEHOLDER):
        name = body[len(TEMPORARY_PLACEHOLDER) : -1]
        return f"https://<presigned link to {oss.bucket}/{oss.prefix}/YYYYMMDD/…-{name}, masked>"
    return body


def needed_seconds(plan: Plan) -> float:
    """How long an uploaded input must stay readable for this task: its expected time, with slack."""
    from qwenvid.requests.priors import prior_for_request

    try:
        expected = prior_for_request(plan.payload.body, plan.model).seconds
    except (KeyError, TypeError, ValueError):
        expected = 600.0
    return expected * SLACK_FACTOR + SLACK_SECONDS


def upload_inputs(session: TaskContext, plan: Plan, reporter: Reporter | None = None) -> dict[str, str]:
    """Local path -> the URL the task reads it from, for every local input of the plan (uploading only when needed)."""
    reporter = reporter or NullReporter()
    wall: Callable[[], float] = time.time if session.clock is time.monotonic else session.clock
    need = needed_seconds(plan)
    store = session.store.uploads
    uploaded: dict[str, str] = {}
    for item in plan.local_inputs:
        path = Path(item.path)
        if item.path in uploaded:
            continue
        reporter.phase(Phase.UPLOADING, path.name)

        def progress(done: int, total: int) -> None:
            reporter.transfer(Phase.UPLOADING, done, total)

        if session.settings.oss is None:
            uploaded[item.path] = _temporary(session, plan.model, path, store, wall, need, reporter, progress)
        else:
            uploaded[item.path] = _bucket(session, path, store, wall, need, reporter, progress)
    return uploaded


def reused_inputs(session: TaskContext, plan: Plan) -> dict[str, str]:
    """Local inputs whose earlier upload to temporary storage will be reused (path -> where), asked of the
    ledger alone, for the listing before the first upload. A bucket object is checked only at upload time,
    so bucket files are listed as leaving (the cautious answer)."""
    if session.settings.oss is not None:
        return {}
    wall: Callable[[], float] = time.time if session.clock is time.monotonic else session.clock
    need, now = needed_seconds(plan), wall()
    scope = f"{session.settings.base_url.rstrip('/')}|{plan.model}|{_key_ref(session.settings.api_key)}"
    store = session.store.uploads
    reused: dict[str, str] = {}
    for item in plan.local_inputs:
        found = store.find(file_sha256(Path(item.path)), f"temporary|{scope}")
        if found is not None and found.expires_at is not None and found.expires_at - now >= need:
            reused[item.path] = "temporary storage"
    return reused


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _key_ref(api_key: str | None) -> str:
    """A one-way reference to the account's key: temporary files are bound to it; the key is never stored."""
    return hashlib.sha256(b"qwenvid upload binding\0" + (api_key or "").encode()).hexdigest()[:24]


def _temporary(
    session: TaskContext,
    model: str,
    path: Path,
    store: UploadRecords,
    wall: Callable[[], float],
    need: float,
    reporter: Reporter,
    progress: Callable[[int, int], None],
) -> str:
    scope = f"{session.settings.base_url.rstrip('/')}|{model}|{_key_ref(session.settings.api_key)}"
    binding = f"temporary|{scope}"
    sha = file_sha256(path)
    found = store.find(sha, binding)
    now = wall()
    if found is not None and found.expires_at is not None and found.expires_at - now >= need:
        until = shown(datetime.fromtimestamp(found.expires_at, UTC))
        reporter.notice(f"{path.name}: reused, not uploaded (temporary storage for {model} until {until}).")
        return found.location
    # The credential API allows 100 calls per second per account and model, shared with other processes.
    store.policy_turn(scope, clock=wall, sleep=session.sleep)
    started = wall()
    url = session.client.upload_file(path, model, on_progress=progress)
    store.remember(UploadedInput(sha, binding, url, path.stat().st_size, started, started + TEMPORARY_TTL))
    return url


def _bucket(
    session: TaskContext,
    path: Path,
    store: UploadRecords,
    wall: Callable[[], float],
    need: float,
    reporter: Reporter,
    progress: Callable[[int, int], None],
) -> str:
    oss = session.settings.oss
    assert oss is not None
    bucket = bucket_client(session)
    binding = f"bucket|{oss.service}"
    sha = file_sha256(path)
    found = store.find(sha, binding)
    if found is not None and bucket.exists(found.location):
        key = found.location
        reporter.notice(f"{path.name}: reused, not uploaded (in bucket {oss.bucket}).")
    else:
        now = wall()
        day = datetime.fromtimestamp(now, UTC).strftime("%Y%m%d")
        key = f"{oss.prefix}/{day}/{sha[:16]}-{_SAFE_NAME.sub('_', path.name)[-80:]}"
        bucket.put(path, key, on_progress=progress)
        store.remember(UploadedInput(sha, binding, key, path.stat().st_size, now, None))
    # Presigning is free: a fresh link per submit, valid for longer than this task is expected to take.
    url, _expires = bucket.presign_get(key, max(oss.url_expires, need))
    return url


def bucket_client(session: TaskContext) -> BucketClient:
    """The session's client of the user's bucket, made once (the SDK is imported only here)."""
    from qwenvid.wire.oss import BucketClient

    with _bucket_lock:
        holder: dict[str, Any] = session.__dict__
        client = holder.get("_bucket_client")
        if client is None:
            assert session.settings.oss is not None
            client = holder["_bucket_client"] = BucketClient(session.settings.oss)
        return client  # type: ignore[no-any-return, unused-ignore]


def upload_path(session: TaskContext) -> str:
    """Which upload path is in use, in words (for `doctor`)."""
    oss = session.settings.oss
    if oss is None:
        return "DashScope temporary storage (oss://, 48 h, bound to the model and key; for development)"
    where = oss.endpoint or f"region {oss.region}"
    return f"your own OSS bucket {oss.bucket} ({where}), objects under {oss.prefix}/YYYYMMDD/"


def check_bucket(session: TaskContext) -> str:
    """`doctor`'s check that the bucket takes uploads: a tiny object written and deleted; what was done, in words."""
    import secrets

    oss = session.settings.oss
    assert oss is not None
    bucket = bucket_client(session)
    key = f"{oss.prefix}/doctor-check-{secrets.token_hex(6)}.txt"
    bucket.put_bytes(key, b"qwenvid doctor: this object is deleted at once\n")
    bucket.delete(key)
    return f"wrote and deleted {key}"


def doctor_uploads(session: TaskContext) -> dict[str, Any]:
    """`doctor`'s upload lines: the path in use and, for a bucket, the write-and-delete check (no credential shown)."""
    from qwenvid.errors import QwenvidError

    report: dict[str, Any] = {"uploads": upload_path(session), "uploads_ok": None, "uploads_detail": None,
                              "uploads_exit": None}
    if session.settings.oss is None:
        return report
    try:
        report["uploads_detail"] = check_bucket(session)
        report["uploads_ok"] = True
    except QwenvidError as exc:
        report.update(uploads_ok=False, uploads_detail=exc.message, uploads_exit=int(exc.exit_code))
    return report
