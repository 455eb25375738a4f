"""Simulated lock-control boards: a locker bank and the self-service area's door controller.

The board speaks the common 5-byte XOR protocol (see ``drivers/relay_board.py`` for the
table; this module keeps its own reading of it so the driver is checked against a second
implementation): ``8A B L 11`` opens lock L and is answered after the coil pulse with
``8A B L S``; ``80 B L 33`` answers ``80 B L S``; ``80 B 00 33`` answers
``80 B Sk … S1 33`` (k = 3 for up to 24 locks).  S is the door contact: 0x11 shut, 0x00 open;
in the bitmap 1 = shut.  Frames for another board address are ignored, as on an RS-485 bus.

Each lock has a latch and a door.  An open command releases the latch for ``release_s``
seconds, then it relocks by itself; a locker door springs open when released, the
hall door waits for a person (``set_door``).  A person cannot open a latched door
(``set_door`` refuses) unless they break it open (``force_open``).

Device fault besides the serial ones: ``lock_jammed`` — the open command is answered but
the latch does not release (a locker then reports the door still shut).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from hardware_sim.serial_sim import SerialSimDevice
from hardware_sim.timing import Timing
from hardware_sim.traffic import TrafficLog

SHUT, OPEN = 0x11, 0x00


def _xor(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


class DoorLocked(ValueError):
    """A person tried to open a latched door."""


class RelayBoardSim(SerialSimDevice):
    """A lock-control board with ``locks`` lockers whose doors spring open when released."""

    kind: ClassVar[str] = "locker"
    extra_faults: ClassVar[frozenset[str]] = frozenset({"lock_jammed"})
    spring_open: ClassVar[bool] = True  # locker doors pop open on release

    def __init__(self, name: str, link_path: Path, timing: Timing = Timing.FAST, traffic: TrafficLog | None = None,
                 *, board: int = 1, locks: int = 24, release_s: float = 3.0, status_bytes: int | None = None):
        super().__init__(name, link_path, timing, traffic)
        if not 0 <= board <= 0xFF or not 1 <= locks <= 64:
            raise ValueError("board must be 0-255 and locks 1-64")
        self.board = board
        self.locks = locks
        self.release_s = release_s  # seconds a released latch stays open before relocking
        self.status_bytes = status_bytes or max(3, -(-locks // 8))
        self._state_lock = threading.Lock()
        self._door_open = [False] * (locks + 1)  # index 0 unused
        self._released_until = [0.0] * (locks + 1)
        self.opens = 0
        self._buf = b""

    # -- physical state -------------------------------------------------------------------
    def _check(self, lock: int) -> None:
        if not 1 <= lock <= self.locks:
            raise ValueError(f"{self.name} has locks 1-{self.locks}, not {lock}")

    def latched(self, lock: int) -> bool:
        """True while the lock holds its door (not inside a release window)."""
        self._check(lock)
        return time.monotonic() >= self._released_until[lock]

    def door_open(self, lock: int) -> bool:
        """True while door ``lock`` is physically open."""
        self._check(lock)
        return self._door_open[lock]

    # -- control --------------------------------------------------------------------------
    def set_door(self, lock: int, open: bool) -> None:
        """A person opens or closes door ``lock``; opening a latched door raises DoorLocked."""
        self._check(lock)
        with self._state_lock:
            if open and not self._door_open[lock] and self.latched(lock):
                raise DoorLocked(f"{self.name} lock {lock} is locked: the door does not open (force_open breaks it)")
            self._door_open[lock] = bool(open)
        self.traffic.event(self.name, f"door {lock} {'opened' if open else 'closed'} by a person")

    def force_open(self, lock: int) -> None:
        """Someone breaks door ``lock`` open, latch or not."""
        self._check(lock)
        with self._state_lock:
            self._door_open[lock] = True
        self.traffic.event(self.name, f"door {lock} forced open")

    def config_entry(self) -> dict[str, Any]:
        """The ``[devices.<name>]`` table for a terminal config."""
        return {"port": str(self.link_path), "board": self.board, "locks": self.locks}

    def device_status(self) -> dict[str, Any]:
        """Board address and each lock's door and latch."""
        return {"board": self.board, "opens": self.opens,
                "locks": [{"lock": n, "door_open": self._door_open[n], "latched": self.latched(n)}
                          for n in range(1, self.locks + 1)]}

    # -- protocol -------------------------------------------------------------------------
    def _contact(self, lock: int) -> int:
        return OPEN if self._door_open[lock] else SHUT

    def _release(self, lock: int) -> None:
        if self.faults.take("lock_jammed"):
            self.traffic.event(self.name, f"fault lock_jammed: lock {lock} stays latched")
            return
        with self._state_lock:
            self._released_until[lock] = time.monotonic() + self.release_s
            if self.spring_open:
                self._door_open[lock] = True
        self.opens += 1

    def _bitmap(self) -> bytes:
        value = sum(1 << (n - 1) for n in range(1, self.locks + 1) if not self._door_open[n])
        return value.to_bytes(self.status_bytes, "big")  # highest group first

    def on_bytes(self, data: bytes) -> None:
        """Cut 5-byte requests (resynchronising on bad ones) and answer those for this board."""
        self._buf += data
        while len(self._buf) >= 5:
            frame = self._buf[:5]
            if frame[0] not in (0x8A, 0x80) or _xor(frame[:4]) != frame[4]:
                self._buf = self._buf[1:]
                continue
            self._buf = self._buf[5:]
            self._answer(frame)
        self._buf = self._buf[-64:]

    def _answer(self, frame: bytes) -> None:
        head, board, lock, function = frame[:4]
        if board != self.board or lock > self.locks:
            return
        if head == 0x8A and function == 0x11:
            for n in ([lock] if lock else range(1, self.locks + 1)):
                self._release(n)
            body = bytes([head, board, lock, self._contact(lock) if lock else 0x11])
            self.send(body + bytes([_xor(body)]), f"{self.kind}.open")
        elif head == 0x80 and function == 0x33:
            body = bytes([head, board, lock, self._contact(lock)]) if lock else \
                bytes([head, board]) + self._bitmap() + bytes([0x33])
            self.send(body + bytes([_xor(body)]), f"{self.kind}.command")


class DoorControllerSim(RelayBoardSim):
    """The self-service area's door: one strike (lock 1) and the door contact; a person opens the door."""

    kind: ClassVar[str] = "door"
    spring_open: ClassVar[bool] = False

    def __init__(self, name: str, link_path: Path, timing: Timing = Timing.FAST, traffic: TrafficLog | None = None,
                 *, board: int = 1, locks: int = 1, release_s: float = 5.0, status_bytes: int | None = None):
        super().__init__(name, link_path, timing, traffic, board=board, locks=locks, release_s=release_s,
                         status_bytes=status_bytes)
