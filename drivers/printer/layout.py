"""Layout primitives for ESC/POS jobs, and a plain receipt, as bytes (pure: no I/O).

Each role lays out its own paper (the hall's queue ticket: :mod:`kiosk.hall.printing`) with
these primitives and sends it with :meth:`drivers.printer.EscPosPrinter.print_job`.

Commands are made with python-escpos's API on its ``Dummy`` connector (``set``,
``qr(native=True)``, ``cut``); only text is sent differently, on purpose:

* python-escpos's ``text()`` runs MagicEncode: a string holding at least one CJK
  ideograph in U+4E00–U+9FA5 is sent as GB18030 bytes *without* any mode command
  (it relies on the printer starting in Chinese mode); any other string goes through
  single-byte code pages with ``ESC t n`` switches, so "：——" or "（）" without an
  ideograph becomes ``?`` or Windows-1252 bytes.
* This driver instead selects Chinese mode explicitly after ``ESC @`` with ``FS &``
  (``1C 26``; ``FS .`` = ``1C 2E`` cancels it) and sends every string as GB18030:
  ASCII stays one byte (printed 12 dots wide in font A), GBK characters are two bytes
  (first 81–FE, second 40–FE), other characters four bytes (81–FE 30–39 81–FE 30–39);
  every multi-byte character prints 24 dots wide, which is how :func:`columns_of` counts.
  No ``ESC t`` is ever sent.

Text is cleaned first (control characters become spaces) so caller data can never
smuggle a command (an ``ESC`` in a service name, a ``DLE EOT`` in a footer).  The paper
is 80 mm (576 dots, 48 columns of font A) unless ``columns`` says otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from escpos.escpos import Escpos
from escpos.printer import Dummy

INIT = b"\x1b@"  # ESC @: initialise the printer
CHINESE_ON = b"\x1c&"  # FS &: select Chinese (double-byte) character mode
CHINESE_OFF = b"\x1c."  # FS .: cancel Chinese character mode
COLUMNS = 48  # font-A columns on 80 mm paper (576 dots / 12)
NUMBER_SIZE = 4  # ticket number printed 4x wide and 4x high (GS ! 0x33)
QR_MODULE_DOTS = 6  # QR module size in dots (GS ( k fn 67); ~0.75 mm at 203 dpi
QR_MAX_BYTES = 512  # longest QR payload accepted, in UTF-8 bytes
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(text: str) -> str:
    """``text`` with every control character replaced by a space."""
    return CONTROL.sub(" ", text)


def columns_of(text: str) -> int:
    """Printed width in font-A columns: 1 per single-byte character, 2 per multi-byte GB18030 one."""
    return sum(1 if ord(ch) < 0x80 else 2 for ch in text)


def wrap(text: str, columns: int, balanced: bool = False) -> list[str]:
    """Split ``text`` into lines no wider than ``columns`` (by printed width; breaks anywhere).

    ``balanced`` makes the lines about equally long (for centred text: 8 + 7, not 12 + 3).
    """
    if balanced and columns_of(clean(text).strip()) > columns > 1:
        total = columns_of(clean(text).strip())
        count = -(-total // columns)
        columns = min(columns, -(-total // count) + 1)
    lines, line, width = [], "", 0
    for ch in clean(text):
        w = columns_of(ch)
        if width + w > columns and line:
            lines.append(line.rstrip())
            line, width = "", 0
        if not line and ch == " ":
            continue
        line, width = line + ch, width + w
    if line or not lines:
        lines.append(line.rstrip())
    return lines


def put_text(p: Escpos, text: str) -> None:
    """Send cleaned ``text`` as GB18030 bytes (Chinese mode must be on)."""
    p._raw(clean(text).encode("gb18030", errors="replace"))


def put_line(p: Escpos, text: str = "") -> None:
    """Send ``text`` and LF."""
    put_text(p, text)
    p._raw(b"\n")


def size(p: Escpos, width: int, height: int) -> None:
    """Character size ``width`` x ``height`` (1-8 each; GS ! n)."""
    p.set(custom_size=True, width=width, height=height)  # GS ! n


def check_qr_payload(payload: str) -> None:
    """Refuse payloads a printer must not get: control characters, or too long for a ticket."""
    if CONTROL.search(payload):
        raise ValueError("QR payload contains control characters")
    if len(payload.encode("utf-8")) > QR_MAX_BYTES:
        raise ValueError(f"QR payload longer than {QR_MAX_BYTES} bytes")


ReceiptLine = str | tuple[str, str]  # a text line, or (left, right) such as ("红烧肉", "¥12.00")


def start_job(p: Escpos) -> None:
    """Initialise the printer and select Chinese mode: the first commands of every job."""
    p._raw(INIT + CHINESE_ON)


def rule(p: Escpos, columns: int, char: str = "-") -> None:
    """A full-width line of ``char``."""
    p.set(align="left")
    put_line(p, char * columns)


def receipt_commands(p: Escpos, lines: Sequence[ReceiptLine], title: str | None = None,
                     columns: int = COLUMNS) -> None:
    """Write a receipt (canteen, self-service): optional title, lines, (left, right) pairs, a cut."""
    start_job(p)
    if title:
        p.set(align="center", bold=True)
        size(p, 2, 2)
        for line in wrap(title, columns // 2, balanced=True):
            put_line(p, line)
        size(p, 1, 1)
        p.set(bold=False)
        rule(p, columns)
    p.set(align="left")
    for item in lines:
        if isinstance(item, tuple):
            left, right = clean(item[0]), clean(item[1])
            gap = columns - columns_of(left) - columns_of(right)
            if gap >= 1:
                put_line(p, left + " " * gap + right)
            else:
                for line in wrap(left, columns):
                    put_line(p, line)
                put_line(p, " " * max(0, columns - columns_of(right)) + right)
        else:
            for line in wrap(item, columns):
                put_line(p, line)
    p.cut()


def receipt_bytes(lines: Sequence[ReceiptLine], title: str | None = None, columns: int = COLUMNS) -> bytes:
    """The whole receipt job as bytes."""
    p = Dummy()
    receipt_commands(p, lines, title, columns)
    return p.output
