"""The cinema terminal's ticket store and issue step on a real store, without devices.

The tickets table refuses a second ticket for a card or a seat given twice whatever the code does,
and a ticket is fixed once issued (its first entry is the only change).  Issuing: a priced
screening is paid once; a payment whose ticket was never written (the terminal stopped between
the two store actions) is used by the next tap without charging again; a ticket that cannot be
written after a fresh payment voids that payment; the door check refuses a QR of another terminal.
"""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest

from kiosk.canteen.journal import CANTEEN_MIGRATIONS
from kiosk.canteen.payments import CardFacts, CardPayments
from kiosk.canteen.wallet import CardLimits, Snapshot
from kiosk.cinema import events as ev
from kiosk.cinema.screenings import Screening
from kiosk.cinema.seats import SeatMap
from kiosk.cinema.terminal import CinemaServices, CinemaTerminal, TicketPrice
from kiosk.cinema.tickets import CINEMA_MIGRATIONS, CinemaTickets, TicketError
from kiosk.reference import CardEntry
from kiosk.store import Store
from kiosk.voice import Speaker

NOW = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
PAID = Screening("paid-1", "庐山恋", "Romance on Lushan Mountain", NOW + dt.timedelta(hours=5), "一楼多功能厅", 4, 500,
                 (), SeatMap(4, 2))
CARD = "F9FF43FB"


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "cinema.db", "cinema-1", extra_migrations=(CANTEEN_MIGRATIONS, CINEMA_MIGRATIONS))
    yield s
    s.close()


@pytest.fixture
def terminal(store):
    def facts(card_no: str) -> CardFacts:
        return CardFacts(CardEntry(card_no, "active", birth_year=1955), None, Snapshot(10_000, "", None, {}))

    payments = CardPayments(store, facts, CardLimits(double_tap_s=0), lambda: NOW, lambda: True)
    services = CinemaServices(payments, CinemaTickets(store), lambda at: [PAID], Speaker(False, 0),
                              terminal_id="cinema-1")
    t = CinemaTerminal(None, None, services, clock=lambda: NOW)
    yield t
    t.stop()


def test_the_table_refuses_a_second_ticket_for_a_card_a_seat_given_twice_and_any_change_but_the_first_entry(store):
    tickets = CinemaTickets(store)
    first = tickets.issue(PAID, CARD, False, 0, None, NOW)
    with pytest.raises(TicketError) as refused:
        tickets.issue(PAID, CARD, False, 0, None, NOW)
    assert refused.value.code == "already" and refused.value.ticket == first
    conn = store.db.conn
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO cinema_tickets VALUES ('X', 'paid-1', 'AA', ?, 0, 0, NULL, 'now', NULL)",
                     (first.seat,))
    with pytest.raises(sqlite3.IntegrityError, match="fixed"):
        conn.execute("UPDATE cinema_tickets SET seat = '2-2' WHERE ticket_id = ?", (first.ticket_id,))
    assert tickets.enter(first.ticket_id, NOW).first is True
    assert tickets.enter(first.ticket_id, NOW).first is False
    with pytest.raises(sqlite3.IntegrityError, match="fixed"):
        conn.execute("UPDATE cinema_tickets SET entered_at = NULL WHERE ticket_id = ?", (first.ticket_id,))
    types = [e.type for e in store.pending_events()]
    assert types == ["cinema.ticket", "cinema.entry"]


def test_a_priced_ticket_is_paid_once_and_a_second_tap_is_refused_without_a_charge(terminal, store):
    issued = terminal._issue(ev.Issue(CARD, "paid-1", 1))
    assert isinstance(issued, ev.TicketIssued) and issued.ticket["paid_fen"] == 500
    assert issued.ticket["balance_fen"] == 9500 and issued.ticket["payment_entry"]
    again = terminal._issue(ev.Issue(CARD, "paid-1", 2))
    assert isinstance(again, ev.TicketRefused) and again.code == "already"
    payments = [e for e in store.pending_events() if e.type == "card.payment"]
    assert len(payments) == 1 and payments[0].payload["screening_id"] == "paid-1"
    assert payments[0].payload["items"][0]["dish"] == "庐山恋" and payments[0].payload["paid_fen"] == 500


def test_a_payment_whose_ticket_was_never_written_is_used_by_the_next_tap(terminal, store):
    payments = terminal.services.payments
    items = [{"item_id": "screening:paid-1", "name": "庐山恋", "qty": 1, "unit_fen": 500}]
    stranded = payments.pay(CARD, items, lambda _: TicketPrice(500), extra={"screening_id": "paid-1"}).entry
    issued = terminal._issue(ev.Issue(CARD, "paid-1", 1))
    assert isinstance(issued, ev.TicketIssued) and issued.ticket["payment_entry"] == stranded.entry_id
    assert len([e for e in store.pending_events() if e.type == "card.payment"]) == 1  # not charged again


def test_a_ticket_that_cannot_be_written_after_paying_voids_the_payment(terminal, store, monkeypatch):
    def full(*args, **kwargs):
        raise TicketError("full", "filled meanwhile")

    monkeypatch.setattr(terminal.services.tickets, "issue", full)
    refused = terminal._issue(ev.Issue(CARD, "paid-1", 1))
    assert isinstance(refused, ev.TicketRefused) and refused.code == "full"
    [paid] = [e for e in store.pending_events() if e.type == "card.payment"]
    [void] = [e for e in store.pending_events() if e.type == "card.void"]
    assert void.payload["voids"] == paid.id and void.payload["refund_fen"] == 500


def test_the_door_refuses_a_qr_of_another_terminal_or_a_ticket_it_never_issued(terminal):
    issued = terminal._issue(ev.Issue(CARD, "paid-1", 1))
    qr = issued.ticket["qr"]
    assert qr.startswith("LFC1:cinema-1:paid-1:")
    assert terminal._check(ev.CheckEntry("paid-1", qr=qr.replace("cinema-1", "cinema-2"))).result == "bad_qr"
    assert terminal._check(ev.CheckEntry("paid-1", qr=qr[:-1] + "Z")).result == "bad_qr"
    assert terminal._check(ev.CheckEntry("paid-1", qr=qr)).result == "ok"
    assert terminal._check(ev.CheckEntry("paid-1", card_no=CARD)).result == "again"
