"""Turn a card reading or a QR result into an :class:`~kiosk.identity.Identity`, or a worded refusal.

A card gives an identity directly.  A QR payload must be a signed health-code token:
verified offline, it gives the identity *and* the code colour; anything else (expired,
forged, unknown key, not a token, oversized, binary, several codes at once) becomes a
:class:`Refusal` with its own words.  Every role uses these; each turns the result into
its own flow's events.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from drivers.qr_common import QrBinaryPayload, QrError, QrMultipleCodes, QrOversized
from kiosk.codes.status import CodeStatus
from kiosk.codes.tokens import TokenRefusal, TokenVerifier
from kiosk.identity import Identity


@dataclass(frozen=True)
class CodeIdentity:
    """A verified health-code token: who it is and the colour it carries."""

    identity: Identity
    colour: str  # green, yellow, red


@dataclass(frozen=True)
class Refusal:
    """A code or card that cannot identify anyone, with a machine reason and words for the resident."""

    source: str
    reason: str  # "token_expired", "token_forged", "token_malformed", ...
    words_zh: str
    words_en: str


def _birth_text(birth: Any) -> str:
    if isinstance(birth, dt.date):
        return birth.strftime("%Y%m%d")
    return str(birth or "")


def identity_from_card(source: str, reading: Any) -> Identity:
    """The identity on an ID card or social-security card reading."""
    return Identity(source, reading.id_number, reading.name, _birth_text(reading.birth))  # type: ignore[arg-type]


QR_DRIVER_REFUSALS = {
    QrOversized: ("token_malformed", "二维码内容过长，不是随申码", "The code is too long to be a health code"),
    QrBinaryPayload: ("token_malformed", "二维码内容不是文字，不是随申码", "The code is not text, not a health code"),
    QrMultipleCodes: ("token_malformed", "同时看到多个二维码，请只出示一个", "Several codes seen; show only one"),
}


def identity_from_qr(source: str, result: Any, verifier: TokenVerifier) -> CodeIdentity | Refusal:
    """A QR driver result (reading or error) as a verified code identity or a refusal."""
    if isinstance(result, QrError):
        reason, zh, en = QR_DRIVER_REFUSALS.get(type(result), ("token_malformed", "二维码无法识别", str(result)))
        return Refusal(source, reason, zh, en)
    outcome = verifier.verify(result.payload)
    if isinstance(outcome, TokenRefusal):
        return Refusal(source, outcome.reason, outcome.words_zh, outcome.words_en)
    assert isinstance(outcome, CodeStatus) and outcome.person_id_number
    return CodeIdentity(Identity(source, outcome.person_id_number), outcome.colour)  # type: ignore[arg-type]
