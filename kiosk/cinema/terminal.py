"""The cinema terminal at work: the card reader and the screen feed the cinema flow, its effects are carried out.

One role on the shared runtime (:class:`~kiosk.runtime.resident_terminal.ResidentTerminal`): the
community-card reader's loop turns an authenticated tap into :class:`CardPresented` and a clone or
a pulled card into :class:`CardFailed`.  Issuing a ticket (:meth:`CinemaTerminal._issue`, on the
runtime's checked worker pool):

1. the screening must still be open; the card must be one the central lists as usable (lost,
   blocked, cancelled, deny-listed and unknown cards are refused, as at the canteen);
2. the card must not hold a ticket for this screening already (refused, its seat said);
3. a priced screening (``price_fen`` > 0, the holder in none of its ``free_groups``) is a card
   payment through :meth:`kiosk.canteen.payments.CardPayments.pay` — balance, offline limits,
   the card journal and its ``card.payment`` outbox event in one store action — and then the
   ticket is written with its ``cinema.ticket`` event in a second action that names the payment.
   A payment for this card and screening without a ticket (the terminal stopped between the two
   actions) is found on the next tap and the ticket issued without charging again; a ticket that
   cannot be written after a fresh payment (the hall filled meanwhile) voids that payment.

The ticket prints with a QR (:mod:`kiosk.cinema.printing`); the door check takes the QR or the
card.  Screens and speech leave through callbacks; nothing here imports Qt.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from drivers.errors import DriverError
from kiosk.canteen.payments import CardPayments, PaymentError, card_refusal
from kiosk.canteen.terminal import refusal_params
from kiosk.cinema import events as ev
from kiosk.cinema.flow import CinemaFlow, CinemaSettings, price_words
from kiosk.cinema.printing import PaperTicket, parse_ticket_qr, print_film_ticket, ticket_qr_payload
from kiosk.cinema.screenings import Screening
from kiosk.cinema.seats import needs_aisle, seat_words
from kiosk.cinema.tickets import CinemaTickets, Ticket, TicketError
from kiosk.runtime.resident_terminal import ResidentTerminal

log = logging.getLogger(__name__)

WEEKDAYS_ZH = "一二三四五六日"
LISTING_CHECK_S = 2.0  # how often the idle screen's screenings are compared with what is on
VOID_STAFF = "cinema-terminal"  # who voids a payment whose ticket could not be written


@dataclass(frozen=True)
class TicketPrice:
    """A film ticket's price as :meth:`CardPayments.pay` takes it (no discount, no subsidy)."""

    gross_fen: int
    discount_fen: int = 0
    subsidy_fen: int = 0

    @property
    def paid_fen(self) -> int:
        """What the card pays."""
        return self.gross_fen - self.discount_fen - self.subsidy_fen


@dataclass
class CinemaServices:
    """What the cinema's effects need besides the devices."""

    payments: CardPayments
    tickets: CinemaTickets
    screenings: Callable[[dt.datetime], list[Screening]]  # open for tickets now, by start time
    speaker: Any
    language: Callable[[], str] = lambda: "zh"
    health: Any = None
    title: str = "临汾路街道党群服务中心 社区电影"
    terminal_id: str = "cinema"


def when_words(starts_at: dt.datetime, today: dt.date) -> dict[str, str]:
    """``今天 14:00`` / ``today 14:00``; ``明天``; else ``12月5日 周六 14:00`` / ``Sat 5 Dec 14:00``."""
    day, clock = starts_at.date(), f"{starts_at:%H:%M}"
    if day == today:
        return {"when_zh": f"今天 {clock}", "when_en": f"today {clock}"}
    if day == today + dt.timedelta(days=1):
        return {"when_zh": f"明天 {clock}", "when_en": f"tomorrow {clock}"}
    return {"when_zh": f"{day.month}月{day.day}日 周{WEEKDAYS_ZH[day.weekday()]} {clock}",
            "when_en": f"{day:%a} {day.day} {day:%b} {clock}"}


class CinemaTerminal(ResidentTerminal):
    """Issues film tickets on the community card, or checks them at the door."""

    @property  # type: ignore[override]
    def idle_prompt(self) -> str:
        """What "再听一遍" says when nothing was said yet: the screenings' prompt, or the door's."""
        return "cinema_entry" if self.flow.door is not None else "cinema_choose"

    def __init__(self, reader: Any, printer: Any, services: CinemaServices, settings: CinemaSettings | None = None,
                 on_show: Callable[[ev.Show], None] = lambda s: None,
                 on_say: Callable[[str, dict[str, Any]], None] = lambda k, p: None,
                 on_alert: Callable[[ev.Alert], None] = lambda a: None,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        """``reader``: the community-card driver (authenticating); ``printer``: tickets."""
        self.reader = reader
        self.printer = printer
        self.services = services
        self.clock = clock or (lambda: dt.datetime.now().astimezone())
        super().__init__("cinema", CinemaFlow(settings), services.speaker, services.language, services.health,
                         on_show, on_say, on_alert)
        self.flow: CinemaFlow = self.flow
        self.tickets_issued = 0
        self._listed: list[dict[str, Any]] | None = None  # the screenings the idle screen shows now
        rt = self.runtime
        rt.on_io(ev.Issue, self._issue)
        rt.on_io(ev.PrintTicket, self._print)
        rt.on_io(ev.CheckEntry, self._check)

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> CinemaTerminal:
        """Start the runtime with today's screenings on screen, and the card reader's loop."""
        self.runtime.start([self._with_listing(self.flow.idle_screen())])
        self.start_community_card_loop(self.reader)
        self.runtime.spawn(self._watch_listing, "listing")
        return self

    def stop(self) -> None:
        """Stop every thread (the drivers are closed by their owner)."""
        self.runtime.stop()

    # -- what is on -------------------------------------------------------------------------
    def listing(self) -> list[dict[str, Any]]:
        """Every screening open for tickets (this week), with seats left and when in words, by start time."""
        now = self.clock()
        counts = self.services.tickets.counts()
        return [s.as_item(s.seats - counts.get(s.screening_id, 0)) | when_words(s.starts_at, now.date())
                for s in self.services.screenings(now)]

    def today(self) -> list[dict[str, Any]]:
        """Today's screenings open for tickets (the idle screen's buttons)."""
        day = self.clock().date().isoformat()
        return [item for item in self.listing() if item["day"] == day]

    def _watch_listing(self) -> None:
        """Redraw the idle screen when today's screenings or their seats left change (a pull, the day turning)."""
        while not self.runtime.stopping.wait(LISTING_CHECK_S):
            try:
                changed = self.today() != self._listed
            except Exception:  # a store being closed, a bad row: looked at again next time
                log.exception("reading the screenings")
                continue
            if changed:
                self.submit(ev.ListingChanged())

    def _with_listing(self, show: ev.Show) -> ev.Show:
        if show.screen != "screenings":
            return show
        self._listed = self.today()
        return ev.Show(show.screen, {**show.data, "screenings": self._listed})

    def _show(self, e: ev.Show) -> None:
        super()._show(self._with_listing(e))  # the flow does not know what is on: add it

    # -- inputs from the screen and the door --------------------------------------------------
    def ui(self, command: str) -> None:
        """A button: ``screening:<id>``, ``reprint``, ``dismiss``, ``extend``, ``help``, ``repeat``; staff:
        ``entry:<screening id>`` (door check on) and ``entry_off``; others ignored."""
        if command == "repeat":
            self.repeat()
            return
        kind, _, arg = command.partition(":")
        if kind in ("screening", "entry") and arg:
            listing = self.listing()
            item = next((i for i in listing if i["screening_id"] == arg), None)
            if item is not None:
                self.submit(ev.ScreeningChosen(item, tuple(listing)) if kind == "screening" else ev.EntryMode(item))
            return
        if command == "entry_off":
            self.submit(ev.EntryMode(None))
            return
        event = self.common_ui_event(command) or {"reprint": ev.ReprintWanted(), "dismiss": ev.Dismissed()}.get(command)
        if event is not None:
            self.submit(event)

    def scan(self, text: str) -> None:
        """A ticket QR scanned at the door (a keyboard-wedge scanner's line); checked in entry mode only."""
        self.submit(ev.QrScanned(str(text)[:1000]))

    # -- issuing ----------------------------------------------------------------------------
    def _screening(self, screening_id: str) -> Screening | None:
        return next((s for s in self.services.screenings(self.clock()) if s.screening_id == screening_id), None)

    def _issue(self, e: ev.Issue) -> ev.TicketIssued | ev.TicketRefused:
        s = self.services
        screening = self._screening(e.screening_id)
        if screening is None:
            return ev.TicketRefused("closed", tap=e.tap)
        facts = s.payments.facts(e.card_no)
        refused = card_refusal(facts)
        if refused is not None:
            return ev.TicketRefused(refused, tap=e.tap)
        have = s.tickets.for_card(screening.screening_id, e.card_no)
        if have is not None:
            return ev.TicketRefused("already", {"ticket": self._ticket_data(have)}, tap=e.tap)
        if len(s.tickets.taken(screening.screening_id)) >= screening.seats:
            return ev.TicketRefused("full", upcoming=tuple(self.listing()), tap=e.tap)
        card = facts.card
        groups = tuple(getattr(card, "groups", ()) or ())
        aisle_first = needs_aisle(getattr(card, "birth_year", None), groups, self.clock().year)
        price = screening.price_for(groups)
        payment: dict[str, Any] = {"entry_id": None, "balance_fen": None, "low_balance": False, "fresh": False}
        if price > 0:
            paid = self._pay(e, screening, price)
            if isinstance(paid, ev.TicketRefused):
                return paid
            payment = paid
        try:
            ticket = s.tickets.issue(screening, e.card_no, aisle_first, price, payment["entry_id"], self.clock())
        except TicketError as exc:
            if payment["fresh"]:
                s.payments.void(payment["entry_id"], f"no ticket written: {exc.code}", VOID_STAFF)
            if exc.code == "already" and exc.ticket is not None:
                return ev.TicketRefused("already", {"ticket": self._ticket_data(exc.ticket)}, tap=e.tap)
            return ev.TicketRefused(exc.code, upcoming=tuple(self.listing()), tap=e.tap)
        self.tickets_issued += 1
        return ev.TicketIssued({**self._ticket_data(ticket), "aisle_needed": aisle_first, "paid_fen": price,
                                "balance_fen": payment["balance_fen"], "low_balance": payment["low_balance"]}, e.tap)

    def _pay(self, e: ev.Issue, screening: Screening, price: int) -> dict[str, Any] | ev.TicketRefused:
        """Take the ticket's price from the card (or find the payment a ticket was never written for)."""
        payments = self.services.payments
        with payments.store.action():
            entries = payments.journal.for_card(e.card_no)
            voided = payments.journal.voided_ids(x.entry_id for x in entries if x.type == "payment")
        for entry in entries:
            if (entry.type == "payment" and entry.payload.get("screening_id") == screening.screening_id
                    and entry.entry_id not in voided and self.services.tickets.for_payment(entry.entry_id) is None):
                standing = payments.standing(e.card_no)
                return {"entry_id": entry.entry_id, "balance_fen": standing.balance_fen, "low_balance": False,
                        "fresh": False}
        items = [{"item_id": f"screening:{screening.screening_id}", "name": screening.title, "qty": 1,
                  "unit_fen": price}]
        try:
            result = payments.pay(e.card_no, items, lambda _subsidy_used: TicketPrice(price),
                                  extra={"screening_id": screening.screening_id, "kind": "film_ticket"})
        except PaymentError as exc:
            return ev.TicketRefused(exc.code, tap=e.tap)
        if result.status == "refused":
            refusal = result.refusal
            assert refusal is not None
            return ev.TicketRefused(refusal.code, refusal_params(refusal.code, refusal.needed_fen, refusal.limit_fen),
                                    tap=e.tap)
        assert result.entry is not None
        return {"entry_id": result.entry.entry_id, "balance_fen": result.balance_after_fen,
                "low_balance": result.low_balance, "fresh": result.status == "paid"}

    def _ticket_data(self, ticket: Ticket) -> dict[str, Any]:
        return {**asdict(ticket), "seat_zh": seat_words(ticket.seat, "zh"), "seat_en": seat_words(ticket.seat, "en"),
                "qr": ticket_qr_payload(self.services.terminal_id, ticket.screening_id, ticket.ticket_id)}

    # -- printing -----------------------------------------------------------------------------
    def paper_ticket(self, ticket: Ticket) -> PaperTicket:
        """What the printed ticket says (its screening from what is on; the ids alone when it is gone)."""
        screening = self._screening(ticket.screening_id)
        if screening is None:
            film, when, hall, price = ticket.screening_id, "", "", "免费" if ticket.price_fen == 0 else ""
        else:
            film, hall = screening.title, screening.hall
            when = when_words(screening.starts_at, dt.date.min)["when_zh"]
            price = price_words({"price_fen": ticket.price_fen})["price_zh"]
        return PaperTicket(self.services.title, film, when, hall, seat_words(ticket.seat, "zh"), price,
                           ticket_qr_payload(self.services.terminal_id, ticket.screening_id, ticket.ticket_id))

    def _print(self, e: ev.PrintTicket) -> ev.PrintDone:
        if self.printer is None:
            return ev.PrintDone(False, "no printer")
        ticket = self.services.tickets.get(e.ticket_id)
        if ticket is None:
            return ev.PrintDone(False, f"no ticket {e.ticket_id}")
        try:
            print_film_ticket(self.printer, self.paper_ticket(ticket), e.reprint)
        except DriverError as exc:
            return ev.PrintDone(False, str(exc))
        return ev.PrintDone(True)

    # -- the door -------------------------------------------------------------------------------
    def _check(self, e: ev.CheckEntry) -> ev.EntryChecked:
        tickets = self.services.tickets
        if e.qr is not None:
            parsed = parse_ticket_qr(e.qr)
            if parsed is None or parsed[0] != self.services.terminal_id:
                return ev.EntryChecked("bad_qr", tap=e.tap)
            ticket = tickets.get(parsed[2])
            if ticket is None or ticket.screening_id != parsed[1]:
                return ev.EntryChecked("bad_qr", tap=e.tap)
        else:
            ticket = tickets.for_card(e.screening_id, e.card_no or "")
            if ticket is None:
                return ev.EntryChecked("no_ticket", tap=e.tap)
        if ticket.screening_id != e.screening_id:
            other = self._screening(ticket.screening_id)
            words = (when_words(other.starts_at, self.clock().date()) | {"other_zh": f"《{other.title}》",
                                                                          "other_en": other.title_en}
                     if other else {"when_zh": "", "when_en": "", "other_zh": "另一场", "other_en": "another screening"})
            return ev.EntryChecked("wrong_screening", {"ticket_id": ticket.ticket_id, **words}, tap=e.tap)
        entry = tickets.enter(ticket.ticket_id, self.clock())
        params = {"ticket_id": ticket.ticket_id, "seat": ticket.seat}
        if entry.first:
            return ev.EntryChecked("ok", params, tap=e.tap)
        at = dt.datetime.fromisoformat(str(entry.ticket.entered_at)).astimezone(self.clock().tzinfo)
        return ev.EntryChecked("again", {**params, "entered": f"{at:%H:%M}"}, tap=e.tap)

    def raise_alert(self, alert: ev.Alert) -> None:
        """Staff alerts go to the central (as ``alert.raised`` events, no names) and to ``on_alert``."""
        self.alert_to_central(self.services.tickets.store, self.services.terminal_id, alert)
