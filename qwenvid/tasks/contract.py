"""`doctor --contract`: calls the service does not bill, and how their answers' shapes compare with another's.

The probes: a task list, a query of a made-up task id, and submits the contract says are refused at submit
time (an unknown model, a body that is not JSON, a submit without the async header). Each submit gets a
ledger row first, as any submit does; a task created anyway is cancelled while PENDING and reported.
Answers are compared by shape (HTTP status, code, message, the keys at the top and in `output`), never by
ids or times. Recorded answers carry no key: the Authorization header is never kept.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from qwenvid.errors import scrub
from qwenvid.tasks.submit import leaving

MADE_UP_TASK_ID = "00000000-0000-4000-8000-00000000c0de"
VIDEO_PATH = "/services/aigc/video-generation/video-synthesis"
UNKNOWN_MODEL = "qwenvid-contract-no-such-model"


@dataclass(frozen=True)
class Probe:
    """One call: its name, method, path, body (None: no body; bytes: sent as is) and whether it is async."""

    name: str
    method: str
    path: str
    body: dict[str, Any] | bytes | None = None
    async_header: bool = True
    params: dict[str, str] = field(default_factory=dict)

    @property
    def submits(self) -> bool:
        return self.method == "POST" and self.path == VIDEO_PATH


PROBES: tuple[Probe, ...] = (
    Probe("task list", "GET", "/tasks", params={"page_size": "1"}),
    Probe("query of a made-up task id", "GET", f"/tasks/{MADE_UP_TASK_ID}"),
    Probe("submit of an unknown model", "POST", VIDEO_PATH, {"model": UNKNOWN_MODEL, "input": {"prompt": "x"}}),
    Probe("submit of a body that is not JSON", "POST", VIDEO_PATH, b"{not json"),
    Probe(
        "submit without the async header",
        "POST",
        VIDEO_PATH,
        {"model": UNKNOWN_MODEL, "input": {"prompt": "x"}},
        async_header=False,
    ),
)


@dataclass
class Answer:
    """What one probe got back, as far as the contract goes."""

    probe: str
    status: int | None
    body: Any
    error: str | None = None
    cancelled_task: str | None = None  # a task the service created anyway, and what cancelling it said

    def shape(self) -> dict[str, Any]:
        """The parts that must match: status, code, message, task_status and which keys are present."""
        body: dict[str, Any] = self.body if isinstance(self.body, dict) else {}
        found_output = body.get("output")
        output: dict[str, Any] = found_output if isinstance(found_output, dict) else {}
        found_rows = body.get("data")
        rows: list[Any] = found_rows if isinstance(found_rows, list) else []
        return {
            "status": self.status,
            "code": body.get("code") or output.get("code"),
            "message": body.get("message") or output.get("message"),
            "task_status": output.get("task_status"),
            "keys": sorted(body),
            "output_keys": sorted(output),
            "row_keys": sorted(rows[0]) if rows and isinstance(rows[0], dict) else None,
            "error": self.error,
        }

    def to_json(self) -> dict[str, Any]:
        return {"probe": self.probe, "status": self.status, "body": self.body, "error": self.error,
                "cancelled_task": self.cancelled_task}  # fmt: skip


def run_probes(
    base_url: str, api_key: str, *, ledger: Any = None, origin: str = "local", transport: Any = None
) -> list[Answer]:
    """Every probe against one service; nothing here is billed."""
    answers = []
    with httpx.Client(base_url=base_url.rstrip("/"), timeout=30, transport=transport) as client:
        for probe in PROBES:
            answers.append(_call(client, probe, api_key, ledger, origin, base_url))
    return answers


def _call(client: httpx.Client, probe: Probe, api_key: str, ledger: Any, origin: str, base_url: str) -> Answer:
    headers = {"Authorization": f"Bearer {api_key}"}
    if probe.async_header and probe.method == "POST":
        headers["X-DashScope-Async"] = "enable"
    content: bytes | None = None
    if isinstance(probe.body, bytes):
        content = probe.body
    elif probe.body is not None:
        content = json.dumps(probe.body).encode()
    if content is not None:
        headers["Content-Type"] = "application/json"
    row = None
    if probe.submits and ledger is not None:  # written before the submit leaves, as for any submit
        sent = probe.body if isinstance(probe.body, dict) else {"raw": "not JSON"}
        row = ledger.create(mode="t2v", model=str(sent.get("model", "")), endpoint=probe.path, request_json=sent,
                            prompt="qwenvid doctor --contract", base_url=base_url, origin=origin)  # fmt: skip
        leaving(ledger, row.id, sent)
    try:
        response = client.request(probe.method, probe.path, content=content, headers=headers, params=probe.params)
    except httpx.HTTPError as exc:
        if row is not None:
            ledger.mark_outcome_unknown(row.id, exc)
        return Answer(probe.name, None, None, error=f"{type(exc).__name__}: {scrub(str(exc))}")
    try:
        body: Any = response.json()
    except ValueError:
        body = scrub(response.text[:500])
    answer = Answer(probe.name, response.status_code, body)
    output = body.get("output") if isinstance(body, dict) else None
    task_id = output.get("task_id") if isinstance(output, dict) else None
    if row is not None:
        if task_id:
            ledger.mark_submitted(row.id, str(task_id), body.get("request_id"))
            cancel = client.post(f"/tasks/{task_id}/cancel", headers={"Authorization": f"Bearer {api_key}"})
            answer.cancelled_task = f"{task_id} (cancel: HTTP {cancel.status_code})"
        else:
            code = body.get("code") if isinstance(body, dict) else None
            message = body.get("message") if isinstance(body, dict) else None
            ledger.mark_rejected(row.id, code, message)
    return answer


def differences(expected: list[Answer], actual: list[Answer]) -> list[str]:
    """One line per field whose shape differs, naming the probe."""
    lines = []
    for want, got in zip(expected, actual, strict=True):
        want_shape, got_shape = want.shape(), got.shape()
        for key, value in want_shape.items():
            if got_shape[key] != value:
                lines.append(f"{got.probe}: {key} is {got_shape[key]!r}, the emulator says {value!r}")
        if got.cancelled_task:
            lines.append(f"{got.probe}: a task was created anyway and cancelled: {got.cancelled_task}")
    return lines


def record(directory: Path, name: str, answers: list[Answer], secret: str, write: Callable[[Path, str], None]) -> None:
    """Save the answers as JSON, with any trace of the key removed (ready to become emulator tests)."""
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps([answer.to_json() for answer in answers], indent=2, ensure_ascii=False)
    if secret:
        text = text.replace(secret, "sk-…")
    write(directory / f"{name}.json", scrub(text))
