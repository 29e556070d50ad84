"""Emulator state: tasks and their life cycle on an injectable clock, uploads, limits and result signing."""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import os
import random
import shutil
import tempfile
import threading
import uuid
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

from qwenvid.catalogue import ModelSpec, get_model, resolution_tier
from qwenvid.emulator.bucket import BucketStore
from qwenvid.emulator.config import Clock, EmulatorConfig, ManualClock, SystemClock
from qwenvid.emulator.faults import FaultPlan
from qwenvid.emulator.inputs import Plan, decode_data_uri, fetch_remote, plan_render
from qwenvid.emulator.render import RenderCache
from qwenvid.privacy import private_umask

PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED, UNKNOWN = (
    "PENDING",
    "RUNNING",
    "SUCCEEDED",
    "FAILED",
    "CANCELED",
    "UNKNOWN",
)
FINISHED = frozenset({SUCCEEDED, FAILED, CANCELED})
STATUSES = (PENDING, RUNNING, SUCCEEDED, FAILED, CANCELED, UNKNOWN)

OSS_ACCESS_KEY_ID = "LTAI5tEmulatorQwenvid0"
OSS_BUCKET = "dashscope-file-mgr"
RESULT_ACCESS_KEY_ID = "LTAI5tEmulatorResults0"

# Messages of task-level failures (dashscope-api.md §4.1); other codes get a generic one.
FAILURE_MESSAGES = {
    "DataInspectionFailed": "Output data may contain inappropriate content.",
    "data_inspection_failed": "Output data may contain inappropriate content.",
    "DataInspection": "Output data may contain inappropriate content.",
    "IPInfringementSuspect": "Input data is suspected of being involved in IP infringement.",
    "InternalError": "An internal error has occurred, please try again later or contact service support.",
    "InternalError.Algo": "Inference internal error.",
    "InternalError.Timeout": "The task did not finish within 3 hours of submission.",
    "InvalidParameter": "The size is not match the model's allowed sizes.",
    "Arrearage": "Access denied, please make sure your account is in good standing.",
}
# Messages of submit-time refusals (input-side checks).
REJECT_MESSAGES = {
    **FAILURE_MESSAGES,
    "DataInspectionFailed": "Input data may contain inappropriate content.",
    "data_inspection_failed": "Input data may contain inappropriate content.",
    "DataInspection": "Input data may contain inappropriate content.",
}
OSS_RESOLVE_HINT = "oss:// temporary URLs need the request header X-DashScope-OssResourceResolve: enable"


class ApiFailure(Exception):
    """A DashScope error answer: HTTP status, code and message (turned into JSON by the app)."""

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


class OssFailure(Exception):
    """An OSS error answer (XML body), for the upload form and the result downloads."""

    def __init__(self, status: int, code: str, message: str, **extra: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra


def throttled(message: str = "Requests rate limit exceeded, please try again later.",
              code: str = "Throttling.RateQuota", retry_after: float | None = None) -> ApiFailure:
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
    return ApiFailure(429, code, message, headers)


class RateWindow:
    """Counts events per key in a sliding one-second window of the emulator clock."""

    def __init__(self) -> None:
        self._events: dict[str, deque[float]] = {}

    def allow(self, key: str, now: float, limit: int, window: float = 1.0) -> bool:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - window:
            events.popleft()
        if len(events) >= limit:
            return False
        events.append(now)
        return True


@dataclass
class RenderResult:
    path: Path
    width: int
    height: int
    seconds: float
    audio: bool
    reference_video_seconds: float


@dataclass
class Task:
    """One video task and everything the API reports about it."""

    task_id: str
    model: str  # as submitted (an alias stays an alias)
    spec: ModelSpec
    path: str
    body: dict[str, Any]
    request_id: str
    api_key_id: str
    submit_at: float
    pending_seconds: float
    running_seconds: float
    status: str = PENDING
    scheduled_at: float | None = None
    end_at: float | None = None
    code: str | None = None
    message: str | None = None
    planned_failure: tuple[str, str] | None = None
    result: RenderResult | None = None
    render_error: str | None = None
    render_done_at: float | None = None
    rendered: threading.Event = field(default_factory=threading.Event)

    @property
    def ready_at(self) -> float:
        return self.submit_at + self.pending_seconds

    @property
    def prompt(self) -> str:
        return str((self.body.get("input") or {}).get("prompt") or "")

    @property
    def parameters(self) -> Mapping[str, Any]:
        return self.body.get("parameters") or {}

    def finish_due(self) -> float | None:
        """When a RUNNING task ends: after its running time, and never before its video exists."""
        if self.status != RUNNING or self.scheduled_at is None:
            return None
        due = self.scheduled_at + self.running_seconds
        if self.planned_failure is not None:
            return due
        if self.render_done_at is None:
            return None
        return max(due, self.render_done_at)


@dataclass
class Upload:
    key: str
    model: str
    path: Path
    size: int
    content_type: str
    uploaded_at: float
    md5: str = ""


@dataclass(frozen=True)
class ListQuery:
    start: float
    end: float
    task_id: str | None = None
    model_name: str | None = None
    status: str | None = None
    api_key_id: str | None = None
    region: str | None = None


class EmulatorState:
    """All mutable emulator state behind one lock; the life cycle is computed lazily from the clock."""

    def __init__(self, config: EmulatorConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.clock: Clock = clock or SystemClock()
        if isinstance(self.clock, ManualClock):
            self.clock.add_barrier(self._renders_done)
        self.faults = FaultPlan(self.config.parsed_faults())
        self._lock = threading.RLock()
        self._tasks: dict[str, Task] = {}
        self._uploads: dict[str, Upload] = {}
        self.bucket = BucketStore(self.config, self.clock)  # the user's own OSS bucket, emulated
        self._policies: dict[str, str] = {}  # upload_dir -> model
        self._rates = RateWindow()
        self.timing_rng = random.Random(self.config.realistic_seed)  # realistic timing draws (seedable)
        self._sequence = itertools.count()
        self._secret = uuid.uuid4().bytes
        self._own_dir = self.config.results_dir is None
        self.directory = Path(tempfile.mkdtemp(prefix="qwenvid-emulator-")) if self._own_dir else Path(
            str(self.config.results_dir)
        )
        with private_umask():  # uploads and renders are private like everything qwenvid writes
            self.directory.mkdir(parents=True, exist_ok=True)
        results = self.directory / "results"
        shared = self.config.render_cache_dir
        if shared is not None:
            try:
                with private_umask():
                    Path(shared).mkdir(parents=True, exist_ok=True)
            except OSError:
                shared = None  # an unwritable cache folder only costs speed: render into the results folder
        self.cache = (RenderCache(Path(shared), scratch=results, keep=self.config.render_cache_keep,
                                  protect_seconds=self.config.url_ttl_seconds) if shared
                      else RenderCache(results))
        self._executor = ThreadPoolExecutor(max_workers=max(1, self.config.render_workers),
                                            thread_name_prefix="qwenvid-render")
        self._renders: list[Future[None]] = []
        self.tz = timezone(timedelta(hours=self.config.utc_offset_hours))
        self.auth_on_download = 0  # result downloads that carried an Authorization header (a client leak)
        # Limit hits for benchmarks and tests: "submit.rate" / "submit.concurrency" (429s on submit),
        # "query.rate" / "list.rate" / ... (429s on queries), "queued" (tasks that waited PENDING for a slot).
        self.limit_hits: Counter[str] = Counter()
        self.queries: Counter[str] = Counter()  # GET /tasks/{id} answers per task id (benchmarks)
        self._queued: set[str] = set()

    # ---- time -------------------------------------------------------------------------------

    def now(self) -> float:
        return self.clock.time()

    def format_time(self, epoch: float) -> str:
        """'YYYY-MM-DD HH:mm:ss.SSS' in DashScope's time zone."""
        stamp = datetime.fromtimestamp(epoch, self.tz)
        return stamp.strftime("%Y-%m-%d %H:%M:%S.") + f"{stamp.microsecond // 1000:03d}"

    def parse_list_time(self, text: str) -> float:
        """'YYYYMMDDhhmmss' in DashScope's time zone -> epoch seconds; ValueError if malformed."""
        if len(text) != 14 or not text.isdigit():
            raise ValueError(text)
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=self.tz).timestamp()

    def task_ttl(self) -> float:
        return self.faults.expiry("task") or self.config.task_ttl_seconds

    def url_ttl(self) -> float:
        return self.faults.expiry("url") or self.config.url_ttl_seconds

    # ---- limits -----------------------------------------------------------------------------

    def check_rate(self, kind: str, limit: int, message: str | None = None) -> None:
        """Raise 429 Throttling.RateQuota when `kind` went over `limit` per second (if limits are on)."""
        if not self.config.limits:
            return
        with self._lock:
            if not self._rates.allow(kind, self.now(), limit):
                self.limit_hits[f"{kind.split(':')[0]}.rate"] += 1
                raise throttled(message or "Requests rate limit exceeded, please try again later.")

    # ---- tasks ------------------------------------------------------------------------------

    def timing_for(self, spec: ModelSpec, body: Mapping[str, Any] | None = None) -> tuple[float, float]:
        """Seconds PENDING and RUNNING for a new task: fixed, or (realistic) drawn around its cold prior."""
        if self.config.realistic:
            from qwenvid.requests.priors import prior_for_request

            with self._lock:
                return prior_for_request(body, spec.id).draw(self.timing_rng)
        return self.config.pending_seconds, self.config.running_seconds

    def create_task(
        self,
        spec: ModelSpec,
        path: str,
        body: dict[str, Any],
        *,
        api_key_id: str,
        request_id: str,
        planned_failure: tuple[str, str] | None = None,
    ) -> Task:
        """Admit a validated submit: rate and concurrency limits, then a PENDING task and its render."""
        pending, running = self.timing_for(spec, body)
        with self._lock:
            now = self.now()
            if self.config.limits:
                if not self._rates.allow(f"submit:{spec.id}", now, spec.submit_rps):
                    self.limit_hits["submit.rate"] += 1
                    raise throttled()
                if self.config.concurrency_mode == "reject" and self._unfinished(spec.id) >= spec.concurrency_limit:
                    self.limit_hits["submit.concurrency"] += 1
                    raise throttled("Too many concurrent requests.", code="Throttling.Concurrency")
            task = Task(
                task_id=str(uuid.uuid4()),
                model=str(body.get("model")),
                spec=spec,
                path=path,
                body=body,
                request_id=request_id,
                api_key_id=api_key_id,
                submit_at=now,
                pending_seconds=pending,
                running_seconds=running,
                planned_failure=planned_failure,
            )
            self._tasks[task.task_id] = task
            if planned_failure is None:
                self._renders = [f for f in self._renders if not f.done()]
                self._renders.append(self._executor.submit(self._render, task))
            else:
                task.rendered.set()
        return task

    def _unfinished(self, model_id: str) -> int:
        self._refresh(self.now())
        return sum(1 for t in self._tasks.values() if t.spec.id == model_id and t.status in (PENDING, RUNNING))

    def _render(self, task: Task) -> None:
        try:
            plan: Plan = plan_render(task.spec, task.body, self._fetch_for(task))
            job = plan.job
            path = self.cache.path_for(job, self.config.result_padding_bytes)
            result = RenderResult(path, job.width, job.height, job.seconds, job.audio, plan.reference_video_seconds)
            with self._lock:
                task.result = result
        except Exception as error:  # noqa: BLE001 - any render problem becomes a FAILED task, as on the server
            with self._lock:
                task.render_error = f"{type(error).__name__}: {error}"
        finally:
            with self._lock:
                task.render_done_at = self.now()
            task.rendered.set()

    def fetch_input(self, url: str) -> bytes | None:
        """The bytes behind an input URL (oss:// upload, data: URI, http(s) when allowed); None if unreadable."""
        fetch: Any = self._fetch_for(None)
        return fetch(url)

    def _fetch_for(self, task: Task | None) -> Any:
        def fetch(url: str) -> bytes | None:
            if url.startswith("oss://"):
                upload = self._uploads.get(url[len("oss://"):])
                return upload.path.read_bytes() if upload else None
            if url.startswith("data:"):
                return decode_data_uri(url)
            if url.startswith(("http://", "https://")) and self.config.fetch_remote_inputs:
                return fetch_remote(url)
            return None

        return fetch

    def _renders_done(self) -> None:
        self.wait_rendered(60.0)

    def wait_rendered(self, timeout: float = 30.0) -> bool:
        """Block until every render started so far has finished (tests); False on timeout."""
        with self._lock:
            pending = [f for f in self._renders if not f.done()]
        done, not_done = wait(pending, timeout=timeout)
        return not not_done

    def _refresh(self, now: float) -> None:
        """Advance every task to `now`: start queued tasks as slots free up, finish due ones, in time order."""
        # (time, rank, sequence, kind, task): at equal times a finish frees its slot before a start takes one.
        events: list[tuple[float, int, int, str, Task]] = []
        for task in self._tasks.values():
            if task.status == PENDING and task.ready_at <= now:
                events.append((task.ready_at, 1, next(self._sequence), "ready", task))
            elif task.status == RUNNING:
                due = task.finish_due()
                if due is not None and due <= now:
                    events.append((due, 0, next(self._sequence), "finish", task))
        heapq.heapify(events)
        running = Counter(t.spec.id for t in self._tasks.values() if t.status == RUNNING)
        waiting: dict[str, deque[Task]] = {}
        while events:
            at, _, _, kind, task = heapq.heappop(events)
            model = task.spec.id
            if kind == "finish":
                if task.status != RUNNING:
                    continue
                self._finish(task, at)
                running[model] -= 1
                queue = waiting.get(model)
                if queue:
                    self._start(queue.popleft(), at, now, events, running)
            elif task.status == PENDING:
                if self._has_slot(task.spec, running):
                    self._start(task, at, now, events, running)
                else:
                    waiting.setdefault(model, deque()).append(task)
                    if task.task_id not in self._queued:
                        self._queued.add(task.task_id)
                        self.limit_hits["queued"] += 1

    def _has_slot(self, spec: ModelSpec, running: Counter[str]) -> bool:
        if not self.config.limits or self.config.concurrency_mode == "reject":
            return True
        return running[spec.id] < spec.concurrency_limit

    def _start(self, task: Task, at: float, now: float, events: list[Any], running: Counter[str]) -> None:
        task.status = RUNNING
        task.scheduled_at = at
        running[task.spec.id] += 1
        due = task.finish_due()
        if due is not None and due <= now:
            heapq.heappush(events, (due, 0, next(self._sequence), "finish", task))

    def _finish(self, task: Task, at: float) -> None:
        task.end_at = at
        if task.planned_failure is not None:
            task.status, (task.code, task.message) = FAILED, task.planned_failure
        elif task.render_error is not None or task.result is None:
            task.status, task.code, task.message = FAILED, "InternalError.Algo", FAILURE_MESSAGES["InternalError.Algo"]
        else:
            task.status = SUCCEEDED

    def _expired(self, task: Task, now: float) -> bool:
        return now - task.submit_at > self.task_ttl()

    def get_task(self, task_id: str) -> Task | None:
        """The task as of now; None when it never existed or has expired (the API says UNKNOWN)."""
        with self._lock:
            now = self.now()
            self._refresh(now)
            self.queries[task_id] += 1
            task = self._tasks.get(task_id)
            if task is None or self._expired(task, now):
                return None
            return task

    def cancel(self, task_id: str) -> bool:
        """Cancel a PENDING task; False when it is not PENDING (or unknown)."""
        with self._lock:
            now = self.now()
            self._refresh(now)
            task = self._tasks.get(task_id)
            if task is None or self._expired(task, now) or task.status != PENDING:
                return False
            task.status = CANCELED
            task.end_at = now
            return True

    def list_tasks(self, query: ListQuery) -> list[Task]:
        """Tasks submitted in [start, end] matching the filters, newest first."""
        with self._lock:
            now = self.now()
            self._refresh(now)
            found = [
                task
                for task in self._tasks.values()
                if query.start <= task.submit_at <= query.end
                and not self._expired(task, now)
                and _matches(task, query, self.config.region)
            ]
        return sorted(found, key=lambda t: t.submit_at, reverse=True)

    def task_count(self) -> int:
        """How many tasks were created since start (expired ones included)."""
        with self._lock:
            return len(self._tasks)

    @property
    def tasks(self) -> list[Task]:
        with self._lock:
            self._refresh(self.now())
            return list(self._tasks.values())

    def limit_counts(self) -> dict[str, int]:
        """How often each limit was hit since start (see `limit_hits`)."""
        with self._lock:
            self._refresh(self.now())
            return dict(self.limit_hits)

    def counts_by_status(self) -> dict[str, int]:
        with self._lock:
            now = self.now()
            self._refresh(now)
            return dict(Counter(UNKNOWN if self._expired(t, now) else t.status for t in self._tasks.values()))

    # ---- query bodies -----------------------------------------------------------------------

    def task_output(self, task: Task, base_url: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """`output` and `usage` of GET /tasks/{id} for this task (dashscope-api.md §3.2)."""
        out: dict[str, Any] = {"task_id": task.task_id, "task_status": task.status,
                               "submit_time": self.format_time(task.submit_at)}
        if task.scheduled_at is not None:
            out["scheduled_time"] = self.format_time(task.scheduled_at)
        if task.end_at is not None:
            out["end_time"] = self.format_time(task.end_at)
        if task.status == RUNNING:
            out["task_metrics"] = {"TOTAL": 1, "SUCCEEDED": 0, "FAILED": 0}
        if task.status == FAILED:
            out["code"], out["message"] = task.code, task.message
        if task.status != SUCCEEDED or task.result is None:
            return out, None
        out["orig_prompt"] = task.prompt
        if self._rewrites_prompt(task):
            out["actual_prompt"] = actual_prompt(task.prompt)
        if task.spec.usage_style in ("s2v", "animate"):
            out["results"] = {"video_url": self.result_url(task, base_url)}  # an object, not a list (§4.2, §5)
        else:
            out["video_url"] = self.result_url(task, base_url)
        return out, usage_for(task.spec, task.parameters, task.result)

    @staticmethod
    def _rewrites_prompt(task: Task) -> bool:
        """`actual_prompt` comes back when prompt_extend is on, except from wan2.6 models (§3.2)."""
        return (
            task.spec.prompt_extend
            and task.parameters.get("prompt_extend", True) is not False
            and not task.spec.id.startswith("wan2.6")
        )

    def list_entry(self, task: Task) -> dict[str, Any]:
        """One item of GET /tasks `data` (epoch milliseconds, §3.3)."""
        group_task = "image2video" if task.spec.endpoint == "image2video" else "video-generation"
        entry: dict[str, Any] = {
            "api_key_id": task.api_key_id,
            "caller_parent_id": "1000000000000000",
            "caller_uid": "1000000000000000",
            "gmt_create": _ms(task.submit_at),
            "model_name": task.model,
            "region": self.config.region,
            "request_id": task.request_id,
            "status": task.status,
            "task_id": task.task_id,
            "user_api_unique_key": f"apikey:v1:aigc:{group_task}:video-synthesis:{task.model}",
        }
        if task.scheduled_at is not None:
            entry["start_time"] = _ms(task.scheduled_at)
        if task.end_at is not None:
            entry["end_time"] = _ms(task.end_at)
        return entry

    # ---- signed result URLs -----------------------------------------------------------------

    def _sign(self, text: str) -> str:
        return base64.b64encode(hmac.new(self._secret, text.encode(), hashlib.sha1).digest()).decode()

    def result_url(self, task: Task, base_url: str) -> str:
        assert task.end_at is not None
        expires = int(task.end_at + self.url_ttl())
        name = f"{task.task_id}.mp4"
        signature = quote(self._sign(f"GET\n{expires}\n/{name}"), safe="")
        return (f"{base_url.rstrip('/')}/__results/{name}?Expires={expires}"
                f"&OSSAccessKeyId={RESULT_ACCESS_KEY_ID}&Signature={signature}")

    def result_file(self, name: str, expires: str | None, access_key: str | None, signature: str | None) -> Path:
        """The file behind a signed result URL; OssFailure when the URL is bad, expired or unknown."""
        if not expires or not signature or not access_key:
            raise OssFailure(403, "AccessDenied", "Anonymous access is forbidden for this operation.")
        if access_key != RESULT_ACCESS_KEY_ID:
            raise OssFailure(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our "
                             "records.", OSSAccessKeyId=access_key)
        if not hmac.compare_digest(self._sign(f"GET\n{expires}\n/{name}"), signature):
            raise OssFailure(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                             "signature you provided. Check your key and signing method.")
        now = self.now()
        if not expires.isdigit() or int(expires) < now:
            raise OssFailure(403, "AccessDenied", "Request has expired.", Expires=expires,
                             ServerTime=datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
        with self._lock:
            task = self._tasks.get(name.removesuffix(".mp4"))
            result = task.result if task is not None and task.status == SUCCEEDED else None
        if result is None or not result.path.exists():
            raise OssFailure(404, "NoSuchKey", "The specified key does not exist.", Key=name)
        return result.path

    # ---- temporary uploads ------------------------------------------------------------------

    def issue_policy(self, model: str, upload_host: str) -> dict[str, Any]:
        """The `data` of GET /uploads?action=getPolicy (dashscope-api.md §1.4), bound to `model`."""
        now = self.now()
        day = datetime.fromtimestamp(now, self.tz).strftime("%Y-%m-%d")
        upload_dir = f"dashscope-instant/{uuid.uuid4().hex}/{day}/{uuid.uuid4()}"
        expiration = datetime.fromtimestamp(now + self.config.policy_ttl_seconds, UTC)
        max_bytes = self.config.max_upload_mb * 1024 * 1024
        document = {
            "expiration": expiration.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "conditions": [
                ["content-length-range", 0, max_bytes],
                ["starts-with", "$key", upload_dir],
                {"bucket": OSS_BUCKET},
                {"x-oss-object-acl": "private"},
                {"x-oss-forbid-overwrite": "true"},
            ],
        }
        policy = base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()
        with self._lock:
            self._policies[upload_dir] = model
        return {
            "policy": policy,
            "signature": self._sign(policy),
            "upload_dir": upload_dir,
            "upload_host": upload_host,
            "expire_in_seconds": int(self.config.policy_ttl_seconds),
            "max_file_size_mb": self.config.max_upload_mb,
            "capacity_limit_mb": 999999999,
            "oss_access_key_id": OSS_ACCESS_KEY_ID,
            "x_oss_object_acl": "private",
            "x_oss_forbid_overwrite": "true",
        }

    def accept_upload(self, fields: Mapping[str, str], source: BinaryIO, content_type: str) -> Upload:
        """Check an OSS form upload against its signed policy and store the file; OssFailure otherwise."""
        upload_dir = self.check_upload_fields(fields)
        key = fields["key"]
        size, md5, staged = self._stage_upload(source)
        if size > self.config.max_upload_mb * 1024 * 1024:
            staged.unlink(missing_ok=True)
            raise OssFailure(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size.")
        with self._lock:
            model = self._policies.get(upload_dir)
            if model is None:
                staged.unlink(missing_ok=True)
                raise OssFailure(403, "AccessDenied", "Invalid according to Policy: unknown upload directory.")
            if key in self._uploads and fields.get("x-oss-forbid-overwrite", "false").lower() == "true":
                staged.unlink(missing_ok=True)
                raise OssFailure(409, "FileAlreadyExists", "The object you specified already exists and can not "
                                 "be overwritten.")
            path = self.directory / "uploads" / hashlib.sha256(key.encode()).hexdigest()
            os.replace(staged, path)
            upload = Upload(
                key, model, path, size, fields.get("x-oss-content-type") or content_type, self.now(), md5
            )
            self._uploads[key] = upload
        return upload

    def check_upload_fields(self, fields: Mapping[str, str]) -> str:
        """The form's checks (fields, signature, policy, key), made before any file byte is stored; its upload dir."""
        for name in ("OSSAccessKeyId", "Signature", "policy", "key"):
            if not fields.get(name):
                raise OssFailure(400, "InvalidArgument", f"The form field {name} is required.")
        if fields["OSSAccessKeyId"] != OSS_ACCESS_KEY_ID:
            raise OssFailure(403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our "
                             "records.", OSSAccessKeyId=fields["OSSAccessKeyId"])
        policy = fields["policy"]
        if not hmac.compare_digest(self._sign(policy), fields["Signature"]):
            raise OssFailure(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                             "signature you provided. Check your key and signing method.")
        document = json.loads(base64.b64decode(policy))
        expiration = datetime.strptime(document["expiration"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        if expiration.timestamp() < self.now():
            raise OssFailure(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
        key = fields["key"]
        upload_dir = _policy_dir(document["conditions"])
        if not key.startswith(upload_dir + "/") or len(key) <= len(upload_dir) + 1:
            raise OssFailure(403, "AccessDenied", "Invalid according to Policy: Policy Condition failed: "
                             f'["starts-with", "$key", "{upload_dir}"]')
        return upload_dir

    def _stage_upload(self, source: BinaryIO) -> tuple[int, str, Path]:
        """Copy an uploaded file to a private temporary name in chunks: (size, md5 hex, path)."""
        folder = self.directory / "uploads"
        with private_umask():
            folder.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.md5(), 0
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".staging-", delete=False) as target:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                digest.update(chunk)
                size += len(chunk)
                target.write(chunk)
        return size, digest.hexdigest(), Path(target.name)

    def resolve_oss(self, url: str, spec: ModelSpec, model: str) -> Upload:
        """The upload behind an oss:// input of a submit for `model`; ApiFailure 400 when unusable."""
        key = url[len("oss://"):]
        with self._lock:
            upload = self._uploads.get(key)
        if upload is None or self.now() - upload.uploaded_at > self.config.upload_ttl_seconds:
            raise ApiFailure(400, "InvalidParameter", f"The provided URL does not appear to be valid: {url} was not "
                             "found (temporary files are kept 48 hours and only for the account that uploaded them).")
        bound = get_model(upload.model)
        if upload.model != model and (bound is None or bound.id != spec.id):
            raise ApiFailure(400, "InvalidParameter", f"The provided URL does not appear to be valid: {url} was "
                             f"uploaded for model {upload.model} and cannot be used by model {model}; upload it again "
                             f"with model={model}.")
        return upload

    def upload_count(self) -> int:
        with self._lock:
            return len(self._uploads)

    # ---- shutdown ---------------------------------------------------------------------------

    def close(self, wait: bool = True) -> None:
        """Stop rendering (queued renders are dropped) and remove the temporary folder if it is ours."""
        if isinstance(self.clock, ManualClock):
            self.clock.remove_barrier(self._renders_done)
        self._executor.shutdown(wait=wait, cancel_futures=True)
        if self._own_dir:
            shutil.rmtree(self.directory, ignore_errors=True)


def _ms(epoch: float) -> int:
    return int(epoch * 1000)


def _policy_dir(conditions: Iterable[Any]) -> str:
    for condition in conditions:
        if isinstance(condition, list) and condition[:2] == ["starts-with", "$key"]:
            return str(condition[2])
    return ""


def _matches(task: Task, query: ListQuery, region: str) -> bool:
    if query.task_id and task.task_id != query.task_id:
        return False
    if query.model_name:
        wanted = get_model(query.model_name)
        if task.model != query.model_name and (wanted is None or wanted.id != task.spec.id):
            return False
    if query.status and task.status != query.status.upper():
        return False
    if query.api_key_id and task.api_key_id != query.api_key_id:
        return False
    return not query.region or query.region == region


def actual_prompt(prompt: str) -> str:
    """A stand-in for the server's LLM prompt rewrite: deterministic and visibly longer."""
    base = prompt.strip() or "The scene from the input comes to life"
    return f"{base}. Cinematic lighting, smooth camera motion, rich detail, natural colours."


def usage_for(spec: ModelSpec, parameters: Mapping[str, Any], result: RenderResult) -> dict[str, Any]:
    """The `usage` block of a SUCCEEDED task, in the shape of the model's family (catalogue usage_style)."""
    seconds: int | float = int(result.seconds) if float(result.seconds).is_integer() else result.seconds
    size = f"{result.width}*{result.height}"
    tier = resolution_tier(spec, size=size, resolution=_text(parameters.get("resolution")))
    sr = int(tier.rstrip("Pp")) if tier.rstrip("Pp").isdigit() else result.height
    style = spec.usage_style
    if style in ("wan26", "wan26_audio_flag", "r2v26"):
        usage: dict[str, Any] = {
            "duration": seconds,
            "size": size,
            "input_video_duration": 0,
            "output_video_duration": seconds,
            "video_count": 1,
            "SR": sr,
        }
        if style == "r2v26":
            refs = result.reference_video_seconds
            usage["input_video_duration"] = int(refs) if float(refs).is_integer() else refs
            usage["duration"] = float(result.seconds + refs)
        if style == "wan26_audio_flag":
            usage["audio"] = result.audio
        return usage
    if style == "t2v_legacy":
        return {"video_count": 1, "video_duration": seconds, "video_ratio": size}
    if style == "i2v22":
        return {"duration": seconds, "SR": sr, "video_count": 1}
    if style == "i2v21":
        return {"video_duration": seconds, "video_ratio": "standard", "video_count": 1}
    if style == "kf2v22":
        return {"video_duration": seconds, "video_count": 1, "SR": sr}
    if style == "kf2v21":
        return {"video_duration": seconds, "video_count": 1, "video_ratio": "standard"}
    if style == "vace":
        return {"video_duration": seconds, "video_ratio": size, "video_count": 1}
    if style == "wan30":
        refs = float(result.reference_video_seconds)
        return {
            "video_count": 1,
            "duration": float(result.seconds) + refs,
            "input_video_duration": refs,
            "output_video_duration": float(result.seconds),
            "fps": 30,
            "SR": sr,
            "ratio": _ratio_of(result.width, result.height),  # a concrete ratio, also for "adaptive"
        }
    if style in ("happyhorse", "happyhorse_i2v"):
        usage = {"duration": seconds, "input_video_duration": 0, "output_video_duration": seconds, "video_count": 1,
                 "SR": sr}
        if style == "happyhorse":
            usage["ratio"] = _text(parameters.get("ratio")) or spec.default_ratio or _ratio_of(result.width,
                                                                                                 result.height)
        return usage
    if style == "s2v":
        return {"duration": float(result.seconds), "size": size, "fps": 16, "video_count": 1, "SR": sr}
    if style == "animate":
        quality = {"wan-std": "standard", "wan-pro": "pro"}.get(str(parameters.get("mode")), "standard")
        return {"video_duration": float(result.seconds), "video_ratio": quality}
    if style == "happyhorse_edit":
        refs = float(result.reference_video_seconds)
        return {"duration": float(result.seconds) + refs, "input_video_duration": refs,
                "output_video_duration": float(result.seconds), "video_count": 1, "SR": sr}
    if style == "wan27":
        ratio = _text(parameters.get("ratio")) or _ratio_of(result.width, result.height)
        return {"duration": seconds, "output_video_duration": seconds, "SR": sr, "ratio": ratio, "video_count": 1}
    return {"duration": seconds, "video_count": 1}


def _ratio_of(width: int, height: int) -> str:
    for name, value in (("16:9", 16 / 9), ("9:16", 9 / 16), ("1:1", 1.0), ("4:3", 4 / 3), ("3:4", 3 / 4)):
        if abs(width / height - value) < 0.03:
            return name
    return f"{width}:{height}"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
