"""Opening the central database: one code path for SQLite (a file) and PostgreSQL (a URL).

``--db`` takes either a file path (SQLite, the default: zero set-up) or a URL:

    central.db                                      SQLite file, WAL, synchronous=FULL
    sqlite:////var/lib/linfen/central.db            the same as a URL
    postgresql://linfen:secret@db.local/linfen      PostgreSQL through psycopg 3

SQLite specifics, set on every connection: WAL (readers never block the writer), ``synchronous
= FULL`` (a committed batch survives a power cut: it carries money), a busy timeout, and
write transactions opened with ``BEGIN IMMEDIATE`` so two writers queue on the lock instead of
failing on a read-to-write upgrade.  PostgreSQL gets a pre-pinged connection pool; its write
transactions serialise where they must with row locks (``SELECT ... FOR UPDATE``).

Files: a SQLite database the central creates is made 0600 before SQLite opens it (SQLite gives
its ``-wal`` and ``-shm`` files the database file's mode), and the directories it creates for it
0700, whatever the umask.  A path that cannot be created or opened is a :class:`CentralError`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from common.sqlite_wal import switch_to_wal

from .errors import CentralError

SQLITE_BUSY_TIMEOUT_S = 30.0  # seconds a SQLite writer waits for the lock before failing
PG_POOL_SIZE = 8  # PostgreSQL connections kept open per process
PG_POOL_OVERFLOW = 16  # extra PostgreSQL connections allowed under load, per process

_WRITE = "linfen_write"  # execution option: this transaction will write (SQLite: BEGIN IMMEDIATE)


def database_url(db: str | Path) -> str:
    """A SQLAlchemy URL for ``--db``: a path becomes SQLite, ``postgresql://`` gets the psycopg driver."""
    text = str(db).strip()
    if not text:
        raise CentralError("bad_db", "--db is empty: give a SQLite file path or a postgresql:// URL")
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    for prefix in ("postgresql://", "postgres://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text[len(prefix):]
    return text


def backend_of(engine: Engine) -> str:
    """``sqlite`` or ``postgresql``."""
    return engine.dialect.name


def prepare_sqlite_file(path: Path) -> None:
    """Create ``path`` (0600) and its missing directories (0700) unless it exists; CentralError when it cannot."""
    try:
        for directory in [p for p in reversed(path.parents) if not p.exists()]:
            directory.mkdir(mode=0o700)
            os.chmod(directory, 0o700)
        if path.is_dir():
            raise CentralError("bad_db", f"--db {path} is a directory, not a SQLite file")
        if not path.exists():
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            try:
                os.fchmod(fd, 0o600)
            finally:
                os.close(fd)
    except FileExistsError:
        pass  # another process made it a moment ago
    except OSError as exc:
        raise CentralError("bad_db", f"--db {path}: cannot create or open it ({exc.strerror or exc})") from None


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own transaction handling is off).
    dbapi_connection.isolation_level = None
    cur = dbapi_connection.cursor()
    cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
    switch_to_wal(cur, SQLITE_BUSY_TIMEOUT_S)
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()



def _on_sqlite_begin(conn: Connection) -> None:
    mode = "IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


def open_engine(db: str | Path) -> Engine:
    """An engine for ``db`` (path or URL, see the module docstring); raises CentralError when unusable."""
    url = database_url(db)
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise CentralError("bad_db", f"--db {db!s}: not a file path or database URL ({exc})") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise CentralError("bad_db", "an in-memory SQLite database cannot be shared: give a file path")
        prepare_sqlite_file(Path(parsed.database))
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    if backend == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=PG_POOL_SIZE, max_overflow=PG_POOL_OVERFLOW)
    raise CentralError("bad_db", f"--db {parsed.render_as_string(hide_password=True)}: only SQLite files and "
                       "postgresql:// URLs are supported")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: committed when the block ends, rolled back on an exception."""
    with engine.execution_options(**{_WRITE: True}).begin() as conn:
        yield conn


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """One read-only transaction (a consistent snapshot on both backends)."""
    with engine.begin() as conn:
        yield conn


def now_text() -> str:
    """The current UTC time as stored: ISO-8601 with microseconds and ``+00:00``."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def safe_url(engine: Engine) -> str:
    """The engine's URL with any password hidden (for logs and ``/health``)."""
    return engine.url.render_as_string(hide_password=True)
