"""Events that feed the cinema flow and the effects it asks for: plain data, no I/O.

The card tap events are the canteen's (:class:`CardPresented`, :class:`CardFailed`: one community
card reader, the same taps); the screen's shared events and effects (Show, Say, Alert, MoreTime,
HelpRequested, Dismissed) come from :mod:`kiosk.runtime.screens`, as for every role.  A screening
travels as the dict of :meth:`kiosk.cinema.screenings.Screening.as_item` plus ``when_zh`` /
``when_en`` ("今天 14:00"), which the terminal adds because only it knows today.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiosk.runtime.events import CardFailed, CardPresented, Failed, Tick
from kiosk.runtime.screens import Alert, Dismissed, HelpRequested, MoreTime, Say, Show

Item = dict[str, Any]  # a screening as plain data


# -- events -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScreeningChosen:
    """The resident tapped a screening's button; ``upcoming``: every screening open for tickets, by time."""

    item: Item
    upcoming: tuple[Item, ...] = ()


@dataclass(frozen=True)
class TicketIssued:
    """A ticket was written (and paid, when priced): ``ticket`` holds the seat, price, balance and ids."""

    ticket: dict[str, Any]
    tap: int = 0


@dataclass(frozen=True)
class TicketRefused:
    """No ticket: ``code`` says why (``already``, ``full``, a card or amount refusal), ``params`` what to say."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)
    upcoming: tuple[Item, ...] = ()
    tap: int = 0


@dataclass(frozen=True)
class ListingChanged:
    """What is on changed (a pull brought screenings, seats were taken, the day turned): redraw the idle screen."""


@dataclass(frozen=True)
class ReprintWanted:
    """The resident pressed "补打这张票" on the "already have a ticket" screen."""


@dataclass(frozen=True)
class PrintDone:
    """The printer took the ticket, or could not."""

    ok: bool
    reason: str = ""


@dataclass(frozen=True)
class EntryMode:
    """Staff turned the door check on for ``screening`` (None: back to issuing tickets)."""

    screening: Item | None


@dataclass(frozen=True)
class QrScanned:
    """A ticket's QR was scanned at the door (the text as the scanner sent it; untrusted)."""

    text: str


@dataclass(frozen=True)
class EntryChecked:
    """The door check's answer: ``result`` ``ok``, ``again``, ``no_ticket``, ``wrong_screening`` or ``bad_qr``."""

    result: str
    params: dict[str, Any] = field(default_factory=dict)
    tap: int = 0


Event = (CardPresented | CardFailed | ScreeningChosen | TicketIssued | TicketRefused | ListingChanged | ReprintWanted
         | PrintDone
         | EntryMode | QrScanned | EntryChecked | MoreTime | HelpRequested | Dismissed | Tick | Failed)


# -- effects ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Issue:
    """Give ``card_no`` a ticket for the screening: checks, payment when priced, seat and ticket."""

    card_no: str
    screening_id: str
    tap: int


@dataclass(frozen=True)
class PrintTicket:
    """Print a ticket with its QR (``reprint``: the same ticket again)."""

    ticket_id: str
    reprint: bool = False


@dataclass(frozen=True)
class CheckEntry:
    """Check a ticket at the door, found by the card (``card_no``) or the scanned QR (``qr``)."""

    screening_id: str
    card_no: str | None = None
    qr: str | None = None
    tap: int = 0


Effect = Show | Say | Alert | Issue | PrintTicket | CheckEntry

__all__ = [
    "Alert", "CardFailed", "CardPresented", "CheckEntry", "Dismissed", "Effect", "EntryChecked", "EntryMode", "Event",
    "Failed", "HelpRequested", "Issue", "Item", "ListingChanged", "MoreTime", "PrintDone", "PrintTicket", "QrScanned", "ReprintWanted",
    "Say", "ScreeningChosen", "Show", "Tick", "TicketIssued", "TicketRefused",
]
