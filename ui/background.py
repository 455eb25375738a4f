"""Run slow work (device probes, I/O) off the GUI thread; results come back on the GUI thread.

One helper, one place where errors land (Anki's ``QueryOp`` habit).  Never touch a
widget from ``fn``: it runs on a pool thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ui.qt import QObject, QRunnable, QThreadPool, Signal, Slot

log = logging.getLogger(__name__)
_in_flight: set[_Relay] = set()  # keeps each relay alive until its answer is delivered


class _Relay(QObject):
    """Lives on the GUI thread; signals emitted from a pool thread are queued to it."""

    succeeded = Signal(object)
    failed = Signal(object)

    def __init__(self, on_success: Callable[[Any], None], on_failure: Callable[[BaseException], None]):
        super().__init__()
        self._on_success = on_success
        self._on_failure = on_failure
        self.succeeded.connect(self._success)
        self.failed.connect(self._failure)

    @Slot(object)
    def _success(self, value: Any) -> None:
        _in_flight.discard(self)
        self._on_success(value)

    @Slot(object)
    def _failure(self, exc: BaseException) -> None:
        _in_flight.discard(self)
        self._on_failure(exc)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay):
        super().__init__()
        self._fn = fn
        self._relay = relay

    def run(self) -> None:
        try:
            value = self._fn()
        except Exception as exc:  # every failure is delivered, never lost on the pool thread
            log.exception("background task failed")
            self._emit(self._relay.failed, exc)
        else:
            self._emit(self._relay.succeeded, value)

    @staticmethod
    def _emit(signal: Any, value: Any) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the window closed while the task ran: nobody is left to tell
            log.debug("background result dropped: its receiver is gone")


def _log_failure(exc: BaseException) -> None:
    log.error("background task failed: %s", exc)


def run_in_background(
    fn: Callable[[], Any],
    on_success: Callable[[Any], None],
    on_failure: Callable[[BaseException], None] = _log_failure,
) -> None:
    """Run ``fn()`` on Qt's thread pool; call ``on_success(result)`` or ``on_failure(exc)`` on the GUI thread."""
    relay = _Relay(on_success, on_failure)
    _in_flight.add(relay)
    QThreadPool.globalInstance().start(_Task(fn, relay))
