"""`qwenvid pick STEP [TAKE]`: choose which take of a step later steps build on (recorded in the plan's folder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from qwenvid.cli._help import examples
from qwenvid.cli._options import JsonOpt, YesOpt
from qwenvid.cli._session import state_of
from qwenvid.errors import ValidationError

PICK_EXAMPLES = examples(
    "qwenvid pick opening 2 --plan examples/tale.toml",
    "qwenvid --emulator pick opening 3 --plan examples/tale.toml --run --yes",
)


def pick(
    ctx: typer.Context,
    step: Annotated[str, typer.Argument(help="A plan step with takes = N.", show_default=False)],
    take: Annotated[
        int | None, typer.Argument(help="The take number (1..N); on a terminal, asked when left out.", min=1)
    ] = None,
    plan: Annotated[
        Path | None,
        typer.Option("--plan", help="The plan file. Default: the plan whose output folder has takes of STEP."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Folder the plan's folder is in. Default: output/qwenvid.")
    ] = None,
    run: Annotated[
        bool, typer.Option("--run", help="Run the plan now: what is built on the take is made again.")
    ] = False,
    yes: YesOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Choose the take of a step that later steps build on; picking itself pays nothing.

    The steps built on the take are made again (and paid for) on the next run, which the preview shows first."""
    from qwenvid.cli._session import load_settings, open_session
    from qwenvid.cli.run import _checked, _print_preview, run_plan
    from qwenvid.plans.execute import plan_folder, prepare
    from qwenvid.plans.parse import load_plan
    from qwenvid.story.takes import read_picks, write_picks

    state = state_of(ctx, json_out)
    out = state.out
    output_dir = output or load_settings(state).output_dir
    plan_file = plan or _plan_with_takes(Path(output_dir), step)
    spec = _checked(out, lambda: load_plan(plan_file))
    if step not in spec.takes:
        with_takes = ", ".join(spec.takes) or "none"
        raise ValidationError(
            f"Step {step!r} of {plan_file} has no takes (steps with takes: {with_takes}).",
            hint="Give the step takes = N in the plan.",
        )
    folder = plan_folder(Path(output_dir), spec.name)
    count = len(spec.takes[step])
    if take is None:
        take = _ask(state, folder, step, count)
    if not 1 <= take <= count:
        raise ValidationError(f"Take {take}: {step} has takes 1-{count}.")
    picks = read_picks(folder)
    before = picks.get(step, 1)
    picks[step] = take
    write_picks(folder, picks)
    note = "unchanged" if before == take else f"was take {before}"
    out.info(f"Picked take {take} of {step} ({note}); recorded in {folder / 'picks.json'} and the manifest.")
    if run:
        run_plan(state, spec, output=output, yes=yes)
        return
    with open_session(state) as opened:
        prepared, _backend, _finder = _checked(
            out, lambda: prepare(opened.session, spec, Path(output_dir), emulated=opened.emulated)
        )
        _print_preview(out, prepared, emulated=opened.emulated)
    out.info(f"Run `qwenvid run {plan_file}` (or pick again with --run) to build on it; picking itself paid nothing.")
    if out.json:
        out.result_json({"step": step, "take": take, "picks": picks, "new_seconds": prepared.new_seconds})


def _ask(state: Any, folder: Path, step: str, count: int) -> int:
    """The interactive choice: the takes side by side, then a number."""
    from qwenvid.cli._cost import is_interactive
    from qwenvid.errors import ConfirmationRequired

    if not is_interactive():
        raise ConfirmationRequired(
            f"Which take of {step}? There is no terminal to ask on.", hint=f"Give it: `qwenvid pick {step} N`."
        )
    files = [folder / f"{step}-take{n}.mp4" for n in range(1, count + 1)]
    if all(f.is_file() for f in files):
        from qwenvid.cli._session import load_settings
        from qwenvid.cli._story_plan import show_takes

        show_takes(state, load_settings(state), files, [f"take {n}" for n in range(1, count + 1)])
        sheet = folder / f"{step}-takes.png"
        if sheet.is_file():
            state.out.info(f"Contact sheet: {sheet}")
    answer = typer.prompt(f"Which take of {step} (1-{count})?", type=int, err=True)
    return int(answer)


def _plan_with_takes(output_dir: Path, step: str) -> Path:
    """The plan file of the one manifest under the output folder that has takes of `step`."""
    found: list[Path] = []
    if output_dir.is_dir():
        for manifest in sorted(output_dir.glob("*/manifest.json")):
            try:
                data = json.loads(manifest.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            ids = {s.get("id") for s in data.get("steps", []) if isinstance(s, dict)}
            if f"{step}-take1" in ids and data.get("source"):
                found.append(Path(data["source"]))
    if len(found) == 1:
        return found[0]
    if not found:
        raise ValidationError(
            f"No plan under {output_dir} has takes of {step!r}.", hint="Name the plan: --plan FILE.toml."
        )
    raise ValidationError(
        f"Several plans have takes of {step!r}: {', '.join(map(str, found))}.", hint="Name one with --plan."
    )


def register(app: typer.Typer) -> None:
    app.command("pick", epilog=PICK_EXAMPLES)(pick)
