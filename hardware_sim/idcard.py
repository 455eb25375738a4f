"""A simulated resident ID card reader (serial SAM module, DESIGN §4) on a raw pty.

Staff put a persona's card on it (:meth:`IdCardSim.present`) and take it off
(:meth:`IdCardSim.remove`).  It answers find with 9F while a card is there and 80
otherwise, select with 90/81, and read text+photo with the 1295-byte reply built from
the persona.  Frames are cut and built here, from the published layout, without the
driver's codec: the simulator is a second reading of the protocol, not an echo of the
driver's.

Faults beyond the serial ones: ``sam_failure`` (argument ``60`` self-test failed, the
default, or ``66`` not authorised; any two-digit hex SW3 is played as given): every
command answers that SW3; ``card_removed_mid_read``: the read answers 41 (read failed)
and the card is gone.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from pathlib import Path
from typing import Any

from hardware_sim.personas import Persona, by_id
from hardware_sim.serial_sim import SerialSimDevice
from hardware_sim.timing import Timing
from hardware_sim.traffic import TrafficLog

log = logging.getLogger(__name__)

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
MAX_LEN = 0x1000  # longest command LEN this reader takes, in bytes
STALE_INPUT_S = 0.5  # a partial command older than this is dropped when new bytes come, in seconds
SAM_ID = struct.pack("<HHIII", 5, 1, 20240315, 310106001, 7)  # 16 bytes: 05.01-20240315-310106001-000000007
TEXT_FIELDS = (("name", 30), ("sex", 2), ("nation", 4), ("birth", 16), ("address", 70), ("id_number", 36),
               ("authority", 30), ("valid_from", 16), ("valid_to", 16), ("reserved", 36))

# SW3 values (GA 467 / DESIGN §4)
OK, FOUND, NO_CARD, SELECT_FAILED, READ_FAILED = 0x90, 0x9F, 0x80, 0x81, 0x41
BAD_CHECKSUM, BAD_LENGTH, BAD_COMMAND, SAM_SELF_TEST = 0x10, 0x11, 0x21, 0x60

_ACTIONS = {(0x10, 0xFF): "idcard.sam", (0x11, 0xFF): "idcard.sam", (0x12, 0xFF): "idcard.sam",
            (0x20, 0x01): "idcard.find", (0x20, 0x02): "idcard.select",
            (0x30, 0x01): "idcard.read", (0x30, 0x10): "idcard.read"}


def reply_frame(sw3: int, data: bytes = b"") -> bytes:
    """A reader→host frame: preamble, LEN (to CHK inclusive), 00 00 SW3, data, XOR of LEN..data."""
    body = struct.pack(">H", 3 + len(data) + 1) + bytes([0, 0, sw3]) + data
    chk = 0
    for byte in body:
        chk ^= byte
    return PREAMBLE + body + bytes([chk])


def card_text(p: Persona) -> bytes:
    """The persona's 256-byte text block: UCS-2LE fields padded with spaces."""
    values = {"name": p.name, "sex": p.sex, "nation": p.nation, "birth": p.birth, "address": p.address,
              "id_number": p.id_number, "authority": p.authority, "valid_from": p.valid_from,
              "valid_to": p.valid_to, "reserved": ""}
    out = b""
    for name, width in TEXT_FIELDS:
        raw = values[name].encode("utf-16-le")
        if len(raw) > width:
            raise ValueError(f"{p.persona_id}: {name} {values[name]!r} does not fit in {width} bytes")
        out += raw + " ".encode("utf-16-le") * ((width - len(raw)) // 2)
    return out


def read_reply(p: Persona, fingerprint: bool = False) -> bytes:
    """The whole answer to read text+photo (1295 bytes) or read with fingerprint (no fingerprint on file)."""
    text, photo = card_text(p), p.photo()
    lengths = struct.pack(">HHH", len(text), len(photo), 0) if fingerprint else struct.pack(">HH", len(text), len(photo))
    return reply_frame(OK, lengths + text + photo)


class IdCardSim(SerialSimDevice):
    """The ID card reader: SAM commands, find/select/read, a card that can be presented and removed."""

    kind = "idcard"
    extra_faults = frozenset({"sam_failure", "card_removed_mid_read"})

    def __init__(self, name: str, link_path: Path, timing: Timing = Timing.FAST, traffic: TrafficLog | None = None,
                 baud: int = 115200):
        super().__init__(name, link_path, timing, traffic)
        self.baud = baud  # what the config says; a pty has no line speed
        self._buf = bytearray()
        self._last_byte_at = 0.0
        self._card: Persona | None = None
        self._idle = threading.Event()
        self._idle.set()
        self.reads = 0  # cards read successfully

    # -- control --------------------------------------------------------------------------
    def present(self, persona: Persona | str) -> None:
        """Put a persona's ID card on the reader (a Persona or its id, ``P001``)."""
        p = by_id(persona) if isinstance(persona, str) else persona
        card_text(p)  # refuse a card whose fields do not fit, now rather than at the read
        with self._lock:
            self._card = p
        self.traffic.event(self.name, f"card presented: {p.persona_id}")

    def remove(self) -> None:
        """Take the card off the reader."""
        with self._lock:
            had, self._card = self._card, None
        if had is not None:
            self.traffic.event(self.name, f"card removed: {had.persona_id}")

    @property
    def card(self) -> Persona | None:
        """The persona whose card is on the reader, if any."""
        return self._card

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until no request is being answered (a slow answer has gone out); False on timeout."""
        return self._idle.wait(timeout_s)

    def device_status(self) -> dict[str, Any]:
        """Card on the reader, SAM state, reads so far."""
        sam = self.faults.peek("sam_failure")
        return {"card": self._card.persona_id if self._card else None, "baud": self.baud,
                "sam": f"failure {self._sam_sw3(sam.arg):02X}" if sam else "ok", "reads": self.reads}

    def config_entry(self) -> dict[str, Any]:
        """The ``[devices.idcard]`` table for a terminal config."""
        return {"port": str(self.link_path), "baud": self.baud}

    # -- the line -------------------------------------------------------------------------
    def on_bytes(self, data: bytes) -> None:
        """Cut command frames from the stream and answer each."""
        now = time.monotonic()
        if self._buf and now - self._last_byte_at > STALE_INPUT_S:
            self.traffic.event(self.name, f"dropped {len(self._buf)} bytes of an unfinished command")
            self._buf.clear()
        self._last_byte_at = now
        self._buf += data
        self._idle.clear()
        try:
            while (frame := self._next_frame()) is not None:
                self._answer(frame)
        finally:
            self._idle.set()

    def _next_frame(self) -> bytes | None:
        start = self._buf.find(PREAMBLE)
        if start < 0:
            del self._buf[: max(0, len(self._buf) - (len(PREAMBLE) - 1))]
            return None
        del self._buf[:start]
        if len(self._buf) < 7:
            return None
        length = struct.unpack(">H", self._buf[5:7])[0]
        if not 3 <= length <= MAX_LEN:
            del self._buf[:len(PREAMBLE)]
            self.send(reply_frame(BAD_LENGTH), "idcard.error")
            return self._next_frame()
        if len(self._buf) < 7 + length:
            return None
        frame = bytes(self._buf[:7 + length])
        del self._buf[:7 + length]
        return frame

    def _answer(self, frame: bytes) -> None:
        chk = 0
        for byte in frame[5:-1]:
            chk ^= byte
        if chk != frame[-1]:
            self.send(reply_frame(BAD_CHECKSUM), "idcard.error")
            return
        cmd = (frame[7], frame[8])
        action = _ACTIONS.get(cmd)
        if action is None:
            self.send(reply_frame(BAD_COMMAND), "idcard.error")
            return
        sam = self.faults.take("sam_failure")
        if sam is not None:
            self.send(reply_frame(self._sam_sw3(sam.arg)), action)
            return
        self.send(self._reply(cmd), action)

    def _reply(self, cmd: tuple[int, int]) -> bytes:
        card = self._card
        if cmd == (0x12, 0xFF):
            return reply_frame(OK, SAM_ID)
        if cmd[0] in (0x10, 0x11):
            return reply_frame(OK)
        if cmd == (0x20, 0x01):
            return reply_frame(FOUND, bytes(4)) if card else reply_frame(NO_CARD)
        if cmd == (0x20, 0x02):
            return reply_frame(OK, bytes(8)) if card else reply_frame(SELECT_FAILED)
        if card is None:
            return reply_frame(READ_FAILED)
        if self.faults.take("card_removed_mid_read"):
            self.remove()
            self.traffic.event(self.name, "fault card_removed_mid_read: card taken off during the read")
            return reply_frame(READ_FAILED)
        self.reads += 1
        return read_reply(card, fingerprint=cmd == (0x30, 0x10))

    @staticmethod
    def _sam_sw3(arg: str | None) -> int:
        """The SW3 a sam_failure fault plays: its argument in hex (``60``, ``66``), 60 by default."""
        try:
            value = int(arg, 16) if arg else SAM_SELF_TEST
        except ValueError:
            log.warning("sam_failure argument %r is not a hex byte; playing 60", arg)
            return SAM_SELF_TEST
        return value if 0 <= value <= 0xFF else SAM_SELF_TEST
