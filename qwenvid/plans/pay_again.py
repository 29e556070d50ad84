"""Plan steps whose earlier submit may have made a billed task that nobody can find yet: the pay-again guard's input.

A step whose ledger row is "outcome unknown" is reconciled first (no waiting); when that settles it (a
task adopted, or proven never created) the run goes on as usual. What stays open needs `--pay-again`
or a person's yes before the step is submitted again (qwenvid/tasks/pay_again.py decides).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qwenvid.plans.backend import LedgerBackend
    from qwenvid.plans.prepare import PreparedPlan


def unsettled_steps(prepared: PreparedPlan, backend: LedgerBackend) -> dict[str, str]:
    """Step id -> ledger row of each generation step an earlier submit may have paid for (reconciled first).

    A row another live process holds (it is submitting or reconciling it right now) is left to that process:
    the scheduler waits for it, so it is not this run's to pay for again.
    """
    found: dict[str, str] = {}
    for sid in prepared.order:
        sp = prepared.steps[sid]
        if sp.found is None or sp.found.state != "unknown" or not sp.found.local_id:
            continue
        local_id = sp.found.local_id
        if not backend.claim(local_id):
            continue
        backend.release(local_id)
        settled = backend.reconcile(local_id)
        if settled is not None and settled.state == "unknown":
            found[sid] = local_id
    return found
