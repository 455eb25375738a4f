"""The simulated city code service: a real HTTP server on loopback that answers code-status lookups.

The hall terminal asks it exactly as it would ask the city's service (see
``kiosk/codes/city_service.py`` for the client side):

- ``POST /v1/code-status`` ``{"id_number": "..."}`` → ``{"colour": "green", "as_of": <Unix s>}``;
  404 for a person it does not know, 400 for a bad request, 413 for an oversized one.
- ``POST /v1/code-token`` ``{"id_number": "..."}`` → ``{"token": "LFHC1...."}``, a signed QR token
  (:data:`hardware_sim.code_tokens.SIM_ISSUER`) as the resident's phone would show it.
- ``GET /keys`` → the trust list the terminals load as reference data.
- ``GET /health`` → ``{"ok": true}``.

Colours come from each persona's ``code_colour``; :meth:`CodeServiceSim.set_colour` overrides
one person's colour (a resident turning yellow while their cached green is still fresh).

Faults (``faults.set(kind, arg)``; lookups and token requests only, except ``down``):

- ``down``     stop listening: connections are refused until the fault is cleared
- ``slow``     answer after ``arg`` seconds (default :data:`SLOW_DEFAULT_S`, beyond any client timeout)
- ``error``    HTTP 500
- ``garbage``  HTTP 200 whose body is not JSON

The traffic log names personas by their id (``P001``), never by ID number.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from hardware_sim import personas
from hardware_sim.code_tokens import DEFAULT_VALIDITY_S, SIM_ISSUER, Issuer
from hardware_sim.faults import FaultBoard
from hardware_sim.timing import Timing
from hardware_sim.traffic import TrafficLog

log = logging.getLogger(__name__)

CODE_SERVICE_FAULTS = frozenset({"down", "slow", "error", "garbage"})
COLOURS = ("green", "yellow", "red")
SLOW_DEFAULT_S = 5.0  # delay of the ``slow`` fault, in seconds (the kiosk's default timeout is 1.5 s)
MAX_REQUEST_BYTES = 4096  # longest request body accepted, in bytes
GARBAGE_BODY = b'{"colour": "gre\x00\xff<html>500</html'  # what the ``garbage`` fault answers
TRUST_LIST_FORMAT = "linfen-code-trust-list"


class _ServiceFaults(FaultBoard):
    """The fault board, telling the service when ``down`` is set or cleared."""

    def __init__(self, service: CodeServiceSim) -> None:
        super().__init__(service.name, CODE_SERVICE_FAULTS)
        self._service = service

    def set(self, kind: str, arg: str | None = None, count: int | None = None) -> None:
        super().set(kind, arg, count)
        self._service._follow_faults()

    def clear(self, kind: str | None = None) -> None:
        super().clear(kind)
        self._service._follow_faults()


class CodeServiceSim:
    """The simulated city code service: lookups, signed tokens, the trust list, scripted faults."""

    kind: ClassVar[str] = "code_service"

    def __init__(self, name: str = "code_service", timing: Timing = Timing.FAST,
                 traffic: TrafficLog | None = None, host: str = "127.0.0.1", port: int = 0,
                 people: Iterable[personas.Persona] | None = None, issuer: Issuer = SIM_ISSUER) -> None:
        """A service for ``people`` (default: the shared personas); binds a free port unless one is given."""
        self.name = name
        self.timing = timing
        self.traffic = traffic or TrafficLog()
        self.issuer = issuer
        self.faults = _ServiceFaults(self)
        self._people = {p.id_number.upper(): p for p in (personas.load() if people is None else people)}
        self._by_persona = {p.persona_id: p for p in self._people.values()}
        self._overrides: dict[str, str] = {}  # ID number -> colour
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._running = False
        self._wake = threading.Event()  # set to cut short ``slow`` answers (going down, stopping)
        self._clients: set[socket.socket] = set()
        self.lookups = 0  # code-status requests that reached a handler
        self.tokens_issued = 0
        self.slow_waiting = 0  # requests sleeping in the ``slow`` fault right now

    # -- life cycle -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL (valid once started; stays the same while the service is down)."""
        if not self._running:
            raise RuntimeError(f"{self.name}: not started")
        return f"http://{self._host}:{self._port}"

    @property
    def listening(self) -> bool:
        """True while connections are accepted."""
        return self._server is not None

    def start(self) -> None:
        """Start serving (idempotent)."""
        if self._running:
            return
        self._running = True
        self._follow_faults()
        self.traffic.event(self.name, f"serving {self.url}")

    def stop(self) -> None:
        """Stop serving and cut short any slow answer."""
        self._running = False
        self._go_down()
        self.traffic.event(self.name, "stopped")

    def unplug(self) -> None:
        """Same as the ``down`` fault (the generic ``unplug DEVICE`` command)."""
        self.faults.set("down")

    def plug(self) -> None:
        """Clear the ``down`` fault."""
        self.faults.clear("down")

    def __enter__(self) -> CodeServiceSim:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _follow_faults(self) -> None:
        """Listen or not, as ``down`` and the life cycle say."""
        with self._lock:
            want = self._running and self.faults.peek("down") is None
            if want and self._server is None:
                self._go_up()
                self.traffic.event(self.name, "listening")
                return
        if not want and self._server is not None:
            self._go_down()
            self.traffic.event(self.name, "down: connections refused")

    def _go_up(self) -> None:
        self._wake.clear()
        server = ThreadingHTTPServer((self._host, self._port), _handler_for(self))
        server.daemon_threads = True
        self._port = server.server_address[1]  # keep the port across down/up
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"sim-{self.name}", daemon=True)
        self._thread.start()

    def _go_down(self) -> None:
        server, self._server = self._server, None
        self._wake.set()
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            clients, self._clients = list(self._clients), set()
        for sock in clients:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    # -- the people and their colours -----------------------------------------------------
    def _person(self, who: str) -> personas.Persona:
        person = self._by_persona.get(who) or self._people.get(who.strip().upper())
        if person is None:
            raise KeyError(f"{self.name}: no such person (give a persona id such as P001)")
        return person

    def set_colour(self, who: str, colour: str) -> None:
        """Override a person's colour (``who``: persona id or ID number)."""
        if colour not in COLOURS:
            raise ValueError(f"colour must be one of {', '.join(COLOURS)}, not {colour!r}")
        person = self._person(who)
        with self._lock:
            self._overrides[person.id_number.upper()] = colour
        self.traffic.event(self.name, f"{person.persona_id} is now {colour}")

    def clear_colour(self, who: str | None = None) -> None:
        """Drop one person's override, or all of them."""
        with self._lock:
            if who is None:
                self._overrides.clear()
            else:
                self._overrides.pop(self._person(who).id_number.upper(), None)

    def colour_of(self, id_number: str) -> str | None:
        """The colour the service answers for an ID number (None: unknown person)."""
        person = self._people.get(id_number.strip().upper())
        if person is None:
            return None
        with self._lock:
            return self._overrides.get(person.id_number.upper(), person.code_colour)

    def issue_token(self, who: str, issued_at: float | None = None, validity_s: float = DEFAULT_VALIDITY_S) -> str:
        """A signed QR token for a person (persona id or ID number) with their current colour."""
        person = self._person(who)
        colour = self.colour_of(person.id_number) or person.code_colour
        with self._lock:
            self.tokens_issued += 1
        return self.issuer.issue(person.id_number, colour, issued_at, validity_s)

    def trust_list(self) -> dict[str, Any]:
        """The trust list document (``/keys``): this service's issuer key."""
        return {"format": TRUST_LIST_FORMAT, "version": 1,
                "keys": [{"kid": self.issuer.kid, "issuer": self.issuer.name, "alg": "Ed25519",
                          "public_key": self.issuer.public_key_b64()}]}

    # -- control surface ------------------------------------------------------------------
    def config_entry(self) -> dict[str, Any]:
        """The terminal config's city code service entry."""
        return {"url": self.url}

    def status(self) -> dict[str, Any]:
        """State for the control API."""
        with self._lock:
            overrides = len(self._overrides)
        return {
            "kind": self.kind,
            "url": self.url if self._running else None,
            "listening": self.listening,
            "faults": self.faults.active(),
            "people": len(self._people),
            "colour_overrides": overrides,
            "lookups": self.lookups,
            "tokens_issued": self.tokens_issued,
        }

    # -- request handling (called from handler threads) -----------------------------------
    def _faulty_answer(self) -> tuple[int, bytes] | None:
        """Apply ``slow``, then ``error`` or ``garbage``; an answer to send instead of the real one."""
        slow = self.faults.take("slow")
        if slow is not None:
            delay = float(slow.arg) if slow.arg else SLOW_DEFAULT_S
            with self._lock:
                self.slow_waiting += 1
            try:
                self._wake.wait(delay)
            finally:
                with self._lock:
                    self.slow_waiting -= 1
        if self.faults.take("error"):
            return 500, b'{"error": "internal server error"}'
        if self.faults.take("garbage"):
            return 200, GARBAGE_BODY
        return None

    def _answer_status(self, id_number: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.lookups += 1
        colour = self.colour_of(id_number)
        if colour is None:
            self.traffic.event(self.name, "lookup: unknown person -> 404")
            return 404, {"error": "unknown person"}
        person = self._people[id_number.strip().upper()]
        self.traffic.event(self.name, f"lookup {person.persona_id} -> {colour}")
        return 200, {"colour": colour, "as_of": int(time.time())}

    def _answer_token(self, id_number: str) -> tuple[int, dict[str, Any]]:
        if id_number.strip().upper() not in self._people:
            return 404, {"error": "unknown person"}
        return 200, {"token": self.issue_token(id_number)}

    def _track(self, sock: socket.socket, add: bool) -> None:
        with self._lock:
            (self._clients.add if add else self._clients.discard)(sock)


def _handler_for(service: CodeServiceSim) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one service."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # one request per connection: ``down`` then refuses at once
        server_version = "LinfenSimCodeService/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # the base class names it "format"
            log.debug("%s: " + format, service.name, *args)

        def setup(self) -> None:
            super().setup()
            service._track(self.connection, True)

        def finish(self) -> None:
            try:
                super().finish()
            finally:
                service._track(self.connection, False)

        def _send(self, code: int, body: bytes | dict[str, Any]) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
            try:
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the client gave up (timeout) or the service went down

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/keys":
                self._send(200, service.trust_list())
            elif path == "/health":
                self._send(200, {"ok": True})
            else:
                self._send(404, {"error": "no such resource"})

        def do_POST(self) -> None:
            path = self.path.split("?", 1)[0]
            if path not in ("/v1/code-status", "/v1/code-token"):
                self._send(404, {"error": "no such resource"})
                return
            id_number = self._read_id_number()
            if id_number is None:
                return
            delay = service.timing.delay("code_service.lookup")
            if delay:
                time.sleep(delay)
            faulty = service._faulty_answer()
            if faulty is not None:
                self._send(*faulty)
                return
            answer = service._answer_status if path == "/v1/code-status" else service._answer_token
            self._send(*answer(id_number))

        def _read_id_number(self) -> str | None:
            """The request's ``id_number``, or None after answering 400/413."""
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if length < 0 or length > MAX_REQUEST_BYTES:
                self._send(413 if length > 0 else 400, {"error": "bad or oversized request body"})
                return None
            try:
                doc = json.loads(self.rfile.read(length).decode("utf-8"))
            except (OSError, UnicodeDecodeError, ValueError, RecursionError):
                doc = None
            number = doc.get("id_number") if isinstance(doc, dict) else None
            if not isinstance(number, str) or not 0 < len(number) <= 32:
                self._send(400, {"error": "send {\"id_number\": \"...\"}"})
                return None
            return number

    return Handler
