"""The canteen reader at work: the card reader and the screen feed the canteen flow, its effects are carried out.

One role on the shared runtime (:class:`~kiosk.runtime.resident_terminal.ResidentTerminal`): the
community-card reader's loop turns an authenticated tap into :class:`CardPresented` and a clone or
a pulled card into :class:`CardFailed`; the payment (price from the policy in force for the card's
holder, limits, journal and outbox in one store action), voids and receipts run on the runtime's
checked worker pool.  Screens and speech leave through callbacks; nothing here imports Qt.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers.errors import DriverError
from kiosk.canteen import events as ev
from kiosk.canteen.flow import CanteenFlow, CanteenSettings, yuan
from kiosk.canteen.menu import MenuItem
from kiosk.canteen.payments import CardPayments, PaymentError
from kiosk.canteen.pricing import Holder, Quote, quote
from kiosk.runtime.resident_terminal import ResidentTerminal

log = logging.getLogger(__name__)


@dataclass
class CanteenServices:
    """What the canteen's effects need besides the devices."""

    payments: CardPayments
    policy: Callable[[dt.date], Any]  # the policy in force on a day (kiosk.canteen.policy.Policy), or None
    menu: Callable[[dt.date], list[MenuItem]]  # today's menu at this canteen
    speaker: Any
    language: Callable[[], str] = lambda: "zh"
    health: Any = None
    title: str = "临汾路街道社区长者食堂"
    terminal_id: str = "canteen"


def holder_of(card: Any) -> Holder:
    """The pricing holder of a card row (birth year, groups, 低保)."""
    return Holder(getattr(card, "birth_year", None), tuple(getattr(card, "groups", ()) or ()),
                  bool(getattr(card, "dibao", False)))


def refusal_params(code: str, needed_fen: int, limit_fen: int) -> dict[str, str]:
    """What a refusal's words say: how much is short, or the limit left, as yuan text."""
    if code == "insufficient":
        return {"short": yuan(max(needed_fen - limit_fen, 0)), "limit": yuan(limit_fen)}
    return {"limit": yuan(limit_fen) if code != "too_many_offline" else str(limit_fen)}


class CanteenTerminal(ResidentTerminal):
    """Runs the canteen reader (self-pay or cashier) for one resident at a time."""

    idle_prompt = "canteen_choose_meal"

    def __init__(self, reader: Any, printer: Any, services: CanteenServices, settings: CanteenSettings | None = None,
                 on_show: Callable[[ev.Show], None] = lambda s: None,
                 on_say: Callable[[str, dict[str, Any]], None] = lambda k, p: None,
                 on_alert: Callable[[ev.Alert], None] = lambda a: None,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        """``reader``: the community-card driver (authenticating); ``printer``: receipts, or None."""
        self.reader = reader
        self.printer = printer
        self.services = services
        self.clock = clock or (lambda: dt.datetime.now().astimezone())
        super().__init__("canteen", CanteenFlow(settings), services.speaker, services.language, services.health,
                         on_show, on_say, on_alert)
        self.flow: CanteenFlow = self.flow
        self.payments_done = 0
        self.tap_to_result_ms: list[tuple[str, float]] = []  # (screen, ms from the reader seeing the card)
        self._tap_at = 0.0
        self.runtime.observe(self._observe)
        rt = self.runtime
        rt.on_io(ev.Pay, self._pay)
        rt.on_io(ev.VoidPayment, self._void)
        rt.on_io(ev.PrintReceipt, self._print)
        self._receipts: dict[str, list[Any]] = {}  # entry id -> receipt lines (the last few payments)

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> CanteenTerminal:
        """Start the runtime with today's menu on screen, and the card reader's loop."""
        self.runtime.start([self.flow.idle_screen()])  # _show adds today's menu
        self.start_community_card_loop(self.reader)
        return self

    def stop(self) -> None:
        """Stop every thread (the drivers are closed by their owner)."""
        self.runtime.stop()

    def _observe(self, event: Any) -> None:
        if isinstance(event, ev.CardPresented) and self.flow.state != "paying":
            self._tap_at = event.at

    def _show(self, e: ev.Show) -> None:
        if e.screen in ("paid", "refused") and self._tap_at and not e.data.get("warning"):
            self.tap_to_result_ms.append((e.screen, (time.monotonic() - self._tap_at) * 1000))
            self._tap_at = 0.0
        if e.screen == "menu" and "menu" not in e.data:  # the flow does not know the menu: add it
            menu = self.services.menu(self.clock().date())
            e = ev.Show(e.screen, {**e.data, "menu": [m.as_item() | {"photo": m.photo} for m in menu]})
        super()._show(e)

    # -- inputs from the screen -------------------------------------------------------------
    def ui(self, command: str) -> None:
        """A button: ``meal:<item_id>``, ``receipt``, ``dismiss``, ``extend``, ``help``, ``repeat``; others ignored."""
        if command == "repeat":
            self.repeat()
            return
        if command.startswith("meal:"):
            wanted = command.split(":", 1)[1]
            for item in self.services.menu(self.clock().date()):
                if item.item_id == wanted and item.kind == "set_meal":
                    self.submit(ev.MealChosen(item.as_item()))
            return
        event = self.common_ui_event(command) or {"receipt": ev.ReceiptWanted(), "dismiss": ev.Dismissed()}.get(command)
        if event is not None:
            self.submit(event)

    def basket(self, quantities: dict[str, int]) -> None:
        """Cashier: the clerk's basket as item id → quantity (items not on today's menu are left out)."""
        menu = {m.item_id: m for m in self.services.menu(self.clock().date())}
        items = tuple(menu[i].as_item(q) for i, q in quantities.items() if i in menu and 0 < q <= 20)
        self.submit(ev.BasketChanged(items))

    def recent_payments(self, limit: int = 10) -> list[dict[str, Any]]:
        """Today's last payments of this reader, newest first, for the clerk's void list (voided ones marked)."""
        journal = self.services.payments.journal
        with self.services.payments.store.action():
            entries = journal.for_day(self.clock().date().isoformat())
            voided = journal.voided_ids(e.entry_id for e in entries if e.type == "payment")
        payments = [e for e in entries if e.type == "payment"][-limit:]
        return [{"entry_id": e.entry_id, "at": e.at, "paid_fen": e.debit_fen, "card_no": e.card_no,
                 "items": e.payload.get("items", []), "voided": e.entry_id in voided} for e in reversed(payments)]

    def void(self, entry_id: str, reason: str, staff: str) -> None:
        """The clerk voids a payment of this reader, with a reason."""
        self.submit(ev.VoidRequested(entry_id, reason, staff))

    # -- effects --------------------------------------------------------------------------
    def _pay(self, e: ev.Pay) -> ev.PaymentDone | ev.PaymentRefused:
        s = self.services
        today = self.clock().date()
        facts = s.payments.facts(e.card_no)
        policy = s.policy(today)
        if policy is None:
            return ev.PaymentRefused("no_policy", tap=e.tap)
        holder = holder_of(facts.card)
        made: list[Quote] = []

        def price(subsidy_used: bool) -> Quote:
            made.append(quote(list(e.items), holder, today, policy, subsidy_used))
            return made[-1]

        try:
            result = s.payments.pay(e.card_no, e.items, price)
        except PaymentError as exc:
            return ev.PaymentRefused(exc.code, tap=e.tap)
        if result.status == "refused":
            refusal = result.refusal
            assert refusal is not None
            return ev.PaymentRefused(refusal.code, refusal_params(refusal.code, refusal.needed_fen, refusal.limit_fen),
                                     tap=e.tap)
        entry = result.entry
        assert entry is not None
        q = result.quote if result.status == "paid" else None
        lines = tuple({"zh": line.zh, "en": line.en, "kind": line.kind, "amount_fen": line.amount_fen}
                      for line in (q.lines if q is not None else ()))
        paid = entry.debit_fen
        self._remember_receipt(entry.entry_id, e.items, lines, paid, result.balance_after_fen)
        self.payments_done += result.status == "paid"
        return ev.PaymentDone(result.status, entry.entry_id, paid, lines, result.balance_after_fen,
                              result.low_balance, result.offline, e.tap)

    def _remember_receipt(self, entry_id: str, items: tuple[dict[str, Any], ...], lines: tuple[dict[str, Any], ...],
                          paid_fen: int, balance: int | None) -> None:
        receipt: list[Any] = [(f"{i['name']} ×{i.get('qty', 1)}", f"{yuan(int(i['unit_fen']) * int(i.get('qty', 1)))} 元")
                              for i in items]
        receipt += [str(line["zh"]) for line in lines]
        receipt += [("实付", f"{yuan(paid_fen)} 元")]
        if balance is not None:
            receipt.append(("余额", f"{yuan(balance)} 元"))
        receipt.append(f"{self.services.terminal_id} {self.clock():%Y-%m-%d %H:%M}")
        self._receipts[entry_id] = receipt
        while len(self._receipts) > 20:
            self._receipts.pop(next(iter(self._receipts)))

    def _void(self, e: ev.VoidPayment) -> ev.VoidDone:
        try:
            entry = self.services.payments.void(e.entry_id, e.reason, e.staff)
        except PaymentError as exc:
            return ev.VoidDone(False, e.entry_id, exc.code)
        return ev.VoidDone(True, e.entry_id, refund_fen=-entry.debit_fen)

    def _print(self, e: ev.PrintReceipt) -> ev.PrintDone:
        if self.printer is None:
            return ev.PrintDone(False, "no printer")
        lines = self._receipts.get(e.entry_id)
        if lines is None:
            return ev.PrintDone(False, "receipt no longer held")
        try:
            self.printer.print_receipt(lines, self.services.title)
        except DriverError as exc:
            return ev.PrintDone(False, str(exc))
        return ev.PrintDone(True)

    def raise_alert(self, alert: ev.Alert) -> None:
        """Staff alerts go to the central (as ``alert.raised`` events, no names) and to ``on_alert``."""
        self.alert_to_central(self.services.payments.store, self.services.terminal_id, alert)
