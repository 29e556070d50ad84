"""The plan scheduler's seams, implemented with the library's Session, client, ledger and clip tools.

Nothing here decides *when* something happens (that is the scheduler); each method does one thing to
one step: find earlier work, submit (with a slot taken under a machine-wide lock), poll once, download,
run a media operation.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwenvid import errors
from qwenvid.plans.identity import file_sha256
from qwenvid.plans.manifest import read_manifest
from qwenvid.plans.prepare import Found
from qwenvid.tasks.submit import Existing, NoSlot, SubmitOutcome, Submitted, Unknown

if TYPE_CHECKING:
    from qwenvid.requests.priors import Estimate
    from qwenvid.store.claims import Claim
    from qwenvid.store.ledger import LedgerRow
    from qwenvid.store.seam import RowClaims
    from qwenvid.tasks.session import Session
    from qwenvid.tasks.submit import Guard, SubmitAttempt
    from qwenvid.wire.client import TaskInfo

__all__ = ["Existing", "LedgerBackend", "Limits", "NoSlot", "Submitted", "Unknown", "model_limits"]

# A task still unfinished this long after its submit is past the service's 3 h hard timeout (dashscope-api.md §4.1).
IN_FLIGHT_HORIZON = timedelta(hours=3)
# A row left in "submitting" is a submit in progress for this long (then it is a crash mid-submit).
SUBMITTING_HORIZON = timedelta(minutes=10)
# Submits of a model counted over this window against its per-second limit (a little over 1 s: clocks differ).
RATE_WINDOW = 1.1


@dataclass(frozen=True)
class Limits:
    concurrency: int
    submit_rps: int


def model_limits(model: str) -> Limits:
    """Per-model concurrent tasks and submits per second from the catalogue (dashscope-api.md §4.2)."""
    from qwenvid.catalogue import get_model

    spec = get_model(model)
    if spec is None:
        return Limits(2, 1)  # an unknown model: the strictest documented pair
    return Limits(max(1, spec.concurrency_limit), max(1, spec.submit_rps))


# The plan's side of the store's named lock: one process at a time checks a step's identity, takes its
# slot and marks its row submitting (no two processes submit one step, none takes the last slot twice).
PLAN_LOCK = "plan-slots"


class LedgerBackend:
    """Generations for the scheduler through a Session's client and ledger."""

    def __init__(
        self,
        session: Session,
        *,
        emulated: bool = False,
        claims: RowClaims | None = None,
        guards: Sequence[Guard] = (),
    ) -> None:
        self.session = session
        self.guards = tuple(guards)  # checked before each step's submit (qwenvid/tasks/submit.py)
        self.emulated = emulated
        self.ledger = session.ledger
        self.claims = claims or session.store.claims()
        self._mine: set[str] = set()
        self._held: dict[str, Claim] = {}
        # Steps whose row is written and inputs uploaded, waiting for a slot (qwenvid/tasks/submit.py).
        self._attempts: dict[str, SubmitAttempt] = {}
        self._guard = threading.Lock()
        self.base_url = session.settings.base_url.rstrip("/")

    # -- earlier work ----------------------------------------------------------------------------

    def generation(self, identity: str) -> Found | None:
        """The best earlier attempt at this identity: a verified file, a task in flight, or an unknown submit."""
        in_flight: Found | None = None
        for row in self.ledger.by_fingerprint(identity):
            if row.video_path and row.remote_status == "SUCCEEDED":
                path = Path(row.video_path)
                if path.is_file() and row.video_sha256 and file_sha256(path) == row.video_sha256:
                    return Found("done", path, row.video_sha256, row.id, row.task_id, row.billed_seconds)
            if not self._here(row):
                continue
            if row.local_state == "submitted" and row.task_id and not _ended(row) and in_flight is None:
                in_flight = Found("in_flight", local_id=row.id, task_id=row.task_id)
            elif row.local_state in ("outcome_unknown", "submitting") and in_flight is None:
                in_flight = Found("unknown", local_id=row.id)
        return in_flight

    def media(self, step_id: str, identity: str) -> Found | None:  # the ManifestFinder answers these
        return None

    def _here(self, row: LedgerRow) -> bool:
        return (row.base_url or "").rstrip("/") == self.base_url

    # -- limits ----------------------------------------------------------------------------------

    def in_flight(self, model: str) -> int:
        """Unfinished tasks of `model` on this service in the ledger, from every qwenvid process."""
        return len(self._in_flight_rows(model))

    def _in_flight_rows(self, model: str) -> list[str]:
        now = datetime.now(UTC)
        found: list[str] = []
        for row in self.ledger.list(model=model, since=now - IN_FLIGHT_HORIZON):
            if not self._here(row):
                continue
            if row.local_state == "submitted" and not _ended(row) and not self._abandoned(row, now):
                found.append(row.id)
            elif row.local_state == "submitting" and _age(row.updated_at, now) < SUBMITTING_HORIZON:
                found.append(row.id)
        return found

    def _abandoned(self, row: LedgerRow, now: datetime) -> bool:
        """A task nobody follows (its process died) and long past its expected end: it no longer holds a slot.

        Without this, a few crashed runs would keep a model "full" for hours; `qwenvid resume` finishes them.
        """
        if row.id in self._mine:
            return False
        holder = getattr(self.claims, "holder", None)
        if holder is None or holder(row.id) is not None:
            return False
        from qwenvid.tasks.estimates import cold_estimate

        expected = timedelta(seconds=2 * cold_estimate(row).seconds + 60)
        return _age(row.submitting_at or row.created_at, now) > expected

    def _no_slot(self, model: str, limits: Limits, rows: list[str]) -> NoSlot:
        # Only our own tasks hold the slots: the scheduler wakes the model when one of them ends, so a long
        # retry is enough; another process's task may end any time, so look again soon.
        ours = all(row in self._mine for row in rows)
        return NoSlot(f"{model} is at its limit of {limits.concurrency} tasks", retry_after=30.0 if ours else 0.5)

    # -- submit ----------------------------------------------------------------------------------

    def submit(
        self, request: Any, identity: str, target: Path, limits: Limits, *, force: bool = False
    ) -> SubmitOutcome:
        """The step's write-ahead submit (qwenvid/tasks/submit.py), never waiting for a slot.

        Raises ThrottledError for a 429 the client's retries did not get past (nothing was created) and
        the usual errors for a refusal; an ambiguous failure returns Unknown (the row stays "outcome
        unknown"). `force` submits even when an earlier row made the same request (`--force STEP`).
        NoSlot keeps the step's row and uploads for its next try.
        """
        from qwenvid.requests.priors import prior_for_request
        from qwenvid.tasks.submit import SubmitAttempt, submit

        model = str(request.model)
        rows = self._in_flight_rows(model)
        if len(rows) >= limits.concurrency:
            return self._no_slot(model, limits, rows)
        attempt = self._attempts.get(identity)
        if attempt is None:
            plan = self.session.plan(request)  # the full check, now with the referenced files in place
            attempt = SubmitAttempt(
                plan,
                fingerprint=identity,
                output_target=str(target),
                guards=self.guards,
                expected_seconds=prior_for_request(plan.payload.body, plan.model).seconds,
                show_uploads=False,
            )
        self._attempts[identity] = attempt
        try:
            outcome = submit(self.session, attempt, wait=False, reuse_in_flight=not force, lock=PLAN_LOCK)
        except BaseException:
            self._attempts.pop(identity, None)  # its row is closed (or in flight): the next try starts afresh
            raise
        if attempt.row is not None:
            self._mine.add(attempt.row.id)
        if isinstance(outcome, NoSlot):
            return outcome
        self._attempts.pop(identity, None)
        if attempt.claim is not None and isinstance(outcome, Submitted | Unknown):
            with self._guard:
                self._held[outcome.local_id] = attempt.claim  # followed here: its end wakes the scheduler
            attempt.claim = None
        return outcome

    # -- following -------------------------------------------------------------------------------

    def claim(self, local_id: str) -> bool:
        """Take the row for this process; False when another live process follows it."""
        with self._guard:
            if local_id in self._held:
                return True
        handle = self.claims.try_acquire(local_id)
        if handle is None:
            return False
        with self._guard:
            self._held[local_id] = handle
            self._mine.add(local_id)  # followed here: its end wakes the scheduler
        return True

    def release(self, local_id: str) -> None:
        with self._guard:
            handle = self._held.pop(local_id, None)
        if handle is not None:
            handle.release()

    def release_all(self) -> None:
        from qwenvid.tasks.submit import abandon

        for identity, attempt in list(self._attempts.items()):
            abandon(self.session, attempt, "the plan stopped before a slot freed; never submitted")
            self._attempts.pop(identity, None)
        for local_id in list(self._held):
            self.release(local_id)

    def row(self, local_id: str) -> LedgerRow | None:
        return self.ledger.get(local_id)

    def estimate(self, local_id: str, default: float | None) -> Estimate:
        """Expected render time: the caller's figure, else this user's history, else the request's prior.

        The same `estimate_for` a single run uses (qwenvid/tasks/estimates.py), so a plan's steps are followed
        the way `qwenvid t2v` follows its task: warm from the ledger, else cold from the prior.
        """
        from qwenvid.requests.priors import Estimate, cold_prior

        if default is not None:  # told by the caller (the in-process emulator's known timing)
            return Estimate.known(default)
        row = self.ledger.get(local_id)
        if row is None:
            return cold_prior(None).estimate()
        return self.session.estimate(row)

    def poll(self, local_id: str) -> TaskInfo:
        """One status query, recorded as a single run's are (ledger, learned render times, the row's slot)."""
        row = self.ledger.get(local_id)
        if row is None or not row.task_id:
            raise errors.QwenvidError(f"{local_id} has no task id to follow.")
        return self.session.poll_once(row)

    def download(self, local_id: str, target: Path) -> tuple[Path, str, float | None]:
        """Download a succeeded task's video to `target` (verified), with its sidecar."""
        from qwenvid.tasks.outcomes import RunOptions
        from qwenvid.tasks.reporting import NullReporter

        set_aside(target)
        # The library's fetch takes the row's claim for the download itself (one download per task), and
        # continues a .part an interrupted download of this task left.
        self.release(local_id)
        result = self.session.fetch(local_id, RunOptions(output=target), NullReporter())
        if result.video_path is None or result.sha256 is None:
            raise errors.DownloadError(f"{local_id}: the download left no file.")
        path = Path(result.video_path)
        if path != target and not target.exists():
            # Saved next to the step's name (something else held it meanwhile): give the step its name.
            os.replace(path, target)
            sidecar = path.with_name(path.name + ".json")
            if sidecar.exists():
                os.replace(sidecar, target.with_name(target.name + ".json"))
            self.ledger.set_download(local_id, target, result.size or target.stat().st_size, result.sha256)
            path = target
        row = self.ledger.get(local_id)
        return path, result.sha256, row.billed_seconds if row else None

    def reconcile(self, local_id: str) -> Found | None:
        """Resolve an outcome-unknown submit through the account task list; never resubmits."""
        from qwenvid.tasks.reconcile import reconcile as reconcile_rows
        from qwenvid.tasks.reporting import NullReporter

        self.release(local_id)  # reconciliation claims the row itself
        row = self.ledger.get(local_id)
        if row is None:
            return None
        if row.local_state == "submitting":
            if not self.claim(local_id):
                return Found("unknown", local_id=local_id)  # a live process is submitting it right now
            self.release(local_id)
        reconcile_rows(self.session, NullReporter(), rows=[row], wait=False)
        row = self.ledger.get(local_id)
        if row is None:
            return None
        if row.task_id:
            return Found("in_flight", local_id=row.id, task_id=row.task_id)
        if row.local_state == "rejected":
            return None  # proven never created: safe to submit
        return Found("unknown", local_id=row.id)


def _ended(row: LedgerRow) -> bool:
    """The task is over for scheduling: terminal (a SUCCEEDED one may still await its download)."""
    return row.remote_status in ("SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN")


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _age(text: str | None, now: datetime) -> timedelta:
    return now - _parse(text) if text else timedelta.max


def set_aside(target: Path) -> Path | None:
    """Move an older output out of the way (into `superseded/`), never deleting a paid video."""
    if not target.exists():
        return None
    folder = target.parent / "superseded"
    folder.mkdir(exist_ok=True)
    digest = file_sha256(target)[:8] if target.is_file() else str(int(time.time()))
    moved = folder / f"{target.stem}.{digest}{target.suffix}"
    if moved.exists():
        target.unlink()
        return moved
    os.replace(target, moved)
    for sidecar in (target.with_name(target.name + ".json"), target.with_suffix(".json")):
        if sidecar.exists():
            os.replace(sidecar, folder / f"{moved.name}.json")
            break
    return moved


def place_copy(source: Path, target: Path) -> None:
    """Put an earlier, verified output at the step's name (hard link when possible, else a copy)."""
    if target.exists() and file_sha256(target) == file_sha256(source):
        return
    set_aside(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        temp = target.with_name(f".{target.name}.copy")
        shutil.copyfile(source, temp)
        os.replace(temp, target)


class ManifestFinder:
    """Media steps are reused when the previous manifest recorded the same identity and the file still matches."""

    def __init__(self, folder: Path, generations: Any) -> None:
        self.previous = read_manifest(folder)
        self.folder = folder
        self.generations = generations

    def generation(self, identity: str) -> Found | None:
        found: Found | None = self.generations.generation(identity)
        return found

    def media(self, step_id: str, identity: str) -> Found | None:
        record: Mapping[str, Any] | None = self.previous.get(step_id)
        if not record or record.get("identity") != identity or not record.get("file") or not record.get("sha256"):
            return None
        path = Path(str(record["file"]))
        if path.is_file() and file_sha256(path) == record["sha256"]:
            return Found("done", path, str(record["sha256"]))
        return None


class ClipOps:
    """The media steps, done by qwenvid.media.clips (PyAV): every output written whole or not at all."""

    def run(self, op: str, params: Mapping[str, Any], target: Path) -> None:
        from qwenvid.media import clips

        set_aside(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        if op == "trim":
            clips.trim(
                params["input"],
                target,
                start=float(params.get("start") or 0),
                end=params.get("end"),
                duration=params.get("duration"),
            )
        elif op == "tail":
            clips.tail(params["input"], target, seconds=float(params["seconds"]))
        elif op == "frame":
            at = params.get("at", "last")
            clips.extract_frame(
                params["input"], target, at="first" if at == "first" else "last" if at == "last" else float(at)
            )
        elif op == "concat":
            clips.concat(list(params["inputs"]), target, crossfade=float(params.get("crossfade") or 0))
        elif op == "add_audio":
            clips.add_audio(
                params["video"],
                params["audio"],
                target,
                mode="mix" if params.get("mix") else "replace",
                fit=params.get("fit") or "pad",
                volume=float(params["volume"]) if params.get("volume") is not None else 1.0,
            )
        else:  # validation refuses unknown ops; this is a bug if reached
            raise errors.QwenvidError(f"unknown media op {op!r}")
