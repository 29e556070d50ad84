"""What `qwenvid extend` starts from: a local clip (a URL is refused in one line, never turned into a path),
and its prompt when none is given: the clip's own (its sidecar, else its ledger row), else asked on a
terminal, else a usage error naming --prompt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from qwenvid.errors import UsageError, ValidationError

URL_SCHEMES = ("http://", "https://", "oss://", "data:")


def local_clip(text: str) -> Path:
    """The VIDEO argument as a local path; a URL is refused as such (Path() would fold `//` into `/`)."""
    if text.lower().startswith(URL_SCHEMES):
        raise ValidationError(
            f"extend takes a local video, not a URL ({text[:80]}).",
            field="VIDEO",
            value=text,
            hint=f"Download it first, e.g. `curl -L -o clip.mp4 '{text[:200]}'`, then `qwenvid extend clip.mp4 ...`.",
        )
    return Path(text).expanduser()


def recorded_prompt(video: Path, settings: Any) -> tuple[str, str] | None:
    """(prompt, where it came from) the clip was made with: its JSON sidecar, else its ledger row."""
    sidecar = video.with_name(video.name + ".json")
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
        prompt = data.get("orig_prompt") or data.get("prompt")
        if isinstance(prompt, str) and prompt.strip():
            return prompt.strip(), f"its sidecar {sidecar.name}"
    except (OSError, ValueError, AttributeError):
        pass
    try:
        from qwenvid.store.ledger import Ledger

        if not settings.ledger_path.exists():
            return None
        target = str(video.resolve())
        with Ledger(settings.ledger_path) as ledger:
            for row in ledger.list(limit=2000):
                if row.video_path and row.prompt and Path(row.video_path).resolve() == Path(target):
                    return row.prompt, f"the ledger (task {row.task_id or row.id})"
    except Exception:  # noqa: BLE001 - an unreadable ledger only means no recorded prompt
        return None
    return None


def default_prompts(video: Path, settings: Any, out: Any) -> list[str]:
    """The prompt to continue with when no --prompt was given."""
    found = recorded_prompt(video, settings)
    if found is not None:
        prompt, where = found
        out.info(f'No --prompt: continuing with the clip\'s own prompt from {where}: "{prompt[:100]}"')
        return [prompt]
    from qwenvid.cli._cost import is_interactive

    if is_interactive():
        import typer

        try:
            answer = typer.prompt("What happens next? (the prompt for the new segments)", err=True).strip()
        except (typer.Abort, EOFError, KeyboardInterrupt):
            from qwenvid.errors import Interrupted

            raise Interrupted("Stopped at the question; nothing was submitted.") from None
        if answer:
            return [answer]
    raise UsageError(
        f"extend needs --prompt: {video.name} has no recorded prompt (no sidecar, no ledger row) to continue with.",
        hint='Add --prompt "what happens next" (repeat it: one per segment, in order).',
    )
