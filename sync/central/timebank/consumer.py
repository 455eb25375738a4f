"""Pushed ``volunteer.check_in`` / ``volunteer.check_out`` events become shifts (helper A)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection

from ...protocol import EventEnvelope


def post_volunteer_events(conn: Connection, terminal_id: str, site: str, role: str,
                          events: Sequence[EventEnvelope]) -> None:
    """Record each volunteer event of the push (not written yet: helper A)."""
    del conn, terminal_id, site, role, events
