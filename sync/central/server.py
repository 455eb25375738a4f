"""Running the central under uvicorn: in a thread (tests, benches) or as ``linfen central`` (SIGTERM-safe).

In-process, for tests and benches::

    url, stop = start_central("central.db", admin_token="x" * 32)   # port 0: any free port
    ...
    stop()

As a service, :func:`serve` binds the socket itself (``TCP_NODELAY``, so a response body never
waits ~40 ms behind its headers), then runs uvicorn in the main thread.  SIGTERM or SIGINT
starts a graceful shutdown: the socket stops accepting, requests in flight finish (up to
:data:`GRACEFUL_SHUTDOWN_S`), then the database pool closes.  A push is acknowledged only
after its transaction commits, so a stop at any point loses no acknowledged event.

Plain HTTP is allowed only on a loopback address; binding anything else needs ``--tls-cert``
and ``--tls-key``, or an explicit ``--insecure-lan`` (a closed LAN during installation: the
bearer tokens then cross the network in clear).  With ``--workers N`` uvicorn starts N
processes on the one socket; the central keeps no state outside the database, so this scales
on PostgreSQL (on SQLite, writes still queue on the single file lock).

Every way of running it holds connections to :data:`CENTRAL_LIMITS` (:mod:`common.http_limits`):
a request head within 10 s, a body within 30 s, idle connections shed past half the
descriptor budget (``RLIMIT_NOFILE`` less a reserve), 503 ``busy`` past 256 requests at once,
and accept errors logged at most once per 10 s.  One caveat with ``--workers N``: uvicorn's
supervisor builds each worker's server itself, so the workers keep asyncio's 60 s TLS handshake
timeout and a 128-deep accept queue (the single-process central gets the header deadline and a
2048-deep queue from :class:`~common.http_limits.LimitedServer`); the deadlines, shedding and
the request cap apply in every worker.
"""

from __future__ import annotations

import inspect
import ipaddress
import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from common.http_limits import ConnectionLimits, LimitedConfig, LimitedServer
from common.limited_server import LimitedThreadedServer, ServerStartError

from ..threaded_server import listening_socket
from .app import DB_ENV, LOG_LEVEL_ENV, create_app
from .auth import ADMIN_TOKEN_ENV, validate_admin_token
from .errors import CentralError
from .storage import CentralStore
from .timebank.settings import PERSON_KEY_ENV, settings_from
from .timebank.sms import SMS_ENV

log = logging.getLogger("linfen.central.server")

START_TIMEOUT_S = 10.0  # longest wait for the in-process server to start or stop
GRACEFUL_SHUTDOWN_S = 15.0  # how long a stopping central lets requests in flight finish
KEEP_ALIVE_S = 30.0  # idle keep-alive connections are closed after this many seconds
#: Header and body deadlines, idle shedding, the request cap (see common.http_limits).
CENTRAL_LIMITS = ConnectionLimits(header_timeout_s=10.0, body_timeout_s=30.0, max_in_flight=256)


@dataclass(frozen=True)
class ServeOptions:
    """What ``linfen central`` was asked to run."""

    db: str
    host: str = "127.0.0.1"
    port: int = 8720
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure_lan: bool = False
    workers: int = 1
    admin_token: str | None = None
    log_level: str = "info"
    person_key_file: Path | None = None  # the Time Bank keys typed ID numbers with it
    sms: str | None = None  # the Time Bank's SMS gateway: log, log:FILE or http:URL


def parse_bind(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as a pair; CentralError when malformed."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise CentralError("bad_bind", f"--bind {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8720")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(host: str, tls: bool, insecure_lan: bool) -> None:
    """Refuse plain HTTP on a non-loopback address unless ``insecure_lan`` is set."""
    if not tls and not insecure_lan and not is_loopback(host):
        raise CentralError("insecure_bind", f"refusing plain HTTP on {host}: bearer tokens would cross the network "
                           "in clear. Give --tls-cert and --tls-key, bind 127.0.0.1, or pass --insecure-lan to "
                           "accept the risk on a closed network")


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket for the central, inheritable by uvicorn's worker processes; CentralError when taken."""
    try:
        sock = listening_socket(host, port)
    except OSError as exc:
        raise CentralError("bind_failed", f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int, tls: bool) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else (f"[{host}]" if ":" in host else host)
    return f"{'https' if tls else 'http'}://{shown}:{port}"


class CentralServer:
    """uvicorn serving one central app from a daemon thread (tests, benches, embedding)."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        """Serve ``app`` on ``host``:``port`` (0: any free port) once :meth:`start` is called."""
        self.app, self.host, self.port = app, host, port
        self._runner: LimitedThreadedServer | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server."""
        return _url(self.host, self.port, tls=False)

    def start(self, timeout_s: float = START_TIMEOUT_S) -> str:
        """Bind, start uvicorn in a thread and wait until it serves; returns the URL."""
        check_bind(self.host, tls=False, insecure_lan=False)
        sock = bind_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        runner = LimitedThreadedServer(self.app, sock, f"central-{self.port}", limits=CENTRAL_LIMITS, lifespan="on",
                                       graceful_s=GRACEFUL_SHUTDOWN_S, keep_alive_s=KEEP_ALIVE_S)
        try:
            runner.start(timeout_s)
        except ServerStartError as exc:
            raise CentralError("start_failed", f"the central did not start on {self.host}:{self.port}: {exc}") from None
        self._runner = runner
        return self.url

    def stop(self, timeout_s: float = GRACEFUL_SHUTDOWN_S + START_TIMEOUT_S) -> None:
        """Graceful stop: requests in flight finish, then the socket closes (idempotent)."""
        if self._runner is not None:
            self._runner.stop(timeout_s)
        self._runner = None

    def __enter__(self) -> CentralServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_central(db: str | Path, host: str = "127.0.0.1", port: int = 0, admin_token: str | None = None
                  ) -> tuple[str, Callable[[], None]]:
    """Open (and migrate) ``db``, serve the central in a thread; returns ``(url, stop)``.

    ``stop()`` shuts the server down gracefully and closes the database.
    """
    store = CentralStore.open(str(db))
    try:
        server = CentralServer(create_app(store, admin_token=admin_token), host, port)
        url = server.start()
    except BaseException:
        store.close()
        raise

    def stop() -> None:
        server.stop()
        store.close()

    return url, stop


def serve(options: ServeOptions, announce: Callable[[str], None] | None = None) -> int:
    """Run the central in this process until SIGTERM/SIGINT; returns the exit status."""
    tls = options.tls_cert is not None or options.tls_key is not None
    if tls and not (options.tls_cert and options.tls_key):
        raise CentralError("bad_tls", "give both --tls-cert and --tls-key")
    for path in (options.tls_cert, options.tls_key):
        if path is not None and not Path(path).is_file():
            raise CentralError("bad_tls", f"{path}: no such file")
    check_bind(options.host, tls, options.insecure_lan)
    if options.workers < 1:
        raise CentralError("bad_workers", "--workers must be 1 or more")
    admin_token = validate_admin_token(options.admin_token)
    timebank = settings_from(options.person_key_file, options.sms)  # refuse a bad key file before listening
    store = CentralStore.open(options.db)  # migrations run here once, before any worker starts
    try:
        sock = bind_socket(options.host, options.port)
    except BaseException:
        store.close()
        raise
    port = sock.getsockname()[1]
    common = dict(log_level=options.log_level, access_log=False, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
                  timeout_keep_alive=KEEP_ALIVE_S, log_config=None, lifespan="on",
                  ssl_certfile=str(options.tls_cert) if tls else None, ssl_keyfile=str(options.tls_key) if tls else None)
    (announce or _announce)(f"linfen central: listening on {_url(options.host, port, tls)} "
                            f"({store.backend}, {options.workers} worker{'s' if options.workers > 1 else ''})")
    try:
        if options.workers == 1:
            server = LimitedServer(LimitedConfig(create_app(store, admin_token=admin_token, timebank=timebank), limits=CENTRAL_LIMITS,
                                                  **common))
            with _stop_signals_end_quietly():
                server.run(sockets=[sock])
        else:
            store.close()
            _run_workers(options, admin_token, common, sock)
        log.info("central stopped", extra={"event": "stopped"})
        return 0
    finally:
        store.close()
        sock.close()


def _run_workers(options: ServeOptions, admin_token: str | None, common: dict, sock: socket.socket) -> None:
    """uvicorn's supervisor: N processes on one socket, each building the app from the environment."""
    os.environ[DB_ENV] = options.db
    if logging.getLogger("linfen").handlers:  # the parent logs JSON: so do the workers
        os.environ[LOG_LEVEL_ENV] = options.log_level
    if admin_token:
        os.environ[ADMIN_TOKEN_ENV] = admin_token
    if options.person_key_file:
        os.environ[PERSON_KEY_ENV] = str(options.person_key_file)
    if options.sms:
        os.environ[SMS_ENV] = options.sms
    from uvicorn.supervisors import Multiprocess

    config = LimitedConfig("sync.central.app:app_from_env", limits=CENTRAL_LIMITS, factory=True,
                           workers=options.workers, **common)
    if "target" in inspect.signature(Multiprocess).parameters:  # older uvicorn took the worker's target
        Multiprocess(config, target=uvicorn.Server(config).run, sockets=[sock]).run()  # type: ignore[call-arg]
    else:
        Multiprocess(config, sockets=[sock]).run()


@contextmanager
def _stop_signals_end_quietly() -> Iterator[None]:
    """After a graceful stop uvicorn re-raises SIGTERM/SIGINT; let that end :func:`serve` normally (status 0)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _announce(line: str) -> None:
    print(line, flush=True)
    sys.stdout.flush()


__all__ = ["CentralServer", "ServeOptions", "check_bind", "parse_bind", "serve", "start_central"]
