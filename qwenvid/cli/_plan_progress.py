"""Live progress of a plan: a Rich overall bar with rows for running and recent steps, or plain lines."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from qwenvid.cli._output import Output, clean, stderr_is_terminal
from qwenvid.cli._progress import clock_text

if TYPE_CHECKING:
    from rich.console import RenderableType
    from rich.live import Live

# Rows shown for running steps and for recently finished ones: a 200-step batch stays one screen.
MAX_ACTIVE_ROWS = 8
MAX_RECENT_ROWS = 4
ACTIVE = ("submitting", "queued", "running", "downloading")
QUIET_STATES = ("ready", "submitting")  # plain lines skip these: the next line (queued, with the task id) says it
FINISHED = ("done", "reused", "failed", "skipped")


class PlanProgress:
    """Receives every step change (`update`) and shows it; `close` leaves a summary line."""

    def update(self, record: Any) -> None: ...

    def close(self) -> None: ...


class NullPlanProgress(PlanProgress):
    pass


class PlainPlanProgress(PlanProgress):
    """One line per step state change (CI logs, pipes)."""

    def __init__(self, out: Output) -> None:
        self.out = out

    def update(self, record: Any) -> None:
        if (record.hidden and record.status != "failed") or record.status in QUIET_STATES:
            return
        what = record.model or record.op or ""
        tail = ""
        if record.status in ("done", "reused") and record.file:
            tail = f" -> {record.file}"
        elif record.error and record.status in ("failed", "skipped", "detached"):
            tail = f": {record.error}"
        elif record.task_id and record.status in ("queued", "running"):
            tail = f" (task {record.task_id})"
        self.out.info(clean(f"{record.id}: {record.status}{' [' + what + ']' if what else ''}{tail}"))


class RichPlanProgress(PlanProgress):
    """Overall bar (steps done/total, billable seconds spent/planned, elapsed) + a row per active step."""

    def __init__(self, out: Output, total: int, planned_seconds: float, *, auto_refresh: bool = True) -> None:
        self.out = out
        self.total = total
        self.records: dict[str, Any] = {}
        self.planned = planned_seconds
        self.start = time.monotonic()
        self.started_at: dict[str, float] = {}
        self.recent: deque[str] = deque(maxlen=MAX_RECENT_ROWS)
        self._lock = threading.Lock()
        self._live: Live | None = None
        self.auto_refresh = auto_refresh

    def _ensure(self) -> None:
        if self._live is None:
            from rich.live import Live

            self._live = Live(
                self.render(),
                console=self.out.console,
                auto_refresh=self.auto_refresh,
                refresh_per_second=4,
                transient=True,
                get_renderable=self.render,
            )
            self._live.start()

    def update(self, record: Any) -> None:
        with self._lock:
            self.records[record.id] = record
            if record.status in ACTIVE and record.id not in self.started_at:
                self.started_at[record.id] = time.monotonic()
            if record.status in FINISHED and not record.hidden:
                if record.id in self.recent:
                    self.recent.remove(record.id)
                self.recent.append(record.id)
        self._ensure()
        if self._live is not None and not self.auto_refresh:
            self._live.refresh()

    def render(self) -> RenderableType:
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            records = list(self.records.values())
            recent = list(self.recent)
        visible = [r for r in records if not r.hidden]
        total = max(self.total, len(visible))
        finished = sum(1 for r in visible if r.status in FINISHED)
        counts: dict[str, int] = {}
        for r in visible:
            counts[r.status] = counts.get(r.status, 0) + 1
        spent = sum(r.billable_seconds for r in records if r.status == "done" and r.kind == "generate")
        elapsed = time.monotonic() - self.start
        head = Table.grid(padding=(0, 1))
        head.add_row(
            Text("Plan", style="bold"),
            ProgressBar(total=max(total, 1), completed=finished, width=30),
            Text(f"{finished}/{total} steps"),
            Text(f"{spent:g}/{self.planned:g} s billable"),
            Text(f"{clock_text(elapsed)} elapsed{self._left(records)}"),
        )
        counts["waiting"] = counts.get("waiting", 0) + total - len(visible)
        summary = "  ".join(f"{name} {counts[name]}" for name in (*ACTIVE, *FINISHED, "waiting") if counts.get(name))
        rows = Table.grid(padding=(0, 2))
        active = [r for r in visible if r.status in ACTIVE]
        for r in active[:MAX_ACTIVE_ROWS]:
            since = self.started_at.get(r.id)
            took = clock_text(time.monotonic() - since) if since else ""
            if took and getattr(r, "estimate", None):
                took += f" / ~{clock_text(r.estimate)} (estimate)"
            rows.add_row(Text(r.id), Text(r.status), Text(r.model or r.op or ""), Text(took))
        if len(active) > MAX_ACTIVE_ROWS:
            rows.add_row(Text(f"… and {len(active) - MAX_ACTIVE_ROWS} more"), Text(""), Text(""), Text(""))
        by_id = {r.id: r for r in records}
        for sid in recent:
            r = by_id.get(sid)
            if r is not None and r.status in FINISHED:
                style = "red" if r.status == "failed" else "dim"
                rows.add_row(
                    Text(r.id, style=style), Text(r.status, style=style), Text(r.model or r.op or ""), Text("")
                )
        return Group(head, Text(summary, style="dim"), rows)

    @staticmethod
    def _left(records: list[Any]) -> str:
        """A rough time left: each model's unfinished generations in waves of its concurrency limit."""
        from qwenvid.plans.backend import model_limits

        waves: dict[str, tuple[int, float]] = {}
        for r in records:
            if r.kind == "generate" and r.status not in FINISHED and getattr(r, "estimate", None) and r.model:
                count, longest = waves.get(r.model, (0, 0.0))
                waves[r.model] = (count + 1, max(longest, float(r.estimate)))
        if not waves:
            return ""
        left = max(-(-count // model_limits(model).concurrency) * longest for model, (count, longest) in waves.items())
        return f", ~{clock_text(left)} left"

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def make_plan_progress(out: Output, total: int, planned_seconds: float) -> PlanProgress:
    if out.quiet or out.json:
        return NullPlanProgress()
    if stderr_is_terminal():
        return RichPlanProgress(out, total, planned_seconds)
    return PlainPlanProgress(out)
