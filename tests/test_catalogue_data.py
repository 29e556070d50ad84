"""The catalogue as data: models.toml is read lazily, checked at load, and every entry works end to end.

Per entry of the data file (read here with tomllib, not through the catalogue): it loads, its smallest
request builds a wire body the client's strict check accepts, and the emulator's lenient check (the one
its submit handler runs) accepts it too. tests/test_every_model.py runs each entry to a real MP4.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from qwenvid.catalogue import MODELS, get_model
from qwenvid.catalogue.load import DATA_FILE, CatalogueError, load
from qwenvid.requests.shapes import build_payload, validate_request
from qwenvid.requests.validation import check_body

ENTRIES = tomllib.loads(DATA_FILE.read_text(encoding="utf-8"))["models"]
FILES = {
    "image": "https://example.com/first.png",
    "image2": "https://example.com/last.png",
    "video": "https://example.com/clip.mp4",
    "audio": "https://example.com/voice.wav",
}


@pytest.mark.parametrize("entry", ENTRIES, ids=[entry["id"] for entry in ENTRIES])
def test_every_entry_loads_and_builds_a_body_both_checks_accept(entry: dict[str, Any]) -> None:
    from tests.test_every_model import request_for

    spec = get_model(entry["id"])
    assert spec is not None and spec.id == entry["id"] and spec.family
    for alias in entry.get("aliases", []):
        assert get_model(alias) is spec
    request = request_for(spec, FILES)
    assert validate_request(request, check_files=False) == []
    payload = build_payload(request)
    assert payload.endpoint_path == spec.endpoint_path
    assert check_body(payload.endpoint_path, payload.body, lenient=False) is spec
    assert check_body("/api/v1" + payload.endpoint_path, payload.body, lenient=True) is spec


def test_the_file_is_the_catalogue_in_its_order() -> None:
    assert [spec.id for spec in MODELS] == [entry["id"] for entry in ENTRIES]


def test_no_python_module_lists_model_ids_by_the_dozen() -> None:
    ids = {model_id for spec in MODELS for model_id in spec.all_ids()}
    root = Path(__file__).resolve().parents[1] / "qwenvid"
    for path in root.rglob("*.py"):
        quoted = set(re.findall(r"[\"']([a-z0-9.\-]+)[\"']", path.read_text(encoding="utf-8")))
        assert len(quoted & ids) <= 6, f"{path.relative_to(root)} names {sorted(quoted & ids)}"


def test_the_data_file_ships_as_package_data() -> None:
    pyproject = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    assert "catalogue/models.toml" in pyproject["tool"]["setuptools"]["package-data"]["qwenvid"]


_PROBE = """
import json, sys
sys.argv = ["qwenvid", *sys.argv[1:]]
from qwenvid.cli import main
try:
    main()
except SystemExit:
    pass
import qwenvid.catalogue as catalogue
sys.stderr.write("LOADED " + json.dumps(catalogue._catalogue.cache_info().currsize))
"""


@pytest.mark.parametrize(("args", "loaded"), [(["--help"], 0), (["models"], 1)])
def test_the_file_is_read_only_by_commands_that_need_it(args: list[str], loaded: int, tmp_path: Path) -> None:
    env = {**os.environ, "QWENVID_HOME": str(tmp_path), "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, env=env, timeout=60)
    assert json.loads(done.stderr.rsplit("LOADED ", 1)[1]) == loaded


# ---- a bad entry is a clear error naming the entry and the field ----

_GOOD = DATA_FILE.read_text(encoding="utf-8")


def _load_edited(tmp_path: Path, old: str, new: str) -> CatalogueError:
    assert old in _GOOD
    path = tmp_path / "models.toml"
    path.write_text(_GOOD.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load(path)
    return caught.value


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            'default_size = "1920*1080"  # API',
            'default_size = "1920*1088"  # API',
            "'wan2.6-t2v': field 'default_size'",
        ),
        ('id = "wan2.5-t2v-preview"', 'id = "wan2.5-t2v-preview"\nprompt_max = "long"', "field 'prompt_max'"),
        (
            'id = "wan2.2-t2v-plus"',
            'id = "wan2.2-t2v-plus"\ncolour = "red"',
            "'wan2.2-t2v-plus': unknown field(s) colour",
        ),
        (
            'id = "wan2.1-t2v-plus"\nuse = ["silent", "t2v"]',
            'id = "wan2.1-t2v-plus"\nuse = ["quiet"]',
            "unknown preset 'quiet'",
        ),
        ('mode = "i2v"  # aspect', 'mode = "a2v"  # aspect', "'wan2.7-i2v': field 'mode': 'a2v'"),
        (
            'limits = { audio = "wan27_soundtrack" }',
            'limits = { audio = "nope" }',
            "'wan2.7-t2v': field 'limits.audio'",
        ),
        (
            "durations = { choices = [3, 4, 5] }",
            "durations = { choices = [3, 4] }",
            "'wan2.1-i2v-turbo': field 'durations'",
        ),
        ('id = "wan2.6-i2v"\n', 'id = "wan2.6-i2v-flash"\n', "'wan2.6-i2v-flash' appears twice"),
        ('r2v = "wan2.6-r2v-flash"', 'r2v = "wan2.6-t2v"', "[mode_defaults] r2v"),
        (
            "max_mb = 15\nmin_seconds = 3",
            "max_mb = 15\nmin_seconds = true",
            "limits audio 'soundtrack': field 'min_seconds'",
        ),
        ("\nschema = 1\n", "\nschema = 2\n", "schema must be 1"),
    ],
)
def test_a_bad_entry_names_the_entry_and_the_field(tmp_path: Path, old: str, new: str, says: str) -> None:
    error = _load_edited(tmp_path, old, new)
    assert says in str(error)
    assert "\n" not in str(error)


def test_a_new_model_of_an_existing_family_is_a_few_lines_of_data(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    extra = """
[[models]]
id = "wan2.6-t2v-next"
use = ["wan26", "t2v"]
size_tiers = ["720P"]
default_size = "1280*720"
"""
    path.write_text(_GOOD + extra, encoding="utf-8")
    catalogue = load(path)
    spec = catalogue.by_id["wan2.6-t2v-next"]
    assert (spec.family, spec.mode, spec.durations.max, spec.prompt_max, spec.shot_type) == (
        "wan2.6",
        "t2v",
        15,
        1500,
        True,
    )
