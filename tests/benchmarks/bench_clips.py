"""Benchmark: peak RSS of `concat` (20 one-minute 1080P clips) and `add-audio`, and stream copy vs re-encode time.

Run it as a script (pytest does not collect `bench_*.py`):

    python tests/benchmarks/bench_clips.py [--clips 20] [--minutes 1] [--limit-mb 400] [--cache DIR]

The inputs are made once and cached (default: a folder in the system temp dir): one H.264 1080P 30 fps
clip with an AAC tone, encoded with x264 `ultrafast` on slowly changing frames, copied N times (Wan
outputs of one model share their codec parameters, so the join is a stream copy). Every measured
operation runs in a fresh subprocess that prints its own ru_maxrss, so the figures do not add up; the
baseline is the same subprocess importing PyAV and qwenvid.media.clips and doing nothing. Memory is flat
when the 20-clip figure is close to the 2-clip figure. The copy/re-encode timing runs side by side on
the same pair of shorter clips (re-encoding 20 minutes of 1080P would take most of an hour on 2 cores).
Exit status 1 when a peak reaches --limit-mb.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import wave
from array import array
from fractions import Fraction
from pathlib import Path

WIDTH, HEIGHT, FPS, RATE = 1920, 1080, 30, 48_000

CHILD = """
import json, resource, sys, time
import av  # noqa: F401  (in the baseline too)
from pathlib import Path
from qwenvid.media import clips
op, args = sys.argv[1], json.loads(sys.argv[2])
started = time.perf_counter()
if op == "concat":
    result = clips.concat(args["inputs"], args["output"], reencode=args.get("reencode", False), overwrite=True)
elif op == "add_audio":
    result = clips.add_audio(
        args["video"], args["audio"], args["output"], fit="loop", mode=args["mode"], overwrite=True
    )
else:
    result = None
elapsed = time.perf_counter() - started
try:  # VmHWM is this program's own peak; ru_maxrss would carry the parent's peak over from fork()
    status = Path("/proc/self/status").read_text()
    peak = int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024
except (OSError, StopIteration):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_mb": peak, "seconds": elapsed, "result": result.to_dict() if result else None}))
"""


def make_clip(path: Path, seconds: float) -> None:
    """H.264 1080P with an AAC tone; frames change every half second (cheap to encode, still real video)."""
    import av
    from PIL import Image

    temp = path.with_suffix(".tmp.mp4")
    with av.open(str(temp), "w") as container:
        video = container.add_stream("libx264", rate=FPS, options={"preset": "ultrafast", "g": "60"})
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        sound = container.add_stream("aac", rate=RATE, layout="stereo")
        frames = round(seconds * FPS)
        picture = None
        samples_done = 0
        for index in range(frames):
            if index % (FPS // 2) == 0:
                shade = (index * 3) % 200
                picture = av.VideoFrame.from_image(Image.new("RGB", (WIDTH, HEIGHT), (shade, 80, 200 - shade)))
                picture = picture.reformat(format="yuv420p")
            assert picture is not None
            picture.pts = index
            picture.time_base = Fraction(1, FPS)
            container.mux(video.encode(picture))
            until = round((index + 1) * RATE / FPS)
            while samples_done + 1024 <= until:
                container.mux(sound.encode(_tone(samples_done)))
                samples_done += 1024
        container.mux(video.encode(None))
        container.mux(sound.encode(None))
    temp.replace(path)


def _tone(start: int) -> object:
    import av

    frame = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
    values = array("f", (0.1 * math.sin(2 * math.pi * 375 * (start + i) / RATE) for i in range(1024)))
    for plane in frame.planes:
        plane.update(values.tobytes())
    frame.sample_rate = RATE
    frame.pts = start
    frame.time_base = Fraction(1, RATE)
    return frame


def make_wav(path: Path, seconds: float) -> None:
    samples = array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / RATE)) for i in range(round(seconds * RATE))))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(samples.tobytes())


def measure(op: str, **args: object) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, op, json.dumps(args, default=str)], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"{op} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=20, help="how many clips to join (default 20)")
    parser.add_argument("--minutes", type=float, default=1.0, help="length of each clip (default 1)")
    parser.add_argument("--timing-seconds", type=float, default=10.0, help="clip length for copy vs re-encode")
    parser.add_argument("--limit-mb", type=float, default=400.0, help="fail when a peak RSS reaches this (MB)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "qwenvid-bench-clips")
    args = parser.parse_args()

    cache = args.cache
    cache.mkdir(parents=True, exist_ok=True)
    source = cache / f"clip-{args.minutes:g}min-1080p.mp4"
    short = cache / f"clip-{args.timing_seconds:g}s-1080p.mp4"
    song = cache / "song-7s.wav"
    started = time.perf_counter()
    if not source.exists():
        make_clip(source, args.minutes * 60)
    if not short.exists():
        make_clip(short, args.timing_seconds)
    if not song.exists():
        make_wav(song, 7.0)
    inputs = []
    for index in range(args.clips):
        copy = cache / f"part-{index:02d}.mp4"
        if not copy.exists() or copy.stat().st_size != source.stat().st_size:
            shutil.copyfile(source, copy)
        inputs.append(str(copy))
    print(
        f"inputs       {args.clips} x {args.minutes:g} min {WIDTH}x{HEIGHT} {FPS} fps + AAC, in {cache}"
        f" ({time.perf_counter() - started:.1f} s to prepare)"
    )

    with tempfile.TemporaryDirectory(prefix="qwenvid-bench-") as folder:
        out = Path(folder)
        baseline = measure("nothing")
        two = measure("concat", inputs=inputs[:2], output=out / "two.mp4")
        many = measure("concat", inputs=inputs, output=out / "many.mp4")
        joined_seconds = float(many["result"]["duration"])  # type: ignore[index]
        audio_short = measure("add_audio", video=inputs[0], audio=song, output=out / "a1.mp4", mode="replace")
        audio_long = measure("add_audio", video=out / "many.mp4", audio=song, output=out / "a20.mp4", mode="mix")
        copy_time = measure("concat", inputs=[str(short)] * 2, output=out / "copy.mp4")
        encode_time = measure("concat", inputs=[str(short)] * 2, output=out / "enc.mp4", reencode=True)

    def row(label: str, figures: dict[str, object]) -> str:
        return f"{label:<44} peak RSS {figures['peak_mb']:7.1f} MB   {figures['seconds']:7.2f} s"

    print(row("baseline (python, PyAV, qwenvid.media.clips)", baseline))
    print(row("concat 2 clips (stream copy)", two))
    print(row(f"concat {args.clips} clips (stream copy, {joined_seconds / 60:.0f} min)", many))
    print(row("add-audio, 1 clip, loop 7 s wav, replace", audio_short))
    print(row(f"add-audio, the {joined_seconds / 60:.0f} min join, loop, --mix", audio_long))
    print(row(f"concat 2 x {args.timing_seconds:g} s by stream copy", copy_time))
    print(row(f"concat 2 x {args.timing_seconds:g} s by re-encode", encode_time))
    ratio = float(encode_time["seconds"]) / max(1e-6, float(copy_time["seconds"]))  # type: ignore[arg-type]
    print(f"re-encode / copy wall time: {ratio:.0f}x (2 shared CPU cores: timings are noisy)")
    growth = float(many["peak_mb"]) - float(two["peak_mb"])  # type: ignore[arg-type]
    print(f"memory growth from 2 to {args.clips} clips: {growth:+.1f} MB")
    peaks = [float(f["peak_mb"]) for f in (two, many, audio_short, audio_long, copy_time, encode_time)]  # type: ignore[arg-type]
    ok = max(peaks) < args.limit_mb
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
