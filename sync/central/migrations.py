"""Versioned schema migrations for the central database, the same on SQLite and PostgreSQL.

Why not Alembic: the central has a handful of tables, one process runs migrations at start
(before any worker serves), and both backends must run exactly the same steps.  A list of
numbered, transactional Python functions recorded in ``schema_migrations`` (the habit of
sqlite-utils' migrations) does that in one small module with no second configuration, no
``alembic.ini`` and no autogeneration to review.  Both backends have transactional DDL, so a
failed migration leaves nothing half-done.

Rules for a new migration: append a function with the next number; never edit a migration that
has shipped (each one spells out its own DDL, so changing :mod:`.schema` later does not change
what an old step does); update :mod:`.schema` to the new shape.  A test checks that a migrated
database matches :mod:`.schema` on both backends.

Concurrent starts are safe: PostgreSQL takes an advisory lock for the migration transaction,
SQLite's ``BEGIN IMMEDIATE`` holds the write lock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    select,
    text,
)

from .db import backend_of, now_text, write_transaction
from .errors import CentralError
from .schema import schema_migrations

_PG_LOCK_KEY = 0x4C696E66656E  # "Linfen": the advisory lock held while migrating


@dataclass(frozen=True)
class Migration:
    """One numbered step."""

    version: int
    name: str
    apply: Callable[[Connection], None]


def _v1_initial(conn: Connection) -> None:
    md = MetaData()
    Table("terminals", md,
          Column("terminal_id", String(64), primary_key=True),
          Column("role", String(32), nullable=False),
          Column("site", String(64), nullable=False),
          Column("token_hash", String(64), nullable=False),
          Column("enrolled_at", String(40), nullable=False),
          Column("revoked_at", String(40)),
          Column("revoked_reason", String(200)),
          Column("highest_seq", BigInteger, nullable=False))
    Table("seq_gaps", md,
          Column("terminal_id", String(64), primary_key=True),
          Column("first", BigInteger, primary_key=True, autoincrement=False),
          Column("last", BigInteger, nullable=False))
    Table("events", md,
          Column("id", String(36), primary_key=True),
          Column("terminal_id", String(64), nullable=False),
          Column("seq", BigInteger, nullable=False),
          Column("type", String(64), nullable=False),
          Column("occurred_at", String(64), nullable=False),
          Column("schema", Integer, nullable=False),
          Column("payload", Text, nullable=False),
          Column("body_hash", String(64), nullable=False),
          Column("stored_at", String(40), nullable=False),
          UniqueConstraint("terminal_id", "seq", name="uq_events_terminal_seq"))
    Table("heartbeats", md,
          Column("terminal_id", String(64), primary_key=True),
          Column("at", String(64), nullable=False),
          Column("received_at", String(40), nullable=False),
          Column("devices", Text, nullable=False),
          Column("outbox_pending", BigInteger, nullable=False),
          Column("last_push_at", String(64)))
    Table("sites", md,
          Column("site", String(64), primary_key=True),
          Column("last_cursor", BigInteger, nullable=False))
    Table("reference", md,
          Column("site", String(64), primary_key=True),
          Column("kind", String(32), primary_key=True),
          Column("key", String(200), primary_key=True),
          Column("cursor", BigInteger, nullable=False),
          Column("op", String(8), nullable=False),
          Column("data", Text),
          Column("changed_at", String(40), nullable=False),
          Index("ix_reference_site_cursor", "site", "cursor", unique=True))
    md.create_all(conn)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "terminals, events, seq gaps, heartbeats, reference change feed", _v1_initial),
)

LATEST = MIGRATIONS[-1].version


def applied_versions(conn: Connection) -> set[int]:
    """Versions recorded in ``schema_migrations`` (empty when the table does not exist yet)."""
    if not conn.dialect.has_table(conn, "schema_migrations"):
        return set()
    return set(conn.execute(select(schema_migrations.c.version)).scalars())


def migrate(engine: Engine) -> list[int]:
    """Run every migration not yet applied, each recorded; returns the versions applied now."""
    done: list[int] = []
    with write_transaction(engine) as conn:
        if backend_of(engine) == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        schema_migrations.create(conn, checkfirst=True)
        applied = applied_versions(conn)
        newer = sorted(v for v in applied if v > LATEST)
        if newer:
            raise CentralError("schema_too_new", f"the database is at schema version {newer[-1]}, newer than "
                               f"this program knows ({LATEST}): upgrade linfen before starting the central")
        for step in MIGRATIONS:
            if step.version in applied:
                continue
            step.apply(conn)
            conn.execute(insert(schema_migrations).values(version=step.version, name=step.name,
                                                          applied_at=now_text()))
            done.append(step.version)
    return done


def current_version(engine: Engine) -> int:
    """The highest applied version (0 for an empty database)."""
    with engine.connect() as conn:
        return max(applied_versions(conn), default=0)
