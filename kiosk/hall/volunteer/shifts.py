"""The volunteer desk's store: open check-ins (a table of this kiosk's store) and the outbox events.

``volunteer_open_shifts`` keeps, per person key, the check-in event of a volunteer checked in here and
not yet out, so a restart loses nothing.  A check-in writes its row and its ``volunteer.check_in``
event in one store action; a check-out deletes the row and writes ``volunteer.check_out`` in one
action (payloads exactly as docs/timebank.md §6).  A row older than ``stale_after_h`` (the central's
``auto_close_hours``) no longer counts as open: the central closed that shift for an organiser, and the
volunteer's next tap is a new check-in.  The raw ID number is never stored or sent.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlite_utils.migrations import Migrations

from kiosk.hall.services import HALL_TZ
from kiosk.hall.volunteer.events import Cosigner, Standing
from kiosk.store import Store

VOLUNTEER_MIGRATIONS = Migrations("linfen_hall_volunteers")
STALE_AFTER_H = 24.0  # the policy's auto_close_hours: an older open check-in is the central's to close
PERSON_KEY = re.compile(r"^[0-9a-f]{64}$")


@VOLUNTEER_MIGRATIONS()
def m001_open_shifts(db: Any) -> None:
    """Create ``volunteer_open_shifts``: one row per volunteer checked in at this kiosk and not yet out."""
    db.execute(
        """
        CREATE TABLE volunteer_open_shifts (
            person_key     TEXT NOT NULL PRIMARY KEY CHECK (length(person_key) = 64),
            name_masked    TEXT NOT NULL,
            check_in_event TEXT NOT NULL UNIQUE,
            checked_in_at  TEXT NOT NULL
        )
        """
    )


@dataclass(frozen=True)
class OpenShift:
    """A volunteer checked in here and not out yet."""

    person_key: str
    name_masked: str
    check_in_event: str
    checked_in_at: dt.datetime  # aware, UTC


def _utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def local_hhmm(at: dt.datetime) -> str:
    """The hall's local time of day, "09:02"."""
    return at.astimezone(HALL_TZ).strftime("%H:%M")


class VolunteerShifts:
    """Open check-ins and the volunteer events of one hall kiosk's store."""

    def __init__(self, store: Store, roster: Callable[[], Mapping[str, Mapping[str, Any]] | None],
                 now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 stale_after_h: float = STALE_AFTER_H) -> None:
        """``roster()``: the pulled ``volunteer`` rows by person key, or None when none was ever pulled."""
        if VOLUNTEER_MIGRATIONS.pending(store.db):
            raise RuntimeError("the hall store has no volunteer table: open it with VOLUNTEER_MIGRATIONS")
        self.store = store
        self.roster = roster
        self.now = now
        self.stale_after = dt.timedelta(hours=stale_after_h)

    def standing(self, key: str) -> tuple[Standing, str]:
        """What the roster says about ``key`` and the masked name it lists ("" when not listed)."""
        rows = self.roster()
        if rows is None:
            return "no_roster", ""
        row = rows.get(key)
        if row is None:
            return "unknown", ""
        return ("active" if row.get("status") == "active" else "inactive"), str(row.get("name_masked") or "")

    def open_shift(self, key: str) -> OpenShift | None:
        """This person's open check-in here, unless it is older than the central's auto-close."""
        row = self.store.db.conn.execute(
            "SELECT person_key, name_masked, check_in_event, checked_in_at FROM volunteer_open_shifts "
            "WHERE person_key = ?", [key]).fetchone()
        if row is None:
            return None
        shift = OpenShift(row[0], row[1], row[2], _utc(row[3]))
        return None if self.now() - shift.checked_in_at > self.stale_after else shift

    def open_shifts(self) -> list[OpenShift]:
        """Every open check-in kept here (stale ones too), oldest first."""
        rows = self.store.db.conn.execute("SELECT person_key, name_masked, check_in_event, checked_in_at "
                                          "FROM volunteer_open_shifts ORDER BY checked_in_at").fetchall()
        return [OpenShift(r[0], r[1], r[2], _utc(r[3])) for r in rows]

    def check_in(self, key: str, name_masked: str) -> tuple[str, dt.datetime]:
        """Write the open check-in and its event in one action (a stale row is replaced); (event id, when)."""
        _check_key(key)
        with self.store.action() as act:
            event = act.emit("volunteer.check_in", {"person_key": key, "name_masked": name_masked, "via": "id_card"})
            act.db.conn.execute(
                "INSERT INTO volunteer_open_shifts (person_key, name_masked, check_in_event, checked_in_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (person_key) DO UPDATE SET name_masked = excluded.name_masked, "
                "check_in_event = excluded.check_in_event, checked_in_at = excluded.checked_in_at",
                [key, name_masked, event.id, event.occurred_at])
        return event.id, _utc(event.occurred_at)

    def check_out(self, key: str, name_masked: str, check_in_event: str | None,
                  cosigner: Cosigner | None) -> tuple[str, int]:
        """Close the open check-in and write ``volunteer.check_out`` in one action; (event id, minutes served)."""
        _check_key(key)
        if cosigner is not None and cosigner.kind == "person" and cosigner.key == key:
            raise ValueError("a volunteer cannot co-sign their own service")
        signer = None if cosigner is None else {"kind": cosigner.kind, "key": cosigner.key, "via": cosigner.via}
        with self.store.action() as act:
            row = act.db.conn.execute("SELECT check_in_event, checked_in_at FROM volunteer_open_shifts "
                                      "WHERE person_key = ?", [key]).fetchone()
            event = act.emit("volunteer.check_out", {
                "person_key": key, "name_masked": name_masked, "via": "id_card",
                "check_in_event": row[0] if row else check_in_event, "cosigner": signer})
            act.db.conn.execute("DELETE FROM volunteer_open_shifts WHERE person_key = ?", [key])
        minutes = 0 if row is None else int((_utc(event.occurred_at) - _utc(row[1])).total_seconds() // 60)
        return event.id, max(0, minutes)


def _check_key(key: str) -> None:
    if not PERSON_KEY.fullmatch(key):
        raise ValueError("a person key is 64 lowercase hex characters")
