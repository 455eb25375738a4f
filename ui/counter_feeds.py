"""Bridges from the counter's background threads to its window: staff-card taps and the hall's alert feed.

Both run off the GUI thread and only emit Qt signals (queued to the window's thread); the
window never blocks on a card or on the network.  The card reader itself is the kiosk's
(:mod:`kiosk.counter_login`): ``ui/`` never opens a port.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kiosk.config import TerminalConfig
from kiosk.counter_login import StaffCardReader
from kiosk.hall.client import HallAuthRefused, HallClient, HallStaffRefused
from ui.qt import QObject, Signal

log = logging.getLogger(__name__)

RETRY_S = 1.0  # pause before the alert feed reconnects after an unexpected failure, in seconds


class CardBridge(QObject):
    """Runs the kiosk's staff-card reader and turns its callbacks into signals."""

    card = Signal(str)  # the UID of a tapped staff card
    problem = Signal(str, str, str)  # kind ("card" / "reader"), words zh, words en
    ready = Signal()  # the reader answers again

    def __init__(self, config: TerminalConfig, driver: Any = None) -> None:
        super().__init__()
        self.reader = StaffCardReader(config, on_card=lambda uid: self._emit(self.card, uid),
                                      on_problem=lambda k, zh, en: self._emit(self.problem, k, zh, en),
                                      on_ready=lambda: self._emit(self.ready), driver=driver)

    def _emit(self, signal: Any, *args: Any) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the window is gone
            self.reader.stop()

    def start(self) -> None:
        """Start reading cards."""
        self.reader.start()

    def stop(self) -> None:
        """Stop reading and close the reader."""
        self.reader.stop()


class AlertFeed(QObject):
    """Follows the hall's open alerts for the clerk logged in at one window, on a thread of its own."""

    alerts = Signal(object)  # list[AlertNotice]: everything open, after each change
    link = Signal(bool)  # the feed is connected / lost (it retries on its own)
    ended = Signal(object)  # the HallStaffRefused that ended the session's feed

    def __init__(self, client: HallClient, window: int) -> None:
        super().__init__()
        self.client = client
        self.window = window
        self.stop_event = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"counter-{window}-alerts", daemon=True)

    def start(self) -> None:
        """Start following."""
        self._thread.start()

    def stop(self) -> None:
        """Stop following (the thread ends at its next event, keep-alive or retry)."""
        self.stop_event.set()

    def _emit(self, signal: Any, value: Any) -> bool:
        try:
            signal.emit(value)
            return True
        except RuntimeError:
            self.stop_event.set()
            return False

    def _run(self) -> None:
        while not self.stop_event.is_set():
            try:
                for item in self.client.alert_events(self.window, self.stop_event, read_timeout_s=30.0):
                    if isinstance(item, list):
                        ok = self._emit(self.link, True) and self._emit(self.alerts, list(item))
                    else:
                        ok = self._emit(self.link, False)
                    if not ok or self.stop_event.is_set():
                        return
            except (HallStaffRefused, HallAuthRefused) as exc:  # retrying cannot help: the window says why
                self._emit(self.ended, exc)
                return
            except Exception as exc:  # a bug or an odd answer must not end the feed for good
                log.warning("counter %s alert feed: %s", self.window, exc)
                if not self._emit(self.link, False):
                    return
            if self.stop_event.wait(RETRY_S):
                return
