"""Takes: --takes N on one-liners, takes = N in plans, a contact sheet, `qwenvid pick`, reruns that pay nothing."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.emulator.server import EmulatorThread
from tests.support.cli_emulator import SMALL
from tests.support.emulator import probe_mp4


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_one_liner_takes_print_n_paths_with_seeds_in_a_row(cli: EmulatorThread) -> None:
    result = run("t2v", "A kite over the dunes", *SMALL, "--takes", "3", "--seed", "41", "-o", "kite.mp4", "--yes")
    assert result.exit_code == 0, result.stderr
    paths = result.stdout.split()
    assert [Path(p).name for p in paths] == ["kite-take1.mp4", "kite-take2.mp4", "kite-take3.mp4"]
    assert sorted(t.body["parameters"]["seed"] for t in cli.state.tasks) == [41, 42, 43]
    assert "3 takes:" in result.stderr and result.stderr.count("Cost:") == 1
    for path in paths:
        assert probe_mp4(Path(path)).width == 832
    with Image.open("kite-takes.png") as sheet:  # the takes side by side, beside them
        assert sheet.width > 3 * 300


def test_one_liner_takes_json_and_drawn_seeds(cli: EmulatorThread) -> None:
    result = run("t2v", "A kite", *SMALL, "--takes", "2", "--json", "--yes")
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    takes = answer["takes"]
    assert Path(answer["contact_sheet"]).is_file()
    assert [t["take"] for t in takes] == [1, 2]
    seeds = [t["seed"] for t in takes]
    assert all(isinstance(s, int) for s in seeds) and seeds[0] != seeds[1]
    assert sorted(t.body["parameters"]["seed"] for t in cli.state.tasks) == sorted(seeds)


PLAN = """
name = "kites"

[defaults.t2v]
model = "wan2.1-t2v-turbo"
size = "832*480"

[steps.opening]
mode = "t2v"
prompt = "A kite rises over the dunes"
takes = 3
seed = 100

[steps.next]
mode = "i2v"
model = "wan2.1-i2v-turbo"
resolution = "480P"
image = "@opening:last-frame"
prompt = "The kite string snaps"

[steps.film]
op = "concat"
inputs = ["@opening", "@next"]
"""


def test_plan_takes_pick_builds_on_the_pick_and_reruns_pay_nothing(cli: EmulatorThread) -> None:
    Path("kites.toml").write_text(PLAN, encoding="utf-8")
    first = run("run", "kites.toml", "--yes")
    assert first.exit_code == 0, first.stderr
    folder = Path("output/qwenvid/kites")
    seeds = sorted(t.body["parameters"]["seed"] for t in cli.state.tasks if "seed" in t.body["parameters"])
    assert seeds == [100, 101, 102]
    with Image.open(folder / "opening-takes.png") as sheet:
        assert sheet.width > 3 * 300  # three takes side by side
    assert "qwenvid pick opening N" in first.stderr
    submitted = len(cli.state.tasks)
    assert submitted == 4

    picked = run("pick", "opening", "2", "--plan", "kites.toml")
    assert picked.exit_code == 0, picked.stderr
    assert "Picked take 2 of opening" in picked.stderr
    assert len(cli.state.tasks) == submitted  # picking pays nothing
    assert "next" in picked.stderr and "new" in picked.stderr  # the preview says what will be made again
    assert json.loads((folder / "manifest.json").read_text())["picks"] == {"opening": "opening-take2"}

    second = run("run", "kites.toml", "--yes")
    assert second.exit_code == 0, second.stderr
    assert len(cli.state.tasks) == submitted + 1  # only the step built on the take
    newest = max(cli.state.tasks, key=lambda t: t.submit_at)
    assert newest.body["model"] == "wan2.1-i2v-turbo"
    manifest = json.loads((folder / "manifest.json").read_text())
    steps = {s["id"]: s for s in manifest["steps"]}
    assert steps["next"]["depends_on"] == ["opening-take2.last-frame"]
    assert manifest["picks"] == {"opening": "opening-take2"}

    third = run("run", "kites.toml", "--yes")
    assert third.exit_code == 0, third.stderr
    assert len(cli.state.tasks) == submitted + 1  # a rerun pays nothing
    assert "0 failed" in third.stderr and "reused" in third.stderr


def test_pick_refuses_a_take_that_does_not_exist(cli: EmulatorThread) -> None:
    Path("kites.toml").write_text(PLAN, encoding="utf-8")
    result = run("pick", "opening", "4", "--plan", "kites.toml")
    assert result.exit_code == 2 and "takes 1-3" in result.stderr
    result = run("pick", "next", "1", "--plan", "kites.toml")
    assert result.exit_code == 2 and "has no takes" in result.stderr
    result = run("pick", "opening", "--plan", "kites.toml")
    assert result.exit_code == 7  # no terminal to ask on


def test_takes_confirmation_covers_n_times_the_cost(cli: EmulatorThread) -> None:
    result = run("t2v", "A kite", *SMALL, "--takes", "3", "--seed", "1")
    assert result.exit_code == 7
    assert "15 s billable" in result.stderr  # 3 x 5 s, asked once
    assert cli.state.task_count() == 0
