"""`qwenvid s2v` (a photo + speech -> a talking video) and `qwenvid animate move|mix` (motion onto a character)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from qwenvid.cli._help import examples
from qwenvid.cli._options import (
    INPUTS,
    DetachOpt,
    DryRunOpt,
    JsonOpt,
    ModelOpt,
    OutputOpt,
    OverwriteOpt,
    PayAgainOpt,
    ResolutionOpt,
    TimeoutOpt,
    WatermarkOpt,
    YesOpt,
)
from qwenvid.cli._session import state_of
from qwenvid.cli.generate import RunFlags, run_request

S2V_EXAMPLES = examples(
    "qwenvid s2v --image singer.png --speech song.mp3",
    "qwenvid s2v --image singer.png --speech song.wav --resolution 720P",
)
ANIMATE_EXAMPLES = examples(
    "qwenvid animate move --image person.png --video dance.mp4",
    "qwenvid animate mix --image person.png --video street.mp4 --quality pro",
)

def s2v(
    ctx: typer.Context,
    image: Annotated[
        str | None,
        typer.Option(
            "--image", "-i", help="Photo of the speaker (one clear face): image or URL.", rich_help_panel=INPUTS
        ),
    ] = None,
    speech: Annotated[
        str | None,
        typer.Option("--speech", help="What they say or sing: wav/mp3 under 20 s, or URL.", rich_help_panel=INPUTS),
    ] = None,
    model: ModelOpt = None,
    resolution: ResolutionOpt = None,
    dry_run: DryRunOpt = False,
    detach: DetachOpt = False,
    timeout: TimeoutOpt = None,
    output: OutputOpt = None,
    overwrite: OverwriteOpt = False,
    yes: YesOpt = False,
    pay_again: PayAgainOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Make a photo talk or sing from a speech track (wan2.2-s2v, after a face check).

    Beijing only. The face check (wan2.2-s2v-detect) is billed per image; its verdict is kept in the ledger,
    so the same photo is never checked or billed twice.
    """
    from qwenvid.requests.performer_requests import S2VRequest
    from qwenvid.tasks.face_check import ensure_face

    flags = RunFlags(None, None, dry_run, detach, timeout, output, yes, overwrite=overwrite, pay_again=pay_again)
    request = S2VRequest(model=model or "", resolution=resolution, image=image, speech=speech)

    def face_check(session: Any, out: Any) -> None:
        assert request.image is not None  # validated by the plan
        ensure_face(session, request.image, out.notice)

    run_request(state_of(ctx, json_out), request, flags, before_submit=face_check)


def animate(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="move (copy the video's motion onto the image) or mix (swap the "
                                        "person in the video for the image).", show_default=False)],
    image: Annotated[
        str | None,
        typer.Option("--image", "-i", help="The character (one person facing the camera): image or URL.",
                     rich_help_panel=INPUTS),
    ] = None,
    video: Annotated[
        str | None,
        typer.Option("--video", help="The motion: mp4/avi/mov of 2-30 s, or URL.", rich_help_panel=INPUTS),
    ] = None,
    quality: Annotated[
        str, typer.Option("--quality", help="std or pro (the wire's parameters.mode; priced per quality).")
    ] = "std",
    check_image: Annotated[
        bool | None,
        typer.Option("--check-image/--no-check-image", help="Let the service check the image first (its default: on).",
                     show_default=False),
    ] = None,
    watermark: WatermarkOpt = None,
    dry_run: DryRunOpt = False,
    detach: DetachOpt = False,
    timeout: TimeoutOpt = None,
    output: OutputOpt = None,
    overwrite: OverwriteOpt = False,
    yes: YesOpt = False,
    pay_again: PayAgainOpt = False,
    json_out: JsonOpt = False,
) -> None:
    """Copy a video's motion onto a character (move) or put it into the video (mix).

    wan2.2-animate-move / -mix; --quality std or pro is the price tier.
    """
    from qwenvid.requests.performer_requests import AnimateRequest, animate_model

    flags = RunFlags(None, None, dry_run, detach, timeout, output, yes, overwrite=overwrite, pay_again=pay_again)
    request = AnimateRequest(
        model=animate_model(kind), image=image, video=video, quality=quality, check_image=check_image,
        watermark=watermark,
    )  # fmt: skip
    run_request(state_of(ctx, json_out), request, flags)


def register(app: typer.Typer) -> None:
    """Add s2v and animate to the app."""
    app.command(epilog=S2V_EXAMPLES)(s2v)
    app.command(epilog=ANIMATE_EXAMPLES)(animate)
