"""ESC/POS as a printer reads it: a byte stream in, pages out (one per cut).

:class:`EscPosInterpreter` is fed the byte stream in any chunks and returns a
:class:`Page` at every cut (``GS V``, or the older ``ESC i``/``ESC m``).  It understands
what tickets and receipts use — text (single-byte, or GB18030 in Chinese mode ``FS &`` …
``FS .``), ``ESC @``, ``ESC a`` alignment, ``ESC E`` bold, ``ESC !`` print mode, ``ESC -``
underline, ``GS !`` size, ``GS B`` reverse, ``ESC d``/``ESC J`` feeds, ``GS ( k`` QR
store/print — and skips every other command of the ESC/POS set by its documented length
(bit images, barcodes, NV images, ``GS ( x`` / ``FS ( x`` functions with their pL pH
length).  Bad bytes never raise: an unknown ``ESC x``/``GS x``/``FS x`` is skipped as two
bytes, an invalid double-byte code prints ``?``, a declared length over a megabyte is
taken for garbage.  Like a real printer it wraps at the paper width (576 dots on 80 mm):
single-byte characters are 12 dots wide, double-byte ones 24, times the ``GS !`` width.
``FS !``/``FS W`` (Chinese-only size) are consumed but not applied.  ``DLE EOT`` is
answered on receipt by the device (``hardware_sim/printer.py``), not here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

PAPER_DOTS = 576  # printable width of 80 mm paper at 203 dpi
LINE_DOTS = 30  # default line feed (ESC 2), in dots
CHAR_H = 24  # font A / Chinese font height, in dots
MAX_PENDING = 1 << 20  # an unfinished command longer than this is dropped, in bytes
_ESC_LEN = {**dict.fromkeys(b"@2<LSimv", 2), **dict.fromkeys(b"aEG!-dJKtM3{VR =r%?TeuU", 3),
            **dict.fromkeys(b"$\\c", 4), ord("p"): 5, ord("W"): 10}
_GS_LEN = {**dict.fromkeys(b":", 2), **dict.fromkeys(b"!BHhwfarI/|bTEg", 3),
           **dict.fromkeys(b"LWP$\\", 4), ord("^"): 5}
_FS_LEN = {**dict.fromkeys(b"&.", 2), **dict.fromkeys(b"!-WCI", 3), **dict.fromkeys(b"Sp", 4), ord("2"): 76}
_EC = {48: "L", 49: "M", 50: "Q", 51: "H"}


@dataclass(frozen=True)
class Run:
    """Characters printed in one style; ``wide`` = double-byte characters (24 dots each)."""

    text: str
    wide: bool
    width: int = 1
    height: int = 1
    bold: bool = False
    underline: bool = False
    invert: bool = False


@dataclass
class Line:
    """One printed line."""

    runs: list[Run]
    align: str = "left"


@dataclass(frozen=True)
class Qr:
    """A QR symbol printed by GS ( k fn 81."""

    data: bytes
    module: int = 3
    ec: str = "L"
    align: str = "left"


@dataclass(frozen=True)
class Feed:
    """Blank paper, in dots."""

    dots: int


@dataclass
class Page:
    """Everything printed between two cuts."""

    items: list[Line | Qr | Feed] = field(default_factory=list)
    complete: bool = True  # False when the paper ran out before the cut


@dataclass
class _Style:
    align: str = "left"
    bold: bool = False
    underline: bool = False
    invert: bool = False
    width: int = 1
    height: int = 1
    chinese: bool = False


def _u16(buf: bytearray, i: int) -> int:
    return buf[i] + 256 * buf[i + 1]


class EscPosInterpreter:
    """Stateful ESC/POS stream interpreter: ``feed(bytes) -> [Page, …]`` (one per cut)."""

    def __init__(self, paper_dots: int = PAPER_DOTS):
        self.paper_dots = paper_dots
        self.buf = bytearray()
        self.items: list[Line | Qr | Feed] = []
        self.power_on()

    def power_on(self) -> None:
        """Forget everything (a new pty = the printer switched on)."""
        self.buf.clear()
        self.items = []
        self._init()

    def _init(self) -> None:
        self.style = _Style()
        self.runs: list[Run] = []
        self.dots = 0
        self.qr_data = b""
        self.qr_module, self.qr_ec = 3, "L"

    def feed(self, data: bytes) -> list[Page]:
        """Interpret ``data``; return the pages cut meanwhile.  Never raises on bad input."""
        self.buf += data
        pages: list[Page] = []
        i = 0
        while i < len(self.buf):
            n = self._step(i, pages)
            if n > MAX_PENDING:  # an absurd declared length: garbage, not a command
                n = 1
            if n == 0 or i + n > len(self.buf):  # command not complete yet
                if len(self.buf) - i > MAX_PENDING:
                    i += 1
                    continue
                break
            i += n
        del self.buf[:i]
        return pages

    # -- line building ---------------------------------------------------------------------
    def _char(self, ch: str, wide: bool) -> None:
        s = self.style
        dots = (24 if wide else 12) * s.width
        if self.dots + dots > self.paper_dots and self.runs:
            self._end_line()
        run = Run(ch, wide, s.width, s.height, s.bold, s.underline, s.invert)
        last = self.runs[-1] if self.runs else None
        if last is not None and replace(last, text=ch) == run:
            self.runs[-1] = replace(last, text=last.text + ch)
        else:
            self.runs.append(run)
        self.dots += dots

    def _end_line(self, blank_feed: bool = True) -> None:
        if self.runs:
            self.items.append(Line(self.runs, self.style.align))
        elif blank_feed:
            self.items.append(Feed(LINE_DOTS))
        self.runs, self.dots = [], 0

    def _cut(self, pages: list[Page]) -> None:
        self._end_line(blank_feed=False)
        pages.append(Page(self.items))
        self.items = []

    # -- one command or character ------------------------------------------------------------
    def _step(self, i: int, pages: list[Page]) -> int:
        b, buf = self.buf[i], self.buf
        if b == 0x0A or b == 0x0C:
            self._end_line()
            return 1
        if b == 0x09:
            for _ in range(8 - (self.dots // 12) % 8):
                self._char(" ", False)
            return 1
        if b == 0x1B:
            return self._esc(i, pages)
        if b == 0x1D:
            return self._gs(i, pages)
        if b == 0x1C:
            return self._fs(i)
        if b == 0x10:
            return self._dle(i)
        if b < 0x20 or b == 0x7F:
            return 1
        if b < 0x80:
            self._char(chr(b), False)
            return 1
        if not self.style.chinese or b == 0x80 or b == 0xFF:
            self._char(bytes([b]).decode("cp437"), False)
            return 1
        if i + 1 >= len(buf):
            return 0
        b2 = buf[i + 1]
        if 0x30 <= b2 <= 0x39:
            if i + 3 >= len(buf):
                return 0
            if 0x81 <= buf[i + 2] <= 0xFE and 0x30 <= buf[i + 3] <= 0x39:
                self._char(bytes(buf[i:i + 4]).decode("gb18030", errors="replace"), True)
                return 4
        elif 0x40 <= b2 <= 0xFE and b2 != 0x7F:
            self._char(bytes(buf[i:i + 2]).decode("gb18030", errors="replace"), True)
            return 2
        self._char("?", False)
        return 1

    def _esc(self, i: int, pages: list[Page]) -> int:
        buf, s = self.buf, self.style
        if i + 1 >= len(buf):
            return 0
        c = buf[i + 1]
        if c == ord("*"):  # ESC * m nL nH d…: bit image
            if i + 4 >= len(buf):
                return 0
            return 5 + _u16(buf, i + 3) * (1 if buf[i + 2] in (0, 1) else 3)
        if c == ord("D"):  # ESC D n1 … NUL: tab positions
            end = buf.find(0, i + 2, i + 35)
            return (end - i + 1) if end >= 0 else (0 if len(buf) - i < 35 else 2)
        if c == ord("&"):  # ESC & y c1 c2 [x d1…d(y*x)]…: user-defined characters
            return self._esc_amp(i)
        n = _ESC_LEN.get(c, 2)
        if i + n > len(buf):
            return 0
        arg = buf[i + 2] if n >= 3 else 0
        if c == ord("@"):
            self.runs, self.dots = [], 0
            self._init()
        elif c in (ord("i"), ord("m")):  # ESC i / ESC m: (partial) cut, older command set
            self._cut(pages)
        elif c == ord("a"):
            s.align = {0: "left", 48: "left", 1: "center", 49: "center", 2: "right", 50: "right"}.get(arg, s.align)
        elif c == ord("E"):
            s.bold = bool(arg & 1)
        elif c == ord("-"):
            s.underline = bool(arg & 3)
        elif c == ord("!"):
            s.bold, s.underline = bool(arg & 0x08), bool(arg & 0x80)
            s.width, s.height = (2 if arg & 0x20 else 1), (2 if arg & 0x10 else 1)
        elif c == ord("d"):
            self._end_line(blank_feed=False)
            self.items.append(Feed(arg * LINE_DOTS))
        elif c == ord("J"):
            self._end_line(blank_feed=False)
            self.items.append(Feed(arg))
        return n

    def _esc_amp(self, i: int) -> int:
        buf = self.buf
        if i + 4 >= len(buf):
            return 0
        y, c1, c2 = buf[i + 2], buf[i + 3], buf[i + 4]
        j = i + 5
        for _ in range(max(0, c2 - c1 + 1)):
            if j >= len(buf):
                return 0
            j += 1 + y * buf[j]
        return j - i if j <= len(buf) else 0

    def _gs(self, i: int, pages: list[Page]) -> int:
        buf, s = self.buf, self.style
        if i + 1 >= len(buf):
            return 0
        c = buf[i + 1]
        if c in (ord("("), ord("8")):  # GS ( x pL pH … / GS 8 x p1 p2 p3 p4 …
            head = 5 if c == ord("(") else 7
            if i + head > len(buf):
                return 0
            size = _u16(buf, i + 3) if c == ord("(") else _u16(buf, i + 3) + 65536 * _u16(buf, i + 5)
            if i + head + size > len(buf):
                return 0
            if c == ord("(") and buf[i + 2] == ord("k"):
                self._qr(bytes(buf[i + 5:i + 5 + size]))
            return head + size
        if c == ord("V"):  # GS V m [n]: cut
            if i + 2 >= len(buf):
                return 0
            n = 4 if buf[i + 2] in (65, 66, 97, 98, 103, 104) else 3
            if i + n > len(buf):
                return 0
            self._cut(pages)
            return n
        if c == ord("k"):  # GS k m d… NUL  |  GS k m n d1…dn
            if i + 3 >= len(buf):
                return 0
            if buf[i + 2] <= 6:
                end = buf.find(0, i + 3, i + 260)
                return (end - i + 1) if end >= 0 else (0 if len(buf) - i < 260 else 3)
            return 4 + buf[i + 3]
        if c == ord("v"):  # GS v 0 m xL xH yL yH d…: raster image
            return 0 if i + 7 >= len(buf) else 8 + _u16(buf, i + 4) * _u16(buf, i + 6)
        if c == ord("*"):  # GS * x y d…: downloaded bit image
            return 0 if i + 3 >= len(buf) else 4 + buf[i + 2] * buf[i + 3] * 8
        n = _GS_LEN.get(c, 2)
        if i + n > len(buf):
            return 0
        if c == ord("!"):
            s.width, s.height = (buf[i + 2] >> 4 & 7) + 1, (buf[i + 2] & 7) + 1
        elif c == ord("B"):
            s.invert = bool(buf[i + 2] & 1)
        return n

    def _qr(self, body: bytes) -> None:
        if len(body) < 3 or body[0] != 49:  # cn 49 = QR Code
            return
        fn, arg = body[1], body[2]
        if fn == 67 and 1 <= arg <= 16:
            self.qr_module = arg
        elif fn == 69:
            self.qr_ec = _EC.get(arg, self.qr_ec)
        elif fn == 80:
            self.qr_data = body[3:]
        elif fn == 81 and self.qr_data:
            self._end_line(blank_feed=False)
            self.items.append(Qr(self.qr_data, self.qr_module, self.qr_ec, self.style.align))

    def _fs(self, i: int) -> int:
        buf = self.buf
        if i + 1 >= len(buf):
            return 0
        c = buf[i + 1]
        if c == ord("("):  # FS ( x pL pH …
            return 0 if i + 4 >= len(buf) else 5 + _u16(buf, i + 3)
        if c == ord("q"):  # FS q n [xL xH yL yH d…]…: define NV images
            return self._fs_q(i)
        n = _FS_LEN.get(c, 2)
        if i + n > len(buf):
            return 0
        if c == ord("&"):
            self.style.chinese = True
        elif c == ord("."):
            self.style.chinese = False
        return n

    def _fs_q(self, i: int) -> int:
        buf, j = self.buf, i + 3
        if i + 2 >= len(buf):
            return 0
        for _ in range(buf[i + 2]):
            if j + 3 >= len(buf):
                return 0
            j += 4 + _u16(buf, j) * _u16(buf, j + 2) * 8
        return j - i if j <= len(buf) else 0

    def _dle(self, i: int) -> int:
        buf = self.buf
        if i + 2 >= len(buf):
            return 0
        c = buf[i + 1]
        if c in (0x04, 0x05):  # DLE EOT n / DLE ENQ n: answered on receipt, nothing to print
            return 3
        if c == 0x14:  # DLE DC4 fn …
            return {7: 4, 8: 10}.get(buf[i + 2], 5)
        return 1
