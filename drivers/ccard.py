"""Driver of the community card (一卡通) and staff cards: the UID of an ISO 14443 card via PC/SC, authenticated.

The contactless reader answers the PC/SC part 3 pseudo-APDU GET DATA ``FF CA 00 00 00``
with the card's UID (4, 7 or 10 bytes) and ``90 00``; a ``6C xx`` is followed by a resend
with that Le (:func:`drivers.pcsc_common.exchange`).  The UID is reported as upper-case
hex, the form the community card registry keys on.

A UID is cloneable.  A reader given the deployment's master key (canteen, cinema: the card
moves money) then authenticates the card as docs/community-card.md §1 says: SELECT the
community card application, INTERNAL AUTHENTICATE with a fresh random challenge, and compare
the answer with the one the card's diversified key gives (:mod:`drivers.ccard_auth`).  A card
without the application or with a wrong answer raises :class:`~drivers.pcsc_common.CardAuthError`.
Without a master key only the UID is read (staff cards at the counter).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from drivers import ccard_auth
from drivers.pcsc_common import (
    SW_OK,
    CardAuthError,
    CardDataError,
    StatusWordError,
    WrongCardError,
    build_apdu,
    sw_text,
)
from drivers.pcsc_link import CardLink
from drivers.pcsc_reader import DEFAULT_TIMEOUT_S, PcscCardReader

GET_UID = build_apdu(0xFF, 0xCA, 0x00, 0x00, le=256)  # FF CA 00 00 00
UID_LENGTHS = (4, 7, 10)  # ISO 14443-3 single, double and triple size UIDs, in bytes
_NOT_CONTACTLESS = (0x6A81, 0x6D00, 0x6E00)  # the reader/card does not know GET DATA
# SW1 of a card that refuses the community card commands (wrong length, not allowed, not found, unknown
# instruction or class…): it lacks the application or its key, as a genuine card never does.  Other answers
# (6F00, 64xx/65xx, a non-ISO status word) are a failed exchange, read again, not a verdict on the card.
_REFUSALS = frozenset({0x67, 0x68, 0x69, 0x6A, 0x6B, 0x6D, 0x6E})


@dataclass(frozen=True)
class CardTap:
    """One contactless card on the reader."""

    uid: str  # upper-case hex, e.g. "C5EEDA41"
    atr: bytes  # the ATR the reader built for the card (PC/SC part 3 for contactless cards)
    reader: str  # the reader's full name
    authenticated: bool = False  # True once the card proved it holds its diversified key (§1 of the doc)

    @property
    def uid_bytes(self) -> bytes:
        """The UID as bytes."""
        return bytes.fromhex(self.uid)

    def as_dict(self, masked: bool = True) -> dict[str, Any]:
        """JSON-serialisable view (a UID is not personal data by itself: nothing to mask)."""
        return {"uid": self.uid, "atr": self.atr.hex(" ").upper(), "reader": self.reader,
                "authenticated": self.authenticated}


def uid_from_response(data: bytes) -> str:
    """The UID in hex from GET DATA's data; CardDataError unless it is 4, 7 or 10 bytes."""
    if len(data) not in UID_LENGTHS:
        raise CardDataError(f"card UID of {len(data)} bytes ({data.hex(' ')}): a UID has 4, 7 or 10")
    return data.hex().upper()


class CommunityCardReader(PcscCardReader[CardTap]):
    """The community/staff card reader: ``read_once(timeout_s)`` waits for a card and gives its UID.

    With ``master_key`` (16 bytes) every card is authenticated after its UID is read, and a
    :class:`CardTap` comes back only for a genuine card (``authenticated=True``); without it the
    UID alone is read (``authenticated=False``).
    """

    kind = "ccard"

    def __init__(self, reader: str, timeout_s: float = DEFAULT_TIMEOUT_S, name: str = "ccard",
                 master_key: bytes | None = None):
        super().__init__(reader, timeout_s, name)
        if master_key is not None and len(master_key) != ccard_auth.KEY_BYTES:
            raise ValueError(f"the card master key has {ccard_auth.KEY_BYTES} bytes, not {len(master_key)}")
        self._master_key = bytes(master_key) if master_key is not None else None
        self.cards_authenticated = 0  # cards that passed authentication
        self.cards_refused = 0  # cards refused as not genuine

    @property
    def authenticating(self) -> bool:
        """True when this reader authenticates cards (it holds a master key)."""
        return self._master_key is not None

    def _read(self, link: CardLink) -> CardTap:
        response = link.exchange(GET_UID)
        if not response.ok:
            if response.sw in _NOT_CONTACTLESS:
                raise WrongCardError("reading the card UID (GET DATA)", response.sw, device=self.name)
            raise StatusWordError("reading the card UID (GET DATA)", response.sw, device=self.name)
        uid = uid_from_response(response.data)
        if self._master_key is None:
            return CardTap(uid, link.atr, link.reader)
        try:
            self._authenticate(link, uid, self._master_key)
        except CardAuthError:
            self.cards_refused += 1
            raise
        self.cards_authenticated += 1
        return CardTap(uid, link.atr, link.reader, authenticated=True)

    def _authenticate(self, link: CardLink, uid: str, master_key: bytes) -> None:
        """SELECT the application and check the card's answer to a fresh challenge; CardAuthError if it fails."""
        selected = link.exchange(ccard_auth.SELECT_AID, follow_61=False)
        if selected.sw1 in _REFUSALS:
            raise CardAuthError(uid, f"no community card application: SELECT answered {selected.sw:04X} "
                                     f"({sw_text(selected.sw)})", selected.sw, device=self.name)
        if selected.sw != SW_OK and selected.sw1 != 0x61:
            raise StatusWordError("selecting the community card application", selected.sw, device=self.name)
        rnd_a = os.urandom(ccard_auth.RND_BYTES)
        answer = link.exchange(ccard_auth.internal_authenticate(rnd_a))
        if answer.sw1 in _REFUSALS:
            raise CardAuthError(uid, f"no card key: INTERNAL AUTHENTICATE answered {answer.sw:04X} "
                                     f"({sw_text(answer.sw)})", answer.sw, device=self.name)
        if not answer.ok:
            raise StatusWordError("authenticating the card (INTERNAL AUTHENTICATE)", answer.sw, device=self.name)
        if len(answer.data) != ccard_auth.ANSWER_BYTES:
            raise CardDataError(f"card {uid} answered the challenge with {len(answer.data)} bytes, "
                                f"{ccard_auth.ANSWER_BYTES} expected", device=self.name)
        if not ccard_auth.verify(master_key, bytes.fromhex(uid), rnd_a, answer.data):
            raise CardAuthError(uid, "wrong answer to the challenge", device=self.name)

    def health(self) -> dict[str, Any]:
        """The base health plus whether cards are authenticated and how many passed or were refused."""
        return {**super().health(), "authenticating": self.authenticating,
                "cards_authenticated": self.cards_authenticated, "cards_refused": self.cards_refused}
