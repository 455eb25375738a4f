"""The volunteer desk's effects on a terminal's runtime: roster look-up and the store's check-in and check-out."""

from __future__ import annotations

from typing import Any

from kiosk.hall.volunteer.events import (
    CheckedIn,
    CheckedOut,
    FindVolunteer,
    RecordCheckIn,
    RecordCheckOut,
    VolunteerFound,
)
from kiosk.hall.volunteer.shifts import VolunteerShifts, local_hhmm


def find_volunteer(shifts: VolunteerShifts, e: FindVolunteer) -> VolunteerFound:
    """The person's standing on the pulled roster and their open check-in here."""
    standing, listed_name = shifts.standing(e.key)
    shift = shifts.open_shift(e.key) if standing in ("active", "no_roster") else None
    return VolunteerFound(e.tap, e.key, standing, listed_name or e.name_masked,
                          shift.check_in_event if shift else None,
                          local_hhmm(shift.checked_in_at) if shift else None)


def record_check_in(shifts: VolunteerShifts, e: RecordCheckIn) -> CheckedIn:
    """The check-in row and its event, one transaction."""
    event_id, at = shifts.check_in(e.key, e.name_masked)
    return CheckedIn(e.tap, event_id, local_hhmm(at))


def record_check_out(shifts: VolunteerShifts, e: RecordCheckOut) -> CheckedOut:
    """The check-out event with its co-signer, the open row closed, one transaction."""
    event_id, minutes = shifts.check_out(e.key, e.name_masked, e.check_in_event, e.cosigner)
    return CheckedOut(e.tap, event_id, minutes, e.cosigner is not None)


def register_volunteer_effects(runtime: Any, shifts: VolunteerShifts | None) -> None:
    """Carry the volunteer flow's store effects out on ``runtime``'s worker pool.

    Without ``shifts`` (a hall opened without the volunteer table) nothing is registered: the
    runtime turns each such effect into a failure, and the flow says "please ask staff".
    """
    if shifts is None:
        return
    runtime.on_io(FindVolunteer, lambda e: find_volunteer(shifts, e))
    runtime.on_io(RecordCheckIn, lambda e: record_check_in(shifts, e))
    runtime.on_io(RecordCheckOut, lambda e: record_check_out(shifts, e))
