"""What each money event posts (docs/community-card.md §3), and the daily subsidy reconciliation.

* ``card.payment`` (canteen or cinema terminals): card −paid, ``subsidy_fund`` −subsidy,
  ``<role>:<site>`` +(paid + subsidy).  The discount is a lower price, not a movement.
* ``card.topup`` (counter terminals, the service centre): card +amount, ``cash:<terminal>`` (or
  ``transfer:<terminal>``) −amount, attributed to the payload's staff.
* ``card.void`` (canteen or cinema terminals): reverses the payment *and* any adjustment made to
  it, line for line per account, so the card, the fund and the outlet end where they were before
  the payment.  Refused (a problem row, nothing posted) when the payment is unknown to the
  central (not posted yet, or never), is not a payment, belongs to another card, is already
  voided, or when ``refund_fen``/``subsidy_fen`` differ from what the payment posted.  Any
  canteen or cinema terminal may void (the staff member is recorded).

Daily subsidy: once per card per day across all canteens.  The first subsidised payment
*posted* (in the central's commit order) holds the day's grant (``card_subsidy_grants``); a
later subsidised payment of that card and day gets an ``adjustment`` entry (``adj:<its id>``:
card −subsidy, fund +subsidy, a note naming both entries), shown on the statement as its own
line.  Voiding the granted payment frees the day's grant, so a subsidised payment posted
*after* the void keeps its subsidy; a payment already adjusted stays adjusted (the void does
not resurrect its subsidy: it was reversed when it was posted, and reopening posted entries
would make a statement change behind the holder's back).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ...protocol import EventEnvelope
from .ledger import SUBSIDY_FUND, Line, card_account, post_entry
from .payloads import Refused, card_no_of, local_day, parse_payment, parse_topup, parse_void
from .schema import card_entries, card_movements, card_subsidy_grants

PAYING_ROLES = ("canteen", "cinema")
TOPUP_ROLES = ("counter", "hall")  # the hall records top-ups for its counters (they have no store)


@dataclass(frozen=True)
class Poster:
    """Who pushed the events being posted, and when the push is posted."""

    terminal_id: str
    site: str
    role: str
    posted_at: str


def _require_role(poster: Poster, event: EventEnvelope, roles: tuple[str, ...]) -> None:
    if poster.role not in roles:
        raise Refused("role_not_allowed", f"a {poster.role} terminal may not push {event.type} (only "
                      f"{' or '.join(roles)})", card_no_of(event.payload))


def _entry(poster: Poster, entry_id: str, type_: str, card_no: str, day: str, **values: Any) -> dict[str, Any]:
    row = {"entry_id": entry_id, "type": type_, "card_no": card_no, "day": day, "terminal_id": poster.terminal_id,
           "site": poster.site, "counter": None, "amount_fen": 0, "subsidy_fen": 0, "subsidy_tier": None,
           "refers_to": None, "staff": None, "voided_by": None, "posted_at": poster.posted_at}
    row.update(values)
    return row


def _check_counter(conn: Connection, poster: Poster, counter: int, card_no: str) -> None:
    used = conn.execute(select(card_entries.c.entry_id).where(
        card_entries.c.terminal_id == poster.terminal_id, card_entries.c.counter == counter)).scalar()
    if used is not None:
        raise Refused("counter_reused", f"journal counter {counter} of {poster.terminal_id} was already used by "
                      f"entry {used}", card_no)


def post_payment(conn: Connection, poster: Poster, event: EventEnvelope) -> str:
    """Post a ``card.payment``; returns its card number."""
    _require_role(poster, event, PAYING_ROLES)
    p = parse_payment(event, poster.terminal_id)
    _check_counter(conn, poster, p.counter, p.card_no)
    outlet = f"{poster.role}:{poster.site}"
    post_entry(conn, _entry(poster, p.entry_id, "payment", p.card_no, p.day, counter=p.counter,
                            amount_fen=p.paid_fen, subsidy_fen=p.subsidy_fen, subsidy_tier=p.subsidy_tier), [
        Line(card_account(p.card_no), -p.paid_fen, "payment"),
        Line(SUBSIDY_FUND, -p.subsidy_fen, "subsidy", f"tier {p.subsidy_tier}" if p.subsidy_tier else None),
        Line(outlet, p.paid_fen + p.subsidy_fen, "payment"),
    ])
    if p.subsidy_fen > 0:
        _reconcile_subsidy(conn, poster, p.entry_id, p.card_no, p.day, p.subsidy_fen)
    return p.card_no


def _reconcile_subsidy(conn: Connection, poster: Poster, entry_id: str, card_no: str, day: str,
                       subsidy_fen: int) -> None:
    """Grant the day's subsidy to ``entry_id``, or reverse it when another payment already holds it."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    granted = conn.execute(dialect.insert(card_subsidy_grants).values(
        card_no=card_no, day=day, entry_id=entry_id, granted_at=poster.posted_at)
        .on_conflict_do_nothing().returning(card_subsidy_grants.c.entry_id)).first()
    if granted is not None:
        return
    holder = conn.execute(select(card_subsidy_grants.c.entry_id).where(
        card_subsidy_grants.c.card_no == card_no, card_subsidy_grants.c.day == day)).scalar_one()
    note = (f"second daily subsidy of card {card_no} on {day}: {subsidy_fen} fen of entry {entry_id} reversed "
            f"(entry {holder} was posted first and holds the day's subsidy)")
    post_entry(conn, _entry(poster, f"adj:{entry_id}", "adjustment", card_no, day, amount_fen=subsidy_fen,
                            subsidy_fen=subsidy_fen, refers_to=entry_id), [
        Line(card_account(card_no), -subsidy_fen, "adjustment", note),
        Line(SUBSIDY_FUND, subsidy_fen, "adjustment", note),
    ])


def post_topup(conn: Connection, poster: Poster, event: EventEnvelope) -> str:
    """Post a ``card.topup`` from the service centre; returns its card number."""
    _require_role(poster, event, TOPUP_ROLES)
    t = parse_topup(event, poster.terminal_id)
    _check_counter(conn, poster, t.counter, t.card_no)
    note = f"top-up ({t.method}) by staff {t.staff}"
    post_entry(conn, _entry(poster, t.entry_id, "topup", t.card_no, local_day(event), counter=t.counter,
                            amount_fen=t.amount_fen, staff=t.staff), [
        Line(card_account(t.card_no), t.amount_fen, "topup", note),
        Line(f"{t.method}:{poster.terminal_id}", -t.amount_fen, "topup", note),
    ])
    return t.card_no


def post_void(conn: Connection, poster: Poster, event: EventEnvelope) -> str:
    """Post a ``card.void``: reverse the payment and its adjustments exactly once; returns the card number."""
    _require_role(poster, event, PAYING_ROLES)
    v = parse_void(event, poster.terminal_id)
    _check_counter(conn, poster, v.counter, v.card_no)
    target = conn.execute(select(card_entries).where(card_entries.c.entry_id == v.voids)).first()
    if target is None:
        raise Refused("void_unknown_entry", f"voids {v.voids}: no such payment is posted at the central", v.card_no)
    if target.type != "payment":
        raise Refused("void_not_a_payment", f"voids {v.voids}: that entry is a {target.type}, not a payment",
                      v.card_no)
    if target.card_no != v.card_no:
        raise Refused("void_card_mismatch", f"voids {v.voids}: that payment is card {target.card_no}'s, "
                      f"not {v.card_no}'s", v.card_no)
    if target.voided_by is not None:
        raise Refused("already_voided", f"voids {v.voids}: that payment was already voided by {target.voided_by}",
                      v.card_no)
    if (v.refund_fen, v.subsidy_fen) != (int(target.amount_fen), int(target.subsidy_fen)):
        raise Refused("void_amount_mismatch", f"voids {v.voids}: refund_fen {v.refund_fen} and subsidy_fen "
                      f"{v.subsidy_fen} differ from the payment's paid {target.amount_fen} and subsidy "
                      f"{target.subsidy_fen}", v.card_no)
    reversed_ids = [v.voids, *conn.execute(select(card_entries.c.entry_id).where(
        card_entries.c.refers_to == v.voids, card_entries.c.type == "adjustment",
        card_entries.c.voided_by.is_(None))).scalars()]
    claimed = conn.execute(update(card_entries).where(
        card_entries.c.entry_id == v.voids, card_entries.c.voided_by.is_(None)).values(voided_by=v.entry_id))
    if claimed.rowcount != 1:  # a concurrent void got there first (PostgreSQL re-checks after the row lock)
        raise Refused("already_voided", f"voids {v.voids}: that payment was already voided", v.card_no)
    conn.execute(update(card_entries).where(card_entries.c.entry_id.in_(reversed_ids[1:]))
                 .values(voided_by=v.entry_id))
    totals: dict[str, int] = {}
    for account, amount in conn.execute(select(card_movements.c.account, card_movements.c.amount_fen)
                                        .where(card_movements.c.entry_id.in_(reversed_ids))):
        totals[account] = totals.get(account, 0) - int(amount)
    note = f"void of {v.voids} by staff {v.staff}" + (f": {v.reason}" if v.reason else "")
    card = card_account(v.card_no)
    post_entry(conn, _entry(poster, v.entry_id, "void", v.card_no, local_day(event), counter=v.counter,
                            amount_fen=v.refund_fen, subsidy_fen=v.subsidy_fen, refers_to=v.voids, staff=v.staff),
               [Line(a, amount, "refund" if a == card else "void", note) for a, amount in sorted(totals.items())])
    conn.execute(delete(card_subsidy_grants).where(card_subsidy_grants.c.entry_id == v.voids))
    return v.card_no


POSTERS = {"card.payment": post_payment, "card.void": post_void, "card.topup": post_topup}
