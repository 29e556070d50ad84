"""What each MCP tool does, on the library alone (no MCP SDK here): plain calls returning JSON-ready dicts.

The server (`qwenvid.mcp.server`) runs these on worker threads and turns their progress into MCP
notifications. A generation goes through `Session.plan` / `Session.run`, the same path the CLI's one-liners
take; what this module adds is the agent's guarantees around it: the same request returns the task already
made for it (a plan step's identity, `qwenvid.plans.identity`), an outcome-unknown submit is never sent
again from here, and results carry local files and the service's own link only while it is valid.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qwenvid import errors
from qwenvid.mcp.arguments import build_request
from qwenvid.mcp.progress import ProgressReporter

if TYPE_CHECKING:
    from qwenvid.plans.manifest import Manifest
    from qwenvid.store.ledger import LedgerRow
    from qwenvid.tasks.session import Plan, Session

# A task the service no longer lists (it keeps task ids for 24 h) cannot be "the existing task" any more.
SERVICE_MEMORY = timedelta(hours=24)
# A result link with less than this left is not handed on: the agent would pass on a dying link.
LINK_MARGIN = timedelta(minutes=10)
NOT_DONE = "The task is still running on the service; call wait_for_task with this task_id to keep waiting."


@dataclass
class Generation:
    """A validated generation, its identity, and what the ledger already holds for it."""

    plan: Plan
    identity: str
    output: Path | None
    existing: LedgerRow | None = None
    existing_kind: str | None = None  # done | succeeded | in_flight | unknown


@dataclass
class PlanRun:
    """A plan this server is running on a thread of its own."""

    name: str
    folder: Path
    thread: threading.Thread
    records: dict[str, Any] = field(default_factory=dict)
    manifest: Manifest | None = None
    error: str | None = None


class Service:
    """The tools' operations over one Session (one ledger, one client) for the server's lifetime."""

    def __init__(self, session: Session, *, emulated: bool = False, estimate: float | None = None) -> None:
        self.session = session
        self.emulated = emulated
        self.estimate = estimate  # the in-process emulator's known render time, for the progress bar
        self.plans: dict[str, PlanRun] = {}
        self._plans_lock = threading.Lock()

    # -- models and cost ---------------------------------------------------------------------------

    def list_models(self, mode: str | None = None) -> dict[str, Any]:
        from qwenvid.catalogue import DEFAULT_MODELS, MODELS

        return {
            "models": [
                {
                    "id": spec.id,
                    "mode": spec.mode,
                    "default": DEFAULT_MODELS.get(spec.mode) == spec.id,
                    "sizes": list(spec.sizes),
                    "resolutions": list(spec.resolutions),
                    "ratios": list(spec.ratios),
                    "durations": spec.durations.describe(),
                    "audio": spec.audio,
                    "soundtrack": spec.audio_url,
                    "multi_shot": spec.shot_type,
                    "prompt_max": spec.prompt_max,
                }
                for spec in MODELS
                if mode is None or spec.mode == mode
            ],
            "note": "Unknown model ids are sent with a warning; ids close to a known one are refused.",
        }

    def estimate_cost(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        plan = self.session.plan(build_request(arguments))
        return {**self._cost(plan), "warnings": plan.warnings}

    def _cost(self, plan: Plan) -> dict[str, Any]:
        cost = plan.cost.to_json()
        cost["free"] = self.emulated
        if self.emulated:
            cost["note"] = "Free: the local emulator bills nothing; a real run bills these seconds."
        return cost

    # -- generation --------------------------------------------------------------------------------

    def prepare(self, arguments: Mapping[str, Any]) -> Generation:
        """Validate (local files included), name its identity, and find the ledger's earlier attempt."""
        from qwenvid.plans.identity import file_sha256, generation_identity
        from qwenvid.plans.model import Step

        plan = self.session.plan(build_request(arguments))
        take = arguments.get("take")
        if take is not None and take < 1:
            raise errors.ValidationError(f"take {take} is not a take number (1 or more).")
        hashes = {item.path: file_sha256(item.path) for item in plan.local_inputs}
        # The identity a plan step with this request would have; a take is a deliberate extra variant.
        step = Step(id="mcp", kind="generate", fields={}, mode=plan.mode, variant=take)
        identity = generation_identity(step, plan.request, hashes)
        output = Path(arguments["output"]).expanduser() if arguments.get("output") else None
        return Generation(plan, identity, output)

    def check_ready(self, generation: Generation) -> None:
        """A missing key or an unusable output is said before anyone is asked to pay (as the CLI does)."""
        from qwenvid.config import require_key
        from qwenvid.wire.download import check_output_target

        require_key(self.session.settings)
        check_output_target(generation.output or self.session.settings.output_dir, overwrite=False)

    def find_earlier(self, generation: Generation) -> bool:
        """Whether the ledger already holds this request (done, ready, running, or of unknown outcome)."""
        generation.existing_kind, generation.existing = self._earlier(generation.identity)
        return generation.existing is not None

    def _earlier(self, identity: str) -> tuple[str | None, LedgerRow | None]:
        now = datetime.now(UTC)
        for row in self.session.ledger.by_fingerprint(identity):
            if not self._here(row):
                continue
            if row.local_state in ("outcome_unknown", "submitting"):
                return "unknown", row
            if row.local_state != "submitted" or not row.task_id:
                continue  # refused or never sent: nothing exists, nothing was billed
            if row.remote_status == "SUCCEEDED":
                if row.video_path and Path(row.video_path).is_file():
                    return "done", row
                if _link_valid(row, now):
                    return "succeeded", row
            elif row.remote_status in (None, "PENDING", "RUNNING") and _age(row.created_at, now) < SERVICE_MEMORY:
                return "in_flight", row
        return None, None

    def existing_result(self, generation: Generation) -> dict[str, Any]:
        """The earlier attempt at the same request, said as a result; nothing is submitted."""
        row = generation.existing
        assert row is not None
        kind = generation.existing_kind
        if kind == "unknown":
            return self._unknown(row)
        result = self.row_result(row)
        result["reused"] = True
        result["note"] = {
            "done": "This request was already made; its video is on disk. Nothing was submitted or paid again.",
            "succeeded": "This request was already made and its video is ready; call fetch_video to save it. "
            "Nothing was submitted or paid again.",
            "in_flight": "This request is already running; nothing was submitted or paid again. " + NOT_DONE,
        }[kind or "in_flight"]
        return result

    def _unknown(self, row: LedgerRow) -> dict[str, Any]:
        """An earlier submit got no answer: look for its task (no wait), never send it again from here."""
        from qwenvid.tasks.reconcile import reconcile
        from qwenvid.tasks.session import NullReporter

        found = ""
        try:
            outcomes = reconcile(self.session, NullReporter(), rows=[row], wait=False)
            found = "; ".join(item.note or (item.error.message if item.error else "") for item in outcomes)
        except errors.QwenvidError as exc:
            found = exc.message
        fresh = self.session.ledger.get(row.id) or row
        result = self.row_result(fresh)
        result["reused"] = True
        if fresh.task_id:
            result["note"] = f"An earlier submit of this request was found on the service ({found}). " + NOT_DONE
            return result
        result["outcome_unknown"] = True
        result["note"] = (
            "An earlier submit of this same request got no answer, so a task may exist and may be billed. "
            "It is never submitted again from here. It is resolved by looking it up in the account task list: "
            "call task_status with local_id later, or a person runs `qwenvid resume`. "
            + (f"Looked just now: {found}" if found else "")
        ).strip()
        return result

    def run(self, generation: Generation, wait_seconds: float, reporter: ProgressReporter) -> dict[str, Any]:
        """Submit through the library's run path and wait up to `wait_seconds`; say how to go on if not done."""
        import sys

        from qwenvid.requests.outbound import outbound_lines, request_outbound
        from qwenvid.tasks.session import RunOptions

        for line in outbound_lines(request_outbound(generation.plan.local_inputs)):
            sys.stderr.write(line + "\n")  # what leaves the machine, before the first upload (the server's log)
        options = RunOptions(
            output=generation.output,
            timeout=wait_seconds,
            estimate=self.estimate,
            fingerprint=generation.identity,
        )
        try:
            result = self.session.run(generation.plan, options, reporter)
        except errors.StillRunning as exc:
            return self._still_running(exc.task_id or reporter.task_id)
        except errors.TaskFailed as exc:
            return self._ended(exc)
        data = self.result_json(result.to_json())
        data["cost"] = self._cost(generation.plan)
        return data

    def _still_running(self, task_id: str | None) -> dict[str, Any]:
        row = self.session.ledger.get(task_id) if task_id else None
        data: dict[str, Any] = self.row_result(row) if row else {"task_id": task_id, "status": "PENDING"}
        data["done"] = False
        data["next"] = NOT_DONE
        return data

    # -- following -----------------------------------------------------------------------------------

    def task_status(self, ref: str) -> dict[str, Any]:
        row = self.session.ledger.get(ref)
        if row is not None and row.task_id is None and row.local_state in ("outcome_unknown", "submitting"):
            return self._unknown(row)
        report = self.session.status(ref)
        if report.row is not None:
            return self.row_result(report.row)
        remote = report.to_json()["remote"] or {}
        return self.result_json({**remote, "done": remote.get("status") in ("SUCCEEDED", "FAILED", "CANCELED")})

    def wait(self, ref: str, timeout: float, reporter: ProgressReporter, output: str | None = None) -> dict[str, Any]:
        """Follow a task up to `timeout` seconds and download its video when it succeeds."""
        from qwenvid.tasks.session import RunOptions

        row = self.session.ledger.get(ref)
        if row is not None and row.task_id is None and row.local_state in ("outcome_unknown", "submitting"):
            return self._unknown(row)
        options = RunOptions(output=Path(output) if output else None, timeout=timeout, estimate=self.estimate)
        try:
            result = self.session.follow(ref, options, reporter)
        except errors.StillRunning as exc:
            return self._still_running(exc.task_id or ref)
        except errors.TaskFailed as exc:
            return self._ended(exc)
        return self.result_json(result.to_json())

    def _ended(self, exc: errors.TaskFailed) -> dict[str, Any]:
        """A task that ended without a video is a result (done, with its reason), not a failed call."""
        row = self.session.ledger.get(exc.task_id) if exc.task_id else None
        data: dict[str, Any] = self.row_result(row) if row else {"task_id": exc.task_id, "status": exc.status}
        data.update(
            status=exc.status,
            done=True,
            exit_code=int(exc.exit_code),
            error={"code": exc.code, "message": exc.message, "hint": exc.hint},
            note="The task ended without a video. Failed tasks are not billed; change the request (for "
            "moderation: the prompt or inputs) before making it again.",
        )
        return data

    def fetch(self, ref: str, output: str | None) -> dict[str, Any]:
        from qwenvid.tasks.session import NullReporter, RunOptions

        options = RunOptions(output=Path(output) if output else None, timeout=120.0)
        result = self.session.fetch(ref, options, NullReporter())
        return self.result_json(result.to_json())

    def cancel(self, ref: str) -> dict[str, Any]:
        request_id = self.session.cancel(ref)
        row = self.session.ledger.get(ref)
        data = self.row_result(row) if row else {"task_id": ref, "status": "CANCELED"}
        data["request_id"] = request_id
        data["note"] = "Canceled while queued: nothing is billed for it."
        return data

    def list_tasks(self, limit: int, status: str | None, remote: bool) -> dict[str, Any]:
        if remote:
            page = self.session.list_remote(page_size=min(max(limit, 1), 100))
            return {"remote": True, "tasks": [_remote_task(task) for task in page.items], "total": page.total}
        rows = self.session.list_local(status=status, limit=limit)
        return {"remote": False, "tasks": [self.row_result(row) for row in rows]}

    # -- results -------------------------------------------------------------------------------------

    def row_result(self, row: LedgerRow) -> dict[str, Any]:
        """What an agent needs of a ledger row: ids, state, the local file, the link while valid, the cost."""
        done = row.remote_status in ("SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN") or row.local_state == "rejected"
        data: dict[str, Any] = {
            "local_id": row.id,
            "task_id": row.task_id,
            "status": row.remote_status or row.local_state,
            "local_state": row.local_state,
            "mode": row.mode,
            "model": row.model,
            "video_path": row.video_path,
            "video_url": row.video_url,
            "video_url_expires_at": row.video_url_expires_at,
            "sha256": row.video_sha256,
            "billed_seconds": row.billed_seconds,
            "billable_seconds_estimate": row.billable_seconds_estimate,
            "error": {"code": row.error_code, "message": row.error_message} if row.error_message else None,
            "done": done and (row.video_path is not None or row.remote_status != "SUCCEEDED"),
        }
        return self.result_json(data, expires_at=row.video_url_expires_at)

    def result_json(self, data: dict[str, Any], *, expires_at: str | None = None) -> dict[str, Any]:
        """A result as an agent sees it: the service's link only while valid (pass it on, don't re-upload)."""
        data = dict(data)
        if data.get("video_url"):
            if expires_at is None and data.get("local_id"):
                row = self.session.ledger.get(str(data["local_id"]))
                expires_at = row.video_url_expires_at if row else None
            if expires_at is not None and _parse(expires_at) - LINK_MARGIN <= datetime.now(UTC):
                data["video_url"] = None  # expired or about to: the local file is what is left
            elif expires_at is not None:
                data["video_url_expires_at"] = expires_at
        if "done" not in data:
            data["done"] = data.get("status") in ("SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN")
        return data

    def _here(self, row: LedgerRow) -> bool:
        return (row.base_url or "").rstrip("/") == self.session.settings.base_url.rstrip("/")

    # -- plans ---------------------------------------------------------------------------------------

    def prepare_plan(self, path: str, output: str | None) -> tuple[Any, Any, Any, Path]:
        from qwenvid.plans.execute import check_plan_folder, prepare
        from qwenvid.plans.parse import load_plan

        spec = load_plan(Path(path))
        output_dir = Path(output) if output else self.session.settings.output_dir
        prepared, backend, finder = prepare(self.session, spec, output_dir, emulated=self.emulated)
        check_plan_folder(output_dir, spec.name)
        return prepared, backend, finder, output_dir

    def plan_uploads(self, prepared: Any, *, allow_outside: bool) -> list[dict[str, Any]]:
        """The local files the plan would send (listed on stderr first); files outside the plan's folder
        refused unless `allow_outside` (OutsidePlanFolder, exit 2: the agent must ask its user)."""
        import sys

        from qwenvid.plans.outbound import OutsidePlanFolder, outside, plan_outbound
        from qwenvid.requests.outbound import outbound_lines

        items = plan_outbound(prepared)
        far = outside(items, prepared.spec.base_dir)
        for line in outbound_lines(items):
            sys.stderr.write(line + "\n")  # the server's log; stdout is the protocol
        if far and not allow_outside:
            raise OutsidePlanFolder(far, prepared.spec.base_dir)
        return [
            {"path": i.path, "size": i.size, "use": i.use, "via": i.via, "outside_plan_folder": i in far} for i in items
        ]

    def start_plan(
        self, prepared: Any, backend: Any, finder: Any, on_change: Callable[[Any, int, int], None]
    ) -> PlanRun:
        """Run the plan on a thread of its own (it outlives this call); plan_status reads it."""
        from qwenvid.plans.execute import execute
        from qwenvid.plans.scheduler import SchedulerOptions

        name = prepared.spec.name
        with self._plans_lock:
            running = self.plans.get(name)
            if running is not None and running.thread.is_alive():
                return running
            holder: list[PlanRun] = []

            def work() -> None:
                run = holder[0]

                def changed(record: Any) -> None:
                    run.records[record.id] = record
                    finished = sum(1 for rec in run.records.values() if rec.finished)
                    on_change(record, finished, len(prepared.steps))

                try:
                    run.manifest, _stats = execute(
                        self.session, prepared, backend, finder,
                        options=SchedulerOptions(estimate=self.estimate), on_change=changed,
                    )
                except errors.QwenvidError as exc:
                    run.error = exc.message + (f" {exc.hint}" if exc.hint else "")
                except Exception as exc:  # noqa: BLE001 - said in plan_status rather than lost on a thread
                    run.error = errors.scrub(f"unexpected {type(exc).__name__}: {exc}")

            thread = threading.Thread(target=work, name=f"plan-{name}", daemon=True)
            run = PlanRun(name, prepared.folder, thread)
            holder.append(run)
            self.plans[name] = run
            thread.start()
            return run

    def plan_status(self, name_or_path: str) -> dict[str, Any]:
        """Per-step progress: this server's running plan, else the manifest a run left in the plan's folder."""
        from qwenvid.plans.manifest import read_manifest

        run = self.plans.get(name_or_path) or self.plans.get(Path(name_or_path).stem)
        if run is not None:
            steps = {sid: _record_json(rec) for sid, rec in run.records.items()}
            if run.manifest is not None:
                steps = {sid: _record_json(rec) for sid, rec in run.manifest.steps.items()}
            return _plan_summary(run.name, run.folder, steps, running=run.thread.is_alive(), error=run.error)
        folder = Path(name_or_path)
        if not (folder / "manifest.json").is_file():
            folder = self.session.settings.output_dir / Path(name_or_path).stem
        if not (folder / "manifest.json").is_file():
            raise errors.ValidationError(
                f"No plan {name_or_path!r}: this server is not running it and there is no {folder}/manifest.json.",
                hint="Give the plan's name, its file, or its output folder; start it with run_plan.",
            )
        steps = {sid: _manifest_step(data) for sid, data in read_manifest(folder).items()}
        return _plan_summary(folder.name, folder, steps, running=False, error=None)

    # -- media ---------------------------------------------------------------------------------------

    def media_info(self, path: str) -> dict[str, Any]:
        from dataclasses import asdict

        from qwenvid.media.clips.info import media_info

        return asdict(media_info(path))

    def media_frame(self, video: str, output: str, at: str, overwrite: bool) -> dict[str, Any]:
        from qwenvid.media.clips.frames import extract_frame, parse_at

        try:
            where = parse_at(at)
        except ValueError:
            raise errors.ValidationError(f"at {at!r} is not first, last or a number of seconds.") from None
        return extract_frame(video, output, at=where, overwrite=overwrite).to_dict()

    def media_concat(self, clips: list[str], output: str, crossfade: float, overwrite: bool) -> dict[str, Any]:
        from qwenvid.media.clips.concat import concat

        return concat(clips, output, crossfade=crossfade, overwrite=overwrite).to_dict()

    def media_add_audio(
        self, video: str, audio: str, output: str, mode: str, fit: str, overwrite: bool
    ) -> dict[str, Any]:
        from qwenvid.media.clips.audio import add_audio

        return add_audio(video, audio, output, mode=mode, fit=fit, overwrite=overwrite).to_dict()  # type: ignore[arg-type]


def _record_json(record: Any) -> dict[str, Any]:
    return {
        "status": record.status,
        "kind": record.kind,
        "task_id": record.task_id,
        "file": record.file,
        "reused": record.reused,
        "billable_seconds": record.billable_seconds,
        "error": record.error,
    }


def _manifest_step(data: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("status", "kind", "task_id", "file", "reused", "billable_seconds", "error")
    return {key: data.get(key) for key in keys}


def _plan_summary(
    name: str, folder: Path, steps: dict[str, dict[str, Any]], *, running: bool, error: str | None
) -> dict[str, Any]:
    from qwenvid.plans.manifest import FINISHED_STATES

    finished = sum(1 for step in steps.values() if step["status"] in FINISHED_STATES)
    return {
        "plan": name,
        "folder": str(folder),
        "manifest": str(folder / "manifest.json"),
        "running": running,
        "steps": steps,
        "finished_steps": finished,
        "total_steps": len(steps),
        "done": not running and bool(steps) and finished == len(steps),
        "error": error,
        "next": "Call plan_status again to follow it." if running else None,
    }


def _remote_task(task: Any) -> dict[str, Any]:
    return {"task_id": task.task_id, "status": task.status, "model": task.model_name}


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _age(created_at: str | None, now: datetime) -> timedelta:
    return now - _parse(created_at) if created_at else timedelta(0)


def _link_valid(row: LedgerRow, now: datetime) -> bool:
    return bool(row.video_url) and (
        row.video_url_expires_at is None or _parse(row.video_url_expires_at) - LINK_MARGIN > now
    )
