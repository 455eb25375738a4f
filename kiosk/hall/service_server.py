"""Run the hall queue service with uvicorn in a background thread of the ticket machine's process.

    server = HallServer(create_app(queue, secret), host="0.0.0.0", port=8710)
    url = server.start()      # returns once the socket accepts connections
    ...
    server.stop()             # ends the SSE streams, then uvicorn

The listening socket is bound here (port 0 picks a free port, handy in tests), so ``start``
reports a bind failure at once as a :class:`~kiosk.hall.errors.HallError` that names the address.
"""

from __future__ import annotations

import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from .errors import HallError
from .queue import HallQueue
from .service_api import create_app

#: Longest wait for uvicorn to start or stop, in seconds.
START_TIMEOUT_S = 10.0


class HallServer:
    """uvicorn serving one app on one socket from a daemon thread."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve ``app`` on ``host``:``port`` (0: any free port) once :meth:`start` is called."""
        self.app = app
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the running service."""
        if self._sock is None:
            raise HallError("not_started", "the hall service is not running")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> str:
        """Bind, start uvicorn in a thread, wait until it serves; returns the URL."""
        if self._thread is not None:
            return self.url
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted sockets inherit NODELAY: without it uvicorn's body write waits ~40 ms behind its header write.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((self.host, self.port))
            sock.listen(128)
        except OSError as exc:
            sock.close()
            raise HallError("bind_failed", f"cannot listen on {self.host}:{self.port}: {exc}",
                            "排队服务端口被占用") from exc
        self._sock = sock
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=2, timeout_keep_alive=30)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name=f"hall-service-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise HallError("start_failed", f"the hall service did not start on {self.host}:{self.port}: "
                                f"{self._error or 'timed out'}", "排队服务启动失败")
            time.sleep(0.005)
        return self.url

    def _run(self) -> None:
        assert self._server is not None and self._sock is not None
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # reported by start(); the thread must not die silently
            self._error = exc

    def stop(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """End the push streams, stop uvicorn and close the socket (idempotent)."""
        hub = getattr(self.app.state, "hub", None)
        if hub is not None:
            hub.close()
            queue = getattr(self.app.state, "queue", None)
            if queue is not None:
                queue.remove_listener(hub.publish)
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout_s)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(timeout_s)
        if self._sock is not None:
            self._sock.close()
        self._thread = None
        self._server = None
        self._sock = None

    def __enter__(self) -> HallServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_hall(queue: HallQueue, secret: str | bytes, host: str = "127.0.0.1", port: int = 0) -> HallServer:
    """Create the app over ``queue`` and start serving it; the caller stops the returned server."""
    server = HallServer(create_app(queue, secret), host, port)
    server.start()
    return server
