"""Subtitles burned into the picture with Pillow's bundled font; the sound carried over sample-exact."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from qwenvid.story.narration import Cue


def _text_at(cues: Sequence[Cue], seconds: float) -> str | None:
    for cue in cues:
        if cue.start <= seconds < cue.end:
            return cue.text
    return None


def burn_subtitles(video: Path, cues: Sequence[Cue], output: Path) -> Path:
    """`video` re-encoded with each cue's text drawn at the bottom while it is spoken."""
    import textwrap

    import av
    from PIL import ImageDraw, ImageFont

    from qwenvid.media.clips._av import AudioFeed, VideoEncoder, atomic_output, frame_rate, normalised_audio, open_input

    with open_input(video, "video") as source:
        stream = source.streams.video[0]
        fps = frame_rate(stream)
        has_audio = bool(source.streams.audio)
        width, height = stream.codec_context.width, stream.codec_context.height
        size = max(12, height // 22)
        font: Any = ImageFont.load_default(size=size)
        chars = max(16, int(width / (size * 0.55)))
        with atomic_output(output) as temp:
            encoder = VideoEncoder.open(temp, width, height, fps, audio=has_audio)
            feed = AudioFeed(normalised_audio(video) if has_audio else None)
            try:
                for frame in source.decode(stream):
                    at = frame.pts * stream.time_base if frame.pts is not None else encoder.frames / fps
                    seconds = float(at)
                    text = _text_at(cues, seconds)
                    if text:
                        image = frame.to_image()
                        draw = ImageDraw.Draw(image)
                        lines = textwrap.wrap(text, chars)[:3]
                        y = height - (len(lines) + 1) * int(size * 1.3)
                        for line in lines:
                            box = draw.textbbox((0, 0), line, font=font)
                            x = (width - (box[2] - box[0])) // 2
                            draw.text((x, y), line, font=font, fill=(255, 255, 255), stroke_width=2,
                                      stroke_fill=(0, 0, 0))
                            y += int(size * 1.3)
                        frame = av.VideoFrame.from_image(image)
                    encoder.add_frame(frame)
                    feed.fill(encoder.audio, round(encoder.frames / fps * 48_000))
            finally:
                feed.close()
                encoder.close()
    return output
