"""Request signing for the hall's LAN queue service: HMAC-SHA256 with the per-hall shared secret.

Why HMAC and not a bearer secret: the hall LAN runs plain HTTP, so a bearer secret would cross the
wire in every request and anyone on the LAN could copy it.  With HMAC the secret never leaves the
terminals; a captured request cannot be altered (method, path, query and body are signed) nor
replayed (a timestamp window plus a one-time nonce).

Each request carries three headers::

    X-Hall-Timestamp: 1733040000.125           unix seconds when signed
    X-Hall-Nonce:     3f1c0e...                 16–64 characters, new for each request
    X-Hall-Signature: hex(HMAC-SHA256(secret, METHOD \\n RAW-TARGET \\n TIMESTAMP \\n NONCE \\n hex(SHA256(body))))

RAW-TARGET is the path and query exactly as sent (``/v1/counters/3/next``,
``/v1/display/events?after=12``).  The service refuses, with 401 and a reason: a missing header
(``missing_auth``), an unreadable or out-of-window timestamp (``bad_timestamp``: anything but
ASCII digits with an optional fraction; ``stale_timestamp``: more than :data:`MAX_SKEW_S` from
its clock, or not after the replay floor), a wrong signature (``bad_signature``, compared in
constant time) and a nonce seen before (``replayed``).  Headers are parsed strictly: a
timestamp that Python's ``float()`` would take (``"\xa01e3"``, ``"NaN"``, ``"１２"``) is refused.

Nonces are remembered by a :class:`~kiosk.hall.nonces.NonceBook`: the service keeps them in the
hall's store (:class:`~kiosk.hall.nonces.StoreNonces`), so a request captured before a restart
stays refused after it, and forgetting old nonces never reopens a replay (see there).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Mapping

from kiosk.config_checks import SECRET_HINT, weak_secret

from .errors import AuthError, HallConfigError
from .nonces import MemoryNonces, NonceBook

TIMESTAMP_HEADER = "X-Hall-Timestamp"
NONCE_HEADER = "X-Hall-Nonce"
SIGNATURE_HEADER = "X-Hall-Signature"

#: Largest accepted difference between the signer's and the service's clocks, in seconds.
MAX_SKEW_S = 30.0
#: Shortest accepted shared secret, in bytes.
MIN_SECRET_BYTES = 16

_NONCE = re.compile(r"[A-Za-z0-9_\-]{16,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,9})?")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{64}")


def secret_bytes(secret: str | bytes) -> bytes:
    """The secret as bytes; refuses one shorter than :data:`MIN_SECRET_BYTES`, or weak (see :mod:`kiosk.config_checks`)."""
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(raw) < MIN_SECRET_BYTES:
        raise HallConfigError(f"hall secret: at least {MIN_SECRET_BYTES} bytes are needed, got {len(raw)}")
    reason = weak_secret(raw.decode("utf-8", "replace"))
    if reason:
        raise HallConfigError(f"hall secret: too weak: {reason}; {SECRET_HINT}")
    return raw


def signature(secret: bytes, method: str, target: bytes, timestamp: str, nonce: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of one request (see the module docstring for the signed text)."""
    text = b"\n".join([method.upper().encode("ascii"), target, timestamp.encode("ascii"), nonce.encode("ascii"),
                       hashlib.sha256(body).hexdigest().encode("ascii")])
    return hmac.new(secret, text, hashlib.sha256).hexdigest()


def sign_headers(secret: bytes, method: str, target: bytes, body: bytes, now: float | None = None) -> dict[str, str]:
    """The three auth headers for a request about to be sent."""
    timestamp = f"{time.time() if now is None else now:.3f}"
    nonce = secrets.token_urlsafe(18)
    return {TIMESTAMP_HEADER: timestamp, NONCE_HEADER: nonce,
            SIGNATURE_HEADER: signature(secret, method, target, timestamp, nonce, body)}


class Verifier:
    """Checks signed requests on the service side and remembers nonces for the replay window."""

    def __init__(self, secret: str | bytes, max_skew_s: float = MAX_SKEW_S,
                 clock: Callable[[], float] = time.time, nonces: NonceBook | None = None) -> None:
        """``max_skew_s``: accepted clock difference in seconds; ``clock``: unix time source;
        ``nonces``: where nonces are kept (in memory when None: lost on restart)."""
        self._secret = secret_bytes(secret)
        self._skew = max_skew_s
        self._clock = clock
        self._nonces = nonces if nonces is not None else MemoryNonces(max_skew_s)

    def verify(self, method: str, target: bytes, headers: Mapping[str, str], body: bytes) -> None:
        """Return if the request is signed, fresh and new; raise :class:`AuthError` otherwise."""
        lower = {k.lower(): v for k, v in headers.items()}
        timestamp = lower.get(TIMESTAMP_HEADER.lower())
        nonce = lower.get(NONCE_HEADER.lower())
        given = lower.get(SIGNATURE_HEADER.lower())
        if not timestamp or not nonce or not given:
            raise AuthError("missing_auth", "request is not signed with the hall secret", "未授权的请求")
        if not _TIMESTAMP.fullmatch(timestamp):
            raise AuthError("bad_timestamp", f"{TIMESTAMP_HEADER} must be unix seconds in ASCII digits "
                            "(e.g. 1733040000.125)", "请求时间无效")
        sent = float(timestamp)
        now = self._clock()
        if not abs(now - sent) <= self._skew:
            raise AuthError("stale_timestamp", f"request time is {now - sent:+.0f} s off the hall clock "
                            f"(allowed ±{self._skew:.0f} s): check the terminal's clock", "终端时钟与大厅不一致")
        if not _NONCE.fullmatch(nonce):
            raise AuthError("missing_auth", f"{NONCE_HEADER} must be 16-64 URL-safe characters", "未授权的请求")
        if not _SIGNATURE.fullmatch(given.strip()):
            raise AuthError("bad_signature", f"{SIGNATURE_HEADER} must be 64 hex digits", "未授权的请求")
        expected = signature(self._secret, method, target, timestamp, nonce, body)
        if not hmac.compare_digest(expected.encode("ascii"), given.strip().lower().encode("ascii")):
            raise AuthError("bad_signature", "request signature does not match the hall secret", "未授权的请求")
        refused = self._nonces.admit(nonce, sent, now)
        if refused == "replayed":
            raise AuthError("replayed", "this request was already received once", "重复的请求")
        if refused is not None:
            raise AuthError("stale_timestamp", "request time is not after the hall's replay floor (the hall clock "
                            "went back, or the request is an old one): check the clocks", "终端时钟与大厅不一致")
