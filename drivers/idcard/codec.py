"""Frames of the resident ID card reader's serial SAM protocol (DESIGN §4): bytes in, frames out, no I/O.

Host→reader ``AA AA AA 96 69 | LEN(2, BE) | CMD PARA | DATA… | CHK`` and reader→host
``AA AA AA 96 69 | LEN(2, BE) | SW1 SW2 SW3 | DATA… | CHK``.  LEN counts every byte after
itself, CHK included; CHK is the XOR of every byte after the preamble (LEN included), CHK
excluded.  So the find-card command is ``AA AA AA 96 69 00 03 20 01 22``.

The reply to read text+photo (30 01) is 1295 bytes from preamble to CHK:
5 preamble + 2 LEN + 3 SW + 2 text length (0x0100) + 2 photo length (0x0400) + 256 text
(UCS-2LE) + 1024 photo (WLT) + 1 CHK.  Read with fingerprint (30 10) adds a third length
and the fingerprint block after the photo.

Strict in what we send, liberal in what we accept: :func:`scan` skips junk before a
preamble, any SW3 is understood (known codes have a meaning), SW1/SW2 are kept but the
status is SW3's, extra data after find/select is ignored, block lengths are taken from the
reply rather than assumed.  The exception tree of the ID card driver lives here too, since
the parser raises it:

    IdCardError (110)              root of the family (a DriverError)
      IdCardDisconnected (101)     also a DeviceDisconnected
      IdCardTimeout (102)          also a DeviceTimeout: the reader did not start answering
      NoCardError (111)            also a DeviceTimeout: no card on the reader (find said 80)
      IdFrameError (103)           also a FrameError: checksum, length, truncated, garbage
        CardDataError (115)        the card's text block is not readable (bad date, short block)
      IdCardRefused (104)          also a DeviceRefused: a well-formed answer with a failure SW3
        SamError (112)             60 SAM self-test failed, 66 SAM not authorised, 23, 24
        CardReadError (113)        81 select failed, 41 read failed, 31/32/33/40/47/91
        FrameRejected (114)        10/11/21: the reader says our frame was bad (line noise)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import Enum

from drivers.errors import DeviceDisconnected, DeviceRefused, DeviceTimeout, DriverError, FrameError

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
HEADER_LEN = 7  # preamble + LEN
MIN_REPLY_LEN = 4  # LEN of the shortest reply: SW1 SW2 SW3 CHK
MAX_LEN = 0x1000  # largest LEN accepted, in bytes; the fingerprint read reply has 2314
READ_REPLY_BYTES = 1295  # whole 30 01 reply, preamble to CHK
TEXT_BYTES = 0x0100  # text block of the read reply
PHOTO_BYTES = 0x0400  # WLT photo block of the read reply
BITS_PER_BYTE = 10  # 8N1: start + 8 data + stop
WIRE_MARGIN = 1.5  # factor on the wire time of a reply, for adapters and pauses
WIRE_SLACK_S = 0.05  # added to every reply's wire budget (USB latency timers ~16 ms), in seconds


# -- errors ---------------------------------------------------------------------------------
class IdCardError(DriverError):
    """Root of the ID card reader's errors."""

    code = 110


class IdCardDisconnected(IdCardError, DeviceDisconnected):
    """The reader's port is gone (unplugged, not found); the driver keeps trying to reopen it."""

    code = 101


class IdCardTimeout(IdCardError, DeviceTimeout):
    """The reader did not start answering within the timeout."""

    code = 102


class NoCardError(IdCardError, DeviceTimeout):
    """No ID card on the reader (find answered 80, or none came within read_once's wait)."""

    code = 111


class IdFrameError(IdCardError, FrameError):
    """The answer is not a valid frame: bad preamble, length or checksum, truncated, garbage."""

    code = 103


class CardDataError(IdFrameError):
    """The frame is fine but the card's text block cannot be read (short block, bad date)."""

    code = 115


class IdCardRefused(IdCardError, DeviceRefused):
    """A well-formed answer whose SW3 says the reader could not do it."""

    code = 104

    def __init__(self, message: str, *, sw3: int = 0, device: str = "", code: int | None = None):
        super().__init__(message, device=device, code=code)
        self.sw3 = sw3


class SamError(IdCardRefused):
    """The reader's SAM module is broken (60) or not authorised (66): call maintenance."""

    code = 112


class CardReadError(IdCardRefused):
    """The card could not be selected or read (moved away too early, damaged): place it again."""

    code = 113


class FrameRejected(IdCardRefused):
    """The reader says our frame arrived damaged (10 checksum, 11 length, 21 command)."""

    code = 114


# -- commands and status words --------------------------------------------------------------
class Command(Enum):
    """Command and parameter bytes of the SAM protocol."""

    RESET_SAM = (0x10, 0xFF)
    SAM_STATUS = (0x11, 0xFF)
    SAM_ID = (0x12, 0xFF)
    FIND_CARD = (0x20, 0x01)
    SELECT_CARD = (0x20, 0x02)
    READ_TEXT_PHOTO = (0x30, 0x01)
    READ_WITH_FINGERPRINT = (0x30, 0x10)


SW3_OK = 0x90
SW3_FOUND = 0x9F
SW3_NO_CARD = 0x80


@dataclass(frozen=True)
class Status:
    """What an SW3 means, in words for a technician, in Chinese for the screen, and its category."""

    text: str
    text_zh: str
    category: str  # "ok", "no_card", "card", "sam", "host_frame", "other"


STATUS: dict[int, Status] = {
    0x90: Status("success", "操作成功", "ok"),
    0x9F: Status("card found", "寻找证/卡成功", "ok"),
    0x91: Status("no such content on the card", "证/卡中无此项内容", "card"),
    0x10: Status("reader received a frame with a bad checksum", "接收业务终端数据的校验和错", "host_frame"),
    0x11: Status("reader received a frame with a bad length", "接收业务终端数据的长度错", "host_frame"),
    0x21: Status("reader received an unknown command", "接收业务终端的命令错误", "host_frame"),
    0x23: Status("operation not permitted", "越权操作", "sam"),
    0x24: Status("unrecognised error in the reader", "无法识别的错误", "sam"),
    0x31: Status("card failed to authenticate the reader", "证/卡认证机具失败", "card"),
    0x32: Status("reader failed to authenticate the card", "机具认证证/卡失败", "card"),
    0x33: Status("card data failed verification", "信息验证失败", "card"),
    0x40: Status("unrecognised card type", "无法识别的卡类型", "card"),
    0x41: Status("card read failed", "读证/卡操作失败", "card"),
    0x47: Status("card could not give a random number", "取随机数失败", "card"),
    0x60: Status("SAM self-test failed", "SAM自检失败", "sam"),
    0x66: Status("SAM not authorised", "SAM未经授权", "sam"),
    0x80: Status("no card found", "寻找证/卡失败", "no_card"),
    0x81: Status("card select failed", "选取证/卡失败", "card"),
}


def status_of(sw3: int) -> Status:
    """The meaning of an SW3; unknown codes are reported as such, never guessed."""
    return STATUS.get(sw3, Status(f"unknown status 0x{sw3:02X}", f"未知状态 0x{sw3:02X}", "other"))


# -- frames ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    """A host→reader frame."""

    cmd: int
    para: int
    data: bytes = b""


@dataclass(frozen=True)
class Reply:
    """A reader→host frame: status words and data."""

    sw1: int
    sw2: int
    sw3: int
    data: bytes = b""

    @property
    def status(self) -> Status:
        """What SW3 means."""
        return status_of(self.sw3)

    @property
    def ok(self) -> bool:
        """True for 90 (done) and 9F (card found)."""
        return self.sw3 in (SW3_OK, SW3_FOUND)


def checksum(body: bytes) -> int:
    """XOR of ``body`` (the bytes after the preamble, CHK excluded)."""
    value = 0
    for byte in body:
        value ^= byte
    return value


def _frame(payload: bytes) -> bytes:
    if len(payload) + 1 > 0xFFFF:
        raise ValueError("frame too long for a 2-byte LEN")
    body = struct.pack(">H", len(payload) + 1) + payload
    return PREAMBLE + body + bytes([checksum(body)])


def build_command(command: Command | tuple[int, int], data: bytes = b"") -> bytes:
    """The host→reader frame for ``command`` (a :class:`Command` or raw ``(cmd, para)``)."""
    cmd, para = command.value if isinstance(command, Command) else command
    return _frame(bytes([cmd, para]) + data)


def build_reply(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """A reader→host frame (for tests and tools; the simulator builds its own)."""
    return _frame(bytes([sw1, sw2, sw3]) + data)


def frame_length(header: bytes, *, minimum: int = MIN_REPLY_LEN) -> int:
    """Total frame length (preamble to CHK) from the first 7 bytes; IdFrameError if implausible."""
    if len(header) < HEADER_LEN or not header.startswith(PREAMBLE):
        raise IdFrameError(f"no frame header in {header[:HEADER_LEN].hex(' ')!r}")
    length = struct.unpack(">H", header[5:7])[0]
    if not minimum <= length <= MAX_LEN:
        raise IdFrameError(f"implausible frame length {length} (LEN {header[5:7].hex(' ')})")
    return HEADER_LEN + length


def _checked_body(frame: bytes, minimum: int) -> bytes:
    total = frame_length(frame, minimum=minimum)
    if len(frame) != total:
        raise IdFrameError(f"frame is {len(frame)} bytes but its LEN says {total}")
    body = frame[5:-1]
    if checksum(body) != frame[-1]:
        raise IdFrameError(f"bad checksum: got {frame[-1]:02X}, computed {checksum(body):02X}")
    return frame[HEADER_LEN:-1]


def parse_reply(frame: bytes) -> Reply:
    """One whole reader→host frame (preamble to CHK) → :class:`Reply`, else IdFrameError."""
    payload = _checked_body(frame, MIN_REPLY_LEN)
    return Reply(payload[0], payload[1], payload[2], payload[3:])


def parse_command(frame: bytes) -> Request:
    """One whole host→reader frame → :class:`Request`, else IdFrameError."""
    payload = _checked_body(frame, 3)
    return Request(payload[0], payload[1], payload[2:])


@dataclass(frozen=True)
class Scan:
    """Where a frame sits in a receive buffer: junk to drop first, and the frame's length if known."""

    skip: int  # bytes before the (possible) frame start; they can never be part of a frame
    total: int | None  # whole frame length once the header is in, else None


def scan(buf: bytes) -> Scan:
    """Locate a frame in ``buf``; keeps a trailing partial preamble; IdFrameError on a bad LEN."""
    start = buf.find(PREAMBLE)
    if start < 0:
        keep = next((k for k in range(len(PREAMBLE) - 1, 0, -1) if buf.endswith(PREAMBLE[:k])), 0)
        return Scan(len(buf) - keep, None)
    if len(buf) - start < HEADER_LEN:
        return Scan(start, None)
    return Scan(start, frame_length(buf[start:start + HEADER_LEN]))


# -- the read reply's payload ---------------------------------------------------------------
@dataclass(frozen=True)
class ReadPayload:
    """The blocks of a read reply: text (UCS-2LE), WLT photo, fingerprint (empty if none)."""

    text: bytes
    photo: bytes
    fingerprint: bytes = b""


def parse_read_data(data: bytes) -> ReadPayload:
    """Split a read reply's data (after SW) by its own length fields; 30 01 and 30 10 layouts."""
    if len(data) < 4:
        raise IdFrameError(f"read reply has {len(data)} data bytes, not even the block lengths")
    tlen, plen = struct.unpack(">HH", data[:4])
    if len(data) == 4 + tlen + plen:
        return ReadPayload(data[4:4 + tlen], data[4 + tlen:])
    if len(data) >= 6:
        flen = struct.unpack(">H", data[4:6])[0]
        if len(data) == 6 + tlen + plen + flen:
            text_end = 6 + tlen
            return ReadPayload(data[6:text_end], data[text_end:text_end + plen], data[text_end + plen:])
    raise IdFrameError(f"read reply blocks (text {tlen}, photo {plen}) do not add up to {len(data)} data bytes")


# -- which replies belong to which command --------------------------------------------------
_ONLY_FOR = {0x9F: "find", 0x80: "find", 0x81: "select", 0x41: "read", 0x91: "read"}


def _family(command: Command) -> str:
    return {Command.FIND_CARD: "find", Command.SELECT_CARD: "select", Command.READ_TEXT_PHOTO: "read",
            Command.READ_WITH_FINGERPRINT: "read"}.get(command, "sam")


def belongs_to(command: Command, reply: Reply) -> bool:
    """False for a reply that can only answer another command (a late answer to an abandoned request)."""
    family = _family(command)
    owner = _ONLY_FOR.get(reply.sw3)
    if owner is not None:
        return owner == family
    if reply.sw3 == SW3_OK:
        is_read_sized = len(reply.data) >= 4 + TEXT_BYTES
        return is_read_sized == (family == "read")
    return True


def error_for(reply: Reply, action: str, device: str = "") -> IdCardError:
    """The driver error for a failure SW3 (``action`` names what was asked, for the message)."""
    status = reply.status
    message = f"{action}: {status.text} (SW3 {reply.sw3:02X}, {status.text_zh})"
    kind: type[IdCardRefused]
    if status.category == "no_card":
        return NoCardError(message, device=device)
    kind = {"sam": SamError, "card": CardReadError, "host_frame": FrameRejected}.get(status.category, IdCardRefused)
    return kind(message, sw3=reply.sw3, device=device)


# -- timing ---------------------------------------------------------------------------------
def wire_time_s(n_bytes: int, baud: int) -> float:
    """Seconds ``n_bytes`` take on an 8N1 line at ``baud``: 1295 bytes at 9600 take 1.349 s."""
    return n_bytes * BITS_PER_BYTE / baud


def reply_budget_s(n_bytes: int, baud: int) -> float:
    """Time allowed for ``n_bytes`` of a reply to arrive once it has started, in seconds.

    The wire time with a margin, plus slack for USB adapters.  For the 1295-byte read reply:
    9600 → 2.07 s (minimum 1.35), 19200 → 1.06 (0.67), 38400 → 0.56 (0.34),
    57600 → 0.39 (0.22), 115200 → 0.22 (0.11).  On a pty the bytes arrive at once, so a
    truncated frame is noticed within this budget, not after a generous fixed timeout.
    """
    return wire_time_s(n_bytes, baud) * WIRE_MARGIN + WIRE_SLACK_S
