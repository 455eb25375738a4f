"""Connection limits for the project's uvicorn servers (the hall's LAN service and the central).

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive``, but a fresh
connection that sends nothing, or half a request head, or a head and then half a body, is
kept for ever; a few hundred of those exhaust the process's file descriptors and asyncio
then logs "socket.accept() out of system resource" in a loop.  This module adds, as an
HTTP protocol class given to ``uvicorn.Config(http=...)`` (:class:`LimitedConfig` does it):

* a **header deadline**: a request head must be complete ``header_timeout_s`` after the
  connection opened (or after the first byte of a later request on a kept-alive connection);
  sending it a byte at a time does not extend it;
* a **body deadline**: the body must be complete ``body_timeout_s`` after its head;
* **shedding**: connections that are not being answered (fresh, half-sent, kept alive) are
  at most half the connection budget; past that the oldest fresh or half-sent one is closed
  (kept-alive connections of real clients only when no fresh one is left), so an idle flood
  never takes the descriptors real clients need;
* a **connection budget** below ``RLIMIT_NOFILE`` (``fd_reserve`` descriptors stay free for the
  database, logs and devices): a connection past it is closed at once;
* a **request cap**: past ``max_in_flight`` requests being answered (streams included) a
  request gets ``503`` with a JSON reason and ``Retry-After``.  uvicorn's own
  ``limit_concurrency`` is not used: it counts idle connections too, so an idle flood would
  turn every real request into a 503;
* **quiet logs**: accept errors and malformed-request warnings are logged once per
  ``log_interval_s`` with a count (:class:`RateLimitFilter`), and closed connections are
  summed up in one line per interval.

Why uvicorn and not another server: hypercorn has a read timeout, but the project's threaded
runner, graceful shutdown and multi-worker supervisor are built on uvicorn, and the
per-connection state machine needed here is a small subclass of uvicorn's h11 protocol.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import resource
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

log = logging.getLogger("linfen.http_limits")

#: Descriptors kept free for everything that is not a connection (database, WAL, logs, devices).
FD_RESERVE = 128
#: The smallest connection budget, whatever the descriptor limit says.
MIN_CONNECTIONS = 16
#: How many connections asyncio accepts in one turn of the loop (it is the ``backlog`` given to
#: ``create_server``): uvicorn's 2048 lets a connection flood hold the loop for a long turn while
#: real requests wait.  :class:`LimitedServer` then widens the kernel's queue to LISTEN_BACKLOG.
ACCEPT_BATCH = 128
#: The kernel's accept queue: wide, so a flood never leaves connections half-open outside the server's reach.
LISTEN_BACKLOG = 2048


@dataclass(frozen=True)
class ConnectionLimits:
    """The limits one server applies; every duration in seconds."""

    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_in_flight: int = 256
    max_connections: int | None = None  # None: the descriptor limit less fd_reserve
    fd_reserve: int = FD_RESERVE
    log_interval_s: float = 10.0

    def connection_budget(self) -> int:
        """Most connections held at once: ``max_connections``, never more than RLIMIT_NOFILE less the reserve."""
        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        budget = soft - self.fd_reserve if soft != resource.RLIM_INFINITY else 1 << 20
        if self.max_connections is not None:
            budget = min(budget, self.max_connections)
        return max(MIN_CONNECTIONS, budget)


class LimitedConfig(uvicorn.Config):
    """``uvicorn.Config`` serving HTTP/1.1 with :class:`LimitedH11Protocol` under ``limits``."""

    def __init__(self, app: Any, *, limits: ConnectionLimits | None = None, **kwargs: Any) -> None:
        """Same arguments as ``uvicorn.Config``; ``http`` is fixed, ``limits`` added."""
        kwargs.pop("limit_concurrency", None)
        kwargs.setdefault("backlog", ACCEPT_BATCH)
        super().__init__(app, http=LimitedH11Protocol, **kwargs)
        self.limits = limits or ConnectionLimits()
        install_log_limits(self.limits.log_interval_s)


class LimitedServer(uvicorn.Server):
    """``uvicorn.Server`` whose listening sockets keep a wide kernel queue while the loop accepts in small batches."""

    async def startup(self, sockets: list[Any] | None = None) -> None:
        """uvicorn's start-up, then ``listen(LISTEN_BACKLOG)`` again on each socket (asyncio set ACCEPT_BATCH).

        Over TLS the HTTP protocol only sees a connection once its handshake is done, so a client
        that never starts one would hold its descriptor for asyncio's default 60 s: the handshake
        gets the header deadline instead (uvicorn has no setting for it; ``create_server`` is
        given it for the length of the start-up).
        """
        limits = getattr(self.config, "limits", None)
        loop = asyncio.get_running_loop()
        if limits is not None and self.config.is_ssl:
            loop.create_server = functools.partial(  # type: ignore[method-assign]
                loop.create_server, ssl_handshake_timeout=limits.header_timeout_s)
        try:
            await super().startup(sockets)
        finally:
            loop.__dict__.pop("create_server", None)
        for sock in sockets or ():  # the project always hands uvicorn its own bound sockets
            try:
                sock.listen(LISTEN_BACKLOG)
            except OSError:  # pragma: no cover - a socket that cannot listen again keeps the smaller queue
                pass


@dataclass
class LimitStats:
    """What the limits did on one server (read by tests and benches)."""

    header_timeouts: int = 0
    body_timeouts: int = 0
    shed: int = 0
    refused: int = 0
    busy_503: int = 0


@dataclass
class _Tracker:
    """Per-server bookkeeping, shared by every connection of that server (all on its event loop)."""

    limits: ConnectionLimits
    budget: int
    fresh: OrderedDict[LimitedH11Protocol, None] = field(default_factory=OrderedDict)  # no full request yet
    kept: OrderedDict[LimitedH11Protocol, None] = field(default_factory=OrderedDict)  # kept alive after a response
    in_flight: int = 0
    stats: LimitStats = field(default_factory=LimitStats)
    _reported: LimitStats = field(default_factory=LimitStats)
    _last_report: float = 0.0

    @property
    def idle_cap(self) -> int:
        """Most connections not being answered."""
        return max(MIN_CONNECTIONS // 2, self.budget // 2)

    def waiting(self, proto: LimitedH11Protocol, kept: bool) -> None:
        """``proto`` waits for a request (``kept``: after a response); shed the oldest over the cap."""
        self.forget(proto)
        (self.kept if kept else self.fresh)[proto] = None
        while len(self.fresh) + len(self.kept) > self.idle_cap:
            queue = self.fresh if self.fresh else self.kept
            oldest = next(iter(queue))
            if oldest is proto:
                break
            self.stats.shed += 1
            oldest.close_quietly()
            self.forget(oldest)

    def forget(self, proto: LimitedH11Protocol) -> None:
        """``proto`` is being answered, or gone."""
        self.fresh.pop(proto, None)
        self.kept.pop(proto, None)

    def report(self) -> None:
        """At most one warning per interval summing up the connections the limits closed."""
        now = time.monotonic()
        if now - self._last_report < self.limits.log_interval_s:
            return
        s, r = self.stats, self._reported
        parts = [f"{getattr(s, k) - getattr(r, k)} {words}" for k, words in (
            ("header_timeouts", "sent no full request head in time"), ("body_timeouts", "sent no full body in time"),
            ("shed", "shed while idle"), ("refused", "over the connection budget"), ("busy_503", "answered 503 busy"))
            if getattr(s, k) != getattr(r, k)]
        if parts:
            self._last_report = now
            self._reported = LimitStats(**vars(s))
            log.warning("connection limits: %s (budget %d connections)", ", ".join(parts), self.budget)


_TRACKERS: weakref.WeakKeyDictionary[ServerState, _Tracker] = weakref.WeakKeyDictionary()


def stats_of(server: uvicorn.Server) -> LimitStats:
    """The limit counters of a running server (zeros before its first connection)."""
    tracker = _TRACKERS.get(server.server_state)
    return tracker.stats if tracker is not None else LimitStats()


def _tracker(server_state: ServerState, limits: ConnectionLimits) -> _Tracker:
    tracker = _TRACKERS.get(server_state)
    if tracker is None:
        tracker = _TRACKERS[server_state] = _Tracker(limits, limits.connection_budget())
    return tracker


class _RequestCap:
    """ASGI wrapper: past ``max_in_flight`` requests being answered, answer 503 with a reason.

    A request counts once it has been received whole (see :meth:`LimitedH11Protocol._follow_request`)
    until its response ends: a client dribbling a body holds no place (the body deadline and
    shedding deal with it), a stream holds one for as long as it lasts.
    """

    def __init__(self, app: Any, proto: LimitedH11Protocol) -> None:
        self.app, self.proto = app, proto

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        tracker = self.proto._limits_tracker
        others = tracker.in_flight - (1 if self.proto._counted else 0)
        if scope["type"] == "http" and others >= tracker.limits.max_in_flight:
            tracker.stats.busy_503 += 1
            tracker.report()
            await _send_busy(send, tracker.limits.max_in_flight)
            return
        await self.app(scope, receive, send)


async def _send_busy(send: Any, limit: int) -> None:
    body = json.dumps({"error": "busy", "detail": f"the service is answering its limit of {limit} requests "
                       "at once; try again in a moment", "words_en": "the service is busy; try again in a moment",
                       "words_zh": "服务繁忙，请稍后再试"}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"1"), (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with header and body deadlines, shedding and the request cap (see the module)."""

    def __init__(self, config: uvicorn.Config, server_state: ServerState, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        """As uvicorn's; the limits come from ``config.limits`` (defaults without a :class:`LimitedConfig`)."""
        super().__init__(config, server_state, app_state, _loop)
        limits = getattr(config, "limits", None) or ConnectionLimits()
        self._limits_tracker = _tracker(server_state, limits)
        self.app = _RequestCap(self.app, self)
        self.limit_concurrency = None
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_kind = ""
        self._counted = False  # this connection's request is received whole and counts as in flight

    # -- deadlines --------------------------------------------------------------------------------
    def _arm(self, kind: str) -> None:
        self._disarm()
        limits = self._limits_tracker.limits
        delay = limits.header_timeout_s if kind == "header" else limits.body_timeout_s
        self._deadline_kind = kind
        self._deadline = self.loop.call_later(delay, self._expired, kind)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline, self._deadline_kind = None, ""

    def _expired(self, kind: str) -> None:
        self._deadline = None
        stats = self._limits_tracker.stats
        if kind == "header":
            stats.header_timeouts += 1
        else:
            stats.body_timeouts += 1
        self._limits_tracker.report()
        self.close_quietly()

    def close_quietly(self) -> None:
        """Close this connection now (a timeout, shedding); the app sees a disconnect if it was reading."""
        self._disarm()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _follow_request(self) -> None:
        """Move the deadline and the shedding order along with the peer's request state."""
        state = self.conn.their_state
        if state is h11.IDLE:
            return  # head not complete: the header deadline (if armed) runs on
        if state is h11.SEND_BODY:
            if self._deadline_kind != "body":
                self._arm("body")
            return
        self._disarm()  # the whole request is in: it is being answered
        self._limits_tracker.forget(self)
        if not self._counted:
            self._counted = True
            self._limits_tracker.in_flight += 1

    def _uncount(self) -> None:
        if self._counted:
            self._counted = False
            self._limits_tracker.in_flight -= 1

    # -- uvicorn's protocol interface -------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Count the connection, refuse it past the budget, arm the header deadline."""
        super().connection_made(transport)
        tracker = self._limits_tracker
        self._arm("header")
        tracker.waiting(self, kept=False)
        if len(self.connections) > tracker.budget:
            tracker.stats.refused += 1
            tracker.report()
            self.close_quietly()

    def data_received(self, data: bytes) -> None:
        """A later request's first bytes arm a new header deadline; then uvicorn parses as usual."""
        if self._deadline is None and self.conn.their_state is h11.IDLE:
            self._arm("header")
            self._limits_tracker.waiting(self, kept=False)
        super().data_received(data)
        self._follow_request()

    def on_response_complete(self) -> None:
        """The connection is kept alive (uvicorn's keep-alive timer), or a pipelined request goes on."""
        self._uncount()
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self.conn.their_state is h11.IDLE:
            self._limits_tracker.waiting(self, kept=True)
        else:
            self._follow_request()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection and its deadline."""
        self._disarm()
        self._limits_tracker.forget(self)
        self._uncount()
        super().connection_lost(exc)


class RateLimitFilter(logging.Filter):
    """Let one record starting with one of ``prefixes`` through per ``interval_s``; say how many were dropped.

    The record that passes loses its traceback (one line) and tells the count of the ones
    suppressed since the last one.  Other records pass untouched.
    """

    def __init__(self, prefixes: tuple[str, ...], interval_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``prefixes``: message starts to limit; ``clock``: monotonic seconds."""
        super().__init__()
        self.prefixes, self.interval_s, self._clock = prefixes, interval_s, clock
        self._last: dict[str, float] = {}
        self._dropped: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """True to log ``record`` (rewritten to one line with the count), False to drop it."""
        message = record.getMessage()
        prefix = next((p for p in self.prefixes if message.startswith(p)), None)
        if prefix is None:
            return True
        now = self._clock()
        last = self._last.get(prefix)
        if last is not None and now - last < self.interval_s:
            self._dropped[prefix] = self._dropped.get(prefix, 0) + 1
            return False
        dropped = self._dropped.pop(prefix, 0)
        exc = record.exc_info[1] if record.exc_info else None
        line = message.splitlines()[0] + (f": {exc}" if exc is not None else "")
        since = f"{now - last:.0f} s" if last is not None else "start"
        record.msg = f"{line} ({dropped} more like it since {since}; at most one line per {self.interval_s:g} s)"
        record.args, record.exc_info, record.exc_text, record.stack_info = (), None, None, None
        self._last[prefix] = now
        return True


#: Messages that a hostile client can make a server repeat as fast as it likes.
FLOOD_MESSAGES: dict[str, tuple[str, ...]] = {
    "asyncio": ("socket.accept() out of system resource", "Accept failed on a socket"),
    "uvicorn.error": ("Invalid HTTP request received.", "Exceeded concurrency limit."),
}


def install_log_limits(interval_s: float = 10.0) -> None:
    """Put one :class:`RateLimitFilter` on each logger of :data:`FLOOD_MESSAGES` (idempotent)."""
    for name, prefixes in FLOOD_MESSAGES.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, RateLimitFilter) for f in logger.filters):
            logger.addFilter(RateLimitFilter(prefixes, interval_s))


__all__ = ["ConnectionLimits", "LimitStats", "LimitedConfig", "LimitedH11Protocol", "LimitedServer", "RateLimitFilter",
           "install_log_limits", "stats_of"]
