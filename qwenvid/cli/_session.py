"""The global options, and opening a library Session for them (against the in-process emulator if asked)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer

from qwenvid.cli._output import Output

if TYPE_CHECKING:
    from qwenvid.tasks.session import Session

# The in-process emulator accepts any key; this one only exists so the library has something to send.
_EMULATOR_KEY = "sk-qwenvid-local-emulator"
# The emulator renders in about a second by default; the progress bar should say so.
EMULATOR_ESTIMATE_SECONDS = 2.0
# `--emulator` tasks queue and run only briefly: each ends once its video is rendered, so a quick start
# spends its time rendering rather than waiting out fixed phases (`--emulator-realistic` waits them out).
QUICK_EMULATOR_TIMING = {"pending_seconds": 0.1, "running_seconds": 0.2}
# Time sources injected by tests (rule: inject clocks and sleeps, never patch globals):
# "session" -> Session keyword arguments (clock, sleep); "emulator_clock" -> the --emulator emulator's clock.
INJECTED: dict[str, Any] = {}


@dataclass
class CliState:
    """What the global options asked for; lives in ctx.obj."""

    base_url: str | None = None
    region: str | None = None
    workspace: str | None = None  # --workspace ID: the workspace host of the region
    # --emulator (True), --no-emulator (False), or neither (None: QWENVID_EMULATOR, then config `emulator`).
    emulator_flag: bool | None = None
    emulator_realistic: bool = False  # --emulator-realistic: the models' documented render times
    emulator_faults: tuple[str, ...] = ()  # --emulator-fault SPEC, already checked
    out: Output = field(default_factory=Output)
    preview: bool = True  # --no-preview turns the thumbnail strip under a finished video off
    cost_only: bool = False  # `qwenvid cost COMMAND ...`: the command's --dry-run prints its cost, not its requests
    _emulator: tuple[bool, str] | None = field(default=None, repr=False)

    def __init__(self, *, emulator: bool | None = None, **fields: Any) -> None:
        """`emulator=True` is `--emulator` (tests and the app build a state this way)."""
        for item in dataclasses.fields(self):
            default = item.default_factory() if item.default_factory is not dataclasses.MISSING else item.default
            setattr(self, item.name, fields.pop(item.name, default))
        if fields:
            raise TypeError(f"unknown CliState fields {sorted(fields)}")
        if emulator is not None:
            self.emulator_flag = emulator or None

    def _resolve_emulator(self) -> tuple[bool, str]:
        if self._emulator is None:
            from qwenvid.cli._emulator_default import resolve_emulator

            self._emulator = resolve_emulator(self.emulator_flag, self.base_url)
        return self._emulator

    @property
    def emulator(self) -> bool:
        """Run on the in-process emulator: --emulator, else (no explicit base URL) QWENVID_EMULATOR or config."""
        return self._resolve_emulator()[0]

    @property
    def emulator_source(self) -> str:
        """Where that choice came from, for the cost notice ("--emulator", "QWENVID_EMULATOR env", ...)."""
        return self._resolve_emulator()[1]

    def estimate(self, emulated: bool) -> float | None:
        """The render estimate the progress bar starts from: None lets the session use the model's own."""
        return EMULATOR_ESTIMATE_SECONDS if emulated and not self.emulator_realistic else None


def state_of(ctx: typer.Context, json_flag: bool = False) -> CliState:
    """The CLI state, with a command's own --json folded into the global one."""
    state = ctx.obj if isinstance(ctx.obj, CliState) else CliState()
    ctx.obj = state
    if json_flag:
        state.out.json = True
    return state


@dataclass
class OpenSession:
    """A live Session plus what the CLI needs to know about how it was opened."""

    session: Session
    settings: Any
    emulated: bool
    emulator: Any = None  # the in-process EmulatorThread under --emulator


def load_settings(state: CliState, *, api_key: str | None = None, base_url: str | None = None) -> Any:
    from qwenvid.config import load_settings as _load

    return _load(api_key=api_key, region=state.region, base_url=base_url or state.base_url, workspace=state.workspace)


@contextmanager
def open_session(state: CliState, *, timeout: float | None = None) -> Iterator[OpenSession]:
    """A Session for this command; with --emulator, an emulator runs for exactly as long as the command.

    `timeout` (the command's --timeout) is an overall deadline for every request the command makes.
    """
    from qwenvid.wire.deadlines import bounded

    with bounded(timeout):
        yield from _open_session(state)


def _open_session(state: CliState) -> Iterator[OpenSession]:
    from qwenvid.tasks.session import Session

    if not state.emulator:
        settings = load_settings(state)
        session = Session(settings, **INJECTED.get("session", {}))
        try:
            yield OpenSession(session, settings, emulated=False)
        finally:
            session.close()
        return

    from qwenvid.config import emulator_render_cache
    from qwenvid.emulator.config import EmulatorConfig
    from qwenvid.emulator.server import EmulatorThread

    timing: dict[str, Any] = {"realistic": True} if state.emulator_realistic else dict(QUICK_EMULATOR_TIMING)
    config = EmulatorConfig(**timing, faults=state.emulator_faults, render_cache_dir=emulator_render_cache())
    emulator = EmulatorThread(config, clock=INJECTED.get("emulator_clock")).start()
    try:
        settings = dataclasses.replace(
            load_settings(state, api_key=_EMULATOR_KEY, base_url=emulator.base_url),
            key_source=f"{state.emulator_source} (any key works there)",
            base_url_source=state.emulator_source,
        )
        session = Session(settings, emulated=True, **INJECTED.get("session", {}))
        try:
            yield OpenSession(session, settings, emulated=True, emulator=emulator)
        finally:
            try:
                if getattr(session, "_ledger", None) is not None:  # a dry run never opened it: leave it unmade
                    end_emulated_rows(session.ledger, emulator.base_url)
            finally:
                session.close()
    finally:
        # The command is over: the server winds down on its own (~0.1 s) rather than while the user waits.
        emulator.stop(wait=False)


def end_emulated_rows(ledger: Any, base_url: str) -> None:
    """The in-process emulator stops with its command: its tasks end with it, in the ledger too.

    A row it leaves unfinished (Ctrl-C while a task was queued) would otherwise stay PENDING for ever,
    with `resume` (which skips emulated rows) and `status --wait` (which asks for a key) no help.
    """
    from qwenvid.store.ledger import TERMINAL_STATUSES

    why = "the in-process emulator (--emulator) stopped with its command, and its task with it"
    try:
        rows = [row for row in ledger.list() if row.origin == "emulated" and row.base_url == base_url]
    except Exception:  # noqa: BLE001 - the ledger was never opened or is gone: nothing to end
        return
    for row in rows:
        if row.task_id is not None and row.remote_status not in TERMINAL_STATUSES:
            ledger.update_remote(row.id, "UNKNOWN", error_code="EmulatorStopped", error_message=why)
        elif row.task_id is None and row.local_state in ("created", "submitting", "outcome_unknown"):
            ledger.mark_rejected(row.id, "EmulatorStopped", why)
