"""Running the emulator: `serve()` prints its base URL first, `EmulatorThread` starts fast and stops cleanly."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from typing import Any

import httpx

from qwenvid.emulator.config import EmulatorConfig, ManualClock, SystemClock
from qwenvid.emulator.server import EmulatorThread

SERVE = "from qwenvid.emulator.server import serve; serve(port=0)"


def test_serve_prints_the_base_url_first_and_serves() -> None:
    process = subprocess.Popen([sys.executable, "-c", SERVE], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "0"})
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        assert first.startswith("http://127.0.0.1:") and first.endswith("/api/v1")
        # The socket listens before the URL is printed, so a request made at once waits in the backlog.
        response = httpx.get(first + "/tasks/abc", headers={"Authorization": "Bearer sk-test-123456"}, timeout=20)
        assert response.json()["output"] == {"task_id": "abc", "task_status": "UNKNOWN"}
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_thread_starts_fast_and_stops_cleanly() -> None:
    started = time.perf_counter()
    emulator = EmulatorThread(EmulatorConfig()).start()
    elapsed = time.perf_counter() - started
    port = emulator.port
    assert httpx.get(emulator.root_url + "/__emulator/state").json()["task_count"] == 0
    assert isinstance(emulator.clock, SystemClock)
    emulator.stop()
    assert elapsed < 0.5
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0  # nothing listens there any more


def test_context_manager_and_arm() -> None:
    clock = ManualClock()
    with EmulatorThread(EmulatorConfig(), clock=clock) as emulator:
        emulator.arm("5xx:query:1")
        url = emulator.base_url
        assert emulator.manual_clock is clock
        codes = [httpx.get(url + "/tasks/x", headers={"Authorization": "Bearer sk-a-123456"}).status_code
                 for _ in range(2)]
    assert codes == [500, 200]


def test_manual_clock_sleep_waits_for_renders_before_time_moves(make_emulator: Any) -> None:
    """A poller sleeping on the manual clock never outruns a render that is still being encoded for real."""
    from tests.support.emulator import api_client, submit_ok

    clock = ManualClock()
    emulator = make_emulator(clock=clock)
    with api_client(emulator) as client:
        task_id = submit_ok(
            client,
            {"model": "wan2.6-t2v", "input": {"prompt": "barrier"}, "parameters": {"size": "1280*720", "duration": 3}},
        )
        clock.sleep(3600)  # returns only once the render is done, then an hour passes
        body = client.get(f"/tasks/{task_id}").json()
    assert body["output"]["task_status"] == "SUCCEEDED"
