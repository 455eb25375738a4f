"""The client counters and calling displays use to reach the hall's queue service over the LAN.

Every request is signed (:mod:`kiosk.hall.auth`) and has explicit timeouts.  Errors, all
:class:`HallClientError` (a :class:`~kiosk.hall.errors.HallError`):

    HallUnavailable   the service cannot be reached or did not answer in time (reason
                      ``unreachable`` / ``timeout``): show "排队服务连接中断" and retry
    HallAuthRefused   401: wrong hall secret, or this terminal's clock is off (reason from the server)
    HallRefused       404/409/413/422: the service refused the action; ``reason`` and the words
                      come from the service (``window_busy``, ``not_finished``, ...)
    HallStaffRefused  403 (a HallRefused): the staff rules refused — ``unknown_card``, ``wrong_pin``,
                      ``locked`` at login; ``no_session``, ``session_ended``, ``session_expired``,
                      ``wrong_staff``, ``wrong_window`` for an action (the client forgets that session)
    HallProtocolError the answer was not what the protocol promises (or a 5xx)

:meth:`HallClient.events` reads the display push channel (SSE) and reconnects on its own with
``Last-Event-ID``, so a display that lost the link misses no call.  :meth:`HallClient.alert_events`
reads a logged-in counter's alert feed the same way.

A counter logs in with :meth:`HallClient.login` (the staff card's UID and the PIN); the client
keeps the session per window and sends it, with its staff id, with every action of that window.

The logged-in clerk looks a community card up with :meth:`HallClient.card_info` and tops it up
with :meth:`HallClient.topup`.  A top-up carries a request id (:func:`new_request_id`): when its
answer is lost (``HallUnavailable``), sending it again with the same id is safe — the hall answers
the top-up it already recorded (``repeat``) and credits nothing more.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from .auth import secret_bytes, sign_headers
from .display_info import TopDishes, parse_top_dishes
from .errors import HallError
from .ratings import Rating
from .tickets import Call, Counter, Snapshot, Ticket
from .topups import CardInfo, TopupResult

log = logging.getLogger(__name__)

#: Default timeouts of one counter/display request, in seconds.
CONNECT_TIMEOUT_S = 2.0
REQUEST_TIMEOUT_S = 5.0
#: The push channel's read timeout, in seconds: a few missed 15-s keep-alives mean the link is dead.
EVENTS_READ_TIMEOUT_S = 45.0


class HallClientError(HallError):
    """Root of the client's errors."""


class HallUnavailable(HallClientError):
    """The hall service is down, unreachable, or too slow."""


class HallAuthRefused(HallClientError):
    """The service refused this terminal's signature (secret or clock)."""


class HallRefused(HallClientError):
    """The service refused the action; ``reason`` says why."""


class HallStaffRefused(HallRefused):
    """403: the staff rules refused a login (card, PIN, lockout) or an action (no or ended session)."""


class HallProtocolError(HallClientError):
    """An answer the protocol does not allow (or a server error)."""


#: 403 reasons after which the client's session of that window is of no more use.
SESSION_GONE = ("no_session", "session_ended", "session_expired", "wrong_staff", "wrong_window",
                "no_staff_registry")


@dataclass(frozen=True)
class Session:
    """A clerk's login at one window, as the hall handed it out."""

    window: int
    staff_id: str
    display_name: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class AlertNotice:
    """One open staff alert as a counter shows it: the hall's words, zh and en."""

    id: int
    kind: str
    source: str
    resident: str
    raised_at: str
    words_zh: str
    words_en: str

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlertNotice:
        """Build from the service's alert JSON."""
        return cls(int(data["id"]), str(data["kind"]), str(data["source"]), str(data.get("resident", "")),
                   str(data["raised_at"]), str(data["words_zh"]), str(data["words_en"]))


@dataclass(frozen=True)
class ServerEvent:
    """One push-channel event: ``call`` (with ``id``), ``counts``, or the client's own markers
    ``connected`` (subscribed; every later call will arrive) and ``disconnected`` (``data["error"]``)."""

    event: str
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None

    @property
    def call(self) -> Call | None:
        """The call carried by a ``call`` event."""
        return _call(self.data) if self.event == "call" else None


def new_request_id() -> str:
    """A fresh id for one top-up request (keep it for the retries of that same top-up)."""
    return str(uuid.uuid4())


def _ticket(data: dict[str, Any]) -> Ticket:
    fields = {k: data[k] for k in Ticket.__dataclass_fields__}
    return Ticket(**{**fields, "priority_reasons": tuple(fields["priority_reasons"])})


def _call(data: dict[str, Any]) -> Call:
    return Call(**{k: data[k] for k in Call.__dataclass_fields__})


class HallClient:
    """A counter's or display's connection to the hall queue service."""

    def __init__(self, base_url: str, secret: str | bytes, *, timeout: httpx.Timeout | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        """``base_url`` like ``http://192.168.1.10:8710``; ``secret`` is the per-hall shared secret."""
        self.base_url = base_url.rstrip("/")
        self._secret = secret_bytes(secret)
        self._timeout = timeout or httpx.Timeout(REQUEST_TIMEOUT_S, connect=CONNECT_TIMEOUT_S)
        if transport is None:  # headers and body go out in two writes: without NODELAY each POST waits ~40 ms
            transport = httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        self._http = httpx.Client(base_url=self.base_url, timeout=self._timeout, transport=transport)
        self.sessions: dict[int, Session] = {}  # window -> the clerk logged in there through this client

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> HallClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------------
    def _build(self, method: str, path: str, body: dict[str, Any] | None = None,
               params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> httpx.Request:
        request = self._http.build_request(method, path, json=body, params=params, headers=headers)
        request.headers.update(sign_headers(self._secret, method, request.url.raw_path, request.content))
        return request

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None,
                 params: dict[str, Any] | None = None, window: int | None = None) -> dict[str, Any]:
        try:
            return self._send(method, path, body, params)
        except HallStaffRefused as exc:
            if window is not None and exc.reason in SESSION_GONE:
                self.sessions.pop(window, None)
            raise

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None,
              params: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self._http.send(self._build(method, path, body, params))
        except httpx.TimeoutException as exc:
            raise HallUnavailable("timeout", f"the hall service at {self.base_url} did not answer in time: {exc}",
                                  "排队服务无响应，请稍后重试") from exc
        except httpx.TransportError as exc:
            raise HallUnavailable("unreachable", f"cannot reach the hall service at {self.base_url}: {exc}",
                                  "无法连接排队服务，请检查网络") from exc
        return self._answer(response)

    def _answer(self, response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code == 200 and isinstance(data, dict):
            return data
        error = data if isinstance(data, dict) and "error" in data else {}
        reason = str(error.get("error", f"http_{response.status_code}"))
        en = str(error.get("words_en", f"hall service answered HTTP {response.status_code}"))
        zh = str(error.get("words_zh", "排队服务出错"))
        if response.status_code == 401:
            raise HallAuthRefused(reason, en, zh)
        if response.status_code == 403:
            raise HallStaffRefused(reason, en, zh)
        if response.status_code in (404, 409, 413, 422, 400):
            raise HallRefused(reason, en, zh)
        raise HallProtocolError(reason, en, zh)

    # -- counter ----------------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """Service status: ``ok``, ``day``, ``rule``, ``services`` (also checks the secret)."""
        return self._request("GET", "/v1/health")

    def session(self, window: int) -> Session | None:
        """The session this client holds for ``window``, if any."""
        return self.sessions.get(window)

    def _who(self, window: int) -> dict[str, str]:
        """The session fields every action of ``window`` carries; refused here when there is none."""
        session = self.sessions.get(window)
        if session is None:
            raise HallStaffRefused("no_session", f"window {window}: log in with a staff card first",
                                   f"{window} 号窗口尚未登录，请先刷工作证")
        return {"session": session.token, "staff_id": session.staff_id}

    def _act(self, window: int, action: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return self._request("POST", f"/v1/counters/{window}/{action}", {**self._who(window), **(extra or {})},
                             window=window)

    def login(self, window: int, card_uid: str, pin: str, services: Sequence[str]) -> Counter:
        """Log in at ``window`` with a staff card's UID and the PIN, serving ``services``; keeps the session."""
        data = self._request("POST", f"/v1/counters/{window}/login",
                             {"card_uid": card_uid, "pin": pin, "services": list(services)})
        c, s = data["counter"], data["session"]
        self.sessions[window] = Session(int(s["window"]), str(s["staff_id"]), str(s["display_name"]),
                                        str(s["token"]))
        return Counter(c["window"], c["staff_id"], tuple(c["services"]), c["since"])

    def logout(self, window: int) -> None:
        """Log the window out (and forget its session, whatever the answer)."""
        try:
            self._act(window, "logout")
        finally:
            self.sessions.pop(window, None)

    def counter(self, window: int) -> tuple[Counter, Ticket | None]:
        """Who is logged in at ``window`` and its current ticket (checks this client's session there, if any)."""
        session = self.sessions.get(window)
        params = {"session": session.token, "staff_id": session.staff_id} if session else None
        data = self._request("GET", f"/v1/counters/{window}", params=params, window=window)
        c = data["counter"]
        current = _ticket(data["current"]) if data["current"] else None
        return Counter(c["window"], c["staff_id"], tuple(c["services"]), c["since"]), current

    def call_next(self, window: int) -> Call | None:
        """Call the next ticket to ``window``; None when nobody waits."""
        data = self._act(window, "next")["call"]
        return _call(data) if data else None

    def recall(self, window: int) -> Call:
        """Call the window's ticket again."""
        return _call(self._act(window, "recall")["call"])

    def call_specific(self, window: int, number: str) -> Call:
        """Call ticket ``number`` to ``window``."""
        return _call(self._act(window, "call", {"number": number})["call"])

    def start(self, window: int) -> Ticket:
        """The resident arrived: start serving."""
        return _ticket(self._act(window, "start")["ticket"])

    def no_show(self, window: int) -> Ticket:
        """Mark the called ticket as not shown."""
        return _ticket(self._act(window, "no_show")["ticket"])

    def transfer(self, window: int, service: str) -> Ticket:
        """Transfer the window's ticket to ``service``; returns the new waiting ticket."""
        return _ticket(self._act(window, "transfer", {"service": service})["ticket"])

    def finish(self, window: int) -> Ticket:
        """Finish the window's ticket."""
        return _ticket(self._act(window, "finish")["ticket"])

    def alerts(self, window: int) -> list[AlertNotice]:
        """The hall's open staff alerts (for the clerk logged in at ``window``)."""
        data = self._request("GET", f"/v1/counters/{window}/alerts", params=self._who(window), window=window)
        return [AlertNotice.from_dict(a) for a in data["alerts"]]

    def acknowledge(self, window: int, alert_id: int) -> AlertNotice:
        """The clerk at ``window`` has taken care of alert ``alert_id`` (it leaves every counter's banner)."""
        return AlertNotice.from_dict(self._act(window, f"alerts/{alert_id}/ack")["alert"])

    def card_info(self, window: int, card_no: str) -> CardInfo:
        """A community card's status, masked holder name and last known balance (for the clerk at ``window``)."""
        data = self._request("GET", f"/v1/counters/{window}/cards/{card_no}", params=self._who(window),
                             window=window)["card"]
        return CardInfo(**{k: data[k] for k in CardInfo.__dataclass_fields__})

    def topup(self, window: int, card_no: str, amount_fen: int, method: str, request_id: str) -> TopupResult:
        """Top up ``card_no`` by ``amount_fen`` (``cash`` / ``transfer``), taken by the clerk at ``window``.

        Send a lost answer again with the same ``request_id``: the card is credited once.
        """
        data = self._act(window, "cards/topup", {"request_id": request_id, "card_no": card_no,
                                                 "amount_fen": amount_fen, "method": method})["topup"]
        return TopupResult(**{k: data[k] for k in TopupResult.__dataclass_fields__})

    def rate(self, window: int, ticket_id: int, level: str | int) -> Rating:
        """Send the resident's rating of a ticket finished at ``window``."""
        data = self._request("POST", f"/v1/counters/{window}/rate", {"ticket_id": ticket_id, "level": level})
        return Rating(**{k: data["rating"][k] for k in Rating.__dataclass_fields__})

    # -- display ----------------------------------------------------------------------------------------
    def top_dishes(self) -> TopDishes | None:
        """The month's most popular canteen dishes as the hall last pulled them (None: none known)."""
        return parse_top_dishes(self._request("GET", "/v1/display/info").get("top_dishes"))

    def snapshot(self, recent: int = 5) -> Snapshot:
        """Current calls, the last ``recent`` calls, waiting counts and services."""
        d = self._request("GET", "/v1/display/snapshot", params={"recent": recent})
        return Snapshot(d["day"], tuple(_call(c) for c in d["current"]), tuple(_call(c) for c in d["recent"]),
                        dict(d["waiting"]), int(d["last_call_id"]), tuple(d["services"]))

    def _stream_once(self, path: str, params: dict[str, Any] | None, read_timeout_s: float) -> Iterator[ServerEvent]:
        """The events of one connection to an SSE endpoint; a refusal raises, the stream's end returns."""
        timeout = httpx.Timeout(read_timeout_s, connect=self._timeout.connect)
        request = self._build("GET", path, params=params, headers={"Accept": "text/event-stream"})
        request.extensions["timeout"] = timeout.as_dict()
        response = self._http.send(request, stream=True)
        try:
            if response.status_code != 200:
                response.read()
                self._answer(response)
                raise HallProtocolError("bad_stream", f"events answered HTTP {response.status_code}")
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise HallProtocolError("bad_stream", "events did not answer text/event-stream")
            yield from _parse_sse(response.iter_lines())
        finally:
            response.close()

    def events(self, after: int | None = None, stop: threading.Event | None = None, retry_s: float = 0.5,
               max_retry_s: float = 10.0, read_timeout_s: float = EVENTS_READ_TIMEOUT_S) -> Iterator[ServerEvent]:
        """Yield push-channel events until ``stop`` is set (checked between events and while waiting to retry).

        ``after``: replay the calls after this call id (e.g. a snapshot's ``last_call_id``); None:
        from now.  On a dropped link a ``disconnected`` event is yielded, then the client retries
        with a doubling delay from ``retry_s`` up to ``max_retry_s`` seconds, resuming after the
        last call it saw.  A refused signature raises :class:`HallAuthRefused` (retrying cannot help).
        """
        stop = stop or threading.Event()
        last = after
        delay = retry_s
        while not stop.is_set():
            try:
                for event in self._stream_once("/v1/display/events", {"after": last} if last is not None else None,
                                               read_timeout_s):
                    if event.event == "hello":  # the service has subscribed us: nothing after this is lost
                        delay = retry_s
                        if last is None and isinstance(event.data.get("after"), int):
                            last = event.data["after"]
                        yield ServerEvent("connected", {"after": last})
                        continue
                    if event.id is not None:
                        last = event.id
                    yield event
                    if stop.is_set():
                        return
                error = "the hall service closed the stream"
            except (httpx.TransportError, HallProtocolError) as exc:  # down, dropped, or a 5xx: try again
                error = f"{type(exc).__name__}: {exc}"
            if stop.is_set():
                return
            log.warning("hall events from %s lost (%s); retrying in %.1f s", self.base_url, error, delay)
            yield ServerEvent("disconnected", {"error": error, "retry_s": delay})
            if stop.wait(delay):
                return
            delay = min(delay * 2, max_retry_s)

    def alert_events(self, window: int, stop: threading.Event | None = None, retry_s: float = 0.5,
                     max_retry_s: float = 10.0,
                     read_timeout_s: float = EVENTS_READ_TIMEOUT_S) -> Iterator[list[AlertNotice] | ServerEvent]:
        """The open alerts for the clerk at ``window``: a list at once and after every change, until ``stop``.

        Yields ``ServerEvent("disconnected")`` when the link drops (then retries like :meth:`events`).
        Ends by raising :class:`HallStaffRefused` when the session is refused or ends (logout, another
        login), and :class:`HallAuthRefused` for a refused signature.
        """
        stop = stop or threading.Event()
        delay = retry_s
        while not stop.is_set():
            try:
                for event in self._stream_once(f"/v1/counters/{window}/events", self._who(window), read_timeout_s):
                    if event.event == "alerts" and isinstance(event.data.get("alerts"), list):
                        delay = retry_s
                        yield [AlertNotice.from_dict(a) for a in event.data["alerts"]]
                    elif event.event == "ended":
                        d = event.data
                        self.sessions.pop(window, None)
                        raise HallStaffRefused(str(d.get("error", "session_ended")), str(d.get("words_en", "")),
                                               str(d.get("words_zh", "")))
                    if stop.is_set():
                        return
                error = "the hall service closed the stream"
            except HallStaffRefused as exc:
                if exc.reason in SESSION_GONE:
                    self.sessions.pop(window, None)
                raise
            except (httpx.TransportError, HallProtocolError) as exc:
                error = f"{type(exc).__name__}: {exc}"
            if stop.is_set():
                return
            log.warning("hall alerts from %s lost (%s); retrying in %.1f s", self.base_url, error, delay)
            yield ServerEvent("disconnected", {"error": error, "retry_s": delay})
            if stop.wait(delay):
                return
            delay = min(delay * 2, max_retry_s)


def _parse_sse(lines: Iterator[str]) -> Iterator[ServerEvent]:
    """Server-sent events from text lines (WHATWG rules: ``field: value``, blank line dispatches)."""
    event, data, event_id = "message", [], None
    for line in lines:
        if line == "":
            if data:
                try:
                    payload = json.loads("\n".join(data))
                except ValueError:
                    log.warning("hall events: dropped an event whose data is not JSON")
                    payload = None
                if isinstance(payload, dict):
                    yield ServerEvent(event, payload, event_id)
            event, data, event_id = "message", [], None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id" and value.isdigit():
            event_id = int(value)
