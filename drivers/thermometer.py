"""The body thermometer: Modbus RTU over serial, spoken through pymodbus's client (no hand-made CRC).

Protocol (DESIGN §4): 9600 8N1 by default; the host sends FC03 *read holding registers*
for one register at ``register`` (default 0x0000, configurable per device model) of
slave ``unit`` (1–247); the register holds the temperature in hundredths of a degree
Celsius as a signed 16-bit value (3650 = 36.50 °C; two's complement, as ambient models
use; a body reading is positive either way).  A Modbus exception answer (e.g. 04,
server device failure) means the sensor could not measure.

What the driver adds to the library: every exchange has a deadline (``retries=0``, the
client's timeout set per exchange), bytes that arrived without forming a valid frame
are a frame error rather than a silent timeout, a missing port or an unplug becomes
:class:`ThermometerDisconnected` with reopening after a backoff (0.2 s doubling to 5 s),
and a reading outside the plausible body range (30–45 °C by default) is
:class:`ImplausibleReading` — "measure again".  Checked behaviour of pymodbus 3.16's
sync serial client: a missing port fails ``connect()`` at once; no answer returns after
its timeout; a hang-up raises ``ConnectionException`` and closes the port; a bad CRC is
dropped silently (we see the bytes through ``trace_packet``).  It never spins: it
polls the input queue every few milliseconds until its deadline.

Errors (one root, ``ThermometerError``; transport ones keep the generic codes)::

    ThermometerError          (170)  root
      ImplausibleReading      (171)  a value outside the plausible range: measure again
      ThermometerRefused      (104)  also DeviceRefused: a Modbus exception answer
      ThermometerDisconnected (101)  also DeviceDisconnected
      ThermometerTimeout      (102)  also DeviceTimeout
      ThermometerFrameError   (103)  also FrameError: bytes but no valid Modbus frame
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusException

from drivers.errors import DeviceDisconnected, DeviceRefused, DeviceTimeout, DriverError, FrameError
from drivers.probe import probe_serial

BACKOFF_FIRST_S = 0.2  # first wait before reopening a missing port, in seconds
BACKOFF_MAX_S = 5.0  # longest wait between reopen attempts, in seconds
PLAUSIBLE_C = (30.0, 45.0)  # body temperatures the driver accepts, in °C (inclusive)
SCALE = 100  # register units per degree Celsius


def _quiet_library_log() -> None:
    """pymodbus logs every lost answer as ERROR with a frame dump; the driver reports it itself.

    Only when the application has not configured the ``pymodbus`` logger.
    """
    library = logging.getLogger("pymodbus")
    if library.level == logging.NOTSET:
        library.setLevel(logging.CRITICAL)


class ThermometerError(DriverError):
    """Root of every error of the thermometer driver."""

    code = 170


class ImplausibleReading(ThermometerError):
    """The sensor answered with a temperature no body has: measure again."""

    code = 171

    def __init__(self, celsius: float, low: float, high: float, *, device: str = ""):
        super().__init__(f"implausible reading {celsius:.2f} °C (expected {low:g}–{high:g} °C), measure again",
                         device=device)
        self.celsius = celsius


class ThermometerRefused(ThermometerError, DeviceRefused):
    """The thermometer answered with a Modbus exception (04: it could not measure)."""

    code = 104

    def __init__(self, exception_code: int, *, device: str = ""):
        super().__init__(f"thermometer refused with Modbus exception {exception_code:02X}", device=device)
        self.exception_code = exception_code


class ThermometerDisconnected(ThermometerError, DeviceDisconnected):
    """The thermometer's port is missing or was unplugged; the driver reopens it after a backoff."""

    code = 101


class ThermometerTimeout(ThermometerError, DeviceTimeout):
    """No answer within the timeout."""

    code = 102


class ThermometerFrameError(ThermometerError, FrameError):
    """Bytes came back but no valid Modbus frame (bad CRC, garbage, wrong length)."""

    code = 103


@dataclass(frozen=True)
class TemperatureReading:
    """One body temperature."""

    celsius: float  # degrees Celsius, two decimals
    read_at: datetime  # when the answer arrived (UTC)


def register_to_celsius(value: int) -> float:
    """A register value (0–65535, signed hundredths of a degree) in degrees Celsius."""
    if not 0 <= value <= 0xFFFF:
        raise ValueError(f"register value {value} is not 16-bit")
    signed = value - 0x10000 if value & 0x8000 else value
    return round(signed / SCALE, 2)


class Thermometer:
    """A Modbus RTU thermometer on a serial port (``/dev/ttyUSB0``, a pty path, ``socket://…``)."""

    def __init__(self, port: str, baud: int = 9600, timeout_s: float = 1.0, *, unit: int = 1,
                 register: int = 0x0000, plausible_c: tuple[float, float] = PLAUSIBLE_C,
                 name: str = "thermometer"):
        if not 1 <= unit <= 247:
            raise ValueError("unit must be 1-247")
        if not 0 <= register <= 0xFFFF:
            raise ValueError("register must be 0x0000-0xFFFF")
        self.port = port
        self.baud = baud
        self.timeout_s = timeout_s  # longest wait for one answer, in seconds
        self.unit = unit
        self.register = register
        self.plausible_c = plausible_c
        self.name = name
        _quiet_library_log()
        self._lock = threading.Lock()
        self._received = bytearray()
        self._client = ModbusSerialClient(port, baudrate=baud, bytesize=8, parity="N", stopbits=1,
                                          timeout=timeout_s, retries=0, name=name,
                                          trace_packet=self._trace)
        self._backoff = 0.0
        self._next_try = 0.0
        self.last_error = ""
        self.last_reading: TemperatureReading | None = None
        self.reads = 0
        self.reopens = 0
        self.problem = ""  # what the last health check ran into ("" when the thermometer answered)
        self.problem_code = 0

    # -- the library seam ------------------------------------------------------------------
    def _trace(self, sending: bool, data: bytes) -> bytes:
        if not sending:
            self._received[:] = data  # pymodbus passes the whole buffer it is still trying to frame
        return data

    # -- state ----------------------------------------------------------------------------
    def health(self, *, check: bool = False) -> dict[str, Any]:
        """Connection state and the last reading, for status screens and ``linfen doctor``.

        With ``check`` one reading is taken first unless a read is in progress on another
        thread (``busy``: the last known state is reported then).  Its outcome is
        ``problem``/``problem_code``; an implausible temperature (nobody in front) is an answer.
        """
        busy = False
        if check:
            busy = self._lock.locked()
            if not busy:
                try:
                    self._exchange(self.timeout_s)
                    self.problem, self.problem_code = "", 0
                except ImplausibleReading:
                    self.problem, self.problem_code = "", 0
                except ThermometerError as exc:
                    self.problem, self.problem_code = str(exc), exc.code
        last = self.last_reading
        return {"busy": busy, "problem": self.problem, "problem_code": self.problem_code, "device": self.name, "port": self.port, "unit": self.unit, "register": self.register,
                "connected": self._client.connected and not self.last_error, "last_error": self.last_error,
                "reads": self.reads, "reopens": self.reopens,
                "last_celsius": last.celsius if last else None,
                "last_read_at": last.read_at.isoformat() if last else None}

    def retry_now(self) -> None:
        """Forget the reopen backoff (after a replug is known)."""
        self._next_try = 0.0

    def close(self) -> None:
        """Close the port; the next read reopens it."""
        with self._lock:
            self._client.close()

    # -- reading --------------------------------------------------------------------------
    def read_once(self, timeout_s: float | None = None) -> TemperatureReading:
        """One reading within ``timeout_s`` (default: the driver's timeout), retrying lost answers meanwhile."""
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        while True:
            left = deadline - time.monotonic()
            try:
                return self._exchange(max(0.01, min(self.timeout_s, left)))
            except (ThermometerTimeout, ThermometerFrameError):
                if deadline - time.monotonic() < 0.01:
                    raise

    def _exchange(self, timeout_s: float) -> TemperatureReading:
        with self._lock:
            self._connect()
            self._client.comm_params.timeout_connect = timeout_s
            self._received.clear()
            try:
                answer = self._client.read_holding_registers(self.register, count=1, device_id=self.unit)
            except ConnectionException as exc:
                raise self._disconnected(f"port closed: {exc}") from None
            except ModbusException:
                self._client.close()  # drop stale bytes; a hang-up shows as silence on some adapters
                if self._received:
                    raise self._failed(ThermometerFrameError(
                        f"no valid Modbus frame in {bytes(self._received[:32]).hex(' ')}", device=self.name)) from None
                raise self._failed(ThermometerTimeout(f"no answer within {timeout_s:.2f} s", device=self.name)) \
                    from None
            except (OSError, ValueError) as exc:  # pyserial errors pymodbus lets through
                raise self._disconnected(f"port error: {exc}") from None
            if answer.isError():
                raise self._failed(ThermometerRefused(getattr(answer, "exception_code", 0), device=self.name))
            registers = getattr(answer, "registers", None) or []
            if len(registers) != 1:
                raise self._failed(ThermometerFrameError(f"expected 1 register, got {len(registers)}",
                                                         device=self.name))
            self.last_error = ""
            celsius = register_to_celsius(registers[0])
            reading = TemperatureReading(celsius, datetime.now(UTC))
            self.reads += 1
            low, high = self.plausible_c
            if not low <= celsius <= high:
                raise ImplausibleReading(celsius, low, high, device=self.name)
            self.last_reading = reading
            return reading

    def _connect(self) -> None:
        if self._client.connected:
            return
        now = time.monotonic()
        if now < self._next_try:
            raise ThermometerDisconnected(f"disconnected ({self.last_error}); retrying in {self._next_try - now:.1f} s",
                                          device=self.name)
        if not self._client.connect():
            presence = probe_serial(self.port)
            raise self._disconnected(f"cannot open {self.port}: {presence.reason if not presence.up else 'busy'}")
        if self._backoff:
            self.reopens += 1
        self._backoff = self._next_try = 0.0

    def _disconnected(self, message: str) -> ThermometerDisconnected:
        self._client.close()
        self._backoff = min(BACKOFF_MAX_S, self._backoff * 2 if self._backoff else BACKOFF_FIRST_S)
        self._next_try = time.monotonic() + self._backoff
        return self._failed(ThermometerDisconnected(message, device=self.name))

    def _failed(self, error: ThermometerError) -> ThermometerError:
        self.last_error = str(error)
        return error
