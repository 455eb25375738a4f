"""The card module's migration set (recorded in ``card_migrations``)."""

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
)

from ..migrations import Migration, MigrationSet, forbid_changes


def _v1_ledger(conn: Connection) -> None:
    md = MetaData()
    row_id = BigInteger().with_variant(Integer, "sqlite")
    Table("card_entries", md,
          Column("entry_id", String(64), primary_key=True),
          Column("type", String(16), nullable=False),
          Column("card_no", String(64), nullable=False),
          Column("day", String(10), nullable=False),
          Column("terminal_id", String(64), nullable=False),
          Column("site", String(64), nullable=False),
          Column("counter", BigInteger),
          Column("amount_fen", BigInteger, nullable=False),
          Column("subsidy_fen", BigInteger, nullable=False),
          Column("subsidy_tier", String(64)),
          Column("refers_to", String(64)),
          Column("staff", String(64)),
          Column("voided_by", String(64)),
          Column("posted_at", String(40), nullable=False),
          UniqueConstraint("terminal_id", "counter", name="uq_card_entries_terminal_counter"),
          Index("ix_card_entries_refers_to", "refers_to"))
    Table("card_movements", md,
          Column("id", row_id, primary_key=True, autoincrement=True),
          Column("entry_id", String(64), nullable=False),
          Column("account", String(100), nullable=False),
          Column("amount_fen", BigInteger, nullable=False),
          Column("kind", String(16), nullable=False),
          Column("card_no", String(64), nullable=False),
          Column("day", String(10), nullable=False),
          Column("terminal_id", String(64), nullable=False),
          Column("posted_at", String(40), nullable=False),
          Column("note", Text),
          Index("ix_card_movements_account", "account", "id"),
          Index("ix_card_movements_entry", "entry_id"))
    Table("card_balances", md,
          Column("account", String(100), primary_key=True),
          Column("balance_fen", BigInteger, nullable=False),
          Column("movements", BigInteger, nullable=False),
          Column("last_posted_at", String(40), nullable=False))
    Table("card_subsidy_grants", md,
          Column("card_no", String(64), primary_key=True),
          Column("day", String(10), primary_key=True),
          Column("entry_id", String(64), nullable=False),
          Column("granted_at", String(40), nullable=False))
    Table("card_problems", md,
          Column("id", row_id, primary_key=True, autoincrement=True),
          Column("event_id", String(36), nullable=False),
          Column("terminal_id", String(64), nullable=False),
          Column("type", String(64), nullable=False),
          Column("card_no", String(64)),
          Column("reason", String(40), nullable=False),
          Column("detail", Text, nullable=False),
          Column("recorded_at", String(40), nullable=False),
          Index("ix_card_problems_event", "event_id"))
    md.create_all(conn)
    forbid_changes(conn, "card_movements")


MIGRATIONS = MigrationSet("card", (
    Migration(1, "card ledger: entries, movements, cached balances, subsidy grants, problems", _v1_ledger),
))
