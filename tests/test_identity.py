"""Shared identification (kiosk.identity): cards and signed codes become one Identity, or a worded refusal."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass

import pytest

from drivers.qr_common import QrMultipleCodes, QrOversized, QrReading
from hardware_sim import personas
from hardware_sim.code_tokens import SIM_ISSUER
from kiosk.codes import TokenVerifier, TrustList
from kiosk.identity import Identity
from kiosk.identity.readings import CodeIdentity, Refusal, identity_from_card, identity_from_qr

pytestmark = pytest.mark.unit

TRUST = TrustList.from_document({"format": "linfen-code-trust-list", "version": 1, "keys": [
    {"kid": SIM_ISSUER.kid, "issuer": SIM_ISSUER.name, "alg": "Ed25519", "public_key": SIM_ISSUER.public_key_b64()}]})


@dataclass
class _Reading:
    id_number: str
    name: str
    birth: object


def test_a_card_reading_becomes_an_identity_with_its_birth_date():
    p = personas.by_id("P001")
    identity = identity_from_card("idcard", _Reading(p.id_number, p.name, dt.date(1950, 3, 1)))
    assert identity == Identity("idcard", p.id_number, p.name, "19500301")
    assert p.id_number not in repr(identity)  # never printed raw


def test_a_signed_code_gives_the_person_and_its_colour():
    p = personas.by_id("P002")
    token = SIM_ISSUER.issue(p.id_number, "yellow", time.time() - 60, 3600)
    result = identity_from_qr("qr_camera", QrReading(token.encode(), token, "cam", time.time()), TokenVerifier(TRUST))
    assert isinstance(result, CodeIdentity) and result.colour == "yellow"
    assert result.identity.id_number == p.id_number and result.identity.source == "qr_camera"


@pytest.mark.parametrize("result, words", [
    (QrOversized(9000, 2048), "过长"),
    (QrMultipleCodes("two codes"), "多个"),
])
def test_odd_qr_results_are_refused_with_words(result, words):
    refusal = identity_from_qr("qr_scanner", result, TokenVerifier(TRUST))
    assert isinstance(refusal, Refusal) and refusal.reason == "token_malformed" and words in refusal.words_zh


def test_a_text_that_is_not_a_token_is_refused():
    reading = QrReading(b"https://example.com", "https://example.com", "cam", time.time())
    refusal = identity_from_qr("qr_camera", reading, TokenVerifier(TRUST))
    assert isinstance(refusal, Refusal) and refusal.words_zh and refusal.words_en
