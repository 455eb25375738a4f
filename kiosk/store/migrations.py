"""Schema migrations of the local store: the core set (outbox, counters) plus domain sets added later.

The core set is :data:`CORE`, a ``sqlite_utils.migrations.Migrations("linfen_core")``.  Domain code
(hall queue, canteen, ...) declares its own ``Migrations`` set and passes it to :func:`migrate` (or
to ``Store.open(..., extra_migrations=...)``); the core set is always applied first.  Applied
migrations are recorded by sqlite-utils in ``_sqlite_migrations``.

Migration runs are serialised between processes with an advisory lock file next to the database
(``<db>-migrate.lock``), so a kiosk app and a sync process starting together cannot both try to
create the same table.  A migration is never edited once released: a change is a new migration.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator

import sqlite_utils
from sqlite_utils.migrations import Migrations

from .errors import StoreError

try:  # pragma: no cover - always available on the Linux terminals
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

#: How long :func:`migrate` waits for another process that is migrating the same file.
MIGRATE_LOCK_TIMEOUT_S = 60.0

CORE = Migrations("linfen_core")


@CORE()
def m001_outbox(db: sqlite_utils.Database) -> None:
    """Create ``outbox`` (the DESIGN §6 event envelope) and ``counters`` (gap-free sequences)."""
    db.execute(
        """
        CREATE TABLE outbox (
            id          TEXT    NOT NULL PRIMARY KEY,
            terminal_id TEXT    NOT NULL,
            seq         INTEGER NOT NULL UNIQUE CHECK (seq >= 1),
            type        TEXT    NOT NULL,
            occurred_at TEXT    NOT NULL,
            payload     TEXT    NOT NULL CHECK (json_valid(payload)),
            schema      INTEGER NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE counters (
            name  TEXT    NOT NULL PRIMARY KEY,
            value INTEGER NOT NULL
        )
        """
    )
    # Events are immutable (a correction is a new event): refuse any change to the envelope.
    db.execute(
        """
        CREATE TRIGGER outbox_envelope_immutable
        BEFORE UPDATE OF id, terminal_id, seq, type, occurred_at, payload, schema ON outbox
        BEGIN
            SELECT RAISE(ABORT, 'outbox events are immutable');
        END
        """
    )


@CORE()
def m002_outbox_delivery(db: sqlite_utils.Database) -> None:
    """Add the sync bookkeeping columns and an index over the rows still waiting for an ack."""
    db.execute("ALTER TABLE outbox ADD COLUMN acked_at TEXT NULL")
    db.execute("ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE outbox ADD COLUMN last_error TEXT NULL")
    db.execute("CREATE INDEX outbox_pending ON outbox (seq) WHERE acked_at IS NULL")


@CORE()
def m003_store_meta(db: sqlite_utils.Database) -> None:
    """Create ``store_meta`` (the terminal id, kept when every outbox row has been pruned).

    The terminal id of an existing database is taken from its outbox; the ``counters`` table
    keeps the seq high-water marks (``outbox_seq``, ``outbox_pruned_seq``).
    """
    db.execute("CREATE TABLE store_meta (name TEXT NOT NULL PRIMARY KEY, value TEXT NOT NULL)")
    db.execute(
        "INSERT INTO store_meta (name, value) "
        "SELECT 'terminal_id', terminal_id FROM outbox ORDER BY seq DESC LIMIT 1"
    )


def _main_file(db: sqlite_utils.Database) -> str:
    for _seq, name, file in db.conn.execute("PRAGMA database_list").fetchall():
        if name == "main":
            return file or ""
    return ""


@contextlib.contextmanager
def _migration_lock(db: sqlite_utils.Database) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``<db>-migrate.lock`` (no-op for in-memory databases)."""
    path = _main_file(db)
    if not path or fcntl is None:
        yield
        return
    # A separate file: opening and closing a second descriptor on the database file itself would
    # drop SQLite's own POSIX locks held by this process.
    fd = os.open(path + "-migrate.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + MIGRATE_LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"{path}: another process has been migrating this database for "
                        f"more than {MIGRATE_LOCK_TIMEOUT_S:.0f} s"
                    ) from None
                time.sleep(0.01)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _names(stop_before: str | Iterable[str] | None) -> set[str]:
    if stop_before is None:
        return set()
    if isinstance(stop_before, str):
        return {stop_before}
    return set(stop_before)


def migrate(
    db: sqlite_utils.Database,
    extra_sets: Iterable[Migrations] = (),
    stop_before: str | Iterable[str] | None = None,
) -> list[str]:
    """Apply the pending migrations of :data:`CORE`, then of each set in ``extra_sets``, in order.

    ``stop_before`` names one or more migrations: the run stops before the first of them (no later
    migration of that set nor any later set is applied), e.g. to build an old schema in a test.
    Returns the names of the migrations applied by this call (empty if the schema was current).
    Raises :class:`StoreError` if a migration fails (that migration is rolled back and stays
    pending), if two sets share a name, or if ``stop_before`` names an already-applied migration.
    """
    sets = [CORE, *extra_sets]
    seen: set[str] = set()
    for mset in sets:
        if mset.name in seen:
            raise StoreError(f"migration set {mset.name!r} passed twice")
        seen.add(mset.name)
    stops = _names(stop_before)

    if not stops and not any(mset.pending(db) for mset in sets):
        return []  # the usual case: nothing to do, no lock taken

    before = _applied_keys(db)
    with _migration_lock(db):
        for mset in sets:
            pending_names = {m.name for m in mset.pending(db)}
            try:
                mset.apply(db, stop_before=stops or None)
            except Exception as exc:  # a failing migration, or stop_before naming an applied one
                raise StoreError(f"migration set {mset.name!r}: {exc}") from exc
            if stops & pending_names:
                break
    return [name for key, name in _applied_pairs(db) if key not in before]


def _applied_pairs(db: sqlite_utils.Database) -> list[tuple[tuple[str, str], str]]:
    if not db[Migrations.migrations_table].exists():
        return []
    rows = db.execute(
        f"SELECT migration_set, name FROM [{Migrations.migrations_table}] ORDER BY id"
    ).fetchall()
    return [((mset, name), name) for mset, name in rows]


def _applied_keys(db: sqlite_utils.Database) -> set[tuple[str, str]]:
    return {key for key, _name in _applied_pairs(db)}


def schema_version(db: sqlite_utils.Database, migration_set: str | None = None) -> list[str]:
    """Names of the applied migrations in the order they were applied.

    With ``migration_set`` only that set's (e.g. ``"linfen_core"``); otherwise those of every set.
    """
    return [name for (mset, _n), name in _applied_pairs(db) if migration_set is None or mset == migration_set]
