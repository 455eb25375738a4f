"""The card module's tables as the code queries them (created only by :mod:`.migrations`).

Sign convention: every posting's movements sum to zero.  A card account (``card:<card_no>``)
holds what the central owes the card holder (a top-up raises it, a payment lowers it); a
canteen or cinema account (``canteen:<site>``, ``cinema:<site>``) what is owed to that outlet;
``subsidy_fund`` goes down by each subsidy it pays; a till account (``cash:<terminal>``,
``transfer:<terminal>``) goes *down* by what the service centre took in, the counterpart of the
card's rise.  The whole ledger sums to zero at all times.

``card_movements`` is append-only: no code updates or deletes a row, and a database trigger
(made by the migration, on both backends) refuses any UPDATE or DELETE.  ``card_balances`` is a
cache of each account's sum, kept in the same transaction as the movements it counts;
``/v1/card/ledger/check`` proves the two agree.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text, UniqueConstraint

metadata = MetaData()

_ROW_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY

#: One row per posted money event (payment, void, top-up) and per reconciliation adjustment.
card_entries = Table(
    "card_entries", metadata,
    Column("entry_id", String(64), primary_key=True),  # the event id; an adjustment's is "adj:<payment id>"
    Column("type", String(16), nullable=False),  # payment, void, topup, adjustment
    Column("card_no", String(64), nullable=False),
    Column("day", String(10), nullable=False),  # the payment's day; the event's local date otherwise
    Column("terminal_id", String(64), nullable=False),
    Column("site", String(64), nullable=False),
    Column("counter", BigInteger),  # the reader's journal counter (None for an adjustment)
    Column("amount_fen", BigInteger, nullable=False),  # paid, refunded, topped up, or subsidy reversed
    Column("subsidy_fen", BigInteger, nullable=False),
    Column("subsidy_tier", String(64)),
    Column("refers_to", String(64)),  # a void's payment; an adjustment's payment
    Column("staff", String(64)),
    Column("voided_by", String(64)),  # the void that reversed this payment (or adjustment)
    Column("posted_at", String(40), nullable=False),
    UniqueConstraint("terminal_id", "counter", name="uq_card_entries_terminal_counter"),
    Index("ix_card_entries_refers_to", "refers_to"),
)

#: Immutable ledger lines; each entry's lines sum to zero.
card_movements = Table(
    "card_movements", metadata,
    Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    Column("entry_id", String(64), nullable=False),
    Column("account", String(100), nullable=False),
    Column("amount_fen", BigInteger, nullable=False),
    Column("kind", String(16), nullable=False),  # topup, payment, subsidy, void, refund, adjustment
    Column("card_no", String(64), nullable=False),
    Column("day", String(10), nullable=False),
    Column("terminal_id", String(64), nullable=False),
    Column("posted_at", String(40), nullable=False),
    Column("note", Text),
    Index("ix_card_movements_account", "account", "id"),
    Index("ix_card_movements_entry", "entry_id"),
)

#: Cached sum of each account's movements (always equal to it: see the ledger check).
card_balances = Table(
    "card_balances", metadata,
    Column("account", String(100), primary_key=True),
    Column("balance_fen", BigInteger, nullable=False),
    Column("movements", BigInteger, nullable=False),
    Column("last_posted_at", String(40), nullable=False),
)

#: The day's subsidy of each card: the first posted subsidised payment holds it (reconciliation).
card_subsidy_grants = Table(
    "card_subsidy_grants", metadata,
    Column("card_no", String(64), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("entry_id", String(64), nullable=False),
    Column("granted_at", String(40), nullable=False),
)

#: Money events the ledger refused (malformed, wrong role, bad void), for an operator to see.
card_problems = Table(
    "card_problems", metadata,
    Column("id", _ROW_ID, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
    Column("terminal_id", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("card_no", String(64)),
    Column("reason", String(40), nullable=False),
    Column("detail", Text, nullable=False),
    Column("recorded_at", String(40), nullable=False),
    Index("ix_card_problems_event", "event_id"),
)
