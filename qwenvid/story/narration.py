"""Narration: lines spoken with Qwen TTS, laid under the film at their shots, and subtitles timed to the speech."""

from __future__ import annotations

import hashlib
import wave
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from qwenvid.errors import ValidationError
from qwenvid.story.costs import ExtraCost, reuse_or_call
from qwenvid.wire.speech import MAX_CHARACTERS, TTS_MODEL, speech_body, synthesize

if TYPE_CHECKING:
    from qwenvid.tasks.extra_budget import ExtraBudget

GAP_SECONDS = 0.25  # between two lines that would otherwise touch


@dataclass(frozen=True)
class Line:
    shot: str
    text: str
    voice: str
    speaker: str = "narrator"


@dataclass(frozen=True)
class Narration:
    film: str
    lines: tuple[Line, ...]
    burn_subtitles: bool = False
    model: str = TTS_MODEL

    @property
    def characters(self) -> int:
        return sum(len(line.text) for line in self.lines)


def read_narration(data: Any, steps: Sequence[str]) -> Narration:
    """The plan's `[narration]` table: film step, narrator voice, voices per speaker, lines per shot."""
    from qwenvid.story.cast import TTS_VOICES

    if not isinstance(data, Mapping):
        raise ValidationError("[narration] must be a table")
    film = data.get("film", "film")
    if film not in steps:
        raise ValidationError(f"[narration] film = {film!r}: the plan has no such step")
    narrator = data.get("voice", "Cherry")
    voices = data.get("voices") or {}
    if not isinstance(voices, Mapping):
        raise ValidationError("[narration.voices] must be a table of speaker = voice")
    lines = []
    for index, item in enumerate(data.get("lines") or [], start=1):
        if not isinstance(item, Mapping) or not isinstance(item.get("text"), str) or not item["text"].strip():
            raise ValidationError(f"[[narration.lines]] #{index} needs text = \"...\"")
        shot = item.get("shot")
        if shot not in steps:
            raise ValidationError(f"[[narration.lines]] #{index}: shot {shot!r} is not a step of the plan")
        speaker = str(item.get("speaker") or "narrator")
        voice = str(item.get("voice") or voices.get(speaker) or narrator)
        if voice not in TTS_VOICES:
            raise ValidationError(
                f"[[narration.lines]] #{index}: voice {voice!r} is not a Qwen TTS voice "
                f"(allowed: {', '.join(TTS_VOICES)})"
            )
        text = " ".join(item["text"].split())
        if len(text) > MAX_CHARACTERS:
            raise ValidationError(f"[[narration.lines]] #{index}: {len(text)} characters; at most {MAX_CHARACTERS}")
        lines.append(Line(str(shot), text, voice, speaker))
    return Narration(str(film), tuple(lines), bool(data.get("burn_subtitles", False)))


def narration_cost(narration: Narration) -> ExtraCost:
    return ExtraCost("narration", narration.model, narration.characters, "characters")


@dataclass(frozen=True)
class Spoken:
    line: Line
    path: Path
    seconds: float
    reused: bool


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as wav:
        return wav.getnframes() / float(wav.getframerate())


def speak(
    narration: Narration,
    *,
    api_key: str | None,
    base_url: str,
    ledger: Path,
    folder: Path,
    transport: httpx.BaseTransport | None = None,
    budget: ExtraBudget | None = None,
) -> list[Spoken]:
    """Each line's WAV in `folder/narration/`; a line spoken before (same text, voice, model) is reused.

    With `budget`, every line still to be spoken is checked and held at once against the amount budgets before
    the first is spoken (exit 11, nothing spoken): a narration is paid whole or not at all."""
    from contextlib import nullcontext

    from qwenvid.story.costs import reusable

    planned = []
    for line in narration.lines:
        body = speech_body(line.text, line.voice, model=narration.model)
        key = hashlib.sha256(repr(sorted(body.items())).encode("utf-8")).hexdigest()[:20]
        target = folder / "narration" / f"{line.shot}-{key}.wav"

        def usable(detail: dict[str, Any], target: Path = target) -> bool:
            return target.is_file() or Path(str(detail.get("path", ""))).is_file()

        planned.append((line, body, target, usable))
    to_speak = [
        item for item in planned
        if reusable(ledger, kind="narration", model=narration.model, body=item[1], base_url=base_url,
                    usable=item[3]) is None
    ]  # fmt: skip
    characters = float(sum(len(item[0].text) for item in to_speak))
    hold = nullcontext() if budget is None or not to_speak else budget.hold(narration.model, "characters", characters)
    with hold:
        return _speak(narration, planned, api_key=api_key, base_url=base_url, ledger=ledger, transport=transport)


def _speak(
    narration: Narration,
    planned: Sequence[tuple[Line, dict[str, Any], Path, Callable[[dict[str, Any]], bool]]],
    *,
    api_key: str | None,
    base_url: str,
    ledger: Path,
    transport: httpx.BaseTransport | None,
) -> list[Spoken]:
    from qwenvid.wire.story_http import download

    spoken = []
    for line, body, target, usable in planned:

        def call(body: dict[str, Any] = body, target: Path = target) -> tuple[float, str, dict[str, Any]]:
            result = synthesize(api_key, base_url, body, transport=transport)
            download(result.url, target, transport=transport)
            return float(result.characters), "characters", {"path": str(target), "request_id": result.request_id}

        detail, reused = reuse_or_call(
            ledger,
            kind="narration",
            model=narration.model,
            body=body,
            base_url=base_url,
            usable=usable,
            call=call,
        )
        if not target.is_file():
            import shutil

            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(detail["path"], target)
        spoken.append(Spoken(line, target, wav_seconds(target), reused))
    return spoken


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def place(spoken: Sequence[Spoken], shot_starts: Mapping[str, float]) -> list[Cue]:
    """Each line at the start of its shot, or just after the line before it when that one is still speaking."""
    cues: list[Cue] = []
    free_at = 0.0
    for item in spoken:
        start = max(shot_starts.get(item.line.shot, 0.0), free_at)
        cues.append(Cue(round(start, 3), round(start + item.seconds, 3), item.line.text))
        free_at = start + item.seconds + GAP_SECONDS
    return cues


def write_track(spoken: Sequence[Spoken], cues: Sequence[Cue], target: Path) -> Path:
    """One WAV with every line at its cue and silence between (all lines share the TTS output format)."""
    params = None
    frames: list[tuple[int, bytes]] = []
    for item, cue in zip(spoken, cues, strict=True):
        with wave.open(str(item.path)) as wav:
            here = (wav.getnchannels(), wav.getsampwidth(), wav.getframerate())
            if params is None:
                params = here
            elif here != params:
                raise ValidationError(f"{item.path.name}: narration lines differ in audio format ({here} vs {params})")
            frames.append((round(cue.start * here[2]), wav.readframes(wav.getnframes())))
    channels, width, rate = params or (1, 2, 24000)
    block = channels * width
    total = max((at + len(data) // block for at, data in frames), default=rate)
    buffer = bytearray(total * block)
    for at, data in frames:
        buffer[at * block : at * block + len(data)] = data
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(target.name + ".part")
    with wave.open(str(temp), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(width)
        out.setframerate(rate)
        out.writeframes(bytes(buffer))
    temp.replace(target)
    return target


def _stamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d},{millis:03d}"


def srt_text(cues: Sequence[Cue]) -> str:
    blocks = [f"{n}\n{_stamp(c.start)} --> {_stamp(c.end)}\n{c.text}\n" for n, c in enumerate(cues, start=1)]
    return "\n".join(blocks)


def parse_srt(text: str) -> list[Cue]:
    """SRT back into cues (tests, and a user's edited file)."""
    cues = []
    for block in text.strip().split("\n\n"):
        rows = block.strip().splitlines()
        if len(rows) < 3:
            continue
        start, _, end = rows[1].partition(" --> ")

        def seconds(stamp: str) -> float:
            hms, _, millis = stamp.strip().partition(",")
            h, m, s = (int(v) for v in hms.split(":"))
            return h * 3600 + m * 60 + s + int(millis) / 1000

        cues.append(Cue(seconds(start), seconds(end), "\n".join(rows[2:])))
    return cues
