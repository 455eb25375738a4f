"""Reading the card money events' payloads (docs/community-card.md §3) into checked values.

A payload that does not hold together raises :class:`Refused` with a short reason and a
sentence; the consumer records it as a problem row and the push still succeeds.  Checks:
every named field present; ``entry_id`` is the event id and ``reader_id`` the pushing
terminal; amounts are whole fen (JSON integers, not ``1.5``, ``"150"`` or ``true``) and not
negative; a payment's ``paid_fen`` equals ``gross_fen - discount_fen - subsidy_fen``; a top-up
is positive, by ``cash`` or ``transfer``, attributed to a staff member.  Fields the ledger does
not post (``items``, ``age_band``, ``policy``...) are kept in the stored event, not checked here.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from ...protocol import EventEnvelope

CARD_NO = re.compile(r"^[0-9A-F]{2,40}$")  # the UID in upper-case hex (§2)
MAX_FEN = 10**12  # far above any real amount; keeps sums inside 64 bits
MAX_TEXT = 64  # staff, subsidy tier


class Refused(Exception):
    """A money event the ledger will not post: ``reason`` (snake_case) and ``detail`` (a sentence)."""

    def __init__(self, reason: str, detail: str, card_no: str | None = None) -> None:
        """A refusal, naming the card when the payload gave a usable one."""
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.card_no = card_no


@dataclass(frozen=True)
class Payment:
    """A checked ``card.payment``."""

    entry_id: str
    counter: int
    card_no: str
    day: str
    gross_fen: int
    discount_fen: int
    subsidy_fen: int
    subsidy_tier: str | None
    paid_fen: int


@dataclass(frozen=True)
class Void:
    """A checked ``card.void``."""

    entry_id: str
    counter: int
    card_no: str
    voids: str
    refund_fen: int
    subsidy_fen: int
    reason: str
    staff: str


@dataclass(frozen=True)
class Topup:
    """A checked ``card.topup``."""

    entry_id: str
    counter: int
    card_no: str
    amount_fen: int
    method: str
    staff: str


def card_no_of(payload: dict[str, Any]) -> str | None:
    """The payload's card number when it is a well-formed one (to name it in a problem row)."""
    value = payload.get("card_no")
    return value if isinstance(value, str) and CARD_NO.match(value) else None


def _field(payload: dict[str, Any], name: str) -> Any:
    if name not in payload:
        raise Refused("missing_field", f"payload has no {name!r}", card_no_of(payload))
    return payload[name]


def _fen(payload: dict[str, Any], name: str) -> int:
    value = _field(payload, name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise Refused("bad_amount", f"{name} must be a whole number of fen, not {value!r:.40}", card_no_of(payload))
    if value < 0 or value > MAX_FEN:
        raise Refused("bad_amount", f"{name} is {value}: must be 0 to {MAX_FEN}", card_no_of(payload))
    return value


def _text(payload: dict[str, Any], name: str, *, optional: bool = False) -> str | None:
    value = payload.get(name) if optional else _field(payload, name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT or not value.isprintable():
        raise Refused("bad_field", f"{name} must be 1-{MAX_TEXT} printable characters, not {value!r:.40}",
                      card_no_of(payload))
    return value


def _common(event: EventEnvelope, terminal_id: str) -> tuple[str, int, str]:
    """The fields every money event carries: entry id, counter, card number."""
    p = event.payload
    entry_id = _field(p, "entry_id")
    if entry_id != str(event.id):
        raise Refused("entry_id_mismatch", f"entry_id {entry_id!r:.50} is not the event id {event.id}", card_no_of(p))
    reader = _field(p, "reader_id")
    if reader != terminal_id:
        raise Refused("reader_mismatch", f"reader_id {reader!r:.70} is not the pushing terminal {terminal_id}",
                      card_no_of(p))
    counter = _field(p, "counter")
    if isinstance(counter, bool) or not isinstance(counter, int) or not 0 <= counter < 2**63:
        raise Refused("bad_counter", f"counter must be a whole number from 0, not {counter!r:.40}", card_no_of(p))
    card_no = _field(p, "card_no")
    if not isinstance(card_no, str) or not CARD_NO.match(card_no):
        raise Refused("bad_card_no", f"card_no {card_no!r:.50} is not a card UID in upper-case hex")
    return entry_id, counter, card_no


def parse_payment(event: EventEnvelope, terminal_id: str) -> Payment:
    """The checked payment in ``event`` (pushed by ``terminal_id``); :class:`Refused` otherwise."""
    entry_id, counter, card_no = _common(event, terminal_id)
    p = event.payload
    day = _field(p, "day")
    try:
        if not isinstance(day, str) or len(day) != 10:
            raise ValueError
        dt.date.fromisoformat(day)
    except ValueError:
        raise Refused("bad_day", f"day must be an ISO date (YYYY-MM-DD), not {day!r:.40}", card_no) from None
    gross, discount, subsidy, paid = (_fen(p, n) for n in ("gross_fen", "discount_fen", "subsidy_fen", "paid_fen"))
    if paid != gross - discount - subsidy:
        raise Refused("amounts_disagree", f"paid_fen {paid} is not gross_fen {gross} - discount_fen {discount} - "
                      f"subsidy_fen {subsidy} = {gross - discount - subsidy}", card_no)
    tier = _text(p, "subsidy_tier", optional=True)
    return Payment(entry_id, counter, card_no, day, gross, discount, subsidy, tier, paid)


def parse_void(event: EventEnvelope, terminal_id: str) -> Void:
    """The checked void in ``event``; :class:`Refused` otherwise."""
    entry_id, counter, card_no = _common(event, terminal_id)
    p = event.payload
    voids = _field(p, "voids")
    if not isinstance(voids, str) or not voids or len(voids) > 64:
        raise Refused("bad_field", f"voids must name the payment's entry_id, not {voids!r:.50}", card_no)
    refund, subsidy = _fen(p, "refund_fen"), _fen(p, "subsidy_fen")
    reason = p.get("reason")
    if not isinstance(reason, str):
        raise Refused("bad_field", f"reason must be text, not {reason!r:.40}", card_no)
    staff = _text(p, "staff")
    assert staff is not None
    return Void(entry_id, counter, card_no, voids, refund, subsidy, reason[:200], staff)


def parse_topup(event: EventEnvelope, terminal_id: str) -> Topup:
    """The checked top-up in ``event``; :class:`Refused` otherwise."""
    entry_id, counter, card_no = _common(event, terminal_id)
    p = event.payload
    amount = _fen(p, "amount_fen")
    if amount == 0:
        raise Refused("bad_amount", "amount_fen of a top-up must be above 0", card_no)
    method = _field(p, "method")
    if method not in ("cash", "transfer"):
        raise Refused("bad_field", f"method must be 'cash' or 'transfer', not {method!r:.40}", card_no)
    staff = _text(p, "staff")
    assert staff is not None
    return Topup(entry_id, counter, card_no, amount, method, staff)


def local_day(event: EventEnvelope) -> str:
    """The date the event happened, in the terminal's own offset (for voids and top-ups, which carry no day)."""
    return event.occurred_at.date().isoformat()
