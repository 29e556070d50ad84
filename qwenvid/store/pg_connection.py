"""A PostgreSQL connection that speaks the store's SQL: the one place the two backends' dialects differ.

Every table of the state folder (ledger rows, claims, pacing slots and waiters, render times, key ids,
upload links, budget reservations) is written with SQLite's SQL through `sqlite3`-shaped connections.
On a shared ledger the same code runs unchanged over this wrapper, which translates as it goes:

    ?                         -> %s (outside string literals)
    BEGIN IMMEDIATE           -> BEGIN + one advisory transaction lock: writers are serialized
                                 exactly as SQLite serializes them, across every machine
    PRAGMA user_version [= N] -> the `qwenvid_schema` table (migrations run the same way on both)
    other PRAGMAs             -> nothing
    INSERT OR REPLACE/IGNORE  -> ON CONFLICT (primary key) DO UPDATE / DO NOTHING
    MAX(a, b) / x IS ?        -> GREATEST(a, b) / IS NOT DISTINCT FROM
    sum(col = 'X')            -> sum(CASE WHEN col = 'X' THEN 1 ELSE 0 END)
    REAL, INTEGER, AUTOINCREMENT in DDL -> DOUBLE PRECISION, BIGINT, BIGSERIAL

Rows read like `sqlite3.Row` (by name and by index), and a unique violation is raised as
`sqlite3.IntegrityError` ("UNIQUE constraint failed: tasks.id"), so callers keep one error path.
Connections are pooled per URL; `close()` hands one back (rolled back if a transaction was left open).
psycopg 3 is the optional `postgres` extra: without it, one ConfigError names it.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import zlib
from collections.abc import Iterator, Sequence
from typing import Any

from qwenvid.errors import ConfigError

WRITE_LOCK = 0x71776E76  # "qwnv": the one lock every write transaction takes (SQLite's write lock)
POOL_SIZE = 8
_pools: dict[str, list[Any]] = {}
_pools_lock = threading.Lock()
_pk_cache: dict[tuple[str, str], tuple[list[str], list[str]]] = {}

MISSING = (
    "A postgresql:// ledger needs psycopg 3, which is not installed. Install the extra: pip install 'qwenvid[postgres]'"
)


def psycopg_module() -> Any:
    try:
        import psycopg
    except ImportError:
        hint = "Or unset ledger_url / QWENVID_LEDGER_URL to use the local SQLite ledger."
        raise ConfigError(MISSING, hint=hint) from None
    return psycopg


class Row(tuple[Any, ...]):
    """A result row readable by column name and by position, like sqlite3.Row."""

    _names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: Any) -> Any:
    names = tuple(column.name for column in cursor.description or ())
    kind = type("Row", (Row,), {"_names": names})

    def make(values: Sequence[Any]) -> Row:
        return kind(values)

    return make


class _Empty:
    """The answer to a PRAGMA with nothing to say."""

    rowcount = 0

    def __init__(self, rows: list[tuple[Any, ...]] | None = None) -> None:
        self._rows = rows or []

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None

    def fetchall(self) -> list[Any]:
        return list(self._rows)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)


class PgConnection:
    """A sqlite3.Connection look-alike over one psycopg connection (autocommit; explicit BEGIN/COMMIT)."""

    def __init__(self, url: str, raw: Any) -> None:
        self.url = url
        self.raw = raw
        self.row_factory: Any = None  # accepted and ignored: rows always read by name and position

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return bool(self.raw.info.transaction_status != TransactionStatus.IDLE)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        text = sql.strip()
        upper = text.upper()
        if upper.startswith("PRAGMA"):
            return self._pragma(text)
        if upper == "BEGIN IMMEDIATE":
            self.raw.execute("BEGIN")
            self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            return _Empty()
        translated = translate(text, self, params=bool(params))
        try:
            return self.raw.execute(translated, tuple(_adapt(v) for v in params) if params else None)
        except Exception as exc:
            raise _as_sqlite_error(exc) from exc

    def executescript(self, script: str) -> None:
        script = re.sub(r"--[^\n]*", "", script)  # a comment may hold a semicolon
        for statement in script.split(";"):
            if statement.strip():
                self.execute(statement)

    def close(self) -> None:
        """Back to the pool (a transaction left open is rolled back first)."""
        try:
            if self.in_transaction:
                self.raw.execute("ROLLBACK")
        except Exception:  # noqa: BLE001 - a broken connection is simply not reused
            _discard(self.raw)
            return
        with _pools_lock:
            pool = _pools.setdefault(self.url, [])
            if len(pool) < POOL_SIZE and not self.raw.closed:
                pool.append(self.raw)
                return
        _discard(self.raw)

    def commit(self) -> None:  # sqlite3 API: nothing pending in autocommit mode
        return None

    # -- translation helpers

    def _pragma(self, text: str) -> Any:
        match = re.fullmatch(r"PRAGMA\s+user_version\s*(?:=\s*(\d+))?", text, re.IGNORECASE)
        if match is None:
            return _Empty([("ok",)])
        self.raw.execute("CREATE TABLE IF NOT EXISTS qwenvid_schema (version BIGINT NOT NULL)")
        if match.group(1) is not None:
            self.raw.execute("DELETE FROM qwenvid_schema")
            self.raw.execute("INSERT INTO qwenvid_schema (version) VALUES (%s)", (int(match.group(1)),))
            return _Empty()
        found = self.raw.execute("SELECT version FROM qwenvid_schema").fetchone()
        return _Empty([(int(found[0]) if found else 0,)])

    def primary_key(self, table: str) -> tuple[list[str], list[str]]:
        """(primary-key columns, every column) of a table, read once from the catalog."""
        key = (self.url, table)
        if key not in _pk_cache:
            columns = [
                r[0]
                for r in self.raw.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "AND table_schema = current_schema() ORDER BY ordinal_position",
                    (table,),
                )
            ]
            pk = [
                r[0]
                for r in self.raw.execute(
                    "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                    "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisprimary",
                    (table,),
                )
            ]
            _pk_cache[key] = (pk, columns)
        return _pk_cache[key]


def connect(url: str) -> PgConnection:
    """A pooled connection to the shared ledger."""
    with _pools_lock:
        pool = _pools.get(url)
        raw = pool.pop() if pool else None
    if raw is None or raw.closed:
        psycopg = psycopg_module()
        try:
            raw = psycopg.connect(url, autocommit=True, row_factory=_row_factory, connect_timeout=10)
        except psycopg.Error as exc:
            from qwenvid.config.ledger_url import masked
            from qwenvid.errors import LedgerError

            raise LedgerError(
                f"Cannot reach the shared ledger {masked(url)}: {_first_line(exc)}",
                hint="Check ledger_url / QWENVID_LEDGER_URL and that the database server runs (`qwenvid doctor`).",
            ) from None
    return PgConnection(url, raw)


def quick_rows(url: str, sql: str, params: tuple[Any, ...], *, timeout: float) -> list[tuple[Any, ...]]:
    """One read on a fresh connection that gives up within about `timeout` seconds (connect, then the query):
    for shell completion, which must never hang. OSError when the server cannot answer in time, or at all."""
    psycopg = psycopg_module()
    seconds = max(1, round(timeout))  # libpq counts whole seconds
    try:
        with psycopg.connect(
            url, autocommit=True, connect_timeout=seconds, options=f"-c statement_timeout={int(timeout * 1000)}"
        ) as raw:
            return [tuple(row) for row in raw.execute(sql, params).fetchall()]
    except psycopg.Error as exc:
        raise OSError(_first_line(exc)) from None


def close_pools() -> None:
    with _pools_lock:
        for pool in _pools.values():
            for raw in pool:
                _discard(raw)
        _pools.clear()


def advisory_key(name: str) -> int:
    """A stable 32-bit key for a named lock (store.lock(name))."""
    return zlib.crc32(name.encode("utf-8"))


# -- the dialect -----------------------------------------------------------------------------------

_DDL_TYPES = (
    (re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b", re.I), "BIGSERIAL PRIMARY KEY"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
)
_INSERT_OR = re.compile(r"^INSERT\s+OR\s+(REPLACE|IGNORE)\s+INTO\s+(\w+)\s*(\(([^)]*)\))?", re.I)
_MAX2 = re.compile(r"\bMAX\(\s*([\w.]+)\s*,\s*([^()]+?)\)", re.I)
_SUM_EQ = re.compile(r"\bsum\(\s*(\w+)\s*=\s*('[^']*')\s*\)", re.I)
_IS_PARAM = re.compile(r"\bIS\s+\?")


def translate(sql: str, conn: PgConnection | None = None, *, params: bool = True) -> str:
    """SQLite's SQL as PostgreSQL's (see the module docstring)."""
    upper = sql.lstrip().upper()
    if upper.startswith(("CREATE TABLE", "ALTER TABLE")):
        for pattern, replacement in _DDL_TYPES:
            sql = pattern.sub(replacement, sql)
    sql = _SUM_EQ.sub(r"sum(CASE WHEN \1 = \2 THEN 1 ELSE 0 END)", sql)
    sql = _MAX2.sub(r"GREATEST(\1, \2)", sql)
    sql = _IS_PARAM.sub("IS NOT DISTINCT FROM ?", sql)
    conflict = ""
    match = _INSERT_OR.match(sql.lstrip())
    if match is not None and conn is not None:
        action, table = match.group(1).upper(), match.group(2)
        sql = "INSERT INTO " + table + " " + sql.lstrip()[match.end(2) :].lstrip()
        if action == "IGNORE":
            conflict = " ON CONFLICT DO NOTHING"
        else:
            pk, columns = conn.primary_key(table)
            named = [c.strip() for c in match.group(4).split(",")] if match.group(4) else columns
            updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in named if c not in pk)
            conflict = f" ON CONFLICT ({', '.join(pk)}) " + (f"DO UPDATE SET {updates}" if updates else "DO NOTHING")
    return (_placeholders(sql) if params else sql) + conflict


def _placeholders(sql: str) -> str:
    """`?` -> `%s` and `%` -> `%%`, leaving string literals' question marks alone."""
    out: list[str] = []
    quoted = False
    for char in sql:
        if char == "'":
            quoted = not quoted
            out.append(char)
        elif char == "%":
            out.append("%%")
        elif char == "?" and not quoted:
            out.append("%s")
        else:
            out.append(char)
    return "".join(out)


def _adapt(value: Any) -> Any:
    """SQLite stores booleans as integers; so does the shared ledger (the columns are BIGINT)."""
    return int(value) if isinstance(value, bool) else value


def _as_sqlite_error(exc: Exception) -> Exception:
    try:
        import psycopg
    except ImportError:  # pragma: no cover - we are here because psycopg ran
        return exc
    if isinstance(exc, psycopg.errors.UniqueViolation):
        constraint = getattr(exc.diag, "constraint_name", None) or ""
        table = getattr(exc.diag, "table_name", None) or ""
        if constraint.endswith("_pkey"):
            column = "id"
        else:
            column = constraint[len(table) + 1 : -len("_key")] if constraint.endswith("_key") else constraint
        return sqlite3.IntegrityError(f"UNIQUE constraint failed: {table}.{column}")
    if isinstance(exc, psycopg.errors.IntegrityError):
        return sqlite3.IntegrityError(_first_line(exc))
    if isinstance(exc, psycopg.Error):
        return sqlite3.OperationalError(_first_line(exc))
    return exc


def _first_line(exc: BaseException) -> str:
    from qwenvid.config.ledger_url import masked_text

    return masked_text(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


def _discard(raw: Any) -> None:
    try:
        raw.close()
    except Exception:  # noqa: BLE001 - closing a broken connection
        pass
