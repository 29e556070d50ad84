"""The SKILL.md for agents that load skills rather than MCP servers: how to drive the qwenvid CLI safely."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SKILL_NAME = "qwenvid"


def skill_text() -> str:
    """The skill file as shipped in the package."""
    return (files("qwenvid.skill") / "SKILL.md").read_text(encoding="utf-8")


def install(folder: Path) -> Path:
    """Write the skill into a skills folder as FOLDER/qwenvid/SKILL.md (the layout skill loaders read)."""
    target = folder / SKILL_NAME / "SKILL.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(skill_text(), encoding="utf-8")
    return target
