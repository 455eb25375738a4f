"""Community-card top-ups at the service centre, taken by a logged-in clerk at a counter.

The counters have no store of their own: the hall's process records a top-up in its own card
journal (:class:`~kiosk.canteen.journal.CardJournal`, the hall's store opened with
``CANTEEN_MIGRATIONS``) and pushes the ``card.topup`` event (docs/community-card.md §3) through its
outbox, attributed to the clerk's staff id.  The central posts it from the ``hall`` terminal.

A counter's request carries a ``request_id`` it made itself.  The journal entry, its outbox event
and a ``hall_topup_requests`` row naming that id are written in one store action, so a request
retried after a lost answer finds its row and gets the stored result back (``repeat``): it never
credits twice, not even when two copies arrive at once (the second waits for the first's write
lock, then finds its row).  The same id with another card, amount, method or clerk is refused.

The checks are those of :meth:`kiosk.canteen.payments.CardPayments.topup` (amount 0.01–1,000 元,
cash or transfer, a clerk, and no lost, blocked, cancelled, denied or unknown card); they are
made here because that method opens its own store action, which the request row cannot join.
Answers name the card's holder only by the masked name the central publishes (``陈*英``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from typing import Any

from sqlite_utils.migrations import Migrations

from kiosk.canteen.payments import CardPayments, PaymentError, card_refusal

from .errors import HallError

log = logging.getLogger(__name__)
TOPUP_MIGRATIONS = Migrations("linfen_hall_topups")
#: The amounts a top-up may have, in fen (as CardPayments.topup: 0.01 to 1,000 元).
#: A community card number: its UID in hex, 4, 7 or 10 bytes (docs/community-card.md §2).
CARD_NO = re.compile(r"^(?:[0-9A-F]{8}|[0-9A-F]{14}|[0-9A-F]{20})$")
#: A counter's request id: 16 to 64 letters, digits and dashes (a UUID is fine).
REQUEST_ID = re.compile(r"^[A-Za-z0-9-]{16,64}$")


@TOPUP_MIGRATIONS()
def m001_topup_requests(db: Any) -> None:
    """Create ``hall_topup_requests``: one row per counter request, naming the journal entry it made."""
    db.execute(
        """
        CREATE TABLE hall_topup_requests (
            request_id  TEXT    NOT NULL PRIMARY KEY,
            entry_id    TEXT    NOT NULL UNIQUE,
            staff_id    TEXT    NOT NULL,
            window_no   INTEGER NOT NULL,
            card_no     TEXT    NOT NULL,
            amount_fen  INTEGER NOT NULL CHECK (amount_fen > 0),
            method      TEXT    NOT NULL CHECK (method IN ('cash', 'transfer')),
            masked_name TEXT    NOT NULL,
            at          TEXT    NOT NULL
        )
        """
    )


#: Why a card may not be topped up, in words (``{reason}``: the deny list's reason).
REFUSAL_WORDS: dict[str, tuple[int, str, str]] = {
    "unknown_card": (404, "This card is not registered with the community card service: check the number",
                     "此卡未在一卡通系统登记，请核对卡号"),
    "lost": (409, "This card is reported lost: it cannot be topped up", "此卡已挂失，不能充值"),
    "blocked": (409, "This card is blocked: it cannot be topped up", "此卡已冻结，不能充值"),
    "cancelled": (409, "This card is cancelled: it cannot be topped up", "此卡已注销，不能充值"),
    "denied": (409, "This card is on the deny list ({reason}): it cannot be topped up",
               "此卡在禁用名单上（{reason}），不能充值"),
    "bad_card_no": (422, "A card number is 8, 14 or 20 hexadecimal characters", "卡号应为 8、14 或 20 位（数字和 A–F）"),
    "bad_amount": (422, "A top-up is between 0.01 and 1,000 yuan", "充值金额须在 0.01 至 1000 元之间"),
    "bad_method": (422, "A top-up is paid in cash or by transfer", "充值方式须为现金或转账"),
    "bad_request_id": (422, "The request id must be 16 to 64 letters, digits or dashes", "请求编号格式错误"),
    "request_reused": (409, "This request id was already used for another top-up", "此请求编号已用于另一笔充值"),
}


class TopupRefused(HallError):
    """A top-up or card look-up the rules refuse; ``status`` depends on the reason (404, 409 or 422)."""

    def __init__(self, reason: str, reason_detail: str = "") -> None:
        """Words from :data:`REFUSAL_WORDS` (``reason_detail`` fills ``{reason}``)."""
        status, en, zh = REFUSAL_WORDS[reason]
        super().__init__(reason, en.format(reason=reason_detail or "-"), zh.format(reason=reason_detail or "-"))
        self.status = status


@dataclass(frozen=True)
class CardInfo:
    """What a clerk sees of one card before a top-up (no ID number, no full name)."""

    card_no: str
    status: str  # active | lost | blocked | cancelled | denied
    masked_name: str
    balance_fen: int | None  # the last published balance plus this hall's top-ups it does not count yet
    balance_as_of: str | None
    refusal: str | None  # why it may not be topped up, or None
    words_en: str = ""
    words_zh: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class TopupResult:
    """One recorded top-up, as the counter is told (again, with ``repeat``, for a retried request)."""

    request_id: str
    entry_id: str
    card_no: str
    amount_fen: int
    method: str
    staff_id: str
    masked_name: str
    at: str
    repeat: bool
    balance_fen: int | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def normalise_card_no(card_no: str) -> str:
    """A card number as upper-case hex of 4, 7 or 10 bytes; :class:`TopupRefused` ``bad_card_no`` otherwise."""
    value = card_no.strip().upper().replace(" ", "") if isinstance(card_no, str) else ""
    if not CARD_NO.match(value):
        raise TopupRefused("bad_card_no")
    return value


class HallTopups:
    """Top-ups and card look-ups of the hall, over one :class:`CardPayments` on the hall's store."""

    def __init__(self, payments: CardPayments) -> None:
        """``payments``: the hall's card payments (facts from its pulled reference data)."""
        if TOPUP_MIGRATIONS.pending(payments.store.db):
            raise HallError("no_topup_table", "the hall store has no top-up table: open it with TOPUP_MIGRATIONS")
        self.payments = payments
        self.store = payments.store

    def _balance(self, card_no: str) -> tuple[int | None, str | None]:
        standing = self.payments.standing(card_no)
        snapshot = standing.snapshot
        return standing.balance_fen, (snapshot.as_of or None) if snapshot is not None else None

    def card(self, card_no: str) -> CardInfo:
        """The card's status, masked name and balance; :class:`TopupRefused` ``unknown_card`` when not listed."""
        card_no = normalise_card_no(card_no)
        facts = self.payments.facts(card_no)
        if facts.card is None and facts.denied_reason is None:
            raise TopupRefused("unknown_card")
        refusal = card_refusal(facts)
        status = "denied" if refusal == "denied" else getattr(facts.card, "status", "active")
        words = TopupRefused(refusal, facts.denied_reason or "") if refusal else None
        balance, as_of = self._balance(card_no)
        return CardInfo(card_no, status, getattr(facts.card, "masked_name", None) or "", balance, as_of, refusal,
                        words.words_en if words else "", words.words_zh if words else "")

    def topup(self, request_id: str, card_no: str, amount_fen: int, method: str, staff_id: str,
              window: int) -> TopupResult:
        """Credit ``amount_fen`` to ``card_no``, taken by ``staff_id`` at ``window``, once per ``request_id``."""
        if not isinstance(request_id, str) or not REQUEST_ID.match(request_id):
            raise TopupRefused("bad_request_id")
        card_no = normalise_card_no(card_no)
        facts = self.payments.facts(card_no)  # pulled data, read before the write lock is taken
        online = self.payments.online()
        with self.store.action() as act:
            row = act.db.execute(
                "SELECT request_id, entry_id, card_no, amount_fen, method, staff_id, masked_name, at "
                "FROM hall_topup_requests WHERE request_id = ?", [request_id]).fetchone()
            if row is None:
                result = self._record(act, request_id, card_no, amount_fen, method, staff_id, window, facts, online)
            elif (row[2], row[3], row[4], row[5]) != (card_no, amount_fen, method, staff_id):
                raise TopupRefused("request_reused")
            else:
                result = TopupResult(*row, repeat=True, balance_fen=None)
        log.info("card top-up %s: %s fen by %s (staff %s, window %s)%s", result.entry_id, result.amount_fen,
                 result.method, staff_id, window, " - a repeated request, not credited again" if result.repeat else "")
        balance, _as_of = self._balance(card_no)
        return TopupResult(**{**result.to_dict(), "balance_fen": balance})

    def _record(self, act: Any, request_id: str, card_no: str, amount_fen: int, method: str, staff_id: str,
                window: int, facts: Any, online: bool) -> TopupResult:
        """Check the top-up and write its journal entry, event and request row (inside ``act``)."""
        try:
            entry = self.payments.record_topup(act, card_no, amount_fen, method, staff_id, facts, online)
        except PaymentError as exc:
            if exc.code == "no_staff":
                raise HallError("no_staff", "a top-up needs the staff member who takes it",
                                "充值须由登录的工作人员办理") from None
            raise TopupRefused(exc.code, facts.denied_reason or "") from None
        masked = getattr(facts.card, "masked_name", None) or ""
        act.db.execute(
            "INSERT INTO hall_topup_requests (request_id, entry_id, staff_id, window_no, card_no, amount_fen, "
            "method, masked_name, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [request_id, entry.entry_id, staff_id, window, card_no, amount_fen, method, masked, entry.at])
        return TopupResult(request_id, entry.entry_id, card_no, amount_fen, method, staff_id, masked, entry.at,
                           repeat=False, balance_fen=None)
