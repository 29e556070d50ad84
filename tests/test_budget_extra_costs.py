"""Non-video costs (storyboard, narration, portraits, face checks) count toward the amount budgets: what they
spent is counted by the user's rates, and a priced call is checked and held before it is made (exit 11)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.config.budget import Budget
from qwenvid.emulator.config import ManualClock
from qwenvid.errors import BudgetExceeded
from qwenvid.store import story_costs
from qwenvid.store.budget import Need
from qwenvid.store.face_checks import FaceChecks, FaceVerdict
from qwenvid.store.ledger import Ledger
from qwenvid.store.seam import Store
from qwenvid.store.sqlite_store import SqliteStore, open_store
from tests.support.cli_emulator import use_emulator
from tests.support.emulator import EmulatorFactory

PRICES = {"currency": "USD", "qwen3-tts-flash": 1000.0, "wan2.2-s2v-detect": 0.5, "default": 0.01}
PARAGRAPH = (
    "Mira rows out at dawn. Tom waits on the pier. The fog rolls in over the harbour. Mira and Tom meet at last."
)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    folder = tmp_path / "state"
    if request.param == "postgresql":  # a real server (tests/support/postgres.py), a fresh database per test
        from qwenvid.config.ledger_url import marker_for
        from qwenvid.store.pg_store import PgStore

        folder.mkdir(parents=True, exist_ok=True)
        opened: Store = PgStore(marker_for(folder, request.getfixturevalue("pg_url")))
    else:
        opened = SqliteStore.of(Ledger(folder / "ledger.sqlite3"))
    yield opened
    opened.close()


def spend_narration(path: Path, characters: float, service: str = "https://dashscope-intl.aliyuncs.com/api/v1") -> None:
    identity = story_costs.identity_of("narration", "qwen3-tts-flash", {"text": str(characters)})
    record = story_costs.CostRecord("narration", identity, service, "qwen3-tts-flash", characters, "characters", {})
    story_costs.record(path, record)


def test_non_video_costs_already_spent_count_toward_the_amount_budgets(store: Store) -> None:
    path = Path(store.path)  # type: ignore[attr-defined]
    spend_narration(path, 20_000)  # 2 x 1000 USD per 10,000 characters
    FaceChecks(path).put("sha256:x", "https://dashscope-intl.aliyuncs.com/api/v1", "wan2.2-s2v-detect",
                         FaceVerdict(check_pass=True))  # fmt: skip
    spend_narration(path, 50_000, service="emulator")  # the emulator's: not counted without count_emulator
    book = store.budget_book()
    budget = Budget(daily_amount=2001.0, monthly_amount=5000.0, daily_seconds=0.0)
    standing = book.standing(budget, PRICES)
    assert [(key, used.amount) for key, _, used in standing.lines if key.endswith("_amount")] == [
        ("daily_amount", 2000.5),
        ("monthly_amount", 2000.5),
    ]
    with pytest.raises(BudgetExceeded) as refused:  # a narration of 20 characters (2 USD) would cross it
        book.reserve(budget, PRICES, Need(0.0, 2.0, video=False))
    assert "budget.daily_amount = 2,001.00 USD: 2,000.50 USD already used today (UTC)" in str(refused.value)
    # A non-video call counts toward amounts only: the exhausted daily_seconds does not stop it.
    token = book.reserve(budget, PRICES, Need(0.0, 0.5, video=False))
    with pytest.raises(BudgetExceeded):  # and the hold counts until it is released
        book.reserve(budget, PRICES, Need(0.0, 0.25, video=False))
    book.release(token)
    book.reserve(budget, PRICES, Need(0.0, 0.25, video=False))
    counting = Budget(daily_amount=1e9, count_emulator=True)
    assert book.standing(counting, PRICES).lines[0][2].amount == pytest.approx(2000.5 + 5000.0 + 0.25)


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def logged_cli(
    make_emulator: EmulatorFactory, manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch,
    isolated_env: Path,
) -> list[str]:  # fmt: skip
    """The CLI on an emulator that logs every request it answers; cast members Mira and Tom with their images."""
    lines: list[str] = []
    emulator = make_emulator(clock=manual_clock, request_log=lines.append)
    use_emulator(emulator, manual_clock, canary_key, monkeypatch)
    for name, colour in (("Mira", (200, 60, 40)), ("Tom", (40, 80, 200))):
        Image.new("RGB", (480, 640), colour).save(f"{name}.png")
        assert run("cast", "add", name, "--image", f"{name}.png").exit_code == 0
    return lines


def story() -> Result:
    return run("story", PARAGRAPH, "--cast", "Mira", "--cast", "Tom", "--resolution", "480P", "--yes")


def configure(home: Path, daily_amount: float) -> None:
    prices = "\n".join(f'"{k}" = {v}' if k != "currency" else f'currency = "{v}"' for k, v in PRICES.items())
    text = f"[prices]\n{prices}\n\n[budget]\ndaily_amount = {daily_amount}\ncount_emulator = true\n"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text, encoding="utf-8")


def test_a_narration_that_would_cross_the_daily_amount_is_refused_before_the_speech_call(
    logged_cli: list[str], isolated_env: Path
) -> None:
    configure(isolated_env, daily_amount=5.0)  # the 104 characters of narration cost 10.4 USD
    result = story()
    assert result.exit_code == 11, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "would cross budget.daily_amount = 5.00 USD" in errors[0], result.stderr
    assert "Traceback" not in result.stderr
    assert any("/chat/completions" in line for line in logged_cli)  # the storyboard was written (unpriced)
    speech = [line for line in logged_cli if "multimodal-generation/generation " in line]
    assert speech == []  # no line was spoken: the narration is held whole before the first
    assert story_costs.count(isolated_env / "ledger.sqlite3", "narration") == 0


def test_spend_and_the_budget_agree_on_what_non_video_calls_cost(logged_cli: list[str], isolated_env: Path) -> None:
    configure(isolated_env, daily_amount=100.0)
    result = story()
    assert result.exit_code == 0, result.stderr
    assert any("multimodal-generation/generation " in line for line in logged_cli)
    report = json.loads(run("--json", "spend").stdout)
    section = report["emulator"]
    narration = [cost for cost in section["other_costs"] if cost["kind"] == "narration"]
    assert narration[0]["amount"] == pytest.approx(10.4)
    shown = run("spend").stdout
    assert "narration (qwen3-tts-flash): 104 characters in 4 call(s); 10.40 USD at your prices" in shown
    spent = (section["total"]["amount"] or 0.0) + sum(cost["amount"] or 0.0 for cost in section["other_costs"])
    store = open_store(isolated_env / "ledger.sqlite3")
    try:
        used = store.budget_book().standing(Budget(daily_amount=100.0, count_emulator=True), PRICES).lines[0][2]
    finally:
        store.close()
    assert used.amount == pytest.approx(spent)
    assert used.amount > 10.4  # the videos count too, at the default rate


def test_a_face_check_that_would_cross_the_daily_amount_is_refused_before_it_is_made(
    logged_cli: list[str], isolated_env: Path, tmp_path: Path
) -> None:
    from PIL import ImageDraw

    from tests.support.media_files import make_wav

    configure(isolated_env, daily_amount=0.4)  # one face check costs 0.5 USD
    photo = tmp_path / "speaker.png"
    image = Image.new("RGB", (480, 640), "wheat")
    ImageDraw.Draw(image).ellipse((120, 160, 360, 480), fill="sienna")
    image.save(photo)
    speech = make_wav(tmp_path / "hello.wav", 2.0)
    result = run("s2v", "--image", str(photo), "--speech", str(speech), "--yes")
    assert result.exit_code == 11, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "(0.50 USD) would cross budget.daily_amount = 0.40 USD" in errors[0], errors
    assert [line for line in logged_cli if "face-detect" in line or "video-synthesis" in line] == []
    with sqlite3.connect(isolated_env / "ledger.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM face_checks").fetchone() == (0,)  # nothing checked or billed
        assert conn.execute("SELECT count(*) FROM tasks").fetchone() == (0,)


@pytest.mark.parametrize(
    ("price", "args", "path"),
    [
        ('"wan2.6-t2i" = 0.5', ("cast", "add", "Ada", "--describe", "a grey-haired lighthouse keeper"),
         "multimodal-generation/generation "),
        ('"qwen3.7-flash" = 1000000.0', ("story", PARAGRAPH, "--resolution", "480P", "--yes"), "chat/completions"),
    ],
    ids=["portrait", "storyboard"],
)  # fmt: skip
def test_a_portrait_or_storyboard_that_would_cross_the_daily_amount_is_not_asked_for(
    make_emulator: EmulatorFactory, manual_clock: ManualClock, canary_key: str, monkeypatch: pytest.MonkeyPatch,
    isolated_env: Path, price: str, args: tuple[str, ...], path: str,
) -> None:  # fmt: skip
    lines: list[str] = []
    use_emulator(make_emulator(clock=manual_clock, request_log=lines.append), manual_clock, canary_key, monkeypatch)
    isolated_env.mkdir(parents=True, exist_ok=True)
    (isolated_env / "config.toml").write_text(
        f'[prices]\ncurrency = "USD"\n{price}\n\n[budget]\ndaily_amount = 0.4\ncount_emulator = true\n'
    )  # a portrait is 0.5 USD; the storyboard's prompt alone is well over 0.4 USD at 1 USD a token
    result = run(*args)
    assert result.exit_code == 11, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "would cross budget.daily_amount = 0.40 USD" in errors[0], result.stderr
    assert [line for line in lines if path in line] == []
    assert story_costs.count(isolated_env / "ledger.sqlite3") == 0
