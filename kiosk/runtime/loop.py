"""The event loop of a terminal: one thread owns the flow, workers do the slow I/O, every failure is seen.

    runtime = TerminalRuntime("hall", flow)
    runtime.on(Show, window_show)                  # runs on the loop thread
    runtime.on_io(PrintTicket, print_ticket)       # runs on the pool; its returned event is fed back
    runtime.start()
    runtime.submit(Identified(...))                # from any thread

An effect handler returns ``None``, an event, or a list of events, which are fed back to the
flow in order.  A handler that raises, a worker whose future fails, an effect nobody
registered: each becomes a :class:`~kiosk.runtime.events.Failed` event, so the flow ends on its
worded "please ask staff" screen instead of waiting for ever.  The flow's own deadlines
(fed by :class:`~kiosk.runtime.events.Tick`) cover silence: an answer that never comes.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from kiosk.runtime.events import Failed, Flow, Tick

log = logging.getLogger(__name__)

TICK_S = 0.2  # how often time is fed to the flow, in seconds
WORKERS = 4  # threads for slow effects (devices, network)
ERRORS_KEPT = 200  # recent failures kept for diagnostics

Handler = Callable[[Any], Any]


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class TerminalRuntime:
    """Runs one flow: an event queue drained by one thread, a ticker, and a checked worker pool."""

    def __init__(self, name: str, flow: Flow, *, tick_s: float = TICK_S, workers: int = WORKERS,
                 clock: Callable[[], float] = time.monotonic, executor: Executor | None = None) -> None:
        self.name = name
        self.flow = flow
        self.tick_s = tick_s
        self.clock = clock
        self._handlers: dict[type, tuple[Handler, bool]] = {}
        self._queue: queue.Queue[Any] = queue.Queue()
        self._stop = threading.Event()
        self._pool: Executor = executor or ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"{name}-io")
        self._threads: list[threading.Thread] = []
        self._observers: list[Callable[[Any], None]] = []
        self.errors: list[str] = []  # recent failures, one line each (diagnostics, tests)
        self._ticked = False

    # -- registry ---------------------------------------------------------------------------
    def on(self, effect_type: type, handler: Handler) -> None:
        """Carry out ``effect_type`` on the loop thread (quick work: screens, speech, small writes)."""
        self._handlers[effect_type] = (handler, False)

    def on_io(self, effect_type: type, handler: Handler) -> None:
        """Carry out ``effect_type`` on the worker pool (devices, network); its result is fed back as events."""
        self._handlers[effect_type] = (handler, True)

    def handles(self, effect_type: type) -> bool:
        """True when a handler is registered for ``effect_type``."""
        return effect_type in self._handlers

    def observe(self, callback: Callable[[Any], None]) -> None:
        """Call ``callback(event)`` on the loop thread for every event before the flow sees it."""
        self._observers.append(callback)

    # -- life cycle -------------------------------------------------------------------------
    def start(self, first_effects: Iterable[Any] = ()) -> TerminalRuntime:
        """Start the loop and the ticker; ``first_effects`` run first (e.g. the idle screen)."""
        self._queue.put(("effects", list(first_effects)))
        self._spawn(self._loop, f"{self.name}-flow")
        self._spawn(self._ticker, f"{self.name}-tick")
        return self

    def stop(self) -> None:
        """Stop the loop, the ticker and the pool (drivers are closed by their owner)."""
        self._stop.set()
        self._queue.put(None)
        for t in self._threads:
            t.join(timeout=3)
        self._pool.shutdown(wait=True, cancel_futures=True)

    @property
    def stopping(self) -> threading.Event:
        """Set once :meth:`stop` was called; loops of the role wait on it."""
        return self._stop

    def spawn(self, target: Callable[[], None], name: str) -> threading.Thread:
        """Start a daemon thread that belongs to this runtime (joined on stop)."""
        return self._spawn(target, f"{self.name}-{name}")

    def _spawn(self, target: Callable[[], None], name: str) -> threading.Thread:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)
        return t

    # -- inputs -----------------------------------------------------------------------------
    def submit(self, event: Any) -> None:
        """Feed an event to the flow (any thread)."""
        self._queue.put(("event", event))

    def call_soon(self, fn: Callable[[], Any]) -> None:
        """Run ``fn()`` on the loop thread (work outside the flow, e.g. a device alert); its failure is logged."""
        self._queue.put(("call", fn))

    # -- the loop ---------------------------------------------------------------------------
    def _ticker(self) -> None:
        while not self._stop.wait(self.tick_s):
            self.submit(Tick(self.clock()))

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None or self._stop.is_set():
                return
            self._process(item)

    def run_pending(self) -> int:
        """Process what is queued, on the caller's thread, until the queue is empty (tests, tools); the count."""
        done = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return done
            if item is None:
                return done
            self._process(item)
            done += 1

    def _process(self, item: tuple[str, Any]) -> None:
        kind, payload = item
        if kind == "call":
            try:
                payload()
            except Exception as exc:
                self._note("call_soon", exc)
        elif kind == "effects":
            self._run(payload)
        else:
            self._feed(payload)

    def _feed(self, event: Any) -> None:
        if not self._ticked:  # the flow knows the time before any other event reaches it
            self._ticked = True
            if not isinstance(event, Tick):
                self._feed(Tick(self.clock()))
        for observer in self._observers:
            try:
                observer(event)
            except Exception as exc:
                self._note("observer", exc)
        if isinstance(event, Failed):
            self._run(self._fail(event.where, event.error))
            return
        try:
            effects = self.flow.handle(event)
        except Exception as exc:  # a bug in the flow must still end on a worded screen
            self._note(f"flow.handle({type(event).__name__})", exc)
            effects = self._fail(type(event).__name__, _one_line(exc))
        self._run(effects)

    def _fail(self, where: str, error: str) -> list[Any]:
        try:
            return self.flow.fail(where, error)
        except Exception as exc:  # the last resort has failed too: log it, nothing else to do
            self._note("flow.fail", exc)
            return []

    def run_effects(self, effects: Iterable[Any]) -> None:
        """Carry out effects now; call only on the loop thread (from :meth:`call_soon` or a handler)."""
        self._run(effects)

    def _run(self, effects: Iterable[Any]) -> None:
        for effect in effects:
            entry = self._handlers.get(type(effect))
            if entry is None:
                error = LookupError(f"no handler registered for {type(effect).__name__}")
                self._note(type(effect).__name__, error)
                self.submit(Failed(type(effect).__name__, str(error)))
                continue
            handler, on_pool = entry
            if on_pool:
                try:
                    future = self._pool.submit(handler, effect)
                except RuntimeError as exc:  # the pool is shut down: the terminal is closing
                    self._note(type(effect).__name__, exc)
                    continue
                name = type(effect).__name__
                future.add_done_callback(lambda f, name=name: self._io_done(name, f))
                continue
            try:
                result = handler(effect)
            except Exception as exc:
                self._note(type(effect).__name__, exc)
                self.submit(Failed(type(effect).__name__, _one_line(exc)))
                continue
            self._feed_back(result)

    def _io_done(self, name: str, future: Future[Any]) -> None:
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            self._note(name, exc)
            self.submit(Failed(name, _one_line(exc)))
            return
        self._feed_back(future.result())

    def _feed_back(self, result: Any) -> None:
        """A handler's answer (None, an event, or a list of events) queued for the flow, in order."""
        events = [] if result is None else list(result) if isinstance(result, list | tuple) else [result]
        for event in events:
            self.submit(event)

    def _note(self, where: str, exc: BaseException) -> None:
        log.error("%s: %s failed", self.name, where, exc_info=exc)
        self.errors.append(f"{where}: {_one_line(exc)}")
        del self.errors[:-ERRORS_KEPT]
