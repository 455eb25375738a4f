"""The code status the hall decides on, whichever way it was found (token, city lookup or fallback).

A status may carry the resident's ID number (from a token's ``sub`` claim or the card that
was looked up): it is kept in memory only, to compute :meth:`CodeStatus.person_key`, and
is left out of ``repr`` so it never reaches a log line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from kiosk.priority import person_key

Colour = Literal["green", "yellow", "red"]
COLOURS: tuple[str, ...] = ("green", "yellow", "red")
StatusSource = Literal["token", "lookup", "fallback"]
Fallback = Literal["staff_check", "refuse", "allow"]
FALLBACKS: tuple[str, ...] = ("staff_check", "refuse", "allow")
# Why the fallback was used: the city service refused the connection, did not answer in time,
# answered 5xx, answered something that is not a code status, or does not know the person.
FallbackReason = Literal["unreachable", "timeout", "server_error", "bad_answer", "not_found"]


@dataclass(frozen=True)
class CodeStatus:
    """A resident's code colour and where it came from.

    ``colour`` is None only for ``source="fallback"``: the status is unknown and ``fallback``
    says what the terminal was configured to do (``staff_check``: a ticket flagged for staff;
    ``refuse``: no ticket; ``allow``: a normal ticket), ``fallback_reason`` why.
    ``issued_at``/``expires_at`` are Unix seconds (a token's ``iat``/``exp``; for a lookup,
    the service's ``as_of`` and the end of the cache's freshness window).
    """

    colour: Colour | None
    source: StatusSource
    person_id_number: str | None = field(default=None, repr=False, compare=False)
    issued_at: float | None = None
    expires_at: float | None = None
    fallback: Fallback | None = None
    fallback_reason: FallbackReason | None = None
    issuer: str | None = None

    @property
    def staff_check(self) -> bool:
        """True when the ticket must be flagged for staff to check the code."""
        return self.source == "fallback" and self.fallback == "staff_check"

    def person_key(self, key: bytes) -> str | None:
        """The keyed hash of the carried ID number (None when there is none)."""
        return None if self.person_id_number is None else person_key(self.person_id_number, key)
