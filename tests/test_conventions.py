"""Listings and conventions: tasks in a 120-column terminal, models piped, regions, --version, completion,
prompt from a file or stdin, a closed pipe, and `qwenvid config`."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qwenvid.catalogue import MODELS, MODES, SELECTABLE_REGIONS
from qwenvid.cli import app
from qwenvid.config import CONFIG_KEYS, REGIONS
from tests.support.terminal import qwenvid_argv, run_in_terminal


def invoke(args: list[str], **kwargs: object) -> object:
    return CliRunner().invoke(app, args, **kwargs)  # type: ignore[arg-type]


MODELS_RUN = ("wan2.6-t2v", "wan2.5-t2v-preview", "wan2.1-t2v-turbo")


@pytest.fixture(scope="module")
def ledger_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """Three finished emulator runs saved deep in a folder (made once): their state folder and task ids."""
    base = tmp_path_factory.mktemp("three-tasks")
    folder = base / "a" / "rather" / "deeply" / "nested" / "folder" / "for" / "the" / "videos"
    task_ids = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QWENVID_HOME", str(base / "home"))
        patch.chdir(base)
        for model, size in zip(MODELS_RUN, ("1280*720", "832*480", None), strict=True):
            args = ["--emulator", "t2v", "A kitten running in the moonlight over the roofs", "--model", model]
            result = invoke([*args, "--json", *(["--size", size] if size else []), "-o", str(folder)])
            assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
            task_ids.append(json.loads(result.stdout)["task_id"])  # type: ignore[attr-defined]
    return base, task_ids


@pytest.fixture
def three_tasks(ledger_home: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """This test's state folder and working directory are the ones the three runs used."""
    base, task_ids = ledger_home
    monkeypatch.setenv("QWENVID_HOME", str(base / "home"))
    monkeypatch.chdir(base)
    return task_ids


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_tasks_in_a_120_column_terminal_never_wrap_ids_or_model_names(three_tasks: list[str]) -> None:
    run = run_in_terminal(["tasks"], columns=120, env={"NO_COLOR": "1"})
    assert run.returncode == 0, run.output
    lines = [ANSI.sub("", line) for line in run.lines if line.strip()]
    assert all(len(line.rstrip()) <= 120 for line in lines), run.output
    for task_id, model in zip(three_tasks, MODELS_RUN, strict=True):
        row = next(line for line in lines if task_id in line)  # the whole id on one line
        assert model in row and ".mp4" in row, run.output  # and the model and the file name on the same one
    assert len(lines) == 1 + 3 + 1  # header, one line per task, the total


def test_tasks_wide_shows_every_column_in_full(three_tasks: list[str]) -> None:
    run = run_in_terminal(["tasks", "--wide"], columns=120, env={"NO_COLOR": "1"})
    assert run.returncode == 0
    assert "local id" in run.output and "mode" in run.output
    row = ANSI.sub("", next(line for line in run.lines if three_tasks[0] in line))
    assert "/a/rather/deeply/nested/folder/for/the/videos/" in row and row.rstrip().endswith(".mp4")


def test_tasks_piped_keeps_full_values(three_tasks: list[str]) -> None:
    result = invoke(["tasks"])
    rows = [line.split("\t") for line in result.stdout.splitlines()]  # type: ignore[attr-defined]
    assert rows[0] == ["local id", "task id", "status", "mode", "model", "created (UTC)", "billed s", "video"]
    assert {row[1] for row in rows[1:]} == set(three_tasks)
    assert all("/a/rather/deeply/" in row[7] and row[7].endswith(".mp4") for row in rows[1:])


def test_tasks_piped_into_head_exits_quietly(three_tasks: list[str]) -> None:
    process = subprocess.Popen([*qwenvid_argv(), "tasks"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before qwenvid writes: like `| head -0`
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0
    for noise in ("Broken pipe", "BrokenPipeError", "Traceback", "Exception ignored", "Error"):
        assert noise not in stderr, stderr


def test_models_piped_has_a_clean_id_column_and_a_default_column() -> None:
    result = invoke(["models"])
    rows = [line.split("\t") for line in result.stdout.splitlines()]  # type: ignore[attr-defined]
    assert rows[0][:2] == ["model", "default"]
    assert [row[0] for row in rows[1:]] == [spec.id for spec in MODELS]
    assert {row[1] for row in rows[1:]} == {"yes", "-"}
    assert sum(row[1] == "yes" for row in rows[1:]) == len(MODES)  # one default per mode


def test_listed_regions_are_the_ones_region_accepts() -> None:
    assert set(SELECTABLE_REGIONS) == set(REGIONS)
    piped = invoke(["models"]).stdout  # type: ignore[attr-defined]
    listed = {region.strip() for line in piped.splitlines()[1:] for region in line.split("\t")[-1].split(",")}
    as_json = json.loads(invoke(["models", "--json"]).stdout)["models"]  # type: ignore[attr-defined]
    listed |= {region for model in as_json for region in model["regions"]}
    assert listed <= set(REGIONS)
    for region in listed:
        assert invoke(["--region", region, "models"]).exit_code == 0  # type: ignore[attr-defined]
        assert invoke(["--region", region, "t2v", "x", "--dry-run"]).exit_code == 0  # type: ignore[attr-defined]


def test_a_model_not_offered_in_the_chosen_region_is_warned_about() -> None:
    result = invoke(["--region", "us-east-1", "t2v", "x", "--model", "wan2.7-t2v", "--dry-run"])
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert "wan2.7-t2v is not offered in us-east-1" in result.stderr  # type: ignore[attr-defined]
    offered = invoke(["--region", "us-east-1", "t2v", "x", "--model", "wan2.6-t2v", "--dry-run"])
    assert "not offered" not in offered.stderr  # type: ignore[attr-defined]


def test_version() -> None:
    from importlib.metadata import version

    result = invoke(["--version"])
    assert result.exit_code == 0  # type: ignore[attr-defined]
    assert result.stdout.strip() == f"qwenvid {version('qwenvid')}"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("shell", "marker"), [("zsh", "#compdef qwenvid"), ("fish", "complete --command qwenvid"),
                                               ("bash", "complete -o default -F")])  # fmt: skip
def test_show_completion_honours_the_shell(shell: str, marker: str) -> None:
    done = subprocess.run([*qwenvid_argv(), "--show-completion", shell], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert marker in done.stdout


def complete(words: str) -> list[str]:
    env = {**os.environ, "_QWENVID_COMPLETE": "complete_bash", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1))}  # fmt: skip
    done = subprocess.run(qwenvid_argv(), capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_completion_of_model_ids() -> None:
    assert complete("qwenvid t2v --model wan2.7") == ["wan2.7-t2v", "wan2.7-i2v", "wan2.7-r2v", "wan2.7-videoedit"]


def test_completion_of_local_task_ids(three_tasks: list[str]) -> None:
    assert set(complete("qwenvid status ")) == set(three_tasks)
    assert complete(f"qwenvid fetch {three_tasks[1][:6]}") == [three_tasks[1]]


def test_prompt_from_stdin_and_from_a_file() -> None:
    piped = invoke(["t2v", "-", "--dry-run"], input="A kitten in the snow\n")
    assert piped.exit_code == 0, piped.stderr  # type: ignore[attr-defined]
    assert json.loads(piped.stdout)["payload"]["input"]["prompt"] == "A kitten in the snow"  # type: ignore[attr-defined]
    Path("prompt.txt").write_text("Rain on a window\n", encoding="utf-8")
    for mode_args in (["t2v"], ["i2v", "--image", "https://example.com/a.png"]):
        result = invoke([*mode_args, "--prompt-file", "prompt.txt", "--dry-run"])
        assert result.exit_code == 0, result.stderr  # type: ignore[attr-defined]
        assert json.loads(result.stdout)["payload"]["input"]["prompt"] == "Rain on a window"  # type: ignore[attr-defined]
    both = invoke(["t2v", "words", "--prompt-file", "prompt.txt", "--dry-run"])
    assert both.exit_code == 2 and "not both" in both.stderr  # type: ignore[attr-defined]


def test_config_path_show_get_set_unset(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = isolated_env / "config.toml"
    assert invoke(["config", "path"]).stdout.strip() == str(path)  # type: ignore[attr-defined]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# my settings\nwait_timeout = 600  # ten minutes\n", encoding="utf-8")
    assert invoke(["config", "set", "confirm_above_seconds", "20"]).exit_code == 0  # type: ignore[attr-defined]
    assert invoke(["config", "set", "prices.currency", "USD"]).exit_code == 0  # type: ignore[attr-defined]
    assert invoke(["config", "set", "prices.wan2.6-t2v.720P", "0.1"]).exit_code == 0  # type: ignore[attr-defined]
    text = path.read_text(encoding="utf-8")
    assert "# my settings" in text and "# ten minutes" in text  # the user's comments stay
    assert invoke(["config", "get", "confirm_above_seconds"]).stdout.strip() == "20"  # type: ignore[attr-defined]
    monkeypatch.setenv("QWEN_REGION", "cn-beijing")
    shown = json.loads(invoke(["config", "show", "--json"]).stdout)  # type: ignore[attr-defined]
    by_key = {row["key"]: row for row in shown["settings"]}
    assert set(by_key) == set(CONFIG_KEYS)  # every documented key is shown ...
    assert all(row["about"] for row in shown["settings"])  # ... with what it does
    assert by_key["region"]["value"] == "cn-beijing" and by_key["region"]["source"] == "QWEN_REGION env"
    assert by_key["wait_timeout"]["source"] == "config file" and by_key["query_qps"]["source"] == "default"
    assert "0.1" in by_key["[prices]"]["value"]
    refused = invoke(["config", "set", "region", "bogus"])
    assert refused.exit_code == 2 and "bogus" not in path.read_text(encoding="utf-8")  # type: ignore[attr-defined]
    assert invoke(["config", "unset", "wait_timeout"]).exit_code == 0  # type: ignore[attr-defined]
    assert "wait_timeout" not in path.read_text(encoding="utf-8")


def test_readme_documents_every_config_key_and_the_setup() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for key in CONFIG_KEYS:
        assert key.strip("[]") in readme, key
    assert "Python ≥ 3.11" in readme
    assert "python3 -m venv .venv && . .venv/bin/activate" in readme
