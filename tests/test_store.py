"""The storage seam (qwenvid/store/seam.py), tested through the `Store` interface for every backend.

BACKENDS lists how to open each backend on a fresh state folder; a second backend (PostgreSQL) joins by
adding its opener here, and every test below runs against it unchanged.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qwenvid.store.ledger import Ledger
from qwenvid.store.seam import SlotDeadline, Store
from qwenvid.store.sqlite_store import SqliteStore, open_store, recent_refs
from qwenvid.wire.client import TaskInfo


def _sqlite(folder: Path) -> Store:
    return SqliteStore.of(Ledger(folder / "ledger.sqlite3"))


BACKENDS: dict[str, Callable[[Path], Store]] = {"sqlite": _sqlite}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened = BACKENDS[request.param](tmp_path / "state")
    yield opened
    opened.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


BODY = {"model": "wan2.6-t2v", "input": {"prompt": "A kitten"}, "parameters": {"duration": 5}}


def new_row(store: Store, fingerprint: str = "fp-1", **extra: object) -> str:
    row = store.ledger.create(
        mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json=BODY, fingerprint=fingerprint,
        prompt="A kitten", duration=5.0, tier="720P", base_url="http://svc/api/v1", **extra,
    )  # fmt: skip
    return row.id


def test_rows_follow_the_write_ahead_states(store: Store) -> None:
    ledger = store.ledger
    local_id = new_row(store)
    assert ledger.get(local_id).local_state == "created"  # type: ignore[union-attr]
    sent = {**BODY, "input": {"prompt": "A kitten", "img_url": "oss://x"}}
    assert ledger.mark_submitting(local_id, request_json=sent).request_json == sent
    assert ledger.mark_unsent(local_id).local_state == "created"  # a 429 back-off: nothing exists meanwhile
    ledger.mark_submitting(local_id)
    row = ledger.mark_submitted(local_id, "task-1", "req-1", "PENDING")
    assert (row.local_state, row.task_id, row.remote_status) == ("submitted", "task-1", "PENDING")
    assert ledger.get("task-1").id == local_id  # type: ignore[union-attr]
    assert "task-1" in ledger.known_task_ids()
    assert [r.id for r in ledger.unfinished()] == [local_id]
    ledger.update_remote(local_id, "FAILED", end_time="2026-01-01 10:00:30.000")
    assert ledger.unfinished() == []


def test_fingerprint_lookups_and_closing_states(store: Store) -> None:
    ledger = store.ledger
    first, second, other = new_row(store), new_row(store), new_row(store, fingerprint="fp-2")
    assert {r.id for r in ledger.by_fingerprint("fp-1")} == {first, second}
    assert [r.id for r in ledger.by_fingerprint("fp-2")] == [other]
    ledger.mark_submitting(first)
    assert ledger.mark_outcome_unknown(first, "no answer").local_state == "outcome_unknown"
    assert ledger.set_error_code(first, "OutcomeUnknown.PossiblyBilled").error_code == "OutcomeUnknown.PossiblyBilled"
    closed = ledger.mark_rejected(second, "NotSubmitted", "stopped before the submit was sent")
    assert (closed.local_state, closed.error_code) == ("rejected", "NotSubmitted")
    assert {r.id for r in ledger.list(status="outcome_unknown")} == {first}


def test_claims_belong_to_one_live_process(store: Store) -> None:
    claims = store.claims()
    claim = claims.try_acquire("row-1")
    assert claim is not None
    holder = claims.holder("row-1")
    assert holder is not None and holder.pid == os.getpid()
    assert claims.try_acquire("row-1") is None  # held: nobody else follows it meanwhile
    assert claims.was_claimed("row-1") is not None
    claim.release()
    assert claims.holder("row-1") is None
    again = claims.wait_acquire("row-1", timeout=0.0)
    assert again is not None
    again.release()


def test_pacer_slots_count_running_tasks_and_end_at_a_deadline(store: Store) -> None:
    clock = Clock()
    pacer = store.pacer(clock=clock, sleep=clock.sleep)
    limits = {"model": "wan2.1-t2v-turbo", "service": "http://svc/api/v1", "rate": 5, "concurrency": 2, "lease": 600}
    pacer.acquire("a", **limits)  # type: ignore[arg-type]
    pacer.acquire("b", **limits)  # type: ignore[arg-type]
    assert [holder for holder, _ in pacer.holders("wan2.1-t2v-turbo", "http://svc/api/v1")] == ["a", "b"]
    with pytest.raises(SlotDeadline) as full:
        pacer.acquire("c", **limits, deadline=clock())  # type: ignore[arg-type]
    assert (full.value.running, full.value.concurrency) == (2, 2)
    started = clock()
    with pytest.raises(SlotDeadline):
        pacer.acquire("c", **limits, deadline=clock() + 3)  # type: ignore[arg-type]
    assert 2.9 <= clock() - started <= 3.0  # waited for its deadline, not past it
    pacer.release("a")
    pacer.answered("b")
    assert pacer.acquire("c", **limits, deadline=clock()).seconds == 0  # type: ignore[arg-type]
    assert pacer.waiting("wan2.1-t2v-turbo", "http://svc/api/v1") == 0


def test_render_times_are_learned_per_kind(store: Store) -> None:
    local_id = new_row(store)
    row = store.ledger.get(local_id)
    assert row is not None
    info = TaskInfo("task-1", "SUCCEEDED", submit_time="2026-01-01 10:00:00.000",
                    scheduled_time="2026-01-01 10:00:04.000", end_time="2026-01-01 10:00:34.000")  # fmt: skip
    store.render_times.remember(row, info)
    later = store.ledger.get(new_row(store))
    assert later is not None
    assert store.render_times.render_seconds(later, 20) == [30.0]
    assert store.render_times.render_seconds(row, 20) == []  # a row never learns from itself


def test_key_ids_and_reconcile_candidates(store: Store) -> None:
    keys = store.key_ids
    assert keys.key_id("ref-1", "http://svc/api/v1") is None
    keys.set_key_id("ref-1", "http://svc/api/v1", "key-123")
    assert keys.key_id("ref-1", "http://svc/api/v1") == "key-123"
    assert keys.key_id("ref-1", "http://other/api/v1") is None  # per service
    keys.save_candidates("row-1", ["task-a", "task-b"], "two candidates")
    assert keys.rows_naming("task-b") == ["row-1"] and keys.rows_naming("task-c") == []


def test_a_named_lock_admits_one_holder_at_a_time(store: Store) -> None:
    entered: list[str] = []

    def other() -> None:
        with store.lock("plan-slots"):
            entered.append("other")

    with store.lock("plan-slots"):
        thread = threading.Thread(target=other)
        thread.start()
        thread.join(0.3)
        assert entered == []  # still outside while this one holds the lock
    thread.join(10)
    assert entered == ["other"]


def test_the_sqlite_store_opens_a_state_folder_and_completion_reads_without_writing(tmp_path: Path) -> None:
    path = tmp_path / "state" / "ledger.sqlite3"
    assert recent_refs(path) == [] and not path.exists()  # completion never creates the ledger
    store = open_store(path)
    local_id = new_row(store)
    store.ledger.mark_submitting(local_id)
    store.ledger.mark_submitted(local_id, "task-9")
    store.close()
    refs = recent_refs(path)
    assert [(ref[0], ref[1], ref[4]) for ref in refs] == [(local_id, "task-9", "submitted")]
