"""Live progress of a plan: a Rich overall bar with rows for running and recent steps, or plain lines."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
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


# What each state is called in the view: a person reads "waiting for a slot", not "ready".
LABELS = {
    "planned": "planned",
    "waiting": "waiting for inputs",
    "ready": "waiting for a slot",
    "submitting": "submitting",
    "queued": "queued on the service",
    "running": "running",
    "downloading": "downloading",
    "done": "done",
    "reused": "reused",
    "failed": "failed",
    "skipped": "skipped",
    "detached": "left running",
}
# Unfinished states, in the order their rows are listed (furthest along first).
UNFINISHED_ORDER = ("downloading", "running", "queued", "submitting", "ready", "waiting", "planned", "detached")


class RichPlanProgress(PlanProgress):
    """Overall bar (steps done/total, billable seconds spent/planned, elapsed, time left) + a row per step.

    Every unfinished step has a row (the furthest along first, up to MAX_ACTIVE_ROWS, then a count by
    state); per-step times and the plan's elapsed time use one clock, the manifest's (`clock`, wall time),
    from the plan's real start (a plan resumed after --detach counts from its first run).
    """

    def __init__(
        self,
        out: Output,
        total: int,
        planned_seconds: float,
        *,
        auto_refresh: bool = True,
        steps: list[Any] | None = None,
        estimates: dict[str, float] | None = None,
        started_at: float | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.out = out
        self.total = total
        self.records: dict[str, Any] = {step.id: step for step in steps or []}
        self.planned = planned_seconds
        self.estimates = dict(estimates or {})
        self.clock = clock
        self.start = started_at if started_at is not None else clock()
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

        now = self.clock()
        with self._lock:
            records = list(self.records.values())
            recent = list(self.recent)
        visible = [r for r in records if not r.hidden]
        total = max(self.total, len(visible))
        finished = sum(1 for r in visible if r.status in FINISHED)
        counts: dict[str, int] = {}
        for r in visible:
            counts[r.status] = counts.get(r.status, 0) + 1
        counts["planned"] = counts.get("planned", 0) + total - len(visible)  # steps not reported yet
        spent = sum(r.billable_seconds for r in records if r.status == "done" and r.kind == "generate")
        head = Table.grid(padding=(0, 1))
        head.add_row(
            Text("Plan", style="bold"),
            ProgressBar(total=max(total, 1), completed=finished, width=30),
            Text(f"{finished}/{total} steps"),
            Text(f"{spent:g}/{self.planned:g} s billable"),
            Text(f"{clock_text(now - self.start)} elapsed{self._left(records, now)}"),
        )
        order = (*UNFINISHED_ORDER, *FINISHED)
        summary = "  ".join(f"{LABELS.get(name, name)} {counts[name]}" for name in order if counts.get(name))
        rows = Table.grid(padding=(0, 2))
        unfinished = sorted(
            (r for r in visible if r.status not in FINISHED),
            key=lambda r: UNFINISHED_ORDER.index(r.status) if r.status in UNFINISHED_ORDER else len(UNFINISHED_ORDER),
        )
        for r in unfinished[:MAX_ACTIVE_ROWS]:
            what = r.model or r.op or ""
            rows.add_row(Text(r.id), Text(self._label(r)), Text(what), Text(self._took(r, now)))
        if len(unfinished) > MAX_ACTIVE_ROWS:
            rest: dict[str, int] = {}
            for r in unfinished[MAX_ACTIVE_ROWS:]:
                rest[r.status] = rest.get(r.status, 0) + 1
            said = ", ".join(f"{count} {LABELS.get(name, name)}" for name, count in rest.items())
            rows.add_row(Text(f"… and {len(unfinished) - MAX_ACTIVE_ROWS} more"), Text(said), Text(""), Text(""))
        by_id = {r.id: r for r in records}
        for sid in recent:
            r = by_id.get(sid)
            if r is not None and r.status in FINISHED:
                style = "red" if r.status == "failed" else "dim"
                rows.add_row(
                    Text(r.id, style=style), Text(LABELS.get(r.status, r.status), style=style),
                    Text(r.model or r.op or ""), Text(self._took(r, now)),
                )  # fmt: skip
        return Group(head, Text(summary, style="dim"), rows)

    @staticmethod
    def _label(record: Any) -> str:
        if record.status == "waiting" and not record.depends_on:
            return "starting"
        return LABELS.get(record.status, record.status)

    def _took(self, record: Any, now: float) -> str:
        """`0:14 / ~0:30 (estimate)` for a step under way, its elapsed time once it ended."""
        since = getattr(record, "started_at", None)
        if since is None:
            return ""
        if record.status in FINISHED:
            elapsed = getattr(record, "elapsed", None)
            return clock_text(elapsed) if elapsed is not None else ""
        took = clock_text(now - since)
        estimate = getattr(record, "estimate", None) or self.estimates.get(record.id)
        if estimate and record.kind == "generate":
            took += f" / ~{clock_text(estimate)} (estimate)"
        return took

    def _left(self, records: list[Any], now: float) -> str:
        """The whole plan's time left: unfinished steps on each model's slots (qwenvid/plans/eta.py)."""
        from qwenvid.plans.backend import model_limits
        from qwenvid.plans.eta import seconds_left, timings

        left = seconds_left(timings(records, self.estimates), now, lambda model: model_limits(model).concurrency)
        if left is None or all(r.status in FINISHED for r in records):
            return ""
        if left <= 0:
            return ", finishing (past the estimate)"
        return f", ~{clock_text(left)} left"

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None


def make_plan_progress(
    out: Output,
    total: int,
    planned_seconds: float,
    *,
    steps: list[Any] | None = None,
    estimates: dict[str, float] | None = None,
    started_at: float | None = None,
) -> PlanProgress:
    if out.quiet or out.json:
        return NullPlanProgress()
    if stderr_is_terminal():
        return RichPlanProgress(
            out, total, planned_seconds, steps=steps, estimates=estimates, started_at=started_at
        )
    return PlainPlanProgress(out)
