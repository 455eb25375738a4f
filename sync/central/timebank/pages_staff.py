"""Organisers' pages: hours approval in bulk, the review queue, the rewards catalogue, the pool (helper E).

``/tb/staff/hours`` pending shifts with their flags in words, checkboxes, bulk 通过 / 不通过 (an
auto-closed shift takes its real end time); ``/tb/staff/reviews`` the open reviews with 允许 /
拒绝; ``/tb/staff/rewards`` add a reward, restock; ``/tb/staff/pool`` the pool's balance, a grant
to a member, a group transfer (one payer to several members); ``/tb/staff/member/<id>`` one
member's record and statement (the read is audited as ``read_member``).  Organisers, committee
workers and admins only; every form carries the CSRF token and a ``request_id``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, select

from ..db import now_text, read_transaction, write_transaction
from ..errors import CentralError
from . import hours, ledger, reviews, rewards, transfers
from .audit import audit
from .pages_money import (
    CATEGORIES,
    SHANGHAI,
    coins,
    local_time,
    member_row,
    new_request_id,
    parse_coins,
    parse_local_end,
    parse_member_no,
    parse_whole,
    request_id_of,
    statement_view,
)
from .policy import age_on
from .schema import tb_audit, tb_volunteers
from .web_auth import STAFF_ROLES, check_csrf, page, read_form, read_form_multi, require

router = APIRouter(include_in_schema=False)

FLAG_WORDS = {"auto_closed": "超过 24 小时未签退、已自动关闭", "too_short": "时长过短", "too_long": "时长过长",
              "no_check_out": "没有签退记录", "no_check_in": "没有签到记录（不能通过）",
              "self_cosign": "志愿者本人代签（不算服务对象确认）",
              "late_check_out": "自动关闭后才签退（请核对时长）"}
NO_COSIGNER = "无服务对象确认"
REVIEW_WORDS = {"daily_cap": "超过每日上限", "lifetime_cap": "超过累计上限", "redeem_age": "未到兑换年龄的兑换"}
MAX_GROUP = 30  # members in one group transfer
SHOWN = 200  # pending shifts on the page (the newest; approve them and the next appear)
DONE_WORDS = {"approved": "已通过 {n} 条工时。", "declined": "已标记 {n} 条工时为不通过。",
              "allowed": "已允许这条复核。", "refused": "已拒绝这条复核。", "added": "已添加奖励。",
              "restocked": "库存已更新。"}


def row_id(value: int, what: str) -> int:
    """A row id from the path, within the database's range; else a refusal in words."""
    if not 0 < value < 2 ** 63:
        raise CentralError("unknown_row", f"没有这个{what}。No such {what}.")
    return value


def _engine(request: Request) -> Any:
    return request.app.state.store.engine


def _done(request: Request) -> str | None:
    """The words for a ``?done=`` after a redirect (only known codes; the count is digits only)."""
    code = request.query_params.get("done", "")
    n = request.query_params.get("n", "")
    return DONE_WORDS[code].format(n=n if n.isdigit() else "") if code in DONE_WORDS else None


def _back(path: str, code: str, n: int | None = None) -> RedirectResponse:
    return RedirectResponse(f"{path}?done={code}" + (f"&n={n}" if n is not None else ""), status_code=303)


def _members(conn: Connection, ids: set[int]) -> dict[int, Any]:
    """Member rows (id, masked name, community) by id."""
    if not ids:
        return {}
    rows = conn.execute(select(tb_volunteers.c.id, tb_volunteers.c.name_masked, tb_volunteers.c.community)
                        .where(tb_volunteers.c.id.in_(ids)))
    return {int(r.id): r for r in rows}


def sees(user: Any, community: str | None) -> bool:
    """Whether a staff member works for a member of ``community`` (an admin, or staff of no community: all)."""
    return user.role == "admin" or not user.community or community == user.community


def _check_scope(user: Any, members: dict[int, Any], ids: list[int] | set[int]) -> None:
    """Refuse (in words) to act on members of another community."""
    others = sorted(i for i in ids if i in members and not sees(user, members[i].community))
    if others:
        raise CentralError("other_community", f"会员 {others[0]} 号不属于您的社区（{user.community}），请交由该社区处理。")


def shift_flags(shift: Any) -> list[str]:
    """A pending shift's flags in words (auto-closed, too short or long, no co-signature)."""
    words = [FLAG_WORDS.get(f, f) for f in (shift.flag or "").split(",") if f]
    if not shift.cosigner_key and shift.flag not in hours.NEEDS_END:
        words.append(NO_COSIGNER)
    return words


def _duration(minutes: int | None) -> str:
    if minutes is None:
        return "未计时长"
    h, m = divmod(int(minutes), 60)
    return f"{h} 小时 {m} 分" if h else f"{m} 分钟"


def _hours_view(conn: Connection, user: Any) -> dict[str, Any]:
    pending = hours.shifts(conn, status="pending", limit=SHOWN)
    members = _members(conn, {int(s.volunteer_id) for s in pending})
    pending = [s for s in pending if s.volunteer_id in members and sees(user, members[s.volunteer_id].community)]
    rows = [{"id": s.id, "member": f"{members[s.volunteer_id].name_masked}（{s.volunteer_id} 号）",
             "member_id": s.volunteer_id, "category": CATEGORIES.get(s.category, s.category),
             "start": local_time(s.check_in_at), "end": local_time(s.check_out_at) if s.check_out_at else "未签退",
             "duration": _duration(s.minutes), "flags": shift_flags(s),
             "auto": s.flag in hours.NEEDS_END or s.minutes is None,
             "end_min": local_time(s.check_in_at).replace(" ", "T")} for s in pending]
    return {"shifts": rows, "full": len(rows) >= SHOWN}


@router.get("/tb/staff/hours")
def hours_page(request: Request) -> Response:
    """Pending shifts: flags in words, checkboxes, bulk approve / decline."""
    user = require(request, *STAFF_ROLES)
    with read_transaction(_engine(request)) as conn:
        view = _hours_view(conn, user)
    return page(request, "staff_hours.html", user, done=_done(request), error=None, request_id=new_request_id(),
                **view)


@router.post("/tb/staff/hours")
async def hours_post(request: Request) -> Response:
    """Approve or decline the ticked shifts (an auto-closed one with the end time typed for it)."""
    user = require(request, *STAFF_ROLES)
    fields = await read_form_multi(request, max_bytes=65536, max_fields=2 * SHOWN + 10)
    form = {k: v[0] for k, v in fields.items() if len(v) == 1}
    check_csrf(request, form)
    try:
        ids = sorted({parse_member_no(v) for v in fields.get("shift", [])})
        if not ids:
            raise CentralError("none_chosen", "请先勾选要处理的工时。Tick the shifts first.")
        action = form.get("action", "")
        with write_transaction(_engine(request)) as conn:
            ticked = [hours.get_shift(conn, i) for i in ids]
            _check_scope(user, _members(conn, {s.volunteer_id for s in ticked if s}),
                         {s.volunteer_id for s in ticked if s})
            if action == "approve":
                ends = {i: parse_local_end(form[f"end_{i}"]) for i in ids if form.get(f"end_{i}", "").strip()}
                before = {i: hours.get_shift(conn, i) for i in ids}
                done = {c.shift.id for c in hours.approve(conn, ids, user.actor, ends=ends or None)}
                skipped = [skip_words(before[i], ends.get(i)) for i in ids if i not in done]
            elif action == "decline":
                reason = form.get("reason", "").strip()
                if not reason:
                    raise CentralError("no_reason", "不通过时请写明原因。Give a reason to decline.")
                declined = hours.decline(conn, ids, user.actor, reason[:200])
            else:
                raise CentralError("bad_action", "请点“通过”或“不通过”。")
    except CentralError as exc:
        with read_transaction(_engine(request)) as conn:
            view = _hours_view(conn, user)
        return page(request, "staff_hours.html", user, status=422, done=None, error=exc.detail,
                    request_id=new_request_id(), **view)
    if action == "approve" and skipped:
        with read_transaction(_engine(request)) as conn:
            view = _hours_view(conn, user)
        return page(request, "staff_hours.html", user, status=422, done=f"已通过 {len(done)} 条工时。",
                    error="以下工时没有通过：" + "；".join(skipped), request_id=new_request_id(), **view)
    return _back("/tb/staff/hours", "approved" if action == "approve" else "declined",
                 len(done) if action == "approve" else declined)


def skip_words(shift: Any, end: str | None) -> str:
    """Why a ticked shift was not approved, in words (it stays pending)."""
    if shift is None:
        return "有一条工时已不存在"
    label = f"{shift.id} 号工时（会员 {shift.volunteer_id} 号）"
    if shift.status != "pending":
        return f"{label}已经处理过了"
    if shift.flag in hours.CANNOT_APPROVE:
        return f"{label}没有签到记录，不能通过，请点“不通过”"
    if end is None:
        return f"{label}需要填写实际结束时间"
    return f"{label}的结束时间要晚于签到时间"


def _review_view(conn: Connection, user: Any) -> dict[str, Any]:
    found = reviews.open_reviews(conn, limit=500)
    members = _members(conn, {int(r.volunteer_id) for r in found})
    found = [r for r in found if r.volunteer_id in members and sees(user, members[r.volunteer_id].community)]
    rows = [{"id": r.id, "kind": REVIEW_WORDS.get(r.kind, r.kind), "member_id": r.volunteer_id,
             "member": f"{members[r.volunteer_id].name_masked}（{r.volunteer_id} 号）", "amount": coins(r.amount_cc),
             "detail": r.detail or "", "policy": r.policy_version,
             "opened": local_time(r.opened_at)} for r in found]
    return {"reviews": rows}


@router.get("/tb/staff/reviews")
def reviews_page(request: Request) -> Response:
    """The open reviews: what, who, how much, under which policy; 允许 / 拒绝."""
    user = require(request, *STAFF_ROLES)
    with read_transaction(_engine(request)) as conn:
        view = _review_view(conn, user)
    return page(request, "staff_reviews.html", user, done=_done(request), error=None, **view)


@router.post("/tb/staff/reviews/{review_id}")
async def review_post(request: Request, review_id: int) -> Response:
    """Allow (coins move) or refuse (nothing moves) one review."""
    user = require(request, *STAFF_ROLES)
    form = await read_form(request)
    check_csrf(request, form)
    action = form.get("action", "")
    try:
        review_id = row_id(review_id, "复核事项")
        with write_transaction(_engine(request)) as conn:
            review = reviews.get_review(conn, review_id)
            if review is not None:
                _check_scope(user, _members(conn, {review.volunteer_id}), {review.volunteer_id})
            if action == "allow":
                reviews.allow(conn, review_id, user.actor)
            elif action == "refuse":
                reason = form.get("reason", "").strip()
                if not reason:
                    raise CentralError("no_reason", "拒绝时请写明原因。Give a reason to refuse.")
                reviews.refuse(conn, review_id, user.actor, reason[:200])
            else:
                raise CentralError("bad_action", "请点“允许”或“拒绝”。")
    except CentralError as exc:
        with read_transaction(_engine(request)) as conn:
            view = _review_view(conn, user)
        return page(request, "staff_reviews.html", user, status=422, done=None, error=exc.detail, **view)
    return _back("/tb/staff/reviews", "allowed" if action == "allow" else "refused")


class _AlreadyDone(Exception):
    """The same form came again: its first sending did the work (the repeat is rolled back)."""


def mark_form(conn: Connection, actor: str, request_id: str, did: str) -> None:
    """Record that form ``request_id`` was done, after its write; raises :class:`_AlreadyDone` for a repeat.

    Checked after the write so that, on PostgreSQL, a concurrent repeat waits on the write's row
    lock and then sees the first one's mark.
    """
    if conn.execute(select(tb_audit.c.id).where(tb_audit.c.subject == f"form:{request_id}")).first():
        raise _AlreadyDone
    audit(conn, actor, "form_done", f"form:{request_id}", {"did": did})


def _rewards_view(conn: Connection) -> dict[str, Any]:
    items = [{"id": r.id, "name": r.name, "cost": coins(r.cost_cc), "stock": r.stock, "request_id": new_request_id(),
              "category": CATEGORIES.get(r.category, r.category)} for r in rewards.catalogue(conn)]
    return {"items": items, "categories": sorted(CATEGORIES.items()), "request_id": new_request_id()}


def _rewards_page(request: Request, user: Any, *, status: int = 200, error: str | None = None) -> Response:
    with read_transaction(_engine(request)) as conn:
        view = _rewards_view(conn)
    return page(request, "staff_rewards.html", user, status=status, done=None if error else _done(request),
                error=error, **view)


@router.get("/tb/staff/rewards")
def rewards_admin(request: Request) -> Response:
    """The catalogue with stock; add a reward; restock."""
    user = require(request, *STAFF_ROLES)
    return _rewards_page(request, user)


@router.post("/tb/staff/rewards/add")
async def reward_add(request: Request) -> Response:
    """Add a reward to the catalogue."""
    user = require(request, *STAFF_ROLES)
    form = await read_form(request)
    check_csrf(request, form)
    try:
        category = form.get("category", "")
        if category not in CATEGORIES:
            raise CentralError("bad_reward", "请选择奖励类别。Choose a category.")
        request_id = request_id_of(form)
        with write_transaction(_engine(request)) as conn:
            added = rewards.add_reward(conn, name=form.get("name", ""), category=category,
                                       cost_cc=parse_coins(form.get("cost")), stock=parse_whole(form.get("stock"), "库存"),
                                       actor=user.actor, unit_id=user.unit_id, at=now_text())
            mark_form(conn, user.actor, request_id, f"reward_add:{added}")
    except _AlreadyDone:
        pass
    except CentralError as exc:
        return _rewards_page(request, user, status=422, error=exc.detail)
    return _back("/tb/staff/rewards", "added")


@router.post("/tb/staff/rewards/{reward_id}/restock")
async def reward_restock(request: Request, reward_id: int) -> Response:
    """Add (or, with a minus sign, take away) stock."""
    user = require(request, *STAFF_ROLES)
    form = await read_form(request)
    check_csrf(request, form)
    try:
        request_id, reward_id = request_id_of(form), row_id(reward_id, "奖励")
        with write_transaction(_engine(request)) as conn:
            rewards.restock(conn, reward_id, parse_whole(form.get("add"), "数量", signed=True), user.actor, now_text())
            mark_form(conn, user.actor, request_id, f"reward_restock:{reward_id}")
    except _AlreadyDone:
        pass
    except CentralError as exc:
        return _rewards_page(request, user, status=422, error=exc.detail)
    return _back("/tb/staff/rewards", "restocked")


def _pool_page(request: Request, user: Any, *, status: int = 200, error: str | None = None,
               ok: str | None = None) -> Response:
    with read_transaction(_engine(request)) as conn:
        balance = ledger.balance_cc(conn, ledger.POOL)
    return page(request, "staff_pool.html", user, status=status, error=error, ok=ok,
                balance=coins(balance), categories=sorted(CATEGORIES.items()),
                grant_request_id=new_request_id(), group_request_id=new_request_id())


@router.get("/tb/staff/pool")
def pool_page(request: Request) -> Response:
    """The pool's balance, a grant form and a group transfer form."""
    user = require(request, *STAFF_ROLES)
    return _pool_page(request, user)


@router.post("/tb/staff/pool/grant")
async def pool_grant_post(request: Request) -> Response:
    """Grant coins from the pool to one member (with the reason)."""
    user = require(request, *STAFF_ROLES)
    form = await read_form(request)
    check_csrf(request, form)
    try:
        to_id = parse_member_no(form.get("member"))
        amount_cc = parse_coins(form.get("amount"))
        with write_transaction(_engine(request)) as conn:
            transfers.pool_grant(conn, to_id, amount_cc, actor=user.actor, memo=form.get("memo", "")[:200],
                                 request_id=request_id_of(form), at=now_text())
            name = member_row(conn, to_id).name_masked
    except CentralError as exc:
        return _pool_page(request, user, status=422, error=exc.detail)
    return _pool_page(request, user, ok=f"已从公益池发给 {name}（{to_id} 号）{coins(amount_cc)} 个时间币。")


def parse_members(text: str | None) -> list[int]:
    """Member numbers separated by spaces, commas or 、 (at most :data:`MAX_GROUP`, no repeats)."""
    parts = [p for p in re.split(r"[\s,，、;；]+", text or "") if p]
    if not parts:
        raise CentralError("bad_member_no", "请填写收款会员的编号，用空格或逗号隔开。")
    ids = [parse_member_no(p) for p in parts]
    if len(set(ids)) != len(ids):
        raise CentralError("bad_member_no", "收款会员编号有重复，请检查。A member is listed twice.")
    if len(ids) > MAX_GROUP:
        raise CentralError("bad_member_no", f"一次最多转给 {MAX_GROUP} 位会员。")
    return ids


@router.post("/tb/staff/pool/group")
async def group_post(request: Request) -> Response:
    """One payer (a member, or the pool) to several members, the same amount each, in one entry."""
    user = require(request, *STAFF_ROLES)
    form = await read_form(request)
    check_csrf(request, form)
    try:
        payer_text = form.get("payer", "").strip()
        payer = ledger.POOL if payer_text in ("公益池", "pool") else ledger.vol_account(parse_member_no(payer_text))
        ids = parse_members(form.get("members"))
        each = parse_coins(form.get("amount"))
        category = form.get("category") or None
        if category is not None and category not in CATEGORIES:
            raise CentralError("bad_category", "请选择服务类别。Choose a category.")
        with write_transaction(_engine(request)) as conn:
            transfers.group_transfer(conn, payer=payer, shares={ledger.vol_account(i): each for i in ids},
                                     actor=user.actor, category=category, memo=form.get("memo", "").strip()[:200] or None,
                                     request_id=request_id_of(form), at=now_text())
    except CentralError as exc:
        return _pool_page(request, user, status=422, error=exc.detail)
    return _pool_page(request, user, ok=f"已转给 {len(ids)} 位会员，每位 {coins(each)} 个时间币，"
                                       f"共 {coins(each * len(ids))} 个。")


@router.get("/tb/staff/member/{volunteer_id}")
def member_page(request: Request, volunteer_id: int) -> Response:
    """One member's record and statement; the read is audited (DESIGN §7)."""
    user = require(request, *STAFF_ROLES)
    with write_transaction(_engine(request)) as conn:
        row = member_row(conn, volunteer_id) if 0 < volunteer_id < 2 ** 63 else None
        if row is None:
            return page(request, "refused.html", user, status=404, title="没有这位会员",
                        message=f"没有编号为 {volunteer_id} 的会员。", back="/tb/staff/hours")
        if not sees(user, row.community):
            return page(request, "refused.html", user, status=403, title="没有权限",
                        message=f"这位会员不属于您的社区（{user.community}）。", back="/tb/staff/hours")
        audit(conn, user.actor, "read_member", ledger.vol_account(volunteer_id), {"page": "staff_member"})
        view = statement_view(conn, volunteer_id)
        today = dt.datetime.now(SHANGHAI).date()
        record = {"id": row.id, "name": row.name_masked, "id_masked": row.id_masked, "age": age_on(row.born_on, today),
                  "phone": row.phone_masked or "—", "community": row.community, "status": row.status,
                  "services": "、".join(CATEGORIES.get(s, s) for s in row.services.split(",") if s) or "—",
                  "hardship": bool(row.hardship), "registered": local_time(row.registered_at)}
    return page(request, "staff_member.html", user, record=record, **view)


@router.get("/tb/staff/member")
def member_find(request: Request) -> Response:
    """The 查会员 box: a member number typed in goes to that member's page."""
    user = require(request, *STAFF_ROLES)
    try:
        volunteer_id = parse_member_no(request.query_params.get("no"))
    except CentralError as exc:
        return page(request, "refused.html", user, status=422, title="会员编号不对", message=exc.detail,
                    back="/tb/staff/hours")
    return RedirectResponse(f"/tb/staff/member/{volunteer_id}", status_code=303)
