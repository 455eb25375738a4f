"""Hours (docs/timebank.md §5): check in and out, co-signing, forgotten check-outs, approval and caps.

A shift is ``open`` → ``pending`` → ``approved`` (one ``earn`` entry, ``entry_id``) or
``declined``.  A co-signed shift of a sane length is approved at check-out; any other waits for
an organiser.  Coins are ``round(minutes * 100 * coins_per_hour / 60)`` under the policy in force
on the Shanghai day of the check-in; the part above the daily cap (coins of the member's shifts
checked in on that day) or the lifetime cap (all earned coins) is not posted but opens a
``tb_reviews`` row (``daily_cap`` / ``lifetime_cap``) an organiser allows or refuses.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from ..errors import CentralError
from .audit import audit
from .ledger import ISSUE, Line, lock_accounts, lock_members, post_entry, vol_account
from .policy import (
    SERVICES,
    Policy,
    open_breach_review,
    parse_time,
    policy_on,
    shanghai_day,
    shanghai_day_bounds,
    utc_text,
)
from .schema import tb_activities, tb_entries, tb_movements, tb_reviews, tb_shifts

NEEDS_END = frozenset({"auto_closed", "no_check_out"})  # flags whose shift needs a real end time to be approved
CANNOT_APPROVE = frozenset({"no_check_in"})


@dataclass
class Shift:
    """One ``tb_shifts`` row."""

    id: int
    volunteer_id: int
    activity_id: int | None
    category: str
    site: str | None
    check_in_at: str
    check_out_at: str | None
    in_via: str
    out_via: str | None
    in_event_id: str | None
    out_event_id: str | None
    cosigner_key: str | None
    cosigned_via: str | None
    cosigned_at: str | None
    minutes: int | None
    status: str
    flag: str | None
    decided_by: str | None
    decided_at: str | None
    decision_note: str | None
    entry_id: str | None


@dataclass
class CheckOut:
    """A checked-out (or approved) shift, the coins posted now and the review opened for the rest."""

    shift: Shift
    coins_cc: int
    review_id: int | None


def _shift(row: Row[Any]) -> Shift:
    return Shift(**{f.name: getattr(row, f.name) for f in fields(Shift)})


def get_shift(conn: Connection, shift_id: int, *, lock: bool = False) -> Shift | None:
    """The shift ``shift_id`` (locked for update when ``lock``)."""
    query = select(tb_shifts).where(tb_shifts.c.id == shift_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    return None if row is None else _shift(row)


def open_shift(conn: Connection, volunteer_id: int) -> Shift | None:
    """The member's open shift, if any."""
    row = conn.execute(select(tb_shifts).where(tb_shifts.c.volunteer_id == volunteer_id,
                                               tb_shifts.c.status == "open")
                       .order_by(tb_shifts.c.id.desc()).limit(1)).first()
    return None if row is None else _shift(row)


def shifts(conn: Connection, *, status: str | None = None, volunteer_id: int | None = None,
           activity_id: int | None = None, limit: int = 200) -> list[Shift]:
    """Shifts, newest check-in first, filtered by status, member and activity."""
    query = select(tb_shifts).order_by(tb_shifts.c.check_in_at.desc(), tb_shifts.c.id.desc()).limit(limit)
    if status is not None:
        query = query.where(tb_shifts.c.status == status)
    if volunteer_id is not None:
        query = query.where(tb_shifts.c.volunteer_id == volunteer_id)
    if activity_id is not None:
        query = query.where(tb_shifts.c.activity_id == activity_id)
    return [_shift(r) for r in conn.execute(query)]


def _by_event(conn: Connection, column: Any, event_id: str | None) -> Shift | None:
    if event_id is None:
        return None
    row = conn.execute(select(tb_shifts).where(column == event_id)).first()
    return None if row is None else _shift(row)


def check_in(conn: Connection, volunteer_id: int, *, at: str, via: str, actor: str, activity_id: int | None = None,
             site: str | None = None, category: str | None = None, event_id: str | None = None) -> Shift:
    """Open a shift for the member; a second check-in while one is open is refused."""
    member = lock_members(conn, [volunteer_id])[int(volunteer_id)]
    again = _by_event(conn, tb_shifts.c.in_event_id, event_id)
    if again is not None:
        return again
    if open_shift(conn, volunteer_id) is not None:
        raise CentralError("already_checked_in", "您已经签到了，请先签退 (already checked in)")
    if activity_id is not None:
        activity = conn.execute(select(tb_activities.c.category).where(tb_activities.c.id == activity_id)).first()
        if activity is None:
            raise CentralError("unknown_activity", "没有这个活动 (no such activity)")
        category = category or activity.category
    if category is None:
        firsts = [s for s in (member.services or "").split(",") if s in SERVICES]
        category = firsts[0] if firsts else "companion"
    if category not in SERVICES:
        raise CentralError("bad_category", f"服务类别不对：{category} (unknown service)")
    at = utc_text(at)
    shift_id = int(conn.execute(insert(tb_shifts).values(
        volunteer_id=volunteer_id, activity_id=activity_id, category=category, site=site, check_in_at=at,
        in_via=via, in_event_id=event_id, status="open")).inserted_primary_key[0])
    audit(conn, actor, "check_in", vol_account(volunteer_id), {"shift": shift_id, "via": via, "site": site}, at=at)
    shift = get_shift(conn, shift_id)
    assert shift is not None
    return shift


def _minutes(start: str, end: str) -> int:
    return max(0, int((parse_time(end) - parse_time(start)).total_seconds() // 60))


def _length_flag(minutes: int, policy: Policy) -> str | None:
    if minutes < policy.rules.min_shift_minutes:
        return "too_short"
    if minutes > policy.rules.max_shift_hours * 60:
        return "too_long"
    return None


def _posted(conn: Connection, shift_id: int) -> tuple[int, int | None]:
    """Coins posted for the shift's own entry and its cap review's id (for a repeated check-out)."""
    coins = conn.execute(select(func.coalesce(func.sum(tb_movements.c.amount_cc), 0))
                         .join(tb_entries, tb_entries.c.entry_id == tb_movements.c.entry_id)
                         .join(tb_shifts, tb_shifts.c.entry_id == tb_entries.c.entry_id)
                         .where(tb_shifts.c.id == shift_id, tb_movements.c.account.like("vol:%"))).scalar_one()
    review = conn.execute(select(func.max(tb_reviews.c.id)).where(tb_reviews.c.shift_id == shift_id)).scalar()
    return int(coins), None if review is None else int(review)


def check_out(conn: Connection, volunteer_id: int, *, at: str, via: str, actor: str, cosigner_key: str | None = None,
              cosigned_via: str | None = None, event_id: str | None = None) -> CheckOut:
    """Close the member's open shift; co-signed and of a sane length, it is approved at once."""
    member = lock_members(conn, [volunteer_id], active=False)[int(volunteer_id)]
    again = _by_event(conn, tb_shifts.c.out_event_id, event_id)
    if again is not None:
        return CheckOut(again, *_posted(conn, again.id))
    shift = open_shift(conn, volunteer_id)
    if shift is None:
        raise CentralError("not_checked_in", "您还没有签到，不能签退 (not checked in)")
    at = utc_text(at)
    minutes = _minutes(shift.check_in_at, at)
    policy = policy_on(conn, shanghai_day(shift.check_in_at))
    flag = "self_cosign" if cosigner_key is not None and cosigner_key == member.person_key else None
    flag = flag or _length_flag(minutes, policy)
    conn.execute(update(tb_shifts).where(tb_shifts.c.id == shift.id).values(
        check_out_at=at, out_via=via, out_event_id=event_id, cosigner_key=cosigner_key,
        cosigned_via=cosigned_via if cosigner_key else None, cosigned_at=at if cosigner_key else None,
        minutes=minutes, status="pending", flag=flag))
    audit(conn, actor, "check_out", vol_account(volunteer_id),
          {"shift": shift.id, "minutes": minutes, "cosigned": cosigner_key is not None, "flag": flag}, at=at)
    if cosigner_key is not None and flag is None and member.status == "active":
        return _approve(conn, shift.id, actor, at, policy)
    done = get_shift(conn, shift.id)
    assert done is not None
    return CheckOut(done, 0, None)


def cosign(conn: Connection, shift_id: int, *, cosigner_key: str, via: str, actor: str, at: str) -> CheckOut:
    """The served resident confirms a checked-out shift afterwards (by QR); a sane shift is then approved.

    Refused in words: an unknown shift, one not waiting (already approved, declined or still open),
    one already co-signed, one with a flag (an organiser decides it), or the volunteer's own key.
    """
    shift = get_shift(conn, shift_id)
    if shift is None:
        raise CentralError("unknown_shift", "找不到这段服务记录 (no such shift)")
    member = lock_members(conn, [shift.volunteer_id], active=False)[int(shift.volunteer_id)]  # members first
    shift = get_shift(conn, shift_id, lock=True)
    assert shift is not None
    if cosigner_key == member.person_key:
        raise CentralError("self_cosign", "志愿者不能为自己确认，请服务对象本人确认 (not your own shift)")
    if shift.status != "pending" or shift.cosigner_key is not None:
        raise CentralError("not_waiting", "这段服务已经确认或处理过了 (already confirmed or decided)")
    if shift.flag is not None or shift.minutes is None:
        raise CentralError("flagged", "这段服务需要组织者审核，不能扫码确认 (an organiser decides it)")
    at = utc_text(at)
    conn.execute(update(tb_shifts).where(tb_shifts.c.id == shift_id).values(
        cosigner_key=cosigner_key, cosigned_via=via, cosigned_at=at))
    audit(conn, actor, "cosign", vol_account(shift.volunteer_id), {"shift": shift_id, "via": via}, at=at)
    if member.status != "active":
        done = get_shift(conn, shift_id)
        assert done is not None
        return CheckOut(done, 0, None)
    return _approve(conn, shift_id, actor, at)


def coins_for(minutes: int, policy: Policy) -> int:
    """Coins (cc) a shift of ``minutes`` earns under ``policy``."""
    return round(minutes * 100 * policy.rules.coins_per_hour / 60)


def earned_cc(conn: Connection, volunteer_id: int, day: dt.date | None = None) -> int:
    """Coins the member has earned (``earn`` in), all told or for shifts checked in on Shanghai ``day``."""
    query = (select(func.coalesce(func.sum(tb_movements.c.amount_cc), 0))
             .where(tb_movements.c.account == vol_account(volunteer_id), tb_movements.c.kind == "earn"))
    if day is not None:
        start, end = shanghai_day_bounds(day)
        query = query.join(tb_entries, tb_entries.c.entry_id == tb_movements.c.entry_id).join(
            tb_shifts, tb_shifts.c.id == tb_entries.c.shift_id).where(
            tb_shifts.c.check_in_at >= start, tb_shifts.c.check_in_at < end)
    return int(conn.execute(query).scalar_one())


def _approve(conn: Connection, shift_id: int, actor: str, at: str, policy: Policy | None = None) -> CheckOut:
    """Approve a pending shift with its minutes: post the coins within the caps, review the rest."""
    shift = get_shift(conn, shift_id)
    assert shift is not None and shift.minutes is not None
    day = shanghai_day(shift.check_in_at)
    policy = policy or policy_on(conn, day)
    account = vol_account(shift.volunteer_id)
    lock_accounts(conn, [ISSUE, account], at)
    amount = coins_for(shift.minutes, policy)
    daily_room = max(0, policy.rules.daily_cap_coins * 100 - earned_cc(conn, shift.volunteer_id, day))
    lifetime_room = max(0, policy.rules.lifetime_cap_coins * 100 - earned_cc(conn, shift.volunteer_id))
    within = min(amount, daily_room, lifetime_room)
    entry_id = None
    if within > 0:
        entry_id = post_entry(conn, entry_type="earn", actor=actor, at=at, category=shift.category,
                              shift_id=shift.id, memo=f"服务 {shift.minutes} 分钟",
                              lines=[Line(ISSUE, -within, "earn"), Line(account, within, "earn")])
    conn.execute(update(tb_shifts).where(tb_shifts.c.id == shift.id).values(
        status="approved", decided_by=actor, decided_at=at, entry_id=entry_id))
    review_id = None
    if amount > within:
        kind = "lifetime_cap" if lifetime_room < daily_room else "daily_cap"
        cap = policy.rules.lifetime_cap_coins if kind == "lifetime_cap" else policy.rules.daily_cap_coins
        words = "累计" if kind == "lifetime_cap" else f"{day.isoformat()} 当日"
        review_id = open_breach_review(
            conn, kind=kind, volunteer_id=shift.volunteer_id, shift_id=shift.id, amount_cc=amount - within,
            policy=policy, at=at, actor=actor,
            detail=f"{words}上限 {cap} 币；本次服务 {shift.minutes} 分钟应得 {amount / 100:.2f} 币，"
                   f"已发 {within / 100:.2f} 币，其余待审核")
    audit(conn, actor, "shift_approve", account,
          {"shift": shift.id, "coins_cc": within, "review": review_id, "entry": entry_id}, at=at)
    done = get_shift(conn, shift.id)
    assert done is not None
    return CheckOut(done, within, review_id)


def approve(conn: Connection, shift_ids: Sequence[int], actor: str,
            ends: Mapping[int, str] | None = None) -> list[CheckOut]:
    """Approve pending shifts in bulk; ``ends`` gives real end times (needed for an auto-closed shift).

    A shift that cannot be approved (not pending, an end needed and missing or before the
    check-in) is skipped: the audit trail says why (``shift_approve_skipped``) and it stays pending.
    """
    ends = ends or {}
    at = utc_text(dt.datetime.now(dt.UTC))
    done: list[CheckOut] = []
    wanted = sorted({int(s) for s in shift_ids})
    members = conn.execute(select(tb_shifts.c.volunteer_id).where(tb_shifts.c.id.in_(wanted))).scalars()
    lock_members(conn, set(members), active=False)  # all members first, in id order, as every coin writer does
    for shift_id in wanted:
        shift = get_shift(conn, shift_id, lock=True)
        reason = _cannot_approve(shift, ends.get(shift_id))
        if reason is not None:
            audit(conn, actor, "shift_approve_skipped", f"shift:{shift_id}", {"reason": reason}, at=at)
            continue
        assert shift is not None
        if shift_id in ends:
            end = utc_text(ends[shift_id])
            conn.execute(update(tb_shifts).where(tb_shifts.c.id == shift_id).values(
                check_out_at=end, minutes=_minutes(shift.check_in_at, end)))
        done.append(_approve(conn, shift_id, actor, at))
    return done


def _cannot_approve(shift: Shift | None, end: str | None) -> str | None:
    if shift is None:
        return "unknown_shift"
    if shift.status != "pending":
        return f"status_{shift.status}"
    if shift.flag in CANNOT_APPROVE:
        return shift.flag
    if end is None:
        return "end_needed" if shift.flag in NEEDS_END or shift.minutes is None else None
    try:
        if parse_time(end) <= parse_time(shift.check_in_at):
            return "end_before_start"
    except CentralError:
        return "bad_end"
    return None


def decline(conn: Connection, shift_ids: Sequence[int], actor: str, reason: str) -> int:
    """Decline pending (or open) shifts with the reason; returns how many were declined."""
    reason = (reason or "").strip()
    if not reason:
        raise CentralError("reason_needed", "请写明不通过的理由 (a reason is needed)")
    at = utc_text(dt.datetime.now(dt.UTC))
    count = 0
    for shift_id in sorted({int(s) for s in shift_ids}):
        changed = conn.execute(update(tb_shifts).where(
            tb_shifts.c.id == shift_id, tb_shifts.c.status.in_(("pending", "open"))).values(
            status="declined", decided_by=actor, decided_at=at, decision_note=reason[:200])).rowcount
        if changed:
            count += 1
            audit(conn, actor, "shift_decline", f"shift:{shift_id}", {"reason": reason[:200]}, at=at)
    return count


def close_open(conn: Connection, shift_id: int, *, flag: str, at: str, actor: str) -> None:
    """Close an open shift without counting minutes (``out_via`` auto), flagged for an organiser."""
    changed = conn.execute(update(tb_shifts).where(tb_shifts.c.id == shift_id, tb_shifts.c.status == "open")
                           .values(status="pending", out_via="auto", flag=flag, minutes=None)).rowcount
    if changed:
        audit(conn, actor, "shift_auto_close", f"shift:{shift_id}", {"flag": flag}, at=at)


def late_check_out(conn: Connection, shift_id: int, *, at: str, via: str, actor: str,
                   cosigner_key: str | None = None, cosigned_via: str | None = None,
                   event_id: str | None = None) -> Shift | None:
    """Give a shift closed without minutes (auto-closed, or no check-out) the check-out that came late.

    The minutes are counted, the flag becomes ``late_check_out`` and the shift stays pending for
    an organiser (a late time is never approved on its own).  None when the shift is not such a one.
    """
    shift = get_shift(conn, shift_id, lock=True)
    if shift is None or shift.status != "pending" or shift.flag not in NEEDS_END or shift.out_event_id is not None:
        return None
    at = utc_text(at)
    minutes = _minutes(shift.check_in_at, at)
    conn.execute(update(tb_shifts).where(tb_shifts.c.id == shift_id).values(
        check_out_at=at, out_via=via, out_event_id=event_id, cosigner_key=cosigner_key,
        cosigned_via=cosigned_via if cosigner_key else None, cosigned_at=at if cosigner_key else None,
        minutes=minutes, flag="late_check_out"))
    audit(conn, actor, "check_out_late", vol_account(shift.volunteer_id),
          {"shift": shift_id, "minutes": minutes, "was": shift.flag}, at=at)
    return get_shift(conn, shift_id)


def close_forgotten(conn: Connection, now: str) -> list[int]:
    """Close every open shift older than the policy's ``auto_close_hours``; returns their ids."""
    now = utc_text(now)
    try:
        policy = policy_on(conn, shanghai_day(now))
    except CentralError:
        return []  # no policy yet: nothing can be said to be forgotten
    cutoff = utc_text(parse_time(now) - dt.timedelta(hours=policy.rules.auto_close_hours))
    ids = [int(i) for i in conn.execute(select(tb_shifts.c.id).where(
        tb_shifts.c.status == "open", tb_shifts.c.check_in_at < cutoff).order_by(tb_shifts.c.id)).scalars()]
    for shift_id in ids:
        close_open(conn, shift_id, flag="auto_closed", at=now, actor="system")
    return ids
