"""Run the hall queue service with uvicorn in a background thread of the ticket machine's process.

    server = HallServer(create_app(queue, secret), host="0.0.0.0", port=8710)
    url = server.start()      # returns once the socket accepts connections
    ...
    server.stop()             # ends the SSE streams, then uvicorn

The listening socket is bound here (port 0 picks a free port, handy in tests), so ``start``
reports a bind failure at once as a :class:`~kiosk.hall.errors.HallError` that names the address.

Connections are held to :data:`HALL_LIMITS` (:mod:`common.http_limits`): a connection must send
its request head within 5 s and its body within 10 s, idle connections are shed past half the
descriptor budget, and past 64 requests at once a request gets 503 ``busy``.  A LAN client that
sends nothing cannot keep counters and displays from being served.
"""

from __future__ import annotations

from fastapi import FastAPI

from common.http_limits import ConnectionLimits, LimitStats
from common.limited_server import LimitedThreadedServer, ServerStartError
from kiosk.config_checks import PUBLISHED_SECRETS, SECRET_HINT, is_loopback
from sync.threaded_server import listening_socket

from .alerts import AlertBoard
from .errors import HallError
from .queue import HallQueue
from .service_api import create_app
from .staff import StaffRegistry
from .topups import HallTopups

#: Longest wait for uvicorn to start or stop, in seconds.
START_TIMEOUT_S = 10.0
#: The hall service's connection limits (a hall has tens of counters and displays, each with a stream or two).
HALL_LIMITS = ConnectionLimits(header_timeout_s=5.0, body_timeout_s=10.0, max_in_flight=64)


class HallServer:
    """uvicorn serving one app on one socket from a daemon thread."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0,
                 limits: ConnectionLimits = HALL_LIMITS) -> None:
        """Serve ``app`` on ``host``:``port`` (0: any free port) under ``limits`` once :meth:`start` is called."""
        self.app = app
        self.host = host
        self.port = port
        self.limits = limits
        self._runner: LimitedThreadedServer | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the running service."""
        if self._runner is None:
            raise HallError("not_started", "the hall service is not running")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout_s: float = START_TIMEOUT_S) -> str:
        """Bind, start uvicorn in a thread, wait until it serves; returns the URL."""
        if self._runner is not None:
            return self.url
        try:
            sock = listening_socket(self.host, self.port, backlog=128)
        except OSError as exc:
            raise HallError("bind_failed", f"cannot listen on {self.host}:{self.port}: {exc}",
                            "排队服务端口被占用") from exc
        self.port = sock.getsockname()[1]
        runner = LimitedThreadedServer(self.app, sock, f"hall-service-{self.port}", limits=self.limits,
                                       lifespan="off", graceful_s=2, keep_alive_s=30)
        try:
            runner.start(timeout_s)
        except ServerStartError as exc:
            raise HallError("start_failed", f"the hall service did not start on {self.host}:{self.port}: {exc}",
                            "排队服务启动失败") from None
        self._runner = runner
        return self.url

    def stats(self) -> LimitStats:
        """What the connection limits did so far (timeouts, shed connections, 503s)."""
        return self._runner.stats() if self._runner is not None else LimitStats()

    def stop(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """End the push streams, stop uvicorn and close the socket (idempotent)."""
        for cleanup in getattr(self.app.state, "on_stop", ()):
            cleanup()  # the counters' alert streams end; the alert board forgets this app
        hub = getattr(self.app.state, "hub", None)
        if hub is not None:
            hub.close()
            queue = getattr(self.app.state, "queue", None)
            if queue is not None:
                queue.remove_listener(hub.publish)
        if self._runner is not None:
            self._runner.stop(timeout_s)
        self._runner = None

    def __enter__(self) -> HallServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_hall(queue: HallQueue, secret: str | bytes, host: str = "127.0.0.1", port: int = 0, *,
               staff: StaffRegistry | None = None, alerts: AlertBoard | None = None,
               topups: HallTopups | None = None) -> HallServer:
    """Create the app over ``queue`` (counters log in against ``staff``, see ``alerts``, take ``topups``) and serve it.

    The caller stops the returned server.  The secret published with the example configs is
    refused on any address but loopback (it is no secret).
    """
    text = secret.decode("utf-8", "replace") if isinstance(secret, bytes) else secret
    if text in PUBLISHED_SECRETS and not is_loopback(host):
        raise HallError("published_secret", f"refusing to serve on {host}: [lan] secret is the one published with "
                        f"the example configs; {SECRET_HINT}", "大厅共享密钥仍是示例值，请更换")
    server = HallServer(create_app(queue, secret, staff=staff, alerts=alerts, topups=topups), host, port)
    server.start()
    return server
