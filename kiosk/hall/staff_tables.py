"""The tables of the hall's staff registry, counter sessions and staff alerts (migration set ``linfen_hall_staff``).

Kept apart from the queue's own set (:data:`kiosk.hall.tickets.HALL_MIGRATIONS`) so each can grow
on its own; the hall opens its store with both (``Store.open(..., extra_migrations=(...,
STAFF_ALERT_MIGRATIONS))``).  Nothing here holds a raw card UID or PIN:

* ``hall_staff`` — one row per clerk: staff id, display name (masked form allowed), ``card_key``
  (HMAC of the card UID under the deployment key), ``pin_hash`` (scrypt with its own salt and
  parameters), the wrong-PIN count and the end of a lockout.
* ``hall_sessions`` — one row per counter login: the SHA-256 of the session token (the token itself
  only travels to the counter), staff id, window, start, last use, end and why it ended.
  A partial unique index keeps one open session per window.
* ``hall_alerts`` — one row per staff alert: kind, where (``source``), the resident's masked name
  (local only), detail (JSON), when raised, and who acknowledged it at which window and when.
"""

from __future__ import annotations

import sqlite_utils
from sqlite_utils.migrations import Migrations

STAFF_ALERT_MIGRATIONS = Migrations("linfen_hall_staff")


@STAFF_ALERT_MIGRATIONS()
def staff_m001_registry(db: sqlite_utils.Database) -> None:
    """Create ``hall_staff`` and ``hall_sessions``."""
    db.execute(
        """
        CREATE TABLE hall_staff (
            staff_id     TEXT    PRIMARY KEY,
            display_name TEXT    NOT NULL,
            card_key     TEXT    NOT NULL UNIQUE,
            pin_hash     TEXT    NOT NULL,
            failures     INTEGER NOT NULL DEFAULT 0,
            locked_until TEXT    NULL,
            updated_at   TEXT    NOT NULL
        )
        """
    )
    db.execute(
        """
        CREATE TABLE hall_sessions (
            token_hash TEXT    PRIMARY KEY,
            staff_id   TEXT    NOT NULL,
            window_no  INTEGER NOT NULL CHECK (window_no BETWEEN 1 AND 99),
            started_at TEXT    NOT NULL,
            seen_at    TEXT    NOT NULL,
            ended_at   TEXT    NULL,
            end_reason TEXT    NULL
        )
        """
    )
    db.execute("CREATE UNIQUE INDEX hall_sessions_open_window ON hall_sessions (window_no) WHERE ended_at IS NULL")
    db.execute("CREATE INDEX hall_sessions_open_staff ON hall_sessions (staff_id) WHERE ended_at IS NULL")


@STAFF_ALERT_MIGRATIONS()
def staff_m002_alerts(db: sqlite_utils.Database) -> None:
    """Create ``hall_alerts``."""
    db.execute(
        """
        CREATE TABLE hall_alerts (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            kind       TEXT    NOT NULL,
            source     TEXT    NOT NULL,
            resident   TEXT    NOT NULL DEFAULT '',
            detail     TEXT    NOT NULL CHECK (json_valid(detail)),
            raised_at  TEXT    NOT NULL,
            ack_at     TEXT    NULL,
            ack_staff  TEXT    NULL,
            ack_window INTEGER NULL
        )
        """
    )
    db.execute("CREATE INDEX hall_alerts_open ON hall_alerts (id) WHERE ack_at IS NULL")
