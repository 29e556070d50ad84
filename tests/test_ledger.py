"""The SQLite task ledger, on real database files."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from qwenvid.errors import QwenvidError, ValidationError
from qwenvid.store.ledger import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Ledger,
    LedgerRow,
    apply_migrations,
    billed_seconds_from_usage,
    iso,
    pick_reconcile_match,
    reconcile_candidates,
    request_fingerprint,
    url_expiry,
)
from qwenvid.tasks.estimates import history_seconds

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
BODY = {"model": "wan2.6-t2v", "input": {"prompt": "A kitten running in the moonlight"}, "parameters": {"duration": 5}}


class Clock:
    """A settable clock for the ledger's timestamps."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(tmp_path: Path, clock: Clock):
    with Ledger(tmp_path / "state" / "ledger.sqlite3", clock=clock) as opened:
        yield opened


def new_row(ledger: Ledger, *, model: str = "wan2.6-t2v", mode: str = "t2v", **extra: Any) -> LedgerRow:
    return ledger.create(
        mode=mode,
        model=model,
        endpoint="/services/aigc/video-generation/video-synthesis",
        request_json={**BODY, "model": model},
        prompt="A kitten running in the moonlight",
        duration=extra.pop("duration", 5.0),
        tier=extra.pop("tier", "720P"),
        billable_seconds_estimate=extra.pop("billable_seconds_estimate", 5.0),
        **extra,
    )


def submitted(ledger: Ledger, task_id: str, **kwargs: Any) -> LedgerRow:
    row = new_row(ledger, **kwargs)
    ledger.mark_submitting(row.id)
    return ledger.mark_submitted(row.id, task_id, "req-1", "PENDING")


# --------------------------------------------------------------------------- schema and migrations


def test_open_creates_folders_wal_and_latest_schema(tmp_path: Path):
    path = tmp_path / "deep" / "state" / "ledger.sqlite3"

    with Ledger(path) as ledger:
        assert ledger.schema_version == SCHEMA_VERSION == len(MIGRATIONS)

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    columns = {r[1] for r in conn.execute("PRAGMA table_info(tasks)")}
    assert {"id", "task_id", "local_state", "video_sha256", "origin"} <= columns
    assert not [c for c in columns if "key" in c or "auth" in c or "header" in c]
    assert path.stat().st_mode & 0o077 == 0


def test_migrates_a_ledger_from_the_previous_version(tmp_path: Path):
    path = tmp_path / "ledger.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    apply_migrations(conn, target=SCHEMA_VERSION - 1)
    conn.execute(
        "INSERT INTO tasks (id, created_at, updated_at, model, local_state, task_id, remote_status)"
        " VALUES ('qv-old', '2026-01-01T00:00:00.000000+00:00', '2026-01-01T00:00:00.000000+00:00',"
        " 'wan2.6-t2v', 'submitted', 'task-old', 'RUNNING')"
    )
    conn.close()

    with Ledger(path) as ledger:
        assert ledger.schema_version == SCHEMA_VERSION
        row = ledger.get("task-old")

    assert row is not None
    assert (row.id, row.remote_status, row.origin) == ("qv-old", "RUNNING", "local")


def test_reopening_does_not_migrate_again(tmp_path: Path):
    path = tmp_path / "ledger.sqlite3"
    with Ledger(path) as first:
        row = new_row(first)
    with Ledger(path) as second:
        assert second.get(row.id) == row
        assert second.schema_version == SCHEMA_VERSION


def test_refuses_a_ledger_from_a_newer_qwenvid(tmp_path: Path):
    path = tmp_path / "ledger.sqlite3"
    sqlite3.connect(path).execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(QwenvidError, match="newer than this qwenvid"):
        Ledger(path)


# --------------------------------------------------------------------------- writing


def test_row_is_on_disk_before_the_submit_and_holds_no_secret(tmp_path: Path, clock: Clock):
    path = tmp_path / "ledger.sqlite3"
    ledger = Ledger(path, clock=clock)
    body = {**BODY, "input": {"prompt": "leaked sk-abcdef0123456789 here"}}

    row = ledger.create(mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json=body, prompt="p")

    # A separate connection (as a crash-surviving reader would) already sees it.
    raw = (
        sqlite3.connect(path).execute("SELECT local_state, request_json FROM tasks WHERE id = ?", (row.id,)).fetchone()
    )
    assert raw[0] == "created"
    assert "abcdef0123456789" not in raw[1]
    assert row.request_json == {**body, "input": {"prompt": "leaked sk-*** here"}}
    assert row.fingerprint == request_fingerprint("wan2.6-t2v", body)
    assert row.created_at == iso(T0)
    ledger.close()


def test_mark_submitting_stores_the_body_actually_sent(ledger: Ledger):
    row = new_row(ledger, tier="1080P")
    sent = {**BODY, "input": {"prompt": "p", "img_url": "oss://dashscope-instant/abc/cat.png"}}

    updated = ledger.mark_submitting(row.id, request_json=sent)

    assert updated.request_json == sent
    assert updated.fingerprint == row.fingerprint
    assert updated.tier == "1080P"


def test_local_ids_are_time_sortable_and_unique(ledger: Ledger, clock: Clock):
    ids = []
    for _ in range(20):
        ids.append(new_row(ledger).id)
        clock.advance(0.001)

    assert ids == sorted(ids)
    assert len(set(ids)) == 20
    assert all(i.startswith("qv-20260301-12") for i in ids)


def test_life_cycle_transitions(ledger: Ledger, clock: Clock):
    row = new_row(ledger)
    clock.advance(1)
    row = ledger.mark_submitting(row.id)
    assert (row.local_state, row.submitting_at) == ("submitting", iso(clock.now))

    clock.advance(1)
    row = ledger.mark_submitted(row.id, "task-abc", "req-1", "PENDING")
    assert (row.local_state, row.task_id, row.request_id, row.remote_status) == (
        "submitted",
        "task-abc",
        "req-1",
        "PENDING",
    )
    changed_at = row.status_changed_at

    clock.advance(5)
    row = ledger.update_remote("task-abc", "PENDING", submit_time="2026-03-01 20:00:02.000")
    assert row.status_changed_at == changed_at, "same status is not a change"
    assert row.submit_time == "2026-03-01 20:00:02.000"

    clock.advance(5)
    row = ledger.update_remote(row.id, "RUNNING")
    assert row.status_changed_at == iso(clock.now)
    assert row.submit_time == "2026-03-01 20:00:02.000", "a sparse answer keeps earlier facts"

    url = "https://dashscope-result-sh.oss-accelerate.aliyuncs.com/x.mp4?Expires=1772452800&Signature=s"
    row = ledger.set_result(
        "task-abc",
        video_url=url,
        usage={"duration": 5, "output_video_duration": 5, "input_video_duration": 0, "SR": 720},
        end_time="2026-03-01 20:03:00.000",
        actual_prompt="A small kitten...",
    )
    assert row.remote_status == "SUCCEEDED"
    assert row.billed_seconds == 5.0
    assert row.video_url_expires_at == iso(datetime.fromtimestamp(1772452800, UTC))
    assert row.actual_prompt == "A small kitten..."
    assert row.is_terminal and not row.is_downloaded

    row = ledger.set_download_error(row.id, "connection reset while talking to Bearer sk-secretsecret")
    assert row.download_error is not None and "secretsecret" not in row.download_error

    row = ledger.set_download(row.id, ledger.path.parent / "v.mp4", 1234, "ab" * 32)
    assert (row.video_size, row.video_sha256, row.download_error) == (1234, "ab" * 32, None)
    assert row.video_path == str((ledger.path.parent / "v.mp4").resolve())
    assert row.downloaded_at == iso(clock.now)


def test_unknown_after_a_final_status_keeps_the_final_status(ledger: Ledger):
    row = submitted(ledger, "task-1")
    ledger.set_result(row.id, video_url="https://x/v.mp4?Expires=1999999999", usage={"duration": 5})

    row = ledger.update_remote("task-1", "UNKNOWN")

    assert row.remote_status == "SUCCEEDED"
    assert row.video_url is not None


def test_failure_fields_are_recorded_and_scrubbed(ledger: Ledger):
    submitted(ledger, "task-f")

    row = ledger.update_remote(
        "task-f", "FAILED", error_code="DataInspectionFailed", error_message="bad input, key sk-1234567890abc"
    )

    assert (row.remote_status, row.error_code) == ("FAILED", "DataInspectionFailed")
    assert row.error_message == "bad input, key sk-***"


def test_update_remote_rejects_unknown_fields_and_rows(ledger: Ledger):
    submitted(ledger, "task-u")

    with pytest.raises(TypeError, match="api_key"):
        ledger.update_remote("task-u", "RUNNING", api_key="sk-nope")
    with pytest.raises(KeyError):
        ledger.update_remote("no-such-task", "RUNNING")


def test_apply_task_info_reads_a_client_task_info(ledger: Ledger):
    @dataclass
    class Info:
        task_id: str = "task-i"
        status: str = "SUCCEEDED"
        submit_time: str | None = "2026-03-01 20:00:00.000"
        end_time: str | None = "2026-03-01 20:01:30.000"
        video_url: str | None = "https://h/v.mp4"
        actual_prompt: str | None = None
        code: str | None = None
        message: str | None = None
        usage: dict[str, Any] | None = None
        request_id: str | None = "req-q"

    submitted(ledger, "task-i", mode="r2v", model="wan2.6-r2v")
    row = ledger.apply_task_info(
        "task-i", Info(usage={"duration": 10.0, "input_video_duration": 5, "output_video_duration": 5})
    )

    assert row.billed_seconds == 10.0
    # No Expires in the URL: end_time (Beijing time) + 24 h.
    assert row.video_url_expires_at == iso(datetime(2026, 3, 2, 12, 1, 30, tzinfo=UTC))
    assert row.request_id == "req-q"


def test_rejected_rows_are_not_unfinished(ledger: Ledger):
    row = new_row(ledger)
    ledger.mark_submitting(row.id)

    row = ledger.mark_rejected(row.id, "InvalidParameter", "The size is not match")

    assert (row.local_state, row.error_code) == ("rejected", "InvalidParameter")
    assert ledger.unfinished() == []
    assert ledger.outcome_unknown() == []


# --------------------------------------------------------------------------- reading


def test_unfinished_table(ledger: Ledger, clock: Clock):
    later = iso(T0 + timedelta(hours=3))
    past = iso(T0 - timedelta(hours=1))
    cases = {
        "pending": ("PENDING", None, None, True),
        "running": ("RUNNING", None, None, True),
        "no-status-yet": (None, None, None, True),
        "succeeded-not-downloaded": ("SUCCEEDED", later, None, True),
        "succeeded-url-expired": ("SUCCEEDED", past, None, False),
        "succeeded-downloaded": ("SUCCEEDED", later, "/v.mp4", False),
        "failed": ("FAILED", None, None, False),
        "canceled": ("CANCELED", None, None, False),
        "unknown": ("UNKNOWN", None, None, False),
    }
    for name, (status, expires, path, _) in cases.items():
        row = new_row(ledger)
        ledger.mark_submitted(row.id, name, None, status or "PENDING")
        ledger._conn().execute(
            "UPDATE tasks SET remote_status = ?, video_url_expires_at = ?, video_path = ? WHERE id = ?",
            (status, expires, path, row.id),
        )
    new_row(ledger)  # created, never submitted: nothing to resume

    found = {row.task_id for row in ledger.unfinished()}

    assert found == {name for name, case in cases.items() if case[3]}


def test_outcome_unknown_and_adopt(ledger: Ledger, clock: Clock):
    row = new_row(ledger)
    ledger.mark_submitting(row.id)
    row = ledger.mark_outcome_unknown(row.id, TimeoutError("read timed out (Bearer sk-abcdefghijkl)"))
    assert row.local_state == "outcome_unknown"
    assert "abcdefghijkl" not in (row.error_message or "")
    assert [r.id for r in ledger.outcome_unknown()] == [row.id]
    assert ledger.unfinished() == []

    adopted = ledger.adopt(row.id, "task-found", "RUNNING")

    assert (adopted.local_state, adopted.task_id, adopted.remote_status, adopted.origin) == (
        "submitted",
        "task-found",
        "RUNNING",
        "adopted",
    )
    assert ledger.outcome_unknown() == []
    assert [r.id for r in ledger.unfinished()] == [row.id]


def test_adopt_refuses_a_task_owned_by_another_row(ledger: Ledger):
    submitted(ledger, "task-owned")
    orphan = new_row(ledger)
    ledger.mark_outcome_unknown(orphan.id, "reset")

    with pytest.raises(QwenvidError, match="already belongs"):
        ledger.adopt(orphan.id, "task-owned", "RUNNING")
    assert ledger.get(orphan.id).local_state == "outcome_unknown"  # type: ignore[union-attr]


def test_a_crash_mid_submit_becomes_outcome_unknown_once_stale(ledger: Ledger, clock: Clock):
    row = new_row(ledger)
    ledger.mark_submitting(row.id)

    clock.advance(60)
    assert ledger.outcome_unknown() == [], "a submit may still be in flight in another process"
    clock.advance(600)
    assert [r.id for r in ledger.outcome_unknown()] == [row.id]


def test_get_by_local_id_task_id_and_prefix(ledger: Ledger):
    a = submitted(ledger, "0385dc79-5ff8-4d82-bcb6-000000000001")
    b = submitted(ledger, "0385dc79-5ff8-4d82-bcb6-000000000002")
    c = submitted(ledger, "9e2b6ef6-aaaa-bbbb-cccc-000000000003")

    assert ledger.get(a.id) == a
    assert ledger.get(b.task_id or "") == b
    assert ledger.get("9e2b") == c
    assert ledger.get(c.id[:-2]) == c
    assert ledger.get("ffff") is None
    assert ledger.get("  ") is None


def test_ambiguous_prefix_is_a_validation_error(ledger: Ledger):
    submitted(ledger, "0385dc79-0001")
    submitted(ledger, "0385dc79-0002")

    with pytest.raises(ValidationError, match="matches several tasks: 0385dc79-0001, 0385dc79-0002"):
        ledger.get("0385")


def test_prefix_is_not_a_pattern(ledger: Ledger):
    submitted(ledger, "abc_def")

    assert ledger.get("abc%") is None
    assert ledger.get("a_c") is None
    assert ledger.get("abc_") is not None


def test_list_filters_newest_first(ledger: Ledger, clock: Clock):
    first = submitted(ledger, "t-1", model="wan2.6-t2v", mode="t2v")
    clock.advance(3600)
    second = submitted(ledger, "t-2", model="wan2.6-i2v-flash", mode="i2v")
    ledger.update_remote("t-2", "RUNNING")
    clock.advance(3600)
    third = new_row(ledger)
    ledger.mark_outcome_unknown(third.id, "timeout")

    assert [r.id for r in ledger.list()] == [third.id, second.id, first.id]
    assert [r.id for r in ledger.list(limit=1)] == [third.id]
    assert [r.id for r in ledger.list(status="running")] == [second.id]
    assert [r.id for r in ledger.list(status=["PENDING", "RUNNING"])] == [second.id, first.id]
    assert [r.id for r in ledger.list(status="outcome_unknown")] == [third.id]
    assert [r.id for r in ledger.list(mode="i2v")] == [second.id]
    assert [r.id for r in ledger.list(model="wan2.6-t2v")] == [third.id, first.id]
    assert [r.id for r in ledger.list(since=T0 + timedelta(minutes=30))] == [third.id, second.id]
    assert [r.id for r in ledger.list(until=T0 + timedelta(minutes=30))] == [first.id]


def test_record_external_is_idempotent_and_get_finds_it(ledger: Ledger):
    row = ledger.record_external("foreign-1", status="succeeded", model="wan2.6-t2v")

    assert (row.origin, row.local_state, row.remote_status, row.request_json) == (
        "external",
        "submitted",
        "SUCCEEDED",
        None,
    )
    assert ledger.record_external("foreign-1") == row
    assert ledger.get("foreign") == row


def test_rows_serialise_to_json(ledger: Ledger):
    row = submitted(ledger, "task-j")
    row = ledger.set_result("task-j", video_url="https://h/v.mp4", usage={"duration": 5})

    data = json.loads(json.dumps(row.to_dict()))

    assert data["task_id"] == "task-j"
    assert data["usage"] == {"duration": 5}
    assert data["request_json"]["model"] == "wan2.6-t2v"


def test_totals_by_model(ledger: Ledger, clock: Clock):
    for task_id, model, usage in [
        ("a", "wan2.6-t2v", {"output_video_duration": 10, "duration": 10}),
        ("b", "wan2.6-t2v", {"output_video_duration": 5, "duration": 5}),
        ("c", "wan2.1-t2v-turbo", {"video_duration": 5, "video_count": 1}),
    ]:
        submitted(ledger, task_id, model=model)
        ledger.set_result(task_id, video_url="https://h/v.mp4", usage=usage)
    submitted(ledger, "d", model="wan2.6-t2v")  # still running: estimate only
    ledger.update_remote("d", "FAILED")
    new_row(ledger)  # never submitted: not counted

    totals = {t.model: t for t in ledger.totals()}

    assert set(totals) == {"wan2.6-t2v", "wan2.1-t2v-turbo"}
    assert (totals["wan2.6-t2v"].tasks, totals["wan2.6-t2v"].succeeded) == (3, 2)
    assert totals["wan2.6-t2v"].billed_seconds == 15.0
    assert totals["wan2.6-t2v"].estimated_seconds == 15.0
    assert totals["wan2.1-t2v-turbo"].billed_seconds == 5.0
    assert [t.model for t in ledger.totals(model="wan2.1-t2v-turbo")] == ["wan2.1-t2v-turbo"]
    assert ledger.totals(since=T0 + timedelta(days=1)) == []


def test_history_seconds_for_the_adaptive_poller(ledger: Ledger, clock: Clock):
    for task_id, end, duration, tier in [
        ("h1", "2026-03-01 20:02:00.000", 5.0, "720P"),
        ("h2", "2026-03-01 20:03:30.500", 5.0, "720P"),
        ("other-tier", "2026-03-01 20:09:00.000", 5.0, "1080P"),
        ("other-duration", "2026-03-01 20:09:00.000", 10.0, "720P"),
    ]:
        clock.advance(1)
        submitted(ledger, task_id, duration=duration, tier=tier)
        ledger.set_result(task_id, video_url="https://h/v.mp4", submit_time="2026-03-01 20:00:00.000", end_time=end)
    submitted(ledger, "failed")
    ledger.update_remote("failed", "FAILED", submit_time="2026-03-01 20:00:00.000", end_time="2026-03-01 20:00:09.0")


    def like(**kwargs: Any) -> list[float]:
        return history_seconds(ledger, new_row(ledger, **kwargs))

    assert like(duration=5.0, tier="720P") == [210.5, 120.0]
    assert like(duration=10.0, tier="720P") == [540.0]
    assert like(model="wan2.6-i2v", duration=5.0, tier="720P") == []


# --------------------------------------------------------------------------- pure helpers


@pytest.mark.parametrize(
    ("usage", "mode", "billed"),
    [
        ({"duration": 10, "output_video_duration": 10, "input_video_duration": 0, "SR": 720}, "t2v", 10.0),
        ({"duration": 10.0, "input_video_duration": 5, "output_video_duration": 5}, "r2v", 10.0),
        ({"input_video_duration": 5, "output_video_duration": 5}, "r2v", 10.0),
        ({"input_video_duration": 5, "output_video_duration": 5}, "t2v", 5.0),
        ({"video_count": 1, "video_duration": 10, "video_ratio": "832*480"}, "t2v", 10.0),
        ({"duration": 5, "SR": 480, "video_count": 1}, "i2v", 5.0),
        ({"video_count": 1}, "t2v", None),
        ({}, "t2v", None),
        (None, "t2v", None),
    ],
)
def test_billed_seconds_from_usage(usage: dict[str, Any] | None, mode: str, billed: float | None):
    assert billed_seconds_from_usage(usage, mode) == billed


@pytest.mark.parametrize(
    ("url", "end_time", "expected"),
    [
        ("https://h/v.mp4?Expires=1772452800&OSSAccessKeyId=a", None, datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),
        ("https://h/v.mp4?Expires=1772452800", "2026-03-01 00:00:00.000", datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),
        ("https://h/v.mp4", "2026-03-01 20:00:00.000", datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),
        ("https://h/v.mp4", "2026-03-01T12:00:00+00:00", datetime(2026, 3, 2, 12, 0, tzinfo=UTC)),
        ("https://h/v.mp4?Expires=soon", None, None),
        ("https://h/v.mp4", None, None),
        (None, "2026-03-01 20:00:00.000", None),
    ],
)
def test_url_expiry(url: str | None, end_time: str | None, expected: datetime | None):
    assert url_expiry(url, end_time) == (iso(expected) if expected else None)


def test_fingerprint_covers_model_body_and_file_contents(tmp_path: Path):
    image = tmp_path / "cat.png"
    image.write_bytes(b"one")
    base = request_fingerprint("wan2.6-i2v", BODY, [image])

    assert request_fingerprint("wan2.6-i2v", dict(reversed(list(BODY.items()))), [image]) == base
    assert request_fingerprint("wan2.6-i2v-flash", BODY, [image]) != base
    assert request_fingerprint("wan2.6-i2v", {**BODY, "parameters": {"duration": 10}}, [image]) != base
    image.write_bytes(b"two")
    assert request_fingerprint("wan2.6-i2v", BODY, [image]) != base


def test_by_fingerprint_finds_earlier_attempts(ledger: Ledger):
    first = new_row(ledger)
    second = new_row(ledger)
    new_row(ledger, model="wan2.6-i2v")

    assert {r.id for r in ledger.by_fingerprint(first.fingerprint or "")} == {first.id, second.id}


# --------------------------------------------------------------------------- reconciliation


@dataclass
class Remote:
    task_id: str
    model_name: str | None
    gmt_create: Any
    status: str = "RUNNING"


SENT_AT = T0 + timedelta(seconds=1)
SENT_MS = int(SENT_AT.timestamp() * 1000)


@pytest.mark.parametrize(
    ("remote", "taken", "expected", "reason"),
    [
        ([Remote("t1", "wan2.6-t2v", SENT_MS + 800)], (), "t1", "matches"),
        ([Remote("t1", "wan2.6-t2v", SENT_AT + timedelta(seconds=30))], (), "t1", "matches"),
        ([Remote("t1", "wan2.6-t2v", str(SENT_MS + 800))], (), "t1", "matches"),
        ([Remote("t1", "WAN2.6-T2V", SENT_MS - 4000)], (), "t1", "matches"),
        ([Remote("t1", "wan2.6-t2v", SENT_MS - 6000)], (), None, "no wan2.6-t2v task"),
        ([Remote("t1", "wan2.6-t2v", SENT_MS + 121_000)], (), None, "no wan2.6-t2v task"),
        ([Remote("t1", "wan2.6-i2v", SENT_MS + 800)], (), None, "no wan2.6-t2v task"),
        ([Remote("t1", "wan2.6-t2v", None)], (), None, "no wan2.6-t2v task"),
        ([Remote("t1", "wan2.6-t2v", SENT_MS + 800)], ("t1",), None, "not already known"),
        (
            [Remote("t1", "wan2.6-t2v", SENT_MS + 800), Remote("t2", "wan2.6-t2v", SENT_MS + 900)],
            (),
            None,
            "ambiguous: 2 wan2.6-t2v tasks in the window (t1, t2)",
        ),
        (
            [Remote("t1", "wan2.6-t2v", SENT_MS + 800), Remote("t2", "wan2.6-t2v", SENT_MS + 900)],
            ("t1",),
            "t2",
            "matches",
        ),
        ([Remote("t1", "wan2.6-t2v", SENT_MS - 60_000), Remote("t2", "wan2.6-t2v", SENT_MS + 5)], (), "t2", "matches"),
        ([], (), None, "no wan2.6-t2v task"),
    ],
    ids=[
        "epoch-ms",
        "datetime",
        "ms-string",
        "model-case-and-skew",
        "too-early",
        "too-late",
        "other-model",
        "no-time",
        "taken",
        "ambiguous",
        "one-of-two-taken",
        "older-task-outside-window",
        "empty-list",
    ],
)
def test_pick_reconcile_match(
    ledger: Ledger, clock: Clock, remote: list[Remote], taken: tuple[str, ...], expected: str | None, reason: str
):
    row = new_row(ledger)
    clock.advance(1)
    row = ledger.mark_submitting(row.id)

    match = pick_reconcile_match(row, remote, taken=taken)

    assert (match.task.task_id if match.task else None) == expected
    assert match.found is (expected is not None)
    assert reason in match.reason
    assert reconcile_candidates(row, remote, taken=taken) is match.task


def test_reconcile_candidates_skips_tasks_the_ledger_already_holds(ledger: Ledger, clock: Clock):
    row = new_row(ledger)
    clock.advance(1)
    row = ledger.mark_submitting(row.id)
    ledger.mark_outcome_unknown(row.id, "read timeout")
    submitted(ledger, "already-mine")
    remote = [Remote("already-mine", "wan2.6-t2v", SENT_MS + 100), Remote("lost", "wan2.6-t2v", SENT_MS + 300)]

    match = ledger.match_remote(row, remote)

    assert match.task is remote[1]
    assert ledger.adopt(row.id, match.task.task_id, match.task.status).task_id == "lost"


# --------------------------------------------------------------------------- concurrency


def test_threads_share_one_ledger(ledger: Ledger):
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for n in range(25):
                row = new_row(ledger)
                ledger.mark_submitting(row.id)
                ledger.mark_submitted(row.id, f"w{worker}-{n}", None, "PENDING")
                ledger.update_remote(f"w{worker}-{n}", "RUNNING")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    rows = ledger.list()
    assert len(rows) == 100 == len({r.id for r in rows})
    assert {r.remote_status for r in rows} == {"RUNNING"}


WRITER = """
import sys
from qwenvid.store.ledger import Ledger
ledger = Ledger(sys.argv[1])
for n in range(40):
    row = ledger.create(mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json={"n": n})
    ledger.mark_submitted(row.id, f"{sys.argv[2]}-{n}", None, "PENDING")
ledger.close()
"""


def test_two_processes_write_the_same_file(tmp_path: Path):
    path = tmp_path / "shared" / "ledger.sqlite3"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name], stderr=subprocess.PIPE)
        for name in ("p1", "p2")
    ]
    with Ledger(path) as ledger:  # this process writes too, at the same time
        for n in range(20):
            ledger.record_external(f"p0-{n}", status="RUNNING")
        results = [(w.wait(timeout=60), w.stderr.read() if w.stderr else b"") for w in writers]

        assert results == [(0, b""), (0, b"")]
        rows = ledger.list()
    assert len(rows) == 100
    assert len({r.task_id for r in rows}) == 100
