"""A loopback HTTP proxy that misbehaves on purpose: the network between a terminal and the central.

Tests put it between a :class:`sync.client.SyncClient` and a real central and choose, per test,
how often each fault happens (:class:`ChaosConfig`, seeded so a failing run can be replayed):

* ``drop_request``  - close the terminal's connection; the request never reaches the central;
* ``drop_response`` - the central gets and commits the request, the terminal gets no answer
  (the Odoo POS duplicate: a timeout that hid a committed write);
* ``cut_response``  - the terminal gets the status line and part of the answer, then a cut;
* ``duplicate``     - the central gets the request twice (the copy a little later);
* ``reorder``       - the terminal's connection is cut at once and the request is delivered later,
  so the terminal's retry (or another terminal's request) overtakes it;
* ``replay``        - an earlier request is sent to the central again, out of order;
* ``delay``         - a pause (up to ``delay_max_s``) before forwarding or before answering.

One request per connection: the proxy asks the central for ``Connection: close`` and tells the
terminal the same, so every request is a fresh, separately faultable connection.  The upstream can
be changed while running (:attr:`ChaosProxy.upstream`), e.g. after the central is restarted on a
new port.  Counters of what was done are in :attr:`ChaosProxy.stats`, so a test can check that the
faults it asked for really happened.
"""

from __future__ import annotations

import random
import socket
import socketserver
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass

#: Seconds the proxy waits on either side's socket before giving up on a connection.
IO_TIMEOUT_S = 10.0

#: Largest request head or body the proxy accepts (bytes).
MAX_REQUEST_BYTES = 8 * 1024 * 1024

#: Earlier requests kept for ``replay``.
REPLAY_POOL = 64


@dataclass(frozen=True)
class ChaosConfig:
    """Probabilities (0..1) of each fault per request, and the delay bound."""

    drop_request: float = 0.0
    drop_response: float = 0.0
    cut_response: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    replay: float = 0.0
    delay: float = 0.0
    delay_max_s: float = 0.2  # seconds, longest injected pause
    seed: int = 0


class ChaosProxy:
    """The proxy: ``start()`` it, point the client at :attr:`url`, ``stop()`` it."""

    def __init__(self, upstream: tuple[str, int] | None, config: ChaosConfig, host: str = "127.0.0.1") -> None:
        self.upstream = upstream
        self.config = config
        self.stats: Counter[str] = Counter()
        self._rng = random.Random(config.seed)
        self._rng_lock = threading.Lock()
        self._pool: deque[bytes] = deque(maxlen=REPLAY_POOL)
        self._background: list[threading.Thread] = []
        self._stopping = threading.Event()
        proxy = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                proxy._handle(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server((host, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="chaos-proxy", daemon=True)

    @property
    def url(self) -> str:
        """The proxy's base URL."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> ChaosProxy:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, and wait (bounded) for delayed deliveries still in flight."""
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        deadline = time.monotonic() + IO_TIMEOUT_S
        for thread in list(self._background):
            thread.join(max(0.0, deadline - time.monotonic()))

    def set_config(self, config: ChaosConfig) -> None:
        """Change the fault mix (the random stream carries on)."""
        self.config = config

    # -- one connection ----------------------------------------------------------------------

    def _chance(self, p: float) -> bool:
        with self._rng_lock:
            return p > 0 and self._rng.random() < p

    def _pause(self) -> float:
        with self._rng_lock:
            return self._rng.uniform(0.0, self.config.delay_max_s)

    def _handle(self, client: socket.socket) -> None:
        client.settimeout(IO_TIMEOUT_S)
        try:
            raw = _read_request(client)
        except (OSError, ValueError):
            self.stats["bad_request"] += 1
            return
        if raw is None:
            return
        self.stats["requests"] += 1
        cfg = self.config
        if self._chance(cfg.replay) and self._pool:
            with self._rng_lock:
                old = self._rng.choice(list(self._pool))
            self.stats["replay"] += 1
            self._later(old, self._pause())
        self._pool.append(raw)
        if self._chance(cfg.drop_request):
            self.stats["drop_request"] += 1
            return
        if self._chance(cfg.reorder):
            self.stats["reorder"] += 1
            self._later(raw, 0.02 + self._pause())
            return
        if self._chance(cfg.delay):
            self.stats["delay"] += 1
            time.sleep(self._pause())
        if self._chance(cfg.duplicate):
            self.stats["duplicate"] += 1
            self._later(raw, self._pause() / 4)
        answer = self._forward(raw)
        if answer is None:
            self.stats["upstream_down"] += 1
            _send(client, b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            return
        if self._chance(cfg.drop_response):
            self.stats["drop_response"] += 1
            return
        if self._chance(cfg.delay):
            self.stats["delay"] += 1
            time.sleep(self._pause())
        if self._chance(cfg.cut_response) and len(answer) > 1:
            self.stats["cut_response"] += 1
            with self._rng_lock:
                keep = self._rng.randrange(1, len(answer))
            _send(client, answer[:keep])
            return
        self.stats["forwarded"] += 1
        _send(client, answer)

    def _forward(self, raw: bytes) -> bytes | None:
        """Send one request upstream on a fresh connection; the whole answer, or None if it failed."""
        target = self.upstream
        if target is None:
            return None
        try:
            with socket.create_connection(target, timeout=IO_TIMEOUT_S) as up:
                up.sendall(raw)
                chunks = []
                while True:
                    chunk = up.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
        except OSError:
            return None
        answer = b"".join(chunks)
        if b"\r\n\r\n" not in answer:
            return None  # the central died mid-answer: what the terminal sees is a 502
        return _force_close(answer)

    def _later(self, raw: bytes, delay_s: float) -> None:
        """Deliver ``raw`` upstream after ``delay_s`` in the background, ignoring the answer."""

        def run() -> None:
            if not self._stopping.wait(delay_s):
                self._forward(raw)

        thread = threading.Thread(target=run, name="chaos-later", daemon=True)
        self._background = [t for t in self._background if t.is_alive()] + [thread]
        thread.start()


def _read_request(sock: socket.socket) -> bytes | None:
    """One HTTP/1.1 request with a ``Content-Length`` body, rewritten to ``Connection: close``."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
        if len(data) > MAX_REQUEST_BYTES:
            raise ValueError("request head too large")
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    kept = [lines[0]]
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value.strip())
        if lname in (b"connection", b"keep-alive"):
            continue
        kept.append(line)
    if length > MAX_REQUEST_BYTES:
        raise ValueError("request body too large")
    while len(body) < length:
        chunk = sock.recv(min(65536, length - len(body)))
        if not chunk:
            return None
        body += chunk
    kept.append(b"Connection: close")
    return b"\r\n".join(kept) + b"\r\n\r\n" + body[:length]


def _force_close(answer: bytes) -> bytes:
    """The answer with its ``Connection`` header replaced by ``close``."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = [ln for ln in head.split(b"\r\n") if ln.split(b":", 1)[0].strip().lower() != b"connection"]
    return b"\r\n".join([*lines, b"connection: close"]) + b"\r\n\r\n" + body


def _send(sock: socket.socket, data: bytes) -> None:
    try:
        sock.sendall(data)
    except OSError:
        pass
