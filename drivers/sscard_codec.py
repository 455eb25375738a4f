"""The social-security card's commands and data, as pure functions: APDUs, records, TLV, field values.

DESIGN §4: SELECT the application by name ``sx1.sh.社会保障`` (GBK), SELECT EF05 then EF06,
READ RECORD ``00 B2 rr 04 Le``.  A record holds SIMPLE-TLV items: tag (1 byte), length
(1 byte; ``FF`` + 2 bytes for long values), value.  Cards differ in what the spec leaves
open, and this module accepts all of it:

* padding after the items (``00`` or ``FF`` where a tag would be) and trailing bytes that do
  not form an item after a good one are ignored; a record whose *first* item runs past the
  end is malformed (:class:`~drivers.pcsc_common.CardDataError`);
* values padded inside (names to 30 bytes with ``00``/``20``/``FF``) are trimmed;
* numbers and dates as BCD (``cn``, the spec) or as ASCII digits; the card identification
  code as 16 binary bytes (shown in hex, as printed on cards) or as text; sex as ``'1'``,
  a binary 1, or 男/女.

EF05: 01 card identification code (region = its first 6 digits), 03 spec version
(1.00/2.00/3.00 = card generation 1/2/3), 05 issue date, 06 expiry date, 07 card number.
EF06: 08 social-security number (= the ID number), 09 name (GBK), 0A sex, 0B nation, 0D birth date.
"""

from __future__ import annotations

import datetime as dt
import re

from drivers.pcsc_common import CardDataError, build_apdu

SS_AID = "sx1.sh.社会保障".encode("gbk")  # 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF
EF05 = 0xEF05
EF06 = 0xEF06
MF = 0x3F00

TAG_CARD_ID_CODE = 0x01
TAG_SPEC_VERSION = 0x03
TAG_ISSUE_DATE = 0x05
TAG_EXPIRY_DATE = 0x06
TAG_CARD_NUMBER = 0x07
TAG_SS_NUMBER = 0x08
TAG_NAME = 0x09
TAG_SEX = 0x0A
TAG_NATION = 0x0B
TAG_BIRTH = 0x0D

EF05_TAGS = frozenset({TAG_CARD_ID_CODE, TAG_SPEC_VERSION, TAG_ISSUE_DATE, TAG_EXPIRY_DATE, TAG_CARD_NUMBER})
EF06_TAGS = frozenset({TAG_SS_NUMBER, TAG_NAME, TAG_SEX, TAG_NATION, TAG_BIRTH})
REQUIRED_TAGS = {TAG_CARD_NUMBER: "card number", TAG_SS_NUMBER: "social-security number", TAG_NAME: "name"}

_PAD_BYTES = b"\x00\xff\x20"
_TEXT_PAD = " \u3000\x00"


def select_by_name(aid: bytes = SS_AID) -> bytes:
    """SELECT by DF name, first occurrence, no Le: ``00 A4 04 00 Lc name``."""
    return build_apdu(0x00, 0xA4, 0x04, 0x00, aid)


def select_ef(fid: int) -> bytes:
    """SELECT an EF under the current DF by file id, no Le: ``00 A4 02 00 02 fid``."""
    return build_apdu(0x00, 0xA4, 0x02, 0x00, fid.to_bytes(2, "big"))


def select_file_id(fid: int) -> bytes:
    """SELECT by file id with P1 00 (MF, DF or EF): ``00 A4 00 00 02 fid``, for cards refusing P1 02."""
    return build_apdu(0x00, 0xA4, 0x00, 0x00, fid.to_bytes(2, "big"))


def select_mf() -> bytes:
    """SELECT the MF by its file id: ``00 A4 00 00 02 3F 00``."""
    return select_file_id(MF)


def read_record(number: int, le: int = 256) -> bytes:
    """READ RECORD ``number`` of the current EF: ``00 B2 rr 04 Le`` (Le 256 is written 00)."""
    if not 1 <= number <= 254:
        raise ValueError(f"record numbers are 1..254, not {number}")
    return build_apdu(0x00, 0xB2, number, 0x04, le=le)


def encode_tlv(tag: int, value: bytes) -> bytes:
    """One SIMPLE-TLV item (1-byte length, or ``FF`` + 2 bytes from 255 bytes on)."""
    if not 0x01 <= tag <= 0xFE:
        raise ValueError(f"SIMPLE-TLV tags are 01..FE, not {tag:02X}")
    if len(value) < 0xFF:
        return bytes([tag, len(value)]) + value
    if len(value) > 0xFFFF:
        raise ValueError("value too long for SIMPLE-TLV")
    return bytes([tag, 0xFF]) + len(value).to_bytes(2, "big") + value


def parse_tlvs(data: bytes) -> list[tuple[int, bytes]]:
    """The SIMPLE-TLV items of one record, in order (see the module doc for what is tolerated)."""
    items: list[tuple[int, bytes]] = []
    i = 0
    while i < len(data):
        tag = data[i]
        if tag in (0x00, 0xFF):
            break  # padding where the next tag would be
        length, header = _length_at(data, i + 1)
        end = i + header + 1 + (length if length is not None else 0)
        if length is None or end > len(data):
            if items:
                break  # trailing bytes after good items
            need = "a length" if length is None else f"{length} value bytes"
            raise CardDataError(f"malformed TLV: tag {tag:02X} needs {need}, the record has {len(data) - i - 1} more")
        items.append((tag, bytes(data[i + header + 1:end])))
        i = end
    return items


def _length_at(data: bytes, i: int) -> tuple[int | None, int]:
    """(length, length-field size) of the SIMPLE-TLV length at ``i``; (None, 0) if cut off."""
    if i >= len(data):
        return None, 0
    if data[i] != 0xFF:
        return data[i], 1
    if i + 2 >= len(data):
        return None, 0
    return int.from_bytes(data[i + 1:i + 3], "big"), 3


def trim(value: bytes) -> bytes:
    """A value without trailing padding bytes (00, FF, space)."""
    return value.rstrip(_PAD_BYTES)


def decode_ascii(value: bytes, field: str) -> str:
    """A printable-ASCII field (card number, ID number, version), padding removed."""
    raw = trim(value)
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        raise CardDataError(f"{field} is not ASCII text: {raw.hex(' ')}") from None
    if not text.isprintable():
        raise CardDataError(f"{field} holds control characters: {raw.hex(' ')}")
    return text.strip()


def decode_name(value: bytes) -> str:
    """The holder's name: GBK (decoded as its superset GB18030 for rare characters), padding removed."""
    raw = trim(value)
    try:
        return raw.decode("gb18030").strip(_TEXT_PAD)
    except UnicodeDecodeError:
        raise CardDataError(f"name is not GBK text: {raw.hex(' ')}") from None


def decode_digits(value: bytes, field: str) -> str:
    """Digits stored as BCD (``cn``: trailing ``F`` nibbles are padding) or as ASCII digits.

    A value of two or more ASCII digit bytes is text; a single byte is always BCD (the nation
    code ``0x35`` is 35, not "5").
    """
    raw = trim(value)
    if len(raw) >= 2 and all(0x30 <= b <= 0x39 for b in raw):
        return raw.decode("ascii")
    digits = value.hex().upper().rstrip("F")
    if digits.isdigit() or digits == "":
        return digits
    raise CardDataError(f"{field} is neither BCD nor ASCII digits: {value.hex(' ')}")


def decode_date(value: bytes, field: str) -> dt.date | None:
    """A YYYYMMDD date (BCD, ASCII, or ASCII with separators); None when the card leaves it empty (all 0 or F)."""
    text = trim(value)
    if len(text) == 10 and text.isascii() and re.fullmatch(rb"\d{4}[-/.]\d{2}[-/.]\d{2}", text):
        value = re.sub(rb"\D", b"", text)
    digits = decode_digits(value, field)
    if digits.strip("0") == "":
        return None
    if len(digits) != 8:
        raise CardDataError(f"{field} {digits!r} is not YYYYMMDD")
    try:
        return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise CardDataError(f"{field} {digits!r} is not a date") from None


def decode_sex(value: bytes) -> str:
    """GB/T 2261.1 sex code as text: ``'1'`` male, ``'2'`` female (from '1', a binary 1, or 男)."""
    raw = trim(value) or value[:1]
    if len(raw) == 1 and raw[0] <= 9:
        return str(raw[0])
    if len(raw) == 1 and chr(raw[0]) in "0129":
        return chr(raw[0])
    try:
        text = raw.decode("gb18030").strip(_TEXT_PAD)
    except UnicodeDecodeError:
        text = ""
    if text in ("男", "女"):
        return "1" if text == "男" else "2"
    raise CardDataError(f"sex {value.hex(' ')} is not a GB/T 2261.1 code")


def decode_nation(value: bytes) -> str:
    """GB 3304 nation code as two digits: BCD (``01``), ASCII ``"01"``, or a binary number."""
    raw = value if len(value) == 1 else trim(value)
    try:
        digits = decode_digits(raw, "nation")
    except CardDataError:
        if len(raw) != 1:
            raise
        digits = str(raw[0])  # a binary number, not BCD
    if not 1 <= len(digits) <= 2:
        raise CardDataError(f"nation code {digits!r} is not one or two digits")
    return digits.zfill(2)


def decode_card_id_code(value: bytes) -> str:
    """The card identification code: printable text as is, binary bytes in upper-case hex."""
    raw = trim(value)
    if raw and all(0x21 <= b <= 0x7E for b in raw):
        return raw.decode("ascii")
    return value.hex().upper()


def region_of(card_id_code: str) -> str:
    """The issuing region (first 6 digits of the card identification code), or "" if they are not digits."""
    head = card_id_code[:6]
    return head if len(head) == 6 and head.isdigit() else ""


def decode_spec_version(value: bytes) -> str:
    """The spec version as text (``"3.00"``), also from BCD ``03 00`` as some cards store it."""
    try:
        return decode_ascii(value, "spec version")
    except CardDataError:
        digits = decode_digits(value, "spec version")
        if len(digits) != 4:
            raise
        return f"{int(digits[:2])}.{digits[2:]}"


def generation_of(spec_version: str) -> int:
    """Card generation from the spec version: ``1.00`` → 1, ``3.00`` → 3; 0 when it has no number."""
    match = re.search(r"(\d+)", spec_version)
    return int(match.group(1)) if match else 0
