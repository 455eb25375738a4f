"""Offline verification of signed health-code QR tokens against a trust list of issuer keys.

Token format (made by the city code service; see ``hardware_sim/code_tokens.py``)::

    LFHC1.<base64url(JSON claims)>.<base64url(Ed25519 signature over "LFHC1." + claims part)>

Claims: ``v`` (1), ``iss``, ``kid``, ``sub`` (ID number), ``col`` (green/yellow/red),
``iat``/``exp`` (Unix seconds).  The payload is untrusted input from a camera or scanner:
its size is capped before anything is decoded, every step is checked, and every failure
is a :class:`TokenRefusal` with its own reason code and words for the resident — the
verifier never raises on bad input.  Refusal details are safe to log: they never quote the
payload (which carries an ID number).

Trust list (reference data, also served by the simulated city service at ``/keys``)::

    {"format": "linfen-code-trust-list", "version": 1,
     "keys": [{"kid": "sim-2026", "issuer": "...", "alg": "Ed25519", "public_key": "<b64url, 32 bytes>"}]}
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from kiosk.codes.status import COLOURS, CodeStatus
from kiosk.errors import KioskError

log = logging.getLogger(__name__)

PREFIX = "LFHC1"
SUPPORTED_VERSION = 1
MAX_TOKEN_CHARS = 2048  # longest payload looked at, in characters (the camera's default QR limit)
DEFAULT_SKEW_S = 300.0  # clock-skew allowance on issued-at and expiry, in seconds
SIGNATURE_BYTES = 64
TRUST_LIST_FORMAT = "linfen-code-trust-list"
MAX_TRUST_LIST_BYTES = 1024 * 1024  # largest trust-list file read, in bytes

RefusalReason = Literal[
    "token_malformed",
    "token_unknown_key",
    "token_forged",  # the signature does not verify
    "token_expired",
    "token_not_yet_valid",
    "token_unsupported_version",
]

#: What the resident sees and hears for each refusal: (Chinese, English).
REFUSAL_WORDS: dict[str, tuple[str, str]] = {
    "token_malformed": ("这不是随申码，请出示随申码或刷身份证",
                        "This is not a health code. Show your code or swipe your ID card"),
    "token_unknown_key": ("二维码无法验证，请刷身份证", "This code cannot be verified. Please swipe your ID card"),
    "token_forged": ("二维码无法验证，请出示随申码原件或刷身份证",
                     "This code cannot be verified. Show your own code, or swipe your ID card"),
    "token_expired": ("随申码已过期，请在手机上刷新后再出示", "Your code has expired. Refresh it on your phone"),
    "token_not_yet_valid": ("随申码时间不对，请刷身份证", "Your code's time is wrong. Please swipe your ID card"),
    "token_unsupported_version": ("本机暂不支持这种随申码，请刷身份证",
                                  "This kind of code is not supported here. Please swipe your ID card"),
}

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_OTHER_VERSION = re.compile(r"^LFHC[0-9]{1,3}$")
_ID_NUMBER = re.compile(r"^(?:[0-9]{17}[0-9X]|[0-9]{15})$")
_REQUIRED = ("iss", "kid", "sub", "col", "iat", "exp")
_MAX_CLAIM_TEXT = 200  # longest issuer name / key id, in characters


class TrustListError(KioskError):
    """A trust list that cannot be used; the text says why."""


@dataclass(frozen=True)
class TokenRefusal:
    """Why a token was refused: a reason code, a log-safe detail, and words for the resident."""

    reason: RefusalReason
    detail: str  # e.g. "oversized", "bad_base64", "missing_claims"; never quotes the payload

    @property
    def words_zh(self) -> str:
        """The refusal in Chinese."""
        return REFUSAL_WORDS[self.reason][0]

    @property
    def words_en(self) -> str:
        """The refusal in English."""
        return REFUSAL_WORDS[self.reason][1]


@dataclass(frozen=True)
class TrustedKey:
    """One issuer key of the trust list."""

    kid: str
    issuer: str
    public_key: Ed25519PublicKey


def b64url_decode(part: str) -> bytes | None:
    """Strict unpadded base64url: None unless ``part`` is the canonical encoding of some bytes."""
    if not _B64URL.match(part) or len(part) % 4 == 1:
        return None
    try:
        data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        return None
    if base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii") != part:
        return None  # non-zero padding bits: another spelling of the same bytes
    return data


class TrustList:
    """Issuer keys by key id (``kid``), from reference data."""

    def __init__(self, keys: Iterable[TrustedKey] = ()) -> None:
        """A trust list holding ``keys``."""
        self._keys = {k.kid: k for k in keys}

    @classmethod
    def from_document(cls, doc: Any) -> TrustList:
        """A trust list from its parsed JSON document."""
        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
            raise TrustListError("a trust list is an object with a 'keys' list")
        if doc.get("format", TRUST_LIST_FORMAT) != TRUST_LIST_FORMAT:
            raise TrustListError(f"not a code trust list (format must be {TRUST_LIST_FORMAT!r})")
        keys = []
        for i, row in enumerate(doc["keys"]):
            if not isinstance(row, dict):
                raise TrustListError(f"trust list key {i} is not an object")
            kid, issuer, alg, raw = row.get("kid"), row.get("issuer", ""), row.get("alg", "Ed25519"), row.get(
                "public_key")
            if not isinstance(kid, str) or not kid or len(kid) > _MAX_CLAIM_TEXT or not isinstance(issuer, str):
                raise TrustListError(f"trust list key {i} has no usable kid/issuer")
            if alg != "Ed25519":
                raise TrustListError(f"trust list key {kid!r}: algorithm {alg!r} is not supported")
            data = b64url_decode(raw) if isinstance(raw, str) else None
            if data is None or len(data) != 32:
                raise TrustListError(f"trust list key {kid!r}: public_key is not 32 bytes of base64url")
            keys.append(TrustedKey(kid, issuer, Ed25519PublicKey.from_public_bytes(data)))
        return cls(keys)

    @classmethod
    def from_json(cls, text: str | bytes) -> TrustList:
        """A trust list from JSON text."""
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise TrustListError(f"trust list is not JSON: {type(exc).__name__}") from None
        return cls.from_document(doc)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrustList:
        """Read a trust-list file (reference data)."""
        target = Path(path)
        try:
            if target.stat().st_size > MAX_TRUST_LIST_BYTES:
                raise TrustListError(f"{target}: larger than {MAX_TRUST_LIST_BYTES} bytes")
            return cls.from_json(target.read_bytes())
        except OSError as exc:
            raise TrustListError(f"{target}: cannot read the trust list ({exc.strerror or exc})") from None

    def get(self, kid: str) -> TrustedKey | None:
        """The key with this id, or None."""
        return self._keys.get(kid)

    def kids(self) -> list[str]:
        """The key ids held, sorted."""
        return sorted(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class LiveTrustList(TrustList):
    """A trust list that follows a live source (pulled issuer keys), with a seed for when it has none.

    ``source()`` gives the current list, or None when there is none (then ``seed``, a trust-list
    file, is used; with neither, no key is known).  It is called on every look-up, so it must be
    cheap.  A source that raises is logged and the last list it gave stays in use.
    """

    def __init__(self, source: Callable[[], TrustList | None], seed: TrustList | None = None) -> None:
        """A live trust list reading ``source``, falling back to ``seed``."""
        super().__init__()
        self._source = source
        self._seed = seed
        self._last: TrustList | None = None

    def current(self) -> TrustList:
        """The trust list in use now."""
        try:
            trust = self._source()
        except Exception:  # verification must never fail on the source: keep the last good list
            log.exception("trust list source failed; keeping the last list")
            trust = self._last
        else:
            self._last = trust
        if trust is None:
            trust = self._seed
        return trust if trust is not None else _EMPTY_TRUST

    def get(self, kid: str) -> TrustedKey | None:
        """The key with this id in the list in use now, or None."""
        return self.current().get(kid)

    def kids(self) -> list[str]:
        """The key ids in the list in use now, sorted."""
        return self.current().kids()

    def __len__(self) -> int:
        return len(self.current())


_EMPTY_TRUST = TrustList()


def _refuse(reason: RefusalReason, detail: str) -> TokenRefusal:
    log.info("QR token refused: %s (%s)", reason, detail)  # never the payload: it carries an ID number
    return TokenRefusal(reason, detail)


def _text_of(payload: object, max_chars: int) -> str | TokenRefusal:
    """The payload as stripped printable ASCII, or the refusal."""
    if not isinstance(payload, str | bytes | bytearray):
        return _refuse("token_malformed", "not_text")
    if len(payload) > max_chars:
        return _refuse("token_malformed", "oversized")
    if isinstance(payload, str):
        if not payload.isascii():
            return _refuse("token_malformed", "binary")
        text = payload
    else:
        try:
            text = bytes(payload).decode("ascii")
        except UnicodeDecodeError:
            return _refuse("token_malformed", "binary")
    text = text.strip()
    if not text.isprintable():
        return _refuse("token_malformed", "binary")
    if not text:
        return _refuse("token_malformed", "empty")
    return text


def _claims_problem(claims: dict[str, Any]) -> str | None:
    """None when every required claim is there with the right type, else a detail code."""
    if any(name not in claims for name in _REQUIRED):
        return "missing_claims"
    iss, kid, sub, col, iat, exp = (claims[name] for name in _REQUIRED)
    if not (isinstance(iss, str) and isinstance(kid, str) and len(iss) <= _MAX_CLAIM_TEXT
            and 0 < len(kid) <= _MAX_CLAIM_TEXT):
        return "bad_issuer"
    if not isinstance(sub, str) or not _ID_NUMBER.match(sub):
        return "bad_subject"
    if col not in COLOURS:
        return "bad_colour"
    if type(iat) is not int or type(exp) is not int or exp <= iat:
        return "bad_times"
    return None


class TokenVerifier:
    """Verifies tokens offline against a trust list, with a clock-skew allowance."""

    def __init__(self, trust: TrustList, skew_s: float = DEFAULT_SKEW_S, max_chars: int = MAX_TOKEN_CHARS,
                 clock: Callable[[], float] = time.time) -> None:
        """``clock`` gives Unix seconds (tests pass a fixed one)."""
        self.trust = trust
        self.skew_s = skew_s
        self.max_chars = max_chars
        self._clock = clock

    def verify(self, payload: object, now: float | None = None) -> CodeStatus | TokenRefusal:
        """The code status a token proves, or why it is refused; never raises on bad input."""
        text = _text_of(payload, self.max_chars)
        if isinstance(text, TokenRefusal):
            return text
        head = text.split(".", 1)[0]
        if head != PREFIX:
            if _OTHER_VERSION.match(head):
                return _refuse("token_unsupported_version", "prefix_version")
            return _refuse("token_malformed", "wrong_prefix")
        parts = text.split(".")
        if len(parts) != 3:
            return _refuse("token_malformed", "bad_structure")
        body, sig = b64url_decode(parts[1]), b64url_decode(parts[2])
        if body is None or sig is None:
            return _refuse("token_malformed", "bad_base64")
        if len(sig) != SIGNATURE_BYTES:
            return _refuse("token_malformed", "bad_signature_length")
        try:
            claims = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return _refuse("token_malformed", "bad_json")
        if not isinstance(claims, dict):
            return _refuse("token_malformed", "bad_json")
        if "v" not in claims:
            return _refuse("token_malformed", "missing_claims")
        if type(claims["v"]) is not int or claims["v"] != SUPPORTED_VERSION:
            return _refuse("token_unsupported_version", "claims_version")
        problem = _claims_problem(claims)
        if problem is not None:
            return _refuse("token_malformed", problem)
        trusted = self.trust.get(claims["kid"])
        if trusted is None:
            return _refuse("token_unknown_key", "unknown_kid")
        try:
            trusted.public_key.verify(sig, f"{PREFIX}.{parts[1]}".encode("ascii"))
        except InvalidSignature:
            return _refuse("token_forged", "bad_signature")
        at = self._clock() if now is None else now
        if claims["iat"] > at + self.skew_s:
            return _refuse("token_not_yet_valid", "issued_in_future")
        if at > claims["exp"] + self.skew_s:
            return _refuse("token_expired", "expired")
        return CodeStatus(colour=claims["col"], source="token", person_id_number=claims["sub"],
                          issued_at=float(claims["iat"]), expires_at=float(claims["exp"]), issuer=claims["iss"])
