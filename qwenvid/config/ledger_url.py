"""A shared ledger: `QWENVID_LEDGER_URL` (environment or `.env`) or config `ledger_url` = `postgresql://…`.

Without one, the ledger is the SQLite file of the state folder and nothing changes. With one, every
table of the state (ledger rows, claims, pacing slots, budgets, upload links, …) lives in that
PostgreSQL database, shared by every machine pointed at it. A password in the URL is a secret: it is
registered with `errors.scrub` (masked in every output) and `config set` refuses to write it (use the
environment, `.env`, or PostgreSQL's own ~/.pgpass / PGPASSWORD).

The store reaches the database through `Settings.ledger_path`, which for a shared ledger is a marker
path in the state folder (`ledger.postgresql`, never a database) registered here with its URL: every
module that opens "the ledger file" by path (qwenvid/store/connect.py) gets the database instead.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from qwenvid.errors import ConfigError, register_secret, scrub

if TYPE_CHECKING:
    from qwenvid.config import _Layers

LEDGER_URL_VAR = "QWENVID_LEDGER_URL"
CONFIG_HELP = (
    "a shared ledger for several machines: postgresql://user@host/db (password only in "
    f"{LEDGER_URL_VAR} or .env); unset: the local SQLite ledger"
)
MARKER_NAME = "ledger.postgresql"
SCHEMES = ("postgresql", "postgres")
_shared: dict[Path, str] = {}
_lock = threading.Lock()


def resolve_ledger_url(layers: _Layers) -> tuple[str | None, str]:
    """(URL, where it came from): the environment, `.env`, then the config file; checked, its password masked."""
    found = layers.lookup(None, LEDGER_URL_VAR, "ledger_url")
    if found is None:
        return None, "not set (local SQLite ledger)"
    url = check_url(found.value, found.source)
    return url, found.source


def check_url(url: str, source: str = "ledger_url") -> str:
    parts = urlsplit(url)
    if parts.password:
        register_secret(parts.password)
    if parts.scheme not in SCHEMES or not (parts.hostname or parts.path.strip("/") or parts.query):
        raise ConfigError(
            f"{source}: the shared ledger must be a postgresql:// URL (e.g. postgresql://qwenvid@db.lan/qwenvid), "
            f"not {masked(url)!r}.",
            hint=f"Unset {LEDGER_URL_VAR} / ledger_url to use the local SQLite ledger.",
        )
    return url


def has_password(url: str) -> bool:
    try:
        return bool(urlsplit(url).password)
    except ValueError:
        return False


def masked(url: str | None) -> str:
    """The URL with its password (if any) replaced by ***."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return scrub(url)
    if not parts.password:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, f"{user}:***@{host}", parts.path, parts.query, parts.fragment))


def masked_text(text: str) -> str:
    return scrub(text)


def marker_for(home: Path, url: str) -> Path:
    """The path that stands for the shared ledger in this process (registered with its URL)."""
    marker = home / MARKER_NAME
    with _lock:
        _shared[marker.resolve() if marker.parent.exists() else marker] = url
        _shared[marker] = url
    return marker


def shared_url(path: Path | str) -> str | None:
    """The database URL a ledger path stands for, or None for a real SQLite file."""
    candidate = Path(path)
    if candidate.name != MARKER_NAME:
        return None
    with _lock:
        found = _shared.get(candidate)
        if found is None:
            try:
                found = _shared.get(candidate.resolve())
            except OSError:
                found = None
    return found
