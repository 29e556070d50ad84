"""The wizard's questions: mode, model, inputs and options, each answer checked as it is given."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import questionary

from qwenvid.catalogue import (
    DEFAULT_MODELS,
    INSTRUCT,
    SEED_RANGE,
    SIZE_TABLE,
    VACE_CONTROL_CONDITIONS,
    VACE_FUNCTIONS,
    VACE_MASK_TYPES,
    VACE_OBJ_OR_BG,
    VACE_SCALE_RANGE,
    VACE_UNIT_RANGE,
    AudioLimits,
    ImageLimits,
    MediaKind,
    Mode,
    ModelSpec,
    VideoLimits,
    guess_kind,
    models_for_mode,
)
from qwenvid.errors import ValidationError
from qwenvid.media.clips.fit import role_for
from qwenvid.requests.shapes import (
    BaseRequest,
    I2VRequest,
    KF2VRequest,
    R2VRequest,
    T2VRequest,
    VaceRequest,
    VideoEditRequest,
    is_url,
)

T = TypeVar("T")
from qwenvid.cli._wizard_checks import Check, int_check, text_check  # noqa: E402  (shared with the story path)

Limits = ImageLimits | VideoLimits | AudioLimits | None

MODE_CHOICES: tuple[tuple[Mode, str], ...] = (
    ("t2v", "t2v   text to video: describe a scene"),
    ("i2v", "i2v   image to video: animate a picture (its first frame)"),
    ("kf2v", "kf2v  first + last frame: the video between two pictures (fixed 5 s, silent)"),
    ("r2v", "r2v   reference to video: your characters from reference images or videos"),
    (
        "vace",
        "vace  edit a video: at most 5 s, silent; five VACE functions, or instruction editing (wan2.7-videoedit)",
    ),
)

# Modes with commands of their own (`qwenvid s2v`, `qwenvid animate`), offered last so the others keep their place.
PERFORMER_CHOICES: tuple[tuple[Mode, str], ...] = (
    ("s2v", "s2v      speech to video: a photo talks or sings your speech track (face check first, billed per image)"),
    ("animate", "animate  copy a video's motion onto a character (move), or swap the person in a video (mix)"),
)
QUALITY_CHOICES: tuple[tuple[str, str], ...] = (("std", "std (default)"), ("pro", "pro (priced higher)"))

# Not a mode of one request: a plan of several (`qwenvid extend`), offered after the modes.
LONG_VIDEO = ("long", "long  a long video: continue a clip segment by segment, then join them (qwenvid extend)")
EXTEND_METHODS: tuple[tuple[str, str], ...] = (
    ("continue", "continue    wan2.7-i2v continues the last 3 s of each segment"),
    ("vace", "vace        wan2.1-vace-plus video_extension from the last 3 s (5 s segments, silent)"),
    ("last-frame", "last-frame  image-to-video from the last frame of each segment"),
)

FUNCTION_CHOICES: tuple[tuple[str, str], ...] = (
    ("image_reference", "image_reference    a video from 1-3 reference images (objects or backgrounds)"),
    ("video_repainting", "video_repainting   restyle a video, keeping its motion (pose, depth or scribble)"),
    ("video_edit", "video_edit         change the masked area of a video"),
    ("video_extension", "video_extension    continue clips or frames into a longer video"),
    ("video_outpainting", "video_outpainting  widen the frame of a video"),
    (INSTRUCT, "instruct           edit a 2-10 s video by instruction (wan2.7-videoedit, keeps sound)"),
)

# wan2.7-i2v input combinations (catalogue WAN27_I2V_COMBINATIONS), as the request fields they fill.
WAN27_I2V_INPUTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("first frame", ("image",)),
    ("first + last frame", ("image", "last_frame")),
    ("first frame + driving audio (the video follows the sound)", ("image", "driving_audio")),
    ("first + last frame + driving audio", ("image", "last_frame", "driving_audio")),
    ("continue a video clip", ("clip",)),
    ("continue a video clip into a last frame", ("clip", "last_frame")),
)

VACE_EXTENSION_INPUTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("a first clip to continue (<=3 s)", ("first_clip",)),
    ("a last clip to lead into (<=3 s)", ("last_clip",)),
    ("a first clip and a last clip (fill the gap)", ("first_clip", "last_clip")),
    ("a first frame", ("first_frame",)),
    ("a last frame", ("last_frame",)),
    ("a first frame and a last frame", ("first_frame", "last_frame")),
)

# Request field -> (media kind, InputLimits slot, CLI option, question) for every input the wizard asks for.
INPUT_SLOTS: dict[str, tuple[MediaKind, str, str, str]] = {
    "image": ("image", "image", "--image", "First frame image"),
    "last_frame": ("image", "image", "--last-frame", "Last frame image"),
    "first_frame": ("image", "image", "--first-frame", "First frame image"),
    "clip": ("video", "clip", "--clip", "Video clip to continue (2-10 s)"),
    "driving_audio": ("audio", "audio", "--driving-audio", "Driving audio (wav/mp3, 2-30 s)"),
    "audio_file": ("audio", "audio", "--audio-file", "Soundtrack (wav/mp3)"),
    "ref_voice": ("audio", "voice", "--ref-voice", "Voice (wav/mp3, 1-10 s)"),
    "video": ("video", "video", "--video", "Video to edit"),
    "mask_image": ("image", "image", "--mask-image", "Mask image (white = edit, black = keep)"),
    "mask_video": ("video", "video", "--mask-video", "Mask video (white = edit, black = keep)"),
    "first_clip": ("video", "clip", "--first-clip", "First clip (mp4, <=3 s)"),
    "last_clip": ("video", "clip", "--last-clip", "Last clip (mp4, <=3 s)"),
    "speech": ("audio", "audio", "--speech", "Speech: what they say or sing (wav/mp3, 1-20 s)"),
}

_ALLOWED_LOCATIONS = "a local file path or a URL (http://, https://, oss://)"


# ---------------------------------------------------------------------------------------------
# Validators: True, or a message that says what is allowed
# ---------------------------------------------------------------------------------------------


def clean_path(text: str) -> str:
    """A path as typed, without the spaces and quotes a terminal adds when a file is dropped on it."""
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]
    return text


def file_check(
    kind: MediaKind, limits: Limits, option: str, *, required: bool = True, fixable_passes: bool = False
) -> Check:
    """Checks a typed path as it stands (exists, format, dimensions, duration, size); URLs pass.

    `fixable_passes`: an image or video that `qwenvid media fit` can repair passes; the caller offers the fix.
    """
    from qwenvid.media.inputs import FixableInputError, check_local_file

    def check(text: str) -> bool | str:
        value = clean_path(text)
        if not value:
            return True if not required else f"{option} is required: {_ALLOWED_LOCATIONS}"
        if is_url(value):
            return True
        try:
            check_local_file(Path(value).expanduser(), kind, limits, field=option)
        except FixableInputError as error:
            return True if fixable_passes else error.message
        except ValidationError as error:
            if not Path(value).expanduser().exists():
                return f"{error.message}; give {_ALLOWED_LOCATIONS}"
            return error.message
        return True

    return check




def float_check(option: str, low: float, high: float) -> Check:
    def check(text: str) -> bool | str:
        value = text.strip()
        if not value:
            return True
        try:
            number = float(value)
        except ValueError:
            return f"{option} {value!r} is not a number; allowed: {low:g} to {high:g}"
        if not low <= number <= high:
            return f"{option} {number:g} is out of range; allowed: {low:g} to {high:g}"
        return True

    return check


# ---------------------------------------------------------------------------------------------
# Asking
# ---------------------------------------------------------------------------------------------


class Prompter:
    """questionary prompts that all share one prompt_toolkit input/output; Ctrl-C raises KeyboardInterrupt."""

    def __init__(self, note: Callable[[str], None], pt_kwargs: dict[str, Any]) -> None:
        self.note = note
        self.pt_kwargs = pt_kwargs

    def choose(self, message: str, choices: Sequence[tuple[T, str]]) -> T:
        """One of `choices` (value, title); the first is the default the cursor starts on."""
        options = [questionary.Choice(title, value=str(index)) for index, (_, title) in enumerate(choices)]
        answer = questionary.select(message, choices=options, **self.pt_kwargs).unsafe_ask()
        return choices[int(answer)][0]

    def text(self, message: str, check: Check, instruction: str | None = None, *, paths: bool = False) -> str:
        """A typed answer; `paths` offers file-name completion (Tab), as a shell does."""
        extra: dict[str, Any] = {}
        if paths:
            from prompt_toolkit.completion import PathCompleter

            extra["completer"] = PathCompleter(expanduser=True)
        answer = questionary.text(
            message, validate=check, instruction=instruction, validate_while_typing=False, **extra, **self.pt_kwargs
        ).unsafe_ask()
        return str(answer).strip()

    def confirm(self, message: str, default: bool = True) -> bool:
        return bool(questionary.confirm(message, default=default, **self.pt_kwargs).unsafe_ask())

    def file(self, field: str, spec: ModelSpec, *, required: bool = True, message: str | None = None) -> str | None:
        kind, slot, _option, question = INPUT_SLOTS[field]
        limits = getattr(spec.limits, slot)
        hint = "(path or URL; Tab completes)" if required else "(path or URL; Tab completes; Enter for none)"
        label = (message or question).split(" (", 1)[0]  # messages name the question, not the one-liner's option
        check = file_check(kind, limits, label, required=required, fixable_passes=True)
        while True:
            answer = clean_path(self.text(message or question, check, hint, paths=True))
            fixed = self.offer_fit(answer, kind, limits, label, spec, role_for(kind, field, slot))
            if fixed is not None:
                return fixed or None

    def offer_fit(
        self, answer: str, kind: MediaKind, limits: Limits, option: str, spec: ModelSpec, role: str
    ) -> str | None:
        """The answer itself when the model takes it; else offer `qwenvid media fit` (default yes) and return
        the fitted file, or None when the user declines (the question is asked again)."""
        from qwenvid.media.clips import fit_input
        from qwenvid.media.clips.fit import fit_command, free_output
        from qwenvid.media.inputs import FixableInputError, check_local_file

        if not answer or is_url(answer):
            return answer
        path = Path(answer).expanduser()
        try:
            check_local_file(path, kind, limits, field=option)
            return answer
        except FixableInputError as refused:
            self.note(refused.message)
        target = free_output(path, kind)
        shown = shlex.quote(os.path.relpath(target) if not os.path.relpath(target).startswith("..") else str(target))
        # The command shown writes exactly where the fitted file goes (a name alone would land in the cwd).
        if not self.confirm(f"Fix it now ({fit_command(answer, spec.id, role)} -o {shown})?", default=True):
            return None
        result = fit_input(path, target, model=spec.id, role=role)  # type: ignore[arg-type]
        self.note(f"Fitted {path.name}: " + "; ".join(result.changes) + f". Using {result.path}")
        return result.path


# ---------------------------------------------------------------------------------------------
# The flow
# ---------------------------------------------------------------------------------------------


def build_request(note: Callable[[str], None] | None = None, **pt_kwargs: Any) -> Any:
    """Ask mode → (function) → model → inputs → options and return the request they make
    (or, for a long video, the `ExtendRequest` of its plan).

    `pt_kwargs` go to every questionary prompt (tests pass `input=` a pipe and `output=DummyOutput()`).
    Ctrl-C raises KeyboardInterrupt.
    """
    ask = Prompter(note or (lambda _text: None), pt_kwargs)
    from qwenvid.cli._wizard_story import STORY, ask_story

    choice: str = ask.choose("What do you want to make?", (*MODE_CHOICES, LONG_VIDEO, STORY, *PERFORMER_CHOICES))
    if choice == LONG_VIDEO[0]:
        return ask_long_video(ask)
    if choice == STORY[0]:
        return ask_story(ask)
    mode: Mode = choice  # type: ignore[assignment]
    if mode in ("s2v", "animate"):
        return ask_performer(ask, mode)
    function = ask.choose("Which VACE function?", FUNCTION_CHOICES) if mode == "vace" else None
    spec = choose_model(ask, mode, function)
    values: dict[str, Any] = {"model": spec.id}
    if mode == "t2v":
        values["prompt"] = ask_prompt(ask, spec)
    elif mode == "i2v":
        values |= ask_i2v_inputs(ask, spec)
    elif mode == "kf2v":
        values["first_frame"] = ask.file("first_frame", spec)
        values["last_frame"] = ask.file("last_frame", spec)
        values["prompt"] = ask_prompt(ask, spec)
    elif mode == "r2v":
        values |= ask_r2v_inputs(ask, spec)
    elif function == INSTRUCT:
        values |= ask_instruct_inputs(ask, spec)
    else:
        values |= ask_vace_inputs(ask, spec, str(function))
    values |= ask_options(ask, spec, function, values)
    return make_request(mode, function, values)


def make_request(mode: Mode, function: str | None, values: dict[str, Any]) -> BaseRequest:
    """The request class the matching one-liner builds (`vace instruct` is a VideoEditRequest there too)."""
    given = {key: value for key, value in values.items() if value is not None and value != []}
    if mode == "vace":
        if function == INSTRUCT:
            return VideoEditRequest(**given)
        return VaceRequest(function=str(function), **given)
    cls: type[BaseRequest] = {"t2v": T2VRequest, "i2v": I2VRequest, "kf2v": KF2VRequest, "r2v": R2VRequest}[mode]
    return cls(**given)


def ask_performer(ask: Prompter, mode: Mode) -> BaseRequest:
    """s2v (a photo + speech) or animate (a character + a motion video, std or pro), as `qwenvid s2v|animate`."""
    from qwenvid.requests.performer_requests import AnimateRequest, S2VRequest

    spec = choose_model(ask, mode, None)
    if mode == "s2v":
        image = ask.file("image", spec, message="Photo of the speaker (one clear face, 400-7000 px)")
        speech = ask.file("speech", spec)
        resolution = ask_resolution(ask, spec, None).get("resolution")
        ask.note("Face check: wan2.2-s2v-detect looks at the photo before the video is paid for (billed per image)")
        return S2VRequest(model=spec.id, image=image, speech=speech, resolution=resolution)
    image = ask.file("image", spec, message="The character (one person facing the camera)")
    video = ask.file("video", spec, message="The motion video (mp4/avi/mov, 2-30 s)")
    quality = ask.choose("Quality (the price tier)", QUALITY_CHOICES)
    return AnimateRequest(model=spec.id, image=image, video=video, quality=quality)


def choose_model(ask: Prompter, mode: Mode, function: str | None) -> ModelSpec:
    specs = models_for_mode(mode)
    if mode == "vace":
        specs = [spec for spec in specs if (function == INSTRUCT) == (spec.functions == (INSTRUCT,))]
    if len(specs) == 1:
        ask.note(f"Model: {specs[0].id} (the only model for this), {specs[0].summary}")
        return specs[0]
    width = max(len(spec.id) for spec in specs) + len(" (default)")
    choices = [
        (spec, f"{(spec.id + (' (default)' if spec.id == DEFAULT_MODELS[mode] else '')):<{width}}  {spec.summary}")
        for spec in specs
    ]
    return ask.choose("Which model?", choices)


def ask_prompt(ask: Prompter, spec: ModelSpec, *, required: bool | None = None, label: str = "Prompt") -> str | None:
    required = spec.prompt_required if required is None else required
    how = "required" if required else "optional, Enter to skip"
    hint = f"({how}; up to {spec.prompt_max} characters)"
    if spec.mode == "r2v" and spec.protocol == "legacy":
        hint += " - call the references character1, character2, ... in order"
    answer = ask.text(
        f"{label}: what should the video show?",
        text_check("The prompt", max_chars=spec.prompt_max, required=required),
        hint,
    )
    return answer or None


def ask_i2v_inputs(ask: Prompter, spec: ModelSpec) -> dict[str, Any]:
    values: dict[str, Any] = {}
    fields: tuple[str, ...] = ("image",)
    if spec.protocol == "media":
        fields = ask.choose("Which inputs?", [(names, title) for title, names in WAN27_I2V_INPUTS])
    for name in fields:
        values[name] = ask.file(name, spec)
    values["prompt"] = ask_prompt(ask, spec)
    return values


def ask_r2v_inputs(ask: Prompter, spec: ModelSpec) -> dict[str, Any]:
    limits = spec.limits.references
    assert limits is not None
    refs: list[str] = []
    voices: list[str] = []
    with_voices = spec.limits.voice is not None
    for number in range(1, limits.max_total + 1):
        optional = number > limits.min_total
        hint = "(image or video, path or URL" + ("; Enter to finish)" if optional else ")")
        check = reference_check(spec, refs, required=not optional)
        ref = clean_path(ask.text(f"Reference {number}", check, hint, paths=True))
        if not ref:
            break
        refs.append(ref)
        # Voices pair with references by position (--ref-voice), so only an unbroken run from the first can be given.
        if with_voices and len(voices) == len(refs) - 1:
            voice_limits = spec.limits.voice
            span = f"{voice_limits.min_seconds:g}-{voice_limits.max_seconds:g} s" if voice_limits else "1-10 s"
            voice = ask.file(
                "ref_voice", spec, required=False, message=f"Voice for reference {number} (wav/mp3, {span})"
            )
            if voice:
                voices.append(voice)
    values: dict[str, Any] = {"refs": refs, "ref_voices": voices}
    if spec.protocol == "media":
        values["first_frame"] = ask.file("first_frame", spec, required=False, message="First frame image (optional)")
    values["prompt"] = ask_prompt(ask, spec)
    return values


def reference_check(spec: ModelSpec, refs: list[str], *, required: bool) -> Check:
    """A reference is an image or a video within the model's counts and limits."""
    limits = spec.limits.references
    assert limits is not None

    def check(text: str) -> bool | str:
        value = clean_path(text)
        if not value:
            return True if not required else f"A reference is required: an image or a video, {_ALLOWED_LOCATIONS}"
        kind = guess_kind(value)
        if kind == "audio":
            return f"Reference {value}: a reference is an image or a video, not audio"
        videos = sum(1 for ref in refs if guess_kind(ref) == "video") + (kind == "video")
        images = len(refs) + 1 - videos
        if videos > limits.max_videos or images > limits.max_images:
            return (
                f"References: {spec.id} takes at most {limits.max_images} images and {limits.max_videos} videos "
                f"({limits.max_total} references in all)"
            )
        slot = spec.limits.reference_video if kind == "video" else spec.limits.image
        return file_check(kind, slot, "Reference")(value)

    return check


def ask_instruct_inputs(ask: Prompter, spec: ModelSpec) -> dict[str, Any]:
    values: dict[str, Any] = {"video": ask.file("video", spec, message="Video to edit (2-10 s)")}
    values["ref_images"] = ask_reference_images(ask, spec, minimum=0, maximum=4)
    values["prompt"] = ask_prompt(ask, spec, label="Instruction")
    if not spec.audio_settings:  # Wan 3.0 edits by instruction too, without this setting
        return values
    values["audio_setting"] = ask.choose(
        "Sound of the result?",
        [
            ("auto", "auto    the model decides (default)"),
            ("origin", "origin  keep the input video's sound"),
        ],
    )
    return values


def ask_reference_images(ask: Prompter, spec: ModelSpec, *, minimum: int, maximum: int) -> list[str]:
    images: list[str] = []
    limits = spec.limits.image
    for number in range(1, maximum + 1):
        required = number <= minimum
        hint = "(path or URL)" if required else "(path or URL; Enter to finish)"
        check = file_check("image", limits, "Reference image", required=required)
        answer = clean_path(ask.text(f"Reference image {number}", check, hint, paths=True))
        if not answer:
            break
        images.append(answer)
    return images


def ask_vace_inputs(ask: Prompter, spec: ModelSpec, function: str) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if function == "image_reference":
        values["ref_images"] = images = ask_reference_images(ask, spec, minimum=1, maximum=3)
        values["obj_or_bg"] = [
            ask.choose(
                f"Reference image {number} is",
                [
                    (kind, {"obj": "obj  an object or person to place", "bg": "bg   the background"}[kind])
                    for kind in VACE_OBJ_OR_BG
                ],
            )
            for number in range(1, len(images) + 1)
        ]
    elif function == "video_repainting":
        values["video"] = ask.file("video", spec, message="Video to repaint (mp4, <=5 s)")
        values["control_condition"] = ask.choose(
            "Keep which part of its motion?",
            [(name, name) for name in VACE_CONTROL_CONDITIONS],
        )
        values["strength"] = ask_float(ask, "Strength: closeness to the source", "Strength", VACE_UNIT_RANGE, 1.0)
    elif function == "video_edit":
        values["video"] = ask.file("video", spec, message="Video to edit (mp4, <=5 s)")
        mask = ask.choose("Mask as", [("mask_image", "an image"), ("mask_video", "a video")])
        values[mask] = ask.file(mask, spec)
        values["mask_type"] = ask.choose(
            "Mask type",
            [
                (name, {"tracking": "tracking  follows the object", "fixed": "fixed     stays in place"}[name])
                for name in VACE_MASK_TYPES
            ],
        )
        if values["mask_type"] == "tracking":
            values["expand_ratio"] = ask_float(ask, "Mask growth", "Mask growth", VACE_UNIT_RANGE, 0.05)
    elif function == "video_extension":
        fields = ask.choose("Extend from", [(names, title) for title, names in VACE_EXTENSION_INPUTS])
        for name in fields:
            values[name] = ask.file(name, spec)
    elif function == "video_outpainting":
        values["video"] = ask.file("video", spec, message="Video to widen (mp4, <=5 s)")
        for side in ("top", "bottom", "left", "right"):
            values[f"{side}_scale"] = ask_float(ask, f"Scale {side}", f"Scale {side}", VACE_SCALE_RANGE, 1.0)
    required = VACE_FUNCTIONS[function].prompt_required or spec.prompt_required
    values["prompt"] = ask_prompt(ask, spec, required=required)
    return values


def ask_float(ask: Prompter, message: str, option: str, bounds: tuple[float, float], default: float) -> float | None:
    low, high = bounds
    answer = ask.text(message, float_check(option, low, high), f"({low:g}-{high:g}; Enter for {default:g})")
    return float(answer) if answer else None


# ---------------------------------------------------------------------------------------------
# Options: only those the chosen model supports
# ---------------------------------------------------------------------------------------------


def ask_options(ask: Prompter, spec: ModelSpec, function: str | None, values: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {"duration": ask_duration(ask, spec, values)}
    options |= ask_resolution(ask, spec, function)
    options |= ask_audio(ask, spec)
    if spec.shot_type and ask.choose(
        "Shots",
        [(False, "single shot (default)"), (True, "multi-shot: the service plans several shots (prompt extension on)")],
    ):
        options["shot_type"] = "multi"
        if spec.prompt_extend:
            options["prompt_extend"] = True
    low, high = SEED_RANGE
    seed = ask.text("Seed", int_check("Seed", low, high), f"({low}-{high}; Enter for random)")
    options["seed"] = int(seed) if seed else None
    negative = ask.text(
        "Negative prompt: what to avoid",
        text_check("The negative prompt", max_chars=spec.negative_prompt_max, required=False),
        f"(Enter for none; up to {spec.negative_prompt_max} characters)",
    )
    options["negative_prompt"] = negative or None
    return options


def ask_duration(ask: Prompter, spec: ModelSpec, values: dict[str, Any]) -> int | None:
    rule = spec.durations
    if not rule.parameter or rule.fixed:
        ask.note(f"Duration: {rule.describe()}")
        return None
    if rule.choices:
        ordered = sorted(rule.choices, key=lambda seconds: seconds != rule.default)
        return ask.choose("Duration", [(s, f"{s} s" + (" (default)" if s == rule.default else "")) for s in ordered])
    assert rule.min is not None and rule.max is not None
    high = rule.max
    with_video = any(guess_kind(ref) == "video" for ref in values.get("refs", []))
    if spec.duration_max_with_reference_video and with_video:
        high = spec.duration_max_with_reference_video
    default = "0 = the input's length" if rule.default == 0 else f"{rule.default}"
    extra = " or 0 = the input's length" if 0 in rule.extra else ""
    answer = ask.text(
        "Duration in seconds",
        int_check("Duration", rule.min, high, extra=rule.extra),
        f"({rule.min}-{high}{extra}; Enter for {default})",
    )
    return int(answer) if answer else rule.default


def _size_title(size: str, default: str | None) -> str:
    for tier, sizes in SIZE_TABLE.items():
        if size in sizes:
            ratio = ("16:9", "9:16", "1:1", "4:3", "3:4")[sizes.index(size)]
            text = f"{size:<10} {tier} {ratio}"
            return text + (" (default)" if size == default else "")
    return size


def _default_first(values: Sequence[str], default: str | None) -> list[str]:
    return sorted(values, key=lambda value: value != default)


def ask_resolution(ask: Prompter, spec: ModelSpec, function: str | None) -> dict[str, Any]:
    if spec.resolution_field == "size":
        vace = VACE_FUNCTIONS.get(function or "")
        if vace is not None and not vace.takes_size:
            ask.note("Size: follows the input video (at most 720P)")
            return {}
        sizes = _default_first(spec.sizes, spec.default_size)
        return {"size": ask.choose("Size", [(s, _size_title(s, spec.default_size)) for s in sizes])}
    resolutions = _default_first(spec.resolutions, spec.default_resolution)
    chosen: dict[str, Any] = {
        "resolution": ask.choose(
            "Resolution",
            [(r, r + (" (default)" if r == spec.default_resolution else "")) for r in resolutions],
        )
    }
    if spec.resolution_field == "resolution":
        ask.note("Aspect ratio: follows the input")
        return chosen
    if spec.default_ratio is not None:
        ratios = _default_first(spec.ratios, spec.default_ratio)
        choices: list[tuple[str | None, str]] = [
            (r, r + (" (default)" if r == spec.default_ratio else "")) for r in ratios
        ]
    else:
        keep = "the input video's" if spec.mode == "vace" else "16:9, or the first frame's when one is given"
        choices = [(None, f"default ({keep})"), *((r, r) for r in spec.ratios)]
    chosen["ratio"] = ask.choose("Aspect ratio", choices)
    return chosen


def ask_audio(ask: Prompter, spec: ModelSpec) -> dict[str, Any]:
    if spec.audio == "silent":
        ask.note("Sound: none (this model makes silent videos)")
        return {}
    chosen: dict[str, Any] = {}
    if spec.audio == "toggle":
        chosen["audio"] = ask.confirm("Sound on?", default=True)
        if not chosen["audio"]:
            return chosen
    if spec.audio_url:
        custom = ask.choose(
            "Sound", [(False, "generated with the video (default)"), (True, "my own audio file (soundtrack)")]
        )
        if custom:
            chosen["audio_file"] = ask.file("audio_file", spec)
    elif spec.audio == "always" and not spec.audio_settings:
        ask.note("Sound: always on with this model")
    return chosen


def ask_long_video(ask: Prompter) -> Any:
    """The long-video recipe: a clip, a target length, how to continue, a prompt per segment, a soundtrack."""
    from qwenvid.media.inputs import inspect_video
    from qwenvid.plans.extend import ExtendRequest, segment_count, segment_seconds

    video = clean_path(ask.text("Video to extend (a local MP4)", file_check("video", None, "VIDEO"), paths=True))
    info = inspect_video(Path(video).expanduser())
    length = info.duration
    target = int(
        ask.text(
            f"Target length in seconds (it is {length:g} s now)",
            int_check("Target length", int(length) + 1, 600, optional=False),  # the question's words, not a flag
        )
    )
    method = ask.choose("How should each segment continue the last?", EXTEND_METHODS)
    resolution = ask_segment_tier(ask, method, info.width, info.height)
    count = segment_count(method, length, float(target))
    ask.note(f"{count} new segment(s) of about {segment_seconds(method)} s: one prompt each, in order")
    prompts: list[str] = []
    while len(prompts) < count:  # never a question more than there are segments
        label = f"Prompt for segment {len(prompts) + 1} of {count}"
        label += " (empty: the same story goes on)" if prompts else ""
        text = ask.text(label, text_check("The prompt", max_chars=800, required=not prompts))
        if not text.strip():
            break
        prompts.append(text.strip())
    audio = clean_path(
        ask.text("Soundtrack (wav/mp3, optional)", file_check("audio", None, "Soundtrack", required=False), paths=True)
    )
    return ExtendRequest(
        video=Path(video).expanduser(),
        target_seconds=float(target),
        prompts=prompts,
        method=method,
        audio=Path(audio).expanduser() if audio else None,
        resolution=resolution,
        source_size=(info.width, info.height),
    )


def ask_segment_tier(ask: Prompter, method: str, width: int, height: int) -> str | None:
    """The tier of the new segments; the source's own (or the nearest the model makes) is the default."""
    from qwenvid.plans.extend import DEFAULT_MODEL, ExtendRequest, model_tiers, segment_tier, source_tier

    own = source_tier(width, height)
    default, note = segment_tier(ExtendRequest(Path("."), 0, [], method=method), width, height)
    tiers = model_tiers(DEFAULT_MODEL[method])
    if note:
        ask.note(note)
    if method == "vace" or len(tiers) < 2 or default is None:
        ask.note(f"New segments: {default or 'the model default'} (the only tier this method makes)")
        return None if method == "vace" else default
    ordered = [default, *[t for t in tiers if t != default]]
    titles = [
        (t, t + (" (the source's tier)" if t == own else "") + (" (default)" if t == default else "")) for t in ordered
    ]
    return ask.choose(f"Resolution of the new segments (the video is {width}x{height}, {own})", titles)
