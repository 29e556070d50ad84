"""The CLI against the real emulator through Typer's runner: results on stdout, the rest on stderr, exit codes.

The emulator and the library's poller share one manual clock, so nothing here sleeps for real.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from qwenvid.cli import _session, app
from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread
from qwenvid.tasks.estimates import history_seconds
from qwenvid.timestamps import as_utc
from tests.support.cli_emulator import SMALL, use_emulator, use_flag_emulator
from tests.support.videos import make_mp4


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def assert_no_secret(result: Result, key: str) -> None:
    assert key not in result.stdout and key not in result.stderr


def image(path: Path, size: tuple[int, int] = (640, 480), color: str = "orange") -> str:
    Image.new("RGB", size, color).save(path)
    return str(path)


def probe(path: Path) -> tuple[float, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        duration = float(container.duration or 0) / av.time_base
        return duration, stream.codec_context.width, stream.codec_context.height


# -- happy paths -----------------------------------------------------------------------------------


def test_t2v_prints_only_the_path_of_a_playable_mp4(cli: EmulatorThread, canary_key: str) -> None:
    result = run("t2v", "A kitten running in the moonlight", *SMALL)
    assert result.exit_code == 0, result.stderr
    path = Path(result.stdout.strip())
    assert result.stdout == f"{path}\n"
    assert path.is_file() and path.suffix == ".mp4"
    duration, width, height = probe(path)
    assert (width, height) == (832, 480) and abs(duration - 5) < 0.2
    assert "Cost: 5 s billable at 480P on wan2.1-t2v-turbo" in result.stderr
    assert "https://www.alibabacloud.com/help/" in result.stderr
    assert_no_secret(result, canary_key)
    assert cli.state.task_count() == 1


def test_json_result_is_one_object_with_the_contract_fields(cli: EmulatorThread) -> None:
    result = run("--json", "t2v", "A kitten", *SMALL)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    for key in ("task_id", "status", "mode", "model", "video_path", "video_url", "usage", "request_id"):
        assert key in data
    assert data["status"] == "SUCCEEDED" and data["mode"] == "t2v" and data["model"] == "wan2.1-t2v-turbo"
    assert Path(data["video_path"]).is_file()
    assert result.stderr.count("Cost:") == 1  # the notice still shows; progress does not


def test_quiet_leaves_only_the_result(cli: EmulatorThread) -> None:
    result = run("--quiet", "t2v", "A kitten", *SMALL, "-o", "clips/kitten.mp4")
    assert result.exit_code == 0
    assert result.stdout.strip().endswith("kitten.mp4")
    assert result.stderr == ""


@pytest.mark.parametrize(
    "mode",
    ["i2v", "kf2v", "r2v", "wan2.7-i2v", "vace-repaint", "vace-ref", "vace-extend", "vace-outpaint", "instruct"],
)
def test_every_mode_with_local_inputs_runs_to_a_video(cli: EmulatorThread, tmp_path: Path, mode: str) -> None:
    first, last = image(tmp_path / "a.png"), image(tmp_path / "b.png", color="purple")
    clip = str(make_mp4(tmp_path / "clip.mp4", width=640, height=480, seconds=2.0))
    args = {
        "i2v": ["i2v", "The cat turns", "--image", first],
        "kf2v": ["kf2v", "Morph", "--first-frame", first, "--last-frame", last],
        "r2v": ["r2v", "character1 waves", "--ref", first, "--size", "1280*720"],
        "wan2.7-i2v": ["i2v", "Go on", "--model", "wan2.7-i2v", "--image", first, "--last-frame", last],
        "vace-repaint": ["vace", "repaint", "Clay", "--video", clip, "--control-condition", "depth"],
        "vace-ref": ["vace", "ref", "A girl", "--ref-image", first, "--obj-or-bg", "obj", "--size", "1280*720"],
        "vace-extend": ["vace", "extend", "Keep running", "--first-clip", clip],
        "vace-outpaint": ["vace", "outpaint", "Wider", "--video", clip, "--left-scale", "1.5"],
        "instruct": ["vace", "instruct", "Make it snow", "--video", clip, "--resolution", "720P"],
    }[mode]
    result = run("--json", *args, "--yes")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert Path(data["video_path"]).is_file()
    assert cli.state.task_count() == 1


def test_generate_runs_a_skill_request(cli: EmulatorThread) -> None:
    request = {"prompt": "A kitten", "model": "wan2.1-t2v-turbo", "size": "832*480"}
    result = run("generate", "--request", json.dumps(request))
    assert result.exit_code == 0, result.stderr
    assert Path(result.stdout.strip()).is_file()


# -- exit codes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "code", "phrase"),
    [
        ("fail:DataInspectionFailed:1", 10, "DataInspectionFailed"),
        ("reject:DataInspectionFailed:1", 10, "DataInspectionFailed"),
        ("fail:InternalError.Algo:1", 8, "InternalError.Algo"),
        ("throttle:submit:*", 4, "Throttling"),
        ("truncate:download:*,expire:url:1", 9, "qwenvid fetch"),
    ],
)
def test_faults_map_to_documented_exit_codes(cli: EmulatorThread, fault: str, code: int, phrase: str) -> None:
    for spec in fault.split(","):
        cli.arm(spec)
    result = run("t2v", "A kitten", *SMALL)
    assert result.exit_code == code, result.stderr
    assert result.stdout == ""
    assert phrase in result.stderr
    assert result.stderr.count("Error: ") == 1


def test_wrong_key_is_exit_3(make_emulator: Any, manual_clock: ManualClock, monkeypatch: pytest.MonkeyPatch) -> None:
    emu = make_emulator(EmulatorConfig(api_keys=("sk-the-right-key-0001",)), clock=manual_clock)
    use_emulator(emu, manual_clock, "sk-a-wrong-key-00000002", monkeypatch)
    result = run("t2v", "A kitten", *SMALL)
    assert result.exit_code == 3, result.stderr
    assert "InvalidApiKey" in result.stderr and "qwenvid doctor" in result.stderr
    assert "sk-a-wrong-key" not in result.stderr
    assert emu.state.task_count() == 0


def test_no_key_is_exit_3_with_how_to_set_one(cli: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DASHSCOPE_API_KEY")
    result = run("t2v", "A kitten")
    assert result.exit_code == 3
    assert "DASHSCOPE_API_KEY" in result.stderr and "--emulator" in result.stderr


def test_nothing_listening_is_exit_6(
    manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("QWEN_BASE_URL", f"http://127.0.0.1:{port}/api/v1")
    monkeypatch.setenv("DASHSCOPE_API_KEY", canary_key)
    monkeypatch.setitem(_session.INJECTED, "session", {"clock": manual_clock, "sleep": manual_clock.sleep})
    result = run("t2v", "A kitten")
    assert result.exit_code == 6, result.stderr
    assert_no_secret(result, canary_key)


def test_timeout_is_exit_5_with_the_command_to_continue(cli: EmulatorThread) -> None:
    result = run("t2v", "A kitten", *SMALL, "--timeout", "0.01")
    assert result.exit_code == 5, result.stderr
    task_id = cli.state.tasks[0].task_id
    assert f"qwenvid status {task_id} --wait" in result.stderr


def test_detach_prints_the_task_id_and_exits_5(cli: EmulatorThread) -> None:
    result = run("t2v", "A kitten", *SMALL, "--detach")
    assert result.exit_code == 5
    task_id = result.stdout.strip()
    assert len(task_id) > 8 and f"qwenvid status {task_id} --wait" in result.stderr


def low_threshold(home: Path) -> None:
    """A user's config that asks before anything over one billable second."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text("confirm_above_seconds = 1\n", encoding="utf-8")


def test_above_threshold_without_terminal_is_exit_7_and_submits_nothing(
    cli: EmulatorThread, isolated_env: Path
) -> None:
    low_threshold(isolated_env)
    result = run("t2v", "A kitten", *SMALL)
    assert result.exit_code == 7, result.stderr
    assert "--yes" in result.stderr and "5 s" in result.stderr
    assert cli.state.task_count() == 0
    assert run("t2v", "A kitten", *SMALL, "--yes", "--detach").exit_code == 5
    assert cli.state.task_count() == 1


def test_server_error_on_status_is_exit_1(cli: EmulatorThread) -> None:
    task_id = run("t2v", "A kitten", *SMALL, "--detach").stdout.strip()
    cli.arm("5xx:query:*")
    result = run("status", task_id)
    assert result.exit_code == 1, result.stderr
    assert "InternalError" in result.stderr


def test_json_errors_are_a_stable_object_on_stdout(cli: EmulatorThread) -> None:
    cli.arm("fail:InternalError.Algo:1")
    result = run("--json", "t2v", "A kitten", *SMALL)
    assert result.exit_code == 8
    data = json.loads(result.stdout)
    assert data["error"]["type"] == "TaskFailed" and data["exit_code"] == 8 and data["task_id"]
    assert data["ok"] is False and data["status"] == "FAILED"


def test_debug_shows_a_traceback_without_the_key(cli: EmulatorThread, canary_key: str) -> None:
    cli.arm("fail:InternalError.Algo:1")
    result = run("--debug", "t2v", "A kitten", *SMALL)
    assert result.exit_code == 8
    assert "Traceback" in result.stderr
    assert "debug: qwenvid.wire.client: POST /api/v1/services" in result.stderr  # request log lines
    assert_no_secret(result, canary_key)
    again = run("--debug", "t2v", "A kitten", *SMALL)  # a second run in one process logs to its own stderr
    assert again.exit_code == 0 and "debug: qwenvid.wire.client: GET" in again.stderr
    assert "Logging error" not in again.stderr


# -- task commands ---------------------------------------------------------------------------------


def test_status_wait_follows_and_downloads(cli: EmulatorThread) -> None:
    task_id = run("t2v", "A kitten", *SMALL, "--detach").stdout.strip()
    shown = run("status", task_id)
    assert shown.exit_code == 0, shown.stderr
    assert task_id in shown.stdout and "PENDING" in shown.stdout
    waited = run("status", task_id, "--wait")
    assert waited.exit_code == 0, waited.stderr
    assert Path(waited.stdout.strip()).is_file()
    data = json.loads(run("status", task_id, "--json").stdout)
    assert data["remote"]["status"] == "SUCCEEDED" and data["local"]["video_path"]


def test_fetch_downloads_a_task_the_ledger_never_saw(cli: EmulatorThread, manual_clock: ManualClock) -> None:
    body = {
        "model": "wan2.1-t2v-turbo",
        "input": {"prompt": "Elsewhere"},
        "parameters": {"size": "832*480", "duration": 5},
    }
    headers = {"Authorization": "Bearer sk-another-client-01", "X-DashScope-Async": "enable"}
    created = httpx.post(
        cli.base_url + "/services/aigc/video-generation/video-synthesis", json=body, headers=headers
    ).json()
    task_id = created["output"]["task_id"]
    early = run("fetch", task_id)
    assert early.exit_code == 5 and "status" in early.stderr
    manual_clock.advance(60)
    assert cli.state.wait_rendered()
    result = run("fetch", task_id)
    assert result.exit_code == 0, result.stderr
    assert Path(result.stdout.strip()).is_file()


def test_cancel_a_pending_task(cli: EmulatorThread) -> None:
    task_id = run("t2v", "A kitten", *SMALL, "--detach").stdout.strip()
    result = run("cancel", task_id)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == task_id
    assert json.loads(run("status", task_id, "--json").stdout)["remote"]["status"] == "CANCELED"


def test_tasks_lists_the_ledger_with_filters_and_totals(cli: EmulatorThread) -> None:
    assert run("t2v", "A kitten", *SMALL).exit_code == 0
    assert run("t2v", "A puppy", *SMALL, "--detach").exit_code == 5
    everything = json.loads(run("tasks", "--json").stdout)
    assert everything["count"] == 2
    # The emulator here is reached by a loopback base URL: it bills nothing, whatever its usage says.
    assert everything["billed_seconds"] == 0
    done = json.loads(run("tasks", "--status", "SUCCEEDED", "--json").stdout)
    assert [row["prompt"] for row in done["tasks"]] == ["A kitten"]
    assert json.loads(run("tasks", "--mode", "i2v", "--json").stdout)["count"] == 0
    assert json.loads(run("tasks", "--since", "2000-01-01", "--until", "2000-01-02", "--json").stdout)["count"] == 0
    table = run("tasks")
    header, *lines = table.stdout.splitlines()
    assert header.split("\t")[:3] == ["local id", "task id", "status"]
    assert sorted(line.split("\t")[2] for line in lines) == ["PENDING", "SUCCEEDED"]
    assert "billed seconds" in table.stderr
    remote = json.loads(run("tasks", "--remote", "--json").stdout)
    assert remote["total"] == 2
    assert sorted(task["status"] for task in remote["tasks"]) == ["PENDING", "SUCCEEDED"]
    assert all(task["gmt_create"].endswith("+00:00") for task in remote["tasks"])
    listed = run("tasks", "--remote")
    header, *rows = listed.stdout.splitlines()
    assert header.split("\t") == ["task id", "status", "model", "created (UTC)"]
    assert sorted(row.split("\t")[1] for row in rows) == ["PENDING", "SUCCEEDED"]
    assert all(as_utc(row.split("\t")[3] + "+00:00") for row in rows)


def test_resume_finishes_detached_tasks(cli: EmulatorThread) -> None:
    ids = [run("t2v", p, *SMALL, "--detach").stdout.strip() for p in ("One", "Two")]
    result = run("resume")
    assert result.exit_code == 0, result.stderr
    paths = result.stdout.split()
    assert len(paths) == 2 and all(Path(p).is_file() for p in paths)
    assert cli.state.task_count() == 2
    again = run("resume")
    assert again.exit_code == 0 and again.stdout == ""
    assert all(i for i in ids)


# -- information -----------------------------------------------------------------------------------


def test_models_table_and_json() -> None:
    table = run("models")
    assert table.exit_code == 0 and "wan2.7-i2v" in table.stdout and "wan2.6-t2v\tyes\t" in table.stdout
    data = json.loads(run("models", "--mode", "kf2v", "--json").stdout)["models"]
    # kf2v models, and the all-in-one models that serve kf2v too (Wan 3.0)
    assert all(m["mode"] == "kf2v" or "kf2v" in m["modes"] for m in data) and any(m["default"] for m in data)


def test_doctor_reports_the_setup_without_the_key(cli: EmulatorThread, canary_key: str) -> None:
    result = run("doctor", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["key_set"] is True and data["key_kind"] == "standard"
    assert data["reachable"] is True and data["key_accepted"] is True
    assert data["base_url"] == cli.base_url
    assert_no_secret(result, canary_key)
    human = run("doctor")
    assert "API key:      set" in human.stdout
    assert_no_secret(human, canary_key)


@pytest.mark.parametrize(
    ("key", "base", "code", "line"),
    [
        ("sk-sp-codingplan1234567", "emulator", 3, "Key kind:     coding-plan"),
        ("sk-canary-0123456789abcdef", "closed", 6, "Reachable:    NO"),
    ],
)
def test_doctor_exit_code_tells_what_is_wrong(
    cli: EmulatorThread, monkeypatch: pytest.MonkeyPatch, key: str, base: str, code: int, line: str
) -> None:
    monkeypatch.setenv("DASHSCOPE_API_KEY", key)
    if base == "closed":
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            monkeypatch.setenv("QWEN_BASE_URL", f"http://127.0.0.1:{sock.getsockname()[1]}/api/v1")
    result = run("doctor")
    assert result.exit_code == code, result.stdout + result.stderr
    assert line in result.stdout and key not in result.stdout + result.stderr


def test_doctor_with_emulator_checks_the_emulator(monkeypatch: pytest.MonkeyPatch) -> None:
    result = run("--emulator", "doctor", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["key_accepted"] is True and data["base_url_source"] == "--emulator"


def test_doctor_write_env_creates_a_private_placeholder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    result = run("--base-url", "http://127.0.0.1:9/api/v1", "doctor", "--write-env")
    assert result.exit_code == 3  # the placeholder holds no key yet: doctor says so with the auth code
    env = Path.cwd() / ".env"
    assert env.is_file() and (env.stat().st_mode & 0o777) == 0o600
    assert "API key:      not set" in result.stdout


def test_emulator_flag_runs_without_a_key(
    manual_clock: ManualClock, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    low_threshold(isolated_env)

    def sleep(seconds: float) -> None:
        # The in-process emulator is out of reach here; a short real pause lets its render threads work.
        manual_clock.sleep(seconds)
        time.sleep(0.01)

    use_flag_emulator(manual_clock, monkeypatch, sleep)
    result = run("--emulator", "t2v", "A kitten running in the moonlight", *SMALL)
    assert result.exit_code == 0, result.stderr  # free: no confirmation even above the threshold
    assert "Cost: free" in result.stderr
    assert Path(result.stdout.strip()).is_file()
    assert "sk-" not in result.stderr


def test_emulator_runs_are_listed_but_never_billed_resumed_or_used_as_history(
    manual_clock: ManualClock, monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    from qwenvid.store.ledger import Ledger

    use_flag_emulator(manual_clock, monkeypatch)
    assert run("--emulator", "t2v", "A free kitten", *SMALL).exit_code == 0
    refused = run("--emulator", "t2v", "A detached kitten", *SMALL, "--detach")
    assert refused.exit_code == 2 and "--detach cannot be used with --emulator" in refused.stderr
    timed_out = run("--emulator", "t2v", "A detached kitten", *SMALL, "--timeout", "0")
    assert timed_out.exit_code == 5, timed_out.stderr
    # No hint may send the user after a task that died with the in-process emulator.
    assert "qwenvid status" not in timed_out.stderr and "run the command again" in timed_out.stderr
    listing = run("tasks")
    assert listing.stdout.count("free (emulator)") == 2
    assert "0 billed seconds in total" in listing.stderr
    ledger = Ledger(isolated_env / "ledger.sqlite3")
    assert ledger.unfinished() == [] and ledger.totals() == []
    assert all(history_seconds(ledger, row) == [] for row in ledger.list())  # emulated runs teach no estimate
    assert run("resume").exit_code == 0  # nothing to do: the detached emulator task died with its emulator
    gone = json.loads(run("tasks", "--json").stdout)["tasks"][0]["task_id"]
    status = run("--emulator", "status", gone)
    assert status.exit_code == 8 and "in-process emulator" in status.stderr and "tasks --remote" not in status.stderr
