"""Signing in to the Time Bank's pages: sessions, roles, CSRF, strict forms and the page renderer.

A session is the cookie ``tb_session`` = ``<expiry>.<kind>:<id>.<nonce>.<HMAC>`` signed with the
``session`` secret of ``tb_secrets`` (32 random bytes made on first use, safe with several worker
processes: ``INSERT ... ON CONFLICT DO NOTHING`` then read back).  ``HttpOnly``,
``SameSite=Strict``, ``Secure`` over HTTPS; 30 days for a volunteer, 8 hours for staff.  A form
of a signed-in page carries ``HMAC(key, "csrf." + nonce)``; an anonymous form (sign-in, joining)
carries ``HMAC(key, "anon." + nonce)`` where the nonce is in the strict cookie ``tb_csrf`` (a
double submit another site can neither read nor forge).

A page that cannot go on raises :class:`PageExit` (``LoginNeeded``: a 303 to the sign-in form;
a worded 403 or 422 page); ``sync.central.app`` registers :func:`page_exit_handler` for it.
"""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import secrets
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Connection, Engine, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..db import now_text, read_transaction, write_transaction
from ..ratelimit import PushLimiter
from .schema import tb_secrets, tb_staff, tb_volunteers

SESSION = "tb_session"
CSRF_COOKIE = "tb_csrf"
VOLUNTEER_S = 30 * 86400
STAFF_S = 8 * 3600
CSRF_COOKIE_S = 3600
STAFF_ROLES = ("organiser", "committee", "admin")
ROLES = ("volunteer", *STAFF_ROLES)
MAX_PHOTO_BYTES = 200 * 1024

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).resolve().parent.parent / "web" / "templates"),
                        autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)
HEADERS = {"Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
           "X-Content-Type-Options": "nosniff",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                                      "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"}

#: The big links at the top of every page, by role (one list so every helper's pages share it).
VOLUNTEER_NAV = (("/tb/me", "我的"), ("/tb/activities", "活动"), ("/tb/projects", "小区微事"),
                 ("/tb/rewards", "兑换"))
STAFF_NAV = (("/tb/staff/hours", "审核工时"), ("/tb/staff/reviews", "待复核"),
             ("/tb/staff/activities", "活动管理"), ("/tb/reports", "报表"), ("/tb/staff/register", "代注册"))


@dataclass(frozen=True)
class User:
    """Who is signed in.  ``unit_id``: a staff member's partner unit, a volunteer's team."""

    kind: str  # "volunteer" | "staff"
    id: int
    role: str  # volunteer | organiser | committee | admin
    name: str  # masked for volunteers
    login: str | None
    community: str | None
    unit_id: int | None

    @property
    def actor(self) -> str:
        """The audit actor: ``vol:<id>`` or ``staff:<login>``."""
        return f"vol:{self.id}" if self.kind == "volunteer" else f"staff:{self.login}"

    @property
    def is_staff(self) -> bool:
        """An organiser, committee worker or admin."""
        return self.kind == "staff"


class PageExit(Exception):
    """A page that ends early with ``response`` (a redirect, or a worded refusal page)."""

    def __init__(self, response: Response) -> None:
        """Carry the answer."""
        super().__init__(getattr(response, "status_code", 0))
        self.response = response


class LoginNeeded(PageExit):
    """No valid session: a 303 to the volunteer's (or, for staff-only pages, the staff) sign-in form."""

    def __init__(self, next_path: str, staff: bool = False) -> None:
        """Send the browser to sign in, then back to ``next_path``."""
        login = "/tb/staff/login" if staff else "/tb/login"
        super().__init__(RedirectResponse(f"{login}?next={quote(next_path, safe='')}", status_code=303))
        self.next_path = next_path
        self.staff = staff


async def page_exit_handler(_request: Request, exc: Exception) -> Response:
    """The app's handler for :class:`PageExit`: its response."""
    assert isinstance(exc, PageExit)
    return exc.response


# ---- secrets ---------------------------------------------------------------------------------

_SECRETS: weakref.WeakKeyDictionary[Engine, dict[str, bytes]] = weakref.WeakKeyDictionary()


def secret_in(conn: Connection, name: str) -> bytes:
    """The named secret of ``tb_secrets`` (32 random bytes), made inside ``conn``'s transaction if missing."""
    row = conn.execute(select(tb_secrets.c.value).where(tb_secrets.c.name == name)).first()
    if row is None:
        insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
        conn.execute(insert(tb_secrets).values(name=name, value=secrets.token_hex(32), made_at=now_text())
                     .on_conflict_do_nothing(index_elements=["name"]))
        row = conn.execute(select(tb_secrets.c.value).where(tb_secrets.c.name == name)).one()
    return bytes.fromhex(row[0])


def secret(engine: Engine, name: str) -> bytes:
    """The named secret, cached per engine (made on first use)."""
    cache = _SECRETS.setdefault(engine, {})
    if name not in cache:
        with read_transaction(engine) as conn:
            row = conn.execute(select(tb_secrets.c.value).where(tb_secrets.c.name == name)).first()
        if row is not None:
            cache[name] = bytes.fromhex(row[0])
        else:
            with write_transaction(engine) as conn:
                cache[name] = secret_in(conn, name)
    return cache[name]


def _sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _engine(request: Request) -> Engine:
    return request.app.state.store.engine


# ---- sessions --------------------------------------------------------------------------------

def session_cookie(store: Any, user_kind: str, user_id: int, now: float | None = None) -> tuple[str, str]:
    """``(cookie name, value)`` signing ``user_kind`` (volunteer|staff) ``user_id`` in (tests, the bench, sign-in)."""
    if user_kind not in ("volunteer", "staff"):
        raise ValueError(f"user_kind must be volunteer or staff, not {user_kind!r}")
    key = secret(store.engine, "session")
    expiry = int(now if now is not None else time.time()) + (VOLUNTEER_S if user_kind == "volunteer" else STAFF_S)
    body = f"{expiry}.{user_kind}:{int(user_id)}.{secrets.token_urlsafe(16)}"
    return SESSION, f"{body}.{_sign(key, 'session.' + body)}"


def _session(request: Request) -> tuple[str, int, str] | None:
    """``(kind, id, nonce)`` of a valid, unexpired, correctly signed cookie, else None."""
    value = request.cookies.get(SESSION, "")
    parts = value.split(".")
    if len(parts) != 4:
        return None
    expiry, who, nonce, signature = parts
    kind, _, ident = who.partition(":")
    if not expiry.isdigit() or int(expiry) < time.time() or kind not in ("volunteer", "staff") \
            or not ident.isdigit() or not nonce:
        return None
    expected = _sign(secret(_engine(request), "session"), f"session.{expiry}.{who}.{nonce}")
    return (kind, int(ident), nonce) if hmac.compare_digest(signature, expected) else None


def load_user(conn: Connection, kind: str, user_id: int) -> User | None:
    """The active member or staff account ``user_id`` as a :class:`User`, or None."""
    if kind == "volunteer":
        v = conn.execute(select(tb_volunteers).where(tb_volunteers.c.id == user_id,
                                                     tb_volunteers.c.status == "active")).first()
        return None if v is None else User("volunteer", v.id, "volunteer", v.name_masked, None, v.community,
                                           v.team_id)
    s = conn.execute(select(tb_staff).where(tb_staff.c.id == user_id, tb_staff.c.active == 1)).first()
    if s is None or s.role not in STAFF_ROLES:
        return None
    return User("staff", s.id, s.role, s.display_name, s.login, s.community, s.unit_id)


def current_user(request: Request) -> User | None:
    """The signed-in member or staff member (still active), or None."""
    if "tb_user" in request.scope:
        return request.scope["tb_user"]
    found = _session(request)
    user = None
    if found is not None:
        with read_transaction(_engine(request)) as conn:
            user = load_user(conn, found[0], found[1])
    request.scope["tb_user"] = user
    return user


def _here(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def allowed(user: User, roles: tuple[str, ...]) -> bool:
    """Whether ``user`` has one of ``roles`` (any signed-in user when empty; admin passes every staff role)."""
    if not roles or user.role in roles:
        return True
    return user.role == "admin" and any(r in STAFF_ROLES for r in roles)


def require(request: Request, *roles: str) -> User:
    """The signed-in user with one of ``roles``; else :class:`LoginNeeded` or a worded 403 page."""
    user = current_user(request)
    if user is None:
        raise LoginNeeded(_here(request), staff=bool(roles) and "volunteer" not in roles)
    if not allowed(user, roles):
        names = "、".join(ROLE_ZH.get(r, r) for r in roles)
        raise PageExit(refusal(request, 403, "没有权限", f"这一页只给{names}使用。您现在登录的是{ROLE_ZH[user.role]}。",
                               user=user))
    return user


ROLE_ZH = {"volunteer": "志愿者", "organiser": "组织者", "committee": "居委工作人员", "admin": "管理员"}


def secure(request: Request) -> bool:
    """Whether the page came over HTTPS (cookies get ``Secure``)."""
    return request.url.scheme == "https"


def sign_in(request: Request, response: Response, store: Any, kind: str, user_id: int) -> Response:
    """Set a fresh session cookie for ``kind``/``user_id`` on ``response`` (and drop the anonymous token)."""
    name, value = session_cookie(store, kind, user_id)
    response.set_cookie(name, value, max_age=VOLUNTEER_S if kind == "volunteer" else STAFF_S, httponly=True,
                        samesite="strict", secure=secure(request), path="/")
    response.delete_cookie(CSRF_COOKIE, path="/tb/")
    return response


def sign_out(response: Response) -> Response:
    """Drop the session cookie."""
    response.delete_cookie(SESSION, path="/")
    return response


# ---- CSRF ------------------------------------------------------------------------------------

def _anon_nonce(request: Request) -> str | None:
    nonce = request.cookies.get(CSRF_COOKIE, "")
    return nonce if 16 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum() else None


def _tokens(request: Request) -> list[str]:
    key = secret(_engine(request), "session")
    found = _session(request)
    out = [_sign(key, f"csrf.{found[2]}")] if found else []
    nonce = _anon_nonce(request)
    if nonce:
        out.append(_sign(key, f"anon.{nonce}"))
    return out


def check_csrf(request: Request, form: dict[str, Any]) -> None:
    """Pass when the form's ``csrf`` matches this session's (or this browser's anonymous) token; else a 403 page."""
    given = form.get("csrf", "")
    if isinstance(given, list):
        given = given[0] if len(given) == 1 else ""
    if given and any(hmac.compare_digest(str(given), token) for token in _tokens(request)):
        return
    raise PageExit(refusal(request, 403, "表单已过期", "这个表单已过期或不是从本网站打开的。请返回上一页，刷新后再试一次。"))


# ---- forms -----------------------------------------------------------------------------------

async def read_form_multi(request: Request, max_bytes: int = 8192, max_fields: int = 40) -> dict[str, list[str]]:
    """A URL-encoded UTF-8 form, bounded in bytes and fields; each name with all its values.  Else a 422 page."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise PageExit(refusal(request, 422, "表单格式不对", "请用本网站的页面提交表单。"))
    body = await _body(request, max_bytes, f"这个表单最多 {max_bytes} 字节，请删减后再提交。")
    try:
        return parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, errors="strict",
                        max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError):
        raise PageExit(refusal(request, 422, "表单格式不对", "表单内容无法读取（不是 UTF-8 编码或字段太多）。")) from None


async def read_form(request: Request, max_bytes: int = 8192, max_fields: int = 40) -> dict[str, str]:
    """Like :func:`read_form_multi` with one value per name; a repeated name is a 422 page."""
    fields = await read_form_multi(request, max_bytes, max_fields)
    repeated = [k for k, v in fields.items() if len(v) > 1]
    if repeated:
        raise PageExit(refusal(request, 422, "表单格式不对", f"字段 {repeated[0]} 出现了不止一次。"))
    return {k: v[0] for k, v in fields.items()}


def image_type(data: bytes) -> str | None:
    """``image/jpeg`` or ``image/png`` from the magic bytes, else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


async def _body(request: Request, max_bytes: int, what: str) -> bytes:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise PageExit(refusal(request, 413, "内容太多", what))
    return body


def _multipart(content_type: str, body: bytes) -> list[tuple[str, str | None, bytes]]:
    """``(field name, file name or None, bytes)`` of each part (the standard library's MIME parser)."""
    message = email.message_from_bytes(b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body,
                                       policy=email.policy.HTTP)
    if not message.is_multipart():
        raise ValueError("not multipart")
    parts = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise ValueError("a part without a name")
        data = part.get_payload(decode=True)
        parts.append((name, part.get_filename(), data if isinstance(data, bytes) else b""))
    return parts


async def read_photo_form(request: Request, max_bytes: int = MAX_PHOTO_BYTES + 16384
                          ) -> tuple[dict[str, str], bytes | None]:
    """A multipart form: its text fields and the ``photo`` file (JPEG/PNG, ≤ 200 KB; None when empty); else a page.

    A URL-encoded form (no file chosen, or a client without multipart) is read as :func:`read_form`.
    """
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        return await read_form(request), None
    body = await _body(request, max_bytes, "照片最多 200 KB，请换一张小一些的照片。")
    try:
        parts = _multipart(content_type, body)
        texts: dict[str, str] = {}
        photo: bytes | None = None
        for name, filename, data in parts:
            if name in texts or (filename is not None and photo is not None) or len(parts) > 20:
                raise ValueError(f"字段 {name} 出现了不止一次。")
            if filename is None:
                texts[name] = data.decode("utf-8")
            elif name == "photo":
                photo = data
    except (ValueError, UnicodeDecodeError, LookupError) as exc:
        detail = str(exc) if str(exc).startswith("字段") else "表单内容无法读取，请重新选择照片后提交。"
        raise PageExit(refusal(request, 422, "表单格式不对", detail)) from None
    if photo is not None and len(photo) > MAX_PHOTO_BYTES:
        raise PageExit(refusal(request, 413, "照片太大", "照片最多 200 KB，请换一张小一些的照片。"))
    if photo and image_type(photo) is None:
        raise PageExit(refusal(request, 422, "照片格式不对", "只能上传 JPEG 或 PNG 照片。"))
    return texts, photo or None


# ---- pages -----------------------------------------------------------------------------------

def nav_for(user: User | None) -> tuple[tuple[str, str], ...]:
    """The big links for ``user``'s role."""
    if user is None:
        return ()
    return VOLUNTEER_NAV if user.kind == "volunteer" else STAFF_NAV


def page(request: Request, template: str, user: User | None, status: int = 200, **context: Any) -> HTMLResponse:
    """Render ``timebank/<template>`` with the user, the form token, the nav and strict headers."""
    key = secret(_engine(request), "session")
    found = _session(request) if user is not None else None
    new_nonce = None
    if found is not None:
        csrf = _sign(key, f"csrf.{found[2]}")
    else:
        nonce = _anon_nonce(request)
        if nonce is None:
            nonce = new_nonce = secrets.token_urlsafe(16)
        csrf = _sign(key, f"anon.{nonce}")
    html = TEMPLATES.get_template(f"timebank/{template}").render(
        user=user, csrf=csrf, nav=nav_for(user), path=request.url.path, **context)
    response = HTMLResponse(html, status_code=status, headers=HEADERS)
    if new_nonce is not None:
        response.set_cookie(CSRF_COOKIE, new_nonce, max_age=CSRF_COOKIE_S, httponly=True, samesite="strict",
                            secure=secure(request), path="/tb/")
    return response


def refusal(request: Request, status: int, title: str, message: str, user: User | None = None,
            back: str | None = None) -> HTMLResponse:
    """A worded page for a refused request (403, 404, 413, 422...)."""
    return page(request, "refused.html", user, status=status, title=title, message=message, back=back)


def safe_next(value: str | None, default: str = "/tb/me") -> str:
    """Only a path under ``/tb/`` of this site (never another host: no open redirect)."""
    if value and value.startswith("/tb/") and "//" not in value and "\\" not in value and "\n" not in value:
        return value
    return default


# ---- a multi-step form's state in a signed hidden field --------------------------------------

def sign_state(request: Request, purpose: str, data: dict[str, Any], ttl_s: int = 1800) -> str:
    """``data`` (small JSON, never a raw ID number) as a signed, expiring hidden-field value for ``purpose``."""
    body = base64.urlsafe_b64encode(json.dumps({"d": data, "e": int(time.time()) + ttl_s}, ensure_ascii=False,
                                               separators=(",", ":")).encode("utf-8")).decode("ascii")
    return f"{body}.{_sign(secret(_engine(request), 'session'), f'state.{purpose}.{body}')}"


def read_state(request: Request, purpose: str, token: str | None, start_over: str) -> dict[str, Any]:
    """The data of a :func:`sign_state` token; a worded 422 page (with a link to ``start_over``) when bad or old."""
    body, _, signature = (token or "").partition(".")
    expected = _sign(secret(_engine(request), "session"), f"state.{purpose}.{body}")
    if body and hmac.compare_digest(signature, expected):
        value = json.loads(base64.urlsafe_b64decode(body.encode("ascii")))
        if value.get("e", 0) >= time.time():
            return dict(value["d"])
    raise PageExit(refusal(request, 422, "这一步已过期", "这一步等得太久或页面不完整，请从头再来一次。", back=start_over))


def app_limiter(request: Request, name: str, *, every_s: float, burst: int, max_keys: int | None = None
                ) -> PushLimiter:
    """The app's token buckets called ``name`` (made on first use): ``burst`` at once, then one every ``every_s``."""
    limiter = getattr(request.app.state, name, None)
    if limiter is None:
        limiter = PushLimiter(rate_per_s=1 / every_s, burst=burst, max_keys=max_keys)
        setattr(request.app.state, name, limiter)
    return limiter


CODE_SENDS_BURST = 10  # one-time codes one network address may ask for at once
CODE_SENDS_EVERY_S = 60.0  # then one a minute: a script cannot make the central text thousands of phones
CODE_SENDS_ADDRESSES = 10_000  # addresses remembered at most (only those still limited are kept)


def code_send_refusal(request: Request) -> str | None:
    """Words for a client address that asked for too many one-time codes, or None when it may send one."""
    limiter = app_limiter(request, "code_sends", every_s=CODE_SENDS_EVERY_S, burst=CODE_SENDS_BURST,
                          max_keys=CODE_SENDS_ADDRESSES)
    wait = limiter.take(request.client.host if request.client else "unknown")
    if wait <= 0:
        return None
    return f"这里获取验证码太频繁了，请 {max(1, round(wait / 60))} 分钟后再试。"
