"""Card insert/remove events for one PC/SC reader, from a thread that never blocks for long.

pyscard's ``CardMonitor`` blocks in ``SCardGetStatusChange`` for up to 60 s and cannot be
stopped sooner, which makes it unsafe in tests and in a kiosk that must shut down
promptly.  :class:`CardWatcher` polls with a bounded wait (:data:`~drivers.pcsc_link.STATE_POLL_MS`)
on its own PC/SC context, wakes early through ``SCardCancel`` when stopped, survives pcscd
restarts and readers coming and going (with a retry pause), and uses pcsc-lite's event
counter (the upper 16 bits of the reader state) to see a card swapped between two polls.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smartcard import scard

from drivers.pcsc_common import PcscError
from drivers.pcsc_link import STATE_POLL_MS, PcscContext

log = logging.getLogger(__name__)

RETRY_S = 0.5  # pause before trying again when pcscd or the reader is missing, in seconds
STOP_TIMEOUT_S = 2.0  # longest wait for the watcher thread to end, in seconds
EVENT_QUEUE_SIZE = 64  # events kept for get(); the oldest is dropped when full

INSERTED = "inserted"
REMOVED = "removed"


@dataclass(frozen=True)
class CardEvent:
    """A card arrived on a reader or left it."""

    kind: str  # "inserted" or "removed"
    reader: str  # the reader's full name
    atr: bytes = b""  # the card's ATR (inserted only)
    at: float = 0.0  # time.monotonic() when the watcher saw it

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable view."""
        return {"kind": self.kind, "reader": self.reader, "atr": self.atr.hex(" ").upper()}


class CardWatcher:
    """Reports card insert/remove on one reader to a callback and to a queue (:meth:`get`).

    ``reader`` is a full reader name or a unique part of one.  With ``report_present`` a card
    already on the reader when watching starts is reported as inserted.
    """

    def __init__(self, reader: str, on_event: Callable[[CardEvent], None] | None = None, *,
                 name: str = "pcsc", report_present: bool = True, poll_ms: int = STATE_POLL_MS):
        self.reader = reader
        self.on_event = on_event
        self.name = name
        self.report_present = report_present
        self.poll_ms = poll_ms  # longest single wait in SCardGetStatusChange, milliseconds
        self.last_error = ""
        self.present = False
        self.events_seen = 0
        self._events: queue.Queue[CardEvent] = queue.Queue(EVENT_QUEUE_SIZE)
        self._stop = threading.Event()
        self._context = PcscContext(name)
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while the watcher thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> CardWatcher:
        """Start watching (idempotent)."""
        if not self.running:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"pcsc-watch-{self.name}", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Stop watching and wait (at most ``timeout_s``) for the thread to end."""
        self._stop.set()
        self._context.cancel()  # wakes SCardGetStatusChange at once
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout_s)
            if thread.is_alive():
                log.warning("%s: card watcher did not stop within %.1f s", self.name, timeout_s)
        self._thread = None

    close = stop

    def __enter__(self) -> CardWatcher:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def get(self, timeout_s: float) -> CardEvent | None:
        """The next event, waiting at most ``timeout_s`` seconds; None if none came."""
        try:
            return self._events.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            return None

    def health(self) -> dict[str, Any]:
        """State for status screens."""
        return {"reader": self.reader, "running": self.running, "present": self.present,
                "events": self.events_seen, "last_error": self.last_error}

    # -- the thread -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._watch(self._context.find_reader(self.reader))
                except PcscError as exc:
                    self.last_error = str(exc)
                    if self.present:
                        self._emit(REMOVED, self.reader)
                    self._context.release()
                    self._stop.wait(RETRY_S)
        finally:
            self._context.release()

    def _watch(self, reader: str) -> None:
        """Follow one reader until stopped (returns) or it or pcscd fails (raises)."""
        known = scard.SCARD_STATE_UNAWARE
        counter: int | None = None
        first = True
        while not self._stop.is_set():
            state, atr = self._context.state(reader, known, 0 if first else self.poll_ms)
            if not first and state == known:
                continue  # timeout or cancel: nothing changed
            self.last_error = ""
            now_present = bool(state & scard.SCARD_STATE_PRESENT)
            now_counter = (state >> 16) & 0xFFFF
            if first:
                if now_present and self.report_present:
                    self._emit(INSERTED, reader, atr)
            elif now_present and self.present and counter is not None and (now_counter - counter) & 0xFFFF >= 2:
                self._emit(REMOVED, reader)  # swapped between two polls
                self._emit(INSERTED, reader, atr)
            elif now_present != self.present:
                self._emit(INSERTED if now_present else REMOVED, reader, atr if now_present else b"")
            self.present = now_present
            counter = now_counter
            known = state & ~scard.SCARD_STATE_CHANGED
            first = False

    def _emit(self, kind: str, reader: str, atr: bytes = b"") -> None:
        self.present = kind == INSERTED
        event = CardEvent(kind, reader, atr, time.monotonic())
        self.events_seen += 1
        if self._events.full():
            try:
                self._events.get_nowait()
            except queue.Empty:
                pass
        self._events.put_nowait(event)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:  # a faulty listener must not stop the watcher
                log.exception("%s: card event listener failed on %s", self.name, event)
