"""Signing in and out, and the volunteer's own pages: home and profile (docs/timebank.md §7).

    GET/POST /tb/login, POST /tb/login/code       phone + one-time code (volunteers)
    GET/POST /tb/staff/login                       login + password (organisers, committee, admins)
    POST /tb/logout                                the sign-out form on every page
    GET /tb/me                                     masked name, number, coins, redemption date, next activities
    GET/POST /tb/me/profile, GET /tb/me/photo      emergency contact, photo, skills, certificates, team
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection, select

from ..db import now_text, read_transaction, write_transaction
from ..errors import CentralError
from . import otp, people
from .policy import shanghai_day
from .schema import tb_activities, tb_balances, tb_signups, tb_staff, tb_units
from .sms import mask_phone
from .staff import check_staff_password
from .web_auth import (
    HEADERS,
    STAFF_NAV,
    app_limiter,
    check_csrf,
    code_send_refusal,
    current_user,
    image_type,
    page,
    read_form,
    read_photo_form,
    read_state,
    refusal,
    require,
    safe_next,
    sign_in,
    sign_out,
    sign_state,
)

router = APIRouter(include_in_schema=False)
STATE = "login"
CERT_ROWS = 1  # empty certificate rows on the profile form after the filled ones


def _store(request: Request) -> Any:
    return request.app.state.store


# ---- volunteers: phone + code ----------------------------------------------------------------

@router.get("/tb/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The phone number form (a signed-in volunteer goes straight on)."""
    user = current_user(request)
    if user is not None and user.kind == "volunteer":
        return RedirectResponse(safe_next(next), status_code=303)
    return page(request, "login.html", None, next=safe_next(next), phone="", error=None)


@router.post("/tb/login")
async def login_send(request: Request) -> Response:
    """Send a code to a registered phone; then the code form."""
    form = await read_form(request)
    check_csrf(request, form)
    target = safe_next(form.get("next"))
    try:
        phone = otp.clean_phone(form.get("phone", ""))
        with write_transaction(_store(request).engine) as conn:
            if people.by_phone_key(conn, otp.phone_key(conn, phone)) is None:
                raise CentralError("unknown_phone", "这个手机号还没有登记。请扫描小区服务点的二维码登记，"
                                                    "或请工作人员帮您登记。")
            too_many = code_send_refusal(request)
            if too_many:
                raise CentralError("too_many_codes", too_many)
            otp.send_code(conn, request.app.state.timebank.sms, phone, now_text())
    except CentralError as exc:
        return page(request, "login.html", None, status=422, next=target, phone=form.get("phone", "")[:20],
                    error=exc.detail)
    return page(request, "code.html", None, action="/tb/login/code",
                state=sign_state(request, STATE, {"phone": phone, "next": target}, ttl_s=900),
                masked=mask_phone(phone), resend="/tb/login", resend_fields={"phone": phone, "next": target},
                error=None, step=None)


@router.post("/tb/login/code")
async def login_code(request: Request) -> Response:
    """Check the code; signed in for 30 days."""
    form = await read_form(request)
    check_csrf(request, form)
    state = read_state(request, STATE, form.get("state"), "/tb/login")
    phone, target = state["phone"], safe_next(state.get("next"))
    try:
        with write_transaction(_store(request).engine) as conn:
            right = otp.verify_code(conn, phone, form.get("code", ""), now_text())
            found = people.by_phone_key(conn, otp.phone_key(conn, phone)) if right else None
    except CentralError as exc:
        return refusal(request, 422, "验证码不能用了", exc.detail, back="/tb/login")
    if not right:
        return page(request, "code.html", None, status=422, action="/tb/login/code", state=form.get("state"),
                    masked=mask_phone(phone), resend="/tb/login", resend_fields={"phone": phone, "next": target},
                    error="验证码不对，请再看一下短信。", step=None)
    if found is None or found.status != "active":
        return refusal(request, 403, "不能登录", "这个手机号的会员资格已停用，请到小区服务点询问。", back="/tb/login")
    return sign_in(request, RedirectResponse(target, status_code=303), _store(request), "volunteer", found.id)


# ---- staff: login + password -----------------------------------------------------------------

def _staff_home() -> str:
    return STAFF_NAV[0][0]


@router.get("/tb/staff/login")
def staff_login_form(request: Request, next: str | None = None) -> Response:
    """The staff sign-in form (signed-in staff go straight on)."""
    user = current_user(request)
    if user is not None and user.is_staff:
        return RedirectResponse(safe_next(next, _staff_home()), status_code=303)
    return page(request, "login_staff.html", None, next=safe_next(next, _staff_home()), login="", error=None)


STAFF_LOGIN_BURST = 5  # sign-ins one staff login may try at once
STAFF_LOGIN_EVERY_S = 120.0  # then one more every 2 minutes (a guesser gets 30 tries an hour, not thousands)


@router.post("/tb/staff/login")
async def staff_login(request: Request) -> Response:
    """Check the password (scrypt, constant time); signed in for 8 hours.  Tries per login are limited."""
    form = await read_form(request)
    check_csrf(request, form)
    target = safe_next(form.get("next"), _staff_home())
    login = form.get("login", "").strip()
    with read_transaction(_store(request).engine) as conn:
        known = conn.execute(select(tb_staff.c.id).where(tb_staff.c.login == login[:40])).first() is not None
        wait = app_limiter(request, "staff_login_attempts", every_s=STAFF_LOGIN_EVERY_S,
                           burst=STAFF_LOGIN_BURST).take(login) if known else 0.0
        if wait > 0:
            return page(request, "login_staff.html", None, status=429, next=target, login=login[:40],
                        error=f"这个登录名试得太多了，请 {max(1, round(wait / 60))} 分钟后再试。")
        staff_id = check_staff_password(conn, form.get("login", ""), form.get("password", ""))
    if staff_id is None:
        return page(request, "login_staff.html", None, status=401, next=target, login=form.get("login", "")[:40],
                    error="登录名或密码不对，请重新输入。")
    return sign_in(request, RedirectResponse(target, status_code=303), _store(request), "staff", staff_id)


@router.post("/tb/logout")
async def logout(request: Request) -> Response:
    """End the session (the form of a signed-in page), back to the right sign-in form."""
    form = await read_form(request)
    check_csrf(request, form)
    user = current_user(request)
    where = "/tb/staff/login" if user is not None and user.is_staff else "/tb/login"
    return sign_out(RedirectResponse(where, status_code=303))


# ---- home ------------------------------------------------------------------------------------

def _coins(conn: Connection, member_id: int) -> dict[str, int]:
    """Balance, given and received in cc (the ledger's statement when it is there)."""
    try:
        from .ledger import statement
    except ImportError:  # helper A's ledger not in this checkout yet: the cached balance only
        row = conn.execute(select(tb_balances.c.balance_cc).where(tb_balances.c.account == f"vol:{member_id}")).first()
        return {"balance": int(row[0]) if row else 0, "given": 0, "received": 0, "pending": 0}
    found = statement(conn, member_id, limit=0)
    return {"balance": found.balance_cc, "given": found.given_cc, "received": found.received_cc,
            "pending": found.pending_cc}


def coins_text(cc: int) -> str:
    """``150`` -> ``1.5``; ``200`` -> ``2`` (coins from hundredths)."""
    whole, part = divmod(abs(cc), 100)
    text = f"{whole}" if not part else f"{whole}.{part:02d}".rstrip("0")
    return ("-" if cc < 0 else "") + text


def _next_activities(conn: Connection, member_id: int, now: str, limit: int = 5) -> list[Any]:
    return conn.execute(
        select(tb_activities.c.id, tb_activities.c.title, tb_activities.c.place, tb_activities.c.starts_at)
        .join(tb_signups, tb_signups.c.activity_id == tb_activities.c.id)
        .where(tb_signups.c.volunteer_id == member_id, tb_signups.c.status == "signed",
               tb_activities.c.status == "open", tb_activities.c.ends_at >= now)
        .order_by(tb_activities.c.starts_at).limit(limit)).all()


def local_time(at: str) -> str:
    """A stored time as Shanghai ``3 月 5 日 09:00``."""
    when = dt.datetime.fromisoformat(at).astimezone(dt.timezone(dt.timedelta(hours=8)))
    return f"{when.month} 月 {when.day} 日 {when:%H:%M}"


@router.get("/tb/me")
def home(request: Request, welcome: str | None = None) -> Response:
    """The volunteer's home."""
    user = require(request, "volunteer")
    now = now_text()
    with read_transaction(_store(request).engine) as conn:
        member = people.member(conn, user.id)
        assert member is not None  # require() found the active member
        redeem = people.redeem_from(conn, member, shanghai_day(now))
        coins = _coins(conn, user.id)
        upcoming = [{"title": a.title, "place": a.place, "when": local_time(a.starts_at), "id": a.id}
                    for a in _next_activities(conn, user.id, now)]
    return page(request, "home.html", user, member=member, coins={k: coins_text(v) for k, v in coins.items()},
                redeem=redeem, can_redeem=redeem <= shanghai_day(now), upcoming=upcoming, welcome=welcome == "1")


# ---- profile ---------------------------------------------------------------------------------

def _teams(conn: Connection, community: str) -> list[Any]:
    return conn.execute(select(tb_units.c.id, tb_units.c.name).where(tb_units.c.kind == "team")
                        .where((tb_units.c.community == community) | tb_units.c.community.is_(None))
                        .order_by(tb_units.c.name)).all()


def _profile_page(request: Request, user: Any, member: people.Member, status: int = 200, error: str | None = None,
                  saved: bool = False, values: dict[str, Any] | None = None) -> Response:
    with read_transaction(_store(request).engine) as conn:
        teams = _teams(conn, member.community)
    certs = list(values["certificates"] if values else member.certificates)
    certs += [{"name": "", "until": ""}] * CERT_ROWS
    shown = values or {"emergency_relation": member.emergency_relation or "",
                       "emergency_phone": member.emergency_phone or "", "skills": member.skills or "",
                       "team_id": member.team_id}
    return page(request, "profile.html", user, status=status, member=member, error=error, saved=saved,
                values=shown, certs=certs, teams=teams, needs=people.NEEDS_ZH)


@router.get("/tb/me/profile")
def profile_form(request: Request, saved: str | None = None) -> Response:
    """The profile form (asked little at registration; the rest when an activity needs it)."""
    user = require(request, "volunteer")
    with read_transaction(_store(request).engine) as conn:
        member = people.member(conn, user.id)
    assert member is not None
    return _profile_page(request, user, member, saved=saved == "1")


@router.post("/tb/me/profile")
async def profile_save(request: Request) -> Response:
    """Save the profile (multipart with the photo, ≤ 200 KB JPEG/PNG)."""
    user = require(request, "volunteer")
    form, photo = await read_photo_form(request)
    check_csrf(request, form)
    certs = [{"name": form.get(f"cert_name_{i}", "")[:40], "until": form.get(f"cert_until_{i}", "")[:10]}
             for i in range(CERT_ROWS + people.MAX_CERTIFICATES) if f"cert_name_{i}" in form]
    team = form.get("team_id", "")
    values = {"emergency_relation": form.get("emergency_relation", "")[:20],
              "emergency_phone": form.get("emergency_phone", "")[:20], "skills": form.get("skills", "")[:200],
              "team_id": int(team) if team.isdigit() else None, "certificates": certs}
    try:
        with write_transaction(_store(request).engine) as conn:
            people.update_profile(conn, user.id, emergency_relation=values["emergency_relation"],
                                  emergency_phone=values["emergency_phone"], skills=values["skills"],
                                  certificates=certs, team_id=values["team_id"], photo=photo,
                                  photo_type=_photo_type(photo), actor=user.actor, at=now_text())
    except CentralError as exc:
        with read_transaction(_store(request).engine) as conn:
            member = people.member(conn, user.id)
        assert member is not None
        return _profile_page(request, user, member, status=422, error=exc.detail, values=values)
    return RedirectResponse("/tb/me/profile?saved=1", status_code=303)


def _photo_type(photo: bytes | None) -> str | None:
    return image_type(photo) if photo else None


@router.get("/tb/me/photo")
def my_photo(request: Request) -> Response:
    """The signed-in volunteer's own photo (never cached)."""
    user = require(request, "volunteer")
    with read_transaction(_store(request).engine) as conn:
        found = people.photo(conn, user.id)
    if found is None:
        return refusal(request, 404, "还没有照片", "您还没有上传照片。", user=user, back="/tb/me/profile")
    data, kind = found
    return Response(data, media_type=kind, headers={k: v for k, v in HEADERS.items()
                                                    if k != "Content-Security-Policy"})
