"""The small tools: `cost` (and the cost line of every --dry-run), `tasks forget|prune` (money rows stay),
`open` (its launcher replaced), the emulator as the default and its precedence, and config's checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import _session, app
from qwenvid.config import load_settings
from qwenvid.emulator.server import EmulatorThread
from qwenvid.store.ledger import Ledger

SMALL = ("--model", "wan2.1-t2v-turbo", "--size", "832*480")


def run(*args: str, **kwargs: object) -> Result:
    return CliRunner().invoke(app, list(args), **kwargs)  # type: ignore[arg-type]


def prices(rate: str = "0.1") -> None:
    assert run("config", "set", "prices.currency", "USD").exit_code == 0
    assert run("config", "set", "prices.default", rate).exit_code == 0


# -- cost ------------------------------------------------------------------------------------------


def test_cost_of_a_command_without_running_it(cli: EmulatorThread) -> None:
    prices("0.5")
    result = run("cost", "t2v", "A kitten", "--model", "wan2.6-t2v", "--duration", "10", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["cost"]["billable_seconds"] == 10 and data["cost"]["tier"] == "1080P"
    assert data["amount"] == 5.0 and data["currency"] == "USD"
    plain = run("cost", "t2v", "A kitten", "--model", "wan2.6-t2v", "--size", "1280*720")
    assert plain.exit_code == 0, plain.stderr
    assert plain.stdout.startswith("5 s billable at 720P on wan2.6-t2v, 2.50 USD (your price table)")
    assert cli.state.task_count() == 0  # nothing was sent
    wrong = run("cost", "t2v", "A kitten", "--model", "wan2.6-t2v", "--resolution", "720P")
    assert wrong.exit_code == 2 and "--size" in wrong.stderr  # the costed command's own error and exit code


def test_cost_of_a_plan_and_a_refused_command(cli: EmulatorThread, tmp_path: Path) -> None:
    prices()
    plan = tmp_path / "p.toml"
    plan.write_text('[defaults]\nmodel = "wan2.1-t2v-turbo"\nsize = "832*480"\n[steps.a]\nprompt = "x"\n'
                    '[steps.b]\nprompt = "y"\n', encoding="utf-8")  # fmt: skip
    data = json.loads(run("--json", "cost", "run", str(plan)).stdout)
    assert data["cost"]["billable_seconds"] == 10 and data["amount"] == 1.0
    refused = run("cost", "tasks")
    assert refused.exit_code == 2 and "cannot be costed" in refused.stderr
    assert cli.state.task_count() == 0


def test_every_dry_run_has_a_cost_line_with_the_price_table(tmp_path: Path) -> None:
    prices("0.25")
    one = run("--base-url", "https://dashscope-intl.aliyuncs.com/api/v1", "t2v", "x", *SMALL, "--dry-run")
    assert one.exit_code == 0 and json.loads(one.stdout)["method"] == "POST"
    assert "Cost: 5 s billable at 480P on wan2.1-t2v-turbo" in one.stderr and "1.25 USD" in one.stderr
    plan = tmp_path / "p.txt"
    plan.write_text("one\ntwo\n", encoding="utf-8")
    many = run("--base-url", "https://dashscope-intl.aliyuncs.com/api/v1", "run", str(plan), *SMALL, "--dry-run")
    assert many.exit_code == 0, many.stderr
    assert "10 s billable" in many.stderr and "Estimated amount: 2.50 USD (your price table)" in many.stderr
    assert "t2v" in many.stderr  # the table's "what" of a batch's t2v rows is not empty
    assert json.loads(many.stdout)["amount"] == 2.5


# -- tasks forget | prune ---------------------------------------------------------------------------


def _rows(ledger: Ledger) -> dict[str, str]:
    """One row per kind; returns name -> local id."""
    body = {"model": "wan2.6-t2v", "input": {"prompt": "x"}}
    made: dict[str, str] = {}

    def new(name: str, origin: str = "local", base_url: str = "https://dashscope-intl.aliyuncs.com/api/v1") -> str:
        row = ledger.create(mode="t2v", model="wan2.6-t2v", endpoint="/x", request_json={**body, "n": name},
                            origin=origin, base_url=base_url)  # fmt: skip
        made[name] = row.id
        return row.id

    billed = new("billed")
    ledger.mark_submitting(billed)
    ledger.mark_submitted(billed, "id-billed")
    ledger.set_result(billed, video_url="https://x/v.mp4", usage={"duration": 5})
    failed = new("failed")
    ledger.mark_submitting(failed)
    ledger.mark_submitted(failed, "id-failed")
    ledger.update_remote(failed, "FAILED", error_code="InternalError")
    flying = new("in_flight")
    ledger.mark_submitting(flying)
    ledger.mark_submitted(flying, "id-flying", status="RUNNING")
    unknown = new("unknown")
    ledger.mark_submitting(unknown)
    ledger.mark_outcome_unknown(unknown, "read timeout")
    ledger.mark_submitting(new("submitting"))
    ledger.mark_rejected(new("rejected"), "InvalidParameter", "bad size")
    emulated = new("emulated", origin="emulated", base_url="http://127.0.0.1:1/api/v1")
    ledger.mark_submitting(emulated)
    ledger.mark_submitted(emulated, "id-emulated")
    ledger.set_result(emulated, video_url="http://127.0.0.1:1/v.mp4", usage={"duration": 5})
    return made


def test_prune_keeps_money_and_unfinished_rows() -> None:
    settings = load_settings()
    with Ledger(settings.ledger_path) as ledger:
        made = _rows(ledger)
        assert ledger.get(made["billed"]).billed_seconds == 5  # type: ignore[union-attr]
    before = json.loads(run("tasks", "--json").stdout)["billed_seconds"]
    preview = run("tasks", "prune", "--dry-run")
    assert preview.exit_code == 0 and sorted(preview.stdout.split()) == sorted(
        ["id-failed", made["rejected"], "id-emulated"]
    )
    without_terminal = run("tasks", "prune")
    assert without_terminal.exit_code == 7  # no terminal to ask on, and no --yes
    pruned = run("tasks", "prune", "--yes", "--json")
    assert pruned.exit_code == 0 and json.loads(pruned.stdout)["removed"] == 3
    with Ledger(settings.ledger_path) as ledger:
        left = {row.id for row in ledger.list()}
    assert left == {made[name] for name in ("billed", "in_flight", "unknown", "submitting")}
    assert json.loads(run("tasks", "--json").stdout)["billed_seconds"] == before == 5  # what spend reads


@pytest.mark.parametrize(
    ("name", "why"),
    [("billed", "billed seconds"), ("in_flight", "in flight"), ("unknown", "outcome is unknown"),
     ("submitting", "being submitted")],
)  # fmt: skip
def test_forget_refuses_what_matters(name: str, why: str) -> None:
    with Ledger(load_settings().ledger_path) as ledger:
        made = _rows(ledger)
    result = run("tasks", "forget", made[name])
    assert result.exit_code == 2 and why in result.stderr, result.stderr
    assert run("tasks", "forget", made["failed"]).exit_code == 0
    with Ledger(load_settings().ledger_path) as ledger:
        assert ledger.get(made["failed"]) is None and ledger.get(made[name]) is not None


# -- open -------------------------------------------------------------------------------------------


def test_open_plays_or_reveals_with_the_launcher_replaced(cli: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> None:
    launched: list[list[str]] = []
    monkeypatch.setitem(_session.INJECTED, "launcher", launched.append)
    made = run("t2v", "A kitten", *SMALL)
    video = Path(made.stdout.strip())
    task = json.loads(run("tasks", "--json").stdout)["tasks"][0]["task_id"]
    played = run("open", task)
    assert played.exit_code == 0 and played.stdout.strip() == str(video)
    assert launched[-1][-1] == str(video.resolve())
    assert run("open", task, "--reveal").exit_code == 0 and launched[-1][-1] == str(video.parent.resolve())
    video.unlink()
    gone = run("open", task)
    assert gone.exit_code == 1 and f"qwenvid fetch {task}" in gone.stderr and len(launched) == 2
    assert run("open", "no-such-task").exit_code == 2


# -- the emulator as the default ----------------------------------------------------------------------


def dry(*args: str, env: dict[str, str] | None = None) -> tuple[Result, str]:
    result = run(*args, "t2v", "A kitten", *SMALL, "--dry-run", "--json", env=env)
    assert result.exit_code == 0, result.stderr
    return result, json.loads(result.stdout)["url"]


def test_the_emulator_default_and_its_precedence(emulator: EmulatorThread) -> None:
    on = {"QWENVID_EMULATOR": "1"}
    result, url = dry(env=on)
    assert url.startswith("http://127.0.0.1:") and "chosen by QWENVID_EMULATOR env" in result.stderr
    result, url = dry("--no-emulator", env=on)  # off for one command
    assert url.startswith("https://dashscope-intl.aliyuncs.com") and "free" not in result.stderr
    result, url = dry(env={**on, "QWEN_BASE_URL": emulator.base_url})  # an explicit base URL wins
    assert url.startswith(emulator.base_url)
    result, url = dry("--base-url", "https://dashscope.aliyuncs.com/api/v1", env=on)
    assert url.startswith("https://dashscope.aliyuncs.com")
    assert run("config", "set", "emulator", "true").exit_code == 0
    result, url = dry()
    assert url.startswith("http://127.0.0.1:") and "chosen by config file (emulator = true)" in result.stderr
    result, url = dry(env={"QWENVID_EMULATOR": "0"})  # the environment beats the config file
    assert url.startswith("https://dashscope-intl.aliyuncs.com")
    result, url = dry("--emulator", env={"QWENVID_EMULATOR": "0"})  # and the flag beats both
    assert url.startswith("http://127.0.0.1:") and "chosen by" not in result.stderr
    bad = run("t2v", "x", "--dry-run", env={"QWENVID_EMULATOR": "maybe"})
    assert bad.exit_code == 2 and "QWENVID_EMULATOR" in bad.stderr


def test_a_real_run_on_the_default_emulator_needs_no_key() -> None:
    result = run("t2v", "A kitten", *SMALL, env={"QWENVID_EMULATOR": "1"})
    assert result.exit_code == 0, result.stderr
    assert Path(result.stdout.strip()).is_file()
    assert run("--no-emulator", "t2v", "A kitten", *SMALL, env={"QWENVID_EMULATOR": "1"}).exit_code == 3


# -- config ---------------------------------------------------------------------------------------------


def test_config_checks_ranges_and_suggests_keys() -> None:
    too_fast = run("config", "set", "query_qps", "50")
    assert too_fast.exit_code == 2 and "at most 20" in too_fast.stderr
    assert run("config", "set", "query_qps", "20").exit_code == 0
    typo = run("config", "set", "regoin", "cn-beijing")
    assert typo.exit_code == 2 and "did you mean 'region'?" in typo.stderr
    assert "did you mean 'prices.default'" in run("config", "get", "prices.defualt").stderr
    prices("0.5")
    assert run("config", "get", "prices.default").stdout.strip() == "0.5"
    assert run("config", "set", "prices.wan2.6-t2v.720P", "0.1").exit_code == 0
    shown = run("config", "get", "prices").stdout
    assert "wan2.6-t2v = { 720P = 0.1 }" in shown and "{'" not in shown


# -- the output name template ------------------------------------------------------------------------


def test_the_output_name_template_names_the_video(cli: EmulatorThread) -> None:
    assert run("config", "set", "output_name", "{model}_{task}_{prompt}").exit_code == 0
    made = run("t2v", "A kitten", *SMALL)
    assert made.exit_code == 0, made.stderr
    name = Path(made.stdout.strip()).name
    task = json.loads(run("tasks", "--json").stdout)["tasks"][0]["task_id"]
    assert name == f"wan2.1-t2v-turbo_{task[:8]}_A-kitten.mp4"
    typo = run("config", "set", "output_name", "{modle}")
    assert typo.exit_code == 2 and "did you mean 'mode" in typo.stderr
    assert run("config", "set", "output_name", "plain").exit_code == 2  # no field: every video the same name


def test_tasks_remote_filters_and_pages_say_what_they_found(cli: EmulatorThread) -> None:
    assert run("t2v", "A kitten", *SMALL).exit_code == 0
    listed = json.loads(run("tasks", "--remote", "--model", "wan2.1-t2v-turbo", "--json").stdout)
    assert [t["model_name"] for t in listed["tasks"]] == ["wan2.1-t2v-turbo"]
    none = run("tasks", "--remote", "--status", "FAILED")
    assert "lists no FAILED tasks for that window" in none.stderr
    past = run("tasks", "--remote", "--page", "2")
    assert "Page 2 is past the end: the service lists 1 task(s)" in past.stderr
