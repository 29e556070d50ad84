"""Wan 3.0's `file` (a document) and `link` (a web page) media items: the --doc/--link rules (§1.2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qwenvid.catalogue import ModelSpec
from qwenvid.errors import ValidationError

DOC_TYPES = ("docx", "doc", "xlsx", "xls", "pptx", "ppt", "pdf", "txt", "key", "pages", "numbers", "md")
DOC_MAX_BYTES = 100 * 1024 * 1024
_FRAME_ATTRS = ("image", "first_frame", "last_frame")


def doc_and_link(req: Any) -> tuple[str | None, str | None]:
    return getattr(req, "doc", None), getattr(req, "link", None)


def media_items(req: Any, url: Any) -> list[dict[str, str]]:
    """The request's file/link items as sent; a local document becomes its uploaded URL."""
    doc, link = doc_and_link(req)
    items = []
    if doc:
        items.append({"type": "file", "url": url(doc)})
    if link:
        items.append({"type": "link", "url": link})
    return items


def _doc_suffix(value: str) -> str:
    path = value.split("?", 1)[0].split("#", 1)[0]
    return Path(path).suffix.lower().lstrip(".")


def check_doc_link(req: Any, spec: ModelSpec | None) -> None:
    """Refuse, before anything is uploaded or paid, a --doc/--link the service would refuse."""
    doc, link = doc_and_link(req)
    if not doc and not link:
        return
    given = "--doc" if doc else "--link"
    if doc and link:
        raise ValidationError("--doc and --link cannot be given together; Wan 3.0 takes one of them", field="--doc")
    if spec is None or spec.protocol != "wan3":
        raise ValidationError(
            f"{given} needs a Wan 3.0 model (wan3.0-*), not {req.model}", field=given, value=req.model
        )
    frames = [attr for attr in _FRAME_ATTRS if getattr(req, attr, None)]
    if frames:
        frame = "--" + frames[0].replace("_", "-")
        raise ValidationError(
            f"{given} cannot be sent with {frame}; beside a document or link only references are allowed",
            field=given,
        )
    if req.prompt_extend is False:
        raise ValidationError(
            f"{given} needs prompt extension; drop --no-prompt-extend", field="prompt_extend", value=False
        )
    if link and not link.startswith(("http://", "https://")):
        raise ValidationError(f"--link must be a public http(s) web page URL, not {link}", field="--link")
    if doc:
        suffix = _doc_suffix(doc)
        if suffix not in DOC_TYPES:
            raise ValidationError(
                f"--doc {doc}: .{suffix or '?'} is not a document Wan 3.0 reads; allowed: {', '.join(DOC_TYPES)}",
                field="--doc",
                value=suffix,
            )
        if "://" not in doc and not doc.startswith("data:"):
            path = Path(doc).expanduser()
            if not path.is_file():
                raise ValidationError(f"--doc {doc}: no such file", field="--doc", value=doc)
            if path.stat().st_size > DOC_MAX_BYTES:
                raise ValidationError(f"--doc {doc}: larger than 100 MB", field="--doc", value=doc)
