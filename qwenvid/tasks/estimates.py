"""Expected render times per (model, duration, resolution, input kind), learned from the user's own ledger.

Submit-to-end times come from the ledger's task rows; queue and render times (PENDING, then RUNNING
to end) from the store's learned render times (qwenvid/store/render_times.py), written when a task
succeeds: a learned render time lets the poller aim at the end once it sees the task running.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from qwenvid.requests.priors import Estimate, input_kind
from qwenvid.tasks.polling import learn_estimate

if TYPE_CHECKING:
    from qwenvid.store.ledger import LedgerRow
    from qwenvid.store.seam import LedgerRows, Store

# How many of the newest finished rows of a model are looked at.
HISTORY_ROWS = 200
# Of those, how many like this one make the estimate (newest first: the service changes over time).
HISTORY_SAMPLES = 20

def cold_estimate(row: LedgerRow) -> Estimate:
    """The expected time of `row` before any history of its kind: its prior (qwenvid/requests/priors.py).

    The one place a cold estimate is formed (the poller, the progress bar, `reconcile`, plans), from
    the request as sent: model, duration, size or resolution, and input kind.
    """
    from qwenvid.requests.priors import prior_for_request

    body = dict(row.request_json or {})
    given = body.get("parameters") if isinstance(body.get("parameters"), Mapping) else {}
    # The row's own columns fill what the stored body lacks (older rows, plans, imported tasks).
    known = {"duration": row.duration, "resolution": row.tier}
    body["parameters"] = {**{k: v for k, v in known.items() if v is not None}, **(given or {})}
    return prior_for_request(body, row.model).estimate()


def history_seconds(ledger: LedgerRows, row: LedgerRow) -> list[float]:
    """Submit-to-end seconds of this user's succeeded tasks like `row`, newest first (emulated runs excluded)."""
    from qwenvid.store.ledger import parse_server_time

    if not row.model:
        return []
    kind = input_kind(row.request_json)
    seconds: list[float] = []
    for other in ledger.list(model=row.model, status="SUCCEEDED", limit=HISTORY_ROWS):
        if other.id == row.id or other.origin == "emulated" or other.remote_status != "SUCCEEDED":
            continue
        if other.duration != row.duration or other.tier != row.tier or input_kind(other.request_json) != kind:
            continue
        start, end = parse_server_time(other.submit_time), parse_server_time(other.end_time)
        if start is None or end is None or end < start:
            continue
        seconds.append((end - start).total_seconds())
        if len(seconds) >= HISTORY_SAMPLES:
            break
    return seconds


def estimate_for(store: Store, row: LedgerRow) -> Estimate:
    """The expected render time of `row`: learned from its like in the store, else its prior (cold)."""
    return learn_estimate(
        history_seconds(store.ledger, row), cold_estimate(row), store.render_times.render_seconds(row, HISTORY_SAMPLES)
    )
