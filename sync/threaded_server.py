"""uvicorn serving one app from a daemon thread, on a socket bound beforehand.

Both the hall's LAN queue service and the in-process central (tests, benches, the demo) run
this way.  Binding the socket first means a busy port is reported at once, and port 0 picks a
free port that is known before uvicorn starts::

    sock = listening_socket("127.0.0.1", 0)
    runner = ThreadedServer(app, sock, name="central")
    runner.start()            # returns once uvicorn serves; ServerStartError otherwise
    ...
    runner.stop()             # graceful, then forced; closes the socket
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from fastapi import FastAPI


class ServerStartError(RuntimeError):
    """uvicorn did not start serving (the message says why, or that it timed out)."""


def listening_socket(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A bound, listening TCP socket with ``TCP_NODELAY`` (OSError when the address is taken or bad).

    Accepted connections inherit ``TCP_NODELAY``: without it a response body waits ~40 ms
    behind its headers.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


class ThreadedServer:
    """One uvicorn server on one listening socket, run from a daemon thread."""

    def __init__(self, app: FastAPI, sock: socket.socket, name: str, *, lifespan: str = "off",
                 graceful_s: float = 2.0, keep_alive_s: float = 30.0) -> None:
        """Serve ``app`` on ``sock`` (already listening) once :meth:`start` is called; the socket is ours now."""
        self.sock = sock
        self.graceful_s = graceful_s
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan=lifespan,
                                timeout_graceful_shutdown=graceful_s, timeout_keep_alive=keep_alive_s)
        self._server = uvicorn.Server(config)
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

    def stop(self, timeout_s: float = 10.0) -> None:
        """Graceful stop (requests in flight finish), forced after ``timeout_s``; closes the socket."""
        self._server.should_exit = True
        if self._thread.ident is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(timeout_s)
        self.sock.close()
