"""Opening the terminal's SQLite file with the settings DESIGN §6 asks for (WAL, synchronous=FULL, FKs).

The store holds personal data (masked names, keyed hashes, staff sessions): its folders are made
0700 and its files 0600 whatever the process umask (SQLite gives ``-wal``/``-shm`` the mode of
the database file, so a private database file keeps them private too).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlite_utils

from common.sqlite_wal import switch_to_wal

from .errors import StoreError

#: How long a connection waits for another writer (thread or process) before giving up.
BUSY_TIMEOUT_S = 30
FILE_MODE = 0o600  # the database and its companions
DIR_MODE = 0o700  # folders the store creates


def private_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents with mode 0700 (existing folders are left as they are)."""
    missing: list[Path] = []
    current = folder
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=DIR_MODE)
        except FileExistsError:  # another opener made it first
            continue
        os.chmod(path, DIR_MODE)  # mkdir's mode is cut by the umask; this is exact


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it is missing; take group and other access from it and its SQLite companions."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        os.chmod(path, FILE_MODE)
    except FileExistsError:
        pass
    for companion in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        try:
            mode = companion.stat().st_mode & 0o777
            if mode & 0o077:
                os.chmod(companion, mode & 0o700)
        except FileNotFoundError:
            continue


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
    try:
        private_dirs(target.parent)
        private_file(target)
    except OSError as exc:
        raise StoreError(f"{target}: cannot create the store file: {exc.strerror or exc}") from None
    conn = sqlite3.connect(
        str(target),
        timeout=BUSY_TIMEOUT_S,
        check_same_thread=False,
        isolation_level=None,
    )
    try:
        mode = switch_to_wal(conn, BUSY_TIMEOUT_S)
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
