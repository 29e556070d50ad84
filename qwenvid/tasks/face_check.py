"""The s2v face check before the submit: a verdict cached per image in the ledger, else one billed call."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qwenvid.errors import ValidationError
from qwenvid.requests.performers import FACE_DETECT_MODEL
from qwenvid.store.face_checks import FaceChecks, FaceVerdict
from qwenvid.tasks.extra_budget import ExtraBudget

REFUSED_HINT = "Use a clear photo of one person facing the camera, face fully visible (400-7000 px)."


def image_key(image: str) -> str:
    """A local image by its content (renamed or moved, it is the same photo); a URL by itself."""
    path = Path(image)
    if "://" not in image and not image.startswith("data:") and path.is_file():
        return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    return image


def ensure_face(session: Any, image: str, notice: Callable[[str], None]) -> FaceVerdict:
    """Pass, or raise ValidationError (exit 2) with the verdict; a cached verdict is never paid for again."""
    store = FaceChecks(session.ledger.path)
    service = session.settings.base_url
    key = image_key(image)
    verdict = store.get(key, service)
    if verdict is not None:
        said = "passed" if verdict.check_pass else "did not pass"
        notice(f"Face check: {said} (cached from {verdict.checked_at}; not checked or billed again)")
    else:
        notice(f"Face check: 1 {FACE_DETECT_MODEL} call, billed per image whether it passes or not…")
        with ExtraBudget(session.settings).hold(FACE_DETECT_MODEL, "images", 1.0):  # exit 11 before the call
            url = image
            if "://" not in image and not image.startswith("data:"):
                url = session.client.upload_file(Path(image), FACE_DETECT_MODEL)
            body = session.client.face_detect(url)
            output = body["output"]
            verdict = FaceVerdict(
                check_pass=output.get("check_pass") is True,
                humanoid=output.get("humanoid") if isinstance(output.get("humanoid"), bool) else None,
                code=output.get("code") or None,
                message=output.get("message") or None,
                request_id=body.get("request_id"),
            )
            store.put(key, service, FACE_DETECT_MODEL, verdict)
        notice("Face check: passed" if verdict.check_pass else "Face check: did not pass")
    if not verdict.check_pass:
        reason = f" ({verdict.code}: {verdict.message})" if verdict.code or verdict.message else ""
        raise ValidationError(
            f"The face check of {image} did not pass{reason}: wan2.2-s2v needs one clear human face; "
            "nothing was submitted.",
            field="--image",
            value=image,
            hint=REFUSED_HINT,
        )
    return verdict


def face_guard(session: Any, notice: Callable[[str], None]) -> Callable[[Any, Any], None]:
    """A submit guard (qwenvid/tasks/submit.py) that face-checks every s2v request before it is paid for."""

    def guard(_ctx: Any, attempt: Any) -> None:
        request = attempt.plan.request
        image = getattr(request, "image", None)
        if getattr(request, "mode", None) == "s2v" and isinstance(image, str):
            ensure_face(session, image, notice)

    return guard
