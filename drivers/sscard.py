"""Driver of the social-security card (社会保障卡) through any PC/SC reader (DESIGN §4).

A read is: SELECT the application by name (``9000`` or ``61xx`` accepted; when the card
refuses the name the MF is selected instead, for cards whose application *is* the MF; a card
with neither, or without EF05, is :class:`~drivers.pcsc_common.WrongCardError`), SELECT EF05,
READ RECORD its records, SELECT EF06, READ RECORD its records.

Each READ RECORD asks for Le ``00`` (up to 256 bytes) and follows the card's ``6Cxx``
(resend with that Le) and ``61xx`` (GET RESPONSE) answers; a card that only says ``6700``
gets the record length the spec gives that item (records without one are skipped).  Cards
number their records by tag (EF06: records 8..13) or from 1, in any order: records are read
from 1 while they exist, otherwise by the wanted tags first, until every wanted item is
found, the numbers run out (:data:`MAX_RECORD`) or :data:`GAP_LIMIT` records in a row are
missing after a found one.  Items are taken by their TLV tags, whatever record holds them.
Field encodings: :mod:`drivers.sscard_codec`.

Every read connects afresh and starts with SELECT, so a card that pcscd powered off while
idle reads like a new one; a card reset under a read is reconnected and read again
(:mod:`drivers.pcsc_reader`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from drivers.idcard.fields import id_number_valid, mask_id, mask_name, nation_name, sex_name
from drivers.pcsc_common import (
    SW_END_OF_RECORD,
    SW_FILE_NOT_FOUND,
    SW_OK,
    SW_RECORD_NOT_FOUND,
    SW_SECURITY,
    SW_WRONG_LENGTH,
    CardDataError,
    Response,
    StatusWordError,
    WrongCardError,
)
from drivers.pcsc_link import CardLink
from drivers.pcsc_reader import DEFAULT_TIMEOUT_S, PcscCardReader
from drivers.sscard_codec import (
    EF05,
    EF05_TAGS,
    EF06,
    EF06_TAGS,
    REQUIRED_TAGS,
    TAG_BIRTH,
    TAG_CARD_ID_CODE,
    TAG_CARD_NUMBER,
    TAG_EXPIRY_DATE,
    TAG_ISSUE_DATE,
    TAG_NAME,
    TAG_NATION,
    TAG_SEX,
    TAG_SPEC_VERSION,
    TAG_SS_NUMBER,
    decode_ascii,
    decode_card_id_code,
    decode_date,
    decode_name,
    decode_nation,
    decode_sex,
    decode_spec_version,
    generation_of,
    parse_tlvs,
    read_record,
    region_of,
    select_by_name,
    select_ef,
    select_file_id,
    select_mf,
)

MAX_RECORD = 16  # highest record number tried in an EF
GAP_LIMIT = 3  # missing records in a row, after a found one, that end an EF
# A record we skip: not found, end of file, locked, P1 out of range, referenced data not found.
_NOT_THERE = (SW_RECORD_NOT_FOUND, SW_END_OF_RECORD, SW_SECURITY, 0x6B00, 0x6A88, 0x6A86)
# Record length (tag + length + value) the spec gives each item, for a card answering 6700 to Le 00
# without naming the right Le: tried for cards that number records by tag.
SPEC_RECORD_LENGTH = {0x01: 18, 0x03: 6, 0x05: 6, 0x06: 6, 0x07: 11, 0x08: 20, 0x09: 32, 0x0A: 3, 0x0B: 3, 0x0D: 6}
_NO_APPLICATION = (SW_FILE_NOT_FOUND, 0x6A86, 0x6A81, 0x6D00, 0x6E00, 0x6982, 0x6985)  # EF05/EF06 absent


@dataclass(frozen=True, repr=False)
class SocialSecurityReading:
    """What one social-security card says.  ``repr`` shows only masked name and ID number (DESIGN §7)."""

    card_number: str  # 卡号, e.g. "J14955447"
    card_id_code: str  # 卡识别码, e.g. "310000D156…" (32 hex digits on most cards)
    region: str  # first 6 digits of the card identification code, e.g. "310000"; "" if not digits
    spec_version: str  # "1.00", "2.00", "3.00"
    generation: int  # 1, 2, 3 (0: unknown)
    issue_date: dt.date | None
    expiry_date: dt.date | None
    id_number: str  # social-security number = the ID number, a final "x" upper-cased
    id_valid: bool  # GB 11643 check digit right
    name: str
    sex: str  # "1" male, "2" female ("" when the card has no sex record)
    nation: str  # GB 3304 code "01".."56" ("" when the card has no nation record)
    birth: dt.date | None
    atr: bytes = field(default=b"")

    @property
    def nation_name(self) -> str:
        """汉, 回… ("" when the card has no nation record)."""
        return nation_name(self.nation) if self.nation else ""

    @property
    def sex_name(self) -> str:
        """男 / 女."""
        return sex_name(self.sex)

    @property
    def masked_id(self) -> str:
        """ID number as screens show it: ``310***********6877``."""
        return mask_id(self.id_number)

    @property
    def masked_name(self) -> str:
        """Name as screens show it: ``张*明``."""
        return mask_name(self.name)

    def expired_on(self, day: dt.date) -> bool:
        """True when the card is past its expiry date on ``day`` (never when the card gives none)."""
        return self.expiry_date is not None and day > self.expiry_date

    def as_dict(self, masked: bool = True) -> dict[str, Any]:
        """JSON-serialisable view (for ``linfen read --json``); masked unless asked otherwise."""
        def iso(day: dt.date | None) -> str | None:
            return day.isoformat() if day else None

        return {
            "card_number": self.card_number, "card_id_code": self.card_id_code, "region": self.region,
            "spec_version": self.spec_version, "generation": self.generation,
            "issue_date": iso(self.issue_date), "expiry_date": iso(self.expiry_date),
            "id_number": self.masked_id if masked else self.id_number, "id_valid": self.id_valid,
            "name": self.masked_name if masked else self.name, "sex": self.sex, "sex_name": self.sex_name,
            "nation": self.nation, "nation_name": self.nation_name, "birth": iso(self.birth),
            "atr": self.atr.hex(" ").upper(),
        }

    def __repr__(self) -> str:
        return (f"SocialSecurityReading(card_number={self.card_number!r}, name={self.masked_name!r}, "
                f"id_number={self.masked_id!r}, id_valid={self.id_valid}, generation={self.generation})")


def reading_from_items(items: dict[int, bytes], atr: bytes = b"") -> SocialSecurityReading:
    """Build the reading from the TLV items of EF05 and EF06 (tag → value); CardDataError if one is bad."""
    for tag, what in REQUIRED_TAGS.items():
        if tag not in items:
            raise CardDataError(f"the card has no {what} (tag {tag:02X})")

    def optional(tag: int, decode: Any, *args: Any) -> Any:
        return decode(items[tag], *args) if tag in items else None

    card_id_code = optional(TAG_CARD_ID_CODE, decode_card_id_code) or ""
    spec_version = optional(TAG_SPEC_VERSION, decode_spec_version) or ""
    id_number = decode_ascii(items[TAG_SS_NUMBER], "social-security number").upper()
    return SocialSecurityReading(
        card_number=decode_ascii(items[TAG_CARD_NUMBER], "card number"),
        card_id_code=card_id_code, region=region_of(card_id_code),
        spec_version=spec_version, generation=generation_of(spec_version),
        issue_date=optional(TAG_ISSUE_DATE, decode_date, "issue date"),
        expiry_date=optional(TAG_EXPIRY_DATE, decode_date, "expiry date"),
        id_number=id_number, id_valid=id_number_valid(id_number),
        name=decode_name(items[TAG_NAME]),
        sex=optional(TAG_SEX, decode_sex) or "",
        nation=optional(TAG_NATION, decode_nation) or "",
        birth=optional(TAG_BIRTH, decode_date, "birth date"),
        atr=atr,
    )


class SocialSecurityCardReader(PcscCardReader[SocialSecurityReading]):
    """The social-security card reader: ``read_once(timeout_s)`` waits for a card and reads it."""

    kind = "sscard"

    def __init__(self, reader: str, timeout_s: float = DEFAULT_TIMEOUT_S, name: str = "sscard"):
        super().__init__(reader, timeout_s, name)
        self.apdus = 0  # commands sent in all reads (for diagnosis and the bench)

    def _read(self, link: CardLink) -> SocialSecurityReading:
        start = link.apdus
        try:
            self._select_application(link)
            items = self._read_ef(link, EF05, EF05_TAGS)
            items.update(self._read_ef(link, EF06, EF06_TAGS))
            return reading_from_items(items, link.atr)
        finally:
            self.apdus += link.apdus - start

    def _select_application(self, link: CardLink) -> None:
        """SELECT the application by name; if the card refuses the name (whatever the status word), its MF."""
        response = link.exchange(select_by_name(), follow_61=False)
        if _selected(response):
            return
        if _selected(link.exchange(select_mf(), follow_61=False)):
            return  # the MF is the application: its EFs are checked next
        raise WrongCardError("not a social-security card: selecting its application", response.sw,
                             device=self.name)

    def _read_ef(self, link: CardLink, fid: int, wanted: frozenset[int]) -> dict[int, bytes]:
        """SELECT one EF and collect its TLV items until every wanted tag is found."""
        response = link.exchange(select_ef(fid), follow_61=False)
        if response.sw in (0x6A86, 0x6A81):  # the card wants EFs selected with P1 00: say it that way
            response = link.exchange(select_file_id(fid), follow_61=False)
        if not _selected(response):
            cls = WrongCardError if response.sw in _NO_APPLICATION else StatusWordError
            raise cls(f"selecting EF{fid:04X}", response.sw, device=self.name)
        items: dict[int, bytes] = {}
        numbers = list(range(2, MAX_RECORD + 1))
        if not self._read_record(link, fid, 1, items):  # not numbered from 1: try the tags' numbers first
            numbers = sorted(wanted) + [n for n in numbers if n not in wanted]
        misses = 0
        for number in numbers:
            if wanted <= items.keys():
                break
            if self._read_record(link, fid, number, items):
                misses = 0
            elif items:
                misses += 1
                if misses >= GAP_LIMIT:
                    break
        return items

    def _read_record(self, link: CardLink, fid: int, number: int, items: dict[int, bytes]) -> bool:
        """Read one record into ``items`` (first value of a tag wins); False if it is not there."""
        response = link.exchange(read_record(number))
        if response.sw == SW_WRONG_LENGTH:
            if number not in SPEC_RECORD_LENGTH:
                return False  # a record the terminal does not need, of a length the card will not say
            response = link.exchange(read_record(number, SPEC_RECORD_LENGTH[number]))
        if response.sw in (SW_OK, SW_END_OF_RECORD) and response.data:
            for tag, value in parse_tlvs(response.data):
                items.setdefault(tag, value)
            return True
        if response.sw in _NOT_THERE or response.sw == SW_OK:
            return False
        raise StatusWordError(f"reading record {number} of EF{fid:04X}", response.sw, device=self.name)


def _selected(response: Response) -> bool:
    """SELECT succeeded: ``90 00``, or ``61 xx`` (FCI waiting, which we do not need)."""
    return response.ok or response.sw1 == 0x61
