"""Reconciliation and ledger claims through the library: the real emulator on loopback sharing a manual clock
with the Session (so windows and retention pass without real waiting), a real ledger file."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qwenvid import errors
from qwenvid.config import load_settings
from qwenvid.emulator.config import ManualClock
from qwenvid.emulator.server import EmulatorThread
from qwenvid.requests.shapes import T2VRequest
from qwenvid.store.claims import ClaimHeld, Claims, process_alive, process_start
from qwenvid.tasks.reconcile import POSSIBLY_BILLED, known_key_id, reconcile
from qwenvid.tasks.session import NullReporter, RunOptions, Session


def session_for(emulator: EmulatorThread, clock: ManualClock, key: str) -> Session:
    settings = load_settings(api_key=key, base_url=emulator.base_url)
    return Session(settings, clock=clock, sleep=clock.sleep)


def small_t2v(prompt: str) -> T2VRequest:
    return T2VRequest(model="wan2.1-t2v-turbo", prompt=prompt, size="832*480")


def ledger_rows(home: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(home / "ledger.sqlite3") as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute("SELECT * FROM tasks ORDER BY created_at"))


def wall(clock: ManualClock) -> datetime:
    return datetime.fromtimestamp(clock.time(), UTC)


# --------------------------------------------------------------------------- reconciliation


def test_one_failing_list_call_does_not_stop_the_rest_of_resume(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path, tmp_path: Path
) -> None:
    with session_for(emulator, manual_clock, canary_key) as session:
        detached = session.run(session.plan(small_t2v("A detached kitten")), RunOptions(detach=True), NullReporter())
        emulator.arm("drop-before-create:1")
        with pytest.raises(errors.SubmitOutcomeUnknown):
            session.run(session.plan(small_t2v("An ambiguous kitten")), RunOptions(), NullReporter())
        emulator.arm("5xx:list:*")
        outcomes = session.resume(RunOptions(output=tmp_path), NullReporter())
    by_ref = {o.ref: o for o in outcomes}
    ambiguous = ledger_rows(isolated_env)[1]
    assert by_ref[ambiguous["id"]].error is not None  # this row's reconciliation failed, said per row
    assert ambiguous["local_state"] == "outcome_unknown"
    finished = by_ref[detached.task_id].result
    assert finished is not None and finished.video_path is not None and finished.video_path.is_file()


@pytest.mark.parametrize(("faults", "verdict"), [((), "rejected"), (("expire:task:60",), "outcome_unknown")])
def test_not_created_only_while_the_list_still_covers_the_submit(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path,
    faults: tuple[str, ...], verdict: str,
) -> None:
    for fault in faults:
        emulator.arm(fault)
    with session_for(emulator, manual_clock, canary_key) as session:
        session.run(session.plan(small_t2v("A witness kitten")), RunOptions(detach=True), NullReporter())
        emulator.arm("drop-after-create:1")  # this one IS created and billed
        with pytest.raises(errors.SubmitOutcomeUnknown):
            session.run(session.plan(small_t2v("A billed kitten")), RunOptions(), NullReporter())
        if not faults:
            emulator.state.faults.clear()
            emulator.arm("drop-before-create:1")  # without expiry, take a submit that really made nothing
            with pytest.raises(errors.SubmitOutcomeUnknown):
                session.run(session.plan(small_t2v("An unmade kitten")), RunOptions(), NullReporter())
        manual_clock.advance(15 * 60)  # the whole window has passed
        outcomes = reconcile(session, NullReporter(), now=wall(manual_clock), timeout=600)
    row = ledger_rows(isolated_env)[-1]
    assert row["local_state"] == verdict
    if verdict == "rejected":
        assert row["error_code"] == "NotCreated" and "safe to submit again" in (outcomes[-1].note or "")
    else:
        # The service forgot tasks older than 60 s: the billed task is gone from the list, and absence proves nothing.
        assert row["error_code"] == POSSIBLY_BILLED
        assert (outcomes[-1].note or "").startswith("unknown, possibly billed")


def test_a_candidate_is_waited_for_until_its_prompt_shows(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path, tmp_path: Path
) -> None:
    with session_for(emulator, manual_clock, canary_key) as session:
        emulator.arm("drop-after-create:1")
        with pytest.raises(errors.SubmitOutcomeUnknown):
            session.run(session.plan(small_t2v("A patient kitten")), RunOptions(), NullReporter())
        assert emulator.state.tasks[0].status == "PENDING"  # no prompt to compare yet
        unchecked = reconcile(session, NullReporter(), now=wall(manual_clock), wait=False)
        assert "cannot be checked yet" in (unchecked[0].note or "")
        assert ledger_rows(isolated_env)[0]["local_state"] == "outcome_unknown"
        outcomes = session.resume(RunOptions(output=tmp_path), NullReporter())
    assert any((o.note or "").startswith("adopted task") for o in outcomes)
    (row,) = ledger_rows(isolated_env)
    assert row["origin"] == "adopted" and row["video_path"]


def test_the_key_id_is_learned_once_and_the_key_is_never_stored(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path
) -> None:
    with session_for(emulator, manual_clock, canary_key) as session:
        assert known_key_id(session) is None
        session.run(session.plan(small_t2v("A kitten")), RunOptions(detach=True), NullReporter())
        learned = known_key_id(session)
        listed = session.client.list_tasks().items[0].raw["api_key_id"]
        session.close()
    assert learned == str(listed)
    for path in isolated_env.glob("ledger.sqlite3*"):
        assert canary_key.encode() not in path.read_bytes()


# --------------------------------------------------------------------------- claims


def test_a_claim_is_exclusive_until_released(tmp_path: Path) -> None:
    claims = Claims(tmp_path / "ledger.sqlite3")
    other = Claims(tmp_path / "ledger.sqlite3")
    with claims.acquire("row-1"):
        assert other.try_acquire("row-1") is None
        with pytest.raises(ClaimHeld, match=f"pid {os.getpid()}"):
            other.acquire("row-1")
        holder = other.holder("row-1")
        assert holder is not None and holder.pid == os.getpid()
        assert other.try_acquire("row-2") is not None  # any resource, independently
    assert other.holder("row-1") is None and other.try_acquire("row-1") is not None


def test_an_expired_lease_is_free_and_its_late_owner_notices(tmp_path: Path) -> None:
    now = [1000.0]
    slow = Claims(tmp_path / "ledger.sqlite3", lease=30, clock=lambda: now[0])
    claim = slow.try_acquire("row")
    assert claim is not None
    claim._stop.set()  # a suspended process: no renewals
    now[0] += 31
    taker = Claims(tmp_path / "ledger.sqlite3", lease=30, clock=lambda: now[0])
    taken = taker.try_acquire("row")
    assert taken is not None
    assert slow.renew(claim) is False  # the first owner learns it lost the row
    taken.release()


def test_renewal_keeps_a_claim_alive_past_its_lease(tmp_path: Path) -> None:
    claims = Claims(tmp_path / "ledger.sqlite3", lease=0.3)
    with claims.acquire("row") as claim:
        time.sleep(0.5)  # the renewer runs every lease/3 in its own thread
        assert not claim.lost and Claims(tmp_path / "ledger.sqlite3").try_acquire("row") is None


def test_a_killed_owner_frees_its_claim_at_once(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from qwenvid.store.claims import Claims\n"
        "Claims(sys.argv[1], lease=3600).acquire('row')\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "ledger.sqlite3")],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    claims = Claims(tmp_path / "ledger.sqlite3")
    assert claims.try_acquire("row") is None
    holder = claims.holder("row")
    assert holder is not None and holder.pid == process.pid
    process.kill()  # not yet reaped: a zombie counts as gone too
    deadline = time.monotonic() + 5
    while process_alive(process.pid, holder.started) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert claims.try_acquire("row") is not None  # the lease had an hour left; the owner is gone
    process.wait()


def test_a_reused_pid_is_not_the_same_owner() -> None:
    started = process_start(os.getpid())
    assert process_alive(os.getpid(), started)
    if started is not None:
        assert not process_alive(os.getpid(), started + "0")


# --------------------------------------------------------------------------- privacy


def test_every_file_with_prompts_is_private_from_the_first_byte(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path, tmp_path: Path
) -> None:
    old = os.umask(0o022)
    try:
        with session_for(emulator, manual_clock, canary_key) as session:
            result = session.run(session.plan(small_t2v("A private kitten")), RunOptions(output=tmp_path / "v"),
                                 NullReporter())
            assert result.video_path is not None and result.sidecar_path is not None
            # While the ledger is open, its -wal and -shm exist: they hold prompts too.
            ledger_files = sorted(isolated_env.glob("ledger.sqlite3*"))
            assert {p.name for p in ledger_files} >= {"ledger.sqlite3", "ledger.sqlite3-wal", "ledger.sqlite3-shm"}
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in ledger_files}
    finally:
        os.umask(old)
    assert all(mode == 0o600 for mode in modes.values()), modes
    assert stat.S_IMODE(isolated_env.stat().st_mode) == 0o700
    assert stat.S_IMODE(result.sidecar_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(result.video_path.stat().st_mode) == 0o600
    assert os.umask(0o022) == 0o022  # the process umask is back


def test_following_a_row_another_process_holds_waits_and_never_downloads_twice(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path, tmp_path: Path
) -> None:
    with session_for(emulator, manual_clock, canary_key) as session:
        detached = session.run(session.plan(small_t2v("A shared kitten")), RunOptions(detach=True), NullReporter())
        other = Claims(isolated_env / "ledger.sqlite3").acquire(detached.local_id or "")
        # Nobody lets go: a bounded wait ends with a clear error naming the holder.
        with pytest.raises(ClaimHeld, match=f"pid {os.getpid()}"):
            session.follow(detached.task_id, RunOptions(output=tmp_path / "a", timeout=2), NullReporter())
        other.release()

        def finish_elsewhere(seconds: float) -> None:
            if not other._stop.is_set():
                done = Session(session.settings, clock=manual_clock, sleep=manual_clock.sleep)
                other.release()
                done.follow(detached.task_id, RunOptions(output=tmp_path / "b"), NullReporter())
                done.close()
            manual_clock.sleep(seconds)

        # Now the holder finishes the download while this one waits for it.
        other = Claims(isolated_env / "ledger.sqlite3").acquire(detached.local_id or "")
        waiting = Session(session.settings, clock=manual_clock, sleep=finish_elsewhere)
        result = waiting.follow(detached.task_id, RunOptions(output=tmp_path / "a"), NullReporter())
        waiting.close()
    assert result.video_path is not None and result.video_path.parent == tmp_path / "b"
    assert not (tmp_path / "a").exists() or not list((tmp_path / "a").glob("*.mp4"))


def test_a_candidate_that_failed_cannot_be_proven_but_bills_nothing(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path
) -> None:
    emulator.arm("fail:InternalError.Algo:1")
    emulator.arm("drop-after-create:1")
    with session_for(emulator, manual_clock, canary_key) as session:
        with pytest.raises(errors.SubmitOutcomeUnknown):
            session.run(session.plan(small_t2v("A kitten that fails")), RunOptions(), NullReporter())
        early = reconcile(session, NullReporter(), now=wall(manual_clock), timeout=600)
        # The service shows no prompt for a failed task: it stays unknown while a late task could still come.
        assert "not in the task list yet" in (early[0].note or "") and "FAILED, not billed" in (early[0].note or "")
        manual_clock.advance(15 * 60)
        late = reconcile(session, NullReporter(), now=wall(manual_clock), timeout=600)
    assert (late[0].note or "").startswith("no task was created, or only a failed one (not billed)")
    assert ledger_rows(isolated_env)[0]["local_state"] == "rejected"
