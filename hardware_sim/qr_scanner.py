"""A simulated GM65-style serial QR scanner on a pty: codes out as CR-terminated lines, commands answered.

:meth:`QrScannerSim.scan` is a resident holding a code to the scanner: its payload goes
out followed by CR (through :meth:`~hardware_sim.serial_sim.SerialSimDevice.send`, so the
serial faults apply).  :meth:`QrScannerSim.hold` leaves a code in the window for the next
trigger command.  Commands ``7E 00 type len addr data crc`` (CRC-16/XMODEM or ``AB CD``)
are answered ``02 00 00 len data crc``: a write (08) or save (09) with the documented
``02 00 00 01 00 33 31``, a read (07) with the zone bits' stored values.  Writing 01 to
zone bit 0x0002 is the trigger: after the reply, a held code is scanned.

Device faults besides the serial ones: ``binary`` (the next codes are not UTF-8),
``oversized`` (payload over the terminal's limit; arg: length, default 2100),
``no_terminator`` (codes go out without CR).  On this device ``bad_checksum`` spoils a
reply's CRC, or one byte of a code line (lines carry no checksum).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from hardware_sim.serial_sim import SerialSimDevice
from hardware_sim.timing import Timing
from hardware_sim.traffic import TrafficLog

COMMAND_HEAD = b"\x7e\x00"
NO_CRC = b"\xab\xcd"
TRIGGER_ADDRESS = 0x0002
OVERSIZED_DEFAULT_BYTES = 2100  # payload length of the ``oversized`` fault, in bytes
BINARY_PAYLOAD = b"\x00\xff\xfe\x80BINARY\xc3\x28"  # never valid UTF-8
MAX_COMMAND_BYTES = 8 + 255  # the longest command frame


def crc16_xmodem(data: bytes) -> int:
    """CRC-16/XMODEM as the GM65 manuals give it (the simulator's own copy: it must not import drivers)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


def reply_frame(status: int, data: bytes) -> bytes:
    """``02 00 status len data crc`` with the CRC over status..data."""
    body = bytes([status, len(data)]) + data
    return b"\x02\x00" + body + crc16_xmodem(body).to_bytes(2, "big")


class QrScannerSim(SerialSimDevice):
    """The simulated scanner."""

    kind: ClassVar[str] = "qr_scanner"
    extra_faults: ClassVar[frozenset[str]] = frozenset({"binary", "oversized", "no_terminator"})
    BAUD: ClassVar[int] = 9600

    def __init__(self, name: str, link_path: Path, timing: Timing = Timing.FAST, traffic: TrafficLog | None = None):
        super().__init__(name, link_path, timing, traffic)
        self._buf = bytearray()
        self._held: bytes | None = None
        self.zone_bits: dict[int, int] = {}
        self.scans = 0
        self.triggers = 0
        self.last_payload: bytes | None = None

    # -- control methods ------------------------------------------------------------------
    def scan(self, payload: bytes | str) -> None:
        """Scan a code now: its payload followed by CR (faults in force applied)."""
        data = payload.encode("utf-8") if isinstance(payload, str) else bytes(payload)
        if self.faults.peek("binary"):
            data = BINARY_PAYLOAD
        elif (fault := self.faults.peek("oversized")) is not None:
            length = int(fault.arg) if fault.arg else OVERSIZED_DEFAULT_BYTES
            data = (b"LFHC1." + b"X" * length)[:length]
        end = b"" if self.faults.peek("no_terminator") else b"\r"
        self.scans += 1
        self.last_payload = data
        self.send(data + end, "qr_scanner.scan")

    def hold(self, payload: bytes | str | None) -> None:
        """Leave a code in the scanner's window: the next trigger command scans it (None: take it away)."""
        self._held = payload.encode("utf-8") if isinstance(payload, str) else payload

    def clear(self) -> None:
        """Take a held code away."""
        self._held = None

    remove = clear

    def config_entry(self) -> dict[str, Any]:
        """The ``[devices.qr_scanner]`` table of a terminal config."""
        return {"port": str(self.link_path), "baud": self.BAUD}

    def device_status(self) -> dict[str, Any]:
        """Scans and triggers so far, and the code held in the window."""
        held = None if self._held is None else self._held.decode("utf-8", "replace")[:60]
        return {"baud": self.BAUD, "scans": self.scans, "triggers": self.triggers, "held": held}

    # -- the device side ------------------------------------------------------------------
    def corrupt_checksum(self, frame: bytes) -> bytes:
        """A reply with a wrong CRC; a code line with one byte changed (it has no checksum to spoil)."""
        if frame.startswith(b"\x02\x00"):
            return frame[:-1] + bytes([frame[-1] ^ 0xFF])
        if len(frame) < 2:
            return frame
        i = (len(frame) - 1) // 2
        return frame[:i] + bytes([frame[i] ^ 0x01]) + frame[i + 1:]

    def on_bytes(self, data: bytes) -> None:
        """Cut command frames out of what the host wrote and answer them; other bytes are ignored."""
        self._buf += data
        while True:
            start = self._buf.find(COMMAND_HEAD)
            if start < 0:
                del self._buf[: max(0, len(self._buf) - 1)]
                return
            del self._buf[:start]
            if len(self._buf) < 4:
                return
            n = 8 + self._buf[3]
            if len(self._buf) < n:
                return
            frame = bytes(self._buf[:n])
            del self._buf[:n]
            self._command(frame)

    def _command(self, frame: bytes) -> None:
        kind, length = frame[2], frame[3]
        address = int.from_bytes(frame[4:6], "big")
        data, crc = frame[6: 6 + length], frame[-2:]
        if crc != NO_CRC and int.from_bytes(crc, "big") != crc16_xmodem(frame[2:-2]):
            self.traffic.event(self.name, f"command with a bad CRC ignored: {frame.hex(' ')}")
            return
        if kind == 0x07:  # read zone bits: data[0] = how many
            count = data[0] if data else 1
            values = bytes(self.zone_bits.get(address + i, 0) for i in range(count))
            self.send(reply_frame(0x00, values), "qr_scanner.reply")
            return
        if kind == 0x08:
            for i, value in enumerate(data):
                self.zone_bits[address + i] = value
        elif kind != 0x09:  # 09 saves zone bits to flash; other kinds are unknown
            self.traffic.event(self.name, f"unknown command type {kind:02X} ignored")
            return
        triggered = kind == 0x08 and address == TRIGGER_ADDRESS and data[:1] == b"\x01"
        if triggered:  # counted before the reply goes out: whoever sees the reply sees the count
            self.triggers += 1
            self.zone_bits[TRIGGER_ADDRESS] = 0  # the scan starts; the bit does not stay set
        self.send(reply_frame(0x00, b"\x00"), "qr_scanner.reply")
        if triggered and self._held is not None:
            self.scan(self._held)
