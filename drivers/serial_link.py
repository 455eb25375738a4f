"""One serial line, opened from a URL, with bounded reads and reopening after an unplug.

``/dev/ttyUSB0``, a simulator's pty path or ``socket://127.0.0.1:PORT`` all open the
same way (pyserial's ``serial_for_url``).  After a failure the link reports
:class:`~drivers.errors.DeviceDisconnected` and tries to reopen no sooner than its
backoff allows (0.2 s doubling to 5 s), so a driver never hangs on a missing device
and recovers by itself when it comes back.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import serial

from drivers.errors import DeviceDisconnected, DeviceTimeout

try:
    import termios

    _TTY_ERRORS: tuple[type[Exception], ...] = (termios.error,)  # tcflush on a hung-up pty: not an OSError
except ImportError:  # not POSIX
    _TTY_ERRORS = ()

BACKOFF_FIRST_S = 0.2  # first wait before reopening, in seconds
BACKOFF_MAX_S = 5.0  # longest wait between reopen attempts, in seconds


class SerialLink:
    """A serial port that reopens itself; every read has a deadline."""

    def __init__(self, url: str, baudrate: int = 9600, timeout_s: float = 1.0, name: str = "serial"):
        self.url = url
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.name = name
        self.lock = threading.RLock()  # one request/answer exchange at a time
        self._port: serial.SerialBase | None = None
        self._backoff = 0.0
        self._next_try = 0.0
        self.last_error = ""
        self.reopens = 0

    # -- state ----------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """True while the port is open."""
        return self._port is not None and self._port.is_open

    def health(self) -> dict[str, Any]:
        """Connection state for status screens and ``linfen doctor``."""
        return {"port": self.url, "connected": self.connected, "last_error": self.last_error, "reopens": self.reopens}

    # -- open / close ---------------------------------------------------------------------
    def ensure_open(self) -> serial.SerialBase:
        """The open port; reopen it if the backoff allows, else raise DeviceDisconnected."""
        if self._port is not None and self._port.is_open:
            return self._port
        now = time.monotonic()
        if now < self._next_try:
            raise DeviceDisconnected(f"disconnected ({self.last_error}); retrying in {self._next_try - now:.1f} s",
                                     device=self.name)
        try:
            self._port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=self.timeout_s,
                                               write_timeout=self.timeout_s, exclusive=None)
        except (serial.SerialException, OSError, ValueError) as exc:
            self._fail(f"cannot open {self.url}: {exc}")
            raise DeviceDisconnected(self.last_error, device=self.name) from None
        if self._backoff:
            self.reopens += 1
        self._backoff = 0.0
        self._next_try = 0.0
        self.last_error = ""
        return self._port

    def _fail(self, message: str) -> None:
        self.last_error = message
        self._backoff = min(BACKOFF_MAX_S, self._backoff * 2 if self._backoff else BACKOFF_FIRST_S)
        self._next_try = time.monotonic() + self._backoff
        if self._port is not None:
            try:
                self._port.close()
            except Exception:  # closing a dead port may fail in many ways; it is gone either way
                pass
            self._port = None

    def retry_now(self) -> None:
        """Forget the backoff: the next request tries to reopen at once (after a replug is known)."""
        self._next_try = 0.0

    def close(self) -> None:
        """Close the port; the next request reopens it at once."""
        with self.lock:
            if self._port is not None:
                self._port.close()
                self._port = None
            self._next_try = 0.0

    # -- I/O ------------------------------------------------------------------------------
    def write(self, data: bytes) -> None:
        """Write all of ``data`` or raise DeviceDisconnected."""
        port = self.ensure_open()
        try:
            port.write(data)
            port.flush()
        except (serial.SerialException, OSError) as exc:
            self._fail(f"write failed: {exc}")
            raise DeviceDisconnected(self.last_error, device=self.name) from None

    def discard_input(self) -> None:
        """Drop bytes waiting from an earlier, abandoned answer."""
        port = self.ensure_open()
        try:
            port.reset_input_buffer()
        except (serial.SerialException, OSError, *_TTY_ERRORS) as exc:
            self._fail(f"reset failed: {exc}")
            raise DeviceDisconnected(self.last_error, device=self.name) from None

    def read(self, n: int, timeout_s: float | None = None) -> bytes:
        """Read exactly ``n`` bytes before the deadline, else DeviceTimeout (partial data in the message)."""
        port = self.ensure_open()
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        data = bytearray()
        while len(data) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeviceTimeout(f"no answer: {len(data)} of {n} bytes in time", device=self.name)
            try:
                port.timeout = left  # reconfigures the port: fails too on a hung-up pty
                chunk = port.read(n - len(data))
            except (serial.SerialException, OSError) as exc:
                self._fail(f"read failed: {exc}")
                raise DeviceDisconnected(self.last_error, device=self.name) from None
            data += chunk
        return bytes(data)

    def read_until(self, terminator: bytes, max_bytes: int, timeout_s: float | None = None) -> bytes:
        """Read up to and including ``terminator`` (at most ``max_bytes``), else DeviceTimeout."""
        port = self.ensure_open()
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        data = bytearray()
        while not data.endswith(terminator):
            if len(data) >= max_bytes:
                raise DeviceTimeout(f"no {terminator!r} within {max_bytes} bytes", device=self.name)
            left = deadline - time.monotonic()
            if left <= 0:
                raise DeviceTimeout(f"no complete line in time ({len(data)} bytes)", device=self.name)
            try:
                port.timeout = left
                data += port.read(1)
            except (serial.SerialException, OSError) as exc:
                self._fail(f"read failed: {exc}")
                raise DeviceDisconnected(self.last_error, device=self.name) from None
        return bytes(data)
