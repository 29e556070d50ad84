"""The cast folder: one subfolder per character (cast.toml + its files), found beside the plan or like git."""

from __future__ import annotations

import re
import shutil
import tomllib
from dataclasses import dataclass
from pathlib import Path

from qwenvid.errors import ValidationError

CAST_DIR = "cast"
CAST_FILE = "cast.toml"
# A cast name is a word in prompts: letters first, then letters, digits, '_' or '-'.
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")
# Qwen TTS preset voices (dashscope-api-story.md §3.4): the narration voice of a character.
TTS_VOICES = (
    "Cherry", "Serena", "Ethan", "Chelsie", "Momo", "Vivian", "Moon", "Maia", "Kai", "Nofish", "Bella",
    "Jennifer", "Ryan", "Katerina", "Aiden", "Eldric Sage",
)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
VOICE_SUFFIXES = (".wav", ".mp3", ".m4a", ".aac")


@dataclass(frozen=True)
class Member:
    """One character: reference image(s), an optional voice sample, a TTS voice for narration, a description."""

    name: str
    folder: Path
    images: tuple[Path, ...]
    voice: Path | None = None
    narration_voice: str | None = None
    description: str = ""

    @property
    def image(self) -> Path:
        return self.images[0]

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "folder": str(self.folder),
            "images": [str(p) for p in self.images],
            "voice": str(self.voice) if self.voice else None,
            "narration_voice": self.narration_voice,
            "description": self.description,
        }


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise ValidationError(
            f"Cast name {name!r}: use a word of letters, digits, '_' or '-' starting with a letter (at most 40).",
            field="name",
            value=name,
        )
    return name


def find_cast_dir(start: Path | None = None, *, plan_dir: Path | None = None) -> Path | None:
    """`cast/` beside the plan file, else in `start` (the current folder) or its nearest parent that has one."""
    if plan_dir is not None and (plan_dir / CAST_DIR).is_dir():
        return plan_dir / CAST_DIR
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CAST_DIR).is_dir():
            return folder / CAST_DIR
    return None


def cast_dir_for_writing(start: Path | None = None) -> Path:
    """The cast folder a new character goes in: the one found, else `./cast`."""
    return find_cast_dir(start) or (start or Path.cwd()) / CAST_DIR


def load_member(cast_dir: Path, name: str) -> Member:
    """Read one character; a missing or broken one is a ValidationError naming what to do."""
    folder = cast_dir / name
    path = folder / CAST_FILE
    if not path.is_file():
        known = ", ".join(list_names(cast_dir)) or "none yet"
        raise ValidationError(
            f"No cast member {name!r} in {cast_dir} (known: {known}).",
            field="cast",
            value=name,
            hint=f"Add one with `qwenvid cast add {name} --image FILE`.",
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: not a readable cast.toml: {exc}", field="cast", value=name) from None
    images = data.get("images", [])
    if isinstance(images, str):
        images = [images]
    if not isinstance(images, list) or not all(isinstance(i, str) for i in images):
        raise ValidationError(f"{path}: images must be a list of file names", field="cast", value=name)
    voice = data.get("voice")
    narration = data.get("narration_voice")
    description = data.get("description", "")
    return Member(
        name=name,
        folder=folder,
        images=tuple(folder / i for i in images),
        voice=folder / voice if isinstance(voice, str) and voice else None,
        narration_voice=narration if isinstance(narration, str) and narration else None,
        description=description if isinstance(description, str) else "",
    )


def usable(member: Member) -> Member:
    """The member, after checking it has an image a reference model accepts (one line naming the file if not)."""
    from qwenvid.catalogue import R2V26_IMAGE
    from qwenvid.media.inputs import check_local_file

    if not member.images:
        raise ValidationError(
            f"Cast member {member.name!r} has no reference image.",
            field="cast",
            value=member.name,
            hint=f"Give it one: `qwenvid cast add {member.name} --image FILE` (or --describe TEXT for a portrait).",
        )
    for image in member.images:
        try:
            check_local_file(image, "image", R2V26_IMAGE, field=f"cast {member.name} image")
        except ValidationError as exc:
            from qwenvid.media.clips.fit import fit_command

            fix = fit_command(image, "wan2.6-r2v", "ref") if image.is_file() else None
            raise ValidationError(
                f"Cast member {member.name!r} has no usable image: {exc.message}",
                field="cast",
                value=member.name,
                hint=f"Make it fit (`{fix}`) or give another one (`qwenvid cast add {member.name} --image FILE "
                "--replace`)."
                if fix
                else f"Give it one: `qwenvid cast add {member.name} --image FILE --replace`.",
            ) from None
    return member


def list_names(cast_dir: Path | None) -> list[str]:
    if cast_dir is None or not cast_dir.is_dir():
        return []
    return sorted(p.name for p in cast_dir.iterdir() if (p / CAST_FILE).is_file())


def load_all(cast_dir: Path | None) -> list[Member]:
    return [load_member(cast_dir, name) for name in list_names(cast_dir)] if cast_dir else []


def write_member(
    cast_dir: Path,
    name: str,
    *,
    image: Path | None,
    voice: Path | None = None,
    narration_voice: str | None = None,
    description: str = "",
    replace: bool = False,
) -> Member:
    """Copy the files into `cast/NAME/` and write its cast.toml (nothing is left half-written on a refusal)."""
    check_name(name)
    folder = cast_dir / name
    if (folder / CAST_FILE).exists() and not replace:
        raise ValidationError(
            f"Cast member {name!r} already exists in {cast_dir}.",
            field="name",
            value=name,
            hint="Add --replace to overwrite it, or `qwenvid cast remove` it first.",
        )
    if narration_voice is not None and narration_voice not in TTS_VOICES:
        raise ValidationError(
            f"--narration-voice {narration_voice!r} is not a Qwen TTS voice.",
            field="narration_voice",
            value=narration_voice,
            hint=f"Use one of: {', '.join(TTS_VOICES)}.",
        )
    images: list[str] = []
    staged: list[tuple[Path, str]] = []
    if image is not None:
        suffix = image.suffix.lower()
        if suffix not in IMAGE_SUFFIXES:
            raise ValidationError(
                f"--image {image}: not an image file (allowed: {', '.join(IMAGE_SUFFIXES)}).", field="image"
            )
        staged.append((image, "portrait" + suffix))
        images.append("portrait" + suffix)
    voice_name = None
    if voice is not None:
        suffix = voice.suffix.lower()
        if suffix not in VOICE_SUFFIXES:
            raise ValidationError(
                f"--voice {voice}: not an audio file (allowed: {', '.join(VOICE_SUFFIXES)}).", field="voice"
            )
        voice_name = "voice" + suffix
        staged.append((voice, voice_name))
    member = Member(
        name,
        folder,
        tuple(folder / i for i in images),
        folder / voice_name if voice_name else None,
        narration_voice,
        description,
    )
    # Check the sources before anything is copied: a refused file leaves the cast as it was.
    _check_sources(member, image, voice)
    folder.mkdir(parents=True, exist_ok=True)
    for source, target in staged:
        if source.resolve() != (folder / target).resolve():
            shutil.copyfile(source, folder / target)
    (folder / CAST_FILE).write_text(_toml(member, images, voice_name), encoding="utf-8")
    return member


def _check_sources(member: Member, image: Path | None, voice: Path | None) -> None:
    from qwenvid.catalogue import REFERENCE_VOICE
    from qwenvid.media.inputs import check_local_file

    if image is not None:
        usable(Member(member.name, member.folder, (image,)))
    if voice is not None:
        check_local_file(voice, "audio", REFERENCE_VOICE, field="--voice")


def _toml(member: Member, images: list[str], voice: str | None) -> str:
    import json

    lines = [
        f"# Cast member {member.name}: its reference image(s) keep it the same from shot to shot.",
        f"name = {json.dumps(member.name)}",
        f"description = {json.dumps(member.description, ensure_ascii=False)}",
        f"images = [{', '.join(json.dumps(i) for i in images)}]",
    ]
    if voice:
        lines.append(f"voice = {json.dumps(voice)}  # sample for models that take a voice per reference")
    if member.narration_voice:
        lines.append(f"narration_voice = {json.dumps(member.narration_voice)}  # Qwen TTS preset for narration")
    return "\n".join(lines) + "\n"


def remove_member(cast_dir: Path, name: str) -> Path:
    folder = cast_dir / name
    load_member(cast_dir, name)  # a clear refusal for an unknown name
    shutil.rmtree(folder)
    return folder
