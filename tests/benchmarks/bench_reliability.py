"""Benchmark: fault and kill scenarios against `qwenvid emulator`, then count what went wrong.

Run it as a script (pytest does not collect `bench_*.py`):

    python tests/benchmarks/bench_reliability.py [--kills 30] [--reruns 5] [--skews 6] [--backoff-kills 5]
        [--only-backoff] [--seed N]

Everything is real: a `qwenvid emulator` process, `qwenvid` console-script processes, one ledger file.

1. Randomized SIGKILLs (default 30), each in a phase picked at random: upload (an i2v with a local image
   and a slow upload), submit (the task is created and its answer is late), poll (the task is queued or
   rendering), download (a slow result). The phase is seen in the ledger; the kill follows 0-0.4 s later.
   Then one `qwenvid resume`, as a user would after crashes.
2. Every submit-side fault, one run each: throttle, 5xx, 503, drop before/after create, 5xx after
   create, a slow submit, a refused submit, a task that fails.
3. Three live runs with two concurrent `qwenvid resume`s next to them.
4. `--pay-again`-less reruns (default 5): a submit whose answer is lost (drop after create), then the same
   command again at once with `--yes` while its task still renders: it must not pay twice (exit 7).
5. Clock skew (default 6 runs), on an emulator with a manual clock in this process (still over loopback):
   the client's clock moved by a random amount (between 12 min slow and 8 min fast, with the test-only
   QWENVID_TEST_CLOCK_SKEW), a lost answer, 11 minutes pass on both clocks, the same command again.
   Counted: tasks created vs intended, duplicates, and rows wrongly closed as "not created".
6. Kills during a 429 back-off (default 5): the submit is answered 429 with a Retry-After of 4 s, the
   run is SIGKILLed while it waits to try again (no request in flight), then at once `resume` and the
   same command again. Counted per command: the row's state after the kill, whether `resume` said
   "Nothing to resume", the rerun's exit code and the tasks made (goal: exactly 1, rerun exit 0).
   `--only-backoff` runs this scenario alone (then 7).
7. `resume` until everything is finished. A submit that created nothing can only be proven so after its
   10-minute reconciliation window: rows still waiting for their window get their submit time moved back
   11 minutes in the ledger (time travel instead of waiting). A task wrongly called "not created" that
   way would show up as "lost" below.

Printed: tasks created vs intended, duplicates (more than one task for one command), lost (a task the
service made that no ledger row owns, or a finished one never downloaded), duplicate downloads (more
than one video file for one task), orphan .part files, rows left unresolved. Goal: 0 in every column
but the first. Exit status 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

KEY = "sk-bench-reliability-0123456789"
MODEL = "wan2.1-t2v-turbo"
SUBMIT_FAULTS = (
    "throttle:submit:2",
    "5xx:submit:1",
    "503:submit:1",
    "drop:submit:1",
    "drop-before-create:1",
    "drop-after-create:1",
    "5xx-after-create:1",
    "slow:submit:0.5",
    "reject:DataInspectionFailed:1",
    "fail:InternalError.Algo:1",
)


def qwenvid() -> list[str]:
    beside = Path(sys.executable).with_name("qwenvid")
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "qwenvid"]


class Bench:
    def __init__(self, work: Path, base_url: str, rng: random.Random) -> None:
        self.work, self.base_url, self.rng = work, base_url, rng
        self.env = {**os.environ, "QWEN_BASE_URL": base_url, "DASHSCOPE_API_KEY": KEY,
                    "QWENVID_HOME": str(work / "home"), "NO_COLOR": "1"}
        self.intended = 0
        self.prompts: list[str] = []
        self.image = work / "frame.png"
        from PIL import Image

        Image.new("RGB", (832, 480), "teal").save(self.image)

    # -- plumbing

    def control(self, path: str, payload: Any = None) -> Any:
        root = self.base_url.removesuffix("/api/v1")
        if payload is None:
            return httpx.get(root + path, timeout=10).json()
        return httpx.post(root + path, json=payload, timeout=10).json()

    def arm(self, *specs: str) -> None:
        self.control("/__emulator/faults", {"clear": True, "faults": list(specs)})

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([*qwenvid(), *args], cwd=self.work, env=self.env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def generation(self, kind: str = "t2v", *extra: str) -> subprocess.Popen[str]:
        self.intended += 1
        prompt = f"Bench run {self.intended} {self.rng.randrange(10**6)}"
        self.prompts.append(prompt)
        if kind == "i2v":
            return self.start("i2v", prompt, "--image", str(self.image), "--model", "wan2.2-i2v-flash", *extra)
        return self.start("t2v", prompt, "--model", MODEL, "--size", "832*480", *extra)

    def rerun_without_pay_again(self) -> int:
        """A lost answer, then the same command again at once with --yes (no --pay-again); its exit code."""
        self.arm("drop-after-create:1")
        first = self.generation("t2v", "--yes")
        first.communicate(timeout=120)
        again = self.start("t2v", self.prompts[-1], "--model", MODEL, "--size", "832*480", "--yes")
        again.communicate(timeout=120)
        return again.returncode

    def rows(self) -> list[dict[str, Any]]:
        path = self.work / "home" / "ledger.sqlite3"
        if not path.exists():
            return []
        try:
            with sqlite3.connect(path, timeout=15) as conn:
                conn.row_factory = sqlite3.Row
                return [dict(r) for r in conn.execute("SELECT * FROM tasks ORDER BY created_at")]
        except sqlite3.OperationalError:
            return []

    def row_of(self, prompt: str) -> dict[str, Any] | None:
        return next((r for r in self.rows() if r["prompt"] == prompt), None)

    # -- scenarios

    def kill_in(self, phase: str) -> bool:
        """Start a run, wait for `phase` in its ledger row, SIGKILL it a random moment later."""
        faults = {"upload": ["slow:upload:2"], "submit": ["late-after-create:2"], "poll": [],
                  "download": ["slow:download:2"]}[phase]
        self.arm(*faults)
        process = self.generation("i2v" if phase == "upload" else "t2v")
        prompt = self.prompts[-1]

        def reached() -> bool:
            row = self.row_of(prompt)
            if row is None:
                return False
            if phase == "upload":
                return bool(row["local_state"] == "created")
            if phase == "submit":
                return bool(row["local_state"] == "submitting")
            if phase == "poll":
                return row["task_id"] is not None and row["remote_status"] in (None, "PENDING", "RUNNING")
            return row["remote_status"] == "SUCCEEDED" and row["video_path"] is None

        deadline = time.monotonic() + 30
        hit = False
        while process.poll() is None and time.monotonic() < deadline:
            if reached():
                hit = True
                break
            time.sleep(0.02)
        time.sleep(self.rng.uniform(0, 0.4))
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)
        return hit

    def kill_in_backoff(self, retry_after: float = 4.0) -> dict[str, Any]:
        """A 429 on the submit (Retry-After `retry_after`), SIGKILL while the client backs off, then at once
        `resume` and the same command again (what a user does); what each said and the tasks of that command."""
        self.arm(f"throttle:submit:1:{retry_after:g}")
        process = self.generation("t2v", "--yes")
        prompt = self.prompts[-1]
        deadline = time.monotonic() + 30
        hit = False
        while process.poll() is None and time.monotonic() < deadline:
            if not self.control("/__emulator/faults")["faults"]:  # the 429 went out: the client is backing off
                hit = True
                break
            time.sleep(0.02)
        time.sleep(self.rng.uniform(0.2, retry_after * 0.6))  # well inside the back-off
        killed = process.poll() is None
        if killed:
            process.kill()
        process.communicate(timeout=30)
        row = self.row_of(prompt)
        after_kill = row["local_state"] if row else None
        self.arm()
        resume = self.start("resume")
        _, resume_err = resume.communicate(timeout=120)
        again = self.start("t2v", prompt, "--model", MODEL, "--size", "832*480", "--yes")
        again.communicate(timeout=120)
        return {"hit": hit and killed, "row after kill": after_kill,
                "resume said nothing to resume": "Nothing to resume" in resume_err,
                "rerun exit": again.returncode, "tasks": self.prompt_counts().get(prompt, 0)}

    def submit_fault(self, spec: str) -> int:
        self.arm(spec)
        process = self.generation()
        process.communicate(timeout=120)
        return process.returncode

    def live_runs_with_two_resumes(self) -> None:
        self.arm()
        live = [self.generation() for _ in range(3)]
        deadline = time.monotonic() + 30
        while sum(1 for p in self.prompts[-3:] if self.row_of(p)) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        resumes = [self.start("resume", "--json") for _ in range(2)]
        for process in live + resumes:
            process.communicate(timeout=180)

    def finish(self) -> None:
        """resume until done; rows waiting only for their reconciliation window travel back in time."""
        self.arm()
        for _ in range(4):
            self.wait_terminal()
            self.start("resume", "--json").communicate(timeout=300)
            waiting = [r for r in self.rows() if r["local_state"] in ("outcome_unknown", "submitting", "created")
                       and r["error_code"] != "OutcomeUnknown.PossiblyBilled"]
            if not waiting:
                return
            with sqlite3.connect(self.work / "home" / "ledger.sqlite3", timeout=15) as conn:
                for row in waiting:
                    moved = {name: _earlier(row[name]) for name in ("created_at", "submitting_at", "updated_at")}
                    conn.execute("UPDATE tasks SET created_at = ?, submitting_at = ?, updated_at = ? WHERE id = ?",
                                 (moved["created_at"], moved["submitting_at"], moved["updated_at"], row["id"]))

    def wait_terminal(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            counts = self.control("/__emulator/state")["tasks_by_status"]
            if not set(counts) - {"SUCCEEDED", "FAILED", "CANCELED", "UNKNOWN"}:
                return
            time.sleep(0.1)

    # -- figures

    def prompt_counts(self) -> Counter[str]:
        """How many tasks the service made per command (its prompt)."""
        owned = {r["task_id"]: r for r in self.rows() if r["task_id"]}
        per_prompt: Counter[str] = Counter()
        with httpx.Client(base_url=self.base_url, headers={"Authorization": f"Bearer {KEY}"}, timeout=10) as client:
            for task in self.control("/__emulator/state")["tasks"]:
                info = client.get(f"/tasks/{task['task_id']}").json()["output"]
                prompt = info.get("orig_prompt")
                if prompt is None and task["task_id"] in owned:
                    prompt = owned[task["task_id"]]["prompt"]
                per_prompt[prompt or task["task_id"]] += 1
        return per_prompt

    def figures(self) -> dict[str, int]:
        state = self.control("/__emulator/state")
        tasks = state["tasks"]
        rows = self.rows()
        owned = {r["task_id"]: r for r in rows if r["task_id"]}
        per_prompt = self.prompt_counts()
        lost = sum(1 for t in tasks if t["task_id"] not in owned)
        lost += sum(1 for t in tasks if t["status"] == "SUCCEEDED" and t["task_id"] in owned
                    and not owned[t["task_id"]]["video_path"])
        files = list((self.work / "output").rglob("*.mp4"))
        by_task: Counter[str] = Counter()
        for path in files:
            sidecar = path.with_name(path.name + ".json")
            task_id = json.loads(sidecar.read_text())["task_id"] if sidecar.exists() else path.name
            by_task[task_id] += 1
        unresolved = sum(
            1 for r in rows
            if r["local_state"] in ("created", "submitting", "outcome_unknown")
            or (r["local_state"] == "submitted" and (r["remote_status"] in (None, "PENDING", "RUNNING")
                                                     or (r["remote_status"] == "SUCCEEDED" and not r["video_path"])))
        )
        return {
            "intended": self.intended,
            "created": len(tasks),
            "duplicates": sum(n - 1 for n in per_prompt.values() if n > 1),
            "lost": lost,
            "duplicate downloads": sum(n - 1 for n in by_task.values() if n > 1),
            "orphan .part": len(list((self.work / "output").rglob("*.part"))),
            "unresolved rows": unresolved,
        }


def clock_skew_runs(work: Path, rng: random.Random, count: int) -> dict[str, Any]:
    """Lost answers with the client's clock off, then the same command after 11 minutes on both clocks."""
    from qwenvid.emulator.config import EmulatorConfig, ManualClock
    from qwenvid.emulator.server import EmulatorThread
    from qwenvid.timestamps import CLOCK_SKEW_ENV

    clock = ManualClock()
    home = work / "skew-home"
    skews: list[float] = []
    codes: Counter[int] = Counter()
    with EmulatorThread(EmulatorConfig(pending_seconds=0.1, running_seconds=0.3, limits=False), clock=clock) as emu:
        passed = 0.0
        for n in range(count):
            skew = rng.uniform(-12 * 60, 8 * 60)
            skews.append(skew)
            env = {**os.environ, "QWEN_BASE_URL": emu.base_url, "DASHSCOPE_API_KEY": KEY,
                   "QWENVID_HOME": str(home), "NO_COLOR": "1"}
            args = [*qwenvid(), "t2v", f"Skewed run {n} {rng.randrange(10**6)}", "--model", MODEL, "--size", "832*480",
                    "--yes"]
            emu.arm("drop-after-create:1")
            env[CLOCK_SKEW_ENV] = str(passed + skew)
            subprocess.run(args, cwd=work, env=env, capture_output=True, timeout=120)
            clock.advance(11 * 60)
            passed += 11 * 60
            emu.state.wait_rendered()
            env[CLOCK_SKEW_ENV] = str(passed + skew)
            codes[subprocess.run(args, cwd=work, env=env, capture_output=True, timeout=120).returncode] += 1
        created = len(emu.state.tasks)
    with sqlite3.connect(home / "ledger.sqlite3") as conn:
        wrongly = conn.execute("SELECT count(*) FROM tasks WHERE error_code = 'NotCreated'").fetchone()[0]
    return {"intended": count, "created": created, "duplicates": max(0, created - count),
            "wrongly not created": int(wrongly), "rerun exit codes": dict(codes),
            "skews (min)": [round(s / 60, 1) for s in skews]}


def _earlier(text: str | None) -> str | None:
    if text is None:
        return None
    return (datetime.fromisoformat(text) - timedelta(minutes=11)).isoformat(timespec="microseconds")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--reruns", type=int, default=5, help="--pay-again-less reruns after a lost answer")
    parser.add_argument("--skews", type=int, default=6, help="lost answers with the client's clock off")
    parser.add_argument("--backoff-kills", type=int, default=5, help="SIGKILLs during a 429 back-off")
    parser.add_argument("--only-backoff", action="store_true", help="run the back-off kills alone (quick)")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    rng = random.Random(seed)
    began = time.monotonic()
    emulator = subprocess.Popen(
        [*qwenvid(), "emulator", "--port", "0", "--pending-seconds", "0.3", "--running-seconds", "1",
         "--no-limits"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        assert emulator.stdout is not None
        base_url = emulator.stdout.readline().strip()
        with tempfile.TemporaryDirectory(prefix="qwenvid-bench-") as folder:
            bench = Bench(Path(folder), base_url, rng)
            backoff = [bench.kill_in_backoff() for _ in range(args.backoff_kills)]
            phases: list[str] = []
            hits: Counter[str] = Counter()
            codes: dict[str, int] = {}
            reruns: Counter[int] = Counter()
            skewed: dict[str, Any] | None = None
            if not args.only_backoff:
                phases = [rng.choice(("upload", "submit", "poll", "download")) for _ in range(args.kills)]
                hits = Counter(phase for phase in phases if bench.kill_in(phase))
                # What a user does after crashes. It also frees the running slots the killed runs' tasks held
                # (submit pacing keeps them until a poll sees those tasks end), or the next runs would wait.
                bench.arm()
                bench.start("resume", "--json").communicate(timeout=300)
                codes = {spec: bench.submit_fault(spec) for spec in SUBMIT_FAULTS}
                bench.live_runs_with_two_resumes()
                reruns = Counter(bench.rerun_without_pay_again() for _ in range(args.reruns))
                skewed = clock_skew_runs(Path(folder), rng, args.skews)
            bench.finish()
            figures = bench.figures()
    finally:
        emulator.send_signal(signal.SIGINT)
        try:
            emulator.wait(timeout=10)
        except subprocess.TimeoutExpired:
            emulator.kill()
    print(f"seed {seed}")
    if not args.only_backoff:
        print(f"{args.kills} kills, landed in: {dict(hits)} (of {dict(Counter(phases))})")
        print("submit faults -> exit codes: " + ", ".join(f"{spec}={code}" for spec, code in codes.items()))
    print(f"tasks created vs intended: {figures['created']} / {figures['intended']}")
    for name in ("duplicates", "lost", "duplicate downloads", "orphan .part", "unresolved rows"):
        print(f"{name + ':':<22}{figures[name]}")
    if backoff:
        print(f"kills during a 429 back-off: {len(backoff)}, inside the back-off: {sum(b['hit'] for b in backoff)}; "
              f"row after the kill: {dict(Counter(str(b['row after kill']) for b in backoff))}; "
              f"resume at once said 'Nothing to resume': {sum(b['resume said nothing to resume'] for b in backoff)}; "
              f"rerun exit codes: {dict(Counter(b['rerun exit'] for b in backoff))}; "
              f"tasks per command right after: {dict(Counter(b['tasks'] for b in backoff))} (goal: all 1)")
    if not args.only_backoff:
        print(f"--pay-again-less reruns -> exit codes: {dict(reruns)} (7: refused to pay twice)")
        print("clock skew: " + ", ".join(f"{name} {value}" for name, value in (skewed or {}).items()))
    print(f"wall time: {time.monotonic() - began:.0f} s (2 shared cores: timings are noisy)")
    goals = ("duplicates", "lost", "duplicate downloads", "orphan .part", "unresolved rows")
    skew_ok = skewed is None or (skewed["duplicates"] == 0 and skewed["wrongly not created"] == 0)
    backoff_ok = all(b["tasks"] == 1 and b["rerun exit"] == 0 for b in backoff)
    return 0 if all(figures[name] == 0 for name in goals) and skew_ok and backoff_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
