"""The library Session end to end against the real emulator: ledger first, no double billing, resume.

The emulator and the Session share one manual clock; its `sleep` lets pending renders finish, then moves
the clock, so nothing here sleeps for real and a render never races the poller's deadline.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from qwenvid import errors
from qwenvid.config import load_settings
from qwenvid.emulator.config import ManualClock
from qwenvid.emulator.server import EmulatorThread
from qwenvid.requests.shapes import I2VRequest, T2VRequest
from qwenvid.tasks.session import NullReporter, Phase, RunOptions, Session
from tests.support.emulator import probe_mp4


class RecordingReporter(NullReporter):
    def __init__(self) -> None:
        self.phases: list[Phase] = []
        self.notices: list[str] = []

    def phase(self, phase: Phase, message: str = "") -> None:
        self.phases.append(phase)

    def notice(self, text: str) -> None:
        self.notices.append(text)


def session_for(emulator: EmulatorThread, clock: ManualClock, key: str) -> Session:
    settings = load_settings(api_key=key, base_url=emulator.base_url)
    return Session(settings, clock=clock, sleep=clock.sleep)


def small_t2v(prompt: str = "A kitten running in the moonlight") -> T2VRequest:
    return T2VRequest(model="wan2.1-t2v-turbo", prompt=prompt, size="832*480")


def ledger_rows(home: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(home / "ledger.sqlite3") as conn:
        conn.row_factory = sqlite3.Row
        return list(conn.execute("SELECT * FROM tasks"))


def test_run_writes_the_ledger_and_lands_a_verified_video(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path, tmp_path: Path
) -> None:
    reporter = RecordingReporter()
    with session_for(emulator, manual_clock, canary_key) as session:
        plan = session.plan(small_t2v())
        result = session.run(plan, RunOptions(output=tmp_path / "out"), reporter)
    assert result.status == "SUCCEEDED" and result.video_path is not None
    facts = probe_mp4(result.video_path)
    assert (facts.width, facts.height, facts.video_codec) == (832, 480, "h264")
    assert facts.audio_codecs == ()  # wan2.1 is silent
    assert [p for p in reporter.phases if p in (Phase.SUBMITTING, Phase.DOWNLOADING, Phase.DONE)] == [
        Phase.SUBMITTING,
        Phase.DOWNLOADING,
        Phase.DONE,
    ]
    (row,) = ledger_rows(isolated_env)
    assert row["task_id"] == result.task_id and row["remote_status"] == "SUCCEEDED"
    assert row["video_sha256"] == result.sha256 and row["base_url"] == emulator.base_url
    assert row["billed_seconds"] == 5
    assert emulator.state.task_count() == 1


def test_the_row_exists_before_the_submit_leaves(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path
) -> None:
    # The emulator refuses the submit outright; the row written ahead of it must still be there, rejected.
    emulator.arm("throttle:submit:50")
    with session_for(emulator, manual_clock, canary_key) as session:
        with pytest.raises(errors.ThrottledError):
            session.run(session.plan(small_t2v()), RunOptions(), NullReporter())
    (row,) = ledger_rows(isolated_env)
    assert row["local_state"] == "rejected" and row["task_id"] is None
    assert emulator.state.task_count() == 0


def test_dropped_connection_after_create_never_makes_a_second_task(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path, tmp_path: Path
) -> None:
    emulator.arm("drop-after-create:1")
    with session_for(emulator, manual_clock, canary_key) as session:
        with pytest.raises(errors.SubmitOutcomeUnknown) as caught:
            session.run(session.plan(small_t2v()), RunOptions(output=tmp_path), NullReporter())
        assert "qwenvid resume" in (caught.value.hint or "")
        assert caught.value.exit_code == errors.ExitCode.NETWORK
        (row,) = ledger_rows(isolated_env)
        assert row["local_state"] == "outcome_unknown" and row["task_id"] is None
        assert emulator.state.task_count() == 1  # created once, answer lost, not retried

        reporter = RecordingReporter()
        outcomes = session.resume(RunOptions(output=tmp_path), reporter)
    assert emulator.state.task_count() == 1  # resume adopted it instead of submitting again
    adopted = [o for o in outcomes if o.note and o.note.startswith("adopted task")]
    finished = [o for o in outcomes if o.result is not None]
    assert len(adopted) == 1 and len(finished) == 1
    assert finished[0].result is not None and finished[0].result.video_path is not None
    (row,) = ledger_rows(isolated_env)
    assert row["local_state"] == "submitted" and row["origin"] == "adopted"
    assert row["task_id"] == emulator.state.tasks[0].task_id
    assert row["video_path"] and Path(row["video_path"]).is_file()


def test_a_submit_dropped_before_create_is_proven_empty_once_the_window_passes(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path
) -> None:
    emulator.arm("drop-before-create:1")
    with session_for(emulator, manual_clock, canary_key) as session:
        with pytest.raises(errors.SubmitOutcomeUnknown):
            session.run(session.plan(small_t2v()), RunOptions(), NullReporter())
        assert emulator.state.task_count() == 0
        early = session.reconcile(NullReporter())
        assert early[0].note and "not in the task list yet" in early[0].note
        assert ledger_rows(isolated_env)[0]["local_state"] == "outcome_unknown"


def test_polls_survive_throttling_and_server_errors(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, tmp_path: Path
) -> None:
    emulator.arm("throttle:query:2")
    emulator.arm("5xx:query:2")
    with session_for(emulator, manual_clock, canary_key) as session:
        result = session.run(session.plan(small_t2v()), RunOptions(output=tmp_path), NullReporter())
    assert result.status == "SUCCEEDED" and result.video_path is not None
    assert emulator.state.task_count() == 1


def test_timeout_detaches_and_resume_finishes(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path, tmp_path: Path
) -> None:
    with session_for(emulator, manual_clock, canary_key) as session:
        with pytest.raises(errors.StillRunning) as caught:
            session.run(session.plan(small_t2v()), RunOptions(output=tmp_path, timeout=0.5), NullReporter())
        task_id = caught.value.task_id
        assert task_id and f"qwenvid status {task_id} --wait" in (caught.value.hint or "")
        outcomes = session.resume(RunOptions(output=tmp_path), NullReporter())
    assert [o.result.task_id for o in outcomes if o.result] == [task_id]
    assert emulator.state.task_count() == 1


def test_failed_task_carries_code_and_moderation_exit(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str
) -> None:
    emulator.arm("fail:DataInspectionFailed:1")
    with session_for(emulator, manual_clock, canary_key) as session:
        with pytest.raises(errors.TaskModerated) as caught:
            session.run(session.plan(small_t2v()), RunOptions(), NullReporter())
    assert caught.value.exit_code == errors.ExitCode.MODERATION
    assert caught.value.code == "DataInspectionFailed" and caught.value.task_id


def test_local_image_is_uploaded_and_resolved_through_oss(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path, tmp_path: Path
) -> None:
    picture = tmp_path / "first.png"
    Image.new("RGB", (640, 480), "orange").save(picture)
    request = I2VRequest(model="wan2.6-i2v-flash", prompt="the orange field waves", image=str(picture))
    with session_for(emulator, manual_clock, canary_key) as session:
        plan = session.plan(request)
        assert [u["field"] for u in session.dry_run(plan)["uploads"]] == ["img_url"]
        result = session.run(plan, RunOptions(output=tmp_path / "out"), NullReporter())
    (task,) = emulator.state.tasks
    assert task.body["input"]["img_url"].startswith("oss://")
    (row,) = ledger_rows(isolated_env)
    assert '"oss://' in row["request_json"]  # the body actually sent is what the ledger keeps
    assert result.video_path is not None
    facts = probe_mp4(result.video_path)
    assert facts.audio_codecs == ("aac",)  # wan2.6-i2v-flash makes audio by default
    assert abs(facts.width / facts.height - 640 / 480) < 0.05  # aspect follows the first frame


def test_canary_key_is_nowhere(
    emulator: EmulatorThread,
    manual_clock: ManualClock,
    canary_key: str,
    isolated_env: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Success, failure and ambiguous paths: the key is in no exception, log line, ledger byte or sidecar."""
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    emulator.arm("drop-after-create:1")
    with session_for(emulator, manual_clock, canary_key) as session:
        for fault in (None, "fail:InternalError.Algo:1", "5xx:submit:1"):
            if fault:
                emulator.arm(fault)
            try:
                session.run(session.plan(small_t2v()), RunOptions(output=tmp_path), NullReporter())
            except errors.QwenvidError as exc:
                texts += [str(exc), repr(exc), exc.hint or "", str(exc.to_dict())]
        session.resume(RunOptions(output=tmp_path), NullReporter())
        texts.append(repr(session.settings))
    blobs = [p.read_bytes() for p in isolated_env.rglob("*") if p.is_file()]
    blobs += [p.read_bytes() for p in tmp_path.rglob("*.json")]
    assert len(texts) >= 8 and any(isolated_env.rglob("ledger.sqlite3*"))
    assert not any(canary_key in text for text in texts)
    assert "POST /api/v1/services" in caplog.text and canary_key not in caplog.text
    assert not any(canary_key.encode() in blob for blob in blobs)


def test_one_session_drives_many_tasks_in_flight_from_threads(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path, tmp_path: Path
) -> None:
    """The core a batch runner builds on: one client and ledger, several runs at once, each task once."""
    from concurrent.futures import ThreadPoolExecutor

    prompts = [f"Kitten number {n}" for n in range(4)]
    with session_for(emulator, manual_clock, canary_key) as session:
        plans = [session.plan(small_t2v(prompt)) for prompt in prompts]
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda p: session.run(p, RunOptions(output=tmp_path), NullReporter()), plans))
    assert [r.status for r in results] == ["SUCCEEDED"] * 4
    assert len({r.task_id for r in results}) == 4 and len({r.video_path for r in results}) == 4
    assert all(r.video_path is not None and r.video_path.is_file() for r in results)
    assert emulator.state.task_count() == 4  # submits throttled at 2/s were retried, never duplicated
    assert {row["remote_status"] for row in ledger_rows(isolated_env)} == {"SUCCEEDED"}


def test_follow_or_fetch_of_a_row_without_task_id_says_why_instead_of_crashing(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path
) -> None:
    emulator.arm("drop-before-create:1")
    with session_for(emulator, manual_clock, canary_key) as session:
        with pytest.raises(errors.SubmitOutcomeUnknown):
            session.run(session.plan(small_t2v()), RunOptions(), NullReporter())
        local_id = ledger_rows(isolated_env)[0]["id"]
        for call in (session.fetch, session.follow):
            with pytest.raises(errors.QwenvidError) as caught:
                call(local_id, RunOptions(), NullReporter())
            assert "has no task id" in caught.value.message and "qwenvid resume" in (caught.value.hint or "")
    assert emulator.state.task_count() == 0


def test_an_output_folder_that_cannot_be_written_is_refused_before_paying(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, isolated_env: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with session_for(emulator, manual_clock, canary_key) as session:
        with pytest.raises(errors.ValidationError) as caught:
            session.run(session.plan(small_t2v()), RunOptions(output=blocker / "videos"), NullReporter())
    assert caught.value.exit_code == errors.ExitCode.USAGE and "cannot create the folder" in caught.value.message
    assert emulator.state.task_count() == 0
    assert not (isolated_env / "ledger.sqlite3").exists() or ledger_rows(isolated_env) == []
