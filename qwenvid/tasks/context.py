"""What every task verb works with: the settings, a lazily made client and store, the clocks, and one poll."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

    from qwenvid.config import Settings
    from qwenvid.requests.priors import Estimate
    from qwenvid.store.ledger import LedgerRow
    from qwenvid.store.seam import LedgerRows, SlotPacer, Store
    from qwenvid.wire.client import DashScopeClient, TaskInfo


@dataclass
class TaskContext:
    """Settings + client + store + clocks: what submit, follow, fetch and reconcile are given (never a Session).

    `clock` and `sleep` are injected by tests; the client, the store and the pacer share them.
    """

    settings: Settings
    transport: httpx.BaseTransport | None = None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    emulated: bool = False
    _client: DashScopeClient | None = field(default=None, init=False, repr=False)
    _store: Store | None = field(default=None, init=False, repr=False)
    # One context may drive many runs from many threads (batches): its client and store are made once.
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def client(self) -> DashScopeClient:
        with self._lock:
            if self._client is None:
                from qwenvid.config import require_key
                from qwenvid.wire.client import DashScopeClient

                key = require_key(self.settings)
                self._client = DashScopeClient(
                    key,
                    self.settings.base_url,
                    transport=self.transport,
                    sleep=self.sleep,
                    clock=self.clock,
                    query_qps=self.settings.query_qps,
                )
            return self._client

    @property
    def store(self) -> Store:
        """The state folder's storage (qwenvid/store/seam.py): SQLite unless a backend was chosen."""
        with self._lock:
            if self._store is None:
                from qwenvid.store.sqlite_store import open_store

                self._store = open_store(self.settings.ledger_path)
            return self._store

    @property
    def ledger(self) -> LedgerRows:
        return self.store.ledger

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- shared by the verbs ----------------------------------------------------------------------

    def here(self, row: LedgerRow) -> bool:
        """Whether the row's task lives on the service this context talks to (a task exists in one place)."""
        return row.base_url is None or row.base_url.rstrip("/") == self.settings.base_url.rstrip("/")

    def wall_clock(self) -> Callable[[], float]:
        """Epoch seconds (slots and leases are compared across processes); an injected test clock as it is."""
        return time.time if self.clock is time.monotonic else self.clock

    def pacer(self) -> SlotPacer:
        return self.store.pacer(clock=self.wall_clock(), sleep=self.sleep)

    def poll_once(self, row: LedgerRow) -> TaskInfo:
        """One status query of the row's task, recorded (ledger, learned render times, its slot)."""
        from qwenvid.tasks.outcomes import task_id_of

        info = self.client.get_task(task_id_of(row))
        self.record(row, info)
        return info

    def record(self, row: LedgerRow, info: TaskInfo) -> None:
        from qwenvid.store.pacing import note_status

        note_status(self.pacer(), row.id, info.status)
        self.store.render_times.remember(row, info)
        self.ledger.update_remote(
            row.id,
            info.status,
            submit_time=info.submit_time,
            end_time=info.end_time,
            error_code=info.code,
            error_message=info.message,
        )
        if info.status == "SUCCEEDED":
            self.ledger.set_result(
                row.id,
                video_url=info.video_url,
                usage=info.usage,
                actual_prompt=info.actual_prompt,
                end_time=info.end_time,
            )

    def estimate(self, row: LedgerRow, known: float | None = None) -> Estimate:
        """The expected render time: `known` when the caller knows it, else history, else the cold prior."""
        from qwenvid.requests.priors import Estimate
        from qwenvid.tasks.estimates import estimate_for

        if known is not None:  # told by the caller (the in-process emulator's known timing)
            return Estimate.known(known)
        return estimate_for(self.store, row)
