"""Real-time status of an ESC/POS printer (``DLE EOT n``): the bytes to send and a pure codec for the answers.

``DLE EOT n`` (``10 04 n``) is executed on receipt, even when the printer is offline
or busy printing, and answers exactly one byte.  Every answer has bits 1 and 4 set
and bits 0 and 7 clear (pattern ``0xx1xx10``), which is how it is told apart from
XON (``11``), XOFF (``13``) and Automatic Status Back bytes.  Bit meanings, from
Epson's ESC/POS reference (the same on Citizen, Sewoo, Xprinter, SPRT …):

    n=1 printer:  bit2 drawer connector pin 3 high, bit3 offline,
                  bit5 waiting for online recovery, bit6 paper-feed button pressed
    n=2 offline:  bit2 cover open, bit3 paper being fed by the FEED button,
                  bit5 printing stopped by paper end, bit6 an error occurred
    n=3 error:    bit2 recoverable error, bit3 auto-cutter error,
                  bit5 unrecoverable error, bit6 auto-recoverable error (e.g. head too hot)
    n=4 paper:    bits2-3 near-end sensor: no paper there (both set; either is accepted),
                  bits5-6 paper-end sensor: no paper (both set; either is accepted)

Undefined bits (n=1 bit 2 aside) are ignored.  Bytes in, typed values out; no I/O here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

from drivers.printer.errors import PrinterFrameError

DLE_EOT = b"\x10\x04"
QUERIES: dict[int, bytes] = {n: DLE_EOT + bytes([n]) for n in (1, 2, 3, 4)}  # the four real-time requests
XON, XOFF = 0x11, 0x13  # flow-control bytes a serial printer may put between answers

FIXED_MASK = 0x93  # bits 0, 1, 4, 7
FIXED_VALUE = 0x12  # bit 1 and bit 4 set, bit 0 and bit 7 clear

Paper = Literal["ok", "near_end", "out"]


def is_status_byte(value: int) -> bool:
    """True when ``value`` has the fixed bits of a DLE EOT answer (``0xx1xx10``)."""
    return value & FIXED_MASK == FIXED_VALUE


def _check(n: int, value: int) -> int:
    if not 0 <= value <= 0xFF:
        raise PrinterFrameError(f"status {n}: {value} is not a byte")
    if not is_status_byte(value):
        raise PrinterFrameError(f"status {n}: 0x{value:02X} is not a DLE EOT answer (fixed bits wrong)")
    return value


@dataclass(frozen=True)
class PrinterStatus:
    """What the four DLE EOT answers say, decoded.

    ``paper`` is "out" when the paper-end sensor finds no paper, "near_end" when only the
    near-end sensor does, else "ok".  ``error`` is any of the three error kinds.
    """

    online: bool
    cover_open: bool
    paper: Paper
    error: bool
    cutter_error: bool = False
    unrecoverable_error: bool = False
    auto_recoverable_error: bool = False
    recoverable_error: bool = False
    paper_end_stop: bool = False  # printing stopped because the paper ran out
    feeding: bool = False  # paper being fed by the FEED button
    waiting_recovery: bool = False  # waiting for online recovery
    drawer_pin_high: bool = False  # cash-drawer connector pin 3
    raw: bytes = b""  # the four answer bytes, n=1..4

    @property
    def ready(self) -> bool:
        """True when a job sent now would print: online, cover shut, paper present, no error."""
        return self.online and not self.cover_open and self.paper != "out" and not self.error

    def problem(self) -> str | None:
        """The most important thing wrong, in words a technician can act on, or None."""
        if self.paper == "out":
            return "paper out"
        if self.cover_open:
            return "cover open"
        if self.cutter_error:
            return "auto-cutter error"
        if self.unrecoverable_error:
            return "unrecoverable error (service needed)"
        if self.auto_recoverable_error:
            return "auto-recoverable error (head too hot?)"
        if self.error or self.recoverable_error:
            return "printer error"
        if not self.online:
            return "offline"
        return None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (raw bytes as hex)."""
        out = asdict(self)
        out["raw"] = self.raw.hex(" ")
        out["ready"] = self.ready
        out["problem"] = self.problem()
        return out


def decode_paper(value: int) -> Paper:
    """Paper state from a DLE EOT 4 answer."""
    _check(4, value)
    if value & 0x60:
        return "out"
    if value & 0x0C:
        return "near_end"
    return "ok"


def decode_status(printer: int, offline: int, error: int, paper: int) -> PrinterStatus:
    """Decode the answers to DLE EOT 1, 2, 3 and 4 into one :class:`PrinterStatus`.

    Raises PrinterFrameError when a byte does not have the fixed bits of a status answer.
    """
    b1, b2, b3 = _check(1, printer), _check(2, offline), _check(3, error)
    paper_state = decode_paper(paper)
    cutter, unrecoverable, auto = bool(b3 & 0x08), bool(b3 & 0x20), bool(b3 & 0x40)
    return PrinterStatus(
        online=not b1 & 0x08,
        cover_open=bool(b2 & 0x04),
        paper=paper_state,
        error=bool(b2 & 0x40) or cutter or unrecoverable or auto,
        cutter_error=cutter,
        unrecoverable_error=unrecoverable,
        auto_recoverable_error=auto,
        recoverable_error=bool(b3 & 0x04),
        paper_end_stop=bool(b2 & 0x20),
        feeding=bool(b2 & 0x08),
        waiting_recovery=bool(b1 & 0x20),
        drawer_pin_high=bool(b1 & 0x04),
        raw=bytes([b1, b2, b3, paper]),
    )


def decode_answers(answers: bytes) -> PrinterStatus:
    """Decode the four answer bytes (to DLE EOT 1..4, in that order)."""
    if len(answers) != 4:
        raise PrinterFrameError(f"expected 4 status bytes, got {len(answers)}")
    return decode_status(*answers)
