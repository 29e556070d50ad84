"""Shell completion of task ids reads a shared PostgreSQL ledger too, and gives up quickly when it cannot answer."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from qwenvid.cli._complete import complete_task
from qwenvid.config import load_settings
from qwenvid.store.sqlite_store import open_store, recent_refs

BODY = {"model": "wan2.6-t2v", "input": {"prompt": "A kitten"}, "parameters": {"duration": 5}}


def test_completion_lists_the_task_ids_of_a_shared_ledger(
    pg_url: str, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QWENVID_LEDGER_URL", pg_url)
    store = open_store(load_settings().ledger_path)
    try:
        row = store.ledger.create(
            mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json=BODY, fingerprint="fp-1",
            prompt="A kitten", duration=5.0, tier="720P", base_url="http://svc/api/v1",
        )  # fmt: skip
        store.ledger.mark_submitting(row.id)
        store.ledger.mark_submitted(row.id, "task-shared-9")
        unsent = store.ledger.create(
            mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json=BODY, fingerprint="fp-2",
            prompt="A puppy", duration=5.0, tier="720P", base_url="http://svc/api/v1",
        )  # fmt: skip
    finally:
        store.close()
    assert [ref for ref, _ in complete_task("task-")] == ["task-shared-9"]
    assert {ref for ref, _ in complete_task("")} == {"task-shared-9", unsent.id}
    assert not (isolated_env / "ledger.sqlite3").exists()  # not the local file: the shared ledger


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung or firewalled database server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()


def test_completion_gives_up_quickly_on_a_server_that_does_not_answer(
    silent_server: int, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QWENVID_LEDGER_URL", f"postgresql://qwenvid@127.0.0.1:{silent_server}/ledger")
    started = time.monotonic()
    assert complete_task("") == []  # nothing offered, no error printed into the shell
    assert time.monotonic() - started < 6.0  # libpq's shortest connect timeout is 2 s; the pool's is 10 s
    with pytest.raises(OSError):
        recent_refs(load_settings().ledger_path, timeout=2.0)
