"""Who is at the terminal: one :class:`Identity` from whichever source answered first.

Every role identifies people the same way: a resident ID card, a social-security card,
a community card or a signed QR code becomes an :class:`Identity` (in memory only; raw ID
numbers are never stored).  :mod:`kiosk.identity.readings` turns driver readings into it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Source = Literal["idcard", "sscard", "ccard", "qr_camera", "qr_scanner"]
CARD_SOURCES: tuple[str, ...] = ("idcard", "sscard")  # readers polled by the runtime's card loops
QR_SOURCES: tuple[str, ...] = ("qr_camera", "qr_scanner")  # drivers that call back with results


@dataclass(frozen=True)
class Identity:
    """Who is checking in, as read from a card or a code (in memory only)."""

    source: Source
    id_number: str
    name: str = ""  # empty for a QR code that carries no name
    birth: str = ""  # YYYYMMDD when the card gives it

    def __repr__(self) -> str:  # never print the raw number
        return f"Identity(source={self.source!r}, id=***{self.id_number[-4:]})"


__all__ = ["CARD_SOURCES", "QR_SOURCES", "Identity", "Source"]
