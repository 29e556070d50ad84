"""The finished film: narration laid under the plan's film step, subtitles beside it (burned in on request)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from qwenvid.errors import ValidationError
from qwenvid.story.narration import Cue, place, speak, srt_text, write_track

if TYPE_CHECKING:
    from qwenvid.tasks.extra_budget import ExtraBudget

FINAL_NAME = "final.mp4"


@dataclass(frozen=True)
class Finished:
    video: Path
    subtitles: Path
    cues: tuple[Cue, ...]
    track: Path
    spoken_reused: int
    spoken_new: int
    burned: Path | None = None


def _file_of(manifest: Any, sid: str) -> Path:
    record = manifest.steps.get(sid)
    if record is None or record.status not in ("done", "reused") or not record.file:
        raise ValidationError(f"step {sid!r} has no finished video yet")
    return Path(record.file)


def shot_starts(spec: Any, manifest: Any, film: str) -> dict[str, float]:
    """Where each shot starts in the film (the concat's inputs in order, their real lengths)."""
    from qwenvid.media.clips import video_info

    step = spec.steps[film]
    inputs = step.fields.get("inputs") or []
    picked = {take: base for base, take in spec.picks.items()}
    starts: dict[str, float] = {}
    at = 0.0
    for value in inputs:
        if not isinstance(value, str) or not value.startswith("@") or ":" in value:
            continue
        sid = value[1:]
        starts[picked.get(sid, sid)] = at
        starts[sid] = at
        at += float(video_info(_file_of(manifest, sid)).duration or 0.0)
    return starts


def finish_film(
    spec: Any,
    manifest: Any,
    *,
    api_key: str | None,
    base_url: str,
    ledger: Path,
    transport: httpx.BaseTransport | None = None,
    budget: ExtraBudget | None = None,
) -> Finished | None:
    """Speak the lines (reusing earlier ones), lay them under the film, write final.mp4 and final.srt."""
    from qwenvid.media.clips.audio import add_audio

    narration = spec.narration
    if narration is None or not narration.lines:
        return None
    folder = Path(manifest.folder)
    film = _file_of(manifest, narration.film)
    spoken = speak(
        narration, api_key=api_key, base_url=base_url, ledger=ledger, folder=folder, transport=transport, budget=budget
    )
    cues = place(spoken, shot_starts(spec, manifest, narration.film))
    track = write_track(spoken, cues, folder / "narration" / "track.wav")
    final = folder / FINAL_NAME
    add_audio(film, track, final, mode="mix", fit="pad", overwrite=True)
    subtitles = final.with_suffix(".srt")
    temp = subtitles.with_name(subtitles.name + ".part")
    temp.write_text(srt_text(cues), encoding="utf-8")
    temp.replace(subtitles)
    burned = None
    if narration.burn_subtitles:
        from qwenvid.story.burn import burn_subtitles

        burned = burn_subtitles(final, cues, folder / "final-subtitled.mp4")
    reused = sum(1 for s in spoken if s.reused)
    manifest.film = {
        "video": str(final),
        "subtitles": str(subtitles),
        "subtitled_video": str(burned) if burned else None,
        "narration_seconds": round(cues[-1].end, 3) if cues else 0.0,
        "lines": [{"start": c.start, "end": c.end, "text": c.text} for c in cues],
    }
    manifest.write(folder)  # manifest.json names the narrated film too
    return Finished(final, subtitles, tuple(cues), track, reused, len(spoken) - reused, burned)
