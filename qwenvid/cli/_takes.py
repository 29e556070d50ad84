"""`--takes N` on a one-liner: N variations of one request (seeds seed, seed+1, ... or drawn), one cost question."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from qwenvid.cli._output import Output
from qwenvid.cli._session import CliState


class _Collecting(Output):
    """The output of one take: its result kept for the one `takes` object instead of printed on its own."""

    def __init__(self, parent: Output) -> None:
        super().__init__(json=parent.json, quiet=parent.quiet, debug=parent.debug)
        self._console = parent.console
        self.results: list[Any] = []

    def result(self, text: str) -> None:
        self.results.append(text)

    def result_json(self, data: Any) -> None:
        self.results.append(data)


def take_seeds(seed: int | None, takes: int, draw: Any = None) -> list[int]:
    """seed, seed+1, ... when a seed is given; else drawn (and then shown, so a take can be made again)."""
    if seed is not None:
        return [(seed + n) % 2147483648 for n in range(takes)]
    import random

    rng = draw or random.SystemRandom()
    return [rng.randrange(0, 2147483648) for _ in range(takes)]


def take_output(output: Path | None, number: int) -> Path | None:
    """`-o x.mp4` becomes x-take1.mp4 ...; a folder stays a folder (names never overwrite there)."""
    if output is None or output.suffix.lower() != ".mp4":
        return output
    return output.with_name(f"{output.stem}-take{number}{output.suffix}")


def _sheet(state: CliState, videos: list[Path], labels: list[str]) -> Path | None:
    """The takes side by side: a PNG beside the first take, and a strip in the terminal."""
    if len(videos) < 2:
        return None
    from qwenvid.cli._session import load_settings
    from qwenvid.cli._story_plan import show_takes
    from qwenvid.story.takes import takes_sheet

    first = videos[0]
    stem = first.stem.removesuffix("-take1")
    target = first.with_name(f"{stem}-takes.png")
    try:
        takes_sheet(videos, target, labels=labels)
    except Exception as exc:  # noqa: BLE001 - a sheet is a courtesy; the takes are made
        state.out.warning(f"no contact sheet of the takes: {exc}")
        return None
    state.out.info(f"Takes side by side: {target}")
    show_takes(state, load_settings(state), videos, labels)
    return target


def run_takes(state: CliState, request: Any, flags: Any, takes: int, run_request: Callable[..., Any]) -> None:
    """Confirm N x the cost once, run the takes one after another, print one path a line (or one JSON object)."""
    from qwenvid.cli._cost import confirm_cost
    from qwenvid.cli._session import open_session

    out = state.out
    seeds = take_seeds(request.seed, takes)
    requests = [dataclasses.replace(request, seed=s) for s in seeds]
    if request.seed is None:
        out.info(f"Takes: {takes}, seeds drawn: {', '.join(str(s) for s in seeds)}.")
    else:
        out.info(f"Takes: {takes}, seeds {seeds[0]}-{seeds[-1]}.")
    if flags.dry_run:
        with open_session(state, timeout=flags.timeout) as opened:
            dry = [opened.session.dry_run(opened.session.plan(r)) for r in requests]
        out.result_json({"takes": dry})
        return
    if not flags.cost_confirmed:
        with open_session(state, timeout=flags.timeout) as opened:
            cost = opened.session.plan(requests[0]).cost
            total = dataclasses.replace(
                cost,
                billable_seconds=cost.billable_seconds * takes,
                reference_seconds=cost.reference_seconds * takes,
                amount=cost.amount * takes if cost.amount is not None else None,
            )
            if not out.quiet:
                out.notice(f"{takes} takes:")
            confirm_cost(total, settings=opened.settings, out=out, emulated=opened.emulated, yes=flags.yes)
    with _budget_for_all(state, flags, requests):  # all N takes within [budget], or none is sent (exit 11)
        _run_each(state, requests, flags, run_request)


def _budget_for_all(state: CliState, flags: Any, requests: list[Any]) -> AbstractContextManager[None]:
    from qwenvid.cli._session import open_session
    from qwenvid.requests.cost import is_free_service
    from qwenvid.tasks.budget import hold_all

    with open_session(state, timeout=flags.timeout) as opened:
        costs = [opened.session.plan(r).cost for r in requests]
        emulated = opened.emulated or is_free_service(opened.settings.base_url)
        settings = opened.settings
    amounts = [c.amount for c in costs]
    amount = None if any(a is None for a in amounts) else sum(a or 0.0 for a in amounts)
    return hold_all(settings, float(sum(c.billable_seconds for c in costs)), amount, emulated=emulated)


def _run_each(state: CliState, requests: list[Any], flags: Any, run_request: Callable[..., Any]) -> None:
    from qwenvid.errors import QwenvidError

    collected: list[Any] = []
    failures: list[QwenvidError] = []
    original = state.out
    for number, take in enumerate(requests, start=1):
        sink = _Collecting(original)
        state.out = sink
        take_flags = dataclasses.replace(flags, output=take_output(flags.output, number), cost_confirmed=True)
        try:
            run_request(state, take, take_flags)
        except QwenvidError as exc:
            failures.append(exc)
            original.error(f"take {number}: {exc.message}")
            collected.append({"take": number, "seed": take.seed, "error": exc.to_dict()})
            continue
        finally:
            state.out = original
        for item in sink.results:
            if isinstance(item, dict):
                collected.append({"take": number, "seed": take.seed, **item})
            else:
                collected.append({"take": number, "seed": take.seed, "video_path": item})
                original.result(str(item))
    videos = [Path(str(item["video_path"])) for item in collected if item.get("video_path")]
    sheet = _sheet(state, videos, [f"take {item['take']}" for item in collected if item.get("video_path")])
    if original.json:
        original.result_json({"takes": collected, "contact_sheet": str(sheet) if sheet else None})
    sys.stdout.flush()
    if failures:
        raise failures[0]
