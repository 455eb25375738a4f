"""Versioned schema migrations for the central database, one set per module, the same on SQLite and PostgreSQL.

Each module of the central (the sync API now; the Time Bank, alerts and reports later) owns a
:class:`MigrationSet`: numbered steps from 1, recorded in the module's own bookkeeping table
(``<module>_migrations``; the sync API keeps ``schema_migrations``, the name it had when it was
the only module, so databases made before modules existed open as they are).  :func:`migrate`
applies the sets in the order given (a module may build on the tables of one before it) and,
within a set, its steps in order.

Why not Alembic: the central has a handful of tables, one process runs migrations at start
(before any worker serves), and both backends must run exactly the same steps.  Numbered,
transactional Python functions (the habit of sqlite-utils' migrations) do that in one small
module with no second configuration and no autogeneration to review.  Both backends have
transactional DDL, and every set runs in one transaction, so a failed step leaves nothing
half-done.

Rules for a new migration: append a step with the next number to its module's set; never edit
a step that has shipped (each spells out its own DDL, so changing a module's schema module later
does not change what an old step does); update the module's schema to the new shape.  A test
checks that a migrated database matches every module's schema on both backends.

Concurrent starts are safe: PostgreSQL takes an advisory lock for the migration transaction,
SQLite's ``BEGIN IMMEDIATE`` holds the write lock.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import Column, Connection, Engine, Integer, MetaData, String, Table, insert, select, text

from .db import backend_of, now_text, write_transaction
from .errors import CentralError

_PG_LOCK_KEY = 0x4C696E66656E  # "Linfen": the advisory lock held while migrating
_MODULE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


@dataclass(frozen=True)
class Migration:
    """One numbered step of a module's schema."""

    version: int
    name: str
    apply: Callable[[Connection], None]


@dataclass(frozen=True)
class MigrationSet:
    """A module's migrations, numbered 1, 2, 3 … and recorded in its own table."""

    module: str
    steps: tuple[Migration, ...]
    table_name: str = ""  # bookkeeping table; default ``<module>_migrations``
    table: Table = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _MODULE_NAME.match(self.module):
            raise ValueError(f"module name {self.module!r}: lowercase letters, digits and '_'")
        versions = [step.version for step in self.steps]
        if versions != list(range(1, len(versions) + 1)):
            raise ValueError(f"{self.module} migrations must be numbered 1, 2, 3 … in order, not {versions}")
        name = self.table_name or f"{self.module}_migrations"
        object.__setattr__(self, "table_name", name)
        object.__setattr__(self, "table", bookkeeping_table(name))

    @property
    def latest(self) -> int:
        """The version a database has once every step ran (0 for a module with no tables yet)."""
        return self.steps[-1].version if self.steps else 0


def bookkeeping_table(name: str, metadata: MetaData | None = None) -> Table:
    """The table recording which steps of one module have run (the same shape for every module)."""
    return Table(
        name, metadata or MetaData(),
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("name", String(100), nullable=False),
        Column("applied_at", String(40), nullable=False),
    )


def _check_distinct(sets: Sequence[MigrationSet]) -> None:
    for attr in ("module", "table_name"):
        names = [getattr(s, attr) for s in sets]
        if len(names) != len(set(names)):
            raise ValueError(f"two migration sets share a {attr}: {names}")


def applied_versions(conn: Connection, migrations: MigrationSet) -> set[int]:
    """Versions of one module recorded in its bookkeeping table (empty when the table does not exist yet)."""
    if not conn.dialect.has_table(conn, migrations.table_name):
        return set()
    return set(conn.execute(select(migrations.table.c.version)).scalars())


def migrate(engine: Engine, sets: Sequence[MigrationSet]) -> dict[str, list[int]]:
    """Run every step not yet applied, set after set, in one transaction; returns the versions applied now per module."""
    _check_distinct(sets)
    done: dict[str, list[int]] = {}
    with write_transaction(engine) as conn:
        if backend_of(engine) == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        for migrations in sets:
            done[migrations.module] = _migrate_one(conn, migrations)
    return done


def _migrate_one(conn: Connection, migrations: MigrationSet) -> list[int]:
    migrations.table.create(conn, checkfirst=True)
    applied = applied_versions(conn, migrations)
    newer = sorted(v for v in applied if v > migrations.latest)
    if newer:
        raise CentralError("schema_too_new", f"the database's {migrations.module} schema is at version {newer[-1]}, "
                           f"newer than this program knows ({migrations.latest}): upgrade linfen before starting "
                           "the central")
    done = []
    for step in migrations.steps:
        if step.version in applied:
            continue
        step.apply(conn)
        conn.execute(insert(migrations.table).values(version=step.version, name=step.name, applied_at=now_text()))
        done.append(step.version)
    return done


def current_versions(engine: Engine, sets: Sequence[MigrationSet]) -> dict[str, int]:
    """Each module's highest applied version (0 for a module not migrated yet)."""
    with engine.connect() as conn:
        return {s.module: max(applied_versions(conn, s), default=0) for s in sets}


def forbid_changes(conn: Connection, table: str) -> None:
    """Make ``table`` append-only in the database itself: an UPDATE or DELETE fails (both backends).

    Shipped steps of several modules call this: never change what it creates (a new behaviour is a
    new function), or an old step would no longer do what it did.
    """
    message = f"{table} is append-only: a correction is a new movement"
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                          f"$$ BEGIN RAISE EXCEPTION '{message}'; END $$"))
        conn.execute(text(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                          f"FOR EACH ROW EXECUTE FUNCTION {table}_append_only()"))
        return
    for action in ("UPDATE", "DELETE"):
        conn.execute(text(f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                          f"BEGIN SELECT RAISE(ABORT, '{message}'); END"))
