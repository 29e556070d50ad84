"""The pay-again guard: an earlier submit of the same request that may have made a task blocks a second bill.

`--yes` confirms a run's cost; it says nothing about paying for a request that may already be paid
for (a submit whose answer was lost, still rendering or not yet listed). Only `--pay-again`, or a
person answering yes on a terminal, lets such a request be submitted again; without a terminal the
refusal is exit 7 (product.md §3.1). Every front end calls `pay_again_guard` before its submit
(one-liners, `generate` and the wizard through the shared run flow; plans and `extend` per step).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from qwenvid.errors import ConfirmationRequired

if TYPE_CHECKING:
    from qwenvid.tasks.context import TaskContext
    from qwenvid.tasks.outcomes import Plan, ResumeOutcome
    from qwenvid.tasks.reporting import Reporter

PAY_AGAIN_CODE = "PayAgainRequired"
# A reconciliation note that proves nothing was made (nothing to pay twice for).
_SAFE = ("no task was created",)


def still_open(outcomes: Sequence[ResumeOutcome]) -> list[str]:
    """The earlier attempts that may have made a billed task (all but those proven to have made none)."""
    return [item.ref for item in outcomes if not (item.note or "").startswith(_SAFE)]


def pay_again_refusal(names: Sequence[str], *, what: str = "this same request") -> ConfirmationRequired:
    """Exit 7: nobody can answer, and --pay-again was not given."""
    listed = ", ".join(names)
    return ConfirmationRequired(
        f"An earlier submit of {what} ({listed}) may already have created a billed task; not paying again "
        "without --pay-again (--yes confirms the cost only).",
        hint="Run `qwenvid resume` to finish the earlier one, or add --pay-again to submit again and pay twice.",
        code=PAY_AGAIN_CODE,
    )


def decide(
    names: Sequence[str], *, pay_again: bool, ask: Callable[[str], bool] | None, what: str = "this request"
) -> bool:
    """Whether to submit although `names` may have made a task: --pay-again, else the person's answer.

    `ask` is None when nobody can answer (no terminal): then ConfirmationRequired (exit 7), whatever --yes says.
    """
    if not names or pay_again:
        return True
    if ask is None:
        raise pay_again_refusal(names, what=what.replace("this request", "this same request"))
    listed = ", ".join(names)
    return ask(f"An earlier submit of {what} ({listed}) may already have made a task. Submit again and pay twice?")


def pay_again_guard(
    ctx: TaskContext,
    plan: Plan,
    reporter: Reporter,
    *,
    pay_again: bool,
    ask: Callable[[str], bool] | None,
    tell: Callable[[str], None] | None = None,
) -> bool:
    """Reconcile earlier unknown submits of `plan`'s request, say what was found, then `decide` (False: declined)."""
    from qwenvid.tasks.reconcile import earlier_attempts

    earlier = earlier_attempts(ctx, plan, reporter)
    say = tell or reporter.notice
    for item in earlier:
        said = item.note or (item.error.message if item.error else "")
        say(f"Earlier submit of this request {item.ref}: {said}")
    return decide(still_open(earlier), pay_again=pay_again, ask=ask)

