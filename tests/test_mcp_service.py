"""The MCP server's library side without a server: request building, links handed on only while valid,
the spending checks and their budget hook, and progress that only grows."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from qwenvid.config import load_settings
from qwenvid.errors import ConfirmationRequired, ValidationError
from qwenvid.mcp import arguments, spending
from qwenvid.mcp.progress import ProgressReporter
from qwenvid.mcp.service import Service
from qwenvid.requests import shapes
from qwenvid.tasks.session import Phase, Session


def test_every_field_of_every_request_type_is_a_generate_parameter() -> None:
    names = set(arguments.signature_of_generate().parameters)
    for cls in arguments.request_types():
        assert {item.name for item in dataclasses.fields(cls)} <= names, cls.__name__
    assert {"mode", "take", "max_seconds", "wait_seconds", "output"} <= names


def test_requests_are_built_as_the_cli_builds_them() -> None:
    assert arguments.build_request({"prompt": "x", "duration": None}) == shapes.T2VRequest(prompt="x")
    edit = arguments.build_request({"mode": "vace", "function": "videoedit", "prompt": "Snow", "video": "a.mp4"})
    assert isinstance(edit, shapes.VideoEditRequest) and edit.video == "a.mp4"
    repaint = arguments.build_request({"mode": "vace", "function": "repaint", "prompt": "Clay", "video": "a.mp4"})
    assert isinstance(repaint, shapes.VaceRequest) and repaint.function == "video_repainting"
    with pytest.raises(ValidationError, match="vace needs a function"):
        arguments.build_request({"mode": "vace", "prompt": "x"})
    with pytest.raises(ValidationError, match="refs cannot be used with mode i2v"):
        arguments.build_request({"mode": "i2v", "refs": ["a.png"]})


def _service(tmp_path: Path) -> Service:
    settings = load_settings(api_key="sk-test-0123456789", base_url="http://127.0.0.1:9/api/v1")
    return Service(Session(settings))


def _succeeded_row(service: Service, url: str, task_id: str) -> Any:
    ledger = service.session.ledger
    row = ledger.create(mode="t2v", model="wan2.1-t2v-turbo", endpoint="/x", request_json={"input": {}},
                        base_url=service.session.settings.base_url)
    ledger.mark_submitted(row.id, task_id)
    return ledger.set_result(row.id, video_url=url, end_time="2026-01-01 10:00:00.000")


def test_a_result_link_is_handed_on_only_while_it_is_valid(tmp_path: Path) -> None:
    service = _service(tmp_path)
    expired = service.row_result(_succeeded_row(service, "https://results.example/v.mp4?Expires=1000", "task-1"))
    assert expired["video_url"] is None and expired["status"] == "SUCCEEDED"
    valid = service.row_result(_succeeded_row(service, "https://results.example/v.mp4?Expires=4102444800", "task-2"))
    assert valid["video_url"].startswith("https://results.example/") and valid["video_url_expires_at"]
    service.session.close()


def test_max_seconds_and_the_budget_hook_refuse_before_anything_is_sent() -> None:
    cost = SimpleNamespace(billable_seconds=10.0, tier="720P", model="wan2.6-t2v", amount=None, currency=None,
                           pricing_url="https://example/prices")
    with pytest.raises(ValidationError, match="more than max_seconds 5"):
        spending.check_limits(cost, max_seconds=5, session=None)
    spending.check_limits(cost, max_seconds=10, session=None)  # at the cap is allowed

    seen: list[float] = []

    def budget(session: Any, estimate: Any) -> None:
        seen.append(estimate.billable_seconds)
        raise ConfirmationRequired("over the daily budget")

    spending.BUDGET_CHECKS.append(budget)
    try:
        with pytest.raises(ConfirmationRequired, match="daily budget"):
            spending.check_limits(cost, max_seconds=None, session=None)
    finally:
        spending.BUDGET_CHECKS.remove(budget)
    assert seen == [10.0]
    settings = SimpleNamespace(confirm_above_seconds=8.0)
    assert spending.needs_confirmation(cost, settings=settings, emulated=False)
    assert not spending.needs_confirmation(cost, settings=settings, emulated=True)
    assert "10 s billable at 720P" in spending.question(cost, settings)


def test_progress_only_grows_and_names_the_task() -> None:
    sent: list[tuple[float, float | None, str]] = []
    now = [100.0]
    reporter = ProgressReporter(lambda p, t, m: sent.append((p, t, m)), clock=lambda: now[0])
    reporter.phase(Phase.SUBMITTING, "wan2.1-t2v-turbo")
    reporter.phase(Phase.QUEUED, "task-9")
    info = SimpleNamespace(task_id="task-9", status="RUNNING")
    for step in range(5):
        now[0] += 0.4
        reporter.task_update(info, elapsed=step * 0.4, estimate=2.0)  # type: ignore[arg-type]
    values = [value for value, _, _ in sent]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert reporter.task_id == "task-9" and any("RUNNING" in message for _, _, message in sent)
    assert len(sent) < 7  # updates within a second of the last are not all sent


def test_a_missing_key_is_said_before_anyone_is_asked_to_pay(tmp_path: Path) -> None:
    from qwenvid.errors import AuthenticationError

    service = Service(Session(load_settings(api_key="", base_url="http://127.0.0.1:9/api/v1")))
    generation = service.prepare({"prompt": "A kite", "model": "wan2.1-t2v-turbo", "size": "832*480"})
    assert generation.identity.startswith("plan-") and generation.plan.cost.billable_seconds == 5
    with pytest.raises(AuthenticationError, match="No DashScope API key"):
        service.check_ready(generation)
    assert service.session.ledger.list() == []  # nothing written, nothing sent
    service.session.close()
