"""Offline verification of signed QR code tokens: good tokens pass, every kind of bad one has its own refusal."""

from __future__ import annotations

import json
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardware_sim import personas
from hardware_sim.code_tokens import PREFIX, SIM_ISSUER, Issuer, b64url
from kiosk.codes import CodeStatus, TokenRefusal, TokenVerifier, TrustList, TrustListError
from kiosk.codes.tokens import MAX_TOKEN_CHARS, REFUSAL_WORDS, LiveTrustList, b64url_decode

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

NOW = 1_796_000_000  # a fixed "now" in Unix seconds (December 2026)
DAY = 24 * 3600
ID_NUMBER = personas.by_id("P001").id_number
TRUST_DOC = {"format": "linfen-code-trust-list", "version": 1,
             "keys": [{"kid": SIM_ISSUER.kid, "issuer": SIM_ISSUER.name, "alg": "Ed25519",
                       "public_key": SIM_ISSUER.public_key_b64()}]}


@pytest.fixture(scope="module")
def verifier() -> TokenVerifier:
    return TokenVerifier(TrustList.from_document(TRUST_DOC), skew_s=300, clock=lambda: NOW)


def token(colour: str = "green", issued_at: float = NOW - 3600, validity_s: float = DAY,
          issuer: Issuer = SIM_ISSUER, id_number: str = ID_NUMBER) -> str:
    return issuer.issue(id_number, colour, issued_at, validity_s)


def signed(claims: object, issuer: Issuer = SIM_ISSUER, prefix: str = PREFIX) -> str:
    """A token over arbitrary claims, properly signed (to reach the checks after the signature)."""
    body = b64url(json.dumps(claims).encode())
    head = f"{prefix}.{body}"
    return f"{head}.{b64url(issuer.key.sign(head.encode()))}"


def good_claims(**changes: object) -> dict[str, object]:
    claims: dict[str, object] = {"v": 1, "iss": SIM_ISSUER.name, "kid": SIM_ISSUER.kid, "sub": ID_NUMBER,
                                 "col": "green", "iat": NOW - 60, "exp": NOW + DAY}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def refused(result: object, reason: str, detail: str | None = None) -> bool:
    return isinstance(result, TokenRefusal) and result.reason == reason and (detail is None or result.detail == detail)


# -- good tokens ----------------------------------------------------------------------------

@pytest.mark.parametrize("colour", ["green", "yellow", "red"])
def test_a_good_token_gives_its_colour_person_and_times(verifier: TokenVerifier, colour: str) -> None:
    result = verifier.verify(token(colour))
    assert isinstance(result, CodeStatus)
    assert (result.colour, result.source) == (colour, "token")
    assert result.person_id_number == ID_NUMBER
    assert (result.issued_at, result.expires_at) == (NOW - 3600, NOW - 3600 + DAY)
    assert result.issuer == SIM_ISSUER.name
    assert ID_NUMBER not in repr(result)


def test_every_persona_token_verifies_with_the_persona_colour(verifier: TokenVerifier) -> None:
    for p in personas.load():
        result = verifier.verify(SIM_ISSUER.issue(p.id_number, p.code_colour, NOW - 10))
        assert isinstance(result, CodeStatus), p.persona_id
        assert (result.colour, result.person_id_number) == (p.code_colour, p.id_number)


def test_bytes_and_surrounding_blanks_from_a_scanner_are_accepted(verifier: TokenVerifier) -> None:
    assert isinstance(verifier.verify((token() + "\r\n").encode("ascii")), CodeStatus)
    assert isinstance(verifier.verify(bytearray(b"  " + token().encode())), CodeStatus)


# -- time -----------------------------------------------------------------------------------

def test_expired_token_is_refused_but_the_skew_allowance_is_kept(verifier: TokenVerifier) -> None:
    assert refused(verifier.verify(token(issued_at=NOW - 2 * DAY, validity_s=DAY)), "token_expired")
    just_expired = token(issued_at=NOW - DAY - 100, validity_s=DAY)  # 100 s past exp, within 300 s
    assert isinstance(verifier.verify(just_expired), CodeStatus)
    assert refused(verifier.verify(just_expired, now=NOW + 201), "token_expired")


def test_token_from_the_future_is_not_yet_valid_beyond_the_skew(verifier: TokenVerifier) -> None:
    assert refused(verifier.verify(token(issued_at=NOW + 3600)), "token_not_yet_valid")
    assert isinstance(verifier.verify(token(issued_at=NOW + 200)), CodeStatus)


# -- keys and signatures --------------------------------------------------------------------

def test_token_of_an_unknown_issuer_key_is_refused(verifier: TokenVerifier) -> None:
    stranger = Issuer.from_seed("other-2026", "somewhere else", "another seed")
    assert refused(verifier.verify(token(issuer=stranger)), "token_unknown_key")


def test_token_signed_by_another_key_under_a_trusted_kid_is_forged(verifier: TokenVerifier) -> None:
    impostor = Issuer.from_seed(SIM_ISSUER.kid, SIM_ISSUER.name, "not the real seed")
    assert refused(verifier.verify(token(issuer=impostor)), "token_forged", "bad_signature")


def test_changing_the_colour_after_signing_is_forged(verifier: TokenVerifier) -> None:
    prefix, body, sig = token("red").split(".")
    claims = json.loads(b64url_decode(body) or b"")
    claims["col"] = "green"
    tampered = f"{prefix}.{b64url(json.dumps(claims).encode())}.{sig}"
    assert refused(verifier.verify(tampered), "token_forged")


def test_non_canonical_base64_spelling_of_the_signature_is_refused(verifier: TokenVerifier) -> None:
    good = token()
    prefix, body, sig = good.split(".")
    # The last character of 64 bytes in base64 holds 2 bits + 4 padding bits: flip a padding bit.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet[alphabet.index(sig[-1]) ^ 1]
    assert refused(verifier.verify(f"{prefix}.{body}.{sig[:-1]}{last}"), "token_malformed", "bad_base64")


# -- malformed payloads ---------------------------------------------------------------------

MALFORMED: list[tuple[object, str]] = [
    ("", "empty"),
    ("   \r\n", "empty"),
    (None, "not_text"),
    (12345, "not_text"),
    ("LFHC1." + "A" * (MAX_TOKEN_CHARS + 1), "oversized"),
    (b"LFHC1." + b"A" * 100_000, "oversized"),
    (b"\x00\xff\xfe\x80BINARY\xc3\x28", "binary"),
    ("LFHC1.健康码.签名", "binary"),
    ("LFHC1.abc\x00def.ghi", "binary"),
    ("HC1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N", "wrong_prefix"),
    ("https://example.invalid/code?id=1", "wrong_prefix"),
    ("lfhc1.abc.def", "wrong_prefix"),
    ("LFHC1", "bad_structure"),
    ("LFHC1.abc", "bad_structure"),
    ("LFHC1.a.b.c", "bad_structure"),
    ("LFHC1.!!!.AAAA", "bad_base64"),
    ("LFHC1.abc=.AAAA", "bad_base64"),
    ("LFHC1.a.AAAA", "bad_base64"),
    ("LFHC1.e30.AAAA", "bad_signature_length"),
    (f"LFHC1.{b64url(b'not json')}.{b64url(bytes(64))}", "bad_json"),
    (f"LFHC1.{b64url(bytes([0xff, 0xfe]))}.{b64url(bytes(64))}", "bad_json"),
    (f"LFHC1.{b64url(b'[1, 2, 3]')}.{b64url(bytes(64))}", "bad_json"),
    (f"LFHC1.{b64url(b'[' * 1100)}.{b64url(bytes(64))}", "bad_json"),
    (f"LFHC1.{b64url(b'{}')}.{b64url(bytes(64))}", "missing_claims"),
]


@pytest.mark.parametrize(("payload", "detail"), MALFORMED)
def test_malformed_payloads_are_refused_with_their_detail(verifier: TokenVerifier, payload: object,
                                                           detail: str) -> None:
    result = verifier.verify(payload)
    assert refused(result, "token_malformed", detail), result


@pytest.mark.parametrize(("changes", "detail"), [
    ({"col": None}, "missing_claims"),
    ({"sub": None}, "missing_claims"),
    ({"exp": None}, "missing_claims"),
    ({"col": "blue"}, "bad_colour"),
    ({"col": ["green"]}, "bad_colour"),
    ({"sub": "12345"}, "bad_subject"),
    ({"sub": 310107199606147247}, "bad_subject"),
    ({"kid": ""}, "bad_issuer"),
    ({"iss": 7}, "bad_issuer"),
    ({"iat": "yesterday"}, "bad_times"),
    ({"exp": NOW - 120, "iat": NOW - 60}, "bad_times"),
    ({"exp": True}, "bad_times"),
    ({"iat": 1.5}, "bad_times"),
])
def test_signed_tokens_with_missing_or_wrong_claims_are_malformed(verifier: TokenVerifier,
                                                                  changes: dict[str, object], detail: str) -> None:
    assert refused(verifier.verify(signed(good_claims(**changes))), "token_malformed", detail)


def test_other_versions_are_unsupported_whether_in_the_prefix_or_the_claims(verifier: TokenVerifier) -> None:
    assert refused(verifier.verify(signed(good_claims(), prefix="LFHC2")), "token_unsupported_version")
    assert refused(verifier.verify(signed(good_claims(v=2))), "token_unsupported_version")
    assert refused(verifier.verify(signed(good_claims(v=True))), "token_unsupported_version")
    assert refused(verifier.verify(signed(good_claims(v="1"))), "token_unsupported_version")
    assert isinstance(verifier.verify(signed(good_claims())), CodeStatus)


def test_every_reason_has_its_own_words_in_both_languages() -> None:
    assert set(REFUSAL_WORDS) == {"token_malformed", "token_unknown_key", "token_forged", "token_expired",
                                  "token_not_yet_valid", "token_unsupported_version"}
    zh = [w[0] for w in REFUSAL_WORDS.values()]
    en = [w[1] for w in REFUSAL_WORDS.values()]
    assert len(set(zh)) == len(zh) and len(set(en)) == len(en)
    refusal = TokenRefusal("token_expired", "expired")
    assert "过期" in refusal.words_zh and "expired" in refusal.words_en


def test_refusals_are_logged_but_never_quote_the_payload(verifier: TokenVerifier,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for payload in (token(issued_at=NOW - 5 * DAY), token(issuer=Issuer.from_seed("x", "x", "x")), ID_NUMBER):
        result = verifier.verify(payload)
        assert isinstance(result, TokenRefusal)
        assert ID_NUMBER not in repr(result) and ID_NUMBER not in result.detail
    assert [r.getMessage() for r in caplog.records] == [
        "QR token refused: token_expired (expired)", "QR token refused: token_unknown_key (unknown_kid)",
        "QR token refused: token_malformed (wrong_prefix)"]


# -- trust list -----------------------------------------------------------------------------

def test_trust_list_loads_from_a_file(tmp_path) -> None:
    path = tmp_path / "trust.json"
    path.write_text(json.dumps(TRUST_DOC), encoding="utf-8")
    trust = TrustList.load(path)
    assert trust.kids() == [SIM_ISSUER.kid] and len(trust) == 1
    assert trust.get(SIM_ISSUER.kid) is not None and trust.get("nope") is None


@pytest.mark.parametrize("doc", [
    [],
    {"keys": "all"},
    {"format": "something-else", "keys": []},
    {"keys": [42]},
    {"keys": [{"kid": "", "public_key": SIM_ISSUER.public_key_b64()}]},
    {"keys": [{"kid": "k", "alg": "RS256", "public_key": SIM_ISSUER.public_key_b64()}]},
    {"keys": [{"kid": "k", "public_key": "AAAA"}]},
    {"keys": [{"kid": "k", "public_key": "!!not base64!!"}]},
])
def test_unusable_trust_lists_are_refused_clearly(doc: object) -> None:
    with pytest.raises(TrustListError):
        TrustList.from_document(doc)


def test_trust_list_file_problems_are_trust_list_errors(tmp_path) -> None:
    with pytest.raises(TrustListError, match="cannot read"):
        TrustList.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_bytes(b"\xff{")
    with pytest.raises(TrustListError, match="not JSON"):
        TrustList.load(tmp_path / "bad.json")


def test_an_empty_trust_list_knows_no_key() -> None:
    assert refused(TokenVerifier(TrustList(), clock=lambda: NOW).verify(token()), "token_unknown_key")


# -- fuzz -----------------------------------------------------------------------------------

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(st.one_of(st.binary(max_size=3000), st.text(max_size=3000),
                 st.text(alphabet="LFHC1.ABCabc_-=0123456789{}\"", max_size=300).map(lambda s: "LFHC1." + s)))
def test_fuzz_random_payloads_never_raise_and_never_pass(payload: bytes | str) -> None:
    verifier = TokenVerifier(TrustList.from_document(TRUST_DOC), clock=lambda: NOW)
    result = verifier.verify(payload)
    assert isinstance(result, TokenRefusal)
    assert result.reason in REFUSAL_WORDS


GOOD = token()


@FUZZ
@given(st.integers(min_value=0, max_value=len(GOOD) - 1),
       st.sampled_from(["delete", "replace", "insert"]),
       st.characters(codec="ascii"))
def test_fuzz_any_one_character_change_of_a_good_token_is_refused(pos: int, how: str, char: str) -> None:
    if how == "delete":
        mutated = GOOD[:pos] + GOOD[pos + 1:]
    elif how == "replace":
        mutated = GOOD[:pos] + char + GOOD[pos + 1:]
    else:
        mutated = GOOD[:pos] + char + GOOD[pos:]
    if mutated.strip() == GOOD:
        return  # blanks at the ends are stripped; the token is unchanged
    verifier = TokenVerifier(TrustList.from_document(TRUST_DOC), clock=lambda: NOW)
    assert isinstance(verifier.verify(mutated), TokenRefusal)


# -- a live trust list (pulled issuer keys, a file as the seed) ---------------------------------------


def test_a_live_trust_list_follows_its_source_and_falls_back_to_the_seed() -> None:
    other = Issuer.from_seed("other-1", "other issuer", "another-seed")
    pulled = TrustList.from_document({"keys": [{"kid": other.kid, "public_key": other.public_key_b64()}]})
    current: list[TrustList | None] = [None]
    live = LiveTrustList(lambda: current[0], TrustList.from_document(TRUST_DOC))
    verifier = TokenVerifier(live, skew_s=300, clock=lambda: NOW)
    assert isinstance(verifier.verify(token()), CodeStatus) and live.kids() == [SIM_ISSUER.kid]
    current[0] = pulled
    assert refused(verifier.verify(token()), "token_unknown_key")
    assert isinstance(verifier.verify(token(issuer=other)), CodeStatus) and len(live) == 1


def test_a_live_trust_list_with_neither_source_data_nor_seed_knows_no_key() -> None:
    verifier = TokenVerifier(LiveTrustList(lambda: None), skew_s=300, clock=lambda: NOW)
    assert refused(verifier.verify(token()), "token_unknown_key")


def test_a_failing_trust_source_keeps_the_last_list(caplog: pytest.LogCaptureFixture) -> None:
    answers: list[object] = [TrustList.from_document(TRUST_DOC)]

    def source() -> TrustList | None:
        if isinstance(answers[0], Exception):
            raise answers[0]
        return answers[0]  # type: ignore[return-value]

    verifier = TokenVerifier(LiveTrustList(source), skew_s=300, clock=lambda: NOW)
    assert isinstance(verifier.verify(token()), CodeStatus)
    answers[0] = RuntimeError("store closed")
    assert isinstance(verifier.verify(token()), CodeStatus)
    assert "keeping the last list" in caplog.text
