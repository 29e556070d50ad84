"""The JSON Schema shipped for plan files (qwenvid/plans/plan.schema.json) says what the parser accepts:
the same top-level keys, step fields, modes, media ops and their parameters; the shipped examples and the
`run --init` scaffolds pass it, and what the parser refuses for an unknown key the schema refuses too.

A feature that adds a plan field adds it to the parser and the schema; this test fails until both agree."""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from typer.testing import CliRunner

from qwenvid.cli import app
from qwenvid.plans.model import GEN_MODES, MEDIA_OPS
from qwenvid.plans.parse import MEDIA_PARAMS, MEDIA_REQUIRED, STEP_KEYS, TOP_KEYS, generation_keys

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    text = resources.files("qwenvid.plans").joinpath("plan.schema.json").read_text(encoding="utf-8")  # package data
    data = json.loads(text)
    jsonschema.Draft202012Validator.check_schema(data)
    return data


def test_the_schema_names_what_the_parser_accepts(schema: dict[str, Any]) -> None:
    assert set(schema["properties"]) == TOP_KEYS | {"$schema"}
    generation = schema["$defs"]["generation"]["properties"]
    assert set(generation) == set(generation_keys(None)) | (STEP_KEYS - {"op"})
    assert generation["mode"]["enum"] == list(GEN_MODES)
    for mode in GEN_MODES:
        assert generation_keys(mode) <= set(generation)
    assert set(MEDIA_PARAMS) == set(MEDIA_OPS)
    for op, params in MEDIA_PARAMS.items():
        media = schema["$defs"][op]
        assert set(media["properties"]) == {"op", "output", "id", *params}, op
        assert media["required"] == ["op", *MEDIA_REQUIRED[op]], op


def test_the_examples_and_the_scaffolds_pass_it(schema: dict[str, Any], tmp_path: Path) -> None:
    validator = jsonschema.Draft202012Validator(schema)
    plans = [tomllib.loads(path.read_text(encoding="utf-8")) for path in EXAMPLES.glob("*.toml")]
    for name in ("new.toml", "new.json"):
        result = CliRunner().invoke(app, ["run", "--init", str(tmp_path / name)])
        assert result.exit_code == 0, result.stderr
        text = (tmp_path / name).read_text(encoding="utf-8")
        plans.append(tomllib.loads(text) if name.endswith(".toml") else json.loads(text))
        checked = CliRunner().invoke(app, ["run", str(tmp_path / name), "--dry-run"])
        assert checked.exit_code == 0, checked.stderr  # the parser takes the scaffold as written
    assert len(plans) >= 3
    for plan in plans:
        validator.validate(plan)


@pytest.mark.parametrize(
    "plan",
    [
        {"steps": {"a": {"prompt": "x", "durration": 5}}},
        {"stepz": {}},
        {"steps": {"cut": {"op": "tail", "input": "a.mp4", "second": 2}}},
        {"steps": {"cut": {"op": "spin", "input": "a.mp4"}}},
    ],
)
def test_what_the_parser_refuses_the_schema_refuses(
    schema: dict[str, Any], tmp_path: Path, plan: dict[str, Any]
) -> None:
    assert not jsonschema.Draft202012Validator(schema).is_valid(plan)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(plan), encoding="utf-8")
    assert CliRunner().invoke(app, ["run", str(path), "--dry-run"]).exit_code == 2
