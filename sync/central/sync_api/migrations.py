"""The sync module's migration set: terminals, events, seq gaps, heartbeats and the reference change feed.

Recorded in ``schema_migrations``, the bookkeeping table of the central before it had modules,
so an existing database is already at the right version.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from ..migrations import Migration, MigrationSet


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


def _v2_gap_counts(conn: Connection) -> None:
    for column in ("gap_runs", "gap_missing"):
        conn.execute(text(f"ALTER TABLE terminals ADD COLUMN {column} BIGINT NOT NULL DEFAULT 0"))
    conn.execute(text(
        'UPDATE terminals SET gap_runs = (SELECT count(*) FROM seq_gaps g WHERE g.terminal_id = terminals.terminal_id), '
        'gap_missing = (SELECT coalesce(sum(g."last" - g."first" + 1), 0) FROM seq_gaps g '
        "WHERE g.terminal_id = terminals.terminal_id)"))


def _v3_heartbeat_quarantine(conn: Connection) -> None:
    for column in ("quarantined_events", "skipped_changes"):
        conn.execute(text(f"ALTER TABLE heartbeats ADD COLUMN {column} BIGINT NOT NULL DEFAULT 0"))


def _v4_heartbeat_feed_age(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE heartbeats ADD COLUMN feed_age_s DOUBLE PRECISION NULL"))


MIGRATIONS = MigrationSet("sync", (
    Migration(1, "terminals, events, seq gaps, heartbeats, reference change feed", _v1_initial),
    Migration(2, "gap run and missing-seq counts per terminal", _v2_gap_counts),
    Migration(3, "quarantined events and skipped reference changes in heartbeats", _v3_heartbeat_quarantine),
    Migration(4, "how far behind each terminal's reference feed (deny list, balances) is", _v4_heartbeat_feed_age),
), table_name="schema_migrations")
