"""Fault injection: the spec language, and each fault as a client sees it over loopback."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.faults import FAULT_HELP, KINDS, Fault, FaultPlan, parse_fault
from qwenvid.emulator.server import EmulatorThread
from qwenvid.errors import ValidationError
from tests.support.emulator import T2V_PATH, api_client, run_to_end, submit_ok

SMALL: dict[str, Any] = {"model": "wan2.2-t2v-plus", "input": {"prompt": "A lighthouse at dusk"},
                         "parameters": {"size": "832*480"}}


# ---- the spec language --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("throttle:submit:2", Fault("throttle", "submit", 2)),
        ("throttle:query:1:7", Fault("throttle", "query", 1, seconds=7.0)),
        ("5xx:query:3", Fault("5xx", "query", 3)),
        ("503:list", Fault("503", "list", 1)),
        ("slow:query:2.5", Fault("slow", "query", 1, seconds=2.5)),
        ("slow:any:0.1:*", Fault("slow", "any", None, seconds=0.1)),
        ("drop-after-create:1", Fault("drop-after-create", "submit", 1)),
        ("drop-before-create", Fault("drop-before-create", "submit", 1)),
        ("5xx-after-create:2", Fault("5xx-after-create", "submit", 2)),
        ("late-after-create:3", Fault("late-after-create", "submit", 1, seconds=3.0)),
        ("late-after-create:0.5:*", Fault("late-after-create", "submit", None, seconds=0.5)),
        ("drop:query:2", Fault("drop", "query", 2)),
        ("truncate:download:1", Fault("truncate", "download", 1)),
        ("truncate", Fault("truncate", "download", 1)),
        ("fail:DataInspectionFailed:1", Fault("fail", "submit", 1, code="DataInspectionFailed")),
        ("reject:IPInfringementSuspect", Fault("reject", "submit", 1, code="IPInfringementSuspect")),
        ("expire:60", Fault("expire", count=None, seconds=60.0)),
        ("expire:url:10", Fault("expire", count=None, seconds=10.0, scope="url")),
    ],
)
def test_parse_fault(spec: str, fault: Fault) -> None:
    assert parse_fault(spec) == fault


@pytest.mark.parametrize(
    "spec",
    ["", "explode:query", "throttle", "throttle:nowhere", "5xx:query:0", "5xx:query:x", "slow:query",
     "slow:query:fast", "late-after-create", "late-after-create:soon", "fail", "fail:", "expire:soon",
     "expire:disk:5", "throttle:query:1:2:3"],
)
def test_bad_fault_specs_say_why(spec: str) -> None:
    with pytest.raises(ValidationError, match="bad fault spec"):
        parse_fault(spec)


def test_help_documents_every_kind() -> None:
    for kind in KINDS:
        assert f"{kind}:" in FAULT_HELP or f"{kind}[" in FAULT_HELP, kind


def test_plan_counts_down_and_matches_any() -> None:
    plan = FaultPlan([parse_fault("5xx:any:2")])
    fired = [plan.take("5xx", "query") is not None for _ in range(3)]
    assert fired == [True, True, False]
    assert plan.armed() == []


# ---- each fault over HTTP -----------------------------------------------------------------


def test_throttle_burst_on_submit(emulator: EmulatorThread) -> None:
    emulator.arm("throttle:submit:2:3")
    with api_client(emulator) as client:
        answers = [client.post(T2V_PATH, json=SMALL) for _ in range(3)]
    assert [a.status_code for a in answers] == [429, 429, 200]
    assert answers[0].json()["code"] == "Throttling.RateQuota"
    assert answers[0].headers["Retry-After"] == "3"
    assert emulator.state.task_count() == 1


@pytest.mark.parametrize(("spec", "status", "code"), [("5xx:query:3", 500, "InternalError"),
                                                      ("503:query:3", 503, "ServiceUnavailable")])
def test_server_errors_on_query(emulator: EmulatorThread, spec: str, status: int, code: str) -> None:
    emulator.arm(spec)
    with api_client(emulator) as client:
        answers = [client.get("/tasks/abc") for _ in range(4)]
    assert [a.status_code for a in answers] == [status, status, status, 200]
    assert {a.json()["code"] for a in answers[:3]} == {code}
    assert all(a.json()["request_id"] == a.headers["X-Request-ID"] for a in answers)


def test_5xx_on_submit_creates_nothing_but_after_create_does(emulator: EmulatorThread) -> None:
    emulator.arm("5xx:submit:1")
    emulator.arm("5xx-after-create:1")
    with api_client(emulator) as client:
        before = client.post(T2V_PATH, json=SMALL)
        count_before = emulator.state.task_count()
        after = client.post(T2V_PATH, json=SMALL)
    assert (before.status_code, after.status_code) == (500, 500)
    assert count_before == 0 and emulator.state.task_count() == 1


def test_slow_answer_times_out_a_client(emulator: EmulatorThread) -> None:
    emulator.arm("slow:query:0.25")
    with api_client(emulator) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.get("/tasks/abc", timeout=0.05)
        assert client.get("/tasks/abc", timeout=2).status_code == 200


def test_late_answer_after_create_is_an_ambiguous_submit(emulator: EmulatorThread) -> None:
    # Unlike slow:submit (which waits before reading the body), the task exists when the client gives up.
    emulator.arm("late-after-create:0.3")
    with api_client(emulator) as client:
        with pytest.raises(httpx.ReadTimeout):
            client.post(T2V_PATH, json=SMALL, timeout=0.1)
        assert emulator.state.task_count() == 1
        listed = client.get("/tasks").json()
        assert listed["total"] == 1 and listed["data"][0]["status"] in ("PENDING", "RUNNING")
        # Armed once: the next submit is answered at once.
        assert client.post(T2V_PATH, json=SMALL, timeout=2).status_code == 200
    assert emulator.state.task_count() == 2


@pytest.mark.parametrize(("spec", "created"), [("drop-before-create:1", 0), ("drop-after-create:1", 1)])
def test_dropped_submit(emulator: EmulatorThread, spec: str, created: int) -> None:
    emulator.arm(spec)
    with api_client(emulator) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.post(T2V_PATH, json=SMALL)
        listed = client.get("/tasks").json()
        retried = client.post(T2V_PATH, json=SMALL)
    assert listed["total"] == created
    assert retried.status_code == 200
    assert emulator.state.task_count() == created + 1


def test_dropped_query(emulator: EmulatorThread) -> None:
    emulator.arm("drop:query:1")
    with api_client(emulator) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.get("/tasks/abc")
        assert client.get("/tasks/abc").status_code == 200


def test_truncated_download_resumes_with_range(emulator: EmulatorThread) -> None:
    with api_client(emulator) as client:
        url = run_to_end(emulator, client, submit_ok(client, SMALL))["output"]["video_url"]
    whole = httpx.get(url).content
    emulator.arm("truncate:download:1")
    received = b""
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        with httpx.stream("GET", url) as response:
            assert int(response.headers["content-length"]) == len(whole)
            for chunk in response.iter_bytes():
                received += chunk
    assert 0 < len(received) < len(whole)
    rest = httpx.get(url, headers={"Range": f"bytes={len(received)}-"})
    assert rest.status_code == 206
    assert received + rest.content == whole


@pytest.mark.parametrize(
    ("spec", "code", "message"),
    [
        ("fail:DataInspectionFailed", "DataInspectionFailed", "Output data may contain inappropriate content."),
        ("fail:InternalError.Algo", "InternalError.Algo", "Inference internal error."),
    ],
)
def test_task_failure_with_chosen_code(emulator: EmulatorThread, spec: str, code: str, message: str) -> None:
    emulator.arm(spec)
    with api_client(emulator) as client:
        failed = run_to_end(emulator, client, submit_ok(client, SMALL))
        fine = run_to_end(emulator, client, submit_ok(client, SMALL))
    out = failed["output"]
    assert (out["task_status"], out["code"], out["message"]) == ("FAILED", code, message)
    assert "video_url" not in out and "usage" not in failed
    assert fine["output"]["task_status"] == "SUCCEEDED"


def test_submit_rejected_by_input_moderation(emulator: EmulatorThread) -> None:
    emulator.arm("reject:DataInspectionFailed")
    with api_client(emulator) as client:
        response = client.post(T2V_PATH, json=SMALL)
    assert response.status_code == 400
    assert response.json()["code"] == "DataInspectionFailed"
    assert response.json()["message"] == "Input data may contain inappropriate content."
    assert emulator.state.task_count() == 0


def test_expire_shortens_task_and_url_lifetimes(emulator: EmulatorThread, manual_clock: ManualClock) -> None:
    emulator.arm("expire:60")
    with api_client(emulator) as client:
        task_id = submit_ok(client, SMALL)
        emulator.state.wait_rendered()
        manual_clock.advance(5)
        url = client.get(f"/tasks/{task_id}").json()["output"]["video_url"]
        fresh = httpx.get(url).status_code
        manual_clock.advance(60)
        stale = httpx.get(url)
        status = client.get(f"/tasks/{task_id}").json()["output"]["task_status"]
    assert fresh == 200
    assert stale.status_code == 403 and "Request has expired." in stale.text
    assert status == "UNKNOWN"


def test_faults_from_the_config(make_emulator: Any) -> None:
    emulator = make_emulator(EmulatorConfig(faults=("5xx:list:1",)), clock=ManualClock())
    with api_client(emulator) as client:
        assert [client.get("/tasks").status_code for _ in range(2)] == [500, 200]


# ---- control endpoints --------------------------------------------------------------------


def test_faults_armed_at_runtime_over_http(emulator: EmulatorThread) -> None:
    armed = httpx.post(emulator.root_url + "/__emulator/faults",
                       json={"faults": ["5xx:query:1", {"kind": "throttle", "target": "list", "count": 1}]})
    bad = httpx.post(emulator.root_url + "/__emulator/faults", json=["explode:now"])
    with api_client(emulator) as client:
        codes = [client.get("/tasks/x").status_code, client.get("/tasks").status_code, client.get("/tasks").status_code]
    cleared = httpx.post(emulator.root_url + "/__emulator/faults", json={"clear": True, "faults": []})
    assert armed.status_code == 200 and len(armed.json()["faults"]) == 2
    assert bad.status_code == 400 and "explode" in bad.json()["error"]
    assert codes == [500, 429, 200]
    assert cleared.json()["faults"] == []


def test_state_and_clock_endpoints(emulator: EmulatorThread, manual_clock: ManualClock) -> None:
    with api_client(emulator) as client:
        submit_ok(client, SMALL)
    start = manual_clock.time()
    pending = httpx.get(emulator.root_url + "/__emulator/state").json()
    advanced = httpx.post(emulator.root_url + "/__emulator/clock/advance", json={"seconds": 1.0}).json()
    rendered = httpx.post(emulator.root_url + "/__emulator/wait-rendered", json={"timeout": 30}).json()
    httpx.post(emulator.root_url + "/__emulator/clock", json={"seconds": 10})
    finished = httpx.get(emulator.root_url + "/__emulator/state").json()
    assert pending["task_count"] == 1 and pending["tasks_by_status"] == {"PENDING": 1}
    assert advanced == {"time": start + 1.0, "manual": True}
    assert rendered == {"rendered": True}
    assert finished["tasks_by_status"] == {"SUCCEEDED": 1}


def test_clock_endpoint_refuses_a_real_clock(live_emulator: EmulatorThread) -> None:
    response = httpx.post(live_emulator.root_url + "/__emulator/clock/advance", json={"seconds": 1})
    assert response.status_code == 400


@pytest.mark.parametrize(("spec", "status", "code"), [("throttle:download:1:2", 503, "SlowDown"),
                                                      ("5xx:download", 500, "InternalError"),
                                                      ("503:download", 503, "ServiceUnavailable")])
def test_download_faults_answer_like_oss(emulator: EmulatorThread, spec: str, status: int, code: str) -> None:
    with api_client(emulator) as client:
        url = run_to_end(emulator, client, submit_ok(client, SMALL))["output"]["video_url"]
    emulator.arm(spec)
    faulted, after = httpx.get(url), httpx.get(url)
    assert faulted.status_code == status and f"<Code>{code}</Code>" in faulted.text
    assert after.status_code == 200
