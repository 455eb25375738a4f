"""Activities pages: the list with sign-up, one activity, the organiser's desk and the QR check-in (helper D).

``GET /tb/activities`` upcoming activities with places left and a 报名 / 取消报名 button;
``GET /tb/activities/<id>`` one activity; ``POST .../signup`` and ``.../cancel`` (a refusal is
the page again with its words, status 409).  ``GET /tb/staff/activities`` the organiser's form
and list; ``GET /tb/staff/activities/<id>`` who signed up and the check-in QR (segno, inline
SVG of ``/tb/a/<token>``).  ``GET /tb/a/<token>`` a signed-in volunteer's one big 签到 / 签退
button; ``POST`` it calls :func:`.hours.check_in` / :func:`.hours.check_out` with ``via="qr"``.
Every form posts with the CSRF token; every write is audited by the domain functions.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import segno
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy import Engine, select

from ..db import now_text, read_transaction, write_transaction
from ..errors import CentralError
from . import activities as acts
from . import hours
from .pages_cosign import cosign_link
from .projects import projects
from .schema import tb_activities
from .web_auth import PageExit, User, check_csrf, page, read_form, refusal, require

router = APIRouter(include_in_schema=False)

STAFF = ("organiser", "committee", "admin")
SHOWN = 60  # activities on a list


def _engine(request: Request) -> Engine:
    return request.app.state.store.engine


def when(start: str, end: str) -> str:
    """``3月5日 周四 09:00–11:00`` (Shanghai time; the end's date too when it is another day)."""
    a, b = acts.local(start), acts.local(end)
    week = "一二三四五六日"[a.weekday()]
    tail = b.strftime("%H:%M") if a.date() == b.date() else f"{b.month}月{b.day}日 {b:%H:%M}"
    return f"{a.month}月{a.day}日 周{week} {a:%H:%M}–{tail}"


def view(a: acts.Activity, unit_names: dict[int, str] | None = None) -> dict[str, Any]:
    """An activity ready for a template."""
    return {"id": a.id, "title": a.title, "category": acts.CATEGORIES.get(a.category, a.category), "place": a.place,
            "when": when(a.starts_at, a.ends_at), "slots": a.slots, "signed": a.signed, "left": a.left,
            "status": a.status, "unit": (unit_names or {}).get(a.unit_id or 0, ""),
            "needs": "、".join(acts.NEEDS.get(n, n) for n in a.needs.split(",") if n)}


def _unit_names(conn: Any) -> dict[int, str]:
    return {u.id: u.name for u in acts.units(conn)}


def _int(value: str | None, what: str) -> int:
    text = (value or "").strip()
    if not text.isdigit() or len(text) > 9:
        raise CentralError("bad_number", f"{what}请填写数字")
    return int(text)


def _list_page(request: Request, user: User, *, message: str = "", error: str = "", status: int = 200) -> Response:
    with read_transaction(_engine(request)) as conn:
        community = user.community if user.kind == "volunteer" or user.role != "admin" else None
        found = acts.list_activities(conn, community=community, from_at=now_text(), limit=SHOWN)
        mine = acts.signed_ids(conn, user.id) if user.kind == "volunteer" else set()
        names = _unit_names(conn)
    items = [dict(view(a, names), mine=a.id in mine) for a in found]
    return page(request, "activities.html", user, status=status, items=items, message=message, error=error)


@router.get("/tb/activities")
def activities_page(request: Request) -> Response:
    """Upcoming activities of the member's community with places left and a sign-up button."""
    user = require(request)
    return _list_page(request, user)


def _activity_or_404(request: Request, conn: Any, activity_id: int, user: User) -> acts.Activity:
    found = acts.activity(conn, activity_id)
    if found is None:
        raise PageExit(refusal(request, 404, "没有这项活动", "这项活动不存在，可能链接有误。", user=user,
                               back="/tb/activities"))
    return found


def _detail(request: Request, user: User, activity_id: int, *, message: str = "", error: str = "",
            status: int = 200) -> Response:
    with read_transaction(_engine(request)) as conn:
        found = _activity_or_404(request, conn, activity_id, user)
        mine = user.kind == "volunteer" and activity_id in acts.signed_ids(conn, user.id)
        item = view(found, _unit_names(conn))
    started = found.starts_at <= now_text()
    return page(request, "activity.html", user, status=status, a=dict(item, mine=mine), started=started,
                message=message, error=error)


@router.get("/tb/activities/{activity_id}")
def activity_page(request: Request, activity_id: int) -> Response:
    """One activity: when, where, places left, what it needs, and the sign-up button."""
    user = require(request)
    done = request.query_params.get("done")
    message = {"signed": "报名成功，请按时到场。", "cancelled": "已取消报名。"}.get(done or "", "")
    return _detail(request, user, activity_id, message=message)


async def _volunteer_form(request: Request) -> User:
    user = require(request, "volunteer")
    check_csrf(request, await read_form(request))
    return user


@router.post("/tb/activities/{activity_id}/signup")
async def signup_post(request: Request, activity_id: int) -> Response:
    """Take a place; a refusal (full, too early, profile missing...) is the page again with its words."""
    user = await _volunteer_form(request)
    try:
        with write_transaction(_engine(request)) as conn:
            acts.sign_up(conn, activity_id, user.id, actor=user.actor, at=now_text())
    except CentralError as exc:
        if exc.reason == "no_activity":
            raise PageExit(refusal(request, 404, "没有这项活动", exc.detail, user=user, back="/tb/activities")) from None
        return _detail(request, user, activity_id, error=exc.detail, status=409)
    return RedirectResponse(f"/tb/activities/{activity_id}?done=signed", status_code=303)


@router.post("/tb/activities/{activity_id}/cancel")
async def cancel_post(request: Request, activity_id: int) -> Response:
    """Give the place back before the activity starts."""
    user = await _volunteer_form(request)
    try:
        with write_transaction(_engine(request)) as conn:
            acts.cancel_signup(conn, activity_id, user.id, actor=user.actor, at=now_text())
    except CentralError as exc:
        if exc.reason == "no_activity":
            raise PageExit(refusal(request, 404, "没有这项活动", exc.detail, user=user, back="/tb/activities")) from None
        return _detail(request, user, activity_id, error=exc.detail, status=409)
    return RedirectResponse(f"/tb/activities/{activity_id}?done=cancelled", status_code=303)


# -- the organiser's desk ------------------------------------------------------------------

def may_manage(user: User, a: acts.Activity, created_by: str) -> bool:
    """Admin: every activity; committee: their community's; organiser: their unit's or their own."""
    if user.role == "admin":
        return True
    if user.role == "committee":
        return a.community == user.community
    return (user.unit_id is not None and a.unit_id == user.unit_id) or created_by == user.actor


def _desk(request: Request, user: User, *, form: dict[str, str] | None = None, message: str = "", error: str = "",
          status: int = 200) -> Response:
    with read_transaction(_engine(request)) as conn:
        community = None if user.role == "admin" else user.community
        found = acts.list_activities(conn, community=community, limit=SHOWN,
                                     from_at=(dt.datetime.now(dt.UTC) - dt.timedelta(days=7)).isoformat(),
                                     include_cancelled=True)
        names = _unit_names(conn)
        partners = acts.units(conn, "partner")
        chosen = projects(conn, community=community, status="chosen")
    return page(request, "activities_staff.html", user, status=status, items=[view(a, names) for a in found],
                partners=partners, chosen=chosen, categories=acts.CATEGORIES, needs=acts.NEEDS,
                form=form or {"community": user.community or "", "slots": "10"}, message=message, error=error,
                can_units=user.role in ("committee", "admin"))


@router.get("/tb/staff/activities")
def desk_page(request: Request) -> Response:
    """The organiser's form for a new activity and the list of recent and coming ones."""
    user = require(request, *STAFF)
    return _desk(request, user)


@router.post("/tb/staff/activities")
async def desk_add(request: Request) -> Response:
    """Add an activity from the form; a bad field is the form again with its words."""
    user = require(request, *STAFF)
    form = await read_form(request)
    check_csrf(request, form)
    needs = ",".join(code for code in acts.NEEDS if form.get(f"need_{code}"))
    try:
        unit_id = _int(form["unit_id"], "单位") if form.get("unit_id") else user.unit_id
        project_id = _int(form["project_id"], "小区微事") if form.get("project_id") else None
        with write_transaction(_engine(request)) as conn:
            aid = acts.add_activity(conn, title=form.get("title", ""), category=form.get("category", ""),
                                    community=form.get("community", "") if user.role == "admin"
                                    else (user.community or form.get("community", "")),
                                    place=form.get("place", ""), starts_at=form.get("starts_at", ""),
                                    ends_at=form.get("ends_at", ""), slots=_int(form.get("slots"), "名额"),
                                    actor=user.actor, at=now_text(), unit_id=unit_id, project_id=project_id,
                                    needs=needs)
    except CentralError as exc:
        return _desk(request, user, form=form, error=exc.detail, status=422)
    return RedirectResponse(f"/tb/staff/activities/{aid}", status_code=303)


@router.post("/tb/staff/units")
async def unit_add(request: Request) -> Response:
    """Committee or admin: add a partner unit or a residents' team."""
    user = require(request, "committee", "admin")
    form = await read_form(request)
    check_csrf(request, form)
    try:
        with write_transaction(_engine(request)) as conn:
            acts.add_unit(conn, form.get("kind", ""), form.get("name", ""),
                          form.get("community") or user.community, user.actor, now_text())
    except CentralError as exc:
        return _desk(request, user, error=exc.detail, status=422)
    return _desk(request, user, message=f"已添加：{form.get('name', '').strip()}")


def qr_svg(url: str) -> Markup:
    """The QR symbol of ``url`` as inline SVG (dark modules on white, 4-module quiet zone)."""
    return Markup(segno.make(url, error="m", micro=False).svg_inline(dark="#000000", light="#FFFFFF", border=4,
                                                                     omitsize=True, title="签到二维码"))


def _managed_activity(request: Request, conn: Any, user: User, activity_id: int) -> acts.Activity:
    """The activity when ``user`` may manage it; a worded 404 or 403 page otherwise."""
    found = _activity_or_404(request, conn, activity_id, user)
    created_by = conn.execute(select(tb_activities.c.created_by)
                              .where(tb_activities.c.id == activity_id)).scalar_one()
    if not may_manage(user, found, created_by):
        raise PageExit(refusal(request, 403, "没有权限", "这项活动不归您管理。", user=user,
                               back="/tb/staff/activities"))
    return found


def _staff_activity(request: Request, user: User, activity_id: int, *, message: str = "", error: str = "",
                    status: int = 200) -> Response:
    with read_transaction(_engine(request)) as conn:
        found = _managed_activity(request, conn, user, activity_id)
        people = acts.roster(conn, activity_id)
        item = view(found, _unit_names(conn))
        checked = hours.shifts(conn, activity_id=activity_id, limit=500)
    url = f"{request.base_url}tb/a/{quote(found.checkin_token)}"
    return page(request, "activity_staff.html", user, status=status, a=item, people=people, qr=qr_svg(url),
                url=url, checked_in=sum(1 for s in checked if s.status == "open"),
                checked_out=sum(1 for s in checked if s.status != "open"), message=message, error=error)


@router.get("/tb/staff/activities/{activity_id}")
def staff_activity_page(request: Request, activity_id: int) -> Response:
    """One activity for its organiser: who signed up, how many are checked in, and the check-in QR."""
    user = require(request, *STAFF)
    return _staff_activity(request, user, activity_id)


@router.post("/tb/staff/activities/{activity_id}/cancel")
async def staff_cancel(request: Request, activity_id: int) -> Response:
    """Cancel the activity (its sign-ups stay, shown with it)."""
    user = require(request, *STAFF)
    form = await read_form(request)
    check_csrf(request, form)
    with write_transaction(_engine(request)) as conn:
        _managed_activity(request, conn, user, activity_id)  # refuses an activity the user may not manage
        acts.cancel_activity(conn, activity_id, actor=user.actor, at=now_text())
    return _staff_activity(request, user, activity_id, message="活动已取消。")


# -- QR check-in ---------------------------------------------------------------------------

def _checkin(request: Request, user: User, token: str, *, message: str = "", error: str = "",
             status: int = 200, cosign_url: str | None = None) -> Response:
    with read_transaction(_engine(request)) as conn:
        found = acts.activity_by_token(conn, token)
        if found is None:
            raise PageExit(refusal(request, 404, "二维码无效", "这个签到二维码不对或已失效，请找组织者。", user=user))
        shift = hours.open_shift(conn, user.id)
    here = shift is not None and shift.activity_id == found.id
    elsewhere = shift is not None and not here
    return page(request, "activity_checkin.html", user, status=status, a=view(found), token=token, here=here,
                elsewhere=elsewhere, since=acts.local(shift.check_in_at).strftime("%H:%M") if shift else "",
                message=message, error=error, cosign_qr=qr_svg(cosign_url) if cosign_url else None)


@router.get("/tb/a/{token}")
def checkin_page(request: Request, token: str) -> Response:
    """The page the activity's QR opens: one big 签到 button, or 签退 when checked in."""
    user = require(request, "volunteer")
    return _checkin(request, user, token)


@router.post("/tb/a/{token}")
async def checkin_post(request: Request, token: str) -> Response:
    """Check in to the activity (``action=in``) or out (``action=out``) by the QR."""
    user = require(request, "volunteer")
    form = await read_form(request)
    check_csrf(request, form)
    action = form.get("action")
    cosign_url = None
    try:
        with write_transaction(_engine(request)) as conn:
            found = acts.activity_by_token(conn, token)
            if found is None:
                raise PageExit(refusal(request, 404, "二维码无效", "这个签到二维码不对或已失效，请找组织者。", user=user))
            if action == "in":
                refused = acts.check_in_refusal(found, now_text())
                if refused:
                    raise CentralError("checkin_closed", refused)
                hours.check_in(conn, user.id, at=now_text(), via="qr", actor=user.actor, activity_id=found.id)
                words = "签到成功。活动结束时请再扫码签退。"
            elif action == "out":
                done = hours.check_out(conn, user.id, at=now_text(), via="qr", actor=user.actor)
                words = f"签退成功，本次服务 {done.shift.minutes or 0} 分钟，等组织者审核后记入时间币。"
                if done.shift.status == "pending" and done.shift.flag is None:  # the resident may confirm it now
                    words = (f"签退成功，本次服务 {done.shift.minutes or 0} 分钟。请服务对象用自己的手机扫下面的"
                             "二维码确认（半小时内有效）；没有确认的，等组织者审核后记入时间币。")
                    cosign_url = cosign_link(request, done.shift.id)
            else:
                raise CentralError("bad_action", "请按页面上的按钮签到或签退")
    except CentralError as exc:
        return _checkin(request, user, token, error=exc.detail, status=409)
    return _checkin(request, user, token, message=words, cosign_url=cosign_url)
