"""The plan data model: steps, references between steps, and the problems validation reports."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

MEDIA_OPS = ("trim", "tail", "frame", "concat", "add_audio")
GEN_MODES = ("t2v", "i2v", "kf2v", "r2v", "vace", "s2v", "animate")
StepKind = Literal["generate", "media"]

# A step id: letters, digits, `_` and `-` (a file name on every system, and no `:` which starts a reference part).
STEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
# References (README "Plans"): `@step` its video, `@step:last-frame` its last frame (PNG),
# `@step:last-3s` / `@step:last-2.5s` its last N seconds (MP4).
REFERENCE = re.compile(r"^@(?P<step>[^:\s]+)(?::(?P<part>[^\s]+))?$")
_LAST_SECONDS = re.compile(r"^last-(?P<n>\d+(?:\.\d+)?)s$")


@dataclass(frozen=True)
class Ref:
    """A step's output used as another step's input."""

    step: str
    part: Literal["video", "last_frame", "tail"] = "video"
    seconds: float | None = None

    @property
    def text(self) -> str:
        if self.part == "last_frame":
            return f"@{self.step}:last-frame"
        if self.part == "tail":
            return f"@{self.step}:last-{self.seconds:g}s"
        return f"@{self.step}"

    @property
    def derived_id(self) -> str | None:
        """The hidden media step that makes this part (None for the video itself)."""
        if self.part == "last_frame":
            return f"{self.step}.last-frame"
        if self.part == "tail":
            return f"{self.step}.last-{self.seconds:g}s"
        return None

    @property
    def producer(self) -> str:
        return self.derived_id or self.step


def parse_reference(text: str) -> Ref | str:
    """A Ref for `@...` text, or a one-line complaint about its syntax (a plain path is not a reference)."""
    match = REFERENCE.match(text)
    if match is None:
        return f"{text!r} is not a reference: use @STEP, @STEP:last-frame or @STEP:last-Ns"
    step, part = match["step"], match["part"]
    if part is None or part == "video":
        return Ref(step)
    if part in ("last-frame", "last_frame"):
        return Ref(step, "last_frame")
    seconds = _LAST_SECONDS.match(part)
    if seconds is not None and float(seconds["n"]) > 0:
        return Ref(step, "tail", float(seconds["n"]))
    return f"{text!r}: unknown reference part {part!r} (use :last-frame or :last-Ns, e.g. :last-3s)"


def is_reference(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("@")


@dataclass
class Step:
    """One node of a plan: a generation (mode + request fields) or a media operation (op + params)."""

    id: str
    kind: StepKind
    fields: dict[str, Any]  # generation: request fields; media: the op's parameters (inputs included)
    mode: str | None = None  # generation mode (t2v, i2v, ...)
    op: str | None = None  # media op (trim, tail, frame, concat, add_audio)
    output: str | None = None  # file name inside the plan folder, when the plan names one
    variant: int | None = None  # repeat index: identical requests made on purpose are different steps
    hidden: bool = False  # made by a reference part (`@x:last-frame`), not written by the user
    refs: list[Ref] = field(default_factory=list)
    line: int | None = None  # where a batch row is in its file, for messages

    @property
    def suffix(self) -> str:
        return ".png" if self.op == "frame" else ".mp4"

    def output_name(self) -> str:
        return self.output or f"{self.id}{self.suffix}"

    @property
    def depends_on(self) -> list[str]:
        return sorted({ref.producer for ref in self.refs})


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a plan, said in one line, with the step it belongs to."""

    message: str
    step: str | None = None
    line: int | None = None

    def text(self, source: str = "") -> str:
        where = source
        if self.line is not None:
            where += f":{self.line}" if where else f"line {self.line}"
        prefix = f"{where}: " if where else ""
        step = f"step {self.step!r}: " if self.step else ""
        return f"{prefix}{step}{self.message}"


@dataclass
class PlanSpec:
    """A parsed plan: its name, its steps in file order, where it came from."""

    name: str
    steps: dict[str, Step]
    source: Path | None = None
    base_dir: Path = field(default_factory=Path.cwd)
    problems: list[Problem] = field(default_factory=list)  # found while reading; validation adds the rest
    # Stories (qwenvid/story/): steps with `takes = N` -> their take ids; the take later steps build on; notices.
    takes: dict[str, list[str]] = field(default_factory=dict)
    picks: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    narration: Any = None  # the plan's [narration] table, read (qwenvid/story/narration.py)
    cast_files: list[str] = field(default_factory=list)  # the cast's files: the user's own choice (product §3.1)

    def ordered(self) -> list[Step]:
        return list(self.steps.values())

    @property
    def generation_steps(self) -> list[Step]:
        return [s for s in self.steps.values() if s.kind == "generate"]
