"""Rows tell the truth after the fact: `fetch` of an id the service does not know leaves no row, and the
tasks of an in-process emulator end with it (never PENDING for ever), in words that say so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.cli._session import end_emulated_rows
from qwenvid.config import load_settings
from qwenvid.emulator.server import EmulatorThread
from qwenvid.store.ledger import Ledger


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_fetch_of_an_unknown_id_leaves_no_row(cli: EmulatorThread) -> None:
    result = run("fetch", "0385dc79-5ff8-4d79-a6f3-c0a3b6f1a2b3")
    assert result.exit_code == 8 and "UNKNOWN" in result.stderr
    assert json.loads(run("tasks", "--json").stdout)["count"] == 0


def test_an_in_process_emulators_rows_end_with_it(tmp_path: Path) -> None:
    base = "http://127.0.0.1:9/api/v1"
    with Ledger(load_settings().ledger_path) as ledger:
        body = {"model": "wan2.6-t2v", "input": {"prompt": "x"}}
        queued = ledger.create(mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json=body, origin="emulated",
                               base_url=base)  # fmt: skip
        ledger.mark_submitting(queued.id)
        ledger.mark_submitted(queued.id, "id-queued")
        mid = ledger.create(mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json={**body, "n": 2},
                            origin="emulated", base_url=base)  # fmt: skip
        ledger.mark_submitting(mid.id)
        other = ledger.create(mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json={**body, "n": 3},
                              origin="emulated", base_url="http://127.0.0.1:10/api/v1")  # fmt: skip
        ledger.mark_submitting(other.id)
        ledger.mark_submitted(other.id, "id-other")
        end_emulated_rows(ledger, base)
        assert ledger.get(queued.id).remote_status == "UNKNOWN"  # type: ignore[union-attr]
        assert ledger.get(queued.id).error_code == "EmulatorStopped"  # type: ignore[union-attr]
        assert ledger.get(mid.id).local_state == "rejected"  # type: ignore[union-attr]
        assert ledger.get(other.id).remote_status == "PENDING"  # type: ignore[union-attr]  # another emulator's
    listed = run("tasks", "--status", "PENDING", "--json")
    assert [t["task_id"] for t in json.loads(listed.stdout)["tasks"]] == ["id-other"]


def test_ctrl_c_under_emulator_says_the_task_ended_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from qwenvid.cli.generate import emulated_hint, interrupted

    error = interrupted("id-task")
    emulated_hint(error)
    assert "keeps running" not in error.message and "ended with the in-process emulator" in error.message
    assert "run the command again" in (error.hint or "")


def test_a_shared_render_cache_keeps_what_a_live_server_may_still_serve(tmp_path: Path) -> None:
    """An in-process run prunes the shared cache, but never a video used within the result links' lifetime:
    a running `qwenvid emulator` may serve it behind a link that has not expired."""
    import os
    import time

    from qwenvid.emulator.config import EmulatorConfig
    from qwenvid.emulator.render import RenderCache

    cache = tmp_path / "cache"
    cache.mkdir()
    now = time.time()
    for index in range(4):
        video = cache / f"old{index}.mp4"
        video.write_bytes(b"x")
        os.utime(video, (now - 3 * 86400 - index, now - 3 * 86400 - index))  # three days unused
    for index in range(3):
        video = cache / f"served{index}.mp4"
        video.write_bytes(b"x")
        os.utime(video, (now - 60 - index, now - 60 - index))  # a minute ago, by another emulator
    RenderCache(cache, keep=2, protect_seconds=EmulatorConfig().url_ttl_seconds)
    assert sorted(p.name for p in cache.iterdir()) == ["served0.mp4", "served1.mp4", "served2.mp4"]
