"""Opening the terminal's SQLite file with the settings DESIGN §6 asks for (WAL, synchronous=FULL, FKs)."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import sqlite_utils

from .errors import StoreError

#: How long a connection waits for another writer (thread or process) before giving up.
BUSY_TIMEOUT_S = 30


WAL_RETRY_S = 0.02  # pause between tries when another opener holds the lock the WAL switch needs, in seconds


def _wal_mode(conn: sqlite3.Connection) -> str:
    """Switch to WAL; retried while another process opening the same new file holds the lock.

    Turning a fresh file to WAL can answer "database is locked" at once, without waiting on the
    busy timeout, when another opener is switching or migrating it at the same moment.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(WAL_RETRY_S)


def open_database(path: str | os.PathLike[str]) -> sqlite_utils.Database:
    """Open (creating it and its parent folders if needed) the SQLite file at ``path``.

    The connection is made here, not by sqlite-utils, so that it gets:

    * ``isolation_level=None``: the ``sqlite3`` driver never opens a transaction on its own; every
      transaction is explicit (``BEGIN IMMEDIATE`` in :meth:`Store.action`, ``BEGIN``/savepoints in
      sqlite-utils' ``atomic()``).  This is still the driver's default ("legacy") transaction
      control, which is what ``sqlite_utils.Database`` requires; sqlite-utils itself switches to
      ``isolation_level=None`` for PRAGMAs and commits any implicit transaction it sees.
    * ``check_same_thread=False``: a :class:`~kiosk.store.Store` may be used from several threads;
      it serialises its own use of the connection.
    * ``timeout`` / ``PRAGMA busy_timeout``: writers in other processes are waited for.
    * ``journal_mode=WAL`` (checked: :class:`StoreError` if SQLite refuses it, e.g. ``:memory:``),
      ``synchronous=FULL`` (a committed money or ticket action survives power loss) and
      ``foreign_keys=ON``.

    sqlite-utils plugins are not loaded: the kiosk does not use them and start-up stays fast.
    """
    if str(path) == ":memory:" or str(path).startswith("file:"):
        raise StoreError(f"the store needs a file path, not {str(path)!r}")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(
        str(target),
        timeout=BUSY_TIMEOUT_S,
        check_same_thread=False,
        isolation_level=None,
    )
    try:
        mode = _wal_mode(conn)
        if str(mode).lower() != "wal":
            raise StoreError(f"{target}: SQLite refused journal_mode=WAL (got {mode!r})")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        if conn.execute("PRAGMA foreign_keys").fetchone()[0] != 1:
            raise StoreError(f"{target}: this SQLite build cannot enforce foreign keys")
        return sqlite_utils.Database(conn, execute_plugins=False)
    except StoreError:
        conn.close()
        raise
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"{target}: cannot open the store database: {exc}") from exc
