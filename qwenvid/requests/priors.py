"""Cold render-time priors: how long a task should take before this user has any history of its kind.

One model for every cold estimate (the poller, the progress bar, `reconcile`, plans) and for the
emulator's `realistic` mode, so the emulator renders what qwenvid expects, give or take its scatter.

The only published figures are coarse (dashscope-api.md §5, "Typical runtime"): 1-5 min for
t2v/i2v/kf2v/r2v, VACE 5-10 min, "1080P + multi-shot + 15 s up to ~10 min". A video model's work
grows with what it makes (frames x pixels) on top of a fixed cost (loading, prompt encoding, the
safety check, the upload of the result), so the prior is

    render = base(model) x (FIXED_SHARE + (1 - FIXED_SHARE) x seconds/5 x pixels/720P) x kind x shots
    total  = QUEUE_SECONDS + render

where base(model) is the catalogue's `typical_seconds` (the render of the reference output: 720P,
5 s, one shot, from text). With base 140 s and half of it fixed, the documented ranges hold:

    480P, 2 s      ~ 85 s          720P, 5 s    ~ 2.4 min     1080P, 5 s   ~ 3.9 min
    1080P, 10 s    ~ 6.5 min       1080P, 15 s  ~ 9 min (multi-shot ~10 min)
    VACE (450 s)   720P, 5 s ~ 7.6 min (5-10 min)      flash/turbo (85 s)  720P, 5 s ~ 1.5 min

These are guesses shaped to the documentation, not measurements: the poller treats them as a window
(`SCATTER` either side) and keeps its "never far behind" cap for tasks that end far sooner, and
the user's own history replaces them after the first task of a kind (qwenvid/tasks/estimates.py).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The reference output `typical_seconds` is given for (the commonest request: 720P, 5 s).
REFERENCE_SECONDS = 5.0
REFERENCE_PIXELS = 1280 * 720
# Half the reference render does not grow with the output: without it a 2 s 480P clip would be
# predicted at ~25 s, below the documented 1 min floor; with it 1080P/15 s lands at ~9 min (§5).
FIXED_SHARE = 0.5
# Used when a model is not in the catalogue: the middle of the documented 1-5 min.
DEFAULT_BASE_SECONDS = 140.0
# Time PENDING before the render starts: nothing is documented; a few seconds on a quiet account
# (a busy one queues longer, which the poller learns when it sees the task RUNNING).
QUEUE_SECONDS = 5.0
QUEUE_SPREAD = 3.0
# How far either side of the prior a render lands (the emulator's realistic scatter, the poller's window).
SCATTER = 0.2
# Inputs the service must read and follow frame by frame (a video to edit, continue or imitate)
# cost more than an image or text: an assumption, kept small.
VIDEO_INPUT_FACTOR = 1.25
# "1080P + multi-shot + 15 s up to ~10 min" (§5): multi-shot adds about a tenth on top of the rest.
MULTI_SHOT_FACTOR = 1.1


# A bare typical time is only a rough guide: as wide as the priors' scatter (qwenvid/requests/priors.py SCATTER).
COLD_SPREAD = 0.2


@dataclass(frozen=True)
class Estimate:
    """The expected render time (submit to end) and how sure we are of it.

    `spread` is the half-width of the window the end is expected in; `learned` says whether it comes
    from this user's own finished tasks (warm) or the catalogue's typical time (cold).
    """

    seconds: float
    spread: float
    learned: bool = False
    # Render time alone (RUNNING to end) and its spread, when history has it: queue times vary with
    # load, render times much less, so once the task is seen RUNNING the end is known more closely.
    render: float | None = None
    render_spread: float | None = None

    @classmethod
    def typical(cls, seconds: float) -> Estimate:
        return cls(float(seconds), COLD_SPREAD * float(seconds), learned=False)

    @classmethod
    def known(cls, seconds: float) -> Estimate:
        """A time the caller knows (the in-process emulator's timing): as sure as a learned one."""
        return cls(float(seconds), max(1.0, 0.1 * float(seconds)), learned=True)


# Input fields that carry the prompt or switches rather than media: they do not change the kind.
_NOT_MEDIA = frozenset({"prompt", "negative_prompt", "extend_prompt", "function", "template"})


def input_kind(request_json: Mapping[str, Any] | None) -> str:
    """What the task renders from: "text", or its media inputs ("img_url", "first_frame+last_frame", ...).

    An image-to-video render and a video continuation of the same model take different times, so
    each kind learns its own estimate.
    """
    body = request_json or {}
    given = body.get("input") if isinstance(body.get("input"), Mapping) else {}
    assert isinstance(given, Mapping)
    parts: set[str] = set()
    for name, value in given.items():
        if name in _NOT_MEDIA or value in (None, "", [], {}):
            continue
        if name == "media" and isinstance(value, list):
            parts.update(str(item.get("type", "media")) for item in value if isinstance(item, Mapping))
        else:
            parts.add(name.removesuffix("_url").removesuffix("_urls"))
    function = given.get("function")
    kind = "+".join(sorted(parts)) or "text"
    return f"{function}:{kind}" if function else kind


@dataclass(frozen=True)
class Prior:
    """The expected queue and render seconds of a task of one kind, with the render's scatter share."""

    queue: float
    render: float
    scatter: float = SCATTER

    @property
    def seconds(self) -> float:
        """Expected submit-to-end seconds."""
        return self.queue + self.render

    def estimate(self) -> Estimate:
        """A cold `Estimate`: centred on the prior, as wide as its scatter, re-aimable once RUNNING."""
        render_spread = self.scatter * self.render
        return Estimate(
            self.seconds,
            render_spread + QUEUE_SPREAD,
            learned=False,
            render=self.render,
            render_spread=render_spread,
        )

    def draw(self, rng: random.Random) -> tuple[float, float]:
        """A (queue, render) a task of this kind could take: the emulator's `realistic` timing."""
        queue = rng.uniform(max(0.0, self.queue - QUEUE_SPREAD), self.queue + QUEUE_SPREAD)
        return queue, self.render * (1.0 + rng.uniform(-self.scatter, self.scatter))


def pixels_of(model: str | None, size: str | None = None, resolution: str | None = None) -> int:
    """Output pixels per frame from a `size` ("1280*720") or a tier ("720P"), else the model's default."""
    from qwenvid.catalogue import TIER_PIXELS, get_model, parse_size

    if size and "*" in size:
        try:
            width, height = parse_size(size)
            return width * height
        except ValueError:
            pass
    if resolution and resolution.upper() in TIER_PIXELS:
        return TIER_PIXELS[resolution.upper()]
    spec = get_model(model) if model else None
    if spec is not None and (spec.default_size or spec.default_resolution):
        return pixels_of(None, spec.default_size, spec.default_resolution)
    return REFERENCE_PIXELS


def cold_prior(
    model: str | None,
    *,
    duration: float | None = None,
    size: str | None = None,
    resolution: str | None = None,
    kind: str = "text",
    multi_shot: bool = False,
) -> Prior:
    """The prior for `model` making `duration` s at `size`/`resolution` from `kind` inputs (input_kind())."""
    from qwenvid.catalogue import get_model

    spec = get_model(model) if model else None
    base = float(spec.typical_seconds) if spec else DEFAULT_BASE_SECONDS
    # No duration (VACE, or wan2.7-videoedit's 0 = "as long as the input"): the model's default, else 5 s.
    default = spec.durations.default if spec and spec.durations.default else REFERENCE_SECONDS
    seconds = float(duration) if duration and duration > 0 else float(default)
    work = seconds / REFERENCE_SECONDS * pixels_of(model, size, resolution) / REFERENCE_PIXELS
    render = base * (FIXED_SHARE + (1.0 - FIXED_SHARE) * work)
    if "video" in kind or "clip" in kind:
        render *= VIDEO_INPUT_FACTOR
    if multi_shot:
        render *= MULTI_SHOT_FACTOR
    return Prior(QUEUE_SECONDS, render)


def prior_for_request(body: Mapping[str, Any] | None, model: str | None = None) -> Prior:
    """The prior for a request body as sent (`model`, `parameters`, `input`); `model` overrides the body's."""
    body = body or {}
    params = body.get("parameters") if isinstance(body.get("parameters"), Mapping) else {}
    assert isinstance(params, Mapping)
    duration = params.get("duration")
    size, resolution = params.get("size"), params.get("resolution")
    return cold_prior(
        model or (str(body["model"]) if body.get("model") else None),
        duration=float(duration) if isinstance(duration, int | float) and not isinstance(duration, bool) else None,
        size=size if isinstance(size, str) else None,
        resolution=resolution if isinstance(resolution, str) else None,
        kind=input_kind(body),
        multi_shot=params.get("shot_type") == "multi",
    )
