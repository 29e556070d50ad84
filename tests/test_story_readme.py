"""README "From an idea to a film", run as written (the --emulator lines against the in-process emulator)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from qwenvid.cli import app, hoist_global_options
from qwenvid.store.story_costs import totals
from tests.support.emulator import probe_mp4

ROOT = Path(__file__).resolve().parents[1]


def readme_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## From an idea to a film", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_the_readme_story_section_runs_as_written(isolated_env: Path) -> None:
    shutil.copytree(ROOT / "examples", "examples")
    lines = readme_lines()
    assert any(line.startswith("qwenvid --emulator story") for line in lines)
    outputs: list[list[str]] = []
    for line in lines:
        words = shlex.split(line)
        assert words[0] == "qwenvid"
        result = CliRunner().invoke(app, hoist_global_options(words[1:]))
        assert result.exit_code == 0, f"{line}\n{result.stderr}"
        outputs.append(result.stdout.split())
    # The story's film: narrated, subtitled; the second run reused everything (nothing spoken or asked again).
    final = Path(outputs[2][-2])
    assert final.name == "final.mp4" and Path(outputs[2][-1]).name == "final.srt"
    assert probe_mp4(final).audio_codecs == ("aac",)
    assert outputs[3][-2:] == outputs[2][-2:]
    kinds = {row[0]: row[4] for row in totals(isolated_env / "ledger.sqlite3")}
    assert kinds["storyboard"] == 1 and kinds["portrait"] == 1
    # The example plan with its cast, takes and a pick: the picked take is what the film is built on.
    tale = Path("output/qwenvid/tale")
    assert (tale / "opening-takes.png").is_file() and (tale / "final.srt").is_file()
    assert '"opening": "opening-take2"' in (tale / "manifest.json").read_text()


@pytest.mark.parametrize("name", ["Mira", "Tom"])
def test_the_example_cast_is_usable(name: str) -> None:
    from qwenvid.story.cast import load_member, usable

    member = usable(load_member(ROOT / "examples" / "cast", name))
    assert member.narration_voice and member.description
