"""Narration pieces: placing lines at their shots, the track, SRT round trip, subtitles burned into the picture."""

from __future__ import annotations

import wave
from pathlib import Path

import av
import pytest

from qwenvid.emulator.story_content import wav_bytes
from qwenvid.story.burn import burn_subtitles
from qwenvid.story.narration import Cue, Line, Spoken, parse_srt, place, srt_text, write_track
from tests.support.emulator import probe_mp4
from tests.support.videos import make_mp4


def spoken(tmp_path: Path, shot: str, text: str) -> Spoken:
    path = tmp_path / f"{shot}.wav"
    path.write_bytes(wav_bytes(text, "Cherry"))
    with wave.open(str(path)) as wav:
        seconds = wav.getnframes() / wav.getframerate()
    return Spoken(Line(shot, text, "Cherry"), path, seconds, reused=False)


def test_lines_start_with_their_shot_or_after_the_line_before(tmp_path: Path) -> None:
    long = spoken(tmp_path, "a", "A line long enough to run past the start of the next shot, and then some.")
    short = spoken(tmp_path, "b", "Short.")
    cues = place([long, short], {"a": 0.0, "b": 2.0})
    assert cues[0] == Cue(0.0, round(long.seconds, 3), long.line.text)
    assert cues[1].start == pytest.approx(long.seconds + 0.25, abs=0.001)  # it waited for the first line
    assert cues[1].end - cues[1].start == pytest.approx(short.seconds, abs=0.001)
    track = write_track([long, short], cues, tmp_path / "track.wav")
    with wave.open(str(track)) as wav:
        assert wav.getnframes() / wav.getframerate() == pytest.approx(cues[1].end, abs=0.001)
    assert parse_srt(srt_text(cues)) == [Cue(c.start, c.end, c.text) for c in cues]
    assert srt_text(cues).splitlines()[1] == f"00:00:00,000 --> 00:00:0{cues[0].end:.3f}".replace(".", ",")


def test_subtitles_burned_in_change_only_the_frames_they_are_spoken_over(tmp_path: Path) -> None:
    clip = make_mp4(tmp_path / "film.mp4", width=320, height=240, seconds=2.0, audio=True)
    out = burn_subtitles(clip, [Cue(1.0, 1.5, "Mira rows out at dawn.")], tmp_path / "subtitled.mp4")
    before, after = probe_mp4(clip), probe_mp4(out)
    assert (after.width, after.height) == (320, 240)
    assert after.duration == pytest.approx(before.duration, abs=0.05)
    assert after.audio_codecs == ("aac",)

    def bright_pixels(path: Path, at: float) -> int:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            for frame in container.decode(stream):
                if frame.pts is not None and float(frame.pts * stream.time_base) >= at:
                    image = frame.to_image().convert("L")
                    return sum(image.histogram()[201:])
        raise AssertionError("no frame")

    assert bright_pixels(out, 1.2) > bright_pixels(clip, 1.2) + 50  # white text while the line is spoken
    assert bright_pixels(out, 0.3) == bright_pixels(clip, 0.3)
