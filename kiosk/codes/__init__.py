"""Health-code status for the hall (DESIGN §5 step 3): signed QR tokens offline, city lookup, fallback.

Public API::

    TrustList.load(path) / TrustList.from_json(text) / TrustList.from_document(doc)
    TokenVerifier(trust, skew_s=300, max_chars=2048).verify(payload) -> CodeStatus | TokenRefusal
    CityCodeService(base_url, key, timeout_s=1.5, fallback="staff_check", freshness_s=600).lookup(id) -> CodeStatus
    CodeStatus(colour, source, person_id_number, issued_at, expires_at, fallback, fallback_reason, issuer)

Nothing here logs or stores an ID number.  This package never imports Qt, ``ui`` or ``drivers``.
"""

from .city_service import CityCodeService, LookupStats
from .status import COLOURS, FALLBACKS, CodeStatus, Colour, Fallback, FallbackReason
from .tokens import REFUSAL_WORDS, TokenRefusal, TokenVerifier, TrustedKey, TrustList, TrustListError

__all__ = [
    "COLOURS",
    "FALLBACKS",
    "REFUSAL_WORDS",
    "CityCodeService",
    "CodeStatus",
    "Colour",
    "Fallback",
    "FallbackReason",
    "LookupStats",
    "TokenRefusal",
    "TokenVerifier",
    "TrustList",
    "TrustListError",
    "TrustedKey",
]
