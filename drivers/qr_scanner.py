"""The serial QR scanner (GM65-style): codes arrive as lines; a trigger command starts a scan.

Protocol (Hangzhou Grow GM65/GM805/GM812 family manuals), 9600 8N1:

- Scanner → host, a scanned code: the payload's bytes followed by the configured
  terminator (CR by default; LF and CRLF are accepted too and stripped).
- Host → scanner, a command: ``7E 00 | type | len | addr_hi addr_lo | data(len) | crc_hi crc_lo``
  with type 07 read / 08 write / 09 save zone bits; CRC-16/XMODEM (poly 0x1021, init 0)
  over type..data, or the fixed ``AB CD`` meaning "no CRC check".  The trigger command
  (command mode) writes 01 to zone bit 0x0002: ``7E 00 08 01 00 02 01 AB CD`` — sent
  exactly as documented.
- Scanner → host, the reply: ``02 00 | status | len | data(len) | crc_hi crc_lo`` with
  status 00 = success and the CRC over status..data; the documented acknowledgement is
  ``02 00 00 01 00 33 31``.  Accepted liberally: any length, a correct CRC or ``AB CD``.

Framing is pure (:class:`ScannerStream`: bytes and a clock in, events out).  A line with
no terminator followed by ``idle_end_s`` of silence is reported as
:class:`~drivers.qr_common.QrUndecodable` (the scanner's terminator is misconfigured or
the line broke), never guessed at; an over-long line is refused as
:class:`~drivers.qr_common.QrOversized` and skipped up to its terminator.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import serial

from drivers.errors import DeviceDisconnected, DeviceTimeout
from drivers.qr_common import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    QrOversized,
    QrReading,
    QrRefused,
    QrResult,
    QrTimeout,
    QrUnavailable,
    QrUndecodable,
    ResultSink,
    result_for,
    take_result,
)
from drivers.serial_link import SerialLink

log = logging.getLogger(__name__)

COMMAND_HEAD = b"\x7e\x00"
REPLY_HEAD = b"\x02\x00"
NO_CRC = b"\xab\xcd"  # the CRC field meaning "do not check"
TRIGGER_COMMAND = bytes.fromhex("7E 00 08 01 00 02 01 AB CD")  # write zone bit 0x0002 = 01: scan once
ACK_REPLY = bytes.fromhex("02 00 00 01 00 33 31")  # the documented "done" reply
READ_SLICE_S = 0.05  # longest single wait for bytes, so stop() is seen quickly, in seconds
DISCONNECTED_WAIT_S = 0.1  # pause between reopen attempts while the port is gone, in seconds


def crc16_xmodem(data: bytes) -> int:
    """CRC-16/XMODEM (poly 0x1021, init 0, no reflection), as the GM65 manuals give it."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
        crc &= 0xFFFF
    return crc


def build_command(kind: int, address: int, data: bytes, *, with_crc: bool = False) -> bytes:
    """A host command frame; the CRC field is ``AB CD`` unless ``with_crc``."""
    body = bytes([kind, len(data)]) + address.to_bytes(2, "big") + data
    crc = crc16_xmodem(body).to_bytes(2, "big") if with_crc else NO_CRC
    return COMMAND_HEAD + body + crc


@dataclass(frozen=True)
class Line:
    """A complete code line (terminator stripped)."""

    payload: bytes


@dataclass(frozen=True)
class Reply:
    """A command reply: status (00 = success), its data, whether the CRC checked out."""

    status: int
    data: bytes
    crc_ok: bool


@dataclass(frozen=True)
class Overflow:
    """A line longer than the limit, skipped; ``length`` bytes without terminator."""

    length: int


@dataclass(frozen=True)
class Unterminated:
    """Bytes that were never followed by a terminator before the line went quiet."""

    length: int


ScannerEvent = Line | Reply | Overflow | Unterminated


def parse_reply(frame: bytes) -> Reply:
    """A complete reply frame ``02 00 status len data crc`` as a Reply; QrUndecodable if malformed."""
    if len(frame) < 6 or frame[:2] != REPLY_HEAD or len(frame) != 6 + frame[3]:
        raise QrUndecodable(f"not a scanner reply: {frame.hex(' ')}")
    body, crc = frame[2:-2], frame[-2:]
    crc_ok = crc == NO_CRC or int.from_bytes(crc, "big") == crc16_xmodem(body)
    return Reply(frame[2], frame[4:-2], crc_ok)


class ScannerStream:
    """Cuts the scanner's byte stream into events; pure (the caller passes the clock)."""

    def __init__(self, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES, idle_end_s: float = 0.3):
        self.max_payload_bytes = max_payload_bytes  # longest line kept, in bytes
        self.idle_end_s = idle_end_s  # silence after which an unterminated line is given up, in seconds
        self.expect_reply = False  # set while a command's reply is awaited
        self._buf = bytearray()
        self._skipped = 0  # bytes of an over-long line dropped so far
        self._last_at = 0.0

    def feed(self, data: bytes, now: float) -> list[ScannerEvent]:
        """Events completed by ``data`` (received at ``now``)."""
        if data:
            self._buf += data
            self._last_at = now
        events: list[ScannerEvent] = []
        buf = self._buf
        while buf:
            if self.expect_reply and not self._skipped and buf[:1] == b"\x02" and buf[1:2] in (b"", b"\x00"):
                if len(buf) < 4 or len(buf) < 6 + buf[3]:
                    break  # wait for the rest of the reply
                n = 6 + buf[3]
                events.append(parse_reply(bytes(buf[:n])))
                del buf[:n]
                self.expect_reply = False
                continue
            ends = [i for i in (buf.find(b"\r"), buf.find(b"\n")) if i >= 0]
            if not ends:
                if len(buf) > self.max_payload_bytes:
                    self._skipped += len(buf)
                    buf.clear()
                break
            end = min(ends)
            line = bytes(buf[:end])
            del buf[: end + 1]
            if self._skipped:
                events.append(Overflow(self._skipped + len(line)))
                self._skipped = 0
            elif len(line) > self.max_payload_bytes:
                events.append(Overflow(len(line)))
            elif line:  # empty: the LF of a CRLF, or a blank line
                events.append(Line(line))
        return events

    def reset(self) -> None:
        """Forget a partial line (the port was lost)."""
        self._buf.clear()
        self._skipped = 0

    def poll(self, now: float) -> list[ScannerEvent]:
        """Give up on a line that has been silent for ``idle_end_s`` without a terminator."""
        pending = len(self._buf) + self._skipped
        if not pending or now - self._last_at < self.idle_end_s:
            return []
        over = self._skipped > 0 or len(self._buf) > self.max_payload_bytes
        self._buf.clear()
        self._skipped = 0
        return [Overflow(pending) if over else Unterminated(pending)]


class QrScanner:
    """The serial scanner driver: a reader thread turns lines into results (callback and ``read_once``)."""

    def __init__(self, port: str, baudrate: int = 9600, timeout_s: float = 1.0, *,
                 max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES, allow_binary: bool = False,
                 idle_end_s: float = 0.3, name: str = "qr_scanner",
                 on_result: Callable[[QrResult], None] | None = None):
        self.name = name
        self.port = port
        self.timeout_s = timeout_s  # how long trigger() waits for the reply, in seconds
        self.max_payload_bytes = max_payload_bytes
        self.allow_binary = allow_binary  # pass non-UTF-8 payloads as readings (text=None) instead of errors
        self.link = SerialLink(port, baudrate, timeout_s, name)
        self.stream = ScannerStream(max_payload_bytes, idle_end_s)
        self.sink = ResultSink(name, on_result)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._command_lock = threading.Lock()
        self._reply_ready = threading.Event()
        self._reply: Reply | None = None
        self.counters = {"results": 0, "triggers": 0, "bad_replies": 0}

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> QrScanner:
        """Start the reader thread (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name=f"drv-{self.name}", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop reading and close the port."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=3)
        self.link.close()

    stop = close

    def __enter__(self) -> QrScanner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def retry_now(self) -> None:
        """Reopen the port at the next chance (after a replug is known)."""
        self.link.retry_now()

    # -- API ------------------------------------------------------------------------------
    def read_once(self, timeout_s: float = 10.0) -> QrReading:
        """Wait for one scanned code; raise the QR error it is, or why none came."""
        self.start()
        result = self.sink.get(timeout_s)
        if result is not None:
            return take_result(result)
        if not self.link.connected:
            raise QrUnavailable(f"scanner not available: {self.link.last_error or 'port not open'}",
                                device=self.name)
        raise QrTimeout(f"no code scanned within {timeout_s:g} s", device=self.name)

    def trigger(self, timeout_s: float | None = None) -> None:
        """Send the trigger command (command mode: scan once) and wait for the scanner's success reply."""
        self.start()
        wait = self.timeout_s if timeout_s is None else timeout_s
        with self._command_lock:
            self._reply, self._reply_ready = None, threading.Event()
            self.stream.expect_reply = True
            try:
                with self.link.lock:
                    self.link.write(TRIGGER_COMMAND)
            except DeviceDisconnected as exc:
                self.stream.expect_reply = False
                raise QrUnavailable(f"scanner not available: {exc.args[0]}", device=self.name) from None
            self.counters["triggers"] += 1
            if not self._reply_ready.wait(wait):  # a late reply is still taken as one, not as a code
                raise QrTimeout(f"no reply to the trigger command within {wait:g} s", device=self.name)
            reply = self._reply
        assert reply is not None
        if not reply.crc_ok:
            self.counters["bad_replies"] += 1
            raise QrUndecodable(f"reply with a bad CRC: {reply.status:02X} {reply.data.hex(' ')}", device=self.name)
        if reply.status != 0:
            raise QrRefused(f"scanner refused the trigger command (status {reply.status:02X})", device=self.name)

    def health(self) -> dict[str, Any]:
        """State for status screens and ``linfen doctor``."""
        return {**self.link.health(), **self.counters}

    # -- the reader thread ----------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self._read_some(READ_SLICE_S)
            except DeviceDisconnected:
                self.stream.reset()  # a line cut by the unplug belongs to the dead connection
                self._stop.wait(DISCONNECTED_WAIT_S)
                continue
            except Exception:  # a bug must not end reading; the port is reopened
                log.exception("%s: read failed", self.name)
                self.link.close()
                self._stop.wait(DISCONNECTED_WAIT_S)
                continue
            now = time.monotonic()
            events = self.stream.feed(data, now) if data else self.stream.poll(now)
            for event in events:
                self._dispatch(event)

    def _read_some(self, timeout_s: float) -> bytes:
        """Whatever arrives within ``timeout_s`` (b"" if nothing)."""
        with self.link.lock:  # open the port in one thread only (trigger() may be writing)
            self.link.ensure_open()
        try:
            first = self.link.read(1, timeout_s)
        except DeviceTimeout:
            return b""
        try:
            waiting = self.link.ensure_open().in_waiting
        except (OSError, serial.SerialException):
            waiting = 0  # the next read reports the failure
        return first + (self.link.read(waiting, READ_SLICE_S) if waiting else b"")

    def _dispatch(self, event: ScannerEvent) -> None:
        if isinstance(event, Reply):
            self._reply = event
            self._reply_ready.set()
            return
        result: QrResult
        if isinstance(event, Line):
            result = result_for(event.payload, source=self.port, limit=self.max_payload_bytes,
                                allow_binary=self.allow_binary, device=self.name)
        elif isinstance(event, Overflow):
            log.warning("%s: refused a code of at least %d bytes (limit %d)", self.name, event.length,
                        self.max_payload_bytes)
            result = QrOversized(event.length, self.max_payload_bytes, device=self.name)
        else:
            result = QrUndecodable(f"{event.length} bytes without a line end (CR/LF): check the scanner's "
                                   "terminator setting (CR)", device=self.name)
        self.counters["results"] += 1
        self.sink.deliver(result)
