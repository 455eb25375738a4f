"""The cinema terminal's state machine: ``handle(event) -> effects``, no I/O, no clock of its own.

Issuing tickets:

* **idle** ("screenings"): today's screenings as big buttons — title, time, hall, seats left, the
  price or 免费; the resident taps one (:class:`ScreeningChosen`);
* **present**: the screening, its price and "请刷一卡通"; a tap of an authenticated card starts
  :class:`Issue` (checks, payment from the card when priced, seat, ticket — off the loop thread);
* **ticket**: title, time, hall and the seat large, what was paid (or 免费) and the balance, all
  spoken, with "we gave you an aisle seat" for an 80+ or disabled resident; the ticket prints with
  its QR.  Another card tapped here takes a ticket for the same screening (a companion);
* **full**: the screening is full, said so, and the next screening with seats is offered (the
  same film first) with a button to choose it;
* **refused**: why, in words and voice.  A second ticket for the same card and screening is
  refused and the seat of the ticket the card already holds is said; "补打这张票" prints that
  same ticket again (same QR, so still one entry), never a second ticket.

Door check (**entry**, turned on by staff for one screening): a card tap or a scanned ticket QR
is checked (:class:`CheckEntry`); the answer (**entry_result**) says "请入场" with the seat, or
why not (a ticket already used says when), for a few seconds, then the door screen is back.

Every resident screen has a deadline, warns 10 s before it goes and can be extended
(:class:`~kiosk.runtime.screens.ScreenClock`); an issue that does not answer in time ends on a
spoken "please ask staff" screen with an alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiosk.canteen.flow import yuan
from kiosk.runtime.screens import CardTapFlow

from .events import (
    Alert,
    CardFailed,
    CardPresented,
    CheckEntry,
    Dismissed,
    Effect,
    EntryChecked,
    EntryMode,
    Event,
    Failed,
    HelpRequested,
    Issue,
    Item,
    ListingChanged,
    MoreTime,
    PrintDone,
    PrintTicket,
    QrScanned,
    ReprintWanted,
    Say,
    ScreeningChosen,
    Show,
    Tick,
    TicketIssued,
    TicketRefused,
)
from .seats import seat_words

RESIDENT_SCREENS = frozenset({"present", "ticket", "full", "refused", "error"})
STATES = ("idle", "present", "issuing", "ticket", "full", "refused", "error", "entry", "checking", "entry_result")
#: Refusals of the card itself (the others are about the amount, the screening or the card's ticket).
CARD_CODES = ("unknown_card", "lost", "blocked", "cancelled", "denied", "not_genuine", "read_failed")
AMOUNT_CODES = ("insufficient", "over_tap_limit", "over_day_limit", "too_many_offline", "no_balance")
OTHER_CODES = ("already", "closed")
ENTRY_RESULTS = ("ok", "again", "no_ticket", "wrong_screening", "bad_qr", "not_genuine", "read_failed")
#: Group names as said on screen and aloud (common.priority_groups).
GROUP_WORDS = {"special_care": ("特殊照护对象", "special care"), "disabled": ("残疾人", "disabled"),
               "veteran": ("优抚对象", "veterans")}


@dataclass(frozen=True)
class CinemaSettings:
    """Timeouts of the cinema flow, in seconds."""

    idle_timeout_s: float = 60.0  # a chosen screening waits this long for the card
    issuing_timeout_s: float = 8.0  # the ticket (payment and store write) must answer within this
    ticket_screen_s: float = 30.0  # the ticket screen (its words take ~10 s to say)
    refused_screen_s: float = 30.0  # a refusal, a full screening or an error stays this long
    entry_result_s: float = 6.0  # the door check's answer, then the next person
    warning_s: float = 10.0  # a resident screen warns aloud this long before it goes


def price_words(item: Item) -> dict[str, str]:
    """What a screening costs in words: ``免费`` / ``5 元``, with who goes free (``price_zh``, ``price_en``)."""
    fen = int(item.get("price_fen") or 0)
    if fen == 0:
        return {"price_zh": "免费", "price_en": "free"}
    groups = [GROUP_WORDS.get(g, (g, g)) for g in item.get("free_groups") or []]
    zh, en = f"{yuan(fen)} 元", f"{yuan(fen)} yuan"
    if groups:
        zh += f"（{'、'.join(g[0] for g in groups)}免费）"
        en += f" (free: {', '.join(g[1] for g in groups)})"
    return {"price_zh": zh, "price_en": en}


def screening_words(item: Item) -> dict[str, Any]:
    """The words every screen and prompt about one screening uses."""
    return {"title_zh": item.get("title", ""), "title_en": item.get("title_en") or item.get("title", ""),
            "when_zh": item.get("when_zh") or item.get("time", ""), "when_en": item.get("when_en") or item.get("time", ""),
            "hall": item.get("hall", ""), "hall_en": item.get("hall_en") or item.get("hall", ""), "seats_left": int(item.get("seats_left") or 0), **price_words(item)}


def next_with_seats(item: Item, upcoming: tuple[Item, ...]) -> Item | None:
    """The screening to offer when ``item`` is full: the next one with seats, the same film first."""
    later = [u for u in upcoming if (u.get("starts_at"), u.get("screening_id")) > (item.get("starts_at"),
                                                                                   item.get("screening_id"))
             and int(u.get("seats_left") or 0) > 0]
    same = [u for u in later if u.get("title") == item.get("title")]
    return (same or later or [None])[0]


class CinemaFlow(CardTapFlow):
    """One resident at a time at the cinema terminal, or one ticket at a time at the door."""

    resident_screens = RESIDENT_SCREENS
    working_state = "issuing"

    def __init__(self, settings: CinemaSettings | None = None) -> None:
        """Start idle, issuing tickets."""
        self.settings = settings or CinemaSettings()
        super().__init__(self.settings.warning_s)
        self.chosen: Item | None = None  # the screening a ticket is being taken for
        self.offer: Item | None = None  # the full screen's offer
        self.ticket: dict[str, Any] | None = None  # the ticket on screen, or the one the card already holds
        self.card_no: str | None = None  # the card of the current ticket
        self.door: Item | None = None  # the screening checked at the door (entry mode), or None
        self._door_shown = Show("entry_result", {})  # the door's last answer (shown again for more time)

    def _limit(self) -> float | None:
        s = self.settings
        return {"present": s.idle_timeout_s, "issuing": s.issuing_timeout_s, "ticket": s.ticket_screen_s,
                "full": s.refused_screen_s, "refused": s.refused_screen_s, "error": s.refused_screen_s,
                "checking": s.issuing_timeout_s, "entry_result": s.entry_result_s}.get(self.state)

    def _show(self, screen: str, data: dict[str, Any]) -> Show:
        if self.state == "entry_result":
            return Show(screen, {**data, "stays_s": self.settings.entry_result_s})  # short, no warning
        return super()._show(screen, data)

    def idle_screen(self) -> Show:
        """The idle screen (the terminal adds today's screenings), or the door screen in entry mode."""
        if self.door is not None:
            return Show("entry", {"screening": self.door, **screening_words(self.door)})
        return Show("screenings", {})

    # -- entry point ----------------------------------------------------------------------
    def handle(self, event: Event) -> list[Effect]:
        """Feed one event; get the effects to carry out, in order."""
        if isinstance(event, Tick):
            self.clock.now = event.now
            return self._tick()
        if isinstance(event, Failed):
            return self.fail(event.where, event.error)
        if isinstance(event, CardPresented):
            return self._tapped(event)
        if isinstance(event, CardFailed):
            return self._card_failed(event)
        if isinstance(event, ScreeningChosen):
            return self._chosen(event)
        if isinstance(event, TicketIssued):
            return self._issued(event)
        if isinstance(event, TicketRefused):
            return self._refused(event)
        if isinstance(event, ListingChanged):
            return [self.idle_screen()] if self.state == "idle" else []
        if isinstance(event, ReprintWanted):
            if self.state == "refused" and self.ticket is not None:
                return [PrintTicket(str(self.ticket["ticket_id"]), reprint=True), Say("cinema_reprinting")]
            return []
        if isinstance(event, PrintDone):
            return self._printed(event)
        if isinstance(event, EntryMode):
            self.door = event.screening
            return self._to_idle() + ([Say("cinema_entry")] if self.door is not None else [])
        if isinstance(event, QrScanned):
            return self._check(qr=event.text) if self.door is not None else []
        if isinstance(event, EntryChecked):
            return self._checked(event)
        if isinstance(event, MoreTime):
            if self.state == "entry_result":  # the door's answer, its few seconds again
                self.clock.restart()
                return [self._door_shown]
            return self.clock.extend() if self.state in RESIDENT_SCREENS else []
        if isinstance(event, HelpRequested):
            return self._help()
        if isinstance(event, Dismissed):
            return self._to_idle() if self.state in RESIDENT_SCREENS or self.state == "entry_result" else []
        return []

    def fail(self, where: str, error: str) -> list[Effect]:
        """Something broke: while issuing or checking, the spoken "ask staff" screen and an alert; else an alert."""
        detail: dict[str, object] = {"state": self.state, "where": where, "error": error[:200]}
        if self.state == "issuing":
            return self._ask_staff("ticket_stuck", detail)
        if self.state == "checking":
            self._enter("entry_result")
            self._door_shown = self._show("entry_result", {"result": "error", "screening": self.door,
                                                           **screening_words(self.door or {})})
            return [self._door_shown, Say("ask_staff"), Alert("entry_stuck", detail)]
        return [Alert("flow_stuck", detail)]

    # -- issuing ----------------------------------------------------------------------------
    def _chosen(self, chosen: ScreeningChosen) -> list[Effect]:
        if self.door is not None or self.state not in ("idle", "present", "full", "refused", "ticket"):
            return []
        item = chosen.item
        self.chosen, self.ticket, self.card_no = item, None, None
        if int(item.get("seats_left") or 0) <= 0:
            return self._full(item, chosen.upcoming)
        self._enter("present")
        words = screening_words(item)
        return [self._show("present", {"screening": item, **words}), Say("cinema_present", words)]

    def _full(self, item: Item, upcoming: tuple[Item, ...]) -> list[Effect]:
        self.offer = next_with_seats(item, upcoming)
        self._enter("full")
        words = screening_words(item)
        data: dict[str, Any] = {"screening": item, **words, "offer": self.offer}
        effects: list[Effect] = [self._show("full", data), Say("cinema_full", words)]
        if self.offer is None:
            return [*effects, Say("cinema_full_none")]
        offer = screening_words(self.offer)
        return [*effects, Say("cinema_full_next", {f"next_{k}": v for k, v in offer.items()})]

    def _tapped(self, tap: CardPresented) -> list[Effect]:
        if self.door is not None:
            return self._check(card_no=tap.card_no) if self.state in ("entry", "entry_result") else []
        if self.state == "issuing":
            return []  # one ticket at a time
        if self.state == "ticket" and tap.card_no == self.card_no:
            return [Say("cinema_ticket_again", self._ticket_words())]  # the same card, still on the reader
        if self.state in ("present", "refused", "ticket") and self.chosen is not None:
            self.taps += 1
            self.card_no = tap.card_no
            self._enter("issuing")
            return [Show("issuing", {"screening": self.chosen, **screening_words(self.chosen)}),
                    Issue(tap.card_no, str(self.chosen["screening_id"]), self.taps)]
        return [Say("cinema_choose_first")]

    def _card_failed(self, failed: CardFailed) -> list[Effect]:
        code = "not_genuine" if failed.reason == "not_genuine" else "read_failed"
        alert = [Alert("card_not_genuine", {"reason": failed.reason})] if code == "not_genuine" else []
        if self.door is not None:
            if self.state not in ("entry", "entry_result"):
                return []
            return self._checked(EntryChecked(code), force=True) + alert
        if self.state == "issuing":
            return []
        self._enter("refused")
        words = screening_words(self.chosen) if self.chosen else {}
        return [self._show("refused", {"code": code, "screening": self.chosen, **words}),
                Say(f"cinema_{code}"), *alert]

    def _ticket_words(self) -> dict[str, Any]:
        t = self.ticket or {}
        paid = int(t.get("paid_fen") or 0)
        balance = t.get("balance_fen")
        if paid == 0:
            paid_zh, paid_en = "这场免费。", "This screening is free. "
        else:
            paid_zh = f"付了 {yuan(paid)} 元" + (f"，卡里还有 {yuan(int(balance))} 元。" if balance is not None else "。")
            paid_en = f"You paid {yuan(paid)} yuan" + (
                f"; {yuan(int(balance))} yuan left on the card. " if balance is not None else ". ")
        seat = str(t.get("seat") or "1-1")
        return {**screening_words(self.chosen or {}), "seat_zh": seat_words(seat, "zh"),
                "seat_en": seat_words(seat, "en"), "paid_zh": paid_zh, "paid_en": paid_en}

    def _issued(self, done: TicketIssued) -> list[Effect]:
        late = self._late(done.tap)
        if not late and (self.state != "issuing" or done.tap != self.taps):
            return []  # an answer for an earlier tap: that screen is gone
        self.ticket = dict(done.ticket)
        self._enter("ticket")
        words = self._ticket_words()
        effects: list[Effect] = [self._show("ticket", {"screening": self.chosen, "ticket": self.ticket, **words}),
                                 Say("cinema_ticket", words)]
        if self.ticket.get("aisle") and self.ticket.get("aisle_needed"):
            effects.append(Say("cinema_aisle"))
        if self.ticket.get("low_balance"):
            effects.append(Say("cinema_low_balance", {"balance": yuan(int(self.ticket.get("balance_fen") or 0))}))
        return [*effects, PrintTicket(str(self.ticket["ticket_id"]))]

    def _refused(self, refused: TicketRefused) -> list[Effect]:
        if self.state != "issuing" or refused.tap != self.taps:
            return []
        if refused.code == "full" and self.chosen is not None:
            return self._full({**self.chosen, "seats_left": 0}, refused.upcoming)
        self._enter("refused")
        params = dict(refused.params)
        if refused.code == "already" and isinstance(params.get("ticket"), dict):
            self.ticket = dict(params["ticket"])
            params.update(self._ticket_words())
        words = screening_words(self.chosen) if self.chosen else {}
        data = {"code": refused.code, "screening": self.chosen, **words, **params}
        effects: list[Effect] = [self._show("refused", data), Say(f"cinema_{refused.code}", {**words, **params})]
        if refused.code in ("lost", "denied", "blocked", "cancelled"):
            effects.append(Alert("card_refused", {"code": refused.code, "card_no": self.card_no}))
        return effects

    def _printed(self, done: PrintDone) -> list[Effect]:
        if done.ok:
            return []
        effects: list[Effect] = [Say("cinema_ticket_not_printed"), Alert("printer", {"reason": done.reason[:200]})]
        if self.state == "ticket":
            shown = self.clock.shown
            effects.insert(0, Show(shown.screen, {**shown.data, "print_failed": True}))
        return effects

    # -- the door -----------------------------------------------------------------------------
    def _check(self, card_no: str | None = None, qr: str | None = None) -> list[Effect]:
        if self.door is None or self.state not in ("entry", "entry_result"):
            return []
        self.taps += 1
        self._enter("checking")
        return [Show("checking", {"screening": self.door, **screening_words(self.door)}),
                CheckEntry(str(self.door["screening_id"]), card_no, qr, self.taps)]

    def _checked(self, checked: EntryChecked, force: bool = False) -> list[Effect]:
        if not force and (self.state != "checking" or checked.tap != self.taps):
            return []
        self._enter("entry_result")
        params = dict(checked.params)
        if "seat" in params:
            params.update(seat_zh=seat_words(str(params["seat"]), "zh"), seat_en=seat_words(str(params["seat"]), "en"))
        words = {**screening_words(self.door or {}), **params}
        key = f"cinema_entry_{checked.result}" if checked.result in ENTRY_RESULTS[:5] else f"cinema_{checked.result}"
        self._door_shown = self._show("entry_result", {"result": checked.result, "ok": checked.result == "ok",
                                                       "screening": self.door, **words})
        effects: list[Effect] = [self._door_shown, Say(key, words)]
        if checked.result == "again":
            effects.append(Alert("ticket_used_again", {"ticket_id": str(params.get("ticket_id", ""))}))
        return effects

    # -- common -------------------------------------------------------------------------------
    def _tick(self) -> list[Effect]:
        if self._limit() is None:
            return []
        if self.state == "issuing" and self.clock.expired():
            return self._ask_staff("ticket_stuck", {"where": "Issue", "error": "the ticket did not answer in time"})
        if self.state == "checking" and self.clock.expired():
            return self.fail("CheckEntry", "the door check did not answer in time")
        if self.state == "entry_result" and self.clock.expired():
            return self._to_idle()
        if self.state not in RESIDENT_SCREENS:
            return []
        if self.clock.expired():
            return self._to_idle()
        return self.clock.warning()

    def _to_idle(self) -> list[Effect]:
        """Back to the screenings (or the door screen); the UI resets language and volume for the next resident."""
        self.state = "entry" if self.door is not None else "idle"
        self.chosen = self.offer = self.ticket = self.card_no = None
        self.clock.warned = False
        show = self.idle_screen()
        return [Show(show.screen, {**show.data, "reset": True})]
