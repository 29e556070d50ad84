"""media.clips on real files: cuts are frame-accurate, joins keep sound continuous, soundtracks fit, inputs get fixed.

Inputs are small MP4s made with PyAV (solid frames whose brightness encodes the frame number, so a cut can
be checked frame by frame); every result is probed by decoding it with PyAV.
"""

from __future__ import annotations

from pathlib import Path

import av
import pytest
from PIL import Image

from qwenvid.emulator.render import RenderJob, render_video
from qwenvid.errors import ValidationError
from qwenvid.media import clips
from qwenvid.media.clips import ClipError
from qwenvid.requests.shapes import I2VRequest, VaceRequest, validate_request
from tests.support.media_files import make_image, make_mp4
from tests.support.sound import audio_seconds, loudness, make_tone_wav, video_frames_luma

FPS = 30


def brightness(index: int) -> int:
    """The luma make_mp4 gives frame `index`."""
    return (index * 7) % 256


def frame_number(luma: int, candidates: range) -> int:
    """Which frame (of `candidates`) a decoded luma belongs to; H.264 keeps a flat colour within a step or two."""
    best = min(candidates, key=lambda index: abs(brightness(index) - luma))
    assert abs(brightness(best) - luma) <= 2, f"luma {luma} matches no frame"
    return best


@pytest.fixture
def five_seconds(tmp_path: Path) -> Path:
    return make_mp4(tmp_path / "five.mp4", seconds=5.0, fps=FPS, audio=True)


# -- frame -------------------------------------------------------------------------------------------


def test_frame_at_last_is_the_last_decoded_frame_pixel_for_pixel(tmp_path: Path) -> None:
    # Frames that differ pixel by pixel (a gradient moving per frame), 2.1 s with a keyframe every 10 frames.
    source = tmp_path / "moving.mp4"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("libx264", rate=FPS, options={"g": "10"})
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        for index in range(63):
            image = Image.linear_gradient("L").resize((96, 64)).rotate(index * 5).convert("RGB")
            frame = av.VideoFrame.from_image(image)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with av.open(str(source)) as container:
        decoded = [frame.to_image() for frame in container.decode(video=0)]
    result = clips.extract_frame(source, tmp_path / "last.png", at="last")
    with Image.open(result.path) as written:
        assert written.tobytes() == decoded[-1].tobytes()
        assert written.tobytes() != decoded[-2].tobytes()
    assert result.time == pytest.approx(62 / FPS, abs=1e-3)
    middle = clips.extract_frame(source, tmp_path / "mid.png", at=1.5)  # between keyframes 40 and 50
    with Image.open(middle.path) as written:
        assert written.tobytes() == decoded[45].tobytes()
    first = clips.extract_frame(source, tmp_path / "first.png", at="first")
    with Image.open(first.path) as written:
        assert written.tobytes() == decoded[0].tobytes()


def test_frame_past_the_end_is_refused(five_seconds: Path, tmp_path: Path) -> None:
    with pytest.raises(ClipError, match=r"--at 7 is past the end .* \(5.00 s\)"):
        clips.extract_frame(five_seconds, tmp_path / "x.png", at=7.0)
    assert not (tmp_path / "x.png").exists()


# -- tail / trim ------------------------------------------------------------------------------------


def test_tail_3s_of_a_5s_clip_is_3s_and_starts_on_frame_60(five_seconds: Path, tmp_path: Path) -> None:
    result = clips.tail(five_seconds, tmp_path / "tail.mp4", seconds=3)
    lumas = video_frames_luma(Path(result.path))
    assert abs(len(lumas) - 90) <= 1
    assert result.duration == pytest.approx(3.0, abs=1 / FPS)
    assert frame_number(lumas[0], range(150)) == 60
    assert frame_number(lumas[-1], range(150)) == 149
    assert audio_seconds(Path(result.path)) == pytest.approx(3.0, abs=0.05)


def test_tail_longer_than_the_clip_keeps_all_of_it(tmp_path: Path) -> None:
    short = make_mp4(tmp_path / "short.mp4", seconds=1.0)
    result = clips.tail(short, tmp_path / "t.mp4", seconds=3)
    assert len(video_frames_luma(Path(result.path))) == 30


@pytest.mark.parametrize(
    ("start", "end", "duration", "first", "count"),
    [(1.0, 2.0, None, 30, 30), (0.5, None, 1.2, 15, 36), (2.7, None, None, 81, 69), (0.0, 0.1, None, 0, 3)],
)
def test_trim_is_frame_accurate(
    five_seconds: Path, tmp_path: Path, start: float, end: float | None, duration: float | None, first: int, count: int
) -> None:
    result = clips.trim(five_seconds, tmp_path / "cut.mp4", start=start, end=end, duration=duration)
    lumas = video_frames_luma(Path(result.path))
    assert len(lumas) == count
    assert [frame_number(luma, range(150)) for luma in lumas] == list(range(first, first + count))
    assert audio_seconds(Path(result.path)) == pytest.approx(count / FPS, abs=0.05)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": 6.0}, r"--start 6 is at or past the end"),
        ({"start": 2.0, "end": 1.0}, r"--end 1 must be after --start 2"),
        ({"start": 1.0, "end": 2.0, "duration": 1.0}, r"give --end or --duration, not both"),
        ({"start": -1.0}, r"--start -1 is negative"),
    ],
)
def test_trim_refuses_impossible_cuts(five_seconds: Path, tmp_path: Path, kwargs: dict, message: str) -> None:
    with pytest.raises(ClipError, match=message):
        clips.trim(five_seconds, tmp_path / "cut.mp4", **kwargs)
    assert list(tmp_path.glob("*cut*")) == []


# -- outputs: atomic, never over a file ------------------------------------------------------------


def test_an_existing_output_is_kept_unless_overwrite(five_seconds: Path, tmp_path: Path) -> None:
    target = tmp_path / "taken.mp4"
    target.write_bytes(b"precious")
    with pytest.raises(ClipError, match="already exists; use --force"):
        clips.tail(five_seconds, target, seconds=1)
    assert target.read_bytes() == b"precious"
    clips.tail(five_seconds, target, seconds=1, overwrite=True)
    assert clips.video_info(target).duration == pytest.approx(1.0, abs=0.04)
    assert [p.name for p in tmp_path.iterdir() if ".part" in p.name] == []


def test_a_corrupt_or_non_video_input_is_one_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 50)
    image = make_image(tmp_path / "still.png", 64, 64)
    for bad, reason in ((broken, "not a readable video"), (image, "still image"), (tmp_path / "no.mp4", "no such")):
        with pytest.raises(ClipError, match=reason) as caught:
            clips.tail(bad, tmp_path / "out.mp4", seconds=1)
        assert "\n" not in caught.value.message
        assert caught.value.exit_code == 2
    assert not (tmp_path / "out.mp4").exists()


# -- concat ----------------------------------------------------------------------------------------


def render(
    tmp_path: Path, name: str, seconds: float, *, size: tuple[int, int] = (320, 240), audio: bool = True
) -> Path:
    """A clip exactly as the emulator renders a Wan result."""
    path = tmp_path / name
    render_video(RenderJob("wan2.6-t2v", f"scene {name}", size[0], size[1], seconds, audio), path)
    return path


def test_concat_of_one_models_clips_copies_packets_and_lasts_the_sum(tmp_path: Path) -> None:
    parts = [render(tmp_path, f"part{index}.mp4", seconds) for index, seconds in enumerate((2.0, 1.0, 3.0))]
    result = clips.concat(parts, tmp_path / "story.mp4")
    assert result.method == "copy"
    assert result.duration == pytest.approx(6.0, abs=1 / FPS)
    assert len(video_frames_luma(Path(result.path))) == 180
    assert audio_seconds(Path(result.path)) == pytest.approx(6.0, abs=0.1)
    with av.open(result.path) as container:  # every packet in order: nothing a player would stumble on
        dts = [packet.dts for packet in container.demux(video=0) if packet.dts is not None]
        assert dts == sorted(dts) and len(set(dts)) == len(dts)


def test_concat_of_mixed_sizes_rates_and_sound_re_encodes_with_continuous_audio(tmp_path: Path) -> None:
    wide = render(tmp_path, "wide.mp4", 1.0, size=(320, 180), audio=True)  # 16:9, 30 fps, tone
    tall = make_mp4(tmp_path / "tall.mp4", width=120, height=160, seconds=1.0, fps=25)  # 3:4, 25 fps, silent
    other = make_mp4(tmp_path / "other.mp4", width=320, height=180, seconds=0.5, fps=24, audio=True)
    result = clips.concat([wide, tall, other], tmp_path / "mixed.mp4")
    assert result.method == "encode"
    assert (result.width, result.height, result.fps) == (320, 180, 30)
    assert len(video_frames_luma(Path(result.path))) == 75
    assert audio_seconds(Path(result.path)) == pytest.approx(2.5, abs=0.05)
    tone, silent, end = loudness(Path(result.path), [(0.1, 0.9), (1.1, 1.9), (2.1, 2.4)])
    assert tone > 0.01 and silent < 0.001 and end < 0.001  # the silent clip got silence, in sync
    with av.open(result.path) as container:  # the letterboxed 3:4 clip: black bars left and right
        frames = list(container.decode(video=0))
        bars = frames[45].to_image()
        assert bars.getpixel((5, 90)) == pytest.approx((0, 0, 0), abs=20)
    resized = clips.concat([wide, tall], tmp_path / "small.mp4", size=(160, 120), fps=10)
    assert (resized.width, resized.height, resized.fps, resized.frames) == (160, 120, 10, 20)


def test_concat_with_a_crossfade_overlaps_the_clips(tmp_path: Path) -> None:
    one = make_mp4(tmp_path / "one.mp4", seconds=1.0)
    two = make_mp4(tmp_path / "two.mp4", seconds=1.0)
    result = clips.concat([one, two], tmp_path / "faded.mp4", crossfade=0.5)
    assert result.frames == 45
    with pytest.raises(ClipError, match="not shorter than the shortest clip"):
        clips.concat([one, two], tmp_path / "bad.mp4", crossfade=1.0)


# -- add-audio -------------------------------------------------------------------------------------


@pytest.fixture
def silent_3s(tmp_path: Path) -> Path:
    return make_mp4(tmp_path / "silent.mp4", seconds=3.0, fps=FPS)


@pytest.mark.parametrize(
    ("fit", "audio_length", "tail_loud"),
    [("pad", 3.0, False), ("loop", 3.0, True), ("trim", 1.0, None)],
)
def test_add_audio_pads_loops_or_trims_a_short_soundtrack(
    silent_3s: Path, tmp_path: Path, fit: str, audio_length: float, tail_loud: bool | None
) -> None:
    song = make_tone_wav(tmp_path / "song.wav", [(1.0, True)])
    result = clips.add_audio(silent_3s, song, tmp_path / f"{fit}.mp4", fit=fit)  # type: ignore[arg-type]
    assert result.method == "copy" and result.frames == 90
    assert audio_seconds(Path(result.path)) == pytest.approx(audio_length, abs=0.05)
    head, later = loudness(Path(result.path), [(0.1, 0.9), (1.5, 2.5)])
    assert head > 0.1
    if tail_loud is not None:
        assert (later > 0.1) is tail_loud


def test_a_long_soundtrack_is_cut_at_the_end_of_the_video(silent_3s: Path, tmp_path: Path) -> None:
    song = make_tone_wav(tmp_path / "long.wav", [(7.0, True)], rate=44_100)
    result = clips.add_audio(silent_3s, song, tmp_path / "out.mp4")
    assert audio_seconds(Path(result.path)) == pytest.approx(3.0, abs=0.05)
    assert result.duration == pytest.approx(3.0, abs=0.05)


def test_mix_keeps_the_original_track_audible(silent_3s: Path, tmp_path: Path) -> None:
    # The video's own sound plays in the first second only; the soundtrack in the last second only.
    voiced = clips.add_audio(silent_3s, make_tone_wav(tmp_path / "voice.wav", [(1.0, True)]), tmp_path / "v.mp4")
    music = make_tone_wav(tmp_path / "music.wav", [(2.0, False), (1.0, True)], hz=660)
    mixed = clips.add_audio(voiced.path, music, tmp_path / "mixed.mp4", mode="mix", volume=0.5)
    replaced = clips.add_audio(voiced.path, music, tmp_path / "replaced.mp4")
    windows = [(0.1, 0.9), (1.2, 1.8), (2.1, 2.9)]
    original, gap, soundtrack = loudness(Path(mixed.path), windows)
    assert original > 0.1 and gap < 0.01 and 0.08 < soundtrack < 0.3  # the soundtrack at half volume
    assert loudness(Path(replaced.path), windows)[0] < 0.01


def test_add_audio_refuses_a_video_as_the_soundtrack_when_it_has_none(silent_3s: Path, tmp_path: Path) -> None:
    with pytest.raises(ClipError, match="no audio track"):
        clips.add_audio(silent_3s, silent_3s.with_name("silent.mp4"), tmp_path / "x.mp4")


# -- sheet, thumbnails, info ------------------------------------------------------------------------


def test_contact_sheet_has_n_evenly_spaced_frames(five_seconds: Path, tmp_path: Path) -> None:
    result = clips.contact_sheet(five_seconds, tmp_path / "sheet.png", frames=5, columns=5)
    assert result.frames == 5
    assert result.times == pytest.approx((0.5, 1.5, 2.5, 3.5, 4.5), abs=1 / FPS)
    with Image.open(result.path) as sheet:
        assert sheet.size == (result.width, result.height)


def test_info_describes_videos_audio_and_images(five_seconds: Path, tmp_path: Path) -> None:
    video = clips.media_info(five_seconds)
    assert isinstance(video, clips.VideoFileInfo)
    assert (video.duration, video.width, video.height, video.fps, video.audio_codec) == (5.0, 64, 48, 30.0, "aac")
    sound = clips.media_info(make_tone_wav(tmp_path / "a.wav", [(0.5, True)]))
    assert isinstance(sound, clips.AudioFileInfo) and sound.duration == pytest.approx(0.5)
    image = clips.media_info(make_image(tmp_path / "a.png", 40, 30, mode="RGBA"))
    assert isinstance(image, clips.ImageFileInfo) and (image.width, image.alpha) == (40, True)


# -- fit -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "mode", "suffix"),
    [
        ((100, 100), "RGB", ".png"),
        ((640, 480), "RGBA", ".png"),
        ((3000, 200), "RGB", ".jpg"),
        ((500, 400), "RGB", ".gif"),
    ],
)
def test_fit_makes_a_refused_image_pass_the_same_models_validation(
    tmp_path: Path, size: tuple[int, int], mode: str, suffix: str
) -> None:
    image = make_image(tmp_path / f"input{suffix}", *size, mode=mode)
    request = I2VRequest(model="wan2.6-i2v", prompt="go", image=str(image))
    with pytest.raises(ValidationError) as refused:
        validate_request(request)
    assert f"qwenvid media fit {image} --model wan2.6-i2v --as first_frame" in (refused.value.hint or "")
    fitted = clips.fit_input(image, model="wan2.6-i2v")
    assert fitted.changes and Path(fitted.path).is_file()
    validate_request(I2VRequest(model="wan2.6-i2v", prompt="go", image=fitted.path))


def test_fit_cuts_a_clip_too_long_for_video_extension_keeping_its_end(five_seconds: Path, tmp_path: Path) -> None:
    request = VaceRequest(
        model="wan2.1-vace-plus", function="video_extension", prompt="on", first_clip=str(five_seconds)
    )
    with pytest.raises(ValidationError, match=r"duration 5\.0\d s is out of range") as refused:
        validate_request(request)
    assert "qwenvid media fit" in (refused.value.hint or "") and "--as clip" in (refused.value.hint or "")
    fitted = clips.fit_input(five_seconds, tmp_path / "clip.mp4", model="wan2.1-vace-plus", role="clip")
    assert fitted.path == str(tmp_path / "clip.mp4")
    validate_request(
        VaceRequest(model="wan2.1-vace-plus", function="video_extension", prompt="on", first_clip=fitted.path)
    )
    lumas = video_frames_luma(tmp_path / "clip.mp4")
    assert frame_number(lumas[-1], range(150)) == 149  # the end is kept: the part the extension continues


def test_fit_leaves_an_accepted_input_alone_and_refuses_what_it_cannot_fix(tmp_path: Path) -> None:
    good = make_image(tmp_path / "good.png", 640, 480)
    assert clips.fit_input(good, model="wan2.6-i2v").changes == ()
    assert not (tmp_path / "good-fit.png").exists()
    short = make_mp4(tmp_path / "short.mp4", width=640, height=480, seconds=1.0)
    with pytest.raises(ClipError, match="cannot be lengthened"):
        clips.fit_input(short, model="wan2.7-i2v", role="clip")
    with pytest.raises(ClipError, match="unknown model"):
        clips.fit_input(good, model="wan9-nothing")


def test_a_clip_too_short_gets_no_fit_hint(tmp_path: Path) -> None:
    short = make_mp4(tmp_path / "short.mp4", width=640, height=480, seconds=1.0)
    with pytest.raises(ValidationError, match="out of range") as refused:
        validate_request(I2VRequest(model="wan2.7-i2v", prompt="go", clip=str(short)))
    assert refused.value.hint is None or "media fit" not in refused.value.hint


def test_concat_of_silent_clips_writes_no_sound_track(tmp_path: Path) -> None:
    one = make_mp4(tmp_path / "one.mp4", width=64, height=48, seconds=0.5)
    two = make_mp4(tmp_path / "two.mp4", width=48, height=64, seconds=0.5)
    result = clips.concat([one, two], tmp_path / "both.mp4")
    assert result.method == "encode" and not result.has_audio and result.frames == 30


def make_m4a(path: Path, seconds: float) -> Path:
    """An AAC sound in an M4A container (the models take wav and mp3 only)."""
    silent_video = make_mp4(path.with_suffix(".tmp.mp4"), seconds=seconds, audio=True)
    with av.open(str(silent_video)) as source, av.open(str(path), "w", format="ipod") as target:
        stream = target.add_stream_from_template(source.streams.audio[0])
        for packet in source.demux(source.streams.audio[0]):
            if packet.dts is not None:
                packet.stream = stream
                target.mux(packet)
    return path


def test_fit_converts_and_cuts_a_sound_the_model_would_refuse(tmp_path: Path) -> None:
    from qwenvid.requests.shapes import T2VRequest

    long_song = make_tone_wav(tmp_path / "long.wav", [(34.0, True)], rate=8000)
    request = I2VRequest(
        model="wan2.7-i2v", prompt="sing", image=str(make_image(tmp_path / "a.png")), driving_audio=str(long_song)
    )
    with pytest.raises(ValidationError) as refused:
        validate_request(request)
    assert "qwenvid media fit" in (refused.value.hint or "") and "--as audio" in (refused.value.hint or "")
    fitted = clips.fit_input(long_song, tmp_path / "song.wav", model="wan2.7-i2v", role="audio")
    assert fitted.changes == ("kept the first 30 s of 34.00 s",)
    validate_request(I2VRequest(model="wan2.7-i2v", prompt="sing", image=request.image, driving_audio=fitted.path))

    m4a = make_m4a(tmp_path / "music.m4a", 4.0)
    with pytest.raises(ValidationError, match="format m4a is not accepted"):
        validate_request(T2VRequest(model="wan2.6-t2v", prompt="x", audio_file=str(m4a)))
    converted = clips.fit_input(m4a, model="wan2.6-t2v")
    assert converted.path == str(tmp_path / "music-fit.wav") and converted.changes == ("converted m4a -> wav",)
    validate_request(T2VRequest(model="wan2.6-t2v", prompt="x", audio_file=converted.path))
