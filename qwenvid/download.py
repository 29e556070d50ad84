"""Verified result downloads: stream to NAME.part, resume with Range, check, probe, rename; JSON sidecars.

    result = download_video(url, "output/qwenvid", http=client_without_auth, name_hint=hint, expect=expected)
    result.path, result.size, result.sha256, result.probe, result.notices
    write_sidecar(result.path, {...})   # video.mp4.json beside the video

Guarantees (product.md §4 "Downloads you can trust"):
- memory stays constant: the body is streamed in `chunk_size` pieces and hashed as it arrives;
- a dropped connection resumes with `Range: bytes=N-` from the `.part` size (a 206 must start at N;
  a 200 starts over), so the sha256 of a resumed download is the sha256 of the whole file;
- the length is checked against Content-Length / Content-Range, the MP4 is probed and compared
  with what the request promised, then the file is fsynced and moved to its final name;
- an existing file is never overwritten, names made from prompts cannot leave the folder;
- no Authorization header ever goes to the result host (signed URLs need none);
- a 403 means the signed link expired (24 h) or was refused: no retry.

`dest` is a folder, or a file path when it has a suffix (e.g. ".mp4") and is not an existing
folder. The final move uses a hard link (no-clobber and atomic), falling back to `os.replace`
after a fresh existence check on file systems without hard links.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import secrets
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import parse_qs, urlsplit

import httpx

from qwenvid.errors import DownloadError, ValidationError, scrub
from qwenvid.probe import VideoProbe, probe_video

CHUNK_SIZE = 1 << 20
DURATION_TOLERANCE = 0.5  # seconds
MAX_NAME_BYTES = 200  # well under the 255-byte limit of common file systems, leaving room for ".part"
MAX_SLUG_CHARS = 60
MAX_BACKOFF = 30.0
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)
_CONTENT_RANGE = re.compile(r"^bytes\s+(\d+)-(\d+)/(\d+|\*)$")

ProgressCallback = Callable[[int, "int | None"], None]


class ExpectedVideo(Protocol):
    """What the finished video should show (qwenvid.catalogue.ExpectedOutput fits); None = unknown."""

    @property
    def duration(self) -> float | None: ...
    @property
    def has_audio(self) -> bool | None: ...
    @property
    def width(self) -> int | None: ...
    @property
    def height(self) -> int | None: ...


@dataclass(frozen=True)
class DownloadResult:
    """A verified video on disk."""

    path: Path
    size: int
    sha256: str
    probe: VideoProbe
    notices: tuple[str, ...] = ()
    resumes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "size": self.size,
            "sha256": self.sha256,
            "probe": self.probe.to_dict(),
            "notices": list(self.notices),
            "resumes": self.resumes,
        }


# --------------------------------------------------------------------------- names


def slugify(text: str, *, max_chars: int = MAX_SLUG_CHARS) -> str:
    """A file-name-safe slug: letters, digits, '-', '_' and single dots; never a path, never empty."""
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"[^\w.\-]+", "-", text)  # separators, spaces, control and shell characters
    text = re.sub(r"\.{2,}", ".", text)  # no ".."
    text = re.sub(r"-{2,}", "-", text)
    text = text.strip(".-_ ")[:max_chars].rstrip(".-_ ")
    if not text or _WINDOWS_RESERVED.match(text):
        text = f"video-{text}" if text else "video"
    return text


def video_file_name(name_hint: str | None, *, suffix: str = ".mp4") -> str:
    """The default file name for a hint such as "<date>_<mode>_<model>_<task8>_<prompt>"."""
    stem = slugify(name_hint or "video", max_chars=120)
    while len((stem + suffix + ".part").encode()) > MAX_NAME_BYTES:
        stem = stem[:-1].rstrip(".-_") or "video"
    return stem + suffix


def default_name_hint(
    *, mode: str | None, model: str | None, task_id: str | None, prompt: str | None, when: datetime | None = None
) -> str:
    """ "20260301-120000_t2v_wan2.6-t2v_0385dc79_A-kitten-running..." (sanitized later by video_file_name)."""
    moment = (when or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    parts = [moment, mode, model, (task_id or "")[:8], slugify(prompt, max_chars=40) if prompt else None]
    return "_".join(part for part in parts if part)


def _target(dest: str | Path, name_hint: str | None) -> tuple[Path, bool]:
    """(wanted final path, whether the user named the file exactly)."""
    raw = str(dest)
    path = Path(raw).expanduser()
    is_folder = path.is_dir() or raw.endswith(("/", os.sep)) or not (path.suffix or path.exists())
    if is_folder:
        return path / video_file_name(name_hint), False
    return path, True


def check_output_target(dest: str | Path, *, overwrite: bool = False) -> None:
    """Refuse, before anything is paid for, an output the video cannot go to as asked: a folder that cannot
    be written, a file name that is not `.mp4`, or an existing file (unless `overwrite`).

    The folder is created if missing, as the download would do; a failure here is a usage error (exit 2).
    """
    final, named = _target(dest, "check")
    if named and final.suffix.lower() != ".mp4":
        raise ValidationError(
            f"-o/--output {dest}: a video file name must end in .mp4",
            field="output",
            value=str(dest),
            hint="Name an .mp4 file, or give a folder (ending in /) to get a generated name.",
        )
    if named and final.exists() and not overwrite:
        raise ValidationError(
            f"-o/--output {dest} already exists",
            field="output",
            value=str(dest),
            hint="Add --overwrite to replace it, or choose another name (or a folder).",
        )
    folder = final.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(
            f"-o/--output {dest}: cannot create the folder {folder}: {exc.strerror or exc}",
            field="output",
            value=str(dest),
            hint="Choose a folder you can write to.",
        ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ValidationError(
            f"-o/--output {dest}: the folder {folder} is not writable",
            field="output",
            value=str(dest),
            hint="Choose a folder you can write to.",
        )


def _numbered(path: Path, n: int) -> Path:
    return path if n == 0 else path.with_name(f"{path.stem}-{n}{path.suffix}")


def _reserve(wanted: Path) -> tuple[Path, IO[bytes]]:
    """Claim the first free name (no file, no .part) by creating its .part exclusively."""
    wanted.parent.mkdir(parents=True, exist_ok=True)
    for n in range(10_000):
        candidate = _numbered(wanted, n)
        if candidate.exists():
            continue
        try:
            handle = open(_part(candidate), "xb")  # stays open for the whole download
        except FileExistsError:
            continue
        return candidate, handle
    raise DownloadError(f"No free file name next to {wanted}.")


def _reserve_part(wanted: Path) -> tuple[Path, IO[bytes]]:
    """Claim `wanted` itself (its .part) even though the file exists: the user asked to replace it."""
    wanted.parent.mkdir(parents=True, exist_ok=True)
    try:
        return wanted, open(_part(wanted), "xb")
    except FileExistsError:
        raise DownloadError(f"{_part(wanted)} exists: another download into {wanted} is running.") from None


def _part(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def _place(part: Path, final: Path) -> Path:
    """Move the verified .part to its name without ever replacing an existing file."""
    for n in range(10_000):
        candidate = final if n == 0 else _numbered(final, n)
        try:
            os.link(part, candidate)
        except FileExistsError:
            continue
        except OSError:  # no hard links here (some network and FAT file systems)
            if candidate.exists():
                continue
            os.replace(part, candidate)
            return candidate
        os.unlink(part)
        return candidate
    raise DownloadError(f"No free file name next to {final}.")


# --------------------------------------------------------------------------- the download


class _Retry(Exception):
    """A transient problem: try again (resuming) after a pause."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


@dataclass
class _Progress:
    handle: IO[bytes]
    hasher: Any
    written: int = 0
    total: int | None = None
    resumes: int = 0

    def restart(self) -> None:
        self.handle.seek(0)
        self.handle.truncate()
        self.hasher = hashlib.sha256()
        self.written = 0
        self.total = None


def download_video(
    url: str,
    dest: str | Path,
    *,
    http: httpx.Client,
    name_hint: str | None = None,
    expect: ExpectedVideo | None = None,
    on_progress: ProgressCallback | None = None,
    retries: int = 5,
    sleep: Callable[[float], None] = time.sleep,
    chunk_size: int = CHUNK_SIZE,
    overwrite: bool = False,
) -> DownloadResult:
    """Download a result video to `dest`, verify it, and return where it is and what it holds.

    Raises DownloadError when the link expired or was refused, the transfer keeps failing
    after `retries` attempts without progress, the length is wrong, or the file is not the
    video the request promised (the .part file is then kept for inspection).
    """
    _refuse_credentials_in_url(url)
    wanted, explicit = _target(dest, name_hint)
    replace = overwrite and explicit
    try:
        final, handle = _reserve_part(wanted) if replace else _reserve(wanted)
    except OSError as exc:
        raise DownloadError(f"Cannot write into {wanted.parent}: {exc.strerror or exc}") from exc
    part = _part(final)
    notices: list[str] = []
    if explicit and final != wanted:
        notices.append(f"{wanted} already exists; saving as {final.name} instead (qwenvid never overwrites).")
    progress = _Progress(handle, hashlib.sha256())
    try:
        with handle:
            _transfer(url, http, progress, on_progress, retries, sleep, chunk_size)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException as exc:
        if progress.written == 0:
            part.unlink(missing_ok=True)  # nothing worth keeping, and it would hold the name
        if isinstance(exc, OSError):  # disk full, permissions: not a network problem
            raise DownloadError(f"Cannot write {part}: {exc.strerror or exc}") from exc
        raise
    probe = _verify(part, expect)
    try:
        if replace:  # asked for with --overwrite: the new video takes the name, atomically
            os.replace(part, final)
            placed = final
        else:
            placed = _place(part, final)
    except OSError as exc:
        raise DownloadError(f"Cannot move {part.name} to {final.name}: {exc.strerror or exc}") from exc
    if placed != final:
        notices.append(f"{final.name} appeared while downloading; saved as {placed.name} instead.")
    _fsync_folder(placed.parent)
    return DownloadResult(
        placed, progress.written, progress.hasher.hexdigest(), probe, tuple(notices), progress.resumes
    )


def _transfer(
    url: str,
    http: httpx.Client,
    progress: _Progress,
    on_progress: ProgressCallback | None,
    retries: int,
    sleep: Callable[[float], None],
    chunk_size: int,
) -> None:
    failures = 0
    while True:
        before = progress.written
        try:
            _attempt(url, http, progress, on_progress, chunk_size)
            return
        except _Retry as exc:
            reason, retry_after = str(exc), exc.retry_after
        except httpx.TransportError as exc:  # connect, read timeout, reset, body cut short
            reason, retry_after = f"{type(exc).__name__}: {exc}", None
        # An attempt that moved the file forward resets the count: a slow, flaky line still finishes.
        failures = 1 if progress.written > before else failures + 1
        if failures > retries:
            raise DownloadError(
                f"The download kept failing ({scrub(reason)}); {progress.written} bytes were saved.",
                hint="Try again later with `qwenvid fetch <task id>`; the link is valid 24 h after the task finished.",
            )
        if progress.written:
            progress.resumes += 1
        sleep(_backoff(failures, retry_after))


def _attempt(
    url: str,
    http: httpx.Client,
    progress: _Progress,
    on_progress: ProgressCallback | None,
    chunk_size: int,
) -> None:
    """One GET (ranged when resuming) that appends to the .part file until the body ends."""
    headers = {"Accept-Encoding": "identity"}  # byte offsets must be offsets in the file itself
    if progress.written:
        headers["Range"] = f"bytes={progress.written}-"
    request = http.build_request("GET", url, headers=headers)
    _refuse_authorization(request)
    response = http.send(request, stream=True, auth=None, follow_redirects=True)
    pending = bytearray()
    try:
        for sent in (*(r.request for r in response.history), response.request):
            _refuse_authorization(sent)
        _accept_status(response, url, progress)
        for piece in response.iter_bytes():
            pending += piece
            if len(pending) >= chunk_size:
                _append(progress, pending, on_progress)
    finally:
        # Keep every byte that arrived, also when the connection dropped: the resume starts after it.
        _append(progress, pending, on_progress)
        response.close()
    if progress.total is not None and progress.written < progress.total:
        raise _Retry(f"the body ended at {progress.written} of {progress.total} bytes")
    if progress.total is not None and progress.written > progress.total:
        raise DownloadError(f"The server sent {progress.written} bytes but announced {progress.total}.")


def _append(progress: _Progress, pending: bytearray, on_progress: ProgressCallback | None) -> None:
    if not pending:
        return
    progress.handle.write(pending)
    progress.hasher.update(pending)
    progress.written += len(pending)
    pending.clear()
    if on_progress is not None:
        on_progress(progress.written, progress.total)


def _accept_status(response: httpx.Response, url: str, progress: _Progress) -> None:
    """Check the answer and line the .part file up with the bytes that are about to arrive."""
    status = response.status_code
    if status == 403:
        raise DownloadError(_refused_message(response, url))
    if status in (404, 410):
        raise DownloadError(f"The video is no longer on the server (HTTP {status}); result links live 24 h.")
    if status == 416:
        progress.restart()
        raise _Retry("the server could not resume (416); starting over")
    if status in (408, 425, 429) or status >= 500:
        raise _Retry(f"HTTP {status}", _retry_after(response))
    if status == 200:
        if progress.written:
            progress.restart()  # the server ignored Range: take the whole body from the start
        progress.total = _int_header(response, "content-length")
        return
    if status == 206:
        start, total = _content_range(response)
        if start != progress.written:
            progress.restart()
            raise _Retry(f"the server resumed at byte {start}, not {progress.written}; starting over")
        if progress.total is not None and total is not None and total != progress.total:
            progress.restart()
            raise _Retry("the file changed size on the server; starting over")
        progress.total = total
        return
    raise DownloadError(f"The result host answered HTTP {status}.")


def _content_range(response: httpx.Response) -> tuple[int, int | None]:
    match = _CONTENT_RANGE.match(response.headers.get("content-range", "").strip())
    if match is None:
        raise _Retry("a 206 answer without a usable Content-Range")
    return int(match.group(1)), None if match.group(3) == "*" else int(match.group(3))


def _refused_message(response: httpx.Response, url: str) -> str:
    response.read()
    body = scrub(response.text[:2000])
    code = _xml_text(body, "Code")
    message = _xml_text(body, "Message")
    expires = parse_qs(urlsplit(url).query).get("Expires", [""])[0]
    expired = "expired" in (message or "").lower() or (expires.isdigit() and int(expires) < time.time())
    if expired or code in (None, "AccessDenied"):
        return (
            "The download link expired: result URLs are valid for 24 h after the task finished"
            + (f" (server said: {code}: {message})" if code else "")
            + "."
        )
    return f"The result host refused the download link (HTTP 403 {code}: {message})."


def _xml_text(body: str, tag: str) -> str | None:
    match = re.search(rf"<{tag}>([^<]*)</{tag}>", body)
    return match.group(1).strip() if match else None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name, "").strip()
    return int(value) if value.isdigit() else None


def _backoff(failures: int, retry_after: float | None) -> float:
    delay = min(MAX_BACKOFF, 0.5 * 2 ** (failures - 1)) * random.uniform(0.5, 1.0)
    return min(60.0, max(delay, retry_after)) if retry_after is not None else delay


def _refuse_authorization(request: httpx.Request) -> None:
    if "authorization" in request.headers:
        raise DownloadError("Refusing to send an Authorization header to the result host (signed URLs need none).")


def _refuse_credentials_in_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise DownloadError(f"Not a downloadable video URL: {scrub(url)[:200]}")
    if parts.username or parts.password:
        raise DownloadError("Refusing a result URL that carries credentials.")


# --------------------------------------------------------------------------- verification


def _verify(part: Path, expect: ExpectedVideo | None) -> VideoProbe:
    """Probe the downloaded file and compare it with what the request promised."""
    try:
        probe = probe_video(part)
    except DownloadError as exc:
        raise DownloadError(f"The downloaded file is not a playable video ({exc.message}); kept at {part}.") from exc
    problems = _mismatches(probe, expect) if expect is not None else []
    if problems:
        raise DownloadError(
            "The downloaded video does not match the request: " + "; ".join(problems) + f". Kept at {part}."
        )
    return probe


def _mismatches(probe: VideoProbe, expect: ExpectedVideo) -> list[str]:
    problems = []
    if (
        expect.duration is not None
        and probe.duration is not None
        and abs(probe.duration - expect.duration) > DURATION_TOLERANCE
    ):
        problems.append(f"duration {probe.duration:.2f} s, expected {expect.duration:g} s")
    if expect.width and expect.height and (probe.width, probe.height) != (expect.width, expect.height):
        problems.append(f"size {probe.width}*{probe.height}, expected {expect.width}*{expect.height}")
    if expect.has_audio is True and not probe.has_audio:
        problems.append("no audio track, but the model promises audio")
    if expect.has_audio is False and probe.has_audio:
        problems.append("an audio track, but a silent video was expected")
    return problems


# --------------------------------------------------------------------------- files on disk


def write_sidecar(video_path: str | Path, data: Mapping[str, Any]) -> Path:
    """Write `data` as JSON beside the video ("NAME.mp4.json"), atomically, with secrets scrubbed."""
    video_path = Path(video_path)
    sidecar = video_path.with_name(video_path.name + ".json")
    text = scrub(json.dumps(data, indent=2, ensure_ascii=False, default=_json_default)) + "\n"
    temporary = sidecar.with_name(f".{sidecar.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, sidecar)
    finally:
        temporary.unlink(missing_ok=True)
    return sidecar


def _json_default(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _fsync_folder(folder: Path) -> None:
    """Make the new directory entry durable too (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
