"""How long a plan still needs: its unfinished steps laid out on each model's concurrent-task slots.

The one figure the plan view shows as "~M:SS left". Steps in flight need what is left of their estimate
(by the same clock as the manifest's `started_at`); steps not started yet wait for their inputs and
for a slot of their model, then take their own estimate. So the figure goes down as time passes, and
counts the steps still waiting, not only the running ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# A media step (trim, concat, ...) takes about this long; it only matters at the end of a chain.
MEDIA_SECONDS = 1.0
IN_FLIGHT = ("submitting", "queued", "running", "downloading")
DONE_STATES = ("done", "reused", "failed", "skipped", "detached")


@dataclass(frozen=True)
class StepTiming:
    """What the estimate needs to know of one step."""

    id: str
    kind: str  # "generate" or "media"
    model: str | None
    depends_on: tuple[str, ...]
    status: str
    started_at: float | None  # wall-clock seconds (the manifest's clock)
    estimate: float | None  # expected seconds from submit to end


def seconds_left(
    steps: Iterable[StepTiming], now: float, concurrency: Callable[[str], int]
) -> float | None:
    """Seconds until the last step ends, or None when no unfinished step has an estimate.

    `steps` come in run order (every step after its inputs); `concurrency(model)` is the model's slot count.
    """
    ordered = list(steps)
    finish: dict[str, float] = {}
    slots: dict[str, list[float]] = {}
    known = False
    for step in ordered:  # in flight: what is left of their estimate holds their slot
        if step.status in IN_FLIGHT and step.kind == "generate":
            left = 0.0
            if step.estimate is not None:
                known = True
                ran = now - step.started_at if step.started_at is not None else 0.0
                left = max(step.estimate - ran, 0.0)
            finish[step.id] = left
            heapq.heappush(slots.setdefault(step.model or "", []), left)
    for step in ordered:
        if step.id in finish:
            continue
        if step.status in DONE_STATES:
            finish[step.id] = 0.0
            continue
        ready = max((finish.get(dep, 0.0) for dep in step.depends_on), default=0.0)
        if step.kind != "generate":
            finish[step.id] = ready + (0.0 if step.status in IN_FLIGHT else MEDIA_SECONDS)
            continue
        if step.estimate is None:
            finish[step.id] = ready
            continue
        known = True
        heap = slots.setdefault(step.model or "", [])
        free = heapq.heappop(heap) if len(heap) >= max(1, concurrency(step.model or "")) else 0.0
        finish[step.id] = max(free, ready) + step.estimate
        heapq.heappush(heap, finish[step.id])
    if not known:
        return None
    return max(finish.values(), default=0.0)


def timings(records: Iterable[Any], planned: Mapping[str, float]) -> list[StepTiming]:
    """StepTimings from manifest StepRecords; `planned` holds each step's estimate before it has its own."""
    out = []
    for record in records:
        sid = str(record.id)
        estimate = getattr(record, "estimate", None) or planned.get(sid)
        out.append(
            StepTiming(
                id=sid,
                kind=str(getattr(record, "kind", "generate")),
                model=getattr(record, "model", None),
                depends_on=tuple(getattr(record, "depends_on", ()) or ()),
                status=str(getattr(record, "status", "waiting")),
                started_at=getattr(record, "started_at", None),
                estimate=float(estimate) if estimate is not None else None,
            )
        )
    return out
