"""Terminal and admin credentials: bearer tokens over TLS (why not HMAC request signing: below).

A terminal's token is issued once at enrolment and looks like ``<terminal_id>.<43 random
characters>`` (256 bits from :mod:`secrets`).  The central keeps only its SHA-256; a request's
token is split at the last dot, the terminal's row is looked up by id and the hashes are
compared with :func:`hmac.compare_digest` (constant time).  A fast hash is enough: the token is
random, not a password, so there is nothing to guess from a leaked hash.

Why bearer tokens and not HMAC-signed requests: TLS already protects the token in transit and
against replay, every HTTP client sends a bearer header, and proxies or the chaos test can
resend a request unchanged (a replayed push is harmless: events are stored once).  Signing
would add a clock-skew window and canonicalisation rules to both sides for no extra safety
over TLS.  Plain HTTP is allowed only on loopback unless ``--insecure-lan`` says otherwise.

The admin token (enrol and revoke over HTTP) comes from ``--admin-token-file`` or the
``LINFEN_CENTRAL_ADMIN_TOKEN`` environment variable; with neither, the admin endpoints refuse
everything and enrolment is done with ``linfen central enrol`` on the central's machine.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from .errors import ApiError, CentralError

TOKEN_BYTES = 32  # random bytes in a terminal token
MIN_ADMIN_TOKEN_CHARS = 16  # shortest admin token accepted
ADMIN_TOKEN_ENV = "LINFEN_CENTRAL_ADMIN_TOKEN"

TERMINAL_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_BEARER = {"WWW-Authenticate": "Bearer"}


@dataclass(frozen=True)
class Terminal:
    """An enrolled terminal as the API sees it."""

    terminal_id: str
    role: str
    site: str
    token_hash: str
    revoked_at: str | None
    revoked_reason: str | None


def new_token(terminal_id: str) -> str:
    """A fresh token for ``terminal_id`` (shown once, never stored)."""
    return f"{terminal_id}.{secrets.token_urlsafe(TOKEN_BYTES)}"


def token_hash(token: str) -> str:
    """What the database keeps of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_terminal_id(token: str) -> str | None:
    """The terminal id a token names, or None when it is not shaped like one of ours."""
    terminal_id, dot, secret = token.rpartition(".")
    if not dot or not secret or not TERMINAL_ID.match(terminal_id):
        return None
    return terminal_id


def bearer_token(authorization: str | None) -> str:
    """The token in an ``Authorization: Bearer ...`` header; 401 when absent or of another scheme."""
    if not authorization:
        raise ApiError(401, "no_token", "this request needs 'Authorization: Bearer <token>'", _BEARER)
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "no_token", "the Authorization header must be 'Bearer <token>'", _BEARER)
    return token.strip()


def check_terminal(token: str, terminal: Terminal | None) -> Terminal:
    """``terminal`` if ``token`` is its current token and it is not revoked; else a clear 401/403."""
    candidate = token_hash(token)
    stored = terminal.token_hash if terminal is not None else token_hash("not-a-terminal")
    if not hmac.compare_digest(candidate, stored) or terminal is None:
        raise ApiError(401, "bad_token", "the token is not valid: enrol the terminal again or check its config",
                       _BEARER)
    if terminal.revoked_at is not None:
        why = f" ({terminal.revoked_reason})" if terminal.revoked_reason else ""
        raise ApiError(403, "revoked", f"terminal {terminal.terminal_id} was revoked at {terminal.revoked_at}"
                       f"{why}; it must be enrolled again under a new id")
    return terminal


def check_admin(token: str, admin_token: str | None) -> None:
    """Pass when ``token`` is the admin token; 403 when admin access is off or the token is wrong."""
    if not admin_token:
        raise ApiError(403, "admin_disabled", "admin endpoints are off: no admin token is configured "
                       f"(--admin-token-file or {ADMIN_TOKEN_ENV})")
    if not hmac.compare_digest(token_hash(token), token_hash(admin_token)):
        raise ApiError(403, "not_admin", "this endpoint needs the admin token")


def validate_admin_token(token: str | None) -> str | None:
    """The admin token as configured (stripped), refusing one too short to be safe."""
    if token is None:
        return None
    token = token.strip()
    if len(token) < MIN_ADMIN_TOKEN_CHARS:
        raise CentralError("weak_admin_token", f"the admin token must be at least {MIN_ADMIN_TOKEN_CHARS} "
                           "characters (try: python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return token
