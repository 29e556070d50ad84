"""After a plan ran: a contact sheet per step with takes (PNG in the plan folder, a strip on a terminal)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qwenvid.cli._session import CliState


def takes_done(manifest: Any, takes: list[str]) -> list[Path] | None:
    files = []
    for sid in takes:
        record = manifest.steps.get(sid)
        if record is None or record.status not in ("done", "reused") or not record.file:
            return None
        files.append(Path(record.file))
    return files


def story_costs(out: Any, spec: Any, settings: Any, *, emulated: bool) -> None:
    """The narration's own cost line under the plan's (characters of Qwen TTS; reused lines cost nothing)."""
    if spec.narration is None or not spec.narration.lines or out.quiet:
        return
    from qwenvid.requests.cost import is_free_service
    from qwenvid.story.costs import cost_lines
    from qwenvid.story.narration import narration_cost

    free = emulated or is_free_service(settings.base_url)
    for line in cost_lines(narration_cost(spec.narration), prices=settings.prices, emulated=free):
        out.notice(line.replace("Cost: ", "Cost of the narration: ", 1) + " (lines spoken before are reused)")


def after_plan(state: CliState, settings: Any, spec: Any, manifest: Any) -> Callable[[], None]:
    """Takes get their contact sheets; a plan with narration gets its narrated film and subtitles.

    Returns what to print after the plan's own report (the finished film's paths come last)."""
    sheets(state, settings, spec, manifest)
    if spec.narration is None or not spec.narration.lines:
        return lambda: None
    from qwenvid.plans.scheduler import exit_status
    from qwenvid.story.finish import finish_film

    out = state.out
    if exit_status(manifest):
        return lambda: out.warning(
            "The narration waits for the film: run the same command again when every step is done."
        )
    from qwenvid.tasks.extra_budget import ExtraBudget

    finished = finish_film(
        spec,
        manifest,
        api_key=settings.api_key,
        base_url=settings.base_url,
        ledger=settings.ledger_path,
        budget=ExtraBudget(settings),
    )
    if finished is None:
        return lambda: None

    def report() -> None:
        spoken = f"{finished.spoken_new} line(s) spoken, {finished.spoken_reused} reused"
        out.info(f"Narrated film: {finished.video} ({spoken}); subtitles: {finished.subtitles}")
        if out.json:
            return
        out.result(str(finished.video))
        out.result(str(finished.subtitles))
        if finished.burned is not None:
            out.result(str(finished.burned))

    return report


def sheets(state: CliState, settings: Any, spec: Any, manifest: Any) -> None:
    """Write STEP-takes.png for every step whose takes are all there, and show it where a picture can be drawn."""
    if not spec.takes:
        return
    from qwenvid.story.takes import takes_sheet

    out = state.out
    folder = Path(manifest.folder)
    for base, takes in spec.takes.items():
        files = takes_done(manifest, takes)
        if files is None:
            continue
        picked = spec.picks.get(base)
        labels = [f"take {n}{' (picked)' if sid == picked else ''}" for n, sid in enumerate(takes, start=1)]
        try:
            sheet = takes_sheet(files, folder / f"{base}-takes.png", labels=labels)
        except Exception as exc:  # noqa: BLE001 - a sheet is a courtesy; the plan's videos are made
            out.warning(f"no contact sheet for {base}'s takes: {exc}")
            continue
        out.info(f"Takes of {base}: {sheet}  (choose with `qwenvid pick {base} N --plan {spec.source or spec.name}`)")
        show_takes(state, settings, files, labels)


def show_takes(state: CliState, settings: Any, files: list[Path], labels: list[str]) -> None:
    """The takes side by side as a strip in the terminal (one middle frame each), with their labels under it."""
    from qwenvid.cli._output import stderr_is_terminal
    from qwenvid.cli._preview import ThumbnailStrip, can_draw

    out = state.out
    if out.json or out.quiet or not state.preview or not getattr(settings, "preview", True):
        return
    if not stderr_is_terminal() or not can_draw(out.console):
        return
    try:
        from qwenvid.media.clips import thumbnails

        frames = []
        for index, video in enumerate(files):
            shots = list(thumbnails(video, 3, width=96))
            frames.append((float(index), shots[len(shots) // 2][1]))
        out.console.print(ThumbnailStrip(frames, max_rows=4))
        out.console.print("   ".join(labels), markup=False, highlight=False)
    except Exception:  # noqa: BLE001 - a preview never fails the command
        return
