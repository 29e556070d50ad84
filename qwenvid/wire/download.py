"""Verified result downloads: stream to NAME.part, resume with Range (also across runs), check, probe, rename.

    result = download_video(url, "output/qwenvid", http=client_without_auth, name_hint=hint, expect=expected)
    result.path, result.size, result.sha256, result.probe, result.notices
    write_sidecar(result.path, {...})   # video.mp4.json beside the video

Guarantees (product.md §4 "Downloads you can trust"):
- memory stays constant: the body is streamed and hashed as it arrives (a plain HTTP/1.1 body is read
  straight from the connection into reusable buffers, without the HTTP parser's copies), hashed on a
  hasher thread and written on a writer thread fed through bounded queues (hashing and disk overlap
  with the network); a flusher thread makes the file durable every FLUSH_EVERY bytes, so the final
  fsync is short;
- a dropped connection resumes with `Range: bytes=N-` from the `.part` size (a 206 must start at N;
  a 200 starts over), so the sha256 of a resumed download is the sha256 of the whole file;
- a `.part` left by a killed run is continued by the next download of the same result (its identity
  is an extended attribute of the file; an flock keeps two live processes out of one .part); if the
  finished file then fails verification, it is downloaded once more from byte 0;
- limits: the body must start like an MP4 (`ftyp`), may not exceed `DownloadLimits.max_bytes`,
  headers must arrive within a deadline, a stalled transfer (under 16 KiB in 30 s) is cut off, and
  attempts that add less than 1 MiB count as failures, so a host that sends a few bytes and hangs up
  is given up after `retries` attempts (the .part is kept for a later `qwenvid fetch`);
- a redirect to anything but http(s) (file://, ...) is refused at once, never retried;
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
import logging
import os
import queue
import random
import re
import secrets
import socket
import ssl
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qs, urlsplit

import httpcore
import httpx

from qwenvid.errors import DownloadError, ValidationError, scrub
from qwenvid.privacy import private_umask
from qwenvid.wire import deadlines
from qwenvid.writable import why_unwritable

if TYPE_CHECKING:
    from qwenvid.media.probe import VideoProbe

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

CHUNK_SIZE = 1 << 20  # kept for callers; pieces are written as they arrive
# Wan results are tens of MB; anything past this is not a video from DashScope.
MAX_VIDEO_BYTES = 2 << 30
MP4_HEAD_BYTES = 8
WRITE_BATCH = 1 << 20
QUEUE_BATCHES = 16  # batches of about WRITE_BATCH waiting for the writer: about 16 MiB in memory at most
# The body is received into reusable buffers (at most RECEIVE_BUFFERS of RECEIVE_BUFFER bytes: 8 MiB; 64 measured
# no faster, 16 no slower).
# Measured on this class of machine (1 GiB over loopback, CPU seconds per GiB): 256 KiB buffers 1.55,
# 1 MiB ones 2.0 (a piece no longer in the CPU cache when it is hashed and written), new bytes per read 1.9.
RECEIVE_BUFFER = 256 << 10
RECEIVE_BUFFERS = 32
# A partly filled buffer goes to the writer once the line has been quiet this long: a slow or stalled
# transfer is on disk as it arrives, a fast one is written a whole buffer at a time.
QUIET_HANDOFF_SECONDS = 0.2
FLUSH_EVERY = 32 << 20
PROGRESS_SECONDS = 0.1  # on_progress at most this often (and at the end of the body)
DOWNLOAD_CONNECT_SECONDS = 10.0
PART_XATTR = "user.qwenvid.result"
DURATION_TOLERANCE = 0.5  # seconds
MAX_NAME_BYTES = 200  # well under the 255-byte limit of common file systems, leaving room for ".part"
MAX_SLUG_CHARS = 60
MAX_BACKOFF = 30.0
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)
_CONTENT_RANGE = re.compile(r"^bytes\s+(\d+)-(\d+)/(\d+|\*)$")

log = logging.getLogger("qwenvid.wire.download")  # --debug: where a download's time went

ProgressCallback = Callable[[int, "int | None"], None]
Piece = bytes | memoryview  # what is received and written: a bytes object, or a view of a reusable buffer


class LinkRefused(DownloadError):
    """The result host refused the signed link (HTTP 403, 404, 410): expired, revoked or unknown there.

    A status query may hand out a working link (qwenvid.tasks.fetch). Reported as a DownloadError (exit 9,
    `--json` error type "DownloadError")."""

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "error": "DownloadError"}


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
    if raw.endswith(("/", os.sep)) or path.is_dir():
        is_folder = True
    elif path.suffix:
        is_folder = False
    else:
        # No suffix: a folder unless something else by that name exists. Asked in this order because another
        # run may be creating that folder right now (exists() true, the earlier is_dir() false).
        is_folder = not path.exists() or path.is_dir()
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
        with private_umask():  # a folder qwenvid makes for videos is private like them
            folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(
            f"-o/--output {dest}: cannot create the folder {folder}: {exc.strerror or exc}",
            field="output",
            value=str(dest),
            hint="Choose a folder you can write to.",
        ) from None
    problem = why_unwritable(folder)
    if problem is not None:
        raise ValidationError(
            f"-o/--output {dest}: cannot write into the folder {folder}: {problem}",
            field="output",
            value=str(dest),
            hint="Choose a folder you can write to.",
        )



def _numbered(path: Path, n: int) -> Path:
    return path if n == 0 else path.with_name(f"{path.stem}-{n}{path.suffix}")


@dataclass
class _Slot:
    """The name a download will get, its open .part file and how many bytes an earlier run left in it."""

    final: Path
    handle: IO[bytes]
    inherited: int = 0


def _reserve(wanted: Path, identity: str) -> _Slot:
    """Claim a name: the .part an earlier run left for this same result, else the first free name.

    A .part is taken over only when it carries this result's identity (an extended attribute written
    when it was created) and no live process holds its lock; anyone else's .part is left alone.
    """
    wanted.parent.mkdir(parents=True, exist_ok=True)
    for n in range(10_000):
        candidate = _numbered(wanted, n)
        part = _part(candidate)
        if candidate.exists():
            _drop_placed_leftover(candidate, part)
            continue
        try:
            handle = open(part, "xb")  # stays open (and locked) for the whole download
        except FileExistsError:
            slot = _adopt_part(candidate, part, identity)
            if slot is not None:
                return slot
            continue
        if not _lock(handle):  # pragma: no cover - a brand-new file nobody else has opened
            handle.close()
            continue
        _mark(handle, identity)
        return _Slot(candidate, handle)
    raise DownloadError(f"No free file name next to {wanted}.")


def _reserve_replacing(wanted: Path, identity: str) -> _Slot:
    """Claim `wanted` itself even though the file exists (the user asked to replace it): its .part."""
    wanted.parent.mkdir(parents=True, exist_ok=True)
    part = _part(wanted)
    try:
        handle = open(part, "xb")
    except FileExistsError:
        slot = _adopt_part(wanted, part, identity)
        if slot is None:
            raise DownloadError(f"{part} exists: another download into {wanted} is running.") from None
        return slot
    if not _lock(handle):  # pragma: no cover - a brand-new file nobody else has opened
        handle.close()
        raise DownloadError(f"{part} is locked by another download.")
    _mark(handle, identity)
    return _Slot(wanted, handle)


def _adopt_part(final: Path, part: Path, identity: str) -> _Slot | None:
    if _identity_of(part) != identity:
        return None
    try:
        handle = open(part, "r+b")
    except OSError:
        return None
    if not _lock(handle):  # another qwenvid is downloading into it right now
        handle.close()
        return None
    size = os.fstat(handle.fileno()).st_size
    if size and not _looks_like_mp4(_read_head(handle)):
        size = 0  # not the start of a video: worthless, start again
    handle.truncate(size)
    handle.seek(size)
    return _Slot(final, handle, size)


def _drop_placed_leftover(final: Path, part: Path) -> None:
    """A .part that is the same file as its final name: a run stopped between the link and the unlink."""
    try:
        if part.exists() and os.path.samefile(final, part):
            part.unlink()
    except OSError:
        pass


def _lock(handle: IO[bytes]) -> bool:
    """An exclusive advisory lock on the .part, released by the OS when its process dies."""
    if fcntl is None:  # pragma: no cover - Windows: no advisory locks; names stay distinct
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _mark(handle: IO[bytes], identity: str) -> None:
    try:
        os.setxattr(handle.fileno(), PART_XATTR, identity.encode())  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):
        pass  # no extended attributes here (some file systems, macOS): the .part is simply never taken over


def _identity_of(part: Path) -> str | None:
    try:
        return bytes(os.getxattr(part, PART_XATTR)).decode()  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError, UnicodeDecodeError):
        return None


def _unmark(path: Path) -> None:
    try:
        os.removexattr(path, PART_XATTR)  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):
        pass


def result_identity(url: str, resume_key: str | None = None) -> str:
    """What makes two downloads the same result: the caller's key (a task id) or the URL without its signature."""
    if resume_key:
        return f"key:{resume_key}"
    parts = urlsplit(url)
    return f"url:{parts.scheme}://{parts.netloc}{parts.path}"


def _read_head(handle: IO[bytes]) -> bytes:
    handle.seek(0)
    return handle.read(MP4_HEAD_BYTES)


def _looks_like_mp4(head: bytes) -> bool:
    """ISO base media files (MP4) open with an `ftyp` box: 4 bytes of size, then the type."""
    return len(head) >= MP4_HEAD_BYTES and head[4:8] == b"ftyp" and int.from_bytes(head[:4], "big") >= 8


def _part(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def _place(part: Path, final: Path) -> Path:
    """Move the verified .part to its name without ever replacing an existing file."""
    _unmark(part)
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


@dataclass(frozen=True)
class DownloadLimits:
    """When a download is refused or given up (curl's --max-filesize, --speed-limit/--speed-time)."""

    max_bytes: int = MAX_VIDEO_BYTES
    # The status line and headers must arrive within this; a server trickling them is cut off.
    headers_seconds: float = 60.0
    # An attempt receiving fewer than `low_speed_bytes` in `low_speed_seconds` is stalled: cut it off.
    low_speed_bytes: int = 16 * 1024
    low_speed_seconds: float = 30.0
    # An attempt adding less than this (or the rest of the file) made no progress worth the name.
    progress_bytes: int = 1 << 20


class _Complete(Exception):
    """The answer says the .part already holds the whole file: nothing more to receive."""


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
    inherited: int = 0  # bytes an earlier run left in the .part (0 once the download starts over)

    def restart(self) -> None:
        self.handle.seek(0)
        self.handle.truncate()
        self.hasher = hashlib.sha256()
        self.written = 0
        self.total = None
        self.inherited = 0


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
    limits: DownloadLimits | None = None,
    resume_key: str | None = None,
    sha256: str | None = None,
    overwrite: bool = False,
    on_notice: Callable[[str], None] | None = None,
) -> DownloadResult:
    """Download a result video to `dest`, verify it, and return where it is and what it holds.

    `on_notice` hears the notices that belong before the transfer (continuing a `.part`) as they happen;
    without it they come back in `notices` with the rest.

    A `.part` that an earlier, interrupted run left for the same result (same `resume_key`, else
    the same URL path) is continued with `Range`. `sha256`, when known, must match the file.
    `limits` bounds size and patience (DownloadLimits). `chunk_size` is accepted for compatibility:
    pieces are written as they arrive.

    Raises DownloadError when the link expired or was refused, the transfer keeps failing
    after `retries` attempts without progress, the deadline passed, the length is wrong, or the file
    is not the video the request promised (the .part file is then kept for inspection or a later
    `fetch`, unless it holds nothing worth keeping).
    """
    _refuse_credentials_in_url(url)
    limits = limits or DownloadLimits()
    wanted, explicit = _target(dest, name_hint)
    replace = overwrite and explicit  # --overwrite: the new video takes the name the user gave
    try:
        identity = result_identity(url, resume_key)
        slot = _reserve_replacing(wanted, identity) if replace else _reserve(wanted, identity)
    except OSError as exc:
        raise DownloadError(f"Cannot write into {wanted.parent}: {exc.strerror or exc}") from exc
    final, handle = slot.final, slot.handle
    part = _part(final)
    notices: list[str] = []
    if explicit and final != wanted:
        notices.append(f"{wanted} already exists; saving as {final.name} instead (qwenvid never overwrites).")
    progress = _Progress(handle, _hash_existing(handle, slot.inherited), slot.inherited, inherited=slot.inherited)
    if slot.inherited:
        continuing = f"Continuing {part.name} from byte {slot.inherited:,} (left by an earlier run)."
        if on_notice is not None:
            on_notice(continuing)  # said before the transfer, not after "Downloaded"
        else:
            notices.append(continuing)
    transfer = _Transfer(url, http, progress, on_progress, retries, sleep, chunk_size, limits, part)
    started = time.perf_counter()
    try:
        with handle:
            transfer.run()
            checked = time.perf_counter()
            probe = _verified(part, expect, sha256, progress)
            log.debug(
                "transfer %.3f s (%d bytes, %d resumes; the final fsync included), verify + probe %.3f s",
                checked - started, progress.written, progress.resumes, time.perf_counter() - checked,
            )
            if probe is None:  # the inherited bytes were not this video after all: once more, from byte 0
                notices.append(f"{part.name} from the earlier run did not verify; downloaded it again in full.")
                progress.restart()
                transfer.run()
                probe = _verified(part, expect, sha256, progress)
            assert probe is not None  # with nothing inherited, a failed check raises
    except BaseException as exc:
        if progress.written == 0 or transfer.worthless:
            part.unlink(missing_ok=True)  # nothing worth keeping, and it would hold the name
        if isinstance(exc, OSError):  # disk full, permissions: not a network problem
            raise DownloadError(f"Cannot write {part}: {exc.strerror or exc}") from exc
        raise
    placing = time.perf_counter()
    try:
        if replace:
            _unmark(part)
            os.replace(part, final)  # atomic: readers see the old video or the new one, never half of one
            placed = final
        else:
            placed = _place(part, final)
    except OSError as exc:
        raise DownloadError(f"Cannot move {part.name} to {final.name}: {exc.strerror or exc}") from exc
    if placed != final:
        notices.append(f"{final.name} appeared while downloading; saved as {placed.name} instead.")
    _fsync_folder(placed.parent)
    log.debug("rename + folder fsync %.3f s", time.perf_counter() - placing)
    return DownloadResult(
        placed, progress.written, progress.hasher.hexdigest(), probe, tuple(notices), progress.resumes
    )


def _hash_existing(handle: IO[bytes], size: int) -> Any:
    """sha256 of the first `size` bytes of an inherited .part, so the final hash covers the whole file."""
    hasher = hashlib.sha256()
    handle.seek(0)
    left = size
    while left > 0:
        chunk = handle.read(min(left, 1 << 20))
        if not chunk:
            break
        hasher.update(chunk)
        left -= len(chunk)
    handle.seek(size)
    return hasher


def _verified(part: Path, expect: ExpectedVideo | None, sha256: str | None, progress: _Progress) -> VideoProbe | None:
    """The probe of a verified file; None when bytes inherited from an earlier run may be to blame."""
    try:
        if sha256 and progress.hasher.hexdigest() != sha256.lower():
            raise DownloadError(
                f"The downloaded file's sha256 is {progress.hasher.hexdigest()}, not the {sha256} recorded "
                f"for this video. Kept at {part}."
            )
        return _verify(part, expect)
    except DownloadError:
        if progress.inherited:
            return None
        raise


class _Transfer:
    """The attempts of one download: GETs (ranged when resuming) until the body is complete or hope is gone."""

    def __init__(
        self,
        url: str,
        http: httpx.Client,
        progress: _Progress,
        on_progress: ProgressCallback | None,
        retries: int,
        sleep: Callable[[float], None],
        chunk_size: int,
        limits: DownloadLimits,
        part: Path,
    ) -> None:
        self.url, self.http, self.progress, self.on_progress = url, http, progress, on_progress
        self.retries, self.sleep, self.chunk_size, self.limits, self.part = retries, sleep, chunk_size, limits, part
        self.worthless = False  # what is in the .part is not a video (an HTML page, an oversized body)

    def run(self) -> None:
        progress = self.progress
        failures = 0
        while True:
            before = progress.written
            try:
                self._attempt()
                syncing = time.perf_counter()
                _sync(progress.handle)
                log.debug("final fsync %.3f s", time.perf_counter() - syncing)
                return
            except _Retry as exc:
                reason, retry_after = str(exc), exc.retry_after
            except httpx.TransportError as exc:  # connect, read timeout, reset, body cut short
                if isinstance(exc, httpx.UnsupportedProtocol):
                    raise DownloadError(
                        f"The result host redirected to a URL qwenvid does not follow ({scrub(str(exc))}); "
                        "only http and https are downloaded."
                    ) from None
                reason, retry_after = f"{type(exc).__name__}: {exc}", None
            except httpx.TooManyRedirects as exc:
                raise DownloadError(f"The result host redirected too many times ({scrub(str(exc))}).") from None
            gained = progress.written - before
            worth = self.limits.progress_bytes
            if progress.total is not None:
                worth = max(1, min(worth, progress.total - before))
            # Only an attempt that moved the file forward by a real amount resets the count: a slow,
            # flaky line still finishes, a host that sends a few bytes and hangs up does not loop forever.
            failures = 1 if gained >= worth else failures + 1
            kept = f"{progress.written:,} bytes are kept in {self.part.name}" if progress.written else "nothing saved"
            if deadlines.expired():
                raise DownloadError(
                    f"The download stopped at the command's deadline ({scrub(reason)}); {kept}.",
                    hint="`qwenvid fetch <task id>` continues from there; the link is valid 24 h after the task "
                    "finished.",
                )
            if failures > self.retries:
                raise DownloadError(
                    f"The download kept failing without real progress ({scrub(reason)}; {failures} attempts); "
                    f"{kept}.",
                    hint="Try again later with `qwenvid fetch <task id>`, which continues from there; the link is "
                    "valid 24 h after the task finished.",
                )
            if progress.written:
                progress.resumes += 1
            pause = _backoff(failures, retry_after)
            left = deadlines.remaining()
            self.sleep(pause if left is None else min(pause, left))

    def _attempt(self) -> None:
        """One GET (ranged when resuming) that appends to the .part file until the body ends."""
        progress, limits = self.progress, self.limits
        headers = {"Accept-Encoding": "identity"}  # byte offsets must be offsets in the file itself
        if progress.written:
            headers["Range"] = f"bytes={progress.written}-"
        read_timeout = deadlines.clamp(limits.low_speed_seconds)
        request = self.http.build_request(
            "GET", self.url, headers=headers, timeout=httpx.Timeout(DOWNLOAD_CONNECT_SECONDS, read=read_timeout)
        )
        _refuse_authorization(request)
        with deadlines.bounded(limits.headers_seconds):
            response = self.http.send(request, stream=True, auth=None, follow_redirects=True)
        try:
            for sent in (*(r.request for r in response.history), response.request):
                _refuse_authorization(sent)
            try:
                _accept_status(response, self.url, progress, limits)
            except _Complete:
                return
            self._stream(response)
        finally:
            response.close()
        if progress.total is not None and progress.written < progress.total:
            raise _Retry(f"the body ended at {progress.written} of {progress.total} bytes")
        if progress.total is not None and progress.written > progress.total:
            raise DownloadError(f"The server sent {progress.written} bytes but announced {progress.total}.")

    def _stream(self, response: httpx.Response) -> None:
        """Receive on this thread; hash, write and flush on three more (see _Writer)."""
        progress, limits = self.progress, self.limits
        buffers = _Buffers(RECEIVE_BUFFERS, RECEIVE_BUFFER)
        writer = _Writer(progress, buffers)
        preload_prober()
        received = progress.written
        head = bytearray() if progress.written == 0 else None
        window_start, window_bytes = time.monotonic(), 0
        # on_progress at most every PROGRESS_SECONDS and at the end: a display needs a few updates a second,
        # not one per socket read (about 9000 per GiB).
        shown_at, shown = float("-inf"), received
        # Pieces gather while the writer is busy and go to it together (one hand-off, one writev); an idle
        # writer gets each piece at once, so a slow or stalled transfer is on disk as it arrives.
        batch: list[Piece] = []
        batch_bytes = 0

        def take() -> bytearray:
            nonlocal batch, batch_bytes
            if batch and not buffers.ready():  # every buffer is out: those held here must go to the writer first
                writer.put(batch)
                batch, batch_bytes = [], 0
            return buffers.take(writer)

        try:
            for piece in _body(response, take):
                if head is not None:  # the first bytes of the file: is this an MP4 at all?
                    head += piece
                    if len(head) < MP4_HEAD_BYTES:
                        continue
                    if not _looks_like_mp4(bytes(head[:MP4_HEAD_BYTES])):
                        self.worthless = True
                        raise DownloadError(_not_mp4(response, bytes(head[:64])))
                    piece, head = bytes(head), None
                received += len(piece)
                if received > limits.max_bytes:
                    self.worthless = True
                    raise DownloadError(
                        f"The result is larger than {_mib(limits.max_bytes)}, the most qwenvid accepts for a video; "
                        "stopped there."
                    )
                batch.append(piece)  # hashed, then written, on two threads of their own (_Writer)
                batch_bytes += len(piece)
                if batch_bytes >= WRITE_BATCH or writer.idle():
                    writer.put(batch)
                    batch, batch_bytes = [], 0
                window_bytes += len(piece)
                now = time.monotonic()
                if self.on_progress is not None and (now - shown_at >= PROGRESS_SECONDS or received == progress.total):
                    shown_at, shown = now, received
                    self.on_progress(received, progress.total)
                if now - window_start >= limits.low_speed_seconds:
                    if window_bytes < limits.low_speed_bytes:
                        raise _Retry(
                            f"stalled: {window_bytes} bytes in {now - window_start:.0f} s "
                            f"(under {limits.low_speed_bytes} bytes per {limits.low_speed_seconds:g} s)"
                        )
                    window_start, window_bytes = now, 0
            if head:  # a body shorter than an MP4 header
                self.worthless = True
                raise DownloadError(_not_mp4(response, bytes(head[:64])))
        finally:
            try:
                if batch:  # also after a drop: every byte that arrived is kept, the resume starts after it
                    writer.put(batch)
            finally:
                writer.close()
        if self.on_progress is not None and shown != received:
            self.on_progress(received, progress.total)  # the last figure (a body without a length, or cut short)


def _body(response: httpx.Response, take: Callable[[], bytearray] | None = None) -> Iterator[Piece]:
    """The body's bytes as the socket delivers them, read straight from the connection when that is safe.

    h11, under httpx, copies every received byte four times on its way out (into its buffer, two slices
    and a bytes()), about half a second of CPU per GiB. For a plain HTTP/1.1 body of known length (no
    transfer or content encoding) the first piece comes through httpx, which drains whatever the parser
    had buffered after the headers, and the rest is read from the connection itself (httpcore's public
    "network_stream" extension; the socket-level deadline still applies), never past Content-Length:
    with `take` (a source of reusable buffers) into those buffers with `recv_into` (see _received_into),
    else as new bytes objects. The connection is then closed rather than reused, which a download does
    not need. Anything else (chunked, compressed, HTTP/2, a transport without a stream) goes through
    httpx unchanged.
    """
    stream = response.extensions.get("network_stream")
    length = _int_header(response, "content-length")
    headers = response.headers
    if (
        not isinstance(stream, httpcore.NetworkStream)
        or length is None
        or response.http_version != "HTTP/1.1"
        or "transfer-encoding" in headers
        or headers.get("content-encoding", "identity").strip().lower() != "identity"
    ):
        yield from response.iter_bytes()
        return
    # What the parser holds after the headers (or its first read). The iterator stays referenced until
    # the end: closing it early would close the connection under the reads below.
    parsed = response.iter_raw()
    first = next(parsed, b"")
    left = length - len(first)
    if first:
        yield first
    timeout = response.request.extensions.get("timeout", {}).get("read")
    sock = _receiving_socket(stream)
    if take is not None and sock is not None:
        yield from _received_into(sock, left, timeout, take, response.request)
        return
    while left > 0:
        try:
            piece = stream.read(min(deadlines.READ_SIZE, left), timeout)
        except httpcore.TimeoutException as exc:
            raise httpx.ReadTimeout(str(exc) or "timed out", request=response.request) from exc
        except httpcore.NetworkError as exc:
            raise httpx.ReadError(str(exc), request=response.request) from exc
        if not piece:
            return  # cut short: the caller finds the body incomplete and resumes after what arrived
        if len(piece) > left:  # a server sending past its Content-Length: not part of this body
            piece = piece[:left]
        left -= len(piece)
        yield piece


def _receiving_socket(stream: httpcore.NetworkStream) -> socket.socket | None:
    """The socket the body's bytes can be read from: the connection's own, or its TLS socket (https).

    None for anything else, e.g. TLS inside TLS (an https proxy), where the socket carries the outer
    layer's records."""
    sock = stream.get_extra_info("socket")
    if not isinstance(sock, socket.socket):
        return None
    tls = stream.get_extra_info("ssl_object")
    if tls is None:
        return None if isinstance(sock, ssl.SSLSocket) else sock
    # httpcore names the TLS object of its own SSLSocket; any other TLS object is a layer on top of it.
    return sock if isinstance(sock, ssl.SSLSocket) and getattr(sock, "_sslobj", None) is tls else None


def _received_into(
    sock: socket.socket, left: int, read_timeout: float | None, take: Callable[[], bytearray], request: httpx.Request
) -> Iterator[memoryview]:
    """The next `left` bytes of the connection, received with recv_into into reusable buffers (one copy, from
    the kernel; no bytes object allocated and freed per read). Each piece is a whole buffer, or what arrived
    before the line went quiet for QUIET_HANDOFF_SECONDS or the body ended: the writer gets it at once.

    `read_timeout` bounds the time without a byte (as httpx's read timeout), shortened by the command's
    deadline; a server that closes early ends the pieces (the caller resumes after what arrived)."""
    current: float | None = -1.0  # the socket's timeout as last set (settimeout costs a system call)
    while left > 0:
        buffer = take()
        view = memoryview(buffer)
        filled = 0
        quiet_since = time.monotonic()
        while filled < len(buffer) and left > 0:
            limit = deadlines.clamp(None if read_timeout is None else read_timeout - (time.monotonic() - quiet_since))
            if limit is not None and limit <= 0:
                late = deadlines.expired()
                raise httpx.ReadTimeout("the overall deadline passed" if late else "timed out", request=request)
            quiet = QUIET_HANDOFF_SECONDS if limit is None else min(limit, QUIET_HANDOFF_SECONDS)
            wait = limit if filled == 0 else quiet
            # About twice per buffer, not per read (settimeout is a system call): the full wait for its first
            # byte, then the short one; a wait running out near the deadline is shortened as it goes.
            if wait != current and (filled == 0 or wait is None or current is None or abs(wait - current) > 0.05):
                sock.settimeout(wait)
                current = wait
            try:
                got = sock.recv_into(view[filled:], min(len(buffer) - filled, left))
            except TimeoutError:
                if filled:
                    break  # quiet for a moment: what arrived goes to disk now
                continue
            except OSError as exc:
                raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
            if not got:
                if filled:
                    yield view[:filled]
                return  # cut short: the caller finds the body incomplete and resumes after what arrived
            filled += got
            left -= got
            quiet_since = time.monotonic()
        yield view[:filled]


def _not_mp4(response: httpx.Response, head: bytes) -> str:
    kind = response.headers.get("content-type", "no content type")
    shown = scrub(head.decode("latin-1"))
    shown = re.sub(r"[^\x20-\x7e]", ".", shown)[:40]
    return f"The download is not a playable video: it does not start like an MP4 ({kind}, begins {shown!r})."


def _mib(size: int) -> str:
    return f"{size / (1 << 30):g} GiB" if size >= 1 << 30 else f"{size / (1 << 20):g} MiB"


_prober_loading = threading.Lock()
_prober_started = False


def preload_prober() -> None:
    """Import PyAV (~0.2 s) and the prober on a thread of its own while the task renders or the body
    arrives, so the probe that follows the transfer does not pay for it on the critical path. Once per
    process; a plain (non-daemon) thread, so an early exit waits for the import instead of tearing it
    down half-way."""
    global _prober_started
    with _prober_loading:
        if _prober_started:
            return
        _prober_started = True
    threading.Thread(target=_import_prober, name="qwenvid-probe-preload").start()


def _import_prober() -> None:
    try:
        import av  # noqa: F401  (the import lock makes probe_video wait for this one if it is still running)

        import qwenvid.media.probe  # noqa: F401
    except ImportError:  # pragma: no cover - probe_video reports it
        pass


class _Stage:
    """One step of the pipeline on a thread of its own: `work` applied to each batch, fed through a bounded queue.

    An exception in `work` is handed back to the feeding thread at its next put or at close; the
    stage keeps draining meanwhile, so the feeder never blocks on a full queue.
    """

    def __init__(self, name: str, work: Callable[[list[Piece]], None]) -> None:
        self._work = work
        self._queue: queue.Queue[list[Piece] | None] = queue.Queue(maxsize=QUEUE_BATCHES)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def idle(self) -> bool:
        return self._queue.empty()

    def put(self, pieces: list[Piece]) -> None:
        self._queue.put(pieces)

    def join(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            pieces = self._queue.get()
            if pieces is None:
                return
            if self.error is not None:
                continue
            try:
                self._work(pieces)
            except BaseException as exc:  # handed to the feeding thread
                self.error = exc


class _Buffers:
    """The reusable receive buffers of one transfer: at most `count` of `size` bytes; the writer gives each back
    once it is written, so memory stays bounded however fast the network is."""

    def __init__(self, count: int, size: int) -> None:
        self._free: queue.Queue[bytearray] = queue.Queue()
        self._left = count
        self._size = size

    def ready(self) -> bool:
        """Whether `take` returns at once."""
        return self._left > 0 or not self._free.empty()

    def take(self, writer: _Writer) -> bytearray:
        try:
            return self._free.get_nowait()
        except queue.Empty:
            pass
        if self._left > 0:
            self._left -= 1
            return bytearray(self._size)
        while True:  # every buffer is queued for the writer: wait for one, unless the writer has failed
            try:
                return self._free.get(timeout=0.5)
            except queue.Empty:
                writer.check()

    def give_back(self, piece: Piece) -> None:
        if isinstance(piece, memoryview) and isinstance(piece.obj, bytearray) and len(piece.obj) == self._size:
            self._free.put(piece.obj)


class _Writer:
    """Hashes received pieces on one thread and writes them on another (two _Stages, bounded queues).

    The receiving thread only receives; the hasher hashes each piece (sha256 releases the GIL) and passes
    it on to the writer, which writes it (and gives its buffer back), while the kernel keeps receiving
    into the socket buffer: network, hashing and disk overlap. Measured on 2 cores (1 GiB over loopback),
    this pipeline costs 1.3 CPU s per GiB against 1.55 with the hashing on the receiving thread. Every
    FLUSH_EVERY bytes another thread makes what was written so far durable (fdatasync), so the disk
    works while the network does and the final fsync has little left: Linux would otherwise start
    writing back only once gigabytes are dirty, and the end of a multi-GB
    download would be one long fsync. The writer never waits for those flushes.
    """

    def __init__(self, progress: _Progress, buffers: _Buffers | None = None) -> None:
        self._progress = progress
        self._buffers = buffers
        progress.handle.flush()  # from here on the writer writes to the file descriptor itself
        self._fd = progress.handle.fileno()
        self._flushed = progress.written
        self._flusher = _Flusher(self._fd)
        self._write = _Stage("qwenvid-download-writer", self._write_pieces)
        self._hash = _Stage("qwenvid-download-hasher", self._hash_pieces)

    def idle(self) -> bool:
        return self._hash.idle()

    def put(self, pieces: list[Piece]) -> None:
        self._raise()
        self._hash.put(pieces)

    def close(self) -> None:
        """Wait until everything queued is hashed and written (also on errors: every received byte is kept)."""
        try:
            try:
                self._hash.join()
            finally:
                self._write.join()
        finally:
            self._flusher.stop()
        self._raise()

    def check(self) -> None:
        """Raise the writer's error, if it had one."""
        self._raise()

    def _raise(self) -> None:
        if self._hash.error is not None:
            raise self._hash.error
        if self._write.error is not None:
            raise self._write.error

    def _hash_pieces(self, pieces: list[Piece]) -> None:
        for piece in pieces:
            self._progress.hasher.update(piece)  # in order: the hash of the whole file
        self._write.put(pieces)

    def _write_pieces(self, pieces: list[Piece]) -> None:
        progress = self._progress
        progress.written += _write_all(self._fd, pieces)
        if self._buffers is not None:
            for piece in pieces:
                self._buffers.give_back(piece)
        if progress.written - self._flushed >= FLUSH_EVERY:
            self._flusher.kick()
            self._flushed = progress.written


def _write_all(fd: int, pieces: list[Piece]) -> int:
    """Write the pieces in order (one writev; plain writes for whatever a short write left)."""
    total = sum(len(piece) for piece in pieces)
    done = os.writev(fd, pieces) if hasattr(os, "writev") else 0
    if done < total:
        rest = memoryview(b"".join(pieces))[done:]
        while rest:
            rest = rest[os.write(fd, rest) :]
    return total


class _Flusher:
    """fdatasync on demand, on its own thread; kicks that arrive during a flush are folded into the next."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._wanted = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="qwenvid-download-flusher", daemon=True)
        self._thread.start()

    def kick(self) -> None:
        self._wanted.set()

    def stop(self) -> None:
        self._stopping = True
        self._wanted.set()
        self._thread.join()

    def _run(self) -> None:
        sync = getattr(os, "fdatasync", os.fsync)
        while True:
            self._wanted.wait()
            self._wanted.clear()
            if self._stopping:
                return
            try:
                sync(self._fd)
            except OSError:
                return  # the final fsync reports what matters


def _sync(handle: IO[bytes]) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _accept_status(response: httpx.Response, url: str, progress: _Progress, limits: DownloadLimits) -> None:
    """Check the answer and line the .part file up with the bytes that are about to arrive."""
    status = response.status_code
    if status == 403:
        raise LinkRefused(_refused_message(response, url))
    if status in (404, 410):
        raise LinkRefused(f"The video is no longer on the server (HTTP {status}); result links live 24 h.")
    if status == 416:
        if progress.written and _unsatisfied_total(response) == progress.written:
            progress.total = progress.written  # the .part already holds the whole file (a run stopped at the end)
            raise _Complete
        progress.restart()
        raise _Retry("the server could not resume (416); starting over")
    if status in (408, 425, 429) or status >= 500:
        raise _Retry(f"HTTP {status}", _retry_after(response))
    if status == 200:
        if progress.written:
            progress.restart()  # the server ignored Range: take the whole body from the start
        progress.total = _int_header(response, "content-length")
    elif status == 206:
        start, total = _content_range(response)
        if start != progress.written:
            progress.restart()
            raise _Retry(f"the server resumed at byte {start}, not {progress.written}; starting over")
        if progress.total is not None and total is not None and total != progress.total:
            progress.restart()
            raise _Retry("the file changed size on the server; starting over")
        progress.total = total
    else:
        raise DownloadError(f"The result host answered HTTP {status}.")
    if progress.total is not None and progress.total > limits.max_bytes:
        raise DownloadError(
            f"The result host announces {progress.total:,} bytes, more than the {_mib(limits.max_bytes)} qwenvid "
            "accepts for a video; not downloading it."
        )


def _unsatisfied_total(response: httpx.Response) -> int | None:
    """N from the `Content-Range: bytes */N` of a 416 answer."""
    match = re.match(r"^bytes\s+\*/(\d+)$", response.headers.get("content-range", "").strip())
    return int(match.group(1)) if match else None


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
        from qwenvid.media.probe import probe_video

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
