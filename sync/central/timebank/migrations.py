"""The Time Bank module's migration set (recorded in ``timebank_migrations``).

Step 1 spells out every table of the first version in :func:`v1_tables`; :mod:`.schema` builds
its ``metadata`` from the same function while the module is at step 1.  A later step must copy
the tables it changes into its own function and :mod:`.schema` must then say the new shape
(the migrations test compares a migrated database with :mod:`.schema` on both backends).

Amounts of coins are integers in hundredths of a coin (``_cc``): 1 hour = 1 coin = 100 cc, so a
shift of 1 h 30 min earns 150 cc and a sum never rounds.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Connection,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ..migrations import Migration, MigrationSet, forbid_changes

_ROW_ID = BigInteger().with_variant(Integer, "sqlite")
_TIME = 40  # an ISO 8601 UTC timestamp as text, as the other modules keep times


def v1_tables(md: MetaData) -> MetaData:
    """Add the Time Bank's first-version tables to ``md`` and return it."""
    Table("tb_volunteers", md,  # members: volunteers, and elders registered by staff to receive services
          Column("id", _ROW_ID, primary_key=True, autoincrement=True),
          Column("person_key", String(64), nullable=False, unique=True),  # keyed hash of the ID number
          Column("name_masked", String(40), nullable=False),
          Column("id_masked", String(24), nullable=False),
          Column("born_on", String(10), nullable=False),  # from the ID number: sets ages
          Column("phone_key", String(64), unique=True),  # keyed hash of the phone number (login); None: no phone
          Column("phone_masked", String(20)),
          Column("community", String(64), nullable=False),
          Column("services", String(200), nullable=False, server_default=""),  # up to 3 codes, comma-separated
          Column("availability", Integer, nullable=False, server_default="0"),  # 4 bits: see docs/timebank.md
          Column("hardship", Integer, nullable=False, server_default="0"),  # 1: redeems from the hardship age
          Column("rules_version", String(40), nullable=False),  # the policy version accepted at registration
          Column("status", String(16), nullable=False, server_default="active"),
          Column("registered_via", String(16), nullable=False),  # phone | staff
          Column("registered_by", String(80), nullable=False),  # actor (docs/timebank.md §audit)
          Column("registered_at", String(_TIME), nullable=False),
          Column("team_id", BigInteger),
          Column("emergency_relation", String(20)),
          Column("emergency_phone", String(20)),
          Column("skills", Text),
          Column("certificates", Text),  # JSON list of {"name", "until"}
          Column("photo", LargeBinary),
          Column("photo_type", String(20)),
          Column("profile_updated_at", String(_TIME)),
          Index("ix_tb_volunteers_community", "community"))
    Table("tb_staff", md,  # organisers, committee workers and admins of the web pages
          Column("id", _ROW_ID, primary_key=True, autoincrement=True),
          Column("login", String(40), nullable=False, unique=True),
          Column("display_name", String(40), nullable=False),
          Column("role", String(16), nullable=False),  # organiser | committee | admin
          Column("unit_id", BigInteger),
          Column("community", String(64)),
          Column("password_hash", String(200), nullable=False),
          Column("active", Integer, nullable=False, server_default="1"),
          Column("created_at", String(_TIME), nullable=False),
          Column("created_by", String(80), nullable=False))
    Table("tb_otps", md,  # one-time codes sent to a phone (only their hash)
          Column("phone_key", String(64), primary_key=True),
          Column("code_hash", String(64), nullable=False),
          Column("sent_at", String(_TIME), nullable=False),
          Column("expires_at", String(_TIME), nullable=False),
          Column("attempts", Integer, nullable=False, server_default="0"),
          Column("sends_today", Integer, nullable=False, server_default="1"),
          Column("day", String(10), nullable=False))
    Table("tb_secrets", md,  # keys made on first use (the web session key)
          Column("name", String(40), primary_key=True),
          Column("value", String(200), nullable=False),
          Column("made_at", String(_TIME), nullable=False))
    Table("tb_audit", md,  # every write, and every read of one person's record
          Column("id", _ROW_ID, primary_key=True, autoincrement=True),
          Column("at", String(_TIME), nullable=False),
          Column("actor", String(80), nullable=False),
          Column("action", String(40), nullable=False),
          Column("subject", String(80)),
          Column("detail", Text),
          Index("ix_tb_audit_subject", "subject", "id"))
    Table("tb_units", md,  # partner units and residents' teams
          Column("id", _ROW_ID, primary_key=True, autoincrement=True),
          Column("kind", String(16), nullable=False),  # partner | team
          Column("name", String(80), nullable=False),
          Column("community", String(64)),
          Column("created_at", String(_TIME), nullable=False),
          Column("created_by", String(80), nullable=False),
          UniqueConstraint("kind", "name", name="uq_tb_units_kind_name"))
    Table("tb_activities", md,
          Column("id", _ROW_ID, primary_key=True, autoincrement=True),
          Column("title", String(80), nullable=False),
          Column("category", String(32), nullable=False),  # a service code (docs/timebank.md §services)
          Column("unit_id", BigInteger),
          Column("project_id", BigInteger),
          Column("community", String(64), nullable=False),
          Column("place", String(120), nullable=False),
          Column("starts_at", String(_TIME), nullable=False),
          Column("ends_at", String(_TIME), nullable=False),
          Column("slots", Integer, nullable=False),
          Column("needs", String(200), nullable=False, server_default=""),  # profile fields required first
          Column("checkin_token", String(40), nullable=False, unique=True),  # in the activity's QR
          Column("status", String(16), nullable=False, server_default="open"),  # open | cancelled
          Column("created_by", String(80), nullable=False),
          Column("created_at", String(_TIME), nullable=False),
          Index("ix_tb_activities_starts", "starts_at"))
    Table("tb_signups", md,
          Column("activity_id", BigInteger, primary_key=True),
          Column("volunteer_id", BigInteger, primary_key=True),
          Column("signed_at", String(_TIME), nullable=False),
          Column("status", String(16), nullable=False, server_default="signed"),  # signed | cancelled
          Index("ix_tb_signups_volunteer", "volunteer_id"))
    Table("tb_projects", md,  # 小区微事: proposed by a residents' team, chosen by vote
          Column("id", _ROW_ID, primary_key=True, autoincrement=True),
          Column("title", String(80), nullable=False),
          Column("summary", Text, nullable=False),
          Column("team_id", BigInteger, nullable=False),
          Column("community", String(64), nullable=False),
          Column("proposed_by", String(80), nullable=False),
          Column("proposed_at", String(_TIME), nullable=False),
          Column("vote_closes_at", String(_TIME), nullable=False),
          Column("status", String(16), nullable=False, server_default="voting"),  # voting | chosen | not_chosen
          Column("decided_by", String(80)),
          Column("decided_at", String(_TIME)))
    Table("tb_votes", md,
          Column("project_id", BigInteger, primary_key=True),
          Column("volunteer_id", BigInteger, primary_key=True),
          Column("voted_at", String(_TIME), nullable=False))
    Table("tb_shifts", md,  # hours: one check-in to one check-out
          Column("id", _ROW_ID, primary_key=True, autoincrement=True),
          Column("volunteer_id", BigInteger, nullable=False),
          Column("activity_id", BigInteger),
          Column("category", String(32), nullable=False),
          Column("site", String(64)),  # the terminal's site for a kiosk check-in
          Column("check_in_at", String(_TIME), nullable=False),
          Column("check_out_at", String(_TIME)),
          Column("in_via", String(16), nullable=False),  # kiosk | qr | staff
          Column("out_via", String(16)),  # kiosk | qr | staff | auto (closed at 24 h)
          Column("in_event_id", String(36), unique=True),  # the kiosk's event: a resent push is harmless
          Column("out_event_id", String(36), unique=True),
          Column("cosigner_key", String(64)),  # the served resident's person key or card number
          Column("cosigned_via", String(16)),  # id_card | community_card | qr
          Column("cosigned_at", String(_TIME)),
          Column("minutes", Integer),
          Column("status", String(16), nullable=False),  # open | pending | approved | declined
          Column("flag", String(32)),  # auto_closed | ...: shown to the organiser, never hidden
          Column("decided_by", String(80)),
          Column("decided_at", String(_TIME)),
          Column("decision_note", String(200)),
          Column("entry_id", String(40)),  # the coin entry of an approved shift
          Index("ix_tb_shifts_volunteer", "volunteer_id", "check_in_at"),
          Index("ix_tb_shifts_status", "status", "check_in_at"),
          # the reports read approved shifts of a window: this covers them without touching the rows
          Index("ix_tb_shifts_report", "status", "check_in_at", "minutes", "category", "volunteer_id",
                "activity_id"))
    Table("tb_entries", md,  # one balanced coin entry: its movements sum to zero
          Column("entry_id", String(40), primary_key=True),
          Column("type", String(16), nullable=False),  # earn | gift | donate | group | redeem | pool_grant | adjust
          Column("at", String(_TIME), nullable=False),
          Column("actor", String(80), nullable=False),
          Column("category", String(32)),
          Column("memo", String(200)),
          Column("shift_id", BigInteger),
          Column("redemption_id", BigInteger))
    Table("tb_movements", md,  # append-only (database triggers refuse UPDATE and DELETE)
          Column("id", _ROW_ID, primary_key=True, autoincrement=True),
          Column("entry_id", String(40), nullable=False),
          Column("account", String(40), nullable=False),  # vol:<id> | issue | pool | rewards
          Column("amount_cc", BigInteger, nullable=False),
          Column("kind", String(16), nullable=False),
          Column("category", String(32)),
          Column("at", String(_TIME), nullable=False),
          Index("ix_tb_movements_account", "account", "id"),
          Index("ix_tb_movements_entry", "entry_id"))
    Table("tb_balances", md,  # cached: always equal to the sum of the account's movements
          Column("account", String(40), primary_key=True),
          Column("balance_cc", BigInteger, nullable=False),
          Column("movements", BigInteger, nullable=False),
          Column("last_at", String(_TIME), nullable=False))
    Table("tb_policies", md,  # caps and ages as versioned, dated data
          Column("version", String(40), primary_key=True),
          Column("valid_from", String(10), nullable=False),
          Column("rules", Text, nullable=False),
          Column("imported_at", String(_TIME), nullable=False),
          Column("imported_by", String(80), nullable=False))
    Table("tb_reviews", md,  # a breach of a cap or an age rule waits here for a person
          Column("id", _ROW_ID, primary_key=True, autoincrement=True),
          Column("kind", String(32), nullable=False),  # daily_cap | lifetime_cap | redeem_age | ...
          Column("volunteer_id", BigInteger, nullable=False),
          Column("shift_id", BigInteger),
          Column("amount_cc", BigInteger, nullable=False),
          Column("detail", String(200), nullable=False),
          Column("policy_version", String(40), nullable=False),
          Column("opened_at", String(_TIME), nullable=False),
          Column("status", String(16), nullable=False, server_default="open"),  # open | allowed | refused
          Column("decided_by", String(80)),
          Column("decided_at", String(_TIME)),
          Column("note", String(200)),  # why it was refused (or allowed), in the decider's words
          Column("entry_id", String(40)),
          Column("redemption_id", BigInteger),  # a redeem_age review: the redemption waiting for it
          Index("ix_tb_reviews_status", "status", "id"))
    Table("tb_rewards", md,
          Column("id", _ROW_ID, primary_key=True, autoincrement=True),
          Column("name", String(80), nullable=False),
          Column("category", String(32), nullable=False),
          Column("cost_cc", BigInteger, nullable=False),
          Column("stock", Integer, nullable=False),
          Column("unit_id", BigInteger),  # the partner unit that gives it
          Column("active", Integer, nullable=False, server_default="1"),
          Column("created_by", String(80), nullable=False),
          Column("created_at", String(_TIME), nullable=False),
          CheckConstraint("stock >= 0", name="ck_tb_rewards_stock"),
          CheckConstraint("cost_cc > 0", name="ck_tb_rewards_cost"))
    Table("tb_redemptions", md,
          Column("id", _ROW_ID, primary_key=True, autoincrement=True),
          Column("volunteer_id", BigInteger, nullable=False),
          Column("reward_id", BigInteger, nullable=False),
          Column("cost_cc", BigInteger, nullable=False),
          Column("at", String(_TIME), nullable=False),
          Column("status", String(16), nullable=False, server_default="done"),  # done | waiting | refused
          Column("entry_id", String(40)),  # the coin entry of a done redemption
          Column("request_id", String(40), nullable=False, unique=True),  # a resent form redeems once
          Column("actor", String(80), nullable=False),
          Index("ix_tb_redemptions_volunteer", "volunteer_id"))
    return md


def _v1(conn: Connection) -> None:
    v1_tables(MetaData()).create_all(conn)
    forbid_changes(conn, "tb_movements")
    forbid_changes(conn, "tb_audit")


MIGRATIONS = MigrationSet("timebank", (
    Migration(1, "time bank: members, staff, activities, projects, shifts, coin ledger, reviews, rewards", _v1),
))
