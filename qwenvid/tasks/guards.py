"""Pre-submit guards the library offers (qwenvid/tasks/submit.py runs them before anything is paid)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qwenvid.tasks.context import TaskContext
    from qwenvid.tasks.outcomes import ResumeOutcome
    from qwenvid.tasks.reporting import Reporter
    from qwenvid.tasks.submit import Guard, SubmitAttempt


def reconcile_first(decide: Callable[[list[ResumeOutcome]], None], reporter: Reporter) -> Guard:
    """Running the same request again after an unknown outcome: find the earlier task before paying again.

    Earlier outcome-unknown submits of the attempt's request are reconciled (no waiting); when there
    are any, `decide(outcomes)` is told what was found and refuses by raising (the CLI asks, or exits 7).
    """

    def guard(ctx: TaskContext, attempt: SubmitAttempt) -> None:
        from qwenvid.tasks.reconcile import earlier_attempts

        earlier = earlier_attempts(ctx, attempt.plan, reporter)
        if earlier:
            decide(earlier)

    return guard
