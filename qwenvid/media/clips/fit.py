"""Make a refused input acceptable to a model: resize, pad, flatten or convert an image; cut or convert clips, sound."""

from __future__ import annotations

import math
import shlex
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from qwenvid.catalogue import AudioLimits, ImageLimits, ModelSpec, VideoLimits, get_model
from qwenvid.errors import ValidationError
from qwenvid.media.clips._av import EPS, ClipError, atomic_output, check_output, open_input, stream_seconds

Role = Literal["first_frame", "last_frame", "ref", "video", "clip", "audio", "voice"]
ROLES: tuple[str, ...] = ("first_frame", "last_frame", "ref", "video", "clip", "audio", "voice")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff", ".heic", ".heif", ".avif")


@dataclass(frozen=True)
class FitResult:
    path: str  # the file to give the model (the input itself when it already fits)
    source: str
    model: str
    role: str
    changes: tuple[str, ...]  # what was done, e.g. "resized 100x100 -> 360x360"; empty: it already fitted

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def fit_command(path: str | Path, model: str, role: str) -> str:
    """The command line that fixes `path` for `model` (named in validation errors)."""
    return f"qwenvid media fit {shlex.quote(str(path))} --model {model} --as {role}"


def role_for(kind: str, attr: str, slot: str) -> str:
    """The `--as` role of a request input (its option attribute and catalogue limits slot)."""
    if kind == "image":
        return "last_frame" if attr == "last_frame" else "ref" if attr.startswith("ref") else "first_frame"
    if kind == "audio":
        return "voice" if slot == "voice" else "audio"
    return "clip" if slot == "clip" else "ref" if slot == "reference_video" else "video"


def default_output(path: Path, kind: str) -> Path:
    if kind == "image":
        suffix = ".jpg" if path.suffix.lower() in (".jpg", ".jpeg") else ".png"
    else:
        suffix = ".mp4" if kind == "video" else ".wav"
    return path.with_name(f"{path.stem}-fit{suffix}")


def free_output(path: Path, kind: str) -> Path:
    """The default output name, numbered when it is taken (the wizard never replaces a file)."""
    first = default_output(path, kind)
    candidate, number = first, 2
    while candidate.exists():
        candidate = first.with_name(f"{first.stem}-{number}{first.suffix}")
        number += 1
    return candidate


def fit_input(
    path: str | Path,
    output: str | Path | None = None,
    *,
    model: str,
    role: Role | None = None,
    overwrite: bool = False,
) -> FitResult:
    """Make `path` acceptable to `model` in `role` (default: the model's first image or video input).

    Images: flattened when the model takes no alpha, converted when the format is refused, padded to
    the aspect limit, scaled into the pixel range, re-compressed under the byte limit. Videos: cut to
    the longest allowed length (a `clip` keeps its end, for continuing it; others keep the start),
    re-encoded to MP4 when the container is refused or the frame size is out of range.
    The result is checked with the same rules validation uses; ClipError if it still would be refused.
    """
    from qwenvid.media.inputs import check_local_file

    source = Path(path).expanduser()
    spec = get_model(model)
    if spec is None:
        raise ClipError(f"--model {model}: unknown model; see `qwenvid models`", field="model", value=model)
    kind = _kind_of(source)
    chosen: str = role or _default_role(spec, kind)
    if chosen not in ROLES:
        raise ClipError(f"--as {chosen}: allowed: {', '.join(ROLES)}", field="as", value=chosen)
    limits = _limits(spec, kind, chosen)
    field = f"--as {chosen}"
    try:
        check_local_file(source, kind, limits, field=str(source))  # type: ignore[arg-type]
        return FitResult(str(source), str(source), spec.id, chosen, ())
    except ValidationError as refused:
        if not source.is_file() or refused.allowed is None:
            raise ClipError(refused.message, field=field, value=str(source)) from None
    out = check_output(output or default_output(source, kind), (source,), overwrite=overwrite)
    if isinstance(limits, ImageLimits):
        changes = _fit_image(source, out, limits)
    elif isinstance(limits, VideoLimits):
        changes = _fit_video(source, out, limits, chosen)
    else:
        changes = _fit_audio(source, out, limits)
    try:
        check_local_file(out, kind, limits, field=str(out))  # type: ignore[arg-type]
    except ValidationError as still:
        out.unlink(missing_ok=True)
        raise ClipError(f"cannot fit {source} for {spec.id} {chosen}: {still.message}", field=field) from None
    return FitResult(str(out), str(source), spec.id, chosen, tuple(changes))


def _kind_of(path: Path) -> str:
    """image, video or audio: by the suffix for images (HEIC and kin Pillow may not open), else by content."""
    if path.suffix.lower() in _IMAGE_SUFFIXES or not path.is_file():
        return "image" if path.suffix.lower() in _IMAGE_SUFFIXES else "video"
    from qwenvid.media.clips.info import AudioFileInfo, ImageFileInfo, media_info

    try:
        found = media_info(path)
    except ClipError:
        return "video"  # the check below says what is wrong with it
    return "image" if isinstance(found, ImageFileInfo) else "audio" if isinstance(found, AudioFileInfo) else "video"


def _default_role(spec: ModelSpec, kind: str) -> str:
    if kind == "image":
        return "ref" if spec.mode == "r2v" else "first_frame"
    if kind == "audio":
        return "audio" if spec.limits.audio is not None else "voice"
    if spec.limits.video is not None:
        return "video"
    return "clip" if spec.limits.clip is not None else "ref"


def _limits(spec: ModelSpec, kind: str, role: str) -> ImageLimits | VideoLimits | AudioLimits:
    if kind == "image":
        found: Any = spec.limits.image if role in ("first_frame", "last_frame", "ref") else None
    elif kind == "audio":
        found = {"audio": spec.limits.audio, "voice": spec.limits.voice}.get(role)
    else:
        found = {"video": spec.limits.video, "clip": spec.limits.clip, "ref": spec.limits.reference_video}.get(role)
    if found is None:
        raise ClipError(f"{spec.id} takes no {kind} as {role}", field="as", value=role)
    assert isinstance(found, ImageLimits | VideoLimits | AudioLimits)
    return found


# ---- images ----


def _fit_image(source: Path, out: Path, limits: ImageLimits) -> list[str]:
    from PIL import Image, ImageOps

    from qwenvid.media.safe_open import load_image, open_image

    changes: list[str] = []
    with open_image(source, field="image") as opened:
        original_format = str(opened.format or "")
        box = (limits.max_px, limits.max_px)
        opened.draft(opened.mode if opened.mode in ("RGB", "L") else None, box)  # JPEG: decode at a smaller scale
        load_image(opened, source)  # refuses what would not fit in memory, in one line
        # A very large image shrinks first (cheaply, by whole factors), so nothing below copies it at full size.
        factor = min(opened.size[0] // box[0], opened.size[1] // box[1]) if max(opened.size) > 2 * box[0] else 1
        if factor > 1 and opened.mode in ("L", "LA", "RGB", "RGBA", "I", "F"):
            reduced = opened.reduce(factor)
        elif factor > 1:  # bilevel and palette images: reduce() does not take them; nearest keeps their mode
            reduced = opened.resize((opened.size[0] // factor, opened.size[1] // factor), Image.Resampling.NEAREST)
        else:
            reduced = opened
        full_size = opened.size
        image = ImageOps.exif_transpose(reduced)
        image.load()
    has_alpha = image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info
    if has_alpha and not limits.alpha_allowed:
        flat = Image.new("RGB", image.size, (255, 255, 255))
        flat.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        image = flat
        changes.append("flattened transparency onto white")
    elif image.mode not in ("RGB", "L", "RGBA"):
        image = image.convert("RGB")
    width, height = image.size
    target_w, target_h = _fitted_size(width, height, limits)
    scaled_w, scaled_h = _scaled_size(width, height, target_w, target_h)
    if (scaled_w, scaled_h) != (width, height):
        image = image.resize((scaled_w, scaled_h), Image.Resampling.LANCZOS)
        if factor > 1:
            width, height = full_size
        changes.append(f"resized {width}x{height} -> {scaled_w}x{scaled_h}")
    if (target_w, target_h) != (scaled_w, scaled_h):
        canvas = Image.new(image.mode, (target_w, target_h))
        canvas.paste(image, ((target_w - scaled_w) // 2, (target_h - scaled_h) // 2))
        image = canvas
        changes.append(f"padded to {target_w}x{target_h} (aspect and size limits)")
    image_format = "JPEG" if out.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    if image_format.upper() != original_format.upper():
        changes.append(f"converted {original_format or 'image'} -> {image_format}")
    with atomic_output(out) as temp:
        _save_under(image, temp, image_format, limits.max_bytes, changes)
    return changes


def _fitted_size(width: int, height: int, limits: ImageLimits) -> tuple[int, int]:
    """The canvas: aspect padded to the limit, then scaled into min_px-max_px on both sides."""
    low, high = limits.min_px, limits.max_px
    if limits.max_aspect:
        if width / height > limits.max_aspect:
            height = math.ceil(width / limits.max_aspect)
        elif height / width > limits.max_aspect:
            width = math.ceil(height / limits.max_aspect)
    scale = 1.0
    if max(width, height) > high:
        scale = high / max(width, height)
    elif min(width, height) < low:
        scale = min(low / min(width, height), high / max(width, height))
    width, height = round(width * scale), round(height * scale)
    return min(high, max(low, width)), min(high, max(low, height))


def _scaled_size(width: int, height: int, box_w: int, box_h: int) -> tuple[int, int]:
    scale = min(box_w / width, box_h / height)
    return max(1, min(box_w, round(width * scale))), max(1, min(box_h, round(height * scale)))


def _save_under(image: Any, temp: Path, image_format: str, max_bytes: int, changes: list[str]) -> None:
    image.save(temp, format=image_format)
    if temp.stat().st_size <= max_bytes:
        return
    rgb = image.convert("RGB")
    for quality in (92, 85, 75, 60, 45):
        rgb.save(temp, format="JPEG", quality=quality)
        if temp.stat().st_size <= max_bytes:
            changes.append(f"re-compressed as JPEG quality {quality} to stay under {max_bytes // (1024 * 1024)} MB")
            return


# ---- videos ----


def _fit_video(source: Path, out: Path, limits: VideoLimits, role: str) -> list[str]:
    from qwenvid.media.clips.concat import _encode
    from qwenvid.media.clips.cut import tail, trim

    with open_input(source, "video") as container:
        stream = container.streams.video[0]
        length = stream_seconds(container, stream)
        width, height = stream.codec_context.width, stream.codec_context.height
    if length + 0.1 < limits.min_seconds:
        raise ClipError(
            f"{source}: {length:.2f} s is shorter than the {limits.min_seconds:g} s the model needs; "
            "a clip cannot be lengthened",
            field="video",
        )
    size = _video_size(width, height, limits)
    changes: list[str] = []
    keep = limits.max_seconds if length > limits.max_seconds + EPS else None
    if size != (width, height):
        with atomic_output(out) as temp:
            _encode((source,), temp, size, None, 0.0, _has_audio(source))
        changes.append(f"re-encoded {width}x{height} -> {size[0]}x{size[1]}")
        if keep is not None:
            shortened = out.with_name(f".{out.stem}.cut{out.suffix}")
            _cut(out, shortened, keep, role)
            shortened.replace(out)
    elif keep is not None:
        if role == "clip":
            tail(source, out, seconds=keep, overwrite=True)
        else:
            trim(source, out, start=0.0, duration=keep, overwrite=True)
    else:  # only the container was refused
        with atomic_output(out) as temp:
            _encode((source,), temp, None, None, 0.0, _has_audio(source))
        changes.append(f"re-encoded {source.suffix.lstrip('.') or 'video'} -> mp4")
    if keep is not None:
        which = "last" if role == "clip" else "first"
        changes.append(f"kept the {which} {keep:.2f} s of {length:.2f} s (at most {limits.max_seconds:g} s)")
    return changes


def _cut(source: Path, out: Path, keep: float, role: str) -> None:
    from qwenvid.media.clips.cut import tail, trim

    if role == "clip":
        tail(source, out, seconds=keep, overwrite=True)
    else:
        trim(source, out, start=0.0, duration=keep, overwrite=True)


def _video_size(width: int, height: int, limits: VideoLimits) -> tuple[int, int]:
    if limits.min_px is None or limits.max_px is None:
        return width, height
    fake = ImageLimits(min_px=limits.min_px, max_px=limits.max_px, max_bytes=0, max_aspect=limits.max_aspect)
    if limits.min_px <= width <= limits.max_px and limits.min_px <= height <= limits.max_px:
        if not limits.max_aspect or max(width / height, height / width) <= limits.max_aspect:
            return width, height
    fitted = _fitted_size(width, height, fake)
    return fitted[0] - fitted[0] % 2, fitted[1] - fitted[1] % 2


def _has_audio(path: Path) -> bool:
    with open_input(path, "video") as container:
        return bool(container.streams.audio)


# ---- audio ----


def _fit_audio(source: Path, out: Path, limits: AudioLimits) -> list[str]:
    """The first `max_seconds` as 48 kHz stereo 16-bit WAV (a format every audio input takes)."""
    import av

    from qwenvid.media.clips._av import AUDIO_LAYOUT, AUDIO_RATE, normalised_audio
    from qwenvid.media.clips.info import audio_info

    info = audio_info(source)
    if info.duration + 0.1 < limits.min_seconds:
        raise ClipError(
            f"{source}: {info.duration:.2f} s is shorter than the {limits.min_seconds:g} s the model needs; "
            "a sound cannot be lengthened",
            field="audio",
        )
    keep = round(min(info.duration, limits.max_seconds) * AUDIO_RATE)
    to_s16 = av.AudioResampler(format="s16", layout=AUDIO_LAYOUT, rate=AUDIO_RATE)
    with atomic_output(out) as temp, av.open(str(temp), mode="w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=AUDIO_RATE, layout=AUDIO_LAYOUT)
        fifo = av.AudioFifo()
        for frame in normalised_audio(source):
            if keep <= 0:
                break
            frame.pts = None
            fifo.write(frame)
            while fifo.samples >= 4096 and keep > 0:  # written as it comes: never the whole sound in memory
                keep -= _write_pcm(container, stream, to_s16, fifo.read(min(4096, keep)))
        while fifo.samples and keep > 0:
            keep -= _write_pcm(container, stream, to_s16, fifo.read(min(fifo.samples, keep)))
        container.mux(stream.encode(None))
    changes = []
    if info.container not in limits.formats:
        changes.append(f"converted {info.container} -> wav")
    if info.duration > limits.max_seconds + EPS:
        changes.append(f"kept the first {limits.max_seconds:g} s of {info.duration:.2f} s")
    return changes


def _write_pcm(container: Any, stream: Any, to_s16: Any, chunk: Any) -> int:
    from qwenvid.media.clips._av import AUDIO_RATE

    chunk.sample_rate = AUDIO_RATE
    chunk.pts = None
    for frame in to_s16.resample(chunk):
        container.mux(stream.encode(frame))
    return int(chunk.samples)
