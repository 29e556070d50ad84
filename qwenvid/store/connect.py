"""Open "the ledger file" by path: SQLite for a real file, the shared PostgreSQL ledger for its marker path.

Every table module of the store opens its connection here, so one code path serves both backends
(qwenvid/config/ledger_url.py says how a path stands for a database; qwenvid/store/pg_connection.py
translates the SQL).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def connect(path: Path | str, **sqlite_options: Any) -> Any:
    """A sqlite3 connection to `path`, or the shared ledger's connection when `path` stands for one."""
    from qwenvid.config.ledger_url import shared_url

    url = shared_url(path)
    if url is None:
        return sqlite3.connect(path, **sqlite_options)
    from qwenvid.store.pg_connection import connect as pg_connect

    return pg_connect(url)


def is_shared(path: Path | str) -> bool:
    from qwenvid.config.ledger_url import shared_url

    return shared_url(path) is not None
