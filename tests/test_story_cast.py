"""The cast: `qwenvid cast`, --cast on one-liners, cast = [...] in plans, portraits from a description."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner, Result

from qwenvid.cli import app
from qwenvid.emulator.server import EmulatorThread
from qwenvid.story.casting import substitute
from qwenvid.story.references import STYLES, style_for
from tests.support.emulator import probe_mp4


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def picture(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (480, 640)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


@pytest.fixture
def two_characters(isolated_env: Path) -> list[str]:
    for name, colour in (("Mira", (200, 60, 40)), ("Tom", (40, 80, 200))):
        result = run("cast", "add", name, "--image", str(picture(Path(f"{name.lower()}.png"), colour)))
        assert result.exit_code == 0, result.stderr
    return ["Mira", "Tom"]


def test_reference_words_per_model() -> None:
    assert style_for("wan2.6-r2v") is STYLES["wan2.6-r2v"]
    assert style_for("wan2.6-t2v") is None
    assert substitute("Mira waves at Tom; Tom's hat, Miranda", ["Mira", "Tom"], STYLES["wan2.6-r2v"]) == (
        "character1 waves at character2; character2's hat, Miranda"
    )
    assert substitute("Mira and Tom", ["Mira", "Tom"], STYLES["wan2.7-r2v"]) == "Image 1 and Image 2"


def test_cast_add_list_show_remove(two_characters: list[str]) -> None:
    assert (Path("cast/Mira/cast.toml")).is_file() and Path("cast/Mira/portrait.png").is_file()
    listed = json.loads(run("cast", "list", "--json").stdout)
    assert [m["name"] for m in listed["cast"]] == ["Mira", "Tom"]
    # Found like git: from a sub-folder the same cast answers.
    Path("sub/deeper").mkdir(parents=True)
    import os

    os.chdir("sub/deeper")
    shown = json.loads(run("cast", "show", "Tom", "--json").stdout)
    assert shown["images"][0].endswith("cast/Tom/portrait.png")
    assert run("cast", "remove", "Tom").exit_code == 0
    assert [m["name"] for m in json.loads(run("cast", "list", "--json").stdout)["cast"]] == ["Mira"]


def test_cast_member_without_a_usable_image_is_one_line(isolated_env: Path) -> None:
    result = run("cast", "add", "Tiny", "--image", str(picture(Path("tiny.png"), (1, 2, 3), (100, 100))))
    assert result.exit_code == 2
    assert "Cast member 'Tiny' has no usable image" in result.stderr
    assert "Traceback" not in result.stderr and not Path("cast/Tiny").exists()
    # A member whose image went missing later: refused before anything is sent.
    assert run("cast", "add", "Gone", "--image", str(picture(Path("gone.png"), (9, 9, 9)))).exit_code == 0
    Path("cast/Gone/portrait.png").unlink()
    result = run("t2v", "Gone walks", "--cast", "Gone", "--dry-run")
    assert result.exit_code == 2
    assert result.stderr.count("\n") <= 3 and "Gone" in result.stderr


def test_one_liner_with_cast_sends_references_and_the_models_words(
    cli: EmulatorThread, two_characters: list[str]
) -> None:
    result = run("t2v", "Mira waves at Tom on the pier", "--cast", "Mira", "--cast", "Tom", "--duration", "2")
    assert result.exit_code == 0, result.stderr
    assert "using wan2.6-r2v-flash" in result.stderr
    assert "Prompt as sent: character1 waves at character2 on the pier" in result.stderr
    (task,) = cli.state.tasks
    assert task.body["model"] == "wan2.6-r2v-flash"
    assert task.body["input"]["prompt"] == "character1 waves at character2 on the pier"
    assert len(task.body["input"]["reference_urls"]) == 2
    assert probe_mp4(Path(result.stdout.strip())).duration == pytest.approx(2.0, abs=0.1)


def test_wan27_takes_voices_and_says_image_n(cli: EmulatorThread, two_characters: list[str]) -> None:
    from tests.support.sound import make_tone_wav

    make_tone_wav(Path("tom.wav"), [(2.0, True)])
    assert run("cast", "add", "Tom", "--image", "tom.png", "--voice", "tom.wav", "--replace").exit_code == 0
    result = run("r2v", "Tom greets Mira", "--cast", "Tom", "--cast", "Mira", "--dry-run")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)["payload"]
    assert payload["model"] == "wan2.7-r2v"  # a voice sample picks the model that takes voices
    assert payload["input"]["prompt"] == "Image 1 greets Image 2"
    media = payload["input"]["media"]
    assert [item["type"] for item in media] == ["reference_image", "reference_image"]
    assert "reference_voice" in media[0] and "reference_voice" not in media[1]  # Tom's voice goes with Tom


def test_model_that_cannot_keep_a_cast_is_exit_2_nothing_paid(cli: EmulatorThread, two_characters: list[str]) -> None:
    result = run("t2v", "Mira waves", "--cast", "Mira", "--model", "wan2.6-t2v")
    assert result.exit_code == 2
    assert "--model wan2.6-t2v cannot keep a cast" in result.stderr
    assert cli.state.task_count() == 0


def test_plan_cast_puts_references_in_every_step_that_shows_them(
    cli: EmulatorThread, two_characters: list[str]
) -> None:
    Path("tale.toml").write_text(
        """
name = "tale"
cast = ["Mira", "Tom"]

[defaults.t2v]
model = "wan2.1-t2v-turbo"
size = "832*480"

[steps.harbour]
mode = "t2v"
prompt = "A quiet harbour at dawn"

[steps.meet]
prompt = "Mira waves at Tom"
duration = 2

[steps.alone]
prompt = "Tom walks home alone"
duration = 2
""",
        encoding="utf-8",
    )
    dry = run("run", "tale.toml", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert "step 'meet': prompt as sent: character1 waves at character2" in dry.stderr
    result = run("run", "tale.toml", "--yes")
    assert result.exit_code == 0, result.stderr
    bodies = {t.body["input"]["prompt"]: t.body for t in cli.state.tasks}
    assert len(bodies["character1 waves at character2"]["input"]["reference_urls"]) == 2
    assert len(bodies["character1 walks home alone"]["input"]["reference_urls"]) == 1
    assert "reference_urls" not in bodies["A quiet harbour at dawn"]["input"]


def test_plan_with_a_model_that_cannot_keep_a_cast(cli: EmulatorThread, two_characters: list[str]) -> None:
    Path("bad.toml").write_text(
        '[steps.a]\nmodel = "wan2.6-t2v"\nprompt = "Mira runs"\ncast = ["Mira"]\n', encoding="utf-8"
    )
    result = run("run", "bad.toml", "--yes")
    assert result.exit_code == 2
    assert "--model wan2.6-t2v cannot keep a cast" in result.stderr
    assert cli.state.task_count() == 0


def test_portrait_from_a_description_cost_first_then_reused(cli: EmulatorThread, isolated_env: Path) -> None:
    result = run("cast", "add", "Ada", "--describe", "a grey-haired lighthouse keeper")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0].startswith("Cost: free (local emulator). A real run: portrait 1 image on wan2.6-t2i.")
    assert "model-pricing" in lines[0]
    with Image.open("cast/Ada/portrait.png") as image:
        assert image.size == (1104, 1472)
    ledger = sqlite3.connect(isolated_env / "ledger.sqlite3")
    assert ledger.execute("SELECT kind, model, units, unit FROM story_costs").fetchall() == [
        ("portrait", "wan2.6-t2i", 1.0, "images")
    ]
    again = run("cast", "add", "Ada2", "--describe", "a grey-haired lighthouse keeper")
    assert again.exit_code == 0 and "reused" in again.stderr
    assert ledger.execute("SELECT COUNT(*) FROM story_costs").fetchone()[0] == 1


def test_adding_a_take_pays_for_one_more(cli: EmulatorThread, isolated_env: Path) -> None:
    plan = Path("t.toml")
    text = '[steps.a]\nmodel = "wan2.1-t2v-turbo"\nsize = "832*480"\nprompt = "Waves"\ntakes = 2\n'
    plan.write_text(text, encoding="utf-8")
    assert run("run", "t.toml", "--yes").exit_code == 0
    plan.write_text(text.replace("takes = 2", "takes = 3"), encoding="utf-8")
    result = run("run", "t.toml", "--yes")
    assert result.exit_code == 0, result.stderr
    assert len(cli.state.tasks) == 3 and "2 reused" in result.stderr


def test_portrait_amount_only_from_the_users_price_table(isolated_env: Path) -> None:
    from qwenvid.story.costs import ExtraCost, cost_lines

    cost = ExtraCost("portrait", "wan2.6-t2i", 1, "images")
    assert len(cost_lines(cost, prices=None, emulated=False)) == 1
    lines = cost_lines(cost, prices={"currency": "USD", "wan2.6-t2i": 0.03}, emulated=False)
    assert lines[1] == "Estimated amount: 0.03 USD (your price table, per image)"


def test_plan_with_a_voice_sample_sends_it_with_its_reference(cli: EmulatorThread, two_characters: list[str]) -> None:
    from tests.support.sound import make_tone_wav

    make_tone_wav(Path("tom.wav"), [(2.0, True)])
    assert run("cast", "add", "Tom", "--image", "tom.png", "--voice", "tom.wav", "--replace").exit_code == 0
    Path("v.toml").write_text('cast = ["Mira", "Tom"]\n[steps.a]\nprompt = "Tom sings to Mira"\nduration = 2\n')
    result = run("run", "v.toml", "--yes")
    assert result.exit_code == 0, result.stderr
    assert "using wan2.7-r2v (it takes reference images and a voice per reference)" in result.stderr
    (task,) = cli.state.tasks
    assert task.body["input"]["prompt"] == "Image 2 sings to Image 1"
    assert task.body["parameters"]["resolution"] == "720P"
    media = task.body["input"]["media"]
    assert "reference_voice" not in media[0] and media[1]["reference_voice"].startswith("oss://")
