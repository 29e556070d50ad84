"""The start-up turnstile: generation commands take turns to start up, never wait long, never hold others long."""

from __future__ import annotations

import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from qwenvid.emulator.config import ManualClock
from qwenvid.store import startup_gate


@pytest.fixture
def gate_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    for key in [key for key in os.environ if key.startswith("_QWENVID_COMPLETE")]:
        monkeypatch.delenv(key)
    yield tmp_path
    startup_gate.leave()


@pytest.mark.parametrize(
    ("argv", "turn"),
    [
        (["t2v", "A fox"], True),
        (["--quiet", "i2v", "--image", "a.png"], True),
        (["--base-url", "http://127.0.0.1:8765/api/v1", "generate", "req.json"], True),
        (["--region", "t2v", "models"], False),  # "t2v" is the value of --region here
        (["t2v", "--help"], False),
        (["-h"], False),
        (["models"], False),
        (["run", "plan.toml"], False),
        (["status", "t2v"], False),
        ([], False),
    ],
)
def test_only_generation_commands_take_a_turn(gate_home: Path, argv: list[str], turn: bool) -> None:
    assert startup_gate.wants_turn(argv) is turn


def test_the_gate_knows_the_clis_generation_commands_and_value_options() -> None:
    from qwenvid import cli

    generating = {name for name, (module, _) in cli.COMMANDS.items() if module == "generate"}
    assert generating == startup_gate.GENERATION_COMMANDS
    assert cli._VALUE_OPTIONS == startup_gate.VALUE_OPTIONS


def _hold(folder: Path, index: int) -> int:
    fd = os.open(folder / f"ticket-{index}", os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    return fd


def test_a_run_takes_a_free_ticket_at_once_and_hands_it_back(gate_home: Path) -> None:
    clock = ManualClock(start=0.0)
    assert startup_gate.enter(tickets=2, clock=clock, sleep=clock.sleep) and startup_gate.holding()
    assert clock.time() == 0.0  # nobody else starting: no wait
    folder = startup_gate.gate_folder()
    assert folder is not None and stat.S_IMODE(folder.stat().st_mode) == 0o700
    startup_gate.leave()
    assert not startup_gate.holding()
    os.close(_hold(folder, 0))  # the ticket is free again for the next run
    startup_gate.leave()  # idempotent


def test_a_run_waits_while_every_ticket_is_taken_and_goes_when_one_frees(gate_home: Path) -> None:
    folder = startup_gate.gate_folder()
    assert folder is not None
    held = [_hold(folder, 0), _hold(folder, 1)]  # two other runs are starting up
    clock = ManualClock(start=0.0)

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        if clock.time() >= 0.3 and held:
            os.close(held.pop())  # one of them got ready to submit

    assert startup_gate.enter(tickets=2, clock=clock, sleep=sleep)
    assert 0.3 <= clock.time() < 0.35  # it went as soon as the ticket was free
    for fd in held:
        os.close(fd)


def test_a_run_never_waits_longer_than_wait_max(gate_home: Path) -> None:
    folder = startup_gate.gate_folder()
    assert folder is not None
    held = _hold(folder, 0)
    clock = ManualClock(start=0.0)
    try:
        assert not startup_gate.enter(tickets=1, clock=clock, sleep=clock.sleep)
        assert startup_gate.WAIT_MAX <= clock.time() < startup_gate.WAIT_MAX + 0.1
        assert not startup_gate.holding()  # it runs on without a ticket
    finally:
        os.close(held)


def test_a_folder_others_can_enter_is_not_used(gate_home: Path) -> None:
    folder = gate_home / f"qwenvid-{os.getuid()}-start"
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)
    assert startup_gate.gate_folder() is None
    assert not startup_gate.enter(tickets=1)  # no turnstile rather than an unsafe one


def test_a_ticket_is_handed_back_after_hold_max_even_if_the_run_never_says_so(gate_home: Path) -> None:
    assert startup_gate.enter(tickets=1)
    turn = startup_gate._turns[0]
    startup_gate._expire(turn - 1)  # an earlier ticket's timer: not this one
    assert startup_gate.holding()
    startup_gate._expire(turn)  # this ticket's own timer (threading.Timer after HOLD_MAX)
    assert not startup_gate.holding()


def test_as_many_tickets_as_usable_cores(gate_home: Path) -> None:
    cores = startup_gate.usable_cores()
    assert 1 <= cores <= (os.cpu_count() or 1)
    folder = startup_gate.gate_folder()
    assert folder is not None
    held = [_hold(folder, index) for index in range(cores)]  # every core busy starting a run
    clock = ManualClock(start=0.0)
    try:
        assert not startup_gate.enter(clock=clock, sleep=clock.sleep)  # waited the whole WAIT_MAX
    finally:
        for fd in held:
            os.close(fd)
    assert startup_gate.enter(clock=clock, sleep=clock.sleep)


def test_where_flock_does_not_work_there_is_no_turnstile_and_no_wait(
    gate_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_locks(fd: int, operation: int) -> None:
        raise OSError(37, "No locks available")  # ENOLCK, as on some network file systems

    monkeypatch.setattr(fcntl, "flock", no_locks)
    clock = ManualClock(start=0.0)
    assert not startup_gate.enter(tickets=2, clock=clock, sleep=clock.sleep)
    assert clock.time() == 0.0
