"""uvicorn under :mod:`common.http_limits`, served from a daemon thread on a socket bound beforehand.

The hall's LAN queue service and the in-process central run this way::

    runner = LimitedThreadedServer(app, sock, "hall-service-8710", limits=ConnectionLimits())
    runner.start()            # returns once uvicorn serves; ServerStartError otherwise
    runner.stats()            # what the limits did (timeouts, shed connections, 503s)
    runner.stop()             # graceful, then forced; closes the socket
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from .http_limits import ConnectionLimits, LimitedConfig, LimitedServer, LimitStats, stats_of


class ServerStartError(RuntimeError):
    """uvicorn did not start serving (the message says why, or that it timed out)."""


class LimitedThreadedServer:
    """One uvicorn server with connection limits on one listening socket, run from a daemon thread."""

    def __init__(self, app: Any, sock: socket.socket, name: str, *, limits: ConnectionLimits | None = None,
                 lifespan: str = "off", graceful_s: float = 2.0, keep_alive_s: float = 30.0) -> None:
        """Serve ``app`` on ``sock`` (already listening) once :meth:`start` is called; the socket is ours now."""
        self.sock = sock
        config = LimitedConfig(app, limits=limits, log_level="warning", access_log=False, lifespan=lifespan,
                               timeout_graceful_shutdown=graceful_s, timeout_keep_alive=keep_alive_s)
        self._server = LimitedServer(config)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._error: BaseException | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        """Start the thread and wait until uvicorn serves; on failure stop and raise ServerStartError."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop(timeout_s)
                raise ServerStartError(str(self._error or "timed out"))
            time.sleep(0.005)

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self.sock])
        except BaseException as exc:  # reported by start(); the thread must not die silently
            self._error = exc

    def stats(self) -> LimitStats:
        """What the connection limits did so far."""
        return stats_of(self._server)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Graceful stop (requests in flight finish), forced after ``timeout_s``; closes the socket."""
        self._server.should_exit = True
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout_s)
        self.sock.close()
