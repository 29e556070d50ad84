"""Progress reporters for the runner: a Rich live display, plain lines for logs, and silence."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from qwenvid.cli._output import Output, clean, stderr_is_terminal

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

PHASE_LABELS = {
    "validating": "Validating",
    "uploading": "Uploading",
    "submitting": "Submitting",
    "queued": "Queued",
    "rendering": "Rendering",
    "downloading": "Downloading",
    "verifying": "Verifying",
    "done": "Done",
}


def phase_name(phase: object) -> str:
    """'rendering' for Phase.RENDERING, whatever the enum's exact shape."""
    return str(getattr(phase, "value", phase)).lower()


def human_bytes(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"


def clock_text(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


class BaseReporter:
    """Remembers the task id it has seen, so that Ctrl-C can name it."""

    def __init__(self) -> None:
        self.task_id: str | None = None
        self.status: str | None = None

    def phase(self, phase: object, message: str = "") -> None:
        pass

    def task_update(self, info: Any, elapsed: float, estimate: float) -> None:
        self.task_id = getattr(info, "task_id", None) or self.task_id

    def transfer(self, phase: object, done: int, total: int | None) -> None:
        pass

    def notice(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class NullReporter(BaseReporter):
    """--quiet and --json: nothing but the result."""


class PlainReporter(BaseReporter):
    """One line per state change, for CI logs and pipes."""

    def __init__(self, out: Output) -> None:
        super().__init__()
        self.out = out
        self._last_phase: str | None = None
        self._last_message = ""
        # (phase, file) pairs whose transfer end was reported: each uploaded file gets its own line.
        self._reported_transfer_end: set[tuple[str, str]] = set()

    def _line(self, text: str) -> None:
        self.out.info(text)

    def phase(self, phase: object, message: str = "") -> None:
        name = phase_name(phase)
        if name in ("queued", "rendering"):
            return  # the task's own status lines (PENDING, RUNNING, with times) say this, once each
        if name == self._last_phase and not message:
            return
        self._last_phase, self._last_message = name, clean(message)
        label = PHASE_LABELS.get(name, name.capitalize())
        self._line(f"{label}: {clean(message)}" if message else f"{label}…")

    def task_update(self, info: Any, elapsed: float, estimate: float) -> None:
        super().task_update(info, elapsed, estimate)
        status = str(getattr(info, "status", "") or "")
        if status == self.status:
            return
        self.status = status
        self._line(f"Task {self.task_id}: {status} after {clock_text(elapsed)} (estimate ~{clock_text(estimate)})")

    def transfer(self, phase: object, done: int, total: int | None) -> None:
        name = phase_name(phase)
        key = (name, self._last_message if name == self._last_phase else "")
        if total is not None and done >= total and key not in self._reported_transfer_end:
            self._reported_transfer_end.add(key)
            verb = "Uploaded" if name == "uploading" else "Downloaded"
            if name == "uploading" and key[1]:
                self._line(f"{verb} {key[1]} ({human_bytes(done)})")
            else:
                self._line(f"{verb} {human_bytes(done)}")

    def notice(self, text: str) -> None:
        self._line(text)


class RichReporter(BaseReporter):
    """A live display on a terminal: phase, spinner, and a bar for bytes or for time against the estimate."""

    def __init__(
        self,
        console: Console,
        *,
        clock: Callable[[], float] = time.monotonic,
        auto_refresh: bool = True,
    ) -> None:
        super().__init__()
        self.console = console
        self.clock = clock
        self.auto_refresh = auto_refresh
        self._phase = "validating"
        self._message = ""
        self._done: float = 0
        self._total: float | None = None
        self._elapsed: float = 0
        self._elapsed_at: float | None = None  # local clock reading when _elapsed was last set
        self._estimate: float = 0
        self._transfer_start: tuple[float, int] | None = None
        self._uploaded: set[str] = set()
        self._live: Live | None = None

    # -- the Reporter protocol --------------------------------------------------------------
    def phase(self, phase: object, message: str = "") -> None:
        name = phase_name(phase)
        if name != self._phase or clean(message) != self._message:  # a new phase, or the next file
            self._done, self._total, self._transfer_start = 0, None, None
        if name in ("queued", "rendering") and self._elapsed_at is None:
            self._elapsed, self._elapsed_at = 0.0, self.clock()
        self._phase, self._message = name, clean(message)
        if name == "done":
            self.close()
            return
        self._refresh()

    def task_update(self, info: Any, elapsed: float, estimate: float) -> None:
        super().task_update(info, elapsed, estimate)
        self.status = str(getattr(info, "status", "") or "")
        if self.status == "RUNNING":
            self._phase = "rendering"
        elif self.status == "PENDING" or self._phase in ("validating", "uploading", "submitting"):
            self._phase = "queued"  # a task exists now: never show a phase from before the submit
        self._elapsed, self._elapsed_at, self._estimate = elapsed, self.clock(), estimate
        self._refresh()

    def transfer(self, phase: object, done: int, total: int | None) -> None:
        self._phase = phase_name(phase)
        now = self.clock()
        if self._transfer_start is None:
            self._transfer_start = (now, done)
        self._done, self._total = done, total
        if self._phase == "uploading" and total is not None and done >= total and self._message not in self._uploaded:
            # Each file leaves its own line above the live one; the bar moves on to the next file.
            self._uploaded.add(self._message)
            self.console.print(f"Uploaded {self._message} ({human_bytes(done)})", markup=False, highlight=False)
        self._refresh()

    def notice(self, text: str) -> None:
        self.console.print(clean(text), markup=False)

    def close(self) -> None:
        """Stop the live line; only a finished run leaves a line behind (after an error, the error speaks)."""
        if self._live is not None:
            self._live.stop()
            self._live = None
            if self._phase == "done":
                self.console.print(self.render())

    # -- drawing ----------------------------------------------------------------------------
    def _refresh(self) -> None:
        if self._live is None:
            from rich.live import Live

            self._live = Live(
                self.render(),
                console=self.console,
                auto_refresh=self.auto_refresh,
                refresh_per_second=4,
                transient=True,
                get_renderable=self.render if self.auto_refresh else None,
            )
            self._live.start()
        self._live.update(self.render(), refresh=not self.auto_refresh)

    def elapsed(self) -> float:
        """Seconds since the task was sent, advanced by the local clock between polls (so it never stands still)."""
        if self._elapsed_at is None:
            return self._elapsed
        return self._elapsed + max(0.0, self.clock() - self._elapsed_at)

    def speed(self) -> float | None:
        """Bytes per second since the transfer began."""
        if self._transfer_start is None:
            return None
        start_time, start_done = self._transfer_start
        spent = self.clock() - start_time
        return (self._done - start_done) / spent if spent > 0 else None

    def render(self) -> RenderableType:
        from rich.progress_bar import ProgressBar
        from rich.spinner import Spinner
        from rich.table import Table
        from rich.text import Text

        row = Table.grid(padding=(0, 1))
        row.add_column(no_wrap=True)
        row.add_column(no_wrap=True, overflow="ellipsis", max_width=48)
        row.add_column(no_wrap=True)
        row.add_column(no_wrap=True)
        label = PHASE_LABELS.get(self._phase, self._phase.capitalize())
        if self._phase == "done":
            # The whole path or nothing: a path cut short in the middle cannot be used (stdout has it too).
            return Text.assemble("✓ ", label, f" {self._message}" if self._message else "", overflow="fold")
        elapsed = self.elapsed()
        if self._phase in ("queued", "rendering"):
            # The full id was printed when the task was submitted; here a short one leaves room for the bar.
            task_id = self.task_id or self._message
            head = label + (f" {task_id[:8]}…" if task_id else "")
        else:
            head = label + (f" {self._message}" if self._message else "")
        marker: RenderableType = "✓" if self._phase == "done" else Spinner("dots")
        cells: list[RenderableType] = [marker, head]
        if self._phase == "rendering" and self._estimate > 0:
            # The bar is time against the estimate, never a server percentage: the API reports none.
            done = min(elapsed, self._estimate * 0.99)
            left = self._estimate - elapsed
            remaining = f"~{clock_text(left)} left" if left >= 1 else "any moment now (past the estimate)"
            cells += [
                ProgressBar(total=self._estimate, completed=done, width=30),
                f"{clock_text(elapsed)} / ~{clock_text(self._estimate)} (estimate), {remaining}",
            ]
        elif self._phase == "queued":
            # PENDING: the task is accepted and queued on the service (not a local slot wait, which says so itself).
            cells.append(f"{clock_text(elapsed)} queued on the service")
        elif self._phase in ("uploading", "downloading"):
            if self._total:
                cells.append(ProgressBar(total=self._total, completed=self._done, width=30))
            text = human_bytes(self._done) + (f" / {human_bytes(self._total)}" if self._total else "")
            speed = self.speed()
            if speed:
                text += f"  {human_bytes(speed)}/s"
            cells.append(text)
        while len(cells) < 4:
            cells.append("")
        row.add_row(*cells)
        return row


def make_reporter(out: Output) -> BaseReporter:
    """Rich on a terminal, plain lines otherwise, nothing with --quiet or --json."""
    if out.quiet or out.json:
        return NullReporter()
    if stderr_is_terminal():
        return RichReporter(out.console)
    return PlainReporter(out)
