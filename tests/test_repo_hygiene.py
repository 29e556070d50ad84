"""The checkout itself: no merge-conflict markers left in any tracked text file (README included, which users run)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^(<{7} |>{7} |={7}$)", re.MULTILINE)
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".jsonl", ".json", ".csv", ".cfg", ".ini", ""}


def tracked_text_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=30
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [ROOT / name for name in listed.split("\0") if name and Path(name).suffix in TEXT_SUFFIXES]


def test_no_conflict_markers_in_tracked_files() -> None:
    files = tracked_text_files()
    assert any(path.name == "README.md" for path in files)
    offenders = []
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in MARKER.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            offenders.append(f"{path.relative_to(ROOT)}:{line}")
    assert offenders == []


def test_the_marker_pattern_finds_a_conflict() -> None:
    sample = "a\n<<<<<<< HEAD\nours\n=======\ntheirs\n>>>>>>> branch\n"
    assert len(MARKER.findall(sample)) == 3
