"""Base of the PC/SC card drivers: find the reader, wait for a card, connect, read, count, report health.

A subclass says how to read its card (:meth:`PcscCardReader._read`, given a connected
:class:`~drivers.pcsc_link.CardLink`); this class does the rest the same way for every PC/SC
card: it connects for each read (a fresh connect after pcscd powered an idle card off means
fresh card state, and the subclass always starts with SELECT), holds a PC/SC transaction so
no other program's commands come between ours, reconnects and starts over once when the card
was reset under it, and turns every failure into a :class:`~drivers.pcsc_common.PcscError`.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from drivers.pcsc_common import CardResetError, NoCardError, PcscError, PcscServiceError, ReaderNotFound
from drivers.pcsc_link import CardLink, PcscContext
from drivers.pcsc_watch import CardEvent, CardWatcher

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0  # read_once's default wait for a card, in seconds
READ_RESTARTS = 1  # times a read starts over after the card was reset or powered off under it
HEALTH_LOCK_WAIT_S = 0.1  # health() waits this long for a read in progress, then reports what it knows, s
NO_CARD_RETRY_S = 0.05  # pause in read_once when pcscd saw a card that was gone again at connect, in seconds


class PcscCardReader(ABC, Generic[T]):
    """One PC/SC reader, named by its full name or a unique part of it (as pyscard lists it)."""

    kind = "pcsc"

    def __init__(self, reader: str, timeout_s: float = DEFAULT_TIMEOUT_S, name: str = "pcsc"):
        if not reader:
            raise ValueError("a PC/SC reader name (or part of one) is needed")
        self.reader = reader
        self.timeout_s = timeout_s  # read_once's default wait for a card, seconds
        self.name = name
        self.context = PcscContext(name)
        self._lock = threading.RLock()  # one read at a time; the context is not shared between threads
        self._reader_name: str | None = None
        self._watchers: list[CardWatcher] = []
        self._connected = False  # pcscd reached and the reader found, at the last look
        self.reads = 0  # cards read
        self.detected_at = 0.0  # time.monotonic() pcscd last reported a card arriving
        self.errors = 0  # reads that ended in an error
        self.restarts = 0  # reads started over after a card reset
        self.last_error = ""
        self.last_error_code = 0

    # -- to be provided by the card's driver --------------------------------------------------
    @abstractmethod
    def _read(self, link: CardLink) -> T:
        """Read the card on ``link`` from scratch (SELECT first); raise PcscError subclasses."""

    # -- reading ------------------------------------------------------------------------------
    def reader_name(self) -> str:
        """The reader's full name (looked up once, again after it went missing)."""
        if self._reader_name is None:
            self._reader_name = self.context.find_reader(self.reader)
        return self._reader_name

    def read_card(self) -> T:
        """Read the card on the reader now; :class:`NoCardError` if there is none."""
        with self._lock:
            try:
                return self._read_counted()
            except PcscError as exc:
                self._note(exc)
                raise

    def read_once(self, timeout_s: float | None = None) -> T:
        """Wait up to ``timeout_s`` (default: the constructor's) for a card, then read it."""
        wait_s = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + wait_s
        with self._lock:
            try:
                while True:
                    if not self.context.wait_card(self.reader_name(), True, max(0.0, deadline - time.monotonic())):
                        raise NoCardError(f"no card presented within {wait_s:.1f} s", device=self.name)
                    self.detected_at = time.monotonic()  # the tap as the reader saw it (timing from here)
                    try:
                        return self._read_counted()
                    except NoCardError:
                        if time.monotonic() >= deadline:
                            raise
                        time.sleep(NO_CARD_RETRY_S)  # the card left between pcscd's report and our connect
            except PcscError as exc:
                self._note(exc)
                raise

    def card_present(self) -> bool:
        """True if a card is on the reader now."""
        with self._lock:
            try:
                return self.context.card_present(self.reader_name())
            except ReaderNotFound:
                self._reader_name = None
                raise

    def _read_counted(self) -> T:
        result = self._read_with_restart()
        self._connected = True
        self.reads += 1
        self.last_error, self.last_error_code = "", 0
        return result

    def _read_with_restart(self) -> T:
        link = self.context.connect(self.reader_name())
        try:
            for attempt in range(READ_RESTARTS + 1):
                try:
                    link.begin()
                    try:
                        return self._read(link)
                    finally:
                        link.end()
                except CardResetError:
                    if attempt == READ_RESTARTS:
                        raise
                    self.restarts += 1
                    link.reconnect()
            raise AssertionError("unreachable: the loop returns or raises")
        finally:
            link.close()

    def _note(self, exc: PcscError) -> None:
        exc.device = exc.device or self.name
        self.errors += 1
        self.last_error, self.last_error_code = str(exc), exc.code
        if isinstance(exc, ReaderNotFound | PcscServiceError):
            self._connected = False
            self._reader_name = None  # look it up again next time

    # -- events, state, life cycle ------------------------------------------------------------
    def watch(self, on_event: Callable[[CardEvent], None] | None = None, *, report_present: bool = True) -> CardWatcher:
        """Start a :class:`CardWatcher` reporting card insert/remove on this reader (stopped by :meth:`close`)."""
        watcher = CardWatcher(self.reader, on_event, name=self.name, report_present=report_present).start()
        self._watchers.append(watcher)
        return watcher

    def health(self) -> dict[str, Any]:
        """Connection and error state for status screens and ``linfen doctor``; never raises or blocks long.

        While a read (or ``read_once``'s wait) is in progress the last known state is reported.
        """
        present: bool | None = None
        busy = not self._lock.acquire(timeout=HEALTH_LOCK_WAIT_S)
        if not busy:
            try:
                present = self.context.card_present(self.reader_name())
                self._connected = True
            except PcscError as exc:
                self._connected = False
                self.last_error, self.last_error_code = str(exc), exc.code
                if isinstance(exc, ReaderNotFound):
                    self._reader_name = None
            finally:
                self._lock.release()
        return {
            "device": self.name, "kind": self.kind, "reader": self.reader, "reader_name": self._reader_name,
            "connected": self._connected, "card_present": present, "busy": busy, "last_error": self.last_error,
            "last_error_code": self.last_error_code, "reads": self.reads, "errors": self.errors,
            "restarts": self.restarts, "watching": any(w.running for w in self._watchers),
        }

    def close(self) -> None:
        """Stop watchers and release the PC/SC context (the next read establishes a new one)."""
        for watcher in self._watchers:
            watcher.stop()
        self._watchers.clear()
        with self._lock:
            self.context.release()

    def __enter__(self) -> PcscCardReader[T]:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
