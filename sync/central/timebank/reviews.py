"""The review queue (docs/timebank.md §2): breaches of a cap or an age rule wait here for a person.

:func:`allow` posts what waited (the coins above a cap, as an ``earn`` entry naming the shift;
or the waiting redemption, stock and balance checked again) and keeps the entry id on the row;
:func:`refuse` posts nothing.  Either way the row stays, decided, with who and when.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection, Row, select, update

from ..errors import CentralError
from .audit import audit
from .hours import get_shift
from .ledger import ISSUE, Line, lock_accounts, lock_members, post_entry, vol_account
from .policy import utc_text
from .rewards import complete_waiting, refuse_waiting
from .schema import tb_reviews


@dataclass
class Review:
    """One ``tb_reviews`` row."""

    id: int
    kind: str
    volunteer_id: int
    shift_id: int | None
    amount_cc: int
    detail: str
    policy_version: str
    opened_at: str
    status: str
    decided_by: str | None
    decided_at: str | None
    note: str | None
    entry_id: str | None
    redemption_id: int | None


def _review(row: Row[Any]) -> Review:
    return Review(**{f.name: getattr(row, f.name) for f in fields(Review)})


def get_review(conn: Connection, review_id: int) -> Review | None:
    """The review ``review_id``."""
    row = conn.execute(select(tb_reviews).where(tb_reviews.c.id == review_id)).first()
    return None if row is None else _review(row)


def open_reviews(conn: Connection, limit: int = 200) -> list[Review]:
    """Reviews waiting for a decision, oldest first."""
    rows = conn.execute(select(tb_reviews).where(tb_reviews.c.status == "open").order_by(tb_reviews.c.id).limit(limit))
    return [_review(r) for r in rows]


def _lock_open(conn: Connection, review_id: int) -> Review:
    """Lock the member then the review; refuses an unknown or decided review."""
    review = get_review(conn, review_id)
    if review is None:
        raise CentralError("unknown_review", "没有这条待审核记录 (no such review)")
    lock_members(conn, [review.volunteer_id], active=False)
    row = conn.execute(select(tb_reviews).where(tb_reviews.c.id == review_id).with_for_update()).one()
    if row.status != "open":
        raise CentralError("already_decided", f"这条审核已经处理过了（{row.decided_by}）(already decided)")
    return _review(row)


def allow(conn: Connection, review_id: int, actor: str) -> str | None:
    """Allow a review: post the coins that waited, or perform the waiting redemption; returns the entry id."""
    review = _lock_open(conn, review_id)
    at = utc_text(dt.datetime.now(dt.UTC))
    if review.kind in ("daily_cap", "lifetime_cap"):
        shift = get_shift(conn, review.shift_id) if review.shift_id is not None else None
        account = vol_account(review.volunteer_id)
        lock_accounts(conn, [ISSUE, account], at)
        entry_id: str | None = post_entry(
            conn, entry_type="earn", actor=actor, at=at, category=shift.category if shift else None,
            shift_id=review.shift_id, memo=f"审核通过：超出上限部分（审核 {review.id}）",
            lines=[Line(ISSUE, -review.amount_cc, "earn"), Line(account, review.amount_cc, "earn")])
    elif review.kind == "redeem_age":
        if review.redemption_id is None:
            raise CentralError("bad_review", "这条审核找不到对应的兑换 (no redemption linked)")
        entry_id = complete_waiting(conn, review.redemption_id, actor, at)
    else:
        raise CentralError("bad_review", f"不认识的审核类别：{review.kind} (unknown review kind)")
    conn.execute(update(tb_reviews).where(tb_reviews.c.id == review_id).values(
        status="allowed", decided_by=actor, decided_at=at, entry_id=entry_id))
    audit(conn, actor, "review_allow", vol_account(review.volunteer_id),
          {"review": review_id, "kind": review.kind, "amount_cc": review.amount_cc, "entry": entry_id}, at=at)
    return entry_id


def refuse(conn: Connection, review_id: int, actor: str, reason: str) -> None:
    """Refuse a review with the reason: nothing is posted, the row stays decided."""
    reason = (reason or "").strip()
    if not reason:
        raise CentralError("reason_needed", "请写明不通过的理由 (a reason is needed)")
    review = _lock_open(conn, review_id)
    at = utc_text(dt.datetime.now(dt.UTC))
    if review.kind == "redeem_age":
        if review.redemption_id is not None:
            refuse_waiting(conn, review.redemption_id)
    conn.execute(update(tb_reviews).where(tb_reviews.c.id == review_id).values(
        status="refused", decided_by=actor, decided_at=at, note=reason[:200]))
    audit(conn, actor, "review_refuse", vol_account(review.volunteer_id),
          {"review": review_id, "kind": review.kind, "reason": reason[:200]}, at=at)
