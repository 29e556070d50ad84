"""The library's front door: the README's Python example runs as written, against the emulator."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import qwenvid

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_export_resolves() -> None:
    for name in qwenvid.__all__:
        assert getattr(qwenvid, name) is not None, name


def test_readme_python_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    assert blocks, "the README shows how to use the library"
    script = tmp_path / "example.py"
    script.write_text(blocks[0], encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    video = Path(done.stdout.strip().splitlines()[-1])
    assert video.suffix == ".mp4" and (tmp_path / video).is_file()
