"""The everyday experience (issue 7): request JSON, blank prompts, output names, unknown tasks, keyless status,
billing of loopback runs, one time zone, and the cost notice under the emulator. The real CLI against the real
emulator on one manual clock."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import _cost, app
from qwenvid.cli.generate import emulated_hint
from qwenvid.emulator.config import ManualClock
from qwenvid.emulator.server import EmulatorThread
from qwenvid.errors import DownloadError, Interrupted, QwenvidError, StillRunning
from qwenvid.requests.cost import CostEstimate, is_free_service
from qwenvid.requests.shapes import KF2VRequest, T2VRequest, request_from_skill_json
from qwenvid.timestamps import as_utc, iso_utc, shown
from tests.support.cli_emulator import SMALL
from tests.support.media_files import make_mp4


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


# -- the skill's request JSON ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "request_json", "named"),
    [
        (
            ["generate"],
            {"prompt": "The cat turns", "image": "cat.png", "durration": 10},
            ["'durration' (did you mean 'duration'?)", "'image'"],
        ),
        (["generate"], {"prompt": "x", "img_ur1": "https://e.com/a.png"}, ["'img_ur1' (did you mean 'img_url'?)"]),
        (["t2v"], {"prompt": "x", "parameters": {"sise": "1280*720"}}, ["'sise' (did you mean 'size'?)"]),
        (["generate"], {"prompt": "x", "input": {"negative": "blur"}}, ["'negative'"]),
    ],
)
def test_unknown_request_fields_are_refused_by_name(
    command: list[str], request_json: dict[str, object], named: list[str], cli: EmulatorThread
) -> None:
    result = run(*command, "--request", json.dumps(request_json))
    assert result.exit_code == 2, result.stderr
    for text in named:
        assert text in result.stderr
    assert result.stdout == "" and cli.state.task_count() == 0


def test_the_skills_run_settings_are_accepted_and_timeout_s_is_the_wait(cli: EmulatorThread) -> None:
    request = json.dumps({"prompt": "A kitten", "model": "wan2.1-t2v-turbo", "size": "832*480", "timeout_s": 0,
                          "poll_interval_s": 15})
    result = run("generate", "--request", request)
    assert result.exit_code == 5, result.stderr  # timeout_s 0: the wait ended at once, the task runs on
    assert cli.state.task_count() == 1
    bad = run("generate", "--request", json.dumps({"prompt": "x", "timeout_s": "soon"}))
    assert bad.exit_code == 2 and "timeout_s" in bad.stderr


def test_every_documented_skill_field_is_accepted() -> None:
    request = request_from_skill_json(
        {"model": "wan2.6-t2v", "input": {"prompt": "x", "negative_prompt": "blur"}, "parameters": {"size": "1280*720"}}
    )
    assert isinstance(request, T2VRequest) and request.size == "1280*720"


def dry_run(*args: str) -> dict[str, object]:
    result = run(*args, "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_generate_takes_the_skills_model_and_mode_overrides(tmp_path: Path) -> None:
    request = json.dumps({"prompt": "A kitten", "model": "wan2.6-t2v"})
    data = dry_run("generate", "--request", request, "--model", "wan2.7-t2v")
    assert data["payload"]["model"] == "wan2.7-t2v"  # type: ignore[index]
    # The model decides the mode where the skill's detection says so: first_frame_url + wan2.7-i2v is i2v.
    both = json.dumps({"prompt": "Bloom", "first_frame_url": "https://e.com/a.png", "last_frame_url": "https://e.com/b.png"})
    assert "image2video" in str(dry_run("generate", "--request", both)["url"])  # kf2v by default
    frames = json.dumps({"prompt": "Bloom", "first_frame_url": "https://e.com/a.png"})
    i2v = dry_run("generate", "--request", frames, "--model", "wan2.7-i2v")
    assert i2v["payload"]["input"]["media"][0]["type"] == "first_frame"  # type: ignore[index]
    # --mode replaces detection, as the skill's --mode does.
    forced = dry_run("generate", "--request", frames, "--mode", "i2v")
    assert forced["payload"]["input"]["img_url"] == "https://e.com/a.png"  # type: ignore[index]
    bad = run("generate", "--request", request, "--mode", "x2v")
    assert bad.exit_code == 2 and "t2v, i2v, kf2v, r2v, vace" in bad.stderr


# -- one rule for a blank prompt -------------------------------------------------------------------


@pytest.mark.parametrize("blank", ["   ", "\t\n", " \u3000 "])
def test_a_blank_prompt_is_no_prompt_everywhere(blank: str, cli: EmulatorThread) -> None:
    assert T2VRequest(prompt=blank).prompt is None and T2VRequest(negative_prompt=blank).negative_prompt is None
    for args in (["t2v", blank, *SMALL], ["generate", "--request", json.dumps({"prompt": blank})]):
        result = run(*args)
        assert result.exit_code == 2, result.stderr
        assert "needs a prompt (text that is not only spaces)" in result.stderr
    assert cli.state.task_count() == 0
    # Where the prompt is optional, a blank one is simply not sent.
    assert KF2VRequest(prompt=blank, first_frame="a.png", last_frame="b.png").prompt is None


# -- output names ----------------------------------------------------------------------------------


def test_an_existing_output_file_is_refused_before_anything_is_spent(cli: EmulatorThread) -> None:
    Path("out.mp4").write_bytes(b"the old video")
    result = run("t2v", "A kitten", *SMALL, "-o", "out.mp4")
    assert result.exit_code == 2, result.stderr
    assert "out.mp4 already exists" in result.stderr and "--overwrite" in result.stderr
    assert cli.state.task_count() == 0 and Path("out.mp4").read_bytes() == b"the old video"
    assert not Path("out-1.mp4").exists()
    replaced = run("t2v", "A kitten", *SMALL, "-o", "out.mp4", "--force")  # `media`'s word works too
    assert replaced.exit_code == 0, replaced.stderr
    assert replaced.stdout.strip() == "out.mp4" and Path("out.mp4").stat().st_size > 1000
    assert not Path("out-1.mp4").exists() and not Path("out.mp4.part").exists()


@pytest.mark.parametrize("name", ["out.mov", "clip.txt", "video.mp4.bak"])
def test_an_output_name_that_is_not_mp4_is_refused(name: str, cli: EmulatorThread) -> None:
    result = run("t2v", "A kitten", *SMALL, "-o", name)
    assert result.exit_code == 2 and "must end in .mp4" in result.stderr
    assert cli.state.task_count() == 0


def test_fetch_of_a_downloaded_task_says_where_it_is(cli: EmulatorThread) -> None:
    first = run("--json", "t2v", "A kitten", *SMALL)
    assert first.exit_code == 0, first.stderr
    data = json.loads(first.stdout)
    videos = sorted(Path("output/qwenvid").glob("*.mp4"))
    again = run("fetch", data["task_id"])
    assert again.exit_code == 0, again.stderr
    assert again.stdout.strip() == data["video_path"]
    assert "already downloaded" in again.stderr and data["video_path"] in again.stderr
    assert sorted(Path("output/qwenvid").glob("*.mp4")) == videos  # no second copy
    same = run("fetch", data["task_id"], "-o", data["video_path"])  # naming the file it is already in
    assert same.exit_code == 0 and "already downloaded" in same.stderr
    # Fetching to a file that exists is the same refusal as a run's.
    Path("mine.mp4").write_bytes(b"x")
    refused = run("fetch", data["task_id"], "-o", "mine.mp4")
    assert refused.exit_code == 2 and "already exists" in refused.stderr
    waited = run("status", data["task_id"], "--wait", "-o", "mine.mp4")
    assert waited.exit_code == 2 and "already exists" in waited.stderr
    assert Path("mine.mp4").read_bytes() == b"x" and not Path("mine-1.mp4").exists()


# -- tasks the service does not know; status without a key -----------------------------------------


def test_status_of_an_unknown_task_is_exit_8(cli: EmulatorThread) -> None:
    result = run("status", "garbage")
    assert result.exit_code == 8, result.stdout + result.stderr
    assert "does not know task garbage" in result.stderr
    as_json = run("status", "garbage", "--json")
    data = json.loads(as_json.stdout)
    assert as_json.exit_code == 8 and data["exit_code"] == 8 and data["error"]["type"] == "TaskFailed"
    assert data["remote"]["status"] == "UNKNOWN"


def test_cancel_of_an_unknown_task_does_not_blame_the_task(cli: EmulatorThread) -> None:
    result = run("cancel", "garbage")
    assert result.exit_code == 8, result.stderr
    assert "does not know task garbage" in result.stderr and "PENDING" not in result.stderr


def test_cancel_of_a_running_task_says_its_status(cli: EmulatorThread, manual_clock: ManualClock) -> None:
    task_id = run("t2v", "A kitten", *SMALL, "--detach").stdout.strip()
    manual_clock.advance(0.5)  # past the emulator's queue time: RUNNING now
    result = run("cancel", task_id)
    assert result.exit_code == 1, result.stderr
    assert f"Task {task_id} is RUNNING: only a PENDING task can be canceled" in result.stderr


def test_status_shows_the_ledger_row_without_a_key(cli: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> None:
    task_id = run("t2v", "A kitten", *SMALL, "--detach").stdout.strip()
    monkeypatch.delenv("DASHSCOPE_API_KEY")
    result = run("status", task_id)
    assert result.exit_code == 0, result.stderr
    assert f"task id:        {task_id}" in result.stdout and "prompt:         A kitten" in result.stdout
    assert "No API key is set" in result.stderr
    assert run("status", "never-seen").exit_code == 3  # nothing local to show: the key is needed


# -- billing, time zones, the cost notice ----------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "free"),
    [
        ("http://127.0.0.1:8765/api/v1", True),
        ("http://localhost:8765/api/v1", True),
        ("http://[::1]:8765/api/v1", True),
        ("http://127.3.4.5/api/v1", True),
        ("https://dashscope-intl.aliyuncs.com/api/v1", False),
        ("http://10.0.0.5:8765/api/v1", False),
        (None, False),
    ],
)
def test_loopback_services_are_free(url: str | None, free: bool) -> None:
    assert is_free_service(url) is free


def test_server_times_are_shown_in_utc_with_their_zone() -> None:
    server = "2026-01-31 14:18:52.331"  # Beijing wall time, no zone
    assert iso_utc(server) == "2026-01-31T06:18:52.331+00:00"
    assert shown(server) == "2026-01-31 06:18:52 UTC"
    assert shown("2026-01-31T06:18:52.331000+00:00") == "2026-01-31 06:18:52 UTC"  # ledger times stay put
    assert as_utc(1769840332331) == as_utc(server)  # epoch ms of the task list


def test_status_and_sidecar_times_are_utc(cli: EmulatorThread) -> None:
    data = json.loads(run("--json", "t2v", "A kitten", *SMALL).stdout)
    status = run("status", data["task_id"])
    assert status.exit_code == 0, status.stderr
    lines = [line for line in status.stdout.splitlines() if line.startswith(("created:", "submitted:", "ended:"))]
    assert len(lines) == 3 and all(line.endswith(" UTC") for line in lines)
    sidecar = json.loads(Path(data["sidecar_path"]).read_text())
    submitted = as_utc(sidecar["submit_time"])
    assert sidecar["submit_time"].endswith("+00:00") and submitted is not None
    remote = json.loads(run("status", data["task_id"], "--json").stdout)["remote"]
    assert as_utc(remote["submit_time"]) == submitted
    # The emulator speaks UTC+8 without a zone, like the service: the UTC time is 8 h behind that wall time.
    listed = json.loads(run("tasks", "--json").stdout)["tasks"][0]
    assert listed["submit_time"] == remote["submit_time"] and listed["created_at"].endswith("+00:00")
    created = as_utc(json.loads(run("status", data["task_id"], "--json").stdout)["local"]["created_at"])
    assert created is not None and abs(submitted - created) < timedelta(minutes=5)


def test_emulated_cost_notice_keeps_the_link_and_breaks_down_the_seconds() -> None:
    cost = CostEstimate("wan2.6-r2v-flash", 8, "720P", reference_seconds=3)
    (line,) = _cost.cost_lines(cost, emulated=True)
    assert line.startswith("Cost: free (local emulator). A real run: 8 s billable (5 s output + 3 s reference video)")
    assert "Official prices: https://" in line


def test_plan_counts_reference_video_seconds_apart(tmp_path: Path) -> None:
    from qwenvid.config import load_settings
    from qwenvid.requests.shapes import R2VRequest
    from qwenvid.tasks.session import Session

    clip = make_mp4(tmp_path / "dancer.mp4", width=640, height=480, seconds=2.0)
    with Session(load_settings()) as session:
        plan = session.plan(R2VRequest(prompt="character1 dances", refs=[str(clip)], duration=5))
    assert (plan.cost.output_seconds, plan.cost.reference_seconds) == (5, pytest.approx(2.0, abs=0.1))
    assert "(5 s output + 2 s reference video)" in _cost.cost_lines(plan.cost, emulated=False)[0]


@pytest.mark.parametrize(
    "error",
    [
        DownloadError("x", task_id="t-1", hint="The video is kept on the server for 24 h: `qwenvid fetch t-1`."),
        StillRunning("x", task_id="t-1", hint="Continue with `qwenvid status t-1 --wait`."),
        Interrupted("x", task_id="t-1", hint="Continue with `qwenvid status t-1 --wait` (or `qwenvid resume`)."),
    ],
)
def test_no_hint_points_at_a_task_that_died_with_the_in_process_emulator(error: QwenvidError) -> None:
    emulated_hint(error)
    assert "qwenvid status" not in (error.hint or "") and "qwenvid fetch" not in (error.hint or "")
    assert "run the command again" in (error.hint or "")


def test_resume_json_with_a_failed_task_is_still_one_object(cli: EmulatorThread) -> None:
    cli.arm("fail:InternalError.Algo:1")
    task_id = run("t2v", "A kitten", *SMALL, "--detach").stdout.strip()
    result = run("resume", "--json")
    assert result.exit_code == 8, result.stderr
    data = json.loads(result.stdout)  # fails on a second JSON document
    assert data["exit_code"] == 8 and data["outcomes"][0]["error"]["task_id"] == task_id
    assert "failed" in result.stderr
