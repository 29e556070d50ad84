"""DashScopeClient against the real emulator over loopback: every call, every retry rule, no key leaks."""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from qwenvid.emulator.config import EmulatorConfig, ManualClock
from qwenvid.emulator.server import EmulatorThread
from qwenvid.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    NetworkError,
    QwenvidError,
    ServerError,
    SubmitOutcomeUnknown,
    ThrottledError,
    ValidationError,
)
from qwenvid.wire.client import DashScopeClient, TaskInfo, format_list_time
from qwenvid.wire.http import RetryPolicy
from tests.support.emulator import EmulatorFactory
from tests.support.media_files import make_image

T2V_PATH = "/services/aigc/video-generation/video-synthesis"
T2V_BODY: dict[str, Any] = {
    "model": "wan2.6-t2v",
    "input": {"prompt": "A kitten running in the moonlight"},
    "parameters": {"size": "1280*720", "duration": 5},
}
# Retry sleeps start at 0.75 s; anything shorter is the rate limiter pacing queries.
RETRY_SLEEP_FLOOR = 0.5


class Sleeps:
    """Records every sleep and advances the shared manual clock instead of sleeping."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.all: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.all.append(seconds)
        self.clock.sleep(seconds)

    @property
    def retries(self) -> list[float]:
        return [value for value in self.all if value >= RETRY_SLEEP_FLOOR]


class RecordingTransport(httpx.HTTPTransport):
    """A real loopback transport that also remembers what was sent (method, URL, headers)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[httpx.Request] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.sent.append(request)
        return super().handle_request(request)


class Caught:
    """Every error a test provoked, checked at the end for the canary key."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []

    def add(self, error: BaseException) -> BaseException:
        self.errors.append(error)
        return error


@pytest.fixture(scope="module")
def renders(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One result folder for the module, so each distinct video is rendered once, not once per test."""
    return tmp_path_factory.mktemp("renders")


@pytest.fixture
def emulator(make_emulator: EmulatorFactory, manual_clock: ManualClock, renders: Path) -> EmulatorThread:
    return make_emulator(EmulatorConfig(results_dir=renders), clock=manual_clock)


@pytest.fixture
def sleeps(manual_clock: ManualClock) -> Sleeps:
    return Sleeps(manual_clock)


@pytest.fixture
def caught(canary_key: str) -> Iterator[Caught]:
    """Collects errors; afterwards proves the key is in none of their texts, reprs, hints or JSON."""
    box = Caught()
    yield box
    for error in box.errors:
        texts = [str(error), repr(error), repr(error.args)]
        if isinstance(error, QwenvidError):
            texts += [error.message, error.hint or "", json.dumps(error.to_dict())]
        for text in texts:
            assert canary_key not in text


def make_client(
    emulator: EmulatorThread,
    key: str,
    sleeps: Sleeps,
    *,
    transport: httpx.BaseTransport | None = None,
    max_retries: int = 5,
    base_url: str | None = None,
) -> DashScopeClient:
    import random

    return DashScopeClient(
        key,
        base_url or emulator.base_url,
        transport=transport,
        retry=RetryPolicy(max_retries=max_retries, rng=random.Random(1)),
        sleep=sleeps,
        clock=sleeps.clock,
    )


@pytest.fixture
def client(emulator: EmulatorThread, canary_key: str, sleeps: Sleeps) -> Iterator[DashScopeClient]:
    with make_client(emulator, canary_key, sleeps) as made:
        yield made


def finish(emulator: EmulatorThread, seconds: float = 30.0) -> None:
    """Move the emulator's manual clock past the render and wait for the real MP4 to exist."""
    emulator.manual_clock.advance(seconds)
    assert emulator.state.wait_rendered()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- submit and query --------------------------------------------------------------------------------


def test_submit_then_follow_to_succeeded(emulator: EmulatorThread, client: DashScopeClient) -> None:
    submitted = client.submit(T2V_PATH, T2V_BODY)
    assert submitted.task_status == "PENDING"
    assert submitted.task_id and submitted.request_id
    assert emulator.state.task_count() == 1

    pending = client.get_task(submitted.task_id)
    assert (pending.task_id, pending.status, pending.video_url) == (submitted.task_id, "PENDING", None)
    assert pending.submit_time is not None

    finish(emulator)
    done = client.get_task(submitted.task_id)
    assert done.status == "SUCCEEDED" and done.terminal
    assert done.video_url is not None and done.video_url.startswith("http://127.0.0.1:")
    assert done.usage["duration"] == 5
    assert done.orig_prompt == T2V_BODY["input"]["prompt"]
    assert done.end_time is not None and done.scheduled_time is not None
    assert done.request_id and done.raw["output"]["task_status"] == "SUCCEEDED"


def test_submit_sends_the_documented_headers_and_downloads_carry_no_key(
    emulator: EmulatorThread, canary_key: str, sleeps: Sleeps
) -> None:
    transport = RecordingTransport()
    with make_client(emulator, canary_key, sleeps, transport=transport) as client:
        task_id = client.submit(T2V_PATH, T2V_BODY).task_id
        finish(emulator)
        url = client.get_task(task_id).video_url
        assert url is not None
        with client.http_for_downloads() as http:
            video = http.get(url)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    submit, query, download = transport.sent
    assert submit.method == "POST" and submit.url.path.endswith(T2V_PATH)
    assert submit.headers["authorization"] == f"Bearer {canary_key}"
    assert submit.headers["x-dashscope-async"] == "enable"
    assert submit.headers["content-type"] == "application/json"
    assert submit.headers["user-agent"].startswith("qwenvid/")
    assert "x-dashscope-ossresourceresolve" not in submit.headers
    assert json.loads(submit.content) == T2V_BODY
    assert query.method == "GET" and "x-dashscope-async" not in query.headers
    assert "authorization" not in download.headers
    assert emulator.state.auth_on_download == 0


def test_unknown_task_reads_unknown(client: DashScopeClient) -> None:
    info = client.get_task("no-such-task")
    assert info.status == "UNKNOWN" and info.terminal


def test_failed_task_carries_code_and_message(emulator: EmulatorThread, client: DashScopeClient) -> None:
    emulator.arm("fail:InternalError.Algo")
    task_id = client.submit(T2V_PATH, T2V_BODY).task_id
    finish(emulator)
    info = client.get_task(task_id)
    assert info.status == "FAILED"
    assert info.code == "InternalError.Algo"
    assert info.message
    assert info.video_url is None


def test_bad_request_is_a_typed_error_and_not_retried(
    emulator: EmulatorThread, client: DashScopeClient, sleeps: Sleeps, caught: Caught
) -> None:
    body = {**T2V_BODY, "parameters": {"size": "999*999", "duration": 5}}
    with pytest.raises(BadRequestError) as error:
        client.submit(T2V_PATH, body)
    caught.add(error.value)
    assert error.value.code == "InvalidParameter" and error.value.status_code == 400
    assert error.value.request_id
    assert emulator.state.task_count() == 0
    assert sleeps.retries == []


# -- submit retry rules ------------------------------------------------------------------------------


def test_submit_retries_an_explicit_429_honouring_retry_after(
    emulator: EmulatorThread, client: DashScopeClient, sleeps: Sleeps
) -> None:
    emulator.arm("throttle:submit:2:3")
    client.submit(T2V_PATH, T2V_BODY)
    assert sleeps.retries == [3.0, 3.0]
    assert emulator.state.task_count() == 1


def test_submit_gives_up_on_persistent_429_with_throttled_error(
    emulator: EmulatorThread, canary_key: str, sleeps: Sleeps, caught: Caught
) -> None:
    emulator.arm("throttle:submit:*")
    with make_client(emulator, canary_key, sleeps, max_retries=2) as client, pytest.raises(ThrottledError) as error:
        client.submit(T2V_PATH, T2V_BODY)
    caught.add(error.value)
    assert len(sleeps.retries) == 2
    assert error.value.exit_code == 4
    assert emulator.state.task_count() == 0


@pytest.mark.parametrize(
    ("fault", "tasks_created"),
    [
        ("drop-after-create:1", 1),
        ("drop-before-create:1", 0),
        ("5xx-after-create:1", 1),
        ("5xx:submit:1", 0),
        ("503:submit:1", 0),
    ],
)
def test_ambiguous_submit_failures_raise_outcome_unknown_and_never_retry(
    emulator: EmulatorThread,
    client: DashScopeClient,
    sleeps: Sleeps,
    caught: Caught,
    fault: str,
    tasks_created: int,
) -> None:
    emulator.arm(fault)
    with pytest.raises(SubmitOutcomeUnknown) as error:
        client.submit(T2V_PATH, T2V_BODY)
    caught.add(error.value)
    assert emulator.state.task_count() == tasks_created  # exactly what the one request did: no second submit
    assert sleeps.retries == []
    assert error.value.exit_code == 6
    assert "resume" in (error.value.hint or "")


def test_submit_to_a_port_with_nothing_listening_retries_then_raises_network_error(
    emulator: EmulatorThread, canary_key: str, sleeps: Sleeps, caught: Caught
) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}/api/v1"
    with make_client(emulator, canary_key, sleeps, base_url=base_url, max_retries=3) as client:
        with pytest.raises(NetworkError) as error:
            client.submit(T2V_PATH, T2V_BODY)
        caught.add(error.value)
        assert not isinstance(error.value, SubmitOutcomeUnknown)  # certainly never sent
        # A refused connection is retried briefly (RetryPolicy.connect_retries), not for half a minute.
        assert len(sleeps.retries) == RetryPolicy().connect_retries == 2
        assert error.value.code == "ConnectError"
        with pytest.raises(NetworkError) as query_error:
            client.get_task("abc")
        caught.add(query_error.value)
    assert len(sleeps.retries) == 4
    assert error.value.exit_code == 6


# -- query retry rules -------------------------------------------------------------------------------


def test_throttled_queries_are_retried_with_retry_after(
    emulator: EmulatorThread, client: DashScopeClient, sleeps: Sleeps
) -> None:
    task_id = client.submit(T2V_PATH, T2V_BODY).task_id
    emulator.arm("throttle:query:2")
    assert client.get_task(task_id).task_id == task_id
    assert sleeps.retries == [1.0, 1.0]  # the emulator's Retry-After


def test_server_errors_on_queries_are_retried_with_backoff(
    emulator: EmulatorThread, client: DashScopeClient, sleeps: Sleeps
) -> None:
    task_id = client.submit(T2V_PATH, T2V_BODY).task_id
    emulator.arm("5xx:query:2")
    assert client.get_task(task_id).task_id == task_id
    first, second = sleeps.retries
    assert 0.75 <= first <= 1.0 and 1.5 <= second <= 2.0


def test_dropped_query_connections_are_retried(
    emulator: EmulatorThread, client: DashScopeClient, sleeps: Sleeps
) -> None:
    task_id = client.submit(T2V_PATH, T2V_BODY).task_id
    emulator.arm("drop:query:1")
    assert client.get_task(task_id).task_id == task_id
    assert len(sleeps.retries) == 1


def test_queries_give_up_after_max_retries_with_the_typed_error(
    emulator: EmulatorThread, canary_key: str, sleeps: Sleeps, caught: Caught
) -> None:
    emulator.arm("5xx:query:*")
    with make_client(emulator, canary_key, sleeps, max_retries=3) as client, pytest.raises(ServerError) as error:
        client.get_task("whatever")
    caught.add(error.value)
    assert len(sleeps.retries) == 3
    assert error.value.status_code == 500 and error.value.task_id == "whatever"


def test_many_threads_share_one_client(emulator: EmulatorThread, client: DashScopeClient) -> None:
    ids = [client.submit(T2V_PATH, T2V_BODY).task_id for _ in range(3)]
    results: list[TaskInfo] = []
    lock = threading.Lock()

    def poll(task_id: str) -> None:
        for _ in range(5):
            info = client.get_task(task_id)
            with lock:
                results.append(info)

    threads = [threading.Thread(target=poll, args=(task_id,)) for task_id in ids * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 30
    assert {info.task_id for info in results} == set(ids)


# -- cancel ------------------------------------------------------------------------------------------


def test_cancel_a_pending_task_then_refuse_a_second_cancel(
    emulator: EmulatorThread, client: DashScopeClient, caught: Caught
) -> None:
    emulator.state.config.pending_seconds = 60.0
    task_id = client.submit(T2V_PATH, T2V_BODY).task_id
    assert client.cancel(task_id)
    assert client.get_task(task_id).status == "CANCELED"
    with pytest.raises(BadRequestError) as error:
        client.cancel(task_id)
    caught.add(error.value)
    assert error.value.code == "UnsupportedOperation"
    assert error.value.hint is not None and "Only PENDING tasks can be canceled" in error.value.hint


def test_cancel_sends_an_empty_body(emulator: EmulatorThread, canary_key: str, sleeps: Sleeps) -> None:
    transport = RecordingTransport()
    emulator.state.config.pending_seconds = 60.0
    with make_client(emulator, canary_key, sleeps, transport=transport) as client:
        client.cancel(client.submit(T2V_PATH, T2V_BODY).task_id)
    cancel = transport.sent[-1]
    assert cancel.url.path.endswith("/cancel")
    assert cancel.content == b"" and cancel.headers.get("content-length") == "0"


def test_cancel_is_not_retried_once_sent(emulator: EmulatorThread, client: DashScopeClient, sleeps: Sleeps) -> None:
    emulator.arm("drop:cancel:1")
    with pytest.raises(NetworkError) as error:
        client.cancel("some-task")
    assert not isinstance(error.value, SubmitOutcomeUnknown)
    assert "qwenvid status some-task" in (error.value.hint or "")
    assert sleeps.retries == []


# -- list --------------------------------------------------------------------------------------------


def test_list_pages_and_iter_tasks_across_windows(emulator: EmulatorThread, client: DashScopeClient) -> None:
    ids = {client.submit(T2V_PATH, T2V_BODY).task_id for _ in range(3)}
    now = datetime.fromtimestamp(emulator.manual_clock.time(), UTC)
    page = client.list_tasks(start=now - timedelta(hours=1), end=now + timedelta(minutes=1), page_size=2)
    assert (page.total, page.total_page, page.page_no, len(page.items)) == (3, 2, 1, 2)
    item = page.items[0]
    assert item.model_name == "wan2.6-t2v" and item.status in ("PENDING", "RUNNING")
    assert item.gmt_create is not None and abs((item.gmt_create - now).total_seconds()) < 5

    found = list(client.iter_tasks(start=now - timedelta(hours=50), end=now + timedelta(minutes=1), page_size=2))
    assert {task.task_id for task in found} == ids
    assert len(found) == 3

    none = client.list_tasks(start=now - timedelta(hours=1), end=now + timedelta(minutes=1), model="wan2.2-t2v-plus")
    assert none.items == [] and none.total == 0


def test_list_window_over_24_hours_is_refused_locally(client: DashScopeClient) -> None:
    now = datetime.now(UTC)
    with pytest.raises(ValidationError, match="24 hours"):
        client.list_tasks(start=now - timedelta(hours=25), end=now)


def test_list_times_are_sent_in_server_time() -> None:
    assert format_list_time(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "20260102110405"
    assert format_list_time(datetime(2026, 1, 2, 3, 4, 5)) == "20260102030405"


# -- uploads -----------------------------------------------------------------------------------------


def test_upload_streams_the_file_and_the_oss_url_feeds_a_submit(
    emulator: EmulatorThread, canary_key: str, sleeps: Sleeps, tmp_path: Path
) -> None:
    transport = RecordingTransport()
    image = make_image(tmp_path / "cat.png", 640, 480)
    progress: list[tuple[int, int]] = []
    with make_client(emulator, canary_key, sleeps, transport=transport) as client:
        url = client.upload_file(image, "wan2.6-i2v", on_progress=lambda done, total: progress.append((done, total)))
        assert url.startswith("oss://dashscope-instant/") and url.endswith("/cat.png")
        body = {
            "model": "wan2.6-i2v",
            "input": {"prompt": "the cat looks around", "img_url": url},
            "parameters": {"resolution": "720P", "duration": 5},
        }
        with pytest.raises(BadRequestError):  # without the resolve header the server cannot read oss://
            client.submit(T2V_PATH, body)
        assert client.submit(T2V_PATH, body, oss_resolve=True).task_id
    size = image.stat().st_size
    assert progress[0] == (0, size) and progress[-1] == (size, size)
    assert emulator.state.upload_count() == 1
    policy, upload = transport.sent[0], transport.sent[1]
    assert policy.url.params["action"] == "getPolicy" and policy.url.params["model"] == "wan2.6-i2v"
    assert "authorization" not in upload.headers  # the OSS host never sees the key
    assert upload.headers["content-type"].startswith("multipart/form-data")
    assert transport.sent[-1].headers["x-dashscope-ossresourceresolve"] == "enable"


def test_upload_is_streamed_in_chunks(emulator: EmulatorThread, client: DashScopeClient, tmp_path: Path) -> None:
    data = tmp_path / "clip.bin"
    data.write_bytes(os.urandom(300_000))
    progress: list[int] = []
    client.upload_file(data, "wan2.6-i2v", on_progress=lambda done, total: progress.append(done))
    # Read from disk 64 KiB at a time as the request body goes out, not slurped up front.
    assert progress == [0, 65536, 131072, 196608, 262144, 300000]


def test_upload_policy_expired_mid_upload_is_explained(
    emulator: EmulatorThread, manual_clock: ManualClock, canary_key: str, sleeps: Sleeps, tmp_path: Path
) -> None:

    class SlowUpload(httpx.HTTPTransport):
        """The form post reaches OSS ten minutes after the policy was issued."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.url.path.startswith("/__oss"):
                manual_clock.advance(600)
            return super().handle_request(request)

    image = make_image(tmp_path / "slow.png")
    with make_client(emulator, canary_key, sleeps, transport=SlowUpload()) as client, pytest.raises(APIError) as error:
        client.upload_file(image, "wan2.6-i2v")
    assert error.value.code == "PolicyExpired"
    assert "upload policy" in error.value.message
    assert not isinstance(error.value, AuthenticationError)


def test_upload_of_a_missing_file_is_a_validation_error(client: DashScopeClient, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="Cannot read"):
        client.upload_file(tmp_path / "nope.png", "wan2.6-i2v")


# -- keys --------------------------------------------------------------------------------------------


def test_wrong_key_is_an_authentication_error_without_the_key(
    make_emulator: EmulatorFactory, manual_clock: ManualClock, canary_key: str, sleeps: Sleeps, caught: Caught
) -> None:
    emulator = make_emulator(EmulatorConfig(api_keys=("sk-the-only-valid-key-0000",)), clock=manual_clock)
    with make_client(emulator, canary_key, sleeps) as client:
        for call in (
            lambda: client.submit(T2V_PATH, T2V_BODY),
            lambda: client.get_task("x"),
            lambda: client.cancel("x"),
        ):
            with pytest.raises(AuthenticationError) as error:
                call()
            caught.add(error.value)
            assert error.value.exit_code == 3 and error.value.code == "InvalidApiKey"
        assert canary_key not in repr(client)
    assert sleeps.retries == []


def test_coding_plan_key_rejection_is_explained(
    make_emulator: EmulatorFactory, manual_clock: ManualClock, sleeps: Sleeps
) -> None:
    emulator = make_emulator(EmulatorConfig(api_keys=("sk-standard-000000000",)), clock=manual_clock)
    with (
        make_client(emulator, "sk-sp-codingplan0000000", sleeps) as client,
        pytest.raises(AuthenticationError) as error,
    ):
        client.get_task("x")
    assert "Coding Plan" in (error.value.hint or "")
    assert "sk-sp-codingplan0000000" not in str(error.value) + (error.value.hint or "")


@pytest.mark.parametrize("bad", ["../uploads?action=getPolicy", "a/b", "  ", "", "id with space", "x" * 200])
def test_malformed_task_ids_are_refused_before_sending(
    emulator: EmulatorThread, canary_key: str, sleeps: Sleeps, bad: str
) -> None:
    transport = RecordingTransport()
    with make_client(emulator, canary_key, sleeps, transport=transport) as client:
        with pytest.raises(ValidationError):
            client.get_task(bad)
        with pytest.raises(ValidationError):
            client.cancel(bad)
    assert transport.sent == []


# -- failures the emulator cannot produce (a mock transport stands in for the network) ----------------


@pytest.mark.parametrize(
    "failure",
    [
        httpx.ReadTimeout("timed out"),
        httpx.WriteError("broken pipe"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("connection reset"),
        httpx.Response(200, text="<html>proxy page</html>"),
        httpx.Response(200, json={"output": {"task_status": "PENDING"}, "request_id": "r-1"}),
        httpx.Response(502, text="Bad Gateway"),
    ],
    ids=["read-timeout", "write-error", "disconnected", "read-error", "html-200", "no-task-id", "502"],
)
def test_any_failure_after_sending_is_outcome_unknown_after_one_request(
    canary_key: str, sleeps: Sleeps, caught: Caught, failure: Exception | httpx.Response
) -> None:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if isinstance(failure, Exception):
            raise failure
        return failure

    client = DashScopeClient(canary_key, "https://dashscope.example/api/v1", transport=httpx.MockTransport(answer))
    with client, pytest.raises(SubmitOutcomeUnknown) as error:
        client.submit(T2V_PATH, T2V_BODY)
    caught.add(error.value)
    assert len(sent) == 1
    assert "a task may have been created" in error.value.message


def test_connect_timeouts_are_retried_and_then_a_real_answer_is_used(canary_key: str, sleeps: Sleeps) -> None:
    answers: list[Exception | httpx.Response] = [
        httpx.ConnectTimeout("connect timed out"),
        httpx.ConnectError("refused"),
        httpx.Response(200, json={"output": {"task_id": "t-1", "task_status": "PENDING"}, "request_id": "r-1"}),
    ]

    def answer(request: httpx.Request) -> httpx.Response:
        item = answers.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    import random

    client = DashScopeClient(
        canary_key,
        "https://dashscope.example/api/v1",
        transport=httpx.MockTransport(answer),
        retry=RetryPolicy(rng=random.Random(1)),
        sleep=sleeps,
    )
    with client:
        result = client.submit(T2V_PATH, T2V_BODY)
    assert (result.task_id, result.task_status, result.request_id) == ("t-1", "PENDING", "r-1")
    assert len(sleeps.retries) == 2


def test_results_fallback_url_is_read() -> None:
    body = {
        "request_id": "r",
        "output": {"task_id": "t", "task_status": "SUCCEEDED", "results": [{"url": "https://x/v.mp4"}]},
    }
    client = DashScopeClient(
        "sk-x0000000",
        "https://dashscope.example/api/v1",
        transport=httpx.MockTransport(lambda request: httpx.Response(200, json=body)),
    )
    with client:
        assert client.get_task("t").video_url == "https://x/v.mp4"
