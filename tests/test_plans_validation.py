"""Bad plans: every problem listed, one line each with its step id, exit 2, nothing submitted or written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.emulator.server import EmulatorThread
from qwenvid.plans.model import Ref, parse_reference
from qwenvid.plans.parse import PlanInvalid, load_plan
from qwenvid.plans.prepare import prepare_plan

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"




def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def write(tmp: Path, name: str, text: str) -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def problem_lines(result: Result) -> list[str]:
    return [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]


def assert_nothing_spent(emulator: EmulatorThread, result: Result) -> None:
    assert result.exit_code == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert emulator.state.task_count() == 0
    assert emulator.state.upload_count() == 0
    assert not Path("output").exists()


def test_every_problem_is_listed_with_its_step(cli: EmulatorThread, tmp_path: Path) -> None:
    plan = write(
        tmp_path,
        "bad.toml",
        """
[steps.a]
model = "wan2.6-t2v"
prompt = "A lighthouse"
colour = "blue"

[steps.b]
mode = "i2v"
model = "wan2.6-i2v"
prompt = "Waves"
image = "missing.png"

[steps.c]
model = "wan2.6-t2v"
prompt = "A ship"
resolution = "720P"

[steps.d]
op = "concat"
inputs = ["@a", "@nowhere"]

[steps.e]
op = "tail"
input = "@a"
seconds = 2
output = "a.mp4"
""",
    )
    result = run("run", str(plan), "--yes")
    assert_nothing_spent(cli, result)
    lines = problem_lines(result)
    text = "\n".join(lines)
    assert "step 'a': unknown field 'colour'" in text
    assert "step 'b': missing.png: no such file" in text
    assert "step 'c':" in text and "resolution" in text and "wan2.6-t2v" in text  # a size model given --resolution
    assert "step 'd': unknown step reference @nowhere" in text
    assert "step 'e': output 'a.mp4' is also the output of step 'a'" in text
    assert len(lines) == 5, text
    assert "The plan has 5 problems; nothing was submitted." in result.stderr


def test_cycle_is_found(cli: EmulatorThread, tmp_path: Path) -> None:
    plan = write(
        tmp_path,
        "cycle.toml",
        """
[steps.one]
op = "tail"
input = "@two"
seconds = 1

[steps.two]
op = "tail"
input = "@one"
seconds = 1
""",
    )
    result = run("run", str(plan))
    assert_nothing_spent(cli, result)
    assert any("cycle: " in line and ("one -> two" in line or "two -> one" in line) for line in problem_lines(result))


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("syntax.toml", 'name = "x"\n[steps.a]\nprompt = "unclosed\n', "syntax.toml:3: TOML syntax error"),
        ("syntax.json", '{"steps": {\n  "a": {"prompt": "x",}\n}}', "syntax.json:2: JSON syntax error"),
        ("rows.jsonl", '{"prompt": "ok"}\n{"prompt": "broken"\n', "rows.jsonl:2: JSON syntax error"),
    ],
)
def test_syntax_errors_name_the_line(cli: EmulatorThread, tmp_path: Path, name: str, text: str, expected: str) -> None:
    result = run("run", str(write(tmp_path, name, text)))
    assert_nothing_spent(cli, result)
    assert any(line.startswith(expected) for line in problem_lines(result)), result.stderr


def test_duplicate_ids_and_bad_references(cli: EmulatorThread, tmp_path: Path) -> None:
    plan = {
        "steps": [
            {"id": "a", "prompt": "one"},
            {"id": "a", "prompt": "two"},
            {"id": "b", "mode": "i2v", "model": "wan2.6-i2v", "image": "@a", "prompt": "x"},
            {"id": "c", "op": "tail", "input": "@a:first-2s", "seconds": 1},
            {"id": "d", "op": "fade", "input": "@a"},
        ]
    }
    result = run("run", str(write(tmp_path, "dup.json", json.dumps(plan))))
    assert_nothing_spent(cli, result)
    text = "\n".join(problem_lines(result))
    assert "step 'a': duplicate step id" in text
    assert "step 'c': '@a:first-2s': unknown reference part" in text
    assert "step 'd': unknown op 'fade'" in text


def test_a_video_where_an_image_is_needed_is_named(cli: EmulatorThread, tmp_path: Path) -> None:
    plan = write(
        tmp_path,
        "kinds.toml",
        """
[steps.shot]
prompt = "A field"

[steps.next]
mode = "i2v"
model = "wan2.6-i2v"
prompt = "Wind"
image = "@shot"
""",
    )
    result = run("run", str(plan))
    assert_nothing_spent(cli, result)
    assert "step 'next': @shot is a video but this input takes an image (use @shot:last-frame)" in result.stderr


def test_batch_row_problems_carry_their_line(cli: EmulatorThread, tmp_path: Path) -> None:
    rows = '{"prompt": "fine"}\n{"prompt": "bad", "duration": 99, "model": "wan2.6-t2v"}\n{"prompt": "x", "nope": 1}\n'
    result = run("run", str(write(tmp_path, "rows.jsonl", rows)))
    assert_nothing_spent(cli, result)
    lines = problem_lines(result)
    assert any(line.startswith("rows.jsonl:2: step 'line-2':") and "duration" in line for line in lines), lines
    assert any(line.startswith("rows.jsonl:3: step 'line-3': unknown field 'nope'") for line in lines), lines


def test_unknown_force_step_is_refused(cli: EmulatorThread) -> None:
    result = run("run", str(EXAMPLES / "story.toml"), "--force", "nosuch", "--dry-run")
    assert_nothing_spent(cli, result)
    assert "--force nosuch: the plan has no such step" in result.stderr


def test_unknown_format_is_one_line(cli: EmulatorThread, tmp_path: Path) -> None:
    result = run("run", str(write(tmp_path, "plan.yaml", "steps: []")))
    assert_nothing_spent(cli, result)
    assert "unknown plan format '.yaml'" in result.stderr


def test_references_syntax() -> None:
    assert parse_reference("@shot") == Ref("shot")
    assert parse_reference("@shot:last-frame") == Ref("shot", "last_frame")
    assert parse_reference("@shot:last-2.5s") == Ref("shot", "tail", 2.5)
    assert isinstance(parse_reference("@shot:last-0s"), str)
    assert isinstance(parse_reference("@shot:middle"), str)


def test_repeat_seeds_defaults_and_hidden_steps(tmp_path: Path) -> None:
    plan = write(
        tmp_path,
        "v.toml",
        """
[defaults]
model = "wan2.6-t2v"
duration = 5

[steps.take]
prompt = "A cat"
seeds = [1, 2]

[steps.many]
prompt = "A dog"
repeat = 3

[steps.anim]
mode = "i2v"
prompt = "Move"
image = "@take-1:last-frame"
""",
    )
    spec = load_plan(plan)
    assert list(spec.steps) == ["take-1", "take-2", "many-1", "many-2", "many-3", "anim", "take-1.last-frame"]
    assert spec.steps["take-2"].fields["seed"] == 2
    assert spec.steps["many-3"].fields["model"] == "wan2.6-t2v"
    # A default model of another mode does not land on an i2v step; its own default model is used.
    assert "model" not in spec.steps["anim"].fields
    assert spec.steps["take-1.last-frame"].hidden and spec.steps["take-1.last-frame"].op == "frame"
    prepared = prepare_plan(spec, tmp_path / "out")
    assert prepared.order.index("take-1.last-frame") < prepared.order.index("anim")
    # Three identical requests made on purpose are three videos: their identities differ.
    ids = {prepared.steps[f"many-{n}"].identity for n in (1, 2, 3)}
    assert len(ids) == 3 and None not in ids


def test_csv_and_txt_batches_take_command_line_defaults(tmp_path: Path) -> None:
    csv_plan = write(tmp_path, "b.csv", "id,prompt,duration,seed\nfirst,A cat,5,7\nsecond,A dog,,\n")
    spec = load_plan(csv_plan, defaults={"model": "wan2.1-t2v-turbo", "size": "832*480", "duration": 5})
    assert spec.steps["first"].fields == {
        "model": "wan2.1-t2v-turbo",
        "size": "832*480",
        "duration": 5,
        "prompt": "A cat",
        "seed": 7,
    }
    assert spec.steps["second"].fields["duration"] == 5
    txt = write(tmp_path, "p.txt", "# comment\nA cat\n\nA dog\n")
    assert [s.fields["prompt"] for s in load_plan(txt).steps.values()] == ["A cat", "A dog"]
    with pytest.raises(PlanInvalid):
        load_plan(write(tmp_path, "empty.txt", "# nothing\n"))


def test_json_errors_carry_every_problem(cli: EmulatorThread, tmp_path: Path) -> None:
    plan = write(
        tmp_path, "two.toml", '[steps.a]\nprompt = "x"\nhue = 1\n[steps.b]\nop = "tail"\ninput = "@zz"\nseconds = 1\n'
    )
    result = run("run", str(plan), "--json")
    assert_nothing_spent(cli, result)
    data = json.loads(result.stdout)
    assert data["exit_code"] == 2 and len(data["problems"]) == 2
    assert "step 'b': unknown step reference @zz" in data["problems"][1]
