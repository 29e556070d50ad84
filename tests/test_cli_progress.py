"""The reporters and the cost notice, driven directly: Rich on a captured terminal, plain lines, silence."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pytest
from rich.console import Console

from qwenvid.cli import _cost
from qwenvid.cli._output import Output, clean
from qwenvid.cli._progress import NullReporter, PlainReporter, RichReporter, make_reporter
from qwenvid.errors import ConfirmationRequired
from qwenvid.requests.cost import CostEstimate


@dataclass
class Info:
    task_id: str
    status: str


class ManualClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def capture_console() -> Console:
    return Console(
        file=io.StringIO(), force_terminal=True, width=100, color_system=None, legacy_windows=False, _environ={}
    )


def drive(reporter: object, clock: ManualClock | None = None) -> None:
    """One whole generation as the runner reports it."""
    r = reporter
    r.phase("validating")  # type: ignore[attr-defined]
    r.phase("uploading", "cat.png")  # type: ignore[attr-defined]
    r.transfer("uploading", 0, 2048)  # type: ignore[attr-defined]
    if clock:
        clock.now += 1
    r.transfer("uploading", 2048, 2048)  # type: ignore[attr-defined]
    r.phase("submitting", "wan2.6-t2v")  # type: ignore[attr-defined]
    r.notice("Task t-123 submitted (wan2.6-t2v).")  # type: ignore[attr-defined]
    r.phase("queued", "t-123")  # type: ignore[attr-defined]
    r.task_update(Info("t-123", "PENDING"), 1.0, 60.0)  # type: ignore[attr-defined]
    r.task_update(Info("t-123", "PENDING"), 3.0, 60.0)  # type: ignore[attr-defined]
    r.phase("rendering", "t-123")  # type: ignore[attr-defined]
    r.task_update(Info("t-123", "RUNNING"), 30.0, 60.0)  # type: ignore[attr-defined]
    r.phase("downloading", "t-123")  # type: ignore[attr-defined]
    r.transfer("downloading", 0, 4 * 1024 * 1024)  # type: ignore[attr-defined]
    if clock:
        clock.now += 2
    r.transfer("downloading", 4 * 1024 * 1024, 4 * 1024 * 1024)  # type: ignore[attr-defined]
    r.phase("verifying", "out.mp4")  # type: ignore[attr-defined]


def test_rich_reporter_draws_phases_bar_against_estimate_and_speed() -> None:
    console = capture_console()
    clock = ManualClock()
    reporter = RichReporter(console, clock=clock, auto_refresh=False)
    drive(reporter, clock)
    reporter.close()
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Uploading" in text and "2.0 KB" in text
    assert "Queued" in text and "t-123" in text
    assert "Rendering" in text and "0:30 / ~1:00 (estimate)" in text
    assert "Downloading" in text and "4.0 MB" in text and "2.0 MB/s" in text
    assert "Verifying" in text


def test_plain_reporter_writes_one_line_per_state_change(capsys: pytest.CaptureFixture[str]) -> None:
    reporter = PlainReporter(Output())
    drive(reporter)
    reporter.close()
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert sum("PENDING" in line for line in lines) == 1  # two PENDING polls, one line
    assert any("RUNNING" in line and "estimate" in line for line in lines)
    assert not any(line.startswith(("Queued", "Rendering")) for line in lines)  # no line says it twice
    assert "Uploaded cat.png (2.0 KB)" in lines and "Downloaded 4.0 MB" in lines
    assert reporter.task_id == "t-123"


def test_null_reporter_is_silent_but_remembers_the_task(capsys: pytest.CaptureFixture[str]) -> None:
    reporter = NullReporter()
    drive(reporter)
    assert capsys.readouterr() == ("", "")
    assert reporter.task_id == "t-123"


@pytest.mark.parametrize(
    ("out", "kind"),
    [(Output(json=True), NullReporter), (Output(quiet=True), NullReporter), (Output(), PlainReporter)],
)
def test_reporter_choice_without_a_terminal(out: Output, kind: type) -> None:
    assert type(make_reporter(out)) is kind


def test_server_text_loses_terminal_control_sequences() -> None:
    hostile = "ok\x1b[2J\x1b]0;title\x07 done\x07\r sk-abcdefghijkl"
    assert clean(hostile) == "ok done sk-***"


COST = CostEstimate(model="wan2.6-t2v", billable_seconds=15, tier="1080P")


@pytest.mark.parametrize(
    ("cost", "emulated", "expected", "absent"),
    [
        (COST, False, ["15 s billable at 1080P on wan2.6-t2v", "https://"], ["your price table", "free"]),
        (
            CostEstimate("wan2.6-t2v", 5, "720P", amount=0.5, currency="USD", rate_source="x"),
            False,
            ["0.50 USD (your price table)"],
            [],
        ),
        # Under the emulator the notice still says what a real run bills and where the prices are.
        (COST, True, ["free", "local emulator", "15 s billable at 1080P", "https://"], ["your price table"]),
    ],
)
def test_cost_lines(cost: CostEstimate, emulated: bool, expected: list[str], absent: list[str]) -> None:
    text = "\n".join(_cost.cost_lines(cost, emulated=emulated))
    for phrase in expected:
        assert phrase in text
    for phrase in absent:
        assert phrase not in text


@dataclass
class FakeSettings:
    confirm_above_seconds: float = 10.0


def test_confirmation_without_terminal_raises_exit_7(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_cost, "is_interactive", lambda: False)
    with pytest.raises(ConfirmationRequired) as caught:
        _cost.confirm_cost(COST, settings=FakeSettings(), out=Output(), emulated=False, yes=False)
    assert caught.value.exit_code == 7 and "--yes" in (caught.value.hint or "")


@pytest.mark.parametrize(("emulated", "yes", "threshold"), [(True, False, 10), (False, True, 10), (False, False, 20)])
def test_no_question_when_emulated_yes_or_under_threshold(
    monkeypatch: pytest.MonkeyPatch, emulated: bool, yes: bool, threshold: float
) -> None:
    monkeypatch.setattr(_cost, "is_interactive", lambda: False)
    _cost.confirm_cost(COST, settings=FakeSettings(threshold), out=Output(), emulated=emulated, yes=yes)


def test_plain_reporter_reports_every_uploaded_file(capsys: pytest.CaptureFixture[str]) -> None:
    reporter = PlainReporter(Output())
    for name, size in (("first.png", 1024), ("last.png", 2048), ("voice.mp3", 4096)):
        reporter.phase("uploading", name)
        reporter.transfer("uploading", 0, size)
        reporter.transfer("uploading", size, size)
    lines = capsys.readouterr().err.splitlines()
    assert [line for line in lines if line.startswith("Uploaded")] == [
        "Uploaded first.png (1.0 KB)",
        "Uploaded last.png (2.0 KB)",
        "Uploaded voice.mp3 (4.0 KB)",
    ]


def screen(reporter: RichReporter) -> str:
    """What one refresh of the live line shows."""
    console = capture_console()
    console.print(reporter.render())
    return console.file.getvalue()  # type: ignore[attr-defined]


def test_rich_clock_and_bar_advance_between_polls_and_show_time_left() -> None:
    clock = ManualClock()
    reporter = RichReporter(capture_console(), clock=clock, auto_refresh=False)
    reporter.phase("rendering", "t-123")
    reporter.task_update(Info("t-123", "RUNNING"), 1.0, 60.0)
    first = screen(reporter)
    assert "0:01 / ~1:00 (estimate), ~0:59 left" in first
    clock.now += 25  # no poll for 25 s: every refresh still moves the clock, the bar and the time left
    later = screen(reporter)
    assert "0:26 / ~1:00 (estimate), ~0:34 left" in later
    assert later.count("━") > first.count("━") or later != first
    clock.now += 60
    assert "any moment now" in screen(reporter)


def test_rich_queued_clock_advances_before_the_first_poll() -> None:
    clock = ManualClock()
    reporter = RichReporter(capture_console(), clock=clock, auto_refresh=False)
    reporter.phase("queued", "t-123")
    clock.now += 7
    assert "0:07 queued on the service" in screen(reporter)  # PENDING is the service's queue, not a local slot


def test_rich_done_line_shows_the_whole_path() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=60, color_system=None, _environ={})
    reporter = RichReporter(console, auto_refresh=False)
    path = "/home/someone/videos/output/qwenvid/20260101-120000_t2v_wan2.6-t2v_0385dc79_A-kitten-running.mp4"
    reporter.phase("verifying", path)
    reporter.phase("done", path)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    done = text.split("✓ Done", 1)[1]  # the line the finished run leaves behind
    assert "…" not in done and path in done.replace("\n", "")


def test_rich_second_upload_starts_its_own_bar() -> None:
    clock = ManualClock()
    console = capture_console()
    reporter = RichReporter(console, clock=clock, auto_refresh=False)
    reporter.phase("uploading", "first.png")
    reporter.transfer("uploading", 0, 1000)
    reporter.transfer("uploading", 1000, 1000)
    reporter.phase("uploading", "second.png")
    assert "second.png" in screen(reporter) and "1000 B" not in screen(reporter)
    reporter.transfer("uploading", 500, 500)
    reporter.close()
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "Uploaded first.png (1000 B)" in text and "Uploaded second.png (500 B)" in text


def test_rich_label_after_the_submit_is_never_validating() -> None:
    clock = ManualClock()
    reporter = RichReporter(capture_console(), clock=clock, auto_refresh=False)
    reporter.phase("validating")
    reporter.notice("Task t-123 submitted (wan2.6-t2v).")
    reporter.task_update(Info("t-123", "SUCCEEDED"), 3.0, 60.0)  # the first answer can already be the last
    assert "Validating" not in screen(reporter) and "t-123" in screen(reporter)
    reporter.close()
