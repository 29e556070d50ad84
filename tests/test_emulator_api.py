"""The emulator's DashScope API over loopback: headers, validation, life cycle, list, cancel, limits."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from qwenvid.catalogue import get_model
from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread
from qwenvid.requests.priors import QUEUE_SECONDS, QUEUE_SPREAD, SCATTER, prior_for_request
from tests.support.emulator import KF2V_PATH, T2V_PATH, api_client, run_to_end, submit_ok

TIME_FORMAT = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SMALL_T2V: dict[str, Any] = {
    "model": "wan2.2-t2v-plus",
    "input": {"prompt": "A kitten running in the moonlight"},
    "parameters": {"size": "832*480"},
}
CANCEL_REFUSED = "Failed to cancel the task, please confirm if the task is in PENDING status."


def _beijing(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone(timedelta(hours=8))).strftime("%Y%m%d%H%M%S")


# ---- submit and headers -------------------------------------------------------------------


def test_submit_answers_200_with_task_id_status_and_request_id(emulator: EmulatorThread) -> None:
    with api_client(emulator) as client:
        response = client.post(T2V_PATH, json=SMALL_T2V)
    body = response.json()
    assert response.status_code == 200
    assert body["output"]["task_status"] == "PENDING"
    assert UUID.match(body["output"]["task_id"])
    assert UUID.match(body["request_id"]) and response.headers["X-Request-ID"] == body["request_id"]
    assert emulator.state.task_count() == 1


@pytest.mark.parametrize(
    ("headers", "status", "code", "message"),
    [
        ({"Authorization": None}, 401, "InvalidApiKey", "No API-key provided."),
        ({"Authorization": "Bearer"}, 401, "InvalidApiKey", "No API-key provided."),
        ({"Authorization": "Basic abc"}, 401, "InvalidApiKey", "No API-key provided."),
        ({"X-DashScope-Async": None}, 403, "AccessDenied", "current user api does not support synchronous calls"),
        ({"X-DashScope-Async": "disable"}, 403, "AccessDenied", "current user api does not support synchronous calls"),
    ],
)
def test_submit_header_errors(
    emulator: EmulatorThread, headers: dict[str, str | None], status: int, code: str, message: str
) -> None:
    sent = {"Authorization": "Bearer sk-canary-0123456789abcdef", "X-DashScope-Async": "enable", **headers}
    response = httpx.post(emulator.base_url + T2V_PATH, json=SMALL_T2V,
                          headers={k: v for k, v in sent.items() if v is not None})
    body = response.json()
    assert (response.status_code, body["code"], body["message"]) == (status, code, message)
    assert response.headers["X-Request-ID"] == body["request_id"]
    assert emulator.state.task_count() == 0


def test_configured_keys_refuse_other_keys(make_emulator: Any) -> None:
    emulator = make_emulator(EmulatorConfig(api_keys=("sk-good-000000",)), clock=ManualClock())
    with api_client(emulator, key="sk-other-111111") as client:
        refused = client.get("/tasks/abc")
    with api_client(emulator, key="sk-good-000000") as client:
        accepted = client.get("/tasks/abc")
    assert refused.status_code == 401 and refused.json()["message"] == "Invalid API-key provided."
    assert accepted.status_code == 200


def test_header_and_content_type_variants_are_tolerated(emulator: EmulatorThread) -> None:
    """SDK: `application/json; charset=utf-8`; skill: Content-Type on GETs; cancel: no body, no type."""
    with api_client(emulator) as client:
        submitted = client.post(T2V_PATH, content=httpx.Request("POST", "/", json=SMALL_T2V).read(),
                                headers={"Content-Type": "application/json; charset=utf-8",
                                         "X-DashScope-Async": "ENABLE", "user-agent": "dashscope/1.26.2"})
        task_id = submitted.json()["output"]["task_id"]
        queried = client.get(f"/tasks/{task_id}", headers={"Content-Type": "application/json"})
        canceled = httpx.post(f"{emulator.base_url}/tasks/{task_id}/cancel",
                              headers={"Authorization": "Bearer sk-x-12345678", "Content-Length": "0"})
    assert submitted.status_code == 200 and queried.status_code == 200
    assert canceled.status_code == 200 and set(canceled.json()) == {"request_id"}


# ---- validation ---------------------------------------------------------------------------

IMAGE = "https://example.invalid/cat.png"


@pytest.mark.parametrize(
    ("path", "body", "code", "needle"),
    [
        (T2V_PATH, {"model": "wan2.6-i2v-flash", "input": {"img_url": IMAGE}, "parameters": {"size": "1280*720"}},
         "InvalidParameter", "resolution"),
        (T2V_PATH, {"model": "wan2.6-t2v", "input": {"prompt": "x"}, "parameters": {"duration": 30}},
         "InvalidParameter", "duration"),
        (T2V_PATH, {"model": "wan2.6-t2v", "input": {"prompt": "x"}, "parameters": {"size": "1280*1280"}},
         "InvalidParameter", "size"),
        (T2V_PATH, {"model": "wan9.9-t2v", "input": {"prompt": "x"}}, "InvalidParameter", "Model not exist."),
        (T2V_PATH, {"input": {"prompt": "x"}}, "BadRequest.EmptyModel", "model"),
        (T2V_PATH, {"model": "wan2.6-t2v"}, "BadRequest.EmptyInput", "input"),
        (T2V_PATH, {"model": "wan2.2-kf2v-flash", "input": {"first_frame_url": IMAGE, "last_frame_url": IMAGE}},
         "InvalidParameter", "url error, please check url!"),
        (KF2V_PATH, {"model": "wan2.6-t2v", "input": {"prompt": "x"}}, "InvalidParameter",
         "url error, please check url!"),
        (T2V_PATH, {"model": "wan2.1-vace-plus", "input": {"prompt": "x", "function": "video-synthesis"}},
         "InvalidParameter", "input.function"),
    ],
)
def test_submit_validation_errors(emulator: EmulatorThread, path: str, body: dict[str, Any], code: str,
                                  needle: str) -> None:
    with api_client(emulator) as client:
        response = client.post(path, json=body)
    answer = response.json()
    assert response.status_code == 400, answer
    assert answer["code"] == code
    assert needle in answer["message"]
    assert emulator.state.task_count() == 0


def test_non_json_body_is_refused(emulator: EmulatorThread) -> None:
    with api_client(emulator) as client:
        response = client.post(T2V_PATH, content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["message"] == "Required body invalid, please check the request body format."


def test_sdk_extra_fields_are_ignored(emulator: EmulatorThread) -> None:
    """The SDK adds input.extend_prompt and input.function='video-synthesis'; neither makes a VACE call."""
    body = {**SMALL_T2V, "input": {**SMALL_T2V["input"], "extend_prompt": True, "function": "video-synthesis"},
            "parameters": {**SMALL_T2V["parameters"], "unknown_knob": 3}}
    with api_client(emulator) as client:
        assert client.post(T2V_PATH, json=body).status_code == 200


def test_vace_function_is_honoured(emulator: EmulatorThread) -> None:
    body = {"model": "wan2.1-vace-plus",
            "input": {"function": "image_reference", "prompt": "a cat", "ref_images_url": [IMAGE]},
            "parameters": {"size": "1280*720"}}
    with api_client(emulator) as client:
        assert client.post(T2V_PATH, json=body).status_code == 200


# ---- life cycle ---------------------------------------------------------------------------


def test_life_cycle_bodies_per_status(emulator: EmulatorThread, manual_clock: ManualClock) -> None:
    with api_client(emulator) as client:
        task_id = submit_ok(client, SMALL_T2V)
        pending = client.get(f"/tasks/{task_id}").json()
        manual_clock.advance(0.31)
        running = client.get(f"/tasks/{task_id}").json()
        emulator.state.wait_rendered()
        manual_clock.advance(1.2)
        done = client.get(f"/tasks/{task_id}").json()

    assert set(pending["output"]) == {"task_id", "task_status", "submit_time"}
    assert pending["output"]["task_status"] == "PENDING" and "usage" not in pending
    assert running["output"]["task_status"] == "RUNNING"
    assert running["output"]["task_metrics"] == {"TOTAL": 1, "SUCCEEDED": 0, "FAILED": 0}
    assert set(running["output"]) == {"task_id", "task_status", "submit_time", "scheduled_time", "task_metrics"}
    out = done["output"]
    assert out["task_status"] == "SUCCEEDED"
    for name in ("submit_time", "scheduled_time", "end_time"):
        assert TIME_FORMAT.match(out[name]), out[name]
    assert out["submit_time"] < out["scheduled_time"] < out["end_time"]
    assert out["orig_prompt"] == "A kitten running in the moonlight"
    assert out["actual_prompt"].startswith("A kitten running in the moonlight")
    assert re.search(r"/__results/.+\.mp4\?Expires=\d+&OSSAccessKeyId=.+&Signature=", out["video_url"])
    assert done["usage"] == {"video_count": 1, "video_duration": 5, "video_ratio": "832*480"}


def test_times_are_utc_plus_8(emulator: EmulatorThread, manual_clock: ManualClock) -> None:
    with api_client(emulator) as client:
        task_id = submit_ok(client, SMALL_T2V)
        shown = client.get(f"/tasks/{task_id}").json()["output"]["submit_time"]
    expected = datetime.fromtimestamp(manual_clock.time(), UTC) + timedelta(hours=8)
    assert shown[:16] == expected.strftime("%Y-%m-%d %H:%M")


def test_task_stays_running_until_its_video_exists(emulator: EmulatorThread, manual_clock: ManualClock,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    original = emulator.state.cache.path_for

    def slow_render(*args: Any, **kwargs: Any) -> Path:
        release.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(emulator.state.cache, "path_for", slow_render)
    with api_client(emulator) as client:
        task_id = submit_ok(client, SMALL_T2V)
        manual_clock.advance(600)
        before = client.get(f"/tasks/{task_id}").json()["output"]
        release.set()
        emulator.state.wait_rendered()
        after = client.get(f"/tasks/{task_id}").json()["output"]
    assert before["task_status"] == "RUNNING" and "video_url" not in before
    assert after["task_status"] == "SUCCEEDED"


@pytest.mark.parametrize(
    ("model", "extend", "rewritten"),
    [("wan2.2-t2v-plus", None, True), ("wan2.2-t2v-plus", False, False), ("wan2.6-t2v", True, False)],
)
def test_actual_prompt_except_wan26(emulator: EmulatorThread, model: str, extend: bool | None,
                                    rewritten: bool) -> None:
    parameters: dict[str, Any] = {"size": "832*480" if model != "wan2.6-t2v" else "1280*720", "duration": 5}
    if model == "wan2.2-t2v-plus":
        parameters.pop("duration")
    if extend is not None:
        parameters["prompt_extend"] = extend
    with api_client(emulator) as client:
        task_id = submit_ok(client, {"model": model, "input": {"prompt": "a fox"}, "parameters": parameters})
        out = run_to_end(emulator, client, task_id)["output"]
    assert out["task_status"] == "SUCCEEDED"
    assert ("actual_prompt" in out) is rewritten
    assert out["orig_prompt"] == "a fox"


@pytest.mark.parametrize(
    ("body", "usage"),
    [
        ({"model": "wan2.6-t2v", "input": {"prompt": "p"}, "parameters": {"size": "1280*720", "duration": 2}},
         {"duration": 2, "size": "1280*720", "input_video_duration": 0, "output_video_duration": 2,
          "video_count": 1, "SR": 720}),
        ({"model": "wan2.7-t2v", "input": {"prompt": "p"},
          "parameters": {"resolution": "720P", "ratio": "9:16", "duration": 2}},
         {"duration": 2, "output_video_duration": 2, "SR": 720, "ratio": "9:16", "video_count": 1}),
        ({"model": "wan2.6-i2v-flash", "input": {"img_url": IMAGE},
          "parameters": {"resolution": "720P", "duration": 2, "audio": False}},
         {"duration": 2, "size": "1280*720", "input_video_duration": 0, "output_video_duration": 2,
          "video_count": 1, "SR": 720, "audio": False}),
        ({"model": "wan2.1-i2v-turbo", "input": {"img_url": IMAGE}, "parameters": {"resolution": "480P",
                                                                                  "duration": 3}},
         {"video_duration": 3, "video_ratio": "standard", "video_count": 1}),
    ],
    ids=["wan26", "wan27", "wan26-audio-flag", "i2v21"],
)
def test_usage_shape_per_family(make_emulator: Any, body: dict[str, Any], usage: dict[str, Any]) -> None:
    emulator = make_emulator(EmulatorConfig(fetch_remote_inputs=False), clock=ManualClock())
    with api_client(emulator) as client:
        task_id = submit_ok(client, body)
        answer = run_to_end(emulator, client, task_id)
    assert answer["usage"] == usage


def test_unknown_task_is_unknown_with_http_200(emulator: EmulatorThread) -> None:
    with api_client(emulator) as client:
        response = client.get("/tasks/1111")
    assert response.status_code == 200
    assert response.json()["output"] == {"task_id": "1111", "task_status": "UNKNOWN"}


def test_task_becomes_unknown_after_its_ttl(emulator: EmulatorThread, manual_clock: ManualClock) -> None:
    with api_client(emulator) as client:
        task_id = submit_ok(client, SMALL_T2V)
        manual_clock.advance(24 * 3600 - 10)
        before = client.get(f"/tasks/{task_id}").json()["output"]["task_status"]
        manual_clock.advance(20)
        after = client.get(f"/tasks/{task_id}").json()["output"]
        listed = client.get("/tasks").json()
    assert before == "SUCCEEDED" or before == "RUNNING"
    assert after == {"task_id": task_id, "task_status": "UNKNOWN"}
    assert listed["total"] == 0


# ---- cancel -------------------------------------------------------------------------------


def test_cancel_pending_task(emulator: EmulatorThread) -> None:
    with api_client(emulator) as client:
        task_id = submit_ok(client, SMALL_T2V)
        canceled = client.post(f"/tasks/{task_id}/cancel")
        after = client.get(f"/tasks/{task_id}").json()["output"]
        again = client.post(f"/tasks/{task_id}/cancel")
    assert canceled.status_code == 200 and set(canceled.json()) == {"request_id"}
    assert after["task_status"] == "CANCELED" and "end_time" in after and "video_url" not in after
    assert again.status_code == 400 and again.json()["code"] == "UnsupportedOperation"


@pytest.mark.parametrize("advance", [0.5, 3600.0], ids=["running", "succeeded"])
def test_cancel_refused_unless_pending(emulator: EmulatorThread, manual_clock: ManualClock, advance: float) -> None:
    with api_client(emulator) as client:
        task_id = submit_ok(client, SMALL_T2V)
        emulator.state.wait_rendered()
        manual_clock.advance(advance)
        response = client.post(f"/tasks/{task_id}/cancel")
        status = client.get(f"/tasks/{task_id}").json()["output"]["task_status"]
    assert response.status_code == 400
    assert response.json()["code"] == "UnsupportedOperation"
    assert response.json()["message"] == CANCEL_REFUSED
    assert status == ("RUNNING" if advance < 1 else "SUCCEEDED")


def test_cancel_unknown_task_is_refused(emulator: EmulatorThread) -> None:
    with api_client(emulator) as client:
        response = client.post("/tasks/nope/cancel")
    assert response.status_code == 400 and response.json()["code"] == "UnsupportedOperation"


# ---- list ---------------------------------------------------------------------------------


def _submit_several(client: httpx.Client, clock: ManualClock, models: list[str]) -> list[str]:
    """Submit one task per model, a second apart (under the submit rate); the last one is still PENDING."""
    ids = []
    for index, model in enumerate(models):
        if index:
            clock.advance(1.0)
        ids.append(submit_ok(client, {**SMALL_T2V, "model": model, "parameters": {"size": "832*480"}}))
    return ids


def test_list_pages_newest_first_with_epoch_ms(emulator: EmulatorThread, manual_clock: ManualClock) -> None:
    with api_client(emulator) as client:
        ids = _submit_several(client, manual_clock, ["wan2.2-t2v-plus"] * 5)
        pages = [client.get("/tasks", params={"page_no": n, "page_size": 2}).json() for n in (1, 2, 3)]
        slash = client.get("/tasks/", params={"page_size": 10}).json()
    assert [p["total"] for p in pages] == [5, 5, 5] and pages[0]["total_page"] == 3
    listed = [item["task_id"] for page in pages for item in page["data"]]
    assert listed == list(reversed(ids))
    assert (pages[2]["page_no"], pages[2]["page_size"], len(pages[2]["data"])) == (3, 2, 1)
    item = pages[0]["data"][0]
    assert isinstance(item["gmt_create"], int) and abs(item["gmt_create"] / 1000 - manual_clock.time()) < 5
    assert item["model_name"] == "wan2.2-t2v-plus"
    assert item["user_api_unique_key"] == "apikey:v1:aigc:video-generation:video-synthesis:wan2.2-t2v-plus"
    assert [i["task_id"] for i in slash["data"]] == list(reversed(ids))


def test_list_filters(emulator: EmulatorThread, manual_clock: ManualClock) -> None:
    with api_client(emulator) as client:
        ids = _submit_several(client, manual_clock, ["wan2.2-t2v-plus", "wan2.1-t2v-turbo", "wan2.2-t2v-plus"])
        client.post(f"/tasks/{ids[2]}/cancel")
        by_model = client.get("/tasks", params={"model_name": "wan2.1-t2v-turbo"}).json()
        by_status = client.get("/tasks", params={"status": "CANCELED"}).json()
        by_id = client.get("/tasks", params={"task_id": ids[0]}).json()
    assert [i["task_id"] for i in by_model["data"]] == [ids[1]]
    assert [i["task_id"] for i in by_status["data"]] == [ids[2]]
    assert [i["task_id"] for i in by_id["data"]] == [ids[0]]


def test_list_time_window(emulator: EmulatorThread, manual_clock: ManualClock) -> None:
    with api_client(emulator) as client:
        submitted_at = manual_clock.time()
        task_id = submit_ok(client, SMALL_T2V)
        manual_clock.advance(3 * 3600)
        inside = client.get("/tasks", params={"start_time": _beijing(submitted_at - 60),
                                              "end_time": _beijing(submitted_at + 60)}).json()
        later = client.get("/tasks", params={"start_time": _beijing(submitted_at + 3600)}).json()
        end_only = client.get("/tasks", params={"end_time": _beijing(submitted_at + 60)}).json()
    assert [i["task_id"] for i in inside["data"]] == [task_id]
    assert later["total"] == 0
    assert end_only["total"] == 1


@pytest.mark.parametrize(
    "params",
    [
        {"start_time": "20260101000000", "end_time": "20260102000001"},
        {"start_time": "20260102000000", "end_time": "20260101000000"},
        {"start_time": "2026-01-01"},
        {"page_size": "0"},
        {"page_no": "x"},
        {"status": "DONE"},
    ],
    ids=["over-24h", "reversed", "bad-format", "page-size-0", "page-no-text", "bad-status"],
)
def test_list_bad_parameters(emulator: EmulatorThread, params: dict[str, str]) -> None:
    with api_client(emulator) as client:
        response = client.get("/tasks", params=params)
    assert response.status_code == 400 and response.json()["code"] == "InvalidParameter"


# ---- limits -------------------------------------------------------------------------------


def test_submit_rate_limit_per_model(emulator: EmulatorThread, manual_clock: ManualClock) -> None:
    """wan2.2-t2v-plus takes 2 submits per second (dashscope-api.md §4.2); other models are not affected."""
    with api_client(emulator) as client:
        answers = [client.post(T2V_PATH, json=SMALL_T2V) for _ in range(3)]
        other = client.post(T2V_PATH, json={**SMALL_T2V, "model": "wan2.1-t2v-turbo"})
        manual_clock.advance(1.0)
        later = client.post(T2V_PATH, json=SMALL_T2V)
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json()["code"] == "Throttling.RateQuota"
    assert other.status_code == 200 and later.status_code == 200
    assert emulator.state.task_count() == 4


def test_over_concurrency_tasks_wait_pending(emulator: EmulatorThread, manual_clock: ManualClock) -> None:
    """wan2.2-t2v-plus runs 2 at a time: a third task stays PENDING until a slot frees, then starts at once."""
    with api_client(emulator) as client:
        first = [submit_ok(client, SMALL_T2V) for _ in range(2)]  # t=0: running 0.3 .. 1.5
        manual_clock.advance(1.0)
        third = submit_ok(client, SMALL_T2V)  # t=1.0: ready at 1.3, but no slot before 1.5
        emulator.state.wait_rendered()

        def statuses() -> list[str]:
            return [client.get(f"/tasks/{i}").json()["output"]["task_status"] for i in [*first, third]]

        manual_clock.advance(0.4)
        waiting = statuses()
        manual_clock.advance(0.2)
        freed = statuses()
        ended = client.get(f"/tasks/{first[0]}").json()["output"]["end_time"]
        started = client.get(f"/tasks/{third}").json()["output"]["scheduled_time"]
    assert waiting == ["RUNNING", "RUNNING", "PENDING"]
    assert freed == ["SUCCEEDED", "SUCCEEDED", "RUNNING"]
    assert started == ended


def test_over_concurrency_rejected_when_configured(make_emulator: Any) -> None:
    clock = ManualClock()
    emulator = make_emulator(EmulatorConfig(concurrency_mode="reject"), clock=clock)
    with api_client(emulator) as client:
        _submit_several(client, clock, ["wan2.2-t2v-plus"] * 2)
        refused = client.post(T2V_PATH, json=SMALL_T2V)
    assert refused.status_code == 429
    assert refused.json() | {"request_id": ""} == {"code": "Throttling.Concurrency",
                                                    "message": "Too many concurrent requests.", "request_id": ""}


@pytest.mark.parametrize(("path", "method"), [("/tasks/x", "GET"), ("/tasks", "GET"), ("/tasks/x/cancel", "POST")])
def test_query_qps_limit_per_kind(emulator: EmulatorThread, manual_clock: ManualClock, path: str,
                                  method: str) -> None:
    with api_client(emulator) as client:
        codes = [client.request(method, path).status_code for _ in range(21)]
        other_kind = client.get("/tasks/y" if path != "/tasks/x" else "/tasks")
        manual_clock.advance(1.0)
        after = client.request(method, path)
    assert 429 not in codes[:20] and codes[20] == 429
    assert other_kind.status_code == 200
    assert after.status_code != 429


def test_query_throttle_body(emulator: EmulatorThread) -> None:
    with api_client(emulator) as client:
        for _ in range(20):
            client.get("/tasks/x")
        response = client.get("/tasks/x")
    assert response.json()["code"] == "Throttling.RateQuota"
    assert response.json()["message"] == "Requests rate limit exceeded, please try again later."


def test_limits_switch_off(make_emulator: Any) -> None:
    emulator = make_emulator(EmulatorConfig(limits=False), clock=ManualClock())
    with api_client(emulator) as client:
        codes = {client.post(T2V_PATH, json=SMALL_T2V).status_code for _ in range(4)}
        codes |= {client.get("/tasks/x").status_code for _ in range(25)}
    assert codes == {200}


def test_unknown_path_is_a_json_404(emulator: EmulatorThread) -> None:
    with api_client(emulator) as client:
        response = client.post("/services/aigc/text2video/video-synthesis", json=SMALL_T2V)
    assert response.status_code == 404 and response.json()["code"] == "NotFound"


def test_realistic_timing_is_the_requests_prior_with_its_scatter(make_emulator: Any) -> None:
    # One source of truth: the emulator's realistic mode draws around the same prior the poller aims
    # at (qwenvid/requests/priors.py), so a longer or larger request takes longer, and the draw is seedable.
    clock = ManualClock()
    emulator = make_emulator(EmulatorConfig(realistic=True, realistic_seed=7), clock=clock)
    prior = prior_for_request(SMALL_T2V)
    with api_client(emulator) as client:
        task_id = submit_ok(client, SMALL_T2V)
        emulator.state.wait_rendered()
        task = emulator.state.get_task(task_id)
        assert task is not None
        queue, render = task.pending_seconds, task.running_seconds
        assert abs(queue - QUEUE_SECONDS) <= QUEUE_SPREAD
        assert abs(render - prior.render) <= SCATTER * prior.render + 1e-9 and render != prior.render
        clock.advance(queue - 0.1)
        queued = client.get(f"/tasks/{task_id}").json()["output"]["task_status"]
        clock.advance(render)
        rendering = client.get(f"/tasks/{task_id}").json()["output"]["task_status"]
        clock.advance(0.2)
        done = client.get(f"/tasks/{task_id}").json()["output"]["task_status"]
    assert (queued, rendering, done) == ("PENDING", "RUNNING", "SUCCEEDED")
    again = make_emulator(EmulatorConfig(realistic=True, realistic_seed=7), clock=ManualClock())
    spec = get_model("wan2.2-t2v-plus")
    assert spec is not None
    assert again.state.timing_for(spec, SMALL_T2V) == (queue, render)  # the same seed, the same draw
    longer = {**SMALL_T2V, "parameters": {**SMALL_T2V["parameters"], "size": "1920*1080"}}
    assert prior_for_request(longer).render > prior.render * (1 + SCATTER) / (1 - SCATTER)


def test_wan27_i2v_without_media_is_accepted_then_fails(emulator: EmulatorThread) -> None:
    """dashscope-api.md §2.6: HTTP 200 and a task id, then FAILED with 'Field required: input.media'."""
    body = {"model": "wan2.7-i2v", "input": {"prompt": "x"}, "parameters": {"resolution": "720P"}}
    with api_client(emulator) as client:
        out = run_to_end(emulator, client, submit_ok(client, body))["output"]
    assert (out["task_status"], out["code"], out["message"]) == ("FAILED", "InvalidParameter",
                                                                 "Field required: input.media")
