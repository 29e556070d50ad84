"""`qwenvid run --init FILE`: a commented plan to start from (TOML, or JSON with the schema named)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).with_name("plan.schema.json")

TOML_PLAN = """\
# A qwenvid plan: `qwenvid run {file} --dry-run` checks and costs it, `qwenvid run {file}` makes it.
# Every step is a generation (the one-liners' fields) or a media step (op = ...). Inputs may be files
# (relative to this file), URLs, or another step's output: "@step", "@step:last-frame", "@step:last-3s".
# Editors: the JSON Schema is qwenvid/plans/plan.schema.json in the installed package.

name = "{name}"                     # the output folder: output/qwenvid/{name}/

[defaults]                          # every generation step gets these (a step's own fields win)
duration = 5

[steps.opening]
model = "wan2.6-t2v"
size = "1280*720"                   # this model takes a size; wan2.7 models take resolution (+ ratio)
prompt = "A paper boat sets off down a rainy street"
# seed = 42                         # the same seed, the same video
# repeat = 3                        # three variants: opening-1, opening-2, opening-3

[steps.continued]
mode = "i2v"
model = "wan2.7-i2v"
resolution = "720P"
prompt = "The boat drifts into a glowing canal"
clip = "@opening:last-3s"           # continue from the last 3 seconds of the opening

[steps.film]
op = "concat"                       # media steps: trim, tail, frame, concat, add_audio
inputs = ["@opening", "@continued"]
# crossfade = 0.5
"""


def scaffold(path: Path) -> str:
    """The text of a starter plan for `path` (.toml, or .json which names the schema for editors)."""
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in path.stem).strip("-") or "plan"
    if path.suffix.lower() == ".json":
        steps: dict[str, Any] = {
            "opening": {"model": "wan2.6-t2v", "size": "1280*720",
                        "prompt": "A paper boat sets off down a rainy street"},
            "continued": {"mode": "i2v", "model": "wan2.7-i2v", "resolution": "720P",
                          "prompt": "The boat drifts into a glowing canal", "clip": "@opening:last-3s"},
            "film": {"op": "concat", "inputs": ["@opening", "@continued"]},
        }  # fmt: skip
        data = {"$schema": SCHEMA_FILE.resolve().as_uri(), "name": name, "defaults": {"duration": 5}, "steps": steps}
        return json.dumps(data, indent=2) + "\n"
    return TOML_PLAN.format(file=path.name, name=name)
