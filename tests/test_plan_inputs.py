"""Plan files as people really have them: Excel's CSV with a BOM, a JSON plan with a repeated step id,
typos in keys, a batch's problems in row order naming its own fields, and two plans with one stem."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.emulator.server import EmulatorThread

SMALL = ("--model", "wan2.1-t2v-turbo", "--size", "832*480")


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_an_excel_csv_with_a_bom_reads_like_any_other(tmp_path: Path) -> None:
    plan = tmp_path / "excel.csv"
    rows = "prompt,model,size\r\nA kitten,wan2.1-t2v-turbo,832*480\r\nA city,wan2.1-t2v-turbo,832*480\r\n"
    plan.write_bytes(("\ufeff" + rows).encode())
    result = run("run", str(plan), "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    steps = json.loads(result.stdout)["steps"]
    assert [s["request"]["payload"]["input"]["prompt"] for s in steps] == ["A kitten", "A city"]


def test_a_json_plan_with_a_repeated_step_id_is_refused(tmp_path: Path) -> None:
    plan = tmp_path / "twice.json"
    plan.write_text('{"steps": {"shot": {"prompt": "one"}, "shot": {"prompt": "two"}}}', encoding="utf-8")
    result = run("run", str(plan), *SMALL, "--dry-run")
    assert result.exit_code == 2 and "'shot' appears twice" in result.stderr


def test_typos_in_plan_keys_get_a_did_you_mean(tmp_path: Path) -> None:
    plan = tmp_path / "typo.toml"
    plan.write_text('[defualts]\nmodel = "wan2.1-t2v-turbo"\n[steps.a]\nprompt = "x"\ndurration = 5\n'
                    '[steps.b]\nop = "tail"\ninput = "@a"\nsecond = 2\n', encoding="utf-8")  # fmt: skip
    result = run("run", str(plan), "--dry-run")
    assert result.exit_code == 2
    assert "'defualts' (did you mean 'defaults'?)" in result.stderr
    assert "'durration' (did you mean 'duration'?)" in result.stderr
    assert "'second' (did you mean 'seconds'?)" in result.stderr


def test_a_batch_lists_its_problems_in_row_order_by_its_field_names(tmp_path: Path) -> None:
    plan = tmp_path / "rows.csv"
    plan.write_text("prompt,duration,size\nA,7,832*480\nB,5,100*100\n,5,832*480\nD,9,832*480\n", encoding="utf-8")
    result = run("run", str(plan), "--model", "wan2.1-t2v-turbo", "--dry-run")
    assert result.exit_code == 2
    lines = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("rows.csv:")]
    assert [line.split(":")[1] for line in lines] == ["2", "3", "4", "5"], lines
    assert "duration 7" in lines[0] and "size '100*100'" in lines[1]
    assert "--duration" not in result.stderr and "--size" not in result.stderr


def test_two_plans_with_one_stem_keep_their_own_folders(cli: EmulatorThread, tmp_path: Path) -> None:
    (tmp_path / "batch.jsonl").write_text('{"prompt": "A kitten", "id": "kitten"}\n', encoding="utf-8")
    (tmp_path / "batch.txt").write_text("A city\n", encoding="utf-8")
    out = tmp_path / "out"
    first = run("run", str(tmp_path / "batch.jsonl"), *SMALL, "-o", str(out), "--json")
    second = run("run", str(tmp_path / "batch.txt"), *SMALL, "-o", str(out), "--json")
    assert first.exit_code == 0 and second.exit_code == 0, second.stderr
    assert json.loads(first.stdout)["folder"] == str(out / "batch")
    assert json.loads(second.stdout)["folder"] == str(out / "batch-txt")
    again = run("run", str(tmp_path / "batch.jsonl"), *SMALL, "-o", str(out), "--json")
    assert json.loads(again.stdout)["folder"] == str(out / "batch") and cli.state.task_count() == 2
    manifest = json.loads((out / "batch" / "manifest.json").read_text())
    assert Path(manifest["source"]).name == "batch.jsonl" and manifest["steps"][0]["mode"] == "t2v"
