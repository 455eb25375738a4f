"""The device side of a serial line: a raw-mode pty whose slave path a driver opens like /dev/ttyUSB0.

A :class:`SerialSimDevice` holds the pty master and a stable symlink to the slave
(Klipper's ``create_pty``), reads what the host writes on a thread, hands the bytes to
the device's :meth:`~SerialSimDevice.on_bytes`, and answers through :meth:`send`, which
applies the timing mode and the faults in force.  Unplugging closes the pty and removes
the symlink; plugging makes a new pty behind the same path.

Subclasses implement ``on_bytes`` (keep a buffer, cut frames, answer) and may add fault
kinds and a ``corrupt_checksum`` rule.  Modem-line ioctls do not work on a pty; nothing
here depends on them.
"""

from __future__ import annotations

import logging
import os
import random
import select
import threading
import time
import tty
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from hardware_sim.faults import SERIAL_FAULTS, SLOW_ANSWER_S, FaultBoard
from hardware_sim.timing import Timing
from hardware_sim.traffic import TrafficLog

log = logging.getLogger(__name__)

POLL_S = 0.05  # how often the reader thread checks for stop, in seconds


class SerialSimDevice(ABC):
    """Base of every simulated serial device."""

    kind: ClassVar[str] = "serial"
    extra_faults: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, name: str, link_path: Path, timing: Timing = Timing.FAST, traffic: TrafficLog | None = None):
        self.name = name
        self.link_path = Path(link_path)
        self.timing = timing
        self.traffic = traffic or TrafficLog()
        self.faults = FaultBoard(name, SERIAL_FAULTS | self.extra_faults)
        self._lock = threading.RLock()
        self._master: int | None = None
        self._keepalive: int | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._rng = random.Random()
        self.requests = 0  # requests answered or dropped, for status

    # -- plug / unplug --------------------------------------------------------------------
    @property
    def plugged(self) -> bool:
        """True while the pty exists and the symlink points at it."""
        return self._master is not None

    def start(self) -> None:
        """Plug the device in (create the pty and the symlink) and start reading."""
        self.plug()

    def stop(self) -> None:
        """Unplug and stop the reader thread."""
        self.unplug(note="stopped")

    def plug(self) -> None:
        """Create a fresh raw pty behind ``link_path``."""
        with self._lock:
            if self._master is not None:
                return
            master, slave = os.openpty()
            tty.setraw(master)
            tty.setraw(slave)
            self.link_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.link_path.with_name(self.link_path.name + ".new")
            tmp.unlink(missing_ok=True)
            os.symlink(os.ttyname(slave), tmp)
            os.replace(tmp, self.link_path)
            self._master, self._keepalive = master, slave
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._read_loop, args=(master, self._stop),
                                            name=f"sim-{self.name}", daemon=True)
            self._thread.start()
        self.traffic.event(self.name, f"plugged in at {self.link_path} -> {os.ttyname(slave)}")

    def unplug(self, note: str = "unplugged") -> None:
        """Close the pty (the host sees a hang-up) and remove the symlink."""
        with self._lock:
            if self._master is None:
                return
            self._stop.set()
            self.link_path.unlink(missing_ok=True)
            for fd in (self._master, self._keepalive):
                try:
                    os.close(fd)  # type: ignore[arg-type]
                except OSError:
                    pass
            self._master = self._keepalive = None
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2)
        self.traffic.event(self.name, note)

    # -- reading --------------------------------------------------------------------------
    def _read_loop(self, master: int, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                ready, _, _ = select.select([master], [], [], POLL_S)
                if not ready:
                    continue
                data = os.read(master, 4096)
            except OSError:
                if stop.is_set():
                    return
                time.sleep(POLL_S)  # EIO while no slave is open: wait for the host to reopen
                continue
            if not data:
                continue
            self.traffic.record(self.name, "host>dev", data)
            try:
                self.on_bytes(data)
            except Exception:  # a device bug must not kill the line; it is logged
                log.exception("%s: error handling %s", self.name, data.hex(" "))

    @abstractmethod
    def on_bytes(self, data: bytes) -> None:
        """Bytes the host wrote; subclasses buffer them, cut frames and answer with :meth:`send`."""

    # -- answering ------------------------------------------------------------------------
    def corrupt_checksum(self, frame: bytes) -> bytes:
        """The frame with a wrong checksum; by default the last byte is flipped."""
        return frame[:-1] + bytes([frame[-1] ^ 0xFF]) if frame else frame

    def write_raw(self, data: bytes) -> None:
        """Put bytes on the line with no fault applied (unsolicited output such as a scanned code)."""
        with self._lock:
            master = self._master
        if master is None:
            return
        # Logged before the write: a host that has read the answer finds it in the log already.
        self.traffic.record(self.name, "dev>host", data)
        try:
            os.write(master, data)
        except OSError as exc:
            log.warning("%s: write failed: %s", self.name, exc)
            self.traffic.event(self.name, f"write failed, the bytes above did not go out: {exc}")

    def send(self, frame: bytes, action: str) -> None:
        """Answer the host after the timing mode's delay for ``action``, applying the faults in force."""
        self.requests += 1
        delay = self.timing.delay(action)
        if self.faults.take("slow"):
            delay += SLOW_ANSWER_S
        if delay:
            time.sleep(delay)
        if self.faults.take("no_answer"):
            self.traffic.event(self.name, f"fault no_answer: dropped {len(frame)} bytes")
            return
        if self.faults.take("garbage"):
            frame = bytes(self._rng.randrange(256) for _ in range(max(1, len(frame))))
        elif self.faults.take("bad_checksum"):
            frame = self.corrupt_checksum(frame)
        elif self.faults.take("truncated"):
            frame = frame[: max(1, len(frame) // 2)]
        elif self.faults.take("unplug_mid_read"):
            self.write_raw(frame[: max(1, len(frame) // 3)])
            time.sleep(0.01)
            self.unplug(note="fault unplug_mid_read: unplugged while answering")
            return
        self.write_raw(frame)

    def status(self) -> dict[str, Any]:
        """State for the control API: plugged, path, faults, counters, plus the device's own."""
        return {
            "kind": self.kind,
            "plugged": self.plugged,
            "port": str(self.link_path),
            "faults": self.faults.active(),
            "fault_kinds": sorted(self.faults.supported),
            "requests": self.requests,
            **self.device_status(),
        }

    def device_status(self) -> dict[str, Any]:
        """Device-specific state (presented card, paper, temperature…); subclasses add theirs."""
        return {}
