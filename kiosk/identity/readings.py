"""Turn a card reading or a QR result into the flow's identification events.

A card gives an :class:`~kiosk.hall.checkin.events.Identity` directly.  A QR payload must be a
signed health-code token: verified offline, it gives the identity *and* the code colour;
anything else (expired, forged, unknown key, not a token, oversized, binary, several
codes at once) becomes a refusal with its own words.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from drivers.qr_common import QrBinaryPayload, QrError, QrMultipleCodes, QrOversized
from kiosk.codes.status import CodeStatus
from kiosk.codes.tokens import TokenRefusal, TokenVerifier
from kiosk.hall.checkin import events as ev


def _birth_text(birth: Any) -> str:
    if isinstance(birth, dt.date):
        return birth.strftime("%Y%m%d")
    return str(birth or "")


def identity_from_card(source: str, reading: Any) -> ev.Identity:
    """The identity on an ID card or social-security card reading."""
    return ev.Identity(source, reading.id_number, reading.name, _birth_text(reading.birth))  # type: ignore[arg-type]


QR_DRIVER_REFUSALS = {
    QrOversized: ("token_malformed", "二维码内容过长，不是随申码", "The code is too long to be a health code"),
    QrBinaryPayload: ("token_malformed", "二维码内容不是文字，不是随申码", "The code is not text, not a health code"),
    QrMultipleCodes: ("token_malformed", "同时看到多个二维码，请只出示一个", "Several codes seen; show only one"),
}


def identity_from_qr(source: str, result: Any, verifier: TokenVerifier) -> ev.Identified | ev.IdentificationFailed:
    """A QR driver result (reading or error) as an identification or a refusal."""
    if isinstance(result, QrError):
        reason, zh, en = QR_DRIVER_REFUSALS.get(type(result), ("token_malformed", "二维码无法识别", str(result)))
        return ev.IdentificationFailed(source, reason, zh, en)  # type: ignore[arg-type]
    outcome = verifier.verify(result.payload)
    if isinstance(outcome, TokenRefusal):
        return ev.IdentificationFailed(source, outcome.reason, outcome.words_zh, outcome.words_en)  # type: ignore[arg-type]
    assert isinstance(outcome, CodeStatus) and outcome.person_id_number
    identity = ev.Identity(source, outcome.person_id_number)  # type: ignore[arg-type]
    return ev.Identified(identity, at=0.0, code=ev.CodeResult(outcome.colour, "token"))
