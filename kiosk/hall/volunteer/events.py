"""Events that feed the volunteer flow and the effects it asks for: plain data, no I/O.

A card read reaches the flow as :class:`PersonTapped` (the person key, never the raw ID number) or
:class:`CardTapped` (a community card and, when the pulled card list names one, its holder's key).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: What the roster says about a person: an active volunteer, one whose registration is not active,
#: someone not on the roster, or no roster pulled yet (offline from day one).
Standing = Literal["active", "inactive", "unknown", "no_roster"]


# -- events -------------------------------------------------------------------------------
@dataclass(frozen=True)
class VolunteerStart:
    """The resident pressed "志愿者签到签退" on the idle screen; ``reader_up``: the ID card reader works now."""

    reader_up: bool = True


@dataclass(frozen=True)
class ReaderState:
    """The ID card reader went down (unplugged, not answering) or came back."""

    up: bool


@dataclass(frozen=True)
class SkipCosign:
    """The volunteer pressed "没有服务对象 / 跳过" on the co-sign screen."""


@dataclass(frozen=True)
class PersonTapped:
    """An ID card (or social-security card) was read: its holder's person key and masked name."""

    key: str
    name_masked: str
    source: str  # idcard | sscard


@dataclass(frozen=True)
class CardTapped:
    """A community card was read: its number and, when the card list names one, its holder's person key."""

    card_no: str
    holder_key: str | None = None


@dataclass(frozen=True)
class TapFailed:
    """A card was on a reader and could not be read (pulled away, bad frame, failed authentication)."""

    reason: str  # read_failed | not_genuine


@dataclass(frozen=True)
class VolunteerFound:
    """The roster and the open check-ins answered for one tap (``tap``: the flow's tap number)."""

    tap: int
    key: str
    standing: Standing
    name_masked: str
    open_event: str | None = None  # the check-in event id of this person's open check-in here
    open_since: str | None = None  # its UTC time (ISO 8601)


@dataclass(frozen=True)
class CheckedIn:
    """The check-in was written (row and outbox event in one transaction)."""

    tap: int
    event_id: str
    at_local: str  # "09:02", the hall's local time


@dataclass(frozen=True)
class CheckedOut:
    """The check-out was written; ``minutes``: the shift's length as the kiosk saw it."""

    tap: int
    event_id: str
    minutes: int
    cosigned: bool


# -- effects ------------------------------------------------------------------------------
@dataclass(frozen=True)
class FindVolunteer:
    """Look the person up on the pulled roster and in this kiosk's open check-ins."""

    tap: int
    key: str
    name_masked: str


@dataclass(frozen=True)
class RecordCheckIn:
    """Write the open check-in and its ``volunteer.check_in`` event in one store transaction."""

    tap: int
    key: str
    name_masked: str


@dataclass(frozen=True)
class Cosigner:
    """Who confirmed the service: a person (ID card) or a community card."""

    kind: Literal["person", "card"]
    key: str  # person key, or the card number
    via: Literal["id_card", "community_card"]


@dataclass(frozen=True)
class RecordCheckOut:
    """Close the open check-in and write its ``volunteer.check_out`` event in one store transaction."""

    tap: int
    key: str
    name_masked: str
    check_in_event: str | None
    cosigner: Cosigner | None
