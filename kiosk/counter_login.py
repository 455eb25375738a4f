"""The counter's staff-card reader: a clerk taps the staff card, the console learns the card's UID.

The UI never opens a port (DESIGN §2): the counter console asks this module, which opens the
configured ``[devices.ccard]`` reader through :func:`kiosk.devices.open_driver` and runs the
shared card loop (:class:`kiosk.runtime.readers.CardLoop`: one read per tap, then wait until the
card is taken away) on its own thread.  Results go to plain callbacks, called on that thread:

    on_card(uid)                 a card was read (upper-case hex UID, sent once to the hall's login)
    on_problem(kind, zh, en)     kind "card": the card could not be read (tap again);
                                 kind "reader": the reader itself is wrong (call the administrator)
    on_ready()                   the reader answers again after a problem

The UID is never written anywhere by this module.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kiosk.config import TerminalConfig
from kiosk.devices import close_driver, open_driver
from kiosk.runtime.readers import CardLoop, CardLoopCallbacks

log = logging.getLogger(__name__)

#: Words of the two kinds of problem (``{error}``: the driver's one line).
CARD_FAILED = ("读卡失败，请把工作证放稳后重新刷卡", "The card could not be read: hold it still on the reader and tap again")
READER_FAULT = ("工作证读卡器无法使用（{error}），请联系管理员",
                "The staff-card reader does not work ({error}): please call the administrator")
STOP_TIMEOUT_S = 2.0  # longest wait for the loop thread to end, in seconds


def has_staff_card_reader(config: TerminalConfig) -> bool:
    """True when the config names a staff-card reader (``[devices.ccard]``): without one nobody can log in."""
    return config.devices.ccard is not None


class StaffCardReader:
    """The counter's ``[devices.ccard]`` reader, read on a thread of its own until :meth:`stop`."""

    def __init__(self, config: TerminalConfig, on_card: Callable[[str], None],
                 on_problem: Callable[[str, str, str], None] = lambda k, zh, en: None,
                 on_ready: Callable[[], None] = lambda: None, driver: Any = None) -> None:
        """Open nothing yet; ``driver``: an already opened ccard driver (default: from the config)."""
        if driver is None and not has_staff_card_reader(config):
            raise ValueError("devices.ccard: this counter has no staff-card reader configured")
        self._config = config
        self._driver = driver
        self._on_card = on_card
        self._on_problem = on_problem
        self._on_ready = on_ready
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._faulty = False

    def start(self) -> StaffCardReader:
        """Open the reader and start reading (idempotent)."""
        if self._thread is not None:
            return self
        if self._driver is None:
            self._driver = open_driver("ccard", self._config.devices.ccard)
        callbacks = CardLoopCallbacks(on_reading=self._reading, on_read_failed=self._read_failed,
                                      on_device_fault=self._fault, on_device_ok=self._ok)
        loop = CardLoop("ccard", self._driver, callbacks, self._stop)
        self._thread = threading.Thread(target=loop.run, name="counter-staff-card", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop reading and close the reader (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
        if self._driver is not None:
            try:
                close_driver(self._driver)
            except Exception:  # closing must not fail the window's close
                log.exception("closing the staff-card reader")
            self._driver = None

    @property
    def running(self) -> bool:
        """True while the loop thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def _reading(self, _name: str, tap: Any) -> None:
        self._on_card(str(tap.uid))

    def _read_failed(self, _name: str, _error: Exception) -> None:
        self._on_problem("card", *CARD_FAILED)

    def _fault(self, _name: str, error: Exception) -> None:
        if not self._faulty:  # said once per fault, not at every retry
            self._faulty = True
            line = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
            self._on_problem("reader", READER_FAULT[0].format(error=line), READER_FAULT[1].format(error=line))

    def _ok(self, _name: str) -> None:
        if self._faulty:
            self._faulty = False
            self._on_ready()
