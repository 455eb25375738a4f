"""The sync module's tables as the code queries them (SQLAlchemy Core, SQLite and PostgreSQL alike).

The tables are *created and changed* only by the module's migrations
(:mod:`sync.central.sync_api.migrations`); these definitions are the shape the queries expect
after the last one, and ``tests/test_central_storage.py`` checks that the two agree on both
backends.  Which steps have run is recorded in ``schema_migrations`` (:mod:`sync.central.migrations`).

Times are ISO-8601 text in UTC (``2025-03-01T08:00:00.123456+00:00``): they sort as text,
read back the same on both backends and never overflow a driver's date range.  An event's
``occurred_at`` is kept as the terminal sent it.  JSON (payloads, reference data, device
states) is text, not JSONB: PostgreSQL's JSONB refuses ``\\u0000``, which a payload may hold.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

#: Enrolled terminals: credentials (a hash only), site, revocation, highest seq stored.
terminals = Table(
    "terminals", metadata,
    Column("terminal_id", String(64), primary_key=True),
    Column("role", String(32), nullable=False),
    Column("site", String(64), nullable=False),
    Column("token_hash", String(64), nullable=False),
    Column("enrolled_at", String(40), nullable=False),
    Column("revoked_at", String(40)),
    Column("revoked_reason", String(200)),
    Column("highest_seq", BigInteger, nullable=False, default=0),
    Column("gap_runs", BigInteger, nullable=False, default=0),  # rows in seq_gaps for this terminal
    Column("gap_missing", BigInteger, nullable=False, default=0),  # seqs those rows cover
)

#: Runs of seq numbers below a terminal's highest that the central has not stored (inclusive).
seq_gaps = Table(
    "seq_gaps", metadata,
    Column("terminal_id", String(64), primary_key=True),
    Column("first", BigInteger, primary_key=True, autoincrement=False),
    Column("last", BigInteger, nullable=False),
)

#: Every event stored once: unique on id, and on (terminal_id, seq).
events = Table(
    "events", metadata,
    Column("id", String(36), primary_key=True),
    Column("terminal_id", String(64), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("type", String(64), nullable=False),
    Column("occurred_at", String(64), nullable=False),
    Column("schema", Integer, nullable=False),
    Column("payload", Text, nullable=False),
    Column("body_hash", String(64), nullable=False),
    Column("stored_at", String(40), nullable=False),
    UniqueConstraint("terminal_id", "seq", name="uq_events_terminal_seq"),
)

#: The latest heartbeat of each terminal.
heartbeats = Table(
    "heartbeats", metadata,
    Column("terminal_id", String(64), primary_key=True),
    Column("at", String(64), nullable=False),
    Column("received_at", String(40), nullable=False),
    Column("devices", Text, nullable=False),
    Column("outbox_pending", BigInteger, nullable=False),
    Column("last_push_at", String(64)),
    Column("quarantined_events", BigInteger, nullable=False, default=0),  # outbox events refused for good
    Column("skipped_changes", BigInteger, nullable=False, default=0),  # feed changes it could not apply
    Column("feed_age_s", Float),  # seconds since it last applied the whole feed (deny list, balances); None: never
)

#: Each site's change-feed counter: the last cursor handed out.
sites = Table(
    "sites", metadata,
    Column("site", String(64), primary_key=True),
    Column("last_cursor", BigInteger, nullable=False, default=0),
)

#: Reference data as a compacted change feed: one row per (site, kind, key), holding its latest
#: change and that change's cursor (a delete stays as a tombstone so a terminal behind learns it).
reference = Table(
    "reference", metadata,
    Column("site", String(64), primary_key=True),
    Column("kind", String(32), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("cursor", BigInteger, nullable=False),
    Column("op", String(8), nullable=False),
    Column("data", Text),
    Column("changed_at", String(40), nullable=False),
    Index("ix_reference_site_cursor", "site", "cursor", unique=True),
)
