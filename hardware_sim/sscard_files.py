"""The social-security card's data as a card stores it: a persona's items, encoded, cut into records.

:class:`CardProfile` holds what real cards do differently (DESIGN §4 leaves it open): where
the application sits (a DF under the MF, the MF itself, or an MF that does not answer to the
name), whether the card speaks T=0 style (``61xx`` for every answer with data, ``6Cxx`` for
Le ``00``), whether a wrong Le gets ``6Cxx`` or a bare ``6700``, which SELECT forms it takes, how records are numbered (by tag, or 1..n) and ordered, padding of records and of
the name, trailing bytes, and whether numbers and dates are BCD (the spec) or ASCII.
:data:`PROFILE_BY_GENERATION` gives each card generation a different mix, so reading
personas of all three generations exercises all of it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hardware_sim.personas import Persona

SS_AID = "sx1.sh.社会保障".encode("gbk")
EF05 = 0xEF05
EF06 = 0xEF06
EF05_ORDER = (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07)
EF06_ORDER = (0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D)
NAME_WIDTH = 30  # bytes of the name field on the card (GBK, padded)
CARD_TYPE = b"3"  # 卡的类别: social-security card
ISSUER_CODE = b"31000000000000000000"  # 初始化机构编号 (illustrative)


@dataclass(frozen=True)
class CardProfile:
    """How one card stores and answers; every field is something real cards differ in."""

    layout: str = "under_mf"  # "under_mf" (DF by name under the MF), "is_mf" (the MF has the name),
    # "is_mf_unnamed" (the MF is the application but SELECT by name answers 6A82)
    t0: bool = False  # T=0 style: 61xx for answers with data (GET RESPONSE), 6Cxx when Le is 00
    numbering: str = "by_tag"  # "by_tag" (record number = tag) or "sequential" (1..n)
    reverse: bool = False  # records stored in reverse tag order (with sequential numbering)
    record_size: int = 0  # pad every record to this many bytes (0: no padding)
    pad: bytes = b"\xff"  # the padding byte of records
    name_pad: bytes = b""  # pad the name value to NAME_WIDTH with this byte (b"": exact length)
    trailing: bytes = b""  # bytes after the items of every record (junk a reader must ignore)
    ascii_numbers: bool = False  # dates, nation and card identification code as ASCII text, sex binary
    plain_6700: bool = False  # a wrong Le gets 6700 (no hint) instead of 6Cxx
    select_p1_00_only: bool = False  # SELECT EF by file id only with P1 00; P1 02 gets 6A86

    def __post_init__(self) -> None:
        if self.layout not in ("under_mf", "is_mf", "is_mf_unnamed"):
            raise ValueError(f"unknown layout {self.layout!r}")
        if self.numbering not in ("by_tag", "sequential"):
            raise ValueError(f"unknown numbering {self.numbering!r}")
        if len(self.pad) != 1 or len(self.name_pad) > 1:
            raise ValueError("padding is one byte")


PROFILE_BY_GENERATION: dict[int, CardProfile] = {
    1: CardProfile(layout="is_mf", t0=True, numbering="sequential", ascii_numbers=True, trailing=b"\x00\x00"),
    2: CardProfile(layout="under_mf", numbering="by_tag", record_size=0x24, pad=b"\xff", name_pad=b"\x20"),
    3: CardProfile(layout="under_mf", numbering="by_tag", name_pad=b"\x00"),
}


def generation(persona: Persona) -> int:
    """1, 2 or 3 from the persona's spec version ("1.00"…)."""
    return int(persona.ss_spec_version.split(".")[0])


def profile_for(persona: Persona) -> CardProfile:
    """The default profile of the persona's card generation."""
    return PROFILE_BY_GENERATION.get(generation(persona), CardProfile())


def tlv(tag: int, value: bytes) -> bytes:
    """One SIMPLE-TLV item with a 1-byte length (card values are short)."""
    if len(value) > 0xFE:
        raise ValueError("value too long for a 1-byte length")
    return bytes([tag, len(value)]) + value


def bcd(digits: str) -> bytes:
    """Digits as packed BCD (``"20200802"`` → ``20 20 08 02``)."""
    return bytes.fromhex(digits if len(digits) % 2 == 0 else digits + "F")


def persona_items(persona: Persona, profile: CardProfile) -> dict[int, dict[int, bytes]]:
    """The persona's items per EF (fid → {tag: value}), encoded as ``profile`` says."""
    name = persona.name.encode("gbk")
    if profile.name_pad:
        name = name.ljust(NAME_WIDTH, profile.name_pad)
    if profile.ascii_numbers:
        def digits(s: str) -> bytes:
            return s.encode("ascii")
        card_id, sex, nation = persona.ss_card_id_code.encode("ascii"), bytes([int(persona.sex)]), digits(persona.nation)
    else:
        digits = bcd
        card_id, sex, nation = bytes.fromhex(persona.ss_card_id_code), persona.sex.encode("ascii"), bcd(persona.nation)
    return {
        EF05: {
            0x01: card_id, 0x02: CARD_TYPE, 0x03: persona.ss_spec_version.encode("ascii"), 0x04: ISSUER_CODE,
            0x05: digits(persona.ss_issue_date), 0x06: digits(persona.ss_expiry_date),
            0x07: persona.ss_card_number.encode("ascii"),
        },
        EF06: {
            0x08: persona.id_number.encode("ascii"), 0x09: name, 0x0A: sex, 0x0B: nation,
            0x0C: persona.address[:3].encode("gbk"),  # 出生地 (not read by the terminal)
            0x0D: digits(persona.birth),
        },
    }


def records(items: dict[int, bytes], profile: CardProfile) -> dict[int, bytes]:
    """One EF's records (number → bytes): one item per record, numbered and padded as ``profile`` says."""
    tags = sorted(items, reverse=profile.reverse)
    out: dict[int, bytes] = {}
    for index, tag in enumerate(tags, start=1):
        record = tlv(tag, items[tag]) + profile.trailing
        if profile.record_size:
            record = record.ljust(profile.record_size, profile.pad)
        out[tag if profile.numbering == "by_tag" else index] = record
    return out


def card_files(persona: Persona, profile: CardProfile) -> dict[int, dict[int, bytes]]:
    """Every EF of the persona's card: fid → {record number: record bytes}."""
    return {fid: records(items, profile) for fid, items in persona_items(persona, profile).items()}
