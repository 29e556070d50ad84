"""A character's portrait from a description (text-to-image), kept as the cast member's reference image."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from qwenvid.story.costs import ExtraCost, reuse_or_call
from qwenvid.wire.images import PORTRAIT_MODEL, generate_image, portrait_body

if TYPE_CHECKING:
    from qwenvid.tasks.extra_budget import ExtraBudget


def portrait_prompt(description: str) -> str:
    """A reference image works best as one subject, facing the camera, on a plain background (prompt guide)."""
    return (
        f"Portrait of {description.strip().rstrip('.')}, head and shoulders, facing the camera, eye level, "
        "plain light grey background, soft even daylight, sharp focus, realistic"
    )


def portrait_cost(model: str = PORTRAIT_MODEL) -> ExtraCost:
    return ExtraCost("portrait", model, 1, "images")


def make_portrait(
    *,
    api_key: str | None,
    base_url: str,
    ledger: Path,
    description: str,
    target: Path,
    transport: httpx.BaseTransport | None = None,
    budget: ExtraBudget | None = None,
) -> tuple[Path, bool]:
    """Write the portrait PNG to `target`; (path, reused). The same description again costs nothing."""
    from qwenvid.wire.story_http import download

    body = portrait_body(portrait_prompt(description))
    staged = target.with_name(target.name + ".new.png")

    def usable(detail: dict[str, Any]) -> bool:
        cached = Path(str(detail.get("path", "")))
        return cached.is_file()

    def call() -> tuple[float, str, dict[str, Any]]:
        result = generate_image(api_key, base_url, body, transport=transport)
        if not result.urls:
            from qwenvid.errors import NetworkError

            raise NetworkError("The text-to-image answer has no image.")
        import hashlib

        digest = hashlib.sha256(repr(body).encode("utf-8")).hexdigest()[:24]
        keep = ledger.parent / "story" / "portraits" / f"{digest}.png"
        download(result.urls[0], keep, transport=transport)
        return float(result.image_count), "images", {"path": str(keep), "request_id": result.request_id}

    detail, reused = reuse_or_call(
        ledger,
        kind="portrait",
        model=str(body["model"]),
        body=body,
        base_url=base_url,
        usable=usable,
        call=call,
        budget=budget,
        planned=portrait_cost(str(body["model"])),
    )
    import shutil

    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(detail["path"], staged)
    staged.replace(target)
    return target, reused
