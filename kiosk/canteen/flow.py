"""The canteen reader's state machine: ``handle(event) -> effects``, no I/O, no clock of its own.

Two modes, one flow:

* **self-pay**: the idle screen is today's set meals as big buttons; the resident taps one
  ("present": "请刷一卡通") then the card — or taps the card first and is asked to choose
  ("choosing", the card held in memory), never given a meal by default;
* **cashier**: the clerk builds the basket (:class:`BasketChanged`); with a basket the screen shows
  the total and asks for the card; a card tapped on an empty basket is told to wait for the clerk.

A tap of an authenticated card starts :class:`Pay` (price, limits and journal in one store
action, off the loop thread); the answer ends on "paid" (lines of the price and subsidy, balance
after, a low-balance warning, all spoken) or "refused" (why, in words and voice).  The same card
tapped again on its "paid" screen is the same basket again: the reader hands back the first payment
(not charged twice).  Every state but idle has a deadline; resident screens warn 10 s before they
go and can be extended (:class:`~kiosk.runtime.screens.ScreenClock`).  A payment that does not
answer in time ends on a spoken "please ask staff" screen with an alert; if its answer comes late
the paid screen is still shown, so the resident is never led to pay again for a meal already paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiosk.runtime.screens import CardTapFlow

from .events import (
    Alert,
    BasketChanged,
    CardFailed,
    CardPresented,
    Dismissed,
    Effect,
    Event,
    Failed,
    HelpRequested,
    Item,
    MealChosen,
    MoreTime,
    Pay,
    PaymentDone,
    PaymentRefused,
    PrintDone,
    PrintReceipt,
    ReceiptWanted,
    Say,
    Show,
    Tick,
    VoidDone,
    VoidPayment,
    VoidRequested,
)

RESIDENT_SCREENS = frozenset({"choosing", "present", "paid", "refused", "error"})
STATES = ("idle", "choosing", "present", "paying", "paid", "refused", "error")
MODES = ("self", "cashier")
#: Refusal codes whose screen names the card (the others name the amount).
CARD_CODES = ("unknown_card", "lost", "blocked", "cancelled", "denied", "not_genuine")


@dataclass(frozen=True)
class CanteenSettings:
    """Timeouts of the canteen flow, each in seconds, and its mode."""

    mode: str = "self"  # "self" (resident picks a set meal) or "cashier" (clerk picks dishes)
    idle_timeout_s: float = 60.0  # the meal chosen, or the card held, waits this long for the next step
    paying_timeout_s: float = 6.0  # the payment (store write) must answer within this
    paid_screen_s: float = 20.0  # the paid screen (its words take ~8 s to say)
    refused_screen_s: float = 30.0  # a refusal or an error stays this long
    warning_s: float = 10.0  # a resident screen warns aloud this long before it goes


def total_fen(items: tuple[Item, ...]) -> int:
    """The basket's price before any discount, in fen."""
    return sum(int(i["unit_fen"]) * int(i.get("qty", 1)) for i in items)


def yuan(fen: int) -> str:
    """Fen as spoken and shown yuan: ``1500`` → ``"15"``, ``2250`` → ``"22.50"``, ``-300`` → ``"-3"``."""
    sign, fen = ("-" if fen < 0 else ""), abs(int(fen))
    return f"{sign}{fen // 100}" if fen % 100 == 0 else f"{sign}{fen // 100}.{fen % 100:02d}"


def _names(items: tuple[Item, ...]) -> dict[str, str]:
    zh = "、".join(f"{i['name']}" + (f"×{i['qty']}" if int(i.get("qty", 1)) > 1 else "") for i in items)
    en = ", ".join(f"{i.get('name_en') or i['name']}" + (f" x{i['qty']}" if int(i.get("qty", 1)) > 1 else "")
                   for i in items)
    return {"items_zh": zh, "items_en": en}


class CanteenFlow(CardTapFlow):
    """One resident at a time at a canteen reader."""

    resident_screens = RESIDENT_SCREENS
    working_state = "paying"

    def __init__(self, settings: CanteenSettings | None = None) -> None:
        """Start idle; ``settings.mode`` is ``self`` or ``cashier``."""
        self.settings = settings or CanteenSettings()
        if self.settings.mode not in MODES:
            raise ValueError(f"canteen mode must be one of {MODES}, not {self.settings.mode!r}")
        super().__init__(self.settings.warning_s)
        self.items: tuple[Item, ...] = ()  # the meal chosen (self) or the clerk's basket (cashier)
        self.held: CardPresented | None = None  # self-pay: a card tapped before a meal was chosen
        self.card_no: str | None = None  # the card of the current (or just finished) payment
        self.entry_id: str | None = None  # the last payment on screen (receipt, void)

    def _limit(self) -> float | None:
        s = self.settings
        return {"choosing": s.idle_timeout_s, "present": s.idle_timeout_s, "paying": s.paying_timeout_s,
                "paid": s.paid_screen_s, "refused": s.refused_screen_s, "error": s.refused_screen_s}.get(self.state)

    def _show(self, screen: str, data: dict[str, object]) -> Show:
        return super()._show(screen, {"mode": self.settings.mode, **data})

    def idle_screen(self) -> Show:
        """The idle screen's Show (menu, and the clerk's basket in cashier mode)."""
        return Show("menu", {"mode": self.settings.mode, "basket": list(self.items), "total_fen": total_fen(self.items)})

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
        if isinstance(event, MealChosen):
            return self._meal(event.item)
        if isinstance(event, BasketChanged):
            return self._basket(event.items)
        if isinstance(event, PaymentDone):
            return self._done(event)
        if isinstance(event, PaymentRefused):
            return self._refused(event)
        if isinstance(event, MoreTime):
            return self.clock.extend() if self.state in RESIDENT_SCREENS else []
        if isinstance(event, HelpRequested):
            return self._help()
        if isinstance(event, Dismissed):
            return self._to_idle() if self.state in RESIDENT_SCREENS else []
        if isinstance(event, ReceiptWanted):
            return [PrintReceipt(self.entry_id)] if self.state == "paid" and self.entry_id else []
        if isinstance(event, PrintDone):
            return [] if event.ok else [Say("canteen_receipt_failed"),
                                        Alert("printer", {"reason": event.reason[:200]})]
        if isinstance(event, VoidRequested):
            return [VoidPayment(event.entry_id, event.reason, event.staff)]
        if isinstance(event, VoidDone):
            return [Show("void_result", {"ok": event.ok, "entry_id": event.entry_id, "code": event.code,
                                         "refund_fen": event.refund_fen}, )]
        return []

    def fail(self, where: str, error: str) -> list[Effect]:
        """Something broke: while paying, the spoken "ask staff" screen and an alert; else an alert only."""
        detail: dict[str, object] = {"state": self.state, "where": where, "error": error[:200]}
        if self.state == "paying":
            return self._ask_staff("payment_stuck", detail)
        return [Alert("flow_stuck", detail)]

    # -- steps ----------------------------------------------------------------------------
    def _tapped(self, tap: CardPresented) -> list[Effect]:
        if self.state == "paying":
            return []  # one payment at a time; the card is still being charged
        if self.state == "paid" and tap.card_no == self.card_no:
            return self._pay(tap.card_no)  # same card, same basket: the reader hands the payment back
        if self.state in ("present", "refused") and self.items:
            return self._pay(tap.card_no)
        if self.settings.mode == "cashier":
            if self.items:
                return self._pay(tap.card_no)
            return [Say("canteen_wait_clerk")]
        self.held = tap
        self.items = ()
        self._enter("choosing")
        return [self._show("choosing", {}), Say("canteen_choose_first")]

    def _card_failed(self, failed: CardFailed) -> list[Effect]:
        if self.state == "paying":
            return []
        code = "not_genuine" if failed.reason == "not_genuine" else "read_failed"
        self._enter("refused")
        return [self._show("refused", {"code": code, **_names(self.items)}), Say(f"canteen_{code}")] + (
            [Alert("card_not_genuine", {"reason": failed.reason})] if code == "not_genuine" else [])

    def _meal(self, item: Item) -> list[Effect]:
        if self.settings.mode != "self" or self.state not in ("idle", "choosing", "present", "refused", "paid"):
            return []
        self.items = (dict(item, qty=1),)
        names = _names(self.items)
        if self.state == "choosing" and self.held is not None:
            held, self.held = self.held, None
            return [Say("canteen_meal_chosen", names), *self._pay(held.card_no)]
        self._enter("present")
        data = {**names, "total_fen": total_fen(self.items), "basket": list(self.items)}
        return [self._show("present", data), Say("canteen_present", {**names, "yuan": yuan(total_fen(self.items))})]

    def _basket(self, items: tuple[Item, ...]) -> list[Effect]:
        if self.settings.mode != "cashier" or self.state == "paying":
            return []
        self.items = tuple(items)
        if not self.items:
            return self._to_idle()
        self._enter("present")
        names = _names(self.items)
        data = {**names, "total_fen": total_fen(self.items), "basket": list(self.items)}
        return [self._show("present", data), Say("canteen_present", {**names, "yuan": yuan(total_fen(self.items))})]

    def _pay(self, card_no: str) -> list[Effect]:
        self.taps += 1
        self.card_no = card_no
        self._enter("paying")
        return [Show("paying", {"mode": self.settings.mode, "total_fen": total_fen(self.items), **_names(self.items)}),
                Pay(card_no, self.items, self.taps)]

    def _done(self, done: PaymentDone) -> list[Effect]:
        late = self._late(done.tap)
        if not late and (self.state != "paying" or done.tap != self.taps):
            return []  # an answer for an earlier tap: that screen is gone
        self.entry_id = done.entry_id
        self._enter("paid")
        data: dict[str, object] = {
            "status": done.status, "paid_fen": done.paid_fen, "lines": [dict(line) for line in done.lines],
            "balance_fen": done.balance_after_fen, "low_balance": done.low_balance, "offline": done.offline,
            **_names(self.items)}
        effects: list[Effect] = [self._show("paid", data)]
        if done.status == "duplicate":
            effects.append(Say("canteen_already_paid"))
        else:
            words = [line for line in done.lines if line.get("spoken", True)]
            effects.append(Say("canteen_paid", {
                "yuan": yuan(done.paid_fen), "lines_zh": "，".join(str(x["zh"]) for x in words),
                "lines_en": ", ".join(str(x["en"]) for x in words),
                "balance": yuan(done.balance_after_fen or 0)}))
        if done.low_balance:
            effects.append(Say("canteen_low_balance", {"balance": yuan(done.balance_after_fen or 0)}))
        if self.settings.mode == "cashier":
            self.items = ()
        return effects

    def _refused(self, refused: PaymentRefused) -> list[Effect]:
        if self.state != "paying" or refused.tap != self.taps:
            return []
        self._enter("refused")
        data: dict[str, Any] = {"code": refused.code, **refused.params, **_names(self.items)}
        effects: list[Effect] = [self._show("refused", data), Say(f"canteen_{refused.code}", dict(refused.params))]
        if refused.code in ("lost", "denied", "blocked", "cancelled"):
            effects.append(Alert("card_refused", {"code": refused.code, "card_no": self.card_no}))
        return effects

    def _tick(self) -> list[Effect]:
        if self._limit() is None:
            return []
        if self.state == "paying" and self.clock.expired():
            return self._ask_staff("payment_stuck", {"where": "Pay", "error": "the payment did not answer in time"})
        if self.state not in RESIDENT_SCREENS:
            return []
        if self.clock.expired():
            return self._to_idle()
        return self.clock.warning()

    def _to_idle(self) -> list[Effect]:
        """Back to the menu; the UI resets language and volume for the next resident."""
        self.state = "idle"
        self.held = None
        self.card_no = None
        if self.settings.mode == "self":
            self.items = ()
        self.clock.warned = False
        show = self.idle_screen()
        return [Show(show.screen, {**show.data, "reset": True})]
