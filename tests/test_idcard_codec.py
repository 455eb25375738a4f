"""ID card SAM protocol: known frames from DESIGN §4, the text block's fields, and fuzzing of the parsers."""

from __future__ import annotations

import datetime as dt
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import DeviceDisconnected, DeviceRefused, DeviceTimeout, FrameError
from drivers.idcard.codec import (
    READ_REPLY_BYTES,
    CardDataError,
    CardReadError,
    Command,
    FrameRejected,
    IdCardDisconnected,
    IdCardError,
    IdCardRefused,
    IdCardTimeout,
    IdFrameError,
    NoCardError,
    Reply,
    SamError,
    belongs_to,
    build_command,
    build_reply,
    checksum,
    error_for,
    parse_command,
    parse_read_data,
    parse_reply,
    reply_budget_s,
    scan,
    status_of,
    wire_time_s,
)
from drivers.idcard.fields import (
    NATIONS,
    TEXT_BLOCK_BYTES,
    check_digit,
    id_number_valid,
    mask_id,
    mask_name,
    nation_name,
    parse_text,
    sex_name,
    split_fields,
)

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]

H = bytes.fromhex
WIDTHS = (30, 2, 4, 16, 70, 36, 30, 16, 16, 36)


def text_block(*values: str, pad: str = " ") -> bytes:
    """A text block written by hand (not with the code under test): UCS-2LE, padded to each width."""
    out = b""
    for value, width in zip(values, WIDTHS, strict=True):
        raw = value.encode("utf-16-le")
        out += raw + pad.encode("utf-16-le") * ((width - len(raw)) // 2)
    return out


ZHANG = ("张三明", "1", "01", "19970104", "上海市静安区临汾路380弄1号101室", "310109199701046877",
         "上海市公安局静安分局", "20150301", "20250301", "")
OLD_LI = ("李秀英", "2", "03", "19400101", "上海市静安区汾西路1弄2号", "11010519491231002X",
          "上海市公安局静安分局", "20100101", "长期", "")


def read_reply_by_hand(text: bytes, photo: bytes) -> bytes:
    """The 1295-byte read reply assembled from the layout in DESIGN §4."""
    after_len = b"\x00\x00\x90" + b"\x01\x00" + b"\x04\x00" + text + photo
    length = struct.pack(">H", len(after_len) + 1)
    chk = 0
    for b in length + after_len:
        chk ^= b
    return b"\xaa\xaa\xaa\x96\x69" + length + after_len + bytes([chk])


# -- known frames -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("command", "frame"),
    [
        (Command.FIND_CARD, "AA AA AA 96 69 00 03 20 01 22"),  # the known frame of DESIGN §4
        (Command.SELECT_CARD, "AA AA AA 96 69 00 03 20 02 21"),
        (Command.READ_TEXT_PHOTO, "AA AA AA 96 69 00 03 30 01 32"),
        (Command.READ_WITH_FINGERPRINT, "AA AA AA 96 69 00 03 30 10 23"),
        (Command.RESET_SAM, "AA AA AA 96 69 00 03 10 FF EC"),
        (Command.SAM_STATUS, "AA AA AA 96 69 00 03 11 FF ED"),
        (Command.SAM_ID, "AA AA AA 96 69 00 03 12 FF EE"),
    ],
)
def test_command_frames_are_exact(command, frame):
    assert build_command(command) == H(frame)
    assert parse_command(H(frame)) == parse_command(build_command(command))


def test_checksum_is_xor_of_len_through_data():
    assert checksum(H("00 03 20 01")) == 0x22
    assert checksum(b"") == 0


@pytest.mark.parametrize(
    ("frame", "sw3", "data"),
    [
        ("AA AA AA 96 69 00 08 00 00 9F 00 00 00 00 97", 0x9F, bytes(4)),  # card found, 4 bytes of data
        ("AA AA AA 96 69 00 04 00 00 80 84", 0x80, b""),  # no card
        ("AA AA AA 96 69 00 0C 00 00 90 00 00 00 00 00 00 00 00 9C", 0x90, bytes(8)),  # selected
        ("AA AA AA 96 69 00 04 00 00 90 94", 0x90, b""),
        ("AA AA AA 96 69 00 04 00 00 66 62", 0x66, b""),  # SAM not authorised
    ],
)
def test_known_replies(frame, sw3, data):
    reply = parse_reply(H(frame))
    assert (reply.sw1, reply.sw2, reply.sw3, reply.data) == (0, 0, sw3, data)
    assert build_reply(sw3, data) == H(frame)


def test_read_reply_is_1295_bytes_with_text_and_photo_blocks():
    text, photo = text_block(*ZHANG), bytes(range(256)) * 4
    frame = read_reply_by_hand(text, photo)
    assert len(frame) == READ_REPLY_BYTES == 1295
    assert frame[5:7] == H("05 08")  # LEN = 1288: everything after LEN, CHK included
    reply = parse_reply(frame)
    assert reply.sw3 == 0x90 and reply.ok
    payload = parse_read_data(reply.data)
    assert (payload.text, payload.photo, payload.fingerprint) == (text, photo, b"")


def test_fingerprint_layout_has_a_third_length():
    text, photo, fp = text_block(*ZHANG), bytes(1024), b"\x43" * 1024
    data = struct.pack(">HHH", 256, 1024, 1024) + text + photo + fp
    payload = parse_read_data(data)
    assert (payload.text, payload.photo, payload.fingerprint) == (text, photo, fp)
    no_fp = parse_read_data(struct.pack(">HHH", 256, 1024, 0) + text + photo)
    assert no_fp.fingerprint == b"" and no_fp.photo == photo


def test_read_data_whose_blocks_do_not_add_up_is_refused():
    with pytest.raises(IdFrameError, match="do not add up"):
        parse_read_data(struct.pack(">HH", 256, 1024) + bytes(100))
    with pytest.raises(IdFrameError):
        parse_read_data(b"\x01")


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("AA AA AA 96 69 00 04 00 00 90 95", "checksum"),
        ("AA AA AA 96 69 00 05 00 00 90 94", "LEN says"),
        ("AA AA AA 96 00 00 04 00 00 90 94", "no frame header"),
        ("AA AA AA 96 69 00 02 00 92", "implausible"),
        ("AA AA AA 96 69 FF FF 00", "implausible"),
    ],
)
def test_bad_frames_are_frame_errors(frame, message):
    with pytest.raises(IdFrameError, match=message):
        parse_reply(H(frame))


def test_scan_skips_junk_and_keeps_a_partial_preamble():
    frame = H("AA AA AA 96 69 00 04 00 00 80 84")
    assert scan(b"\x00\x13" + frame).skip == 2
    assert scan(b"\x00\x13" + frame).total == len(frame)
    assert scan(b"\x01\x02\xaa\xaa").skip == 2  # "AA AA" may start a preamble
    assert scan(b"\x01\x02\x03").skip == 3
    assert scan(frame[:6]).total is None


# -- status words and errors --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("sw3", "kind", "code", "generic"),
    [
        (0x80, NoCardError, 111, DeviceTimeout),
        (0x60, SamError, 112, DeviceRefused),
        (0x66, SamError, 112, DeviceRefused),
        (0x41, CardReadError, 113, DeviceRefused),
        (0x81, CardReadError, 113, DeviceRefused),
        (0x10, FrameRejected, 114, DeviceRefused),
        (0x21, FrameRejected, 114, DeviceRefused),
        (0x55, IdCardRefused, 104, DeviceRefused),
    ],
)
def test_failure_status_words_map_to_the_drivers_errors(sw3, kind, code, generic):
    err = error_for(Reply(0, 0, sw3), "read card", device="idcard")
    assert type(err) is kind and isinstance(err, IdCardError) and isinstance(err, generic)
    assert err.code == code
    assert f"SW3 {sw3:02X}" in str(err) and str(err).startswith("idcard: read card:")


def test_status_table_words():
    assert status_of(0x60).text == "SAM self-test failed"
    assert status_of(0x66).text == "SAM not authorised"
    assert status_of(0x41).text_zh == "读证/卡操作失败"
    assert "unknown" in status_of(0x77).text


def test_generic_error_codes_are_kept():
    assert IdCardDisconnected("x").code == 101 and isinstance(IdCardDisconnected("x"), DeviceDisconnected)
    assert IdCardTimeout("x").code == 102
    assert IdFrameError("x").code == 103 and isinstance(CardDataError("x"), FrameError)
    assert CardDataError("x").code == 115


def test_late_replies_are_told_apart():
    found, selected = Reply(0, 0, 0x9F, bytes(4)), Reply(0, 0, 0x90, bytes(8))
    read = Reply(0, 0, 0x90, bytes(4 + 256 + 1024))
    assert belongs_to(Command.FIND_CARD, found) and not belongs_to(Command.SELECT_CARD, found)
    assert belongs_to(Command.SELECT_CARD, selected) and not belongs_to(Command.READ_TEXT_PHOTO, selected)
    assert belongs_to(Command.READ_TEXT_PHOTO, read) and not belongs_to(Command.FIND_CARD, read)
    assert belongs_to(Command.READ_TEXT_PHOTO, Reply(0, 0, 0x60))  # errors may answer anything


# -- timing -------------------------------------------------------------------------------------
@pytest.mark.parametrize(("baud", "minimum_s"), [(9600, 1.349), (19200, 0.674), (38400, 0.337),
                                                 (57600, 0.225), (115200, 0.112)])
def test_read_reply_budget_covers_the_wire_time_at_every_baud(baud, minimum_s):
    assert wire_time_s(1295, baud) == pytest.approx(minimum_s, abs=0.001)
    assert reply_budget_s(1295, baud) > wire_time_s(1295, baud) * 1.2


# -- text fields --------------------------------------------------------------------------------
def test_text_block_fields():
    card = parse_text(text_block(*ZHANG))
    assert card.name == "张三明" and card.sex == "1" and card.nation_code == "01"
    assert card.birth == dt.date(1997, 1, 4)
    assert card.address == "上海市静安区临汾路380弄1号101室"
    assert card.id_number == "310109199701046877"
    assert card.authority == "上海市公安局静安分局"
    assert (card.valid_from, card.valid_to) == (dt.date(2015, 3, 1), dt.date(2025, 3, 1))
    assert TEXT_BLOCK_BYTES == 256 == len(text_block(*ZHANG))


def test_fields_filled_to_their_full_width():
    full = ("欧" * 15, "2", "56", "20000229", "址" * 35, "11010519491231002X", "局" * 15, "20200229", "长期", "")
    card = parse_text(text_block(*full))
    assert (card.name, card.address, card.authority) == ("欧" * 15, "址" * 35, "局" * 15)
    assert (card.nation_code, card.birth, card.valid_to) == ("56", dt.date(2000, 2, 29), None)


def test_long_term_validity_and_lower_case_x():
    values = list(OLD_LI)
    values[5] = values[5].lower()
    card = parse_text(text_block(*values))
    assert card.valid_to is None
    assert card.id_number == "11010519491231002X"
    assert nation_name(card.nation_code) == "回"


@pytest.mark.parametrize("pad", ["\x00", "\u3000"])
def test_other_padding_is_accepted(pad):
    assert parse_text(text_block(*ZHANG, pad=pad)).name == "张三明"


@pytest.mark.parametrize(("field", "value"), [(3, "19971304"), (3, "1997ABCD"), (7, "2015"), (8, "永久"), (2, "汉族")])
def test_unreadable_fields_are_card_data_errors(field, value):
    values = list(ZHANG)
    values[field] = value
    with pytest.raises(CardDataError):
        parse_text(text_block(*values))


def test_short_text_block_is_refused():
    with pytest.raises(CardDataError, match="text block"):
        split_fields(bytes(100))


def test_nation_table_has_all_56_codes():
    assert [f"{i:02d}" for i in range(1, 57)] == [c for c in NATIONS if c <= "56"]
    assert (NATIONS["01"], NATIONS["29"], NATIONS["56"]) == ("汉", "柯尔克孜", "基诺")
    assert len(set(NATIONS.values())) == len(NATIONS)
    assert nation_name("1") == "汉" and nation_name("77") == "未知"


def test_sex_names():
    assert (sex_name("1"), sex_name("2"), sex_name("x")) == ("男", "女", "未知")


@pytest.mark.parametrize(
    ("number", "valid"),
    [("11010519491231002X", True), ("11010519491231002x", True), ("310109199701046877", True),
     ("310109199701046878", False), ("31010919970104687", False), ("3101091997010468７7", False), ("", False)],
)
def test_check_digit(number, valid):
    assert id_number_valid(number) is valid


def test_check_digit_characters():
    assert check_digit("11010519491231002") == "X"
    with pytest.raises(ValueError):
        check_digit("123")


def test_masks():
    assert mask_id("310109199701046877") == "310***********6877"
    assert mask_name("张三明") == "张*明"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳小明") == "欧**明"
    assert mask_name("张") == "*" and mask_id("1234") == "****"


# -- fuzzing ------------------------------------------------------------------------------------
VALID_READ = read_reply_by_hand(text_block(*ZHANG), bytes(range(256)) * 4)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=1400))
def test_random_bytes_give_a_reply_or_a_frame_error(data):
    try:
        reply = parse_reply(data)
    except IdFrameError:
        return
    assert isinstance(reply, Reply) and len(data) == 11 + len(reply.data)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255), st.binary(max_size=300), st.integers(0, 255), st.integers(0, 255))
def test_reply_round_trip(sw3, data, sw1, sw2):
    assert parse_reply(build_reply(sw3, data, sw1, sw2)) == Reply(sw1, sw2, sw3, data)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, READ_REPLY_BYTES - 1), st.integers(1, 255))
def test_any_single_corrupted_byte_is_caught(position, flip):
    damaged = bytearray(VALID_READ)
    damaged[position] ^= flip
    with pytest.raises(IdFrameError):
        parse_reply(bytes(damaged))


@settings(max_examples=200, deadline=None)
@given(st.integers(0, READ_REPLY_BYTES - 1))
def test_any_truncation_is_caught(cut):
    with pytest.raises(IdFrameError):
        parse_reply(VALID_READ[:cut])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40).filter(lambda b: b"\xaa" not in b), st.binary(max_size=20))
def test_scan_finds_a_frame_after_junk(junk, tail):
    found = scan(junk + VALID_READ + tail)
    assert found.skip == len(junk) and found.total == READ_REPLY_BYTES


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_read_data_only_parses_or_raises_the_parsers_error(draw):
    tlen = draw.draw(st.sampled_from([0, 2, 100, 255, 256, 300]))
    plen = draw.draw(st.sampled_from([0, 1, 1024]))
    heads = [struct.pack(">HH", tlen, plen), struct.pack(">HHH", tlen, plen, 0), b""]
    head = draw.draw(st.sampled_from(heads))
    size = max(0, tlen + plen + draw.draw(st.integers(-2, 2)))
    data = head + draw.draw(st.binary(min_size=size, max_size=size))
    try:
        payload = parse_read_data(data)
        parse_text(payload.text)
    except IdFrameError:  # CardDataError is one
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=256, max_size=256))
def test_random_text_blocks_give_fields_or_card_data_error(text):
    try:
        card = parse_text(text)
    except CardDataError:
        return
    assert isinstance(card.birth, dt.date)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.sampled_from(["19970104", "长期", "20251331", "2025030"])),
                min_size=0, max_size=3))
def test_corrupted_valid_text_blocks(edits):
    values = list(OLD_LI)
    for field, value in edits:
        values[field] = value if len(value.encode("utf-16-le")) <= WIDTHS[field] else values[field]
    try:
        parse_text(text_block(*values))
    except CardDataError:
        pass
