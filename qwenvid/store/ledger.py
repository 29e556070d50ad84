"""The task ledger: one SQLite row per generation attempt, written before the submit leaves.

The ledger is what makes "nothing is lost" true (product.md §4). A row is created before the
submit request is sent, the task id is stored the moment it arrives, and every later fact
(status changes, result URL and its expiry, usage, the downloaded file) is added to the same row.
There is no column for the API key or any header: secrets cannot end up here.

    ledger = Ledger(home / "ledger.sqlite3")

Writing, in the order a generation runs:
    create(mode=, model=, endpoint=, request_json=, tier=, ...)      local_state "created"
    mark_submitting(id, request_json=None)                           "submitting" (request about to leave)
    mark_submitted(id, task_id, request_id, status)                  "submitted"
    mark_outcome_unknown(id, error)                                  "outcome_unknown" (ambiguous failure)
    mark_rejected(id, code, message)                                 "rejected" (the server said no; nothing billed)
    update_remote(id_or_task, status, **fields) -> LedgerRow         status_changed_at moves only on a change
    apply_task_info(id_or_task, info) -> LedgerRow                   the same, from a client TaskInfo
    set_result(id_or_task, video_url=, usage=, end_time=, ...)       SUCCEEDED with its result
    set_download(id, path, size, sha256) / set_download_error(id, msg)
    adopt(local_id, task_id, status)                                 reconciliation found the task
    record_external(task_id, ...)                                    a task this ledger never created

Reading:
    get(key)              local id, task id, or a unique prefix of either; None when nothing matches;
                          ValidationError when a prefix matches several rows
    list(status=, mode=, model=, since=, until=, limit=)             newest first
    unfinished()          submitted and not terminal, or SUCCEEDED, not downloaded, URL not expired
    outcome_unknown()     rows to reconcile (plus rows stuck in "submitting" by a crash)
    match_remote(row, remote_tasks) -> ReconcileMatch                which remote task this row created, and why
    known_task_ids() -> set[str]                                     task ids rows already own

Module functions: reconcile_candidates(row, remote_tasks, taken=) -> remote task | None and
pick_reconcile_match(...) -> ReconcileMatch (the same, with the reason), billed_seconds_from_usage,
url_expiry, request_fingerprint, parse_server_time.

LedgerRow fields mirror the columns; `request_json` and `usage` are parsed dicts; `to_dict()` is
the `--json` shape.
    totals(since=, until=, model=) -> list[ModelTotal]               billed seconds per model
    by_fingerprint(fingerprint) -> list[LedgerRow]                   earlier attempts of the same request

Concurrency: each thread gets its own connection; the database runs in WAL mode with a busy
timeout and every write is one short `BEGIN IMMEDIATE` transaction, so several threads and
processes can share one file. Schema changes are ordered migration functions keyed by
`PRAGMA user_version` and applied when the ledger is opened.

Times written by the ledger are UTC ISO-8601 strings; `submit_time` and `end_time` are kept
exactly as the server reported them (DashScope server time, see dashscope-api.md §3.2).
"""

from __future__ import annotations

import builtins
import hashlib
import json
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, urlsplit

from qwenvid.errors import QwenvidError, ValidationError, scrub, scrub_id
from qwenvid.privacy import create_private_file, narrow_existing, private_dir, private_umask
from qwenvid.store.connect import connect
from qwenvid.store.sqlite_tx import write_transaction

LOCAL_STATES = ("created", "submitting", "submitted", "outcome_unknown", "rejected")
REMOTE_STATUSES = ("PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN")
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"})
# A later UNKNOWN (the task aged out of the server's 24 h memory) must not erase what we learned.
_FINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})

RESULT_URL_LIFETIME = timedelta(hours=24)  # dashscope-api.md §5
# DashScope reports task times in Beijing time (dashscope-api.md §3.2 examples).
SERVER_TIMEZONE = timezone(timedelta(hours=8))
# A row left in "submitting" this long is a crash mid-submit, not a submit in progress.
STALE_SUBMITTING = timedelta(minutes=10)
# Reconciliation window around the moment the submit left (seconds): clock skew before, queueing after.
RECONCILE_WINDOW = (-5.0, 120.0)

_BUSY_TIMEOUT_SECONDS = 15.0


# --------------------------------------------------------------------------- schema


def _migration_1_initial(conn: sqlite3.Connection) -> None:
    conn.execute(
        """
        CREATE TABLE tasks (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            mode TEXT,
            model TEXT,
            endpoint TEXT,
            request_json TEXT,
            fingerprint TEXT,
            output_target TEXT,
            prompt TEXT,
            duration REAL,
            tier TEXT,
            billable_seconds_estimate REAL,
            local_state TEXT NOT NULL,
            submitting_at TEXT,
            task_id TEXT UNIQUE,
            request_id TEXT,
            remote_status TEXT,
            status_changed_at TEXT,
            submit_time TEXT,
            end_time TEXT,
            error_code TEXT,
            error_message TEXT,
            usage_json TEXT,
            billed_seconds REAL,
            video_url TEXT,
            video_url_expires_at TEXT,
            actual_prompt TEXT,
            video_path TEXT,
            video_size INTEGER,
            video_sha256 TEXT,
            downloaded_at TEXT,
            download_error TEXT
        )
        """
    )


def _migration_2_origin_and_indexes(conn: sqlite3.Connection) -> None:
    # origin: "local" (created here), "adopted" (found by reconciliation), "external" (fetched by id).
    conn.execute("ALTER TABLE tasks ADD COLUMN origin TEXT NOT NULL DEFAULT 'local'")
    conn.execute("CREATE INDEX tasks_created_at ON tasks (created_at)")
    conn.execute("CREATE INDEX tasks_model_status ON tasks (model, remote_status)")
    conn.execute("CREATE INDEX tasks_fingerprint ON tasks (fingerprint)")


def _migration_3_base_url(conn: sqlite3.Connection) -> None:
    # The API base a task was submitted to: a task exists on one service only (a region, or an emulator),
    # so resume must not look for it anywhere else. NULL for rows written before this column existed.
    conn.execute("ALTER TABLE tasks ADD COLUMN base_url TEXT")


MIGRATIONS: Sequence[Callable[[sqlite3.Connection], None]] = (
    _migration_1_initial,
    _migration_2_origin_and_indexes,
    _migration_3_base_url,
)
SCHEMA_VERSION = len(MIGRATIONS)


def apply_migrations(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Bring the schema up to `target` inside one write transaction; returns the version found."""
    with write_transaction(conn):
        found = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if found > len(MIGRATIONS):
            raise QwenvidError(
                f"The ledger has schema version {found}, newer than this qwenvid understands ({SCHEMA_VERSION}).",
                hint="Upgrade qwenvid, or point QWENVID_HOME at another folder.",
            )
        for version in range(found, target):
            MIGRATIONS[version](conn)
        if target > found:
            conn.execute(f"PRAGMA user_version = {int(target)}")
    return found


# --------------------------------------------------------------------------- rows


@dataclass(frozen=True)
class LedgerRow:
    """One generation attempt as the ledger knows it."""

    id: str
    created_at: str
    updated_at: str
    mode: str | None
    model: str | None
    endpoint: str | None
    request_json: dict[str, Any] | None
    fingerprint: str | None
    output_target: str | None
    prompt: str | None
    duration: float | None
    tier: str | None
    billable_seconds_estimate: float | None
    local_state: str
    submitting_at: str | None
    task_id: str | None
    request_id: str | None
    remote_status: str | None
    status_changed_at: str | None
    submit_time: str | None
    end_time: str | None
    error_code: str | None
    error_message: str | None
    usage: dict[str, Any] | None
    billed_seconds: float | None
    video_url: str | None
    video_url_expires_at: str | None
    actual_prompt: str | None
    video_path: str | None
    video_size: int | None
    video_sha256: str | None
    downloaded_at: str | None
    download_error: str | None
    origin: str = "local"
    base_url: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.remote_status in TERMINAL_STATUSES

    @property
    def is_downloaded(self) -> bool:
        return self.video_path is not None

    def to_dict(self) -> dict[str, Any]:
        """A stable JSON shape for `--json`."""
        return asdict(self)

    @classmethod
    def from_sql(cls, row: sqlite3.Row) -> LedgerRow:
        values = dict(row)
        values["request_json"] = _loads(values["request_json"])
        values["usage"] = _loads(values.pop("usage_json"))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True)
class ModelTotal:
    """Billed seconds of one model over a period."""

    model: str
    tasks: int
    succeeded: int
    billed_seconds: float
    estimated_seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RemoteTaskLike(Protocol):
    """What reconciliation needs from an entry of the account task list (`GET /tasks`)."""

    @property
    def task_id(self) -> str: ...
    @property
    def model_name(self) -> str | None: ...
    @property
    def gmt_create(self) -> int | float | str | datetime | None: ...
    @property
    def status(self) -> str | None: ...


@dataclass(frozen=True)
class ReconcileMatch:
    """The outcome of matching an outcome-unknown row against the account task list."""

    task: Any | None
    reason: str
    candidates: tuple[str, ...] = ()

    @property
    def found(self) -> bool:
        return self.task is not None


# --------------------------------------------------------------------------- pure helpers


class DuplicateTaskId(QwenvidError):
    """The service gave one task id to two submits (exit 1; the second row stays outcome unknown)."""


def utcnow() -> datetime:
    from qwenvid.timestamps import wall_now

    return wall_now()


def iso(moment: datetime) -> str:
    """The one format the ledger writes, so that string order is time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def new_local_id(now: datetime | None = None) -> str:
    """A time-sortable local id, e.g. "qv-20251125-170412345-9f3a2c"."""
    now = (now or utcnow()).astimezone(UTC)
    return f"qv-{now:%Y%m%d-%H%M%S}{now.microsecond // 1000:03d}-{secrets.token_hex(3)}"


def request_fingerprint(model: str, body: Mapping[str, Any], input_files: Iterable[str | Path] = ()) -> str:
    """sha256 over the model, the normalized body and the contents of the local input files.

    Two attempts with the same fingerprint asked for the same video; the runner can warn before
    paying twice.
    """
    digest = hashlib.sha256()
    digest.update(model.encode())
    digest.update(b"\0")
    digest.update(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())
    for path in sorted(str(p) for p in input_files):
        digest.update(b"\0")
        digest.update(_file_sha256(Path(path)).encode())
    return digest.hexdigest()


def billed_seconds_from_usage(usage: Mapping[str, Any] | None, mode: str | None = None) -> float | None:
    """Seconds billed according to a task's `usage` (dashscope-api.md §3.2, shapes differ per family).

    wan2.6+ report `output_video_duration` (r2v adds `input_video_duration`, also billed) and a
    `duration` that already is input + output; older families report `video_duration`.
    """
    if not usage:
        return None
    output = _number(usage.get("output_video_duration"))
    if output is not None:
        extra = _number(usage.get("input_video_duration")) if mode == "r2v" else None
        # Wan 3.0 and HappyHorse edit bill the input video too, whatever the row's mode: their `duration` is
        # input + output (dashscope-api-2026.md §1.3, §2.3), so a duration above the output is the bill.
        total = _number(usage.get("duration"))
        if extra is None and total is not None and total > output:
            return total
        return output + (extra or 0.0)
    for key in ("duration", "video_duration"):
        value = _number(usage.get(key))
        if value is not None:
            return value
    return None


def url_expiry(video_url: str | None, end_time: str | None) -> str | None:
    """When a result URL stops working: its signed `Expires` (epoch seconds), else end_time + 24 h."""
    if not video_url:
        return None
    query = parse_qs(urlsplit(video_url).query)
    expires = query.get("Expires") or query.get("expires")
    if expires and expires[0].isdigit():
        return iso(datetime.fromtimestamp(int(expires[0]), UTC))
    finished = parse_server_time(end_time)
    return iso(finished + RESULT_URL_LIFETIME) if finished else None


def parse_server_time(text: str | None) -> datetime | None:
    """A DashScope task time ("2025-09-29 14:18:52.331", Beijing time unless it says otherwise)."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=SERVER_TIMEZONE)


def remote_created_at(value: int | float | str | datetime | None) -> datetime | None:
    """`gmt_create` of the task list: epoch milliseconds on the wire, a datetime after parsing."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        if value.strip().isdigit():
            value = int(value.strip())
        else:
            return parse_server_time(value)
    return datetime.fromtimestamp(float(value) / 1000.0, UTC)


def reconcile_candidates(
    row: LedgerRow,
    remote_tasks: Iterable[Any],
    *,
    taken: Iterable[str] = (),
    window: tuple[float, float] = RECONCILE_WINDOW,
) -> Any | None:
    """The remote task `row` created, or None (nothing matched, or the match is ambiguous).

    `taken` must hold the task ids other rows already own (`Ledger.known_task_ids()`), or a
    neighbouring submit of the same model could be adopted; `Ledger.match_remote` does that for
    you and also says why nothing matched.
    """
    return pick_reconcile_match(row, remote_tasks, taken=taken, window=window).task


def pick_reconcile_match(
    row: LedgerRow,
    remote_tasks: Iterable[Any],
    *,
    taken: Iterable[str] = (),
    window: tuple[float, float] = RECONCILE_WINDOW,
) -> ReconcileMatch:
    """The remote task an outcome-unknown row created: same model, created in the window, not taken.

    Exactly one candidate is a match; none or several give no match and say why, because
    adopting the wrong task would be worse than asking the user.
    """
    sent_at = datetime.fromisoformat(row.submitting_at or row.created_at)
    taken_ids = set(taken)
    earliest, latest = sent_at + timedelta(seconds=window[0]), sent_at + timedelta(seconds=window[1])
    candidates = []
    for task in remote_tasks:
        created = remote_created_at(getattr(task, "gmt_create", None))
        if (
            task.task_id not in taken_ids
            and _same_model(getattr(task, "model_name", None), row.model)
            and created is not None
            and earliest <= created <= latest
        ):
            candidates.append(task)
    ids = tuple(task.task_id for task in candidates)
    if len(candidates) == 1:
        return ReconcileMatch(candidates[0], f"task {ids[0]} matches model {row.model} and submit time", ids)
    if not candidates:
        return ReconcileMatch(
            None,
            f"no {row.model} task created between {iso(earliest)} and {iso(latest)} that is not already known",
        )
    return ReconcileMatch(None, f"ambiguous: {len(ids)} {row.model} tasks in the window ({', '.join(ids)})", ids)


# --------------------------------------------------------------------------- the ledger


_UPDATABLE_REMOTE_FIELDS = frozenset(
    {"request_id", "submit_time", "end_time", "error_code", "error_message", "usage", "video_url", "actual_prompt"}
)


class Ledger:
    """The SQLite task ledger. Safe to share between threads; several processes may open the same file."""

    def __init__(self, path: str | Path, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.path = Path(path)
        self._clock = clock
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        # Private from the first byte: SQLite gives -wal/-shm the mode of the database file.
        private_dir(self.path.parent)
        create_private_file(self.path)
        narrow_existing(*(self.path.with_name(self.path.name + end) for end in ("-wal", "-shm")))
        with private_umask():
            apply_migrations(self._conn())

    # -- connections and transactions

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            with private_umask():
                conn = connect(
                    self.path, timeout=_BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
                )
                conn.row_factory = sqlite3.Row
                conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_SECONDS * 1000)}")
                conn.execute("PRAGMA journal_mode = WAL")
            self._local.conn = conn
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._conn())

    def close(self) -> None:
        """Close every connection this ledger opened (in any thread)."""
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._conn().execute("PRAGMA user_version").fetchone()[0])

    def _now(self) -> str:
        return iso(self._clock())

    # -- writing

    def create(
        self,
        *,
        mode: str,
        model: str,
        endpoint: str,
        request_json: Mapping[str, Any],
        prompt: str | None = None,
        duration: float | None = None,
        tier: str | None = None,
        billable_seconds_estimate: float | None = None,
        output_target: str | Path | None = None,
        fingerprint: str | None = None,
        base_url: str | None = None,
        origin: str = "local",
    ) -> LedgerRow:
        """Write the row for a generation before its submit request leaves.

        `origin="emulated"` marks a run against the local emulator: listed, but never billed in totals,
        never resumed (its emulator is gone) and never used to estimate real render times.
        """
        now = self._clock()
        values = {
            "created_at": iso(now),
            "updated_at": iso(now),
            "mode": mode,
            "model": model,
            "endpoint": endpoint,
            "request_json": _scrubbed_json(request_json),
            "fingerprint": fingerprint or request_fingerprint(model, request_json),
            "output_target": str(output_target) if output_target is not None else None,
            "prompt": prompt,
            "duration": duration,
            "tier": tier,
            "billable_seconds_estimate": billable_seconds_estimate,
            "local_state": "created",
            "origin": origin,
            "base_url": base_url,
        }
        return self._insert(values, now)

    def mark_submitting(self, local_id: str, request_json: Mapping[str, Any] | None = None) -> LedgerRow:
        """The submit request is about to leave; reconciliation measures its window from here.

        `request_json` replaces the stored body with the one actually sent (uploads resolved to
        `oss://` URLs); the fingerprint keeps describing the request as the user made it.
        """
        changes: dict[str, Any] = {"local_state": "submitting", "submitting_at": self._now()}
        if request_json is not None:
            changes["request_json"] = _scrubbed_json(request_json)
        return self._update(local_id, changes)

    def mark_unsent(self, local_id: str) -> LedgerRow:
        """The submit was answered 429 (or never connected): no task exists, the request waits to be sent again.

        Back in `created`, so a process killed during the back-off leaves a row `resume` closes at once as
        never submitted, instead of an outcome to look up in the task list.
        """
        return self._update(local_id, {"local_state": "created"})

    def mark_submitted(
        self, local_id: str, task_id: str, request_id: str | None = None, status: str = "PENDING"
    ) -> LedgerRow:
        """Store the task id the moment it arrives.

        A service that answers two submits with one task id cannot be believed for either: the row stays
        "outcome unknown" (resume settles it through the task list) and DuplicateTaskId says so in one line.
        """
        now = self._now()
        try:
            return self._update(
                local_id,
                {
                    "local_state": "submitted",
                    "task_id": task_id,
                    "request_id": request_id,
                    "remote_status": status,
                    "status_changed_at": now,
                },
            )
        except sqlite3.IntegrityError:
            other = self.get(task_id)
            named = other.id if other is not None else "another row"
            self.mark_outcome_unknown(
                local_id, f"the service answered with task id {task_id}, which it had already given {named}"
            )
            raise DuplicateTaskId(
                f"The service answered this submit ({local_id}) with task id {task_id}, which it already gave "
                f"{named}; both rows are kept and {local_id} is left 'outcome unknown'.",
                hint="Run `qwenvid resume`: it looks for this submit's own task in the account task list.",
                task_id=task_id,
            ) from None

    def mark_outcome_unknown(self, local_id: str, error: str | BaseException) -> LedgerRow:
        """The submit left but no usable answer came back: a task may exist (resume reconciles)."""
        return self._update(local_id, {"local_state": "outcome_unknown", "error_message": scrub(str(error))})

    def mark_rejected(self, local_id: str, code: str | None, message: str | None) -> LedgerRow:
        """The server refused the submit; no task exists and nothing is billed."""
        return self._update(
            local_id,
            {"local_state": "rejected", "error_code": code, "error_message": scrub(message) if message else None},
        )

    def set_error_code(self, local_id: str, code: str) -> LedgerRow:
        """Set a row's error code alone (reconciliation marks an unknown outcome final this way)."""
        with self._write() as conn:
            current = self._row_for_write(conn, local_id)
            conn.execute("UPDATE tasks SET error_code = ? WHERE id = ?", (code, current.id))
            return self._select(conn, current.id)

    def update_remote(self, key: str, status: str, **fields: Any) -> LedgerRow:
        """Record what a status query said; `status_changed_at` moves only when the status changes.

        `key` is a local id or a task id. Accepted fields: request_id, submit_time, end_time,
        error_code, error_message, usage (dict), video_url, actual_prompt. None values are ignored,
        so a sparse answer never erases what an earlier one said. A later UNKNOWN does not replace
        SUCCEEDED, FAILED or CANCELED: the task merely aged out of the server's memory.
        """
        unknown = set(fields) - _UPDATABLE_REMOTE_FIELDS
        if unknown:
            raise TypeError(f"update_remote() got unexpected fields: {', '.join(sorted(unknown))}")
        status = status.upper()
        with self._write() as conn:
            current = self._row_for_write(conn, key)
            changes: dict[str, Any] = {}
            if not (status == "UNKNOWN" and current.remote_status in _FINAL_STATUSES):
                if status != current.remote_status:
                    changes["status_changed_at"] = self._now()
                changes["remote_status"] = status
            changes.update(self._remote_field_values(current, {k: v for k, v in fields.items() if v is not None}))
            return self._apply(conn, current.id, changes)

    def apply_task_info(self, key: str, info: Any) -> LedgerRow:
        """update_remote from a client TaskInfo (status, times, url, prompts, code, message, usage)."""
        return self.update_remote(
            key,
            info.status,
            request_id=getattr(info, "request_id", None),
            submit_time=getattr(info, "submit_time", None),
            end_time=getattr(info, "end_time", None),
            error_code=getattr(info, "code", None),
            error_message=getattr(info, "message", None),
            usage=getattr(info, "usage", None) or None,
            video_url=getattr(info, "video_url", None),
            actual_prompt=getattr(info, "actual_prompt", None),
        )

    def set_result(
        self,
        key: str,
        *,
        video_url: str | None,
        usage: Mapping[str, Any] | None = None,
        end_time: str | None = None,
        submit_time: str | None = None,
        actual_prompt: str | None = None,
    ) -> LedgerRow:
        """The task SUCCEEDED: keep its URL (and when it expires), usage and billed seconds."""
        return self.update_remote(
            key,
            "SUCCEEDED",
            video_url=video_url,
            usage=dict(usage) if usage else None,
            end_time=end_time,
            submit_time=submit_time,
            actual_prompt=actual_prompt,
        )

    def set_download(self, key: str, path: str | Path, size: int, sha256: str) -> LedgerRow:
        """The verified video is on disk."""
        with self._write() as conn:
            current = self._row_for_write(conn, key)
            # The file at this path is this row's video now: a row that still named it lost its file (overwritten).
            conn.execute(
                "UPDATE tasks SET video_path = NULL WHERE video_path = ? AND id != ?",
                (str(Path(path).resolve()), current.id),
            )
            return self._apply(
                conn,
                current.id,
                {
                    "video_path": str(Path(path).resolve()),
                    "video_size": int(size),
                    "video_sha256": sha256,
                    "downloaded_at": self._now(),
                    "download_error": None,
                },
            )

    def set_video_path(self, key: str, path: str | Path | None) -> LedgerRow:
        """qwenvid moved the row's video (`path`), or the file at its path is no longer it (None)."""
        with self._write() as conn:
            current = self._row_for_write(conn, key)
            return self._apply(conn, current.id, {"video_path": str(Path(path).resolve()) if path else None})

    def moved_video(self, old: str | Path, new: str | Path) -> None:
        """qwenvid moved a file: every row whose video was at `old` follows it to `new`."""
        with self._write() as conn:
            conn.execute(
                "UPDATE tasks SET video_path = ?, updated_at = ? WHERE video_path = ?",
                (str(Path(new).resolve()), self._now(), str(Path(old).resolve())),
            )

    def set_download_error(self, key: str, message: str) -> LedgerRow:
        """The download failed; `qwenvid fetch` may retry while the URL lives."""
        with self._write() as conn:
            current = self._row_for_write(conn, key)
            return self._apply(conn, current.id, {"download_error": scrub(message)})

    def adopt(self, local_id: str, task_id: str, status: str | None = None) -> LedgerRow:
        """Reconciliation found the task an outcome-unknown row created: the row owns it from now on."""
        with self._write() as conn:
            current = self._row_for_write(conn, local_id)
            owner = conn.execute("SELECT id FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
            if owner is not None and owner["id"] != current.id:
                raise QwenvidError(f"Task {task_id} already belongs to ledger row {owner['id']}.", task_id=task_id)
            changes: dict[str, Any] = {"local_state": "submitted", "task_id": task_id, "origin": "adopted"}
            if status:
                changes["remote_status"] = status.upper()
                changes["status_changed_at"] = self._now()
            return self._apply(conn, current.id, changes)

    def record_external(
        self,
        task_id: str,
        *,
        status: str | None = None,
        model: str | None = None,
        mode: str | None = None,
        prompt: str | None = None,
        request_id: str | None = None,
        base_url: str | None = None,
    ) -> LedgerRow:
        """A task this ledger did not create (e.g. `qwenvid fetch <foreign id>`); returns the known row if any."""
        with self._write() as conn:
            existing = conn.execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
            if existing is not None:
                return LedgerRow.from_sql(existing)
        now = self._clock()
        values = {
            "created_at": iso(now),
            "updated_at": iso(now),
            "mode": mode,
            "model": model,
            "prompt": prompt,
            "local_state": "submitted",
            "origin": "external",
            "base_url": base_url,
            "task_id": task_id,
            "request_id": request_id,
            "remote_status": status.upper() if status else None,
            "status_changed_at": iso(now) if status else None,
        }
        try:
            return self._insert(values, now)
        except sqlite3.IntegrityError:  # another process recorded it between our check and insert
            found = self.get(task_id)
            assert found is not None
            return found

    # -- reading

    def get(self, key: str) -> LedgerRow | None:
        """The row for a local id, a task id, or a unique prefix of either."""
        key = key.strip()
        if not key:
            return None
        conn = self._conn()
        exact = conn.execute("SELECT * FROM tasks WHERE id = ? OR task_id = ?", (key, key)).fetchone()
        if exact is not None:
            return LedgerRow.from_sql(exact)
        rows = conn.execute(
            "SELECT * FROM tasks WHERE substr(id, 1, ?) = ? OR substr(task_id, 1, ?) = ? ORDER BY created_at LIMIT 6",
            (len(key), key, len(key), key),
        ).fetchall()
        if len(rows) > 1:
            names = ", ".join(r["task_id"] or r["id"] for r in rows[:5])
            raise ValidationError(
                f"'{key}' matches several tasks: {names}{', ...' if len(rows) > 5 else ''}",
                field="task_id",
                value=key,
                hint="Give more characters of the task id.",
            )
        return LedgerRow.from_sql(rows[0]) if rows else None

    def list(
        self,
        *,
        status: str | Iterable[str] | None = None,
        mode: str | None = None,
        model: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> builtins.list[LedgerRow]:
        """Rows, newest first. `status` matches the remote status or the local state (e.g. "outcome_unknown")."""
        where: list[str] = []
        params: list[Any] = []
        if status is not None:
            wanted = [status] if isinstance(status, str) else list(status)
            marks = ", ".join("?" * len(wanted))
            where.append(f"(remote_status IN ({marks}) OR local_state IN ({marks}))")
            params += [s.upper() for s in wanted] + [s.lower() for s in wanted]
        for column, value in (("mode", mode), ("model", model)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            where.append("created_at >= ?")
            params.append(iso(since))
        if until is not None:
            where.append("created_at < ?")
            params.append(iso(until))
        sql = "SELECT * FROM tasks" + (" WHERE " + " AND ".join(where) if where else "")
        sql += " ORDER BY created_at DESC, id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        return [LedgerRow.from_sql(r) for r in self._conn().execute(sql, params)]

    def unfinished(self) -> builtins.list[LedgerRow]:
        """What `resume` must finish: running tasks, and succeeded ones whose video is not saved yet."""
        terminal = ", ".join(f"'{s}'" for s in sorted(TERMINAL_STATUSES))
        rows = self._conn().execute(
            f"""
            SELECT * FROM tasks
            WHERE local_state = 'submitted' AND origin != 'emulated' AND (
                remote_status IS NULL
                OR remote_status NOT IN ({terminal})
                OR (remote_status = 'SUCCEEDED' AND video_path IS NULL
                    AND (video_url_expires_at IS NULL OR video_url_expires_at > ?))
            )
            ORDER BY created_at
            """,
            (self._now(),),
        )
        return [LedgerRow.from_sql(r) for r in rows]

    def outcome_unknown(self, *, stale_after: timedelta = STALE_SUBMITTING) -> builtins.list[LedgerRow]:
        """Rows that may have created a task nobody knows the id of (reconcile before resubmitting)."""
        cutoff = iso(self._clock() - stale_after)
        rows = self._conn().execute(
            """
            SELECT * FROM tasks
            WHERE origin != 'emulated'
              AND (local_state = 'outcome_unknown' OR (local_state = 'submitting' AND updated_at < ?))
            ORDER BY created_at
            """,
            (cutoff,),
        )
        return [LedgerRow.from_sql(r) for r in rows]

    def known_task_ids(self) -> set[str]:
        rows = self._conn().execute("SELECT task_id FROM tasks WHERE task_id IS NOT NULL")
        return {r["task_id"] for r in rows}

    def match_remote(
        self, row: LedgerRow, remote_tasks: Iterable[Any], *, window: tuple[float, float] = RECONCILE_WINDOW
    ) -> ReconcileMatch:
        """pick_reconcile_match with every task id this ledger already holds counted as taken."""
        return pick_reconcile_match(row, remote_tasks, taken=self.known_task_ids(), window=window)

    def by_fingerprint(self, fingerprint: str) -> builtins.list[LedgerRow]:
        rows = self._conn().execute(
            "SELECT * FROM tasks WHERE fingerprint = ? ORDER BY created_at DESC", (fingerprint,)
        )
        return [LedgerRow.from_sql(r) for r in rows]

    def totals(
        self, *, since: datetime | None = None, until: datetime | None = None, model: str | None = None
    ) -> builtins.list[ModelTotal]:
        """Billed seconds per model (from usage), with the estimate for tasks without usage yet."""
        where = ["task_id IS NOT NULL", "origin != 'emulated'"]
        params: list[Any] = []
        if since is not None:
            where.append("created_at >= ?")
            params.append(iso(since))
        if until is not None:
            where.append("created_at < ?")
            params.append(iso(until))
        if model is not None:
            where.append("model = ?")
            params.append(model)
        rows = self._conn().execute(
            f"""
            SELECT coalesce(model, '?') AS model, count(*) AS tasks,
                   sum(remote_status = 'SUCCEEDED') AS succeeded,
                   coalesce(sum(billed_seconds), 0) AS billed,
                   coalesce(sum(billable_seconds_estimate), 0) AS estimated
            FROM tasks WHERE {" AND ".join(where)}
            GROUP BY coalesce(model, '?') ORDER BY model
            """,
            params,
        )
        return [
            ModelTotal(r["model"], int(r["tasks"]), int(r["succeeded"] or 0), float(r["billed"]), float(r["estimated"]))
            for r in rows
        ]

    # -- internals

    def _insert(self, values: dict[str, Any], now: datetime) -> LedgerRow:
        for _ in range(5):
            values["id"] = new_local_id(now)
            columns = ", ".join(values)
            marks = ", ".join("?" * len(values))
            try:
                with self._write() as conn:
                    conn.execute(f"INSERT INTO tasks ({columns}) VALUES ({marks})", list(values.values()))
                    return self._select(conn, values["id"])
            except sqlite3.IntegrityError as exc:
                if "tasks.id" not in str(exc):
                    raise
        raise QwenvidError("Could not allocate a unique ledger id.")

    def _update(self, local_id: str, changes: dict[str, Any]) -> LedgerRow:
        with self._write() as conn:
            current = self._row_for_write(conn, local_id)
            return self._apply(conn, current.id, changes)

    def _apply(self, conn: sqlite3.Connection, local_id: str, changes: dict[str, Any]) -> LedgerRow:
        changes = {**changes, "updated_at": self._now()}
        for name in ("task_id", "request_id"):  # ids come from the server: never store a key echoed in one
            if isinstance(changes.get(name), str):
                changes[name] = scrub_id(changes[name])
        assignments = ", ".join(f"{column} = ?" for column in changes)
        conn.execute(f"UPDATE tasks SET {assignments} WHERE id = ?", [*changes.values(), local_id])
        return self._select(conn, local_id)

    def _select(self, conn: sqlite3.Connection, local_id: str) -> LedgerRow:
        return LedgerRow.from_sql(conn.execute("SELECT * FROM tasks WHERE id = ?", (local_id,)).fetchone())

    def _row_for_write(self, conn: sqlite3.Connection, key: str) -> LedgerRow:
        """Writes address a row exactly (local id or task id), never by prefix."""
        row = conn.execute("SELECT * FROM tasks WHERE id = ? OR task_id = ?", (key, key)).fetchone()
        if row is None:
            raise KeyError(f"no ledger row for {key!r}")
        return LedgerRow.from_sql(row)

    def _remote_field_values(self, current: LedgerRow, fields: dict[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name in ("request_id", "submit_time", "end_time", "error_code", "actual_prompt"):
            if name in fields:
                values[name] = str(fields[name])
        if "error_message" in fields:
            values["error_message"] = scrub(str(fields["error_message"]))
        if "usage" in fields:
            values["usage_json"] = _scrubbed_json(fields["usage"])
            values["billed_seconds"] = billed_seconds_from_usage(fields["usage"], current.mode)
        end_time = values.get("end_time", current.end_time)
        video_url = fields.get("video_url", current.video_url)
        if "video_url" in fields:
            values["video_url"] = video_url
        if "video_url" in fields or ("end_time" in values and current.video_url_expires_at is None):
            values["video_url_expires_at"] = url_expiry(video_url, end_time)
        return values


# --------------------------------------------------------------------------- small helpers


def _scrubbed_json(data: Mapping[str, Any]) -> str:
    return scrub(json.dumps(data, ensure_ascii=False, sort_keys=True))


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return {"unparsed": text}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _same_model(remote: str | None, local: str | None) -> bool:
    return bool(remote) and bool(local) and str(remote).strip().lower() == str(local).strip().lower()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
