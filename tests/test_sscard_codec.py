"""Pure parts of the PC/SC drivers: APDUs, the 61xx/6Cxx rules, SIMPLE-TLV, field values, reader names.

Known answers from DESIGN §4, then hypothesis: random, truncated and corrupted input only
ever yields a value or the family's own error, and :func:`exchange` always ends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from smartcard import scard

from drivers.ccard import GET_UID, uid_from_response
from drivers.pcsc_common import (
    MAX_LE_RESENDS,
    MAX_RESPONSE_ROUNDS,
    CardDataError,
    CardRemovedError,
    CardResetError,
    NoCardError,
    PcscError,
    PcscServiceError,
    PcscTransmitError,
    ReaderNotFound,
    Response,
    StatusWordError,
    apdu_case,
    build_apdu,
    exchange,
    get_response,
    require,
    sw_text,
    with_le,
)
from drivers.pcsc_link import error_for_hresult, match_reader
from drivers.sscard import reading_from_items
from drivers.sscard_codec import (
    EF05,
    EF06,
    decode_card_id_code,
    decode_date,
    decode_digits,
    decode_name,
    decode_nation,
    decode_sex,
    decode_spec_version,
    encode_tlv,
    generation_of,
    parse_tlvs,
    read_record,
    region_of,
    select_by_name,
    select_ef,
    select_mf,
)
from hardware_sim import personas
from hardware_sim.sscard_files import PROFILE_BY_GENERATION, CardProfile, persona_items

pytestmark = [pytest.mark.unit, pytest.mark.timeout(120)]


# --- APDUs (DESIGN §4 known answers) ----------------------------------------------------------


def test_select_application_by_name() -> None:
    assert select_by_name() == bytes.fromhex("00A404000F7378312E73682EC9E7BBE1B1A3D5CF")


def test_select_ef_and_mf() -> None:
    assert select_ef(EF05) == bytes.fromhex("00A4020002EF05")
    assert select_ef(EF06) == bytes.fromhex("00A4020002EF06")
    assert select_mf() == bytes.fromhex("00A40000023F00")


def test_read_record_and_get_uid() -> None:
    assert read_record(1) == bytes.fromhex("00B2010400")  # Le 00: up to 256 bytes
    assert read_record(9, le=0x20) == bytes.fromhex("00B2090420")
    assert GET_UID == bytes.fromhex("FFCA000000")
    with pytest.raises(ValueError):
        read_record(0)


@pytest.mark.parametrize(("cmd", "case"), [("00A40000", 1), ("00B2010400", 2), ("00A4020002EF05", 3),
                                           ("00A4020002EF0500", 4)])
def test_apdu_case(cmd: str, case: int) -> None:
    assert apdu_case(bytes.fromhex(cmd)) == case


@pytest.mark.parametrize("cmd", ["00A400", "00A4020003EF05", "00A4020002EF050000"])
def test_apdu_case_rejects_bad_lengths(cmd: str) -> None:
    with pytest.raises(ValueError):
        apdu_case(bytes.fromhex(cmd))


def test_with_le_replaces_or_appends() -> None:
    assert with_le(bytes.fromhex("00B2010400"), 0x12) == bytes.fromhex("00B2010412")
    assert with_le(bytes.fromhex("00A4020002EF05"), 256) == bytes.fromhex("00A4020002EF0500")
    assert with_le(bytes.fromhex("00A40000"), 4) == bytes.fromhex("00A4000004")
    assert get_response(0x00, 0x1A) == bytes.fromhex("00C000001A")
    assert get_response(0x01, 0x10) == bytes.fromhex("01C0000010")  # logical channel kept
    assert build_apdu(0xFF, 0xCA, 0, 0, le=256) == GET_UID


def test_response_and_status_words() -> None:
    assert Response.parse(b"\x01\x02\x90\x00") == Response(b"\x01\x02", 0x9000)
    assert Response.parse(b"\x61\x10").sw1 == 0x61
    with pytest.raises(CardDataError):
        Response.parse(b"\x90")
    assert sw_text(0x6A82) == "file or application not found"
    assert "GET RESPONSE" in sw_text(0x6110)
    assert "Le=28" in sw_text(0x6C1C)
    assert sw_text(0xA55A) == "not an ISO 7816 status word"
    with pytest.raises(StatusWordError, match="6A83") as info:
        require(Response(b"", 0x6A83), "reading record 1")
    assert info.value.sw == 0x6A83 and info.value.code == 195


# --- exchange: 61xx and 6Cxx -----------------------------------------------------------------------


def scripted(*answers: str) -> tuple[Callable[[bytes], bytes], list[bytes]]:
    """A send function answering from a script (hex), recording the commands."""
    sent: list[bytes] = []
    script = [bytes.fromhex(a) for a in answers]

    def send(cmd: bytes) -> bytes:
        sent.append(cmd)
        return script.pop(0)

    return send, sent


def test_6c_resends_with_the_named_le() -> None:
    send, sent = scripted("6C05", "0102030405 9000")
    assert exchange(send, read_record(1)) == Response(bytes.fromhex("0102030405"), 0x9000)
    assert sent == [bytes.fromhex("00B2010400"), bytes.fromhex("00B2010405")]


def test_61_follows_with_get_response_and_joins_chunks() -> None:
    send, sent = scripted("6104", "AABB 6102", "CCDD 9000")
    assert exchange(send, read_record(2)) == Response(bytes.fromhex("AABBCCDD"), 0x9000)
    assert sent[1:] == [bytes.fromhex("00C0000004"), bytes.fromhex("00C0000002")]


def test_61_then_6c_on_get_response() -> None:
    send, sent = scripted("6100", "6C03", "010203 9000")
    assert exchange(send, read_record(1)).data == b"\x01\x02\x03"
    assert sent[1:] == [bytes.fromhex("00C0000000"), bytes.fromhex("00C0000003")]


def test_select_does_not_follow_61() -> None:
    send, sent = scripted("6112")
    assert exchange(send, select_by_name(), follow_61=False).sw == 0x6112
    assert len(sent) == 1


def test_endless_requests_are_cut_off() -> None:
    with pytest.raises(StatusWordError):
        exchange(lambda cmd: b"\x6c\x05", read_record(1))
    with pytest.raises(StatusWordError):
        exchange(lambda cmd: b"\x00\x61\x01", read_record(1))


# --- SIMPLE-TLV ----------------------------------------------------------------------------------


def test_tlv_round_trip_and_long_form() -> None:
    assert encode_tlv(0x07, b"J14955447") == bytes.fromhex("07 09") + b"J14955447"
    long_value = bytes(300)
    assert parse_tlvs(encode_tlv(0x09, long_value)) == [(0x09, long_value)]
    assert parse_tlvs(encode_tlv(0x08, b"") + encode_tlv(0x09, b"x")) == [(0x08, b""), (0x09, b"x")]


@pytest.mark.parametrize("tail", ["", "FFFFFFFF", "0000", "00 07 09", "01", "0A 05 01"])
def test_tlv_padding_and_trailing_bytes_are_ignored(tail: str) -> None:
    record = encode_tlv(0x07, b"J14955447") + bytes.fromhex(tail)
    assert parse_tlvs(record) == [(0x07, b"J14955447")]


@pytest.mark.parametrize("record", ["07FE4A31", "07", "09FF01", "0910" + "41" * 15])
def test_malformed_first_item_is_an_error(record: str) -> None:
    with pytest.raises(CardDataError, match="malformed TLV"):
        parse_tlvs(bytes.fromhex(record))


def test_padding_only_record_has_no_items() -> None:
    assert parse_tlvs(b"\xff" * 8) == [] and parse_tlvs(b"") == []


# --- field values --------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "day"), [
    ("20200802", dt.date(2020, 8, 2)), ("20200820", dt.date(2020, 8, 20)),
    ("3230323030383032", dt.date(2020, 8, 2)), ("00000000", None), ("FFFFFFFF", None),
    ("323032302D30382D3032", dt.date(2020, 8, 2)),  # "2020-08-02"
])
def test_dates_bcd_ascii_or_empty(raw: str, day: dt.date | None) -> None:
    assert decode_date(bytes.fromhex(raw), "issue date") == day


@pytest.mark.parametrize("raw", ["20201302", "2020", "1A2B3C4D"])
def test_bad_dates(raw: str) -> None:
    with pytest.raises(CardDataError):
        decode_date(bytes.fromhex(raw), "birth date")


def test_nation_sex_and_codes() -> None:
    assert decode_nation(b"\x01") == "01" and decode_nation(b"\x35") == "35"  # BCD: 35 is 撒拉
    assert decode_nation(b"01") == "01" and decode_nation(b"\x0a") == "10"  # ASCII; a binary 10
    assert decode_sex(b"1") == "1" and decode_sex(b"\x02") == "2" and decode_sex("女".encode("gbk")) == "2"
    with pytest.raises(CardDataError):
        decode_sex(b"M")
    assert decode_digits(b"\x12\x3f", "x") == "123"
    assert decode_card_id_code(bytes.fromhex("310000D156EF09A2")) == "310000D156EF09A2"
    assert decode_card_id_code(b"310000D156EF09A2\x00\x00") == "310000D156EF09A2"
    assert region_of("310000D156") == "310000" and region_of("ABC") == ""
    assert [generation_of(v) for v in ("1.00", "2.00", "3.00", "V3.0", "")] == [1, 2, 3, 3, 0]
    assert decode_spec_version(b"3.00") == "3.00" and decode_spec_version(b"\x03\x00") == "3.00"


def test_gbk_name_with_padding() -> None:
    assert decode_name("欧阳小明".encode("gbk").ljust(30, b"\x00")) == "欧阳小明"
    assert decode_name("王建国".encode("gbk").ljust(30, b"\x20")) == "王建国"
    assert decode_name("䶮".encode("gb18030") + b"\xff\xff") == "䶮"  # rare character beyond GBK
    with pytest.raises(CardDataError):
        decode_name(b"\x81\x20\x81")


def test_uid_lengths() -> None:
    assert uid_from_response(bytes.fromhex("C5EEDA41")) == "C5EEDA41"
    assert uid_from_response(bytes(7)) == "00" * 7
    with pytest.raises(CardDataError):
        uid_from_response(b"\x01\x02\x03")


@pytest.mark.parametrize("profile", [*PROFILE_BY_GENERATION.values(), CardProfile(ascii_numbers=True, name_pad=b"\xff")])
def test_every_persona_round_trips_through_items(profile: CardProfile) -> None:
    for p in personas.load():
        files = persona_items(p, profile)
        reading = reading_from_items({**files[EF05], **files[EF06]})
        assert (reading.card_number, reading.id_number, reading.name) == (p.ss_card_number, p.id_number, p.name)
        assert (reading.sex, reading.nation, reading.birth.strftime("%Y%m%d")) == (p.sex, p.nation, p.birth)
        assert reading.card_id_code == p.ss_card_id_code and reading.region == p.ss_card_id_code[:6]
        assert reading.generation == int(p.ss_spec_version[0]) and reading.id_valid
        assert reading.issue_date.strftime("%Y%m%d") == p.ss_issue_date  # type: ignore[union-attr]
        assert reading.expiry_date.strftime("%Y%m%d") == p.ss_expiry_date  # type: ignore[union-attr]


def test_missing_required_item() -> None:
    with pytest.raises(CardDataError, match="name"):
        reading_from_items({0x07: b"J1", 0x08: b"310107199606147247"})


def test_reading_masks_itself() -> None:
    p = personas.by_id("P001")
    files = persona_items(p, CardProfile())
    reading = reading_from_items({**files[EF05], **files[EF06]})
    assert p.name not in repr(reading) and p.id_number not in repr(reading)
    assert reading.as_dict()["id_number"].count("*") == 11 and reading.as_dict(masked=False)["name"] == p.name


# --- reader names and PC/SC result codes ---------------------------------------------------------


def test_match_reader() -> None:
    names = ["ACS ACR122U PICC 00 00", "Linfen SS VPCD 00 00", "Linfen SS VPCD 00 01"]
    assert match_reader(names, "ACR122") == "ACS ACR122U PICC 00 00"
    assert match_reader(names, "acr122u") == "ACS ACR122U PICC 00 00"
    assert match_reader(names, "Linfen SS VPCD 00 01") == "Linfen SS VPCD 00 01"
    with pytest.raises(ReaderNotFound, match="several"):
        match_reader(names, "Linfen SS")
    with pytest.raises(ReaderNotFound, match="no reader"):
        match_reader(names, "Omnikey")


@pytest.mark.parametrize(("hresult", "during_read", "cls"), [
    (scard.SCARD_E_NO_SERVICE, False, PcscServiceError),
    (scard.SCARD_E_UNKNOWN_READER, False, ReaderNotFound),
    (scard.SCARD_E_NO_SMARTCARD, False, NoCardError),
    (scard.SCARD_W_REMOVED_CARD, True, CardRemovedError),
    (scard.SCARD_W_RESET_CARD, True, CardResetError),
    (scard.SCARD_W_UNPOWERED_CARD, True, CardResetError),
    (scard.SCARD_E_PROTO_MISMATCH, True, PcscTransmitError),
])
def test_error_for_hresult(hresult: int, during_read: bool, cls: type[PcscError]) -> None:
    error = error_for_hresult(hresult, "doing it", device="sscard", during_read=during_read)
    assert type(error) is cls and str(error).startswith("sscard: ") and f"[E{cls.code}]" in str(error)


# --- property-based ------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_tlv_parser(data: bytes) -> None:
    try:
        items = parse_tlvs(data)
    except CardDataError:
        return
    encoded = b"".join(encode_tlv(tag, value) for tag, value in items)
    assert data.startswith(encoded)
    assert all(0x01 <= tag <= 0xFE for tag, _ in items)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.integers(0, 0x10), st.binary(max_size=40), max_size=12))
def test_fuzz_reading_from_items(items: dict[int, bytes]) -> None:
    try:
        reading = reading_from_items(items)
    except CardDataError:
        return
    assert isinstance(reading.name, str) and reading.generation >= 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=6), min_size=1, max_size=80))
def test_fuzz_exchange_always_ends(answers: list[bytes]) -> None:
    """Any card behaviour: a response or the family's error, within a bounded number of commands."""
    script = list(answers)
    sent: list[bytes] = []

    def send(cmd: bytes) -> bytes:
        sent.append(cmd)
        return script.pop(0) if script else b"\x90\x00"

    try:
        response = exchange(send, read_record(1))
    except PcscError:
        pass
    else:
        assert response.sw1 not in (0x61, 0x6C)
    assert len(sent) <= (MAX_RESPONSE_ROUNDS + 1) * (MAX_LE_RESENDS + 1)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=700), st.integers(1, 256), st.booleans())
def test_fuzz_exchange_reassembles_chained_data(data: bytes, chunk: int, wrong_le_first: bool) -> None:
    """A T=0 card handing out ``data`` in chunks of ``chunk``, maybe after a 6Cxx: exchange returns all of it."""
    waiting = bytearray()
    state = {"le_fixed": not (wrong_le_first and 1 <= len(data) <= 256), "started": False}

    def more() -> bytes:
        return bytes([0x61, min(len(waiting), 256) & 0xFF]) if waiting else b"\x90\x00"

    def send(cmd: bytes) -> bytes:
        le = cmd[-1] or 256
        if cmd[1] == 0xB2:
            if not state["le_fixed"] and le != len(data):
                state["le_fixed"] = True
                return bytes([0x6C, len(data) & 0xFF])
            waiting[:] = data
            return more()
        part = bytes(waiting[:min(le, chunk)])
        del waiting[:len(part)]
        return part + more()

    try:
        response = exchange(send, read_record(1))
    except StatusWordError:
        assert len(data) > chunk * MAX_RESPONSE_ROUNDS  # only too many rounds may fail
        return
    assert response == Response(data, 0x9000)
