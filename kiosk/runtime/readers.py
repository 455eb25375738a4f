"""Card-reader loops: look for a card, read it once, wait until it is taken away, tell faults apart.

Two kinds of failure look alike at the port and mean different things to people:

- the reader itself is wrong (unplugged, not answering, SAM failed) while nobody is at the
  terminal: that is the maintenance technician's business — it goes to the device supervisor
  (``on_device_fault``) and never to the resident's screen;
- a card was found and then could not be read (pulled away mid-read, bad data, wrong card):
  the resident in front of the terminal is told to try again (``on_read_failed``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from drivers.errors import DeviceDisconnected, DriverError
from drivers.pcsc_common import NoCardError
from kiosk.errors import KioskError

log = logging.getLogger(__name__)

CARD_POLL_S = 0.02  # how often the ID reader is asked for a card, in seconds
PCSC_WAIT_S = 0.5  # how long one PC/SC wait for a card lasts, in seconds
REMOVED_POLL_S = 0.1  # how often a read card is checked for being taken away, in seconds
FAULT_RETRY_S = 0.5  # pause after a reader fault before asking again, in seconds


@dataclass
class CardLoopCallbacks:
    """Where a card loop's results go (each called on the loop's own thread)."""

    on_reading: Callable[[str, Any], None]  # (reader name, reading)
    on_read_failed: Callable[[str, DriverError], None]  # a card was there and could not be read
    on_device_fault: Callable[[str, DriverError], None]  # the reader itself is wrong
    on_device_ok: Callable[[str], None]  # the reader answered normally


def _poll_serial_reader(reader: Any) -> Any:
    """One look at an ID-card reader: the reading, or None. Device faults raise from find_card."""
    if not reader.find_card():
        return None
    try:
        return reader.read_card()
    except NoCardError:  # taken away between find and read: nothing to tell anyone
        return None
    except DriverError as exc:
        raise CardReadFailed(exc) from exc


def _poll_pcsc_reader(reader: Any) -> Any:
    """One wait on a PC/SC reader: the reading or None; a reader or service fault raises as is, a failed card
    read as CardReadFailed."""
    try:
        return reader.read_once(PCSC_WAIT_S)
    except NoCardError:
        return None
    except DeviceDisconnected:
        raise
    except DriverError as exc:  # the card was there: removed mid-read, bad data, wrong card
        raise CardReadFailed(exc) from exc


class CardReadFailed(KioskError):
    """A card was on the reader and could not be read (wraps the driver's error)."""

    def __init__(self, error: DriverError) -> None:
        super().__init__(str(error))
        self.error = error


POLLERS: dict[str, Callable[[Any], Any]] = {
    "idcard": _poll_serial_reader,
    "sscard": _poll_pcsc_reader,
    "ccard": _poll_pcsc_reader,
}


def card_present(name: str, reader: Any) -> bool:
    """Is the card still on the reader?"""
    return bool(reader.find_card() if name == "idcard" else reader.card_present())


class CardLoop:
    """One reader's loop on its own thread until ``stop`` is set."""

    def __init__(self, name: str, reader: Any, callbacks: CardLoopCallbacks, stop: threading.Event,
                 poll: Callable[[Any], Any] | None = None) -> None:
        self.name = name
        self.reader = reader
        self.cb = callbacks
        self.stop = stop
        self.poll = poll or POLLERS[name]

    def run(self) -> None:
        """Look for a card; read it once; wait until it is taken away before reading again."""
        while not self.stop.is_set():
            try:
                reading = self.poll(self.reader)
            except CardReadFailed as failed:
                self.cb.on_device_ok(self.name)  # the reader answered: it is the card that failed
                self.cb.on_read_failed(self.name, failed.error)
                self._wait_removed()
                continue
            except DriverError as exc:
                self.cb.on_device_fault(self.name, exc)
                self.stop.wait(FAULT_RETRY_S)
                continue
            except Exception as exc:  # a driver bug must not end the loop: log, count as a fault, go on
                log.exception("%s: card loop", self.name)
                self.cb.on_device_fault(self.name, DriverError(f"{type(exc).__name__}: {exc}", device=self.name))
                self.stop.wait(FAULT_RETRY_S)
                continue
            self.cb.on_device_ok(self.name)
            if reading is None:
                if self.name == "idcard":
                    self.stop.wait(CARD_POLL_S)
                continue
            self.cb.on_reading(self.name, reading)
            self._wait_removed()

    def _wait_removed(self) -> None:
        while not self.stop.is_set():
            try:
                if not card_present(self.name, self.reader):
                    return
            except DriverError:
                return
            self.stop.wait(REMOVED_POLL_S)
