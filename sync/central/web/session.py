"""Signing in to the central's web pages: the admin token as a bearer header, or a session cookie from a form.

A script sends ``Authorization: Bearer <admin token>``.  A browser never puts the token in a
URL: ``GET /web/login`` shows a form (the token in a password field), ``POST /web/login``
checks it and sets ``linfen_session``: ``<expiry>.<nonce>.<HMAC>``, signed with a key derived
from the admin token (so changing the token ends every session), ``HttpOnly``,
``SameSite=Strict``, ``Secure`` over HTTPS, :data:`SESSION_S` long.  CSRF: the login form
carries ``HMAC(key, "login." + nonce)`` where the nonce is in a ``SameSite=Strict`` cookie set
with the form (a double submit another site can neither read nor forge); the sign-out form
carries ``HMAC(key, "logout." + session nonce)``.  Without an admin token the pages answer 403.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..auth import bearer_token, check_admin
from ..errors import ApiError

SESSION = "linfen_session"
CSRF = "linfen_csrf"
SESSION_S = 8 * 3600  # a working day
MAX_FORM_BYTES = 4096
TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True)

router = APIRouter(include_in_schema=False)


class NeedLogin(Exception):
    """A browser without a valid session: send it to the login form, then back to ``next_path``."""

    def __init__(self, next_path: str) -> None:
        """Remember where to return."""
        super().__init__(next_path)
        self.next_path = next_path


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A template as a page that no cache keeps and no frame shows."""
    html = TEMPLATES.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers={
        "Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
                                   "form-action 'self'; frame-ancestors 'none'"})


def _key(admin_token: str) -> bytes:
    return hmac.new(admin_token.encode("utf-8"), b"linfen-web-session-v1", hashlib.sha256).digest()


def _sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def _admin_token(request: Request) -> str:
    token = request.app.state.admin_token
    if not token:
        raise ApiError(403, "admin_disabled", "the web pages are off: no admin token is configured")
    return str(token)


def session_nonce(request: Request) -> str | None:
    """The nonce of the request's valid, unexpired session cookie, or None."""
    value = request.cookies.get(SESSION, "")
    expiry, _, rest = value.partition(".")
    nonce, _, signature = rest.partition(".")
    if not expiry.isdigit() or not nonce or int(expiry) < time.time():
        return None
    expected = _sign(_key(_admin_token(request)), f"session.{expiry}.{nonce}")
    return nonce if hmac.compare_digest(signature, expected) else None


def require_page_admin(request: Request) -> str | None:
    """Pass with the admin bearer token or a session; returns the sign-out CSRF token (None for a bearer)."""
    header = request.headers.get("authorization")
    if header:
        check_admin(bearer_token(header), _admin_token(request))
        return None
    nonce = session_nonce(request)
    if nonce is None:
        query = f"?{request.url.query}" if request.url.query else ""
        raise NeedLogin(request.url.path + query)
    return _sign(_key(_admin_token(request)), f"logout.{nonce}")


def login_redirect(exc: NeedLogin) -> RedirectResponse:
    """Where a browser without a session goes."""
    return RedirectResponse(f"/web/login?next={quote(exc.next_path, safe='')}", status_code=303)


def _safe_next(value: str | None) -> str:
    """Only a path of this site's pages (never another host: no open redirect)."""
    if value and value.startswith("/analytics/") and "//" not in value and "\\" not in value:
        return value
    return "/analytics/canteen"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.get("/web/login")
def login_form(request: Request, next: str | None = None) -> Response:
    """The sign-in form, with a fresh CSRF nonce in a strict cookie."""
    key = _key(_admin_token(request))
    nonce = secrets.token_urlsafe(16)
    page = render("login.html", next=_safe_next(next), csrf=_sign(key, f"login.{nonce}"), error=None)
    page.set_cookie(CSRF, nonce, max_age=1800, httponly=True, samesite="strict", secure=_secure(request),
                    path="/web/")
    return page


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise ApiError(413, "body_too_large", f"a sign-in form is at most {MAX_FORM_BYTES} bytes")
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=10)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(422, "malformed_request", "the form is not URL-encoded UTF-8") from None
    return {k: v[0] for k, v in fields.items()}


@router.post("/web/login")
async def login(request: Request) -> Response:
    """Check the CSRF token and the admin token; set the session cookie and go back to the page."""
    admin = _admin_token(request)
    key = _key(admin)
    form = await _form(request)
    nonce = request.cookies.get(CSRF, "")
    if not nonce or not hmac.compare_digest(form.get("csrf", ""), _sign(key, f"login.{nonce}")):
        raise ApiError(403, "bad_csrf", "the sign-in form expired or came from another site: reload it")
    target = _safe_next(form.get("next"))
    if not hmac.compare_digest(hashlib.sha256(form.get("token", "").strip().encode()).digest(),
                               hashlib.sha256(admin.encode()).digest()):
        return render("login.html", status=401, next=target, csrf=form["csrf"], error="令牌不对，请重新输入。")
    expiry, session = int(time.time()) + SESSION_S, secrets.token_urlsafe(16)
    answer = RedirectResponse(target, status_code=303)
    answer.set_cookie(SESSION, f"{expiry}.{session}.{_sign(key, f'session.{expiry}.{session}')}",
                      max_age=SESSION_S, httponly=True, samesite="strict", secure=_secure(request), path="/")
    answer.delete_cookie(CSRF, path="/web/")
    return answer


@router.post("/web/logout")
async def logout(request: Request) -> Response:
    """End the session (CSRF-checked), back to the sign-in form."""
    key = _key(_admin_token(request))
    form = await _form(request)
    nonce = session_nonce(request)
    if nonce is None or not hmac.compare_digest(form.get("csrf", ""), _sign(key, f"logout.{nonce}")):
        raise ApiError(403, "bad_csrf", "sign-out needs the form of a signed-in page")
    answer = RedirectResponse("/web/login", status_code=303)
    answer.delete_cookie(SESSION, path="/")
    return answer
