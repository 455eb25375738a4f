"""Scriptable faults in the OctoPrint virtual-printer spirit: set by name, cleared by name.

A fault stays until cleared, or for ``count`` answers when a count is given.  Each
device says which kinds it supports; asking for another is a clear error.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

# Kinds every serial device supports; devices add their own (sam_failure, paper_out, wrong_le…).
SERIAL_FAULTS = frozenset({"no_answer", "slow", "garbage", "bad_checksum", "truncated", "unplug_mid_read"})
SLOW_ANSWER_S = 3.0  # extra delay of the "slow" fault, in seconds


class FaultError(ValueError):
    """An unknown fault kind for a device, or a bad argument."""


@dataclass
class ActiveFault:
    """A fault that is in force: its kind, an optional argument, and answers left (None = until cleared)."""

    kind: str
    arg: str | None = None
    remaining: int | None = None


class FaultBoard:
    """The faults in force on one device."""

    def __init__(self, device: str, supported: frozenset[str]):
        self.device = device
        self.supported = supported
        self._lock = threading.Lock()
        self._active: dict[str, ActiveFault] = {}

    def set(self, kind: str, arg: str | None = None, count: int | None = None) -> None:
        """Put a fault in force; ``count`` limits it to that many answers."""
        if kind not in self.supported:
            raise FaultError(f"{self.device} has no fault {kind!r}; it has: {', '.join(sorted(self.supported))}")
        if count is not None and count < 1:
            raise FaultError("count must be at least 1")
        with self._lock:
            self._active[kind] = ActiveFault(kind, arg, count)

    def clear(self, kind: str | None = None) -> None:
        """Clear one fault, or all of them."""
        with self._lock:
            if kind is None:
                self._active.clear()
            else:
                self._active.pop(kind, None)

    def take(self, kind: str) -> ActiveFault | None:
        """If ``kind`` is in force, use up one answer of it and return it."""
        with self._lock:
            fault = self._active.get(kind)
            if fault is None:
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self._active[kind]
            return fault

    def peek(self, kind: str) -> ActiveFault | None:
        """The fault of ``kind`` in force, without using it up."""
        with self._lock:
            return self._active.get(kind)

    def active(self) -> list[str]:
        """Names of the faults in force."""
        with self._lock:
            return sorted(self._active)
