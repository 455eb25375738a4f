"""Traffic log: every byte each way, per device, in hex with timestamps.

Kept in memory (a bounded ring per device, for the control API and the GUI) and,
when a folder is given, appended to ``<folder>/<device>.log`` so a run can be diffed
after a change (Klipper's habit).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

RING_SIZE = 2000  # entries kept in memory per device


@dataclass(frozen=True)
class TrafficEntry:
    """One chunk of bytes on a device's line."""

    t: float  # time.time() seconds
    device: str
    direction: str  # "host>dev" or "dev>host", or "event" for plug/unplug/fault notes
    data: bytes

    def line(self) -> str:
        """One log line: ISO time with milliseconds, device, direction, hex bytes."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(self.t)) + f".{int(self.t * 1000) % 1000:03d}"
        body = self.data.decode("utf-8", "replace") if self.direction == "event" else self.data.hex(" ")
        return f"{stamp} {self.device} {self.direction} {body}"


class TrafficLog:
    """Thread-safe per-device traffic record."""

    def __init__(self, folder: Path | None = None):
        self._folder = folder
        self._lock = threading.Lock()
        self._rings: dict[str, deque[TrafficEntry]] = {}
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)

    def record(self, device: str, direction: str, data: bytes) -> None:
        """Note bytes (or an event text) for ``device``."""
        entry = TrafficEntry(time.time(), device, direction, data)
        with self._lock:
            self._rings.setdefault(device, deque(maxlen=RING_SIZE)).append(entry)
            if self._folder is not None:
                with open(self._folder / f"{device}.log", "a", encoding="utf-8") as fh:
                    fh.write(entry.line() + "\n")

    def event(self, device: str, text: str) -> None:
        """Note a plug/unplug/fault event in the device's log."""
        self.record(device, "event", text.encode())

    def entries(self, device: str, last: int = 200) -> list[TrafficEntry]:
        """The most recent entries of one device."""
        with self._lock:
            ring = self._rings.get(device, deque())
            return list(ring)[-last:]
