"""Film tickets in the terminal's store: one per card per screening, one per seat, entry checked once.

``cinema_tickets`` (through the store's migrations, :data:`CINEMA_MIGRATIONS`) is unique on
``(screening_id, card_no)`` and on ``(screening_id, seat)``, so neither a second ticket for a card nor
a seat given twice can be committed, whatever the code above does.  Issuing a ticket is one store
action: the checks, the seat (:func:`kiosk.cinema.seats.assign_seat`), the row and its
``cinema.ticket`` outbox event (docs/community-card.md §3) commit together or not at all.  An entry
check sets ``entered_at`` once with its ``cinema.entry`` event; a trigger refuses any other change
to a ticket (a correction would be a new event).  ``payment_entry`` names the card journal's
payment of a priced ticket.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlite_utils.migrations import Migrations

from kiosk.errors import KioskError
from kiosk.store import Store

from .screenings import Screening
from .seats import assign_seat

CINEMA_MIGRATIONS = Migrations("linfen_cinema")


@CINEMA_MIGRATIONS()
def m001_cinema_tickets(db: Any) -> None:
    """Create ``cinema_tickets`` with its two unique rules and its immutability trigger."""
    db.execute(
        """
        CREATE TABLE cinema_tickets (
            ticket_id     TEXT    NOT NULL PRIMARY KEY,
            screening_id  TEXT    NOT NULL,
            card_no       TEXT    NOT NULL,
            seat          TEXT    NOT NULL,
            aisle         INTEGER NOT NULL CHECK (aisle IN (0, 1)),
            price_fen     INTEGER NOT NULL CHECK (price_fen >= 0),
            payment_entry TEXT    NULL,
            issued_at     TEXT    NOT NULL,
            entered_at    TEXT    NULL,
            UNIQUE (screening_id, card_no),
            UNIQUE (screening_id, seat)
        )
        """
    )
    db.execute(
        """
        CREATE TRIGGER cinema_tickets_fixed BEFORE UPDATE ON cinema_tickets
        WHEN OLD.entered_at IS NOT NULL
          OR NEW.ticket_id IS NOT OLD.ticket_id OR NEW.screening_id IS NOT OLD.screening_id
          OR NEW.card_no IS NOT OLD.card_no OR NEW.seat IS NOT OLD.seat OR NEW.aisle IS NOT OLD.aisle
          OR NEW.price_fen IS NOT OLD.price_fen OR NEW.payment_entry IS NOT OLD.payment_entry
          OR NEW.issued_at IS NOT OLD.issued_at
        BEGIN SELECT RAISE(ABORT, 'a ticket is fixed once issued; only its first entry is recorded'); END
        """
    )


class TicketError(KioskError):
    """No ticket: ``code`` is ``already`` (this card has one: ``ticket``), ``full`` or ``unknown``."""

    def __init__(self, code: str, message: str, ticket: Ticket | None = None) -> None:
        """``code`` for the flow; ``ticket``: the card's ticket when it already has one."""
        super().__init__(message)
        self.code = code
        self.ticket = ticket


@dataclass(frozen=True)
class Ticket:
    """One issued film ticket."""

    ticket_id: str
    screening_id: str
    card_no: str
    seat: str
    aisle: bool
    price_fen: int
    payment_entry: str | None
    issued_at: str
    entered_at: str | None = None


@dataclass(frozen=True)
class Entry:
    """The result of an entry check: the ticket, and whether this check let it in (False: it was in before)."""

    ticket: Ticket
    first: bool


_COLUMNS = "ticket_id, screening_id, card_no, seat, aisle, price_fen, payment_entry, issued_at, entered_at"


def _ticket(row: tuple[Any, ...]) -> Ticket:
    tid, sid, card, seat, aisle, price, entry, issued, entered = row
    return Ticket(tid, sid, card, seat, bool(aisle), int(price), entry, issued, entered)


def _stamp(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="milliseconds")


class CinemaTickets:
    """The tickets of one cinema terminal (its store opened with ``CINEMA_MIGRATIONS``)."""

    def __init__(self, store: Store) -> None:
        """Use ``store``; KioskError when its schema lacks the tickets table."""
        if CINEMA_MIGRATIONS.pending(store.db):
            raise KioskError("the store has no cinema tickets: open it with extra_migrations=[CINEMA_MIGRATIONS]")
        self.store = store

    def _one(self, where: str, params: tuple[Any, ...]) -> Ticket | None:
        row = self.store.db.conn.execute(f"SELECT {_COLUMNS} FROM cinema_tickets WHERE {where}", params).fetchone()
        return None if row is None else _ticket(row)

    def get(self, ticket_id: str) -> Ticket | None:
        """The ticket with this id, or None."""
        return self._one("ticket_id = ?", (ticket_id,))

    def for_card(self, screening_id: str, card_no: str) -> Ticket | None:
        """This card's ticket for the screening, or None."""
        return self._one("screening_id = ? AND card_no = ?", (screening_id, card_no))

    def for_payment(self, entry_id: str) -> Ticket | None:
        """The ticket a card payment bought, or None."""
        return self._one("payment_entry = ?", (entry_id,))

    def taken(self, screening_id: str) -> set[str]:
        """The seats already given for the screening."""
        rows = self.store.db.conn.execute("SELECT seat FROM cinema_tickets WHERE screening_id = ?", (screening_id,))
        return {r[0] for r in rows}

    def counts(self) -> dict[str, int]:
        """Tickets issued per screening."""
        rows = self.store.db.conn.execute("SELECT screening_id, COUNT(*) FROM cinema_tickets GROUP BY screening_id")
        return {r[0]: int(r[1]) for r in rows}

    def issue(self, screening: Screening, card_no: str, aisle_first: bool, price_fen: int,
              payment_entry: str | None, now: dt.datetime) -> Ticket:
        """Give the card a seat and write the ticket with its ``cinema.ticket`` event, in one store action.

        TicketError ``already`` (with the card's ticket) or ``full``; nothing is written then.
        """
        with self.store.action() as act:
            have = self.for_card(screening.screening_id, card_no)
            if have is not None:
                raise TicketError("already", f"card {card_no} already has ticket {have.ticket_id}", have)
            seat = assign_seat(screening.seat_map, self.taken(screening.screening_id), aisle_first)
            if seat is None:
                raise TicketError("full", f"screening {screening.screening_id} is full")
            ticket = Ticket(secrets.token_hex(6).upper(), screening.screening_id, card_no, seat,
                            seat in screening.seat_map.aisle_seats, price_fen, payment_entry, _stamp(now))
            act.db.conn.execute(
                f"INSERT INTO cinema_tickets ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)",
                (ticket.ticket_id, ticket.screening_id, card_no, seat, int(ticket.aisle), price_fen, payment_entry,
                 ticket.issued_at))
            act.emit("cinema.ticket", {"ticket_id": ticket.ticket_id, "screening_id": ticket.screening_id,
                                       "card_no": card_no, "seat": seat, "price_fen": price_fen,
                                       **({"payment_entry": payment_entry} if payment_entry else {})})
        return ticket

    def enter(self, ticket_id: str, now: dt.datetime) -> Entry:
        """Let a ticket in once: the first check records ``entered_at`` and ``cinema.entry``; later ones do not.

        TicketError ``unknown`` when this terminal issued no such ticket.
        """
        with self.store.action() as act:
            ticket = self.get(ticket_id)
            if ticket is None:
                raise TicketError("unknown", f"no ticket {ticket_id} at this terminal")
            if ticket.entered_at is not None:
                return Entry(ticket, False)
            stamp = _stamp(now)
            act.db.conn.execute("UPDATE cinema_tickets SET entered_at = ? WHERE ticket_id = ? AND entered_at IS NULL",
                                (stamp, ticket_id))
            act.emit("cinema.entry", {"ticket_id": ticket_id, "screening_id": ticket.screening_id, "at": stamp})
        return Entry(Ticket(**{**ticket.__dict__, "entered_at": stamp}), True)
