"""A Modbus RTU thermometer played by pymodbus's own serial server, so the driver talks to a third party.

The driver opens ``link_path`` (the pty of :class:`~hardware_sim.serial_sim.SerialSimDevice`).
pymodbus's :class:`~pymodbus.server.ModbusSerialServer` wants a port path of its own, so
the device bridges two ptys::

    driver ── link_path pty ── ThermometerSim (traffic log, timing, serial faults)
                                    │ copies bytes both ways
                                 inner pty ── ModbusSerialServer (pymodbus: RTU framing, CRC, FC03)

Requests go to the server unchanged; each answer the server writes is cut into one
RTU frame (pymodbus's framer) and sent back through :meth:`send`, where the timing
mode and the serial faults apply.  The register map: holding register ``register``
(default 0x0000) holds the temperature in hundredths of a degree Celsius as a signed
16-bit value; the other registers of the block 0x0000–0x000F read 0.

Device faults besides the serial ones:
``modbus_exception``  the datastore refuses, so the server answers exception 04 (server device failure);
``implausible``       the register reads an impossible value: arg ``high`` (default, 327.67 °C),
                      ``low`` (0.00 °C) or a number of degrees Celsius.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import threading
import tty
from pathlib import Path
from typing import Any, ClassVar

from pymodbus.constants import ExcCodes
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from hardware_sim.serial_sim import POLL_S, SerialSimDevice
from hardware_sim.timing import Timing
from hardware_sim.traffic import TrafficLog

log = logging.getLogger(__name__)

REGISTER_BLOCK = 16  # holding registers 0x0000-0x000F exist on the device
IMPLAUSIBLE_HIGH = 0x7FFF  # 327.67 °C, the largest signed value
START_TIMEOUT_S = 5.0  # longest wait for the pymodbus server to listen, in seconds
MAX_BUFFER = 512  # bytes kept from the server while hunting for a frame


def to_register(celsius: float) -> int:
    """Degrees Celsius as the device's register: hundredths, signed 16-bit two's complement."""
    value = round(celsius * 100)
    if not -0x8000 <= value <= 0x7FFF:
        raise ValueError(f"{celsius} °C does not fit the register (-327.68 to 327.67 °C)")
    return value & 0xFFFF


class ThermometerSim(SerialSimDevice):
    """A body thermometer answering Modbus RTU FC03 through pymodbus's serial server."""

    kind: ClassVar[str] = "thermometer"
    extra_faults: ClassVar[frozenset[str]] = frozenset({"modbus_exception", "implausible"})

    def __init__(self, name: str, link_path: Path, timing: Timing = Timing.FAST, traffic: TrafficLog | None = None,
                 *, unit: int = 1, register: int = 0x0000, baud: int = 9600, celsius: float = 36.5):
        super().__init__(name, link_path, timing, traffic)
        if not 0 <= register < REGISTER_BLOCK:
            raise ValueError(f"register must be 0x0000-0x{REGISTER_BLOCK - 1:04X}")
        self.unit = unit
        self.register = register
        self.baud = baud
        self.celsius = celsius
        to_register(celsius)
        self.reads = 0
        self._inner_master: int | None = None
        self._inner_keepalive: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusSerialServer | None = None
        self._threads: list[threading.Thread] = []
        self._running = threading.Event()

    # -- control --------------------------------------------------------------------------
    def set_temperature(self, celsius: float) -> None:
        """What the next reading will say (the person in front of the sensor)."""
        to_register(celsius)
        self.celsius = float(celsius)
        self.traffic.event(self.name, f"temperature set to {self.celsius:.2f} °C")

    def config_entry(self) -> dict[str, Any]:
        """The ``[devices.thermometer]`` table for a terminal config."""
        return {"port": str(self.link_path), "baud": self.baud, "unit": self.unit}

    def device_status(self) -> dict[str, Any]:
        """Temperature, Modbus address and register, reads served."""
        return {"celsius": self.celsius, "unit": self.unit, "register": self.register, "baud": self.baud,
                "reads": self.reads, "server": self._running.is_set()}

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> None:
        """Start pymodbus's server on the inner pty, the bridge, then plug in the driver's pty."""
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        self._inner_master, self._inner_keepalive = master, slave
        inner_path = os.ttyname(slave)
        self._running.clear()
        started = threading.Event()
        errors: list[BaseException] = []
        server_thread = threading.Thread(target=self._serve, args=(inner_path, started, errors),
                                         name=f"sim-{self.name}-modbus", daemon=True)
        bridge_thread = threading.Thread(target=self._bridge, args=(master,), name=f"sim-{self.name}-bridge",
                                         daemon=True)
        self._threads = [server_thread, bridge_thread]
        server_thread.start()
        if not started.wait(START_TIMEOUT_S) or errors:
            self.stop()
            raise RuntimeError(f"{self.name}: pymodbus serial server did not start: {errors[:1]}")
        self._running.set()
        bridge_thread.start()
        super().start()

    def stop(self) -> None:
        """Unplug, stop the server and the bridge, close the inner pty."""
        super().stop()
        self._running.clear()
        loop, server = self._loop, self._server
        if loop is not None and server is not None and loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(server.shutdown(), loop).result(timeout=2)
            except Exception:  # a server that is already gone is what we want
                log.debug("%s: server shutdown", self.name, exc_info=True)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=2)
        self._threads = []
        for fd in (self._inner_master, self._inner_keepalive):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._inner_master = self._inner_keepalive = None

    # -- the pymodbus side ----------------------------------------------------------------
    def _serve(self, inner_path: str, started: threading.Event, errors: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve_async(inner_path, started))
        except BaseException as exc:  # reported to start(); the thread ends
            errors.append(exc)
            started.set()
        finally:
            loop.close()
            self._loop = None

    async def _serve_async(self, inner_path: str, started: threading.Event) -> None:
        device = SimDevice(
            id=self.unit,
            simdata=[SimData(address=0, count=REGISTER_BLOCK, values=0, datatype=DataType.REGISTERS)],
            action=self._on_access,
        )
        self._server = ModbusSerialServer(device, port=inner_path, baudrate=self.baud, reconnect_delay=0.1)
        await self._server.serve_forever(background=True)
        started.set()
        await self._server.serving

    async def _on_access(self, function_code: int, start_address: int, address: int, count: int,
                         registers: list[int], set_values: list[int] | list[bool] | None) -> ExcCodes | None:
        """pymodbus calls this on every register access: put the current reading in place, or fail."""
        if self.faults.take("modbus_exception"):
            self.traffic.event(self.name, "fault modbus_exception: answering exception 04")
            return ExcCodes.DEVICE_FAILURE
        value = to_register(self.celsius)
        implausible = self.faults.take("implausible")
        if implausible:
            value = self._implausible_value(implausible.arg)
            self.traffic.event(self.name, f"fault implausible: register reads 0x{value:04X}")
        registers[self.register - start_address] = value
        self.reads += 1
        return None

    @staticmethod
    def _implausible_value(arg: str | None) -> int:
        if arg in (None, "", "high"):
            return IMPLAUSIBLE_HIGH
        if arg == "low":
            return 0
        try:
            return to_register(float(arg))
        except ValueError:
            return IMPLAUSIBLE_HIGH

    # -- the bridge -----------------------------------------------------------------------
    def on_bytes(self, data: bytes) -> None:
        """Bytes from the driver go to the server as they are."""
        master = self._inner_master
        if master is None:
            return
        try:
            os.write(master, data)
        except OSError as exc:
            log.warning("%s: bridge write failed: %s", self.name, exc)

    def _bridge(self, master: int) -> None:
        """Cut what the server writes into RTU frames and answer the driver with each."""
        framer = FramerRTU(DecodePDU(False))
        buffer = b""
        while self._running.is_set():
            try:
                ready, _, _ = select.select([master], [], [], POLL_S)
                if not ready:
                    continue
                buffer += os.read(master, 1024)
            except OSError:
                if not self._running.is_set():
                    return
                continue
            while buffer:
                used, dev_id, _tid, pdu = framer.decode(buffer)
                if not used:
                    break
                if not pdu:  # a frame with a bad CRC: pymodbus drops what it has seen
                    buffer = buffer[used:]
                    continue
                frame = framer.encode(pdu, dev_id, 0)  # the frame found, CRC included
                end = buffer.find(frame) + len(frame)  # decode() reports the whole buffer as used
                buffer = buffer[end:] if end >= len(frame) else b""
                self.send(frame, "thermometer.read")
            buffer = buffer[-MAX_BUFFER:]
