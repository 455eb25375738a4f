"""Issue 10, finding 1, piece by piece on an in-process hall service with small limits (common.http_limits).

A connection that sends nothing, a header dribbled a line at a time, a body that stops half way:
each is closed at its deadline.  Idle connections past half the budget are shed oldest first
while a signed request still gets through; past the request cap a request gets 503 ``busy``;
accept errors are logged once per interval with a count.  The full flood under
``ulimit -n 1024`` is tests/test_slowloris.py.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from common.http_limits import ConnectionLimits, RateLimitFilter, install_log_limits
from kiosk.hall import HALL_MIGRATIONS, CallingRule, HallQueue, ServiceCatalog
from kiosk.hall.auth import sign_headers
from kiosk.hall.service_api import create_app
from kiosk.hall.service_server import HallServer
from kiosk.store import Store

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

SECRET = b"hostile-conn-hall-secret-Q8w2e"
LIMITS = ConnectionLimits(header_timeout_s=0.5, body_timeout_s=1.0, max_in_flight=1, max_connections=40)
SLACK_S = 1.5


@pytest.fixture
def server(tmp_path: Path) -> Iterator[HallServer]:
    store = Store.open(tmp_path / "hall.db", "hall-01", extra_migrations=(HALL_MIGRATIONS,))
    queue = HallQueue(store, ServiceCatalog.from_data([{"code": "A", "name_zh": "综合", "name_en": "General"}]),
                      CallingRule("strict"))
    srv = HallServer(create_app(queue, SECRET, keepalive_s=0.2), limits=LIMITS)
    srv.start()
    yield srv
    srv.stop()
    store.close()


def _connect(server: HallServer, first: bytes = b"") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    if first:
        sock.sendall(first)
    return sock


def _closed_by_server(sock: socket.socket, within_s: float, dribble: bytes = b"") -> float:
    """Seconds until the server closed ``sock`` (EOF or reset), sending ``dribble`` every 0.1 s meanwhile."""
    start = time.monotonic()
    sock.settimeout(0.1)
    while time.monotonic() - start < within_s:
        try:
            data = sock.recv(4096)
            if not data:
                return time.monotonic() - start
        except TimeoutError:
            if dribble:
                try:
                    sock.sendall(dribble)
                except OSError:
                    return time.monotonic() - start
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic() - start
    raise AssertionError(f"still open after {within_s} s")


def _health(server: HallServer) -> httpx.Response:
    request = httpx.Request("GET", server.url + "/v1/health")
    request.headers.update(sign_headers(SECRET, "GET", request.url.raw_path, b""))
    with httpx.Client(timeout=5) as client:
        return client.send(request)


def test_a_silent_connection_is_closed_at_the_header_deadline(server: HallServer):
    assert _closed_by_server(_connect(server), LIMITS.header_timeout_s + SLACK_S) >= LIMITS.header_timeout_s * 0.8
    assert server.stats().header_timeouts >= 1


def test_dribbling_header_lines_does_not_extend_the_deadline(server: HallServer):
    sock = _connect(server, b"GET /v1/health HTTP/1.1\r\nHost: x\r\n")
    _closed_by_server(sock, LIMITS.header_timeout_s + SLACK_S, dribble=b"X-a: b\r\n")


def test_a_body_that_stops_half_way_is_closed_at_the_body_deadline(server: HallServer):
    sock = _connect(server, b"POST /v1/counters/1/next HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            b"Content-Length: 500\r\n\r\n{\"se")
    _closed_by_server(sock, LIMITS.header_timeout_s + LIMITS.body_timeout_s + SLACK_S, dribble=b"s")
    assert server.stats().body_timeouts >= 1


def test_idle_connections_past_half_the_budget_are_shed_oldest_first(server: HallServer):
    socks = [_connect(server) for _ in range(30)]
    assert _health(server).status_code == 200, "a signed request gets through the idle crowd"
    _closed_by_server(socks[0], 0.4)  # the oldest went first, well before its header deadline
    assert server.stats().shed >= 10
    for sock in socks:
        sock.close()


def test_past_the_request_cap_a_request_gets_a_clear_503(server: HallServer):
    target = "/v1/display/events"
    headers = sign_headers(SECRET, "GET", target.encode(), b"")
    stream = _connect(server, (f"GET {target} HTTP/1.1\r\nHost: x\r\n" +
                               "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode())
    stream.settimeout(5)
    assert b"200 OK" in stream.recv(4096)  # the stream holds the one place
    busy = _health(server)
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert busy.json()["error"] == "busy" and "limit of 1 requests" in busy.json()["detail"]
    stream.close()
    deadline = time.monotonic() + 5
    while _health(server).status_code != 200:
        assert time.monotonic() < deadline, "the place is given back when the stream ends"
        time.sleep(0.05)
    assert server.stats().busy_503 >= 1


def test_accept_errors_are_logged_once_per_interval_with_a_count(caplog: pytest.LogCaptureFixture):
    """asyncio's own exception handler, as it runs when accept() meets EMFILE."""
    install_log_limits()
    loop = asyncio.new_event_loop()
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            for _ in range(5000):
                loop.call_exception_handler({"message": "socket.accept() out of system resource",
                                             "exception": OSError(24, "Too many open files")})
    finally:
        loop.close()
    lines = [r for r in caplog.records if r.name == "asyncio"]
    assert 1 <= len(lines) <= 2
    assert "Too many open files" in lines[0].getMessage() and lines[0].exc_info is None


def test_the_filter_counts_what_it_dropped():
    now = [0.0]
    limit = RateLimitFilter(("socket.accept()",), 10.0, clock=lambda: now[0])
    record = lambda: logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "socket.accept() x", (), None)  # noqa: E731
    assert limit.filter(record()) and not limit.filter(record()) and not limit.filter(record())
    now[0] = 11.0
    passed = record()
    assert limit.filter(passed) and "(2 more like it since 11 s" in passed.getMessage()
    other = logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "something else", (), None)
    assert limit.filter(other) and limit.filter(other)
