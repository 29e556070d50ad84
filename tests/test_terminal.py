"""The one-liner and the wizard in a real pseudo-terminal: what a person sees before answering, and what each
answer does (yes submits, no and Ctrl-C submit nothing). The emulator runs in this process, reached by base URL,
so the CLI treats it as the paid service and asks."""

from __future__ import annotations

from pathlib import Path

import pytest

from qwenvid.catalogue import models_for_mode
from qwenvid.emulator.server import EmulatorThread
from tests.support.terminal import Terminal

pytestmark = pytest.mark.slow

KEY = "sk-terminal-0123456789abcdef"
SMALL = ("--model", "wan2.1-t2v-turbo", "--size", "832*480")
ENTER, DOWN = "\r", "\x1b[B"
# A loopback base URL bills nothing (the ledger says free), so the question asks without "pay" (issue 17).
QUESTION = "Submit 5 s (free: a local emulator at 127.0.0.1)? [y/N]"
TURBO = [spec.id for spec in models_for_mode("t2v")].index("wan2.1-t2v-turbo")


@pytest.fixture
def paid(live_emulator: EmulatorThread, isolated_env: Path) -> dict[str, str]:
    """Environment for a run the CLI must ask about: a base URL (not --emulator) and a 3 s threshold."""
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "config.toml").write_text("confirm_above_seconds = 3\n", encoding="utf-8")
    return {
        "QWENVID_HOME": str(isolated_env),
        "QWEN_BASE_URL": live_emulator.base_url,
        "DASHSCOPE_API_KEY": KEY,
    }


def one_liner(env: dict[str, str], *extra: str) -> Terminal:
    return Terminal("t2v", "A long kitten", *SMALL, *extra, env=env, cwd=Path.cwd())


def test_the_question_is_visible_before_the_answer_and_yes_submits(
    paid: dict[str, str], live_emulator: EmulatorThread
) -> None:
    term = one_liner(paid, "--detach")
    shown = term.wait_for(QUESTION)
    # The notice and the question are on the screen, not hidden under a live spinner.
    assert "Cost: 5 s billable at 480P on wan2.1-t2v-turbo. Official prices: https://" in shown
    assert "Asked because it is above your 3 s threshold." in shown
    assert "Nothing is billed here (free: a local emulator at 127.0.0.1)" in shown
    assert "pay" not in shown.lower()  # no word of paying for a run that bills nothing
    assert "Validating" not in shown
    assert live_emulator.state.task_count() == 0
    term.type("y" + ENTER)
    assert term.finish() == 5  # detached after the submit
    assert live_emulator.state.task_count() == 1


def test_no_at_the_question_is_plain_and_submits_nothing(paid: dict[str, str], live_emulator: EmulatorThread) -> None:
    term = one_liner(paid)
    term.wait_for(QUESTION)
    term.type(ENTER)  # the default above the threshold is no
    assert term.finish() == 1
    assert "Nothing was submitted" in term.screen()
    assert "Error" not in term.screen() and "Aborted" not in term.screen()
    assert live_emulator.state.task_count() == 0


def test_no_with_json_is_still_the_one_object(paid: dict[str, str], live_emulator: EmulatorThread) -> None:
    import json

    term = one_liner(paid, "--json")
    term.wait_for(QUESTION)
    term.type("n" + ENTER)
    assert term.finish() == 1
    text = term.raw.decode()
    data = json.loads(text[text.index("{") : text.rindex("}") + 1])  # stdout and stderr share the terminal
    assert data["exit_code"] == 1 and data["error"]["type"] == "Declined" and data["task_id"] is None


def test_ctrl_c_at_the_question_exits_130_with_nothing_submitted(
    paid: dict[str, str], live_emulator: EmulatorThread
) -> None:
    term = one_liner(paid)
    term.wait_for(QUESTION)
    term.interrupt()
    assert term.finish() == 130
    assert "nothing was submitted" in term.screen().lower()
    assert live_emulator.state.task_count() == 0


def last_question_row(term: Terminal) -> int:
    rows = [index for index, line in enumerate(term.screen().splitlines()) if line.startswith("?")]
    return rows[-1] if rows else -1


def settle(term: Terminal) -> None:
    """Read until the screen has not changed for a moment (a question is fully drawn)."""
    before = None
    while before != term.screen():
        before = term.screen()
        term.pump(0.3)


def answer_with_defaults_until(term: Terminal, marker: str, steps: int = 15) -> str:
    """Press Enter at each question (its default) until `marker` is on the screen; never type ahead."""
    for _ in range(steps):
        settle(term)
        if marker in term.screen():
            return term.screen()
        row = last_question_row(term)
        term.type(ENTER)
        for _ in range(100):  # the next question is drawn below the answered one
            term.pump(0.1)
            if last_question_row(term) > row:
                break
    return term.wait_for(marker, timeout=5)


def start_wizard(env: dict[str, str], *args: str) -> Terminal:
    term = Terminal(*args, "wizard", env=env, cwd=Path.cwd())
    term.wait_for("What do you want to make?")
    term.type(ENTER)  # t2v
    term.wait_for("Which model?")
    term.type(DOWN * TURBO + ENTER)  # a small, quick render
    term.wait_for("Prompt")
    term.type("A long kitten" + ENTER)
    return term


def test_wizard_above_the_threshold_asks_with_no_as_default(
    paid: dict[str, str], live_emulator: EmulatorThread
) -> None:
    term = start_wizard(paid)
    shown = answer_with_defaults_until(term, "Submit it?")
    assert "Cost: " in shown and "Official prices: https://" in shown
    assert "above your confirmation threshold of 3 s" in shown
    assert "(y/N)" in shown  # the same default as the one-liner's question
    term.type(ENTER)
    assert term.finish() == 1
    assert "Nothing was submitted" in term.screen()
    assert live_emulator.state.task_count() == 0


def test_wizard_ctrl_c_at_the_question_exits_130(paid: dict[str, str], live_emulator: EmulatorThread) -> None:
    term = start_wizard(paid)
    answer_with_defaults_until(term, "Submit it?")
    term.interrupt()
    code = term.finish()
    assert code == 130, term.screen()
    assert "nothing was submitted" in term.screen().lower()
    assert live_emulator.state.task_count() == 0


def test_wizard_under_emulator_runs_to_a_video_after_yes(isolated_env: Path) -> None:
    term = start_wizard({"QWENVID_HOME": str(isolated_env)}, "--emulator")
    shown = answer_with_defaults_until(term, "Submit it?")
    assert "Cost: free (local emulator)" in shown and "(Y/n)" in shown
    term.type(ENTER)
    assert term.finish(timeout=120) == 0
    assert "The same as a command: qwenvid --emulator t2v" in term.screen()
    assert ".mp4" in term.screen()


def test_wizard_refuses_an_existing_output_file_before_the_first_question(paid: dict[str, str]) -> None:
    Path("taken.mp4").write_bytes(b"old")
    term = Terminal("wizard", "-o", "taken.mp4", env=paid, cwd=Path.cwd())
    assert term.finish() == 2
    assert "taken.mp4 already exists" in term.screen() and "What do you want to make?" not in term.screen()
    assert Path("taken.mp4").read_bytes() == b"old"


def test_wizard_completes_file_paths_with_tab(paid: dict[str, str]) -> None:
    from tests.support.media_files import make_image

    make_image(Path("kitten-on-a-roof.png"), 640, 480)
    term = Terminal("wizard", env=paid, cwd=Path.cwd())
    term.wait_for("What do you want to make?")
    term.type(DOWN + ENTER)  # i2v
    term.wait_for("Which model?")
    term.type(ENTER)
    term.wait_for("First frame image")
    term.type("kit")
    term.wait_for("kitten-on-a-roof.png")  # the matching files are offered as you type
    term.type("\t")  # Tab takes the completion, as in a shell
    term.wait_for("Tab completes) kitten-on-a-roof.png")
    term.type(ENTER)
    term.wait_for("Prompt")  # the completed path was accepted
    term.interrupt()
    assert term.finish() == 130


def test_a_one_liner_with_lines_printed_mid_display_leaves_no_stale_progress_line(
    paid: dict[str, str], live_emulator: EmulatorThread
) -> None:
    """Issue 17: --debug logs a line per request while the live line is drawn; each goes above it, and only
    the finished line stays (no frame of "Queued …"/"Rendering …" in the scrollback)."""
    term = Terminal("--debug", "t2v", "A short kitten", *SMALL, "--yes", env=paid, cwd=Path.cwd(),
                    rows=12)  # fmt: skip
    assert term.finish(120) == 0, term.text
    lines = term.scrollback()
    assert "\x1b[?25l" in term.output  # the live line was started (Rich hides the cursor under it)
    assert sum("debug: httpx" in line for line in lines) >= 3, "\n".join(lines)
    phases = ("⠋ Validating", "Submitting", "Queued ", "Rendering ", "Downloading", "queued on the service")
    stale = [line for line in lines if any(phase in line for phase in phases)]
    assert not stale, "\n".join(lines)
