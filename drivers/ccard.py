"""Driver of the community card (一卡通) and staff cards: the UID of an ISO 14443 card via PC/SC.

The contactless reader answers the PC/SC part 3 pseudo-APDU GET DATA ``FF CA 00 00 00``
with the card's UID (4, 7 or 10 bytes) and ``90 00``; a ``6C xx`` is followed by a resend
with that Le (:func:`drivers.pcsc_common.exchange`).  The UID is reported as upper-case
hex, the form the community card registry keys on.  Staff cards are read the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drivers.pcsc_common import CardDataError, StatusWordError, WrongCardError, build_apdu
from drivers.pcsc_link import CardLink
from drivers.pcsc_reader import DEFAULT_TIMEOUT_S, PcscCardReader

GET_UID = build_apdu(0xFF, 0xCA, 0x00, 0x00, le=256)  # FF CA 00 00 00
UID_LENGTHS = (4, 7, 10)  # ISO 14443-3 single, double and triple size UIDs, in bytes
_NOT_CONTACTLESS = (0x6A81, 0x6D00, 0x6E00)  # the reader/card does not know GET DATA


@dataclass(frozen=True)
class CardTap:
    """One contactless card on the reader."""

    uid: str  # upper-case hex, e.g. "C5EEDA41"
    atr: bytes  # the ATR the reader built for the card (PC/SC part 3 for contactless cards)
    reader: str  # the reader's full name

    @property
    def uid_bytes(self) -> bytes:
        """The UID as bytes."""
        return bytes.fromhex(self.uid)

    def as_dict(self, masked: bool = True) -> dict[str, Any]:
        """JSON-serialisable view (a UID is not personal data by itself: nothing to mask)."""
        return {"uid": self.uid, "atr": self.atr.hex(" ").upper(), "reader": self.reader}


def uid_from_response(data: bytes) -> str:
    """The UID in hex from GET DATA's data; CardDataError unless it is 4, 7 or 10 bytes."""
    if len(data) not in UID_LENGTHS:
        raise CardDataError(f"card UID of {len(data)} bytes ({data.hex(' ')}): a UID has 4, 7 or 10")
    return data.hex().upper()


class CommunityCardReader(PcscCardReader[CardTap]):
    """The community/staff card reader: ``read_once(timeout_s)`` waits for a card and gives its UID."""

    kind = "ccard"

    def __init__(self, reader: str, timeout_s: float = DEFAULT_TIMEOUT_S, name: str = "ccard"):
        super().__init__(reader, timeout_s, name)

    def _read(self, link: CardLink) -> CardTap:
        response = link.exchange(GET_UID)
        if response.ok:
            return CardTap(uid_from_response(response.data), link.atr, link.reader)
        if response.sw in _NOT_CONTACTLESS:
            raise WrongCardError("reading the card UID (GET DATA)", response.sw, device=self.name)
        raise StatusWordError("reading the card UID (GET DATA)", response.sw, device=self.name)
