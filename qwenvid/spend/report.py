"""What was spent, from the ledger: billed seconds from each task's `usage`, grouped, beside the estimates.

A task's billed seconds are what the service reported in its `usage` (never the estimate); a FAILED
or CANCELED task is billed nothing and counts at zero; a task still in flight (or whose submit's
outcome is unknown) has no billed seconds yet and shows only its estimate. Rows never submitted
(refused, closed before the send) are not tasks and are left out. Runs on an emulator are a section
of their own (never mixed into what the service billed). An amount appears only where the user's
own `[prices]` table has a rate (qwenvid/requests/cost.py), and is labelled as theirs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from qwenvid.requests.cost import estimate_cost, is_free_service

PERIODS = ("day", "week", "month")
GROUPS = ("period", "model", "tier", "mode", "plan")
ZERO_STATUSES = frozenset({"FAILED", "CANCELED"})
AMOUNT_LABEL = "your prices ([prices] in config.toml), not the service's bill"


@dataclass(frozen=True)
class TaskSpend:
    """One task as spend counts it."""

    created_at: datetime
    model: str
    tier: str
    mode: str
    plan: str
    status: str  # SUCCEEDED | FAILED | CANCELED | in flight | outcome unknown
    billed_seconds: float  # 0 until the service reports usage; 0 for failed and canceled
    estimated_seconds: float
    amount: float | None  # billed seconds at the user's rate; None without one
    estimated_amount: float | None
    emulated: bool


@dataclass
class Line:
    """Tasks of one group key (a day, a model, ...) added up."""

    key: str
    tasks: int = 0
    succeeded: int = 0
    failed: int = 0  # failed and canceled: billed nothing
    in_flight: int = 0  # no usage yet (running, or outcome unknown)
    billed_seconds: float = 0.0
    estimated_seconds: float = 0.0
    amount: float | None = None
    estimated_amount: float | None = None

    def add(self, task: TaskSpend) -> None:
        self.tasks += 1
        if task.status == "SUCCEEDED":
            self.succeeded += 1
        elif task.status in ZERO_STATUSES:
            self.failed += 1
        else:
            self.in_flight += 1
        self.billed_seconds += task.billed_seconds
        self.estimated_seconds += task.estimated_seconds
        if task.amount is not None:
            self.amount = (self.amount or 0.0) + task.amount
        if task.estimated_amount is not None:
            self.estimated_amount = (self.estimated_amount or 0.0) + task.estimated_amount

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "tasks": self.tasks,
            "succeeded": self.succeeded,
            "failed_or_canceled": self.failed,
            "in_flight": self.in_flight,
            "billed_seconds": round(self.billed_seconds, 3),
            "estimated_seconds": round(self.estimated_seconds, 3),
            "amount": None if self.amount is None else round(self.amount, 6),
            "estimated_amount": None if self.estimated_amount is None else round(self.estimated_amount, 6),
        }


@dataclass(frozen=True)
class OtherCost:
    """A non-video cost (storyboard tokens, narration characters, portraits, face checks) added up per kind."""

    kind: str
    model: str
    unit: str
    units: float
    calls: int
    emulated: bool
    amount: float | None = None  # at the user's rates (the same the amount budgets count); None: unpriced

    def to_json(self) -> dict[str, Any]:
        amount = None if self.amount is None else round(self.amount, 6)
        return {
            "kind": self.kind, "model": self.model, "unit": self.unit, "units": self.units, "calls": self.calls,
            "amount": amount,
        }  # fmt: skip


@dataclass
class Section:
    """What one service billed (or, for the emulator section, would have), grouped every way spend shows."""

    total: Line = field(default_factory=lambda: Line("total"))
    groups: dict[str, dict[str, Line]] = field(default_factory=lambda: {name: {} for name in GROUPS})
    other: list[OtherCost] = field(default_factory=list)

    def add(self, task: TaskSpend, period: str) -> None:
        self.total.add(task)
        keys = {
            "period": period_key(task.created_at, period),
            "model": task.model,
            "tier": task.tier,
            "mode": task.mode,
            "plan": task.plan,
        }
        for name, key in keys.items():
            self.groups[name].setdefault(key, Line(key)).add(task)

    def lines(self, group: str) -> list[Line]:
        return sorted(self.groups[group].values(), key=lambda line: line.key)

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total.to_json(),
            **{f"by_{name}": [line.to_json() for line in self.lines(name)] for name in GROUPS},
            "other_costs": [cost.to_json() for cost in self.other],
        }


@dataclass
class SpendReport:
    """`qwenvid spend`: the service's section, the emulator's, and how amounts were worked out."""

    period: str
    since: datetime | None
    until: datetime | None
    currency: str | None
    billed: Section = field(default_factory=Section)
    emulator: Section = field(default_factory=Section)
    count_emulator: bool = False

    @property
    def has_amounts(self) -> bool:
        sections = (self.billed, self.emulator)
        return any(s.total.amount is not None or any(c.amount is not None for c in s.other) for s in sections)

    def to_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "currency": self.currency,
            "amount_source": AMOUNT_LABEL if self.has_amounts else None,
            "count_emulator": self.count_emulator,
            "billed": self.billed.to_json(),
            "emulator": self.emulator.to_json(),
        }

    def csv_rows(self) -> list[list[str]]:
        """One row per (section, group, key), headed; amounts in the user's currency where priced."""
        head = ["section", "group", "key", "tasks", "succeeded", "failed_or_canceled", "in_flight",
                "billed_seconds", "estimated_seconds", "amount", "estimated_amount", "currency"]  # fmt: skip
        rows = [head]
        for name, section in (("billed", self.billed), ("emulator", self.emulator)):
            for group, lines in (("total", [section.total]), *((g, section.lines(g)) for g in GROUPS)):
                for line in lines:
                    data = line.to_json()
                    rows.append([name, group, line.key, *(_cell(data[k]) for k in head[3:11]), self.currency or ""])
            for cost in section.other:
                rows.append([name, "other", f"{cost.kind}:{cost.model}", str(cost.calls), "", "", "", "", "",
                             "", "", f"{cost.units:g} {cost.unit}"])  # fmt: skip
        return rows


def period_key(moment: datetime, period: str) -> str:
    """The UTC day (2026-12-07), ISO week (2026-W50) or month (2026-12) a moment falls in."""
    moment = moment.astimezone(UTC)
    if period == "month":
        return f"{moment.year:04d}-{moment.month:02d}"
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year:04d}-W{week:02d}"
    return moment.date().isoformat()


def task_spend(row: Any, prices: Mapping[str, Any] | None) -> TaskSpend | None:
    """How one ledger row counts; None for a row that never became a task (refused, never sent)."""
    from qwenvid.plans.rows import plan_step_of

    if row.local_state == "rejected" or row.local_state == "created":
        return None
    status = row.remote_status or ""
    if row.local_state == "outcome_unknown" or (row.local_state == "submitting" and not row.task_id):
        status = "outcome unknown"
    elif status not in ("SUCCEEDED", *ZERO_STATUSES):
        status = "in flight"
    billed = float(row.billed_seconds or 0.0) if status == "SUCCEEDED" else 0.0
    estimated = float(row.billable_seconds_estimate or 0.0)
    model, tier = row.model or "?", row.tier or "-"
    owner = plan_step_of(row)
    rate = estimate_cost(model, 1.0, row.tier, prices).amount
    return TaskSpend(
        created_at=_moment(row.created_at),
        model=model,
        tier=tier,
        mode=row.mode or "-",
        plan=owner[0] if owner else "(no plan)",
        status=status,
        billed_seconds=billed,
        estimated_seconds=estimated,
        amount=None if rate is None else rate * billed,
        estimated_amount=None if rate is None else rate * estimated,
        emulated=row.origin == "emulated" or is_free_service(row.base_url),
    )


def build_report(
    rows: Iterable[Any],
    *,
    prices: Mapping[str, Any] | None,
    period: str = "day",
    since: datetime | None = None,
    until: datetime | None = None,
    other_costs: Iterable[OtherCost] = (),
    count_emulator: bool = False,
) -> SpendReport:
    """Group the ledger's rows (already limited to since/until) into the report."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}")
    currency = (prices or {}).get("currency")
    report = SpendReport(
        period, since, until, str(currency) if isinstance(currency, str) else None, count_emulator=count_emulator
    )
    for row in rows:
        task = task_spend(row, prices)
        if task is not None:
            (report.emulator if task.emulated else report.billed).add(task, period)
    for cost in other_costs:
        (report.emulator if cost.emulated else report.billed).other.append(cost)
    return report


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)
