"""Registration on a phone, staff-assisted registration and the passbook slip (docs/timebank.md §4, §7).

The service point's QR opens ``/tb/join?c=<community>``; each step is one short form:

    phone → code (SMS) → name + ID number (+ hardship) → up to 3 services and when free → the rules

The flow's state travels in a signed, expiring hidden field (:func:`web_auth.sign_state`).  The
raw ID number lives only in the one POST of its step: that step checks it (valid, old enough, not
registered yet: "您已经登记过了" at once) and passes on only its person key, masked forms and
birth date; the member is stored when the rules are accepted, then signed in and sent home.
Staff (organiser, committee, admin) register an elder on one form (phone optional) and print a
passbook slip (80 mm) with the member number's QR; showing the slip is audited as a read.  A
lost phone is re-bound at the counter (``/tb/staff/phone``) after checking the ID number.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import segno
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from ..db import now_text, read_transaction, write_transaction
from ..errors import CentralError
from . import otp, people
from .audit import audit
from .policy import SERVICES, policy_on, shanghai_day
from .sms import mask_phone
from .web_auth import (
    STAFF_ROLES,
    User,
    check_csrf,
    code_send_refusal,
    page,
    read_form,
    read_form_multi,
    read_state,
    refusal,
    require,
    sign_in,
    sign_state,
)

router = APIRouter(include_in_schema=False)

#: Simple line icons for the service tiles (inline SVG: nothing fetched over the network).
_ICON = ('<svg viewBox="0 0 40 40" aria-hidden="true" fill="none" stroke="#1A1A1A" stroke-width="3" '
         'stroke-linecap="round" stroke-linejoin="round">{}</svg>')
SERVICE_ICONS = {k: _ICON.format(v) for k, v in {
    "companion": '<circle cx="13" cy="13" r="6"/><circle cx="28" cy="13" r="6"/><path d="M3 36c1-9 19-9 20 0M18 36c1-9 19-9 20 0"/>',
    "cleaning": '<path d="M26 4 18 22M10 22h16l4 14H6z"/>',
    "meals": '<path d="M5 20h30a15 15 0 0 1-30 0zM14 6v8M20 4v10M26 6v8"/>',
    "phone": '<rect x="11" y="3" width="18" height="34" rx="3"/><path d="M18 31h4"/>',
    "anti_fraud": '<path d="M20 3 6 9v10c0 9 6 15 14 18 8-3 14-9 14-18V9z"/><path d="m13 20 5 5 9-10"/>',
    "escort": '<rect x="5" y="5" width="30" height="30" rx="4"/><path d="M20 12v16M12 20h16"/>',
    "repair": '<path d="M6 34 22 18M20 8l6-4 10 10-4 6-6-2-4-4z"/>',
    "culture": '<path d="M15 30V8l18-4v22"/><circle cx="10" cy="30" r="5"/><circle cx="28" cy="26" r="5"/>',
}.items()}
STATE = "join"


def services_view(chosen: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The service tiles: code, words, icon, whether chosen."""
    return [{"code": s, "zh": people.SERVICE_ZH[s], "icon": SERVICE_ICONS[s], "checked": s in chosen}
            for s in SERVICES]


def availability_view(bits: int = 0) -> list[dict[str, Any]]:
    """The 2 × 2 grid of free times."""
    return [{"bit": b, "zh": zh, "checked": bool(bits & b)} for b, zh in people.AVAILABILITY_ZH]


def rules_view(conn: Any, day: dt.date) -> dict[str, Any]:
    """The rules in force on ``day`` as numbers for the plain-words list."""
    policy = policy_on(conn, day)
    return {"version": policy.version, **policy.rules.__dict__}


def _start(community: str) -> str:
    return f"/tb/join?c={community}" if community else "/tb/join"


def _settings(request: Request) -> Any:
    return request.app.state.timebank


def _store(request: Request) -> Any:
    return request.app.state.store


def _bits(values: list[str]) -> int:
    bits = 0
    for value in values:
        if value.isdigit() and int(value) in (1, 2, 4, 8):
            bits |= int(value)
    return bits


def already_page(request: Request, found: people.Member, user: User | None, status: int = 200,
                 signed_in: bool = False) -> Response:
    """"您已经登记过了" with the masked phone on file and how to get back in (``signed_in``: just signed in)."""
    return page(request, "already.html", user, status=status, member=found, signed_in=signed_in)


# ---- the phone flow --------------------------------------------------------------------------

@router.get("/tb/join")
def join_start(request: Request, c: str | None = None) -> Response:
    """Step 1: the community (from the QR) and the phone number."""
    community = (c or "").strip()[:64]
    if not community:
        return refusal(request, 404, "请扫描服务点的二维码", "登记要从小区服务点的二维码打开，这样才知道您是哪个小区的。")
    if _settings(request).person_key is None:
        return refusal(request, 503, "登记暂未开放", "登记服务还没有准备好，请到小区服务点请工作人员帮您登记。")
    return page(request, "join_phone.html", None, community=community, phone="", error=None)


@router.post("/tb/join/phone")
async def join_phone(request: Request) -> Response:
    """Send the code; step 2: type it."""
    form = await read_form(request)
    check_csrf(request, form)
    community = form.get("c", "").strip()[:64]
    if not community:
        return refusal(request, 422, "请扫描服务点的二维码", "不知道是哪个小区，请重新扫描服务点的二维码。")
    try:
        phone = otp.clean_phone(form.get("phone", ""))
        too_many = code_send_refusal(request)
        if too_many:
            raise CentralError("too_many_codes", too_many)
        with write_transaction(_store(request).engine) as conn:
            otp.send_code(conn, _settings(request).sms, phone, now_text())
    except CentralError as exc:
        return page(request, "join_phone.html", None, status=422, community=community,
                    phone=form.get("phone", "")[:20], error=exc.detail)
    state = sign_state(request, STATE, {"c": community, "phone": phone})
    return page(request, "code.html", None, action="/tb/join/code", state=state, masked=mask_phone(phone),
                resend="/tb/join/phone", resend_fields={"c": community, "phone": phone}, error=None,
                step="第 2 步，共 5 步")


@router.post("/tb/join/code")
async def join_code(request: Request) -> Response:
    """Check the code; step 3: name and ID number (a phone already registered signs in instead)."""
    form = await read_form(request)
    check_csrf(request, form)
    state = read_state(request, STATE, form.get("state"), "/tb/join")
    community, phone = state["c"], state["phone"]
    try:
        with write_transaction(_store(request).engine) as conn:
            right = otp.verify_code(conn, phone, form.get("code", ""), now_text())
            key = otp.phone_key(conn, phone)
            found = people.by_phone_key(conn, key) if right else None
    except CentralError as exc:
        return refusal(request, 422, "验证码不能用了", exc.detail, back=_start(community))
    if not right:
        return page(request, "code.html", None, status=422, action="/tb/join/code", state=form.get("state"),
                    masked=mask_phone(phone), resend="/tb/join/phone", resend_fields={"c": community, "phone": phone},
                    error="验证码不对，请再看一下短信。", step="第 2 步，共 5 步")
    if found is not None:  # this phone is a member already: sign in, say so
        if found.status != "active":
            return already_page(request, found, None)
        return sign_in(request, already_page(request, found, None, signed_in=True), _store(request), "volunteer",
                       found.id)
    state = sign_state(request, STATE, {"c": community, "pk": key, "pm": mask_phone(phone)})
    return page(request, "join_id.html", None, state=state, name="", hardship=False, error=None)


@router.post("/tb/join/id")
async def join_id(request: Request) -> Response:
    """Check the name and ID number (valid, old enough, not registered yet); step 4: services."""
    form = await read_form(request)
    check_csrf(request, form)
    state = read_state(request, STATE, form.get("state"), "/tb/join")
    if "pk" not in state:
        return refusal(request, 422, "这一步已过期", "请从头再来一次。", back=_start(state.get("c", "")))
    hardship = form.get("hardship") == "1"
    try:
        with read_transaction(_store(request).engine) as conn:
            identity = people.identify(conn, person_key_secret=_settings(request).person_key,
                                       name=form.get("name", ""), id_number=form.get("id_number", ""),
                                       at=now_text())
    except people.AlreadyRegistered as exc:
        return already_page(request, exc.member, None, status=409)
    except CentralError as exc:
        return page(request, "join_id.html", None, status=422, state=form.get("state"),
                    name=form.get("name", "")[:20], hardship=hardship, error=exc.detail)
    # only the keyed hash, masked forms and birth date go on: never the ID number
    state.update(h=hardship, idk=identity.person_key, nm=identity.name_masked, idm=identity.id_masked,
                 born=identity.born_on)
    return page(request, "join_services.html", None, state=sign_state(request, STATE, state),
                services=services_view(), slots=availability_view(), error=None)


@router.post("/tb/join/services")
async def join_services(request: Request) -> Response:
    """Up to 3 services and when free (none is allowed: "看情况"); step 5: the rules."""
    form = await read_form_multi(request)
    check_csrf(request, {"csrf": form.get("csrf", [""])})
    token = (form.get("state") or [""])[0]
    state = read_state(request, STATE, token, "/tb/join")
    bits = _bits(form.get("slot", []))
    try:
        chosen = people.clean_services(form.get("service", []))
        if not chosen:
            raise CentralError("no_service", "请至少选一项您愿意做的服务。")
    except CentralError as exc:
        picked = tuple(s for s in form.get("service", []) if s in SERVICES)
        return page(request, "join_services.html", None, status=422, state=token, services=services_view(picked),
                    slots=availability_view(bits), error=exc.detail)
    with read_transaction(_store(request).engine) as conn:
        rules = rules_view(conn, shanghai_day(now_text()))
    state.update(s=list(chosen), a=bits, rv=rules["version"])
    return page(request, "join_rules.html", None, state=sign_state(request, STATE, state), rules=rules,
                hardship=state.get("h", False))


@router.post("/tb/join/done")
async def join_done(request: Request) -> Response:
    """The rules accepted: store the member, sign in, go home."""
    form = await read_form(request)
    check_csrf(request, form)
    state = read_state(request, STATE, form.get("state"), "/tb/join")
    if not {"pk", "idk", "s", "a", "rv"} <= state.keys():
        return refusal(request, 422, "这一步已过期", "请从头再来一次。", back=_start(state.get("c", "")))
    identity = people.Identity(state["idk"], state["nm"], state["idm"], state["born"])
    try:
        with write_transaction(_store(request).engine) as conn:
            member = people.register_identity(
                conn, identity, phone_key=state["pk"], phone_masked=state["pm"], community=state["c"],
                services=state["s"], availability=state["a"], hardship=bool(state.get("h")),
                rules_version=state["rv"], via="phone", actor="system", at=now_text())
    except people.AlreadyRegistered as exc:
        return already_page(request, exc.member, None, status=409)
    except CentralError as exc:
        return refusal(request, 422, "没有登记成功", exc.detail, back=_start(state["c"]))
    return sign_in(request, RedirectResponse("/tb/me?welcome=1", status_code=303), _store(request), "volunteer",
                   member.id)


# ---- staff-assisted registration and the passbook --------------------------------------------

def _register_form(request: Request, user: User, status: int = 200, error: str | None = None,
                   values: dict[str, Any] | None = None) -> Response:
    values = values or {"community": user.community or "", "services": (), "a": 0, "hardship": False}
    return page(request, "staff_register.html", user, status=status, error=error, values=values,
                services=services_view(tuple(values["services"])), slots=availability_view(values["a"]))


@router.get("/tb/staff/register")
def staff_register_form(request: Request) -> Response:
    """代注册: one form for an elder without a phone (or with one)."""
    user = require(request, *STAFF_ROLES)
    if _settings(request).person_key is None:
        return refusal(request, 503, "登记暂未开放", "中心还没有配置身份证密钥（--person-key-file），暂时不能登记。",
                       user=user)
    return _register_form(request, user)


@router.post("/tb/staff/register")
async def staff_register(request: Request) -> Response:
    """Register the elder; then the passbook slip to print."""
    user = require(request, *STAFF_ROLES)
    form = await read_form_multi(request)
    one = {k: v[0] for k, v in form.items() if len(v) == 1}
    check_csrf(request, one)
    values = {"name": one.get("name", "")[:20], "phone": one.get("phone", "")[:20],
              "community": one.get("community", "")[:64], "services": tuple(form.get("service", [])),
              "a": _bits(form.get("slot", [])), "hardship": one.get("hardship") == "1"}
    if user.community:  # staff of a community register its residents; only staff without one choose
        values["community"] = user.community
    try:
        phone = otp.clean_phone(values["phone"]) if values["phone"].strip() else None
        with write_transaction(_store(request).engine) as conn:
            rules_version = policy_on(conn, shanghai_day(now_text())).version
            member = people.register(
                conn, person_key_secret=_settings(request).person_key, name=values["name"],
                id_number=one.get("id_number", ""), phone_key=otp.phone_key(conn, phone) if phone else None,
                phone_masked=mask_phone(phone) if phone else None, community=values["community"],
                services=values["services"], availability=values["a"], hardship=values["hardship"],
                rules_version=rules_version, via="staff", actor=user.actor, at=now_text())
    except people.AlreadyRegistered as exc:
        return already_page(request, exc.member, user, status=409)
    except CentralError as exc:
        return _register_form(request, user, status=422, error=exc.detail, values=values)
    return RedirectResponse(f"/tb/staff/passbook/{member.id}", status_code=303)


def passbook_qr(member_no: str) -> str:
    """The member number's QR as inline SVG (black on white)."""
    return segno.make(f"LFTB:{member_no}", error="m").svg_inline(scale=1, border=4, dark="#000", light="#fff",
                                                                 omitsize=True)


@router.get("/tb/staff/passbook/{member_id}")
def passbook(request: Request, member_id: int) -> Response:
    """The printable passbook slip (80 mm): number, masked name and ID, community, redemption date, QR, rules."""
    user = require(request, *STAFF_ROLES)
    with write_transaction(_store(request).engine) as conn:
        found = people.member(conn, member_id)
        if found is None:
            return refusal(request, 404, "没有这位成员", f"没有编号为 {member_id} 的成员。", user=user)
        day = shanghai_day(now_text())
        redeem = people.redeem_from(conn, found, day)
        rules = rules_view(conn, day)
        audit(conn, user.actor, "member_read", f"vol:{member_id}", {"page": "passbook"})
    return page(request, "passbook.html", user, member=found, redeem=redeem, redeem_now=redeem <= day, rules=rules,
                qr=passbook_qr(found.member_no))


# ---- the counter re-binds a lost phone -------------------------------------------------------

@router.get("/tb/staff/phone")
def rebind_form(request: Request, m: str | None = None) -> Response:
    """换绑手机号: the member number, the ID number from the card in hand, the new phone (or none)."""
    user = require(request, *STAFF_ROLES)
    return page(request, "staff_phone.html", user, member_no=(m or "")[:12], phone="", error=None, done=None)


@router.post("/tb/staff/phone")
async def rebind(request: Request) -> Response:
    """Check the ID number against the member, bind the new phone; audited."""
    user = require(request, *STAFF_ROLES)
    form = await read_form(request)
    check_csrf(request, form)
    member_no, typed = form.get("member_no", "").strip()[:12], form.get("phone", "")[:20]
    try:
        if not member_no.isdigit() or int(member_no) <= 0:
            raise CentralError("bad_member_no", "会员号是存折上的 6 位数字。")
        phone = otp.clean_phone(typed) if typed.strip() else None
        with write_transaction(_store(request).engine) as conn:
            changed = people.rebind_phone(
                conn, int(member_no), person_key_secret=_settings(request).person_key,
                id_number=form.get("id_number", ""), phone_key=otp.phone_key(conn, phone) if phone else None,
                phone_masked=mask_phone(phone) if phone else None, actor=user.actor, at=now_text())
    except CentralError as exc:
        return page(request, "staff_phone.html", user, status=422, member_no=member_no, phone=typed,
                    error=exc.detail, done=None)
    return page(request, "staff_phone.html", user, member_no="", phone="", error=None, done=changed)
