"""The hall's LAN queue service: counters and calling displays talk to the ticket machine's queue.

A FastAPI app over one :class:`~kiosk.hall.queue.HallQueue`, the hall's staff registry
(:class:`~kiosk.hall.staff.StaffRegistry`) and its alert board (:class:`~kiosk.hall.alerts.AlertBoard`).
Every request must be signed with the per-hall shared secret (HMAC, see :mod:`kiosk.hall.auth`).
A clerk logs in at a window with the staff card's UID and a PIN and gets a session; every counter
action then carries ``session`` and ``staff_id`` (in the signed body, or the signed query of a
GET) and is refused with 403 unless that clerk is logged in at that window.  Counter endpoints are
synchronous functions (FastAPI runs them on its thread pool); each queue action is one
``BEGIN IMMEDIATE`` transaction, so two clerks pressing "next" together get different tickets.

    GET  /v1/health                          {"ok": true, "day", "rule", "services"}
    POST /v1/counters/{window}/login         {"card_uid", "pin", "services": ["A", ...]} -> {"counter", "session"}
    POST /v1/counters/{window}/logout        S -> {"ok": true}
    GET  /v1/counters/{window}[?S]           -> {"counter", "current": ticket | null}  (S checked when given)
    POST /v1/counters/{window}/next          S -> {"call": call | null}
    POST /v1/counters/{window}/recall        S -> {"call"}
    POST /v1/counters/{window}/call          S + {"number": "A012"} -> {"call"}
    POST /v1/counters/{window}/start         S -> {"ticket"}
    POST /v1/counters/{window}/no_show       S -> {"ticket"}
    POST /v1/counters/{window}/transfer      S + {"service": "B"} -> {"ticket"}   (the new waiting row)
    POST /v1/counters/{window}/finish        S -> {"ticket"}
    POST /v1/counters/{window}/rate          {"ticket_id", "level"} -> {"rating"}   (the resident's pad)
    GET  /v1/counters/{window}/alerts?S      -> {"alerts": [alert, ...]}  open staff alerts, in words
    POST /v1/counters/{window}/alerts/{id}/ack  S -> {"alert"}  acknowledged by that clerk at that window
    GET  /v1/counters/{window}/events?S      SSE: "alerts" {"alerts": [...]} at once and after every change
    POST /v1/counters/{window}/cards/topup   S + {"request_id", "card_no", "amount_fen", "method"} -> {"topup"}
    GET  /v1/counters/{window}/cards/{card_no}?S  -> {"card": status, masked name, last known balance}
    GET  /v1/display/snapshot?recent=5       -> current calls, last calls, waiting counts, services
    GET  /v1/display/info                    -> {"top_dishes": {month, dishes} | null} (pulled from the central)
    GET  /v1/display/events?after=ID         SSE: "hello" {"after"}, then "call" (id: call id) and "counts"

``S`` is ``{"session": token, "staff_id": id}``.  A top-up (:mod:`kiosk.hall.topups`) is recorded in
the hall's card journal, attributed to the session's clerk; a retry with the same ``request_id``
answers the stored top-up (``"repeat": true``) and credits nothing more.  Cards are named by their
masked holder name only.  Card refusals: 404 ``unknown_card``, 409 ``lost``, ``blocked``,
``cancelled``, ``denied``, ``request_reused``, 422 ``bad_amount``, ``bad_card_no``; 409
``no_topups`` when the hall takes no top-ups.  Errors are JSON ``{"error": reason, "words_en",
"words_zh"}`` with 401 (signature), 403 (staff: ``unknown_card``, ``wrong_pin``, ``locked``,
``no_session``, ``session_ended``, ``session_expired``, ``wrong_staff``, ``wrong_window``), 404,
409 (state), 413 (body too large), 422 (malformed request) or 503 (store unavailable).  The display
push channel replays the calls after ``Last-Event-ID`` (or ``?after=``) on reconnect, so a display
that lost its connection misses no call; it carries no alerts (residents read the hall TV).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kiosk.store import StoreError
from sync.strict_json import find_problem

from .alerts import AlertBoard
from .auth import MAX_SKEW_S, Verifier
from .display_info import read_display_info
from .errors import HallError
from .nonces import StoreNonces
from .queue import HallQueue
from .ratings import parse_level
from .service_plumbing import BodyLimit, CallHub, sse
from .staff import StaffRefused, StaffRegistry
from .tickets import Call, QueueChange
from .topups import HallTopups

#: Seconds between SSE keep-alive comments (clients time out after a few missed ones).
KEEPALIVE_S = 15.0

#: Largest id the store can hold (SQLite INTEGER); larger ids in a request are refused with 422, not a 500.
MAX_ID = 2**63 - 1
_EVENT_ID = re.compile(r"[0-9]{1,18}")

Window = Annotated[int, Path(ge=1, le=99, description="window (counter) number")]
SessionQuery = Annotated[str | None, Query(min_length=16, max_length=128, description="session from login")]
StaffQuery = Annotated[str | None, Query(min_length=1, max_length=32, description="staff id of the session")]
CardNo = Annotated[str, Path(pattern=r"^(?:[0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}|[0-9A-Fa-f]{20})$",
                             description="community card number (UID in hex)")]
#: Published to the counters' alert streams after any alert change (they read the open alerts again).
ALERTS_CHANGED = object()


def _no_topups() -> HallError:
    error = HallError("no_topups", "this hall takes no community-card top-ups", "本大厅未开通一卡通充值")
    error.status = 409
    return error


def _no_registry() -> StaffRefused:
    return StaffRefused("no_staff_registry", "this hall has no staff registry: counters cannot log in",
                        "本大厅未启用工作证登录，请联系管理员")


class _Body(BaseModel):
    """A LAN request body: known fields only, and strict JSON (no NaN, Infinity or lone surrogates)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _strict_json(cls, data: Any) -> Any:
        problem = find_problem(data)
        if problem is not None:
            raise ValueError(f"not strict JSON: {problem}")
        return data


class LoginBody(_Body):
    """A clerk logs in at a window with the staff card's UID and a PIN."""

    card_uid: str = Field(min_length=8, max_length=32)
    pin: str = Field(min_length=4, max_length=8)
    services: list[str] = Field(min_length=1, max_length=20)


class SessionBody(_Body):
    """Who is acting: the session from login and the staff id it was given to."""

    session: str = Field(min_length=16, max_length=128)
    staff_id: str = Field(min_length=1, max_length=32)


class NumberBody(SessionBody):
    """Call a specific ticket number."""

    number: str = Field(min_length=2, max_length=8)


class TransferBody(SessionBody):
    """Transfer the window's ticket to another service."""

    service: str = Field(min_length=1, max_length=2)


class TopupBody(SessionBody):
    """Top up a community card: the counter's own request id makes a retry harmless."""

    request_id: str = Field(pattern=r"^[A-Za-z0-9-]{16,64}$")
    card_no: str = Field(pattern=r"^(?:[0-9A-Fa-f]{8}|[0-9A-Fa-f]{14}|[0-9A-Fa-f]{20})$")
    amount_fen: int = Field(strict=True, ge=-(10**12), le=10**12)  # a JSON integer; the limits are the rules'
    method: Literal["cash", "transfer"]


class RateBody(_Body):
    """The resident's rating of a finished ticket."""

    ticket_id: int = Field(ge=1, le=MAX_ID)
    level: str | int

    @field_validator("level")
    @classmethod
    def _known_level(cls, value: str | int) -> str | int:
        if isinstance(value, str) and (len(value) > 40 or (any(c.isdigit() for c in value) and not value.isascii())):
            raise ValueError("not a rating level (very_satisfied ... very_dissatisfied, or 1-5)")
        try:
            parse_level(value)
        except (HallError, ValueError):
            raise ValueError("not a rating level (very_satisfied ... very_dissatisfied, or 1-5)") from None
        return value


def create_app(queue: HallQueue, secret: str | bytes, *, staff: StaffRegistry | None = None,
               alerts: AlertBoard | None = None, topups: HallTopups | None = None,
               keepalive_s: float = KEEPALIVE_S, max_skew_s: float = MAX_SKEW_S) -> FastAPI:
    """The hall service app over ``queue``; ``secret`` is the per-hall shared secret (≥ 16 bytes).

    ``staff``: the registry counters log in against (without one, every login is refused in
    words); ``alerts``: the board whose open alerts counters see (without one, the list is empty);
    ``topups``: the hall's community-card top-ups (without them, a top-up is refused in words).
    """
    verifier = Verifier(secret, max_skew_s, nonces=StoreNonces(queue.store, max_skew_s))
    hub = CallHub()
    queue.add_listener(hub.publish)
    alert_hub = CallHub()

    def poke() -> None:
        alert_hub.publish(ALERTS_CHANGED)

    if alerts is not None:
        alerts.add_listener(poke)

    async def authenticated(request: Request) -> None:
        body = await request.body()  # BodyLimit has already refused anything oversized
        target = request.scope.get("raw_path") or request.url.path.encode()
        if request.scope.get("query_string"):
            target += b"?" + request.scope["query_string"]
        # the nonce is written to the store: off the event loop, which serves every other connection
        await run_in_threadpool(verifier.verify, request.method, target, request.headers, body)

    app = FastAPI(title="Linfen hall queue service", version="1", docs_url=None, redoc_url=None)
    app.add_middleware(BodyLimit)
    app.state.hub = hub
    app.state.queue = queue
    app.state.on_stop = [alert_hub.close] + ([lambda: alerts.remove_listener(poke)] if alerts is not None else [])
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(authenticated)])

    @app.exception_handler(HallError)
    async def _hall_error(_request: Request, exc: HallError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.status)

    @app.exception_handler(StoreError)
    async def _store_error(_request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse({"error": "store", "words_en": f"the hall queue store is unavailable: {exc}",
                             "words_zh": "排队系统暂时不可用"}, status_code=503)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "malformed request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse({"error": "bad_request", "words_en": f"{where}: {first.get('msg')}",
                             "words_zh": "请求格式错误"}, status_code=422)

    @v1.get("/health")
    def health() -> dict[str, Any]:
        return {"ok": True, "day": queue.today(), "rule": queue.rule.describe(), "services": list(queue.services.codes)}

    def clerk(window: int, session: str | None, staff_id: str | None) -> str:
        """The staff id logged in at ``window`` with this session (403 in words otherwise)."""
        if staff is None:
            raise _no_registry()
        return staff.check(session, staff_id, window).staff_id

    @v1.post("/counters/{window}/login")
    def login(window: Window, body: LoginBody) -> dict[str, Any]:
        if staff is None:
            raise _no_registry()
        for code in body.services:
            queue.services.get(code)  # an unknown service is refused before a session is opened
        session = staff.login(window, body.card_uid, body.pin)
        counter = queue.login(window, session.staff_id, body.services)
        return {"counter": counter.to_dict(), "session": session.to_dict()}

    @v1.post("/counters/{window}/logout")
    def logout(window: Window, body: SessionBody) -> dict[str, Any]:
        clerk(window, body.session, body.staff_id)
        assert staff is not None
        staff.logout(body.session)
        queue.logout(window)
        return {"ok": True}

    @v1.get("/counters/{window}")
    def counter(window: Window, session: SessionQuery = None, staff_id: StaffQuery = None) -> dict[str, Any]:
        if session is not None or staff_id is not None:
            clerk(window, session, staff_id)
        current = queue.current(window)
        return {"counter": queue.counter(window).to_dict(), "current": current.to_dict() if current else None}

    @v1.post("/counters/{window}/next")
    def call_next(window: Window, body: SessionBody) -> dict[str, Any]:
        clerk(window, body.session, body.staff_id)
        call = queue.call_next(window)
        return {"call": call.to_dict() if call else None}

    @v1.post("/counters/{window}/recall")
    def recall(window: Window, body: SessionBody) -> dict[str, Any]:
        clerk(window, body.session, body.staff_id)
        return {"call": queue.recall(window).to_dict()}

    @v1.post("/counters/{window}/call")
    def call_specific(window: Window, body: NumberBody) -> dict[str, Any]:
        clerk(window, body.session, body.staff_id)
        return {"call": queue.call_specific(window, body.number).to_dict()}

    @v1.post("/counters/{window}/start")
    def start(window: Window, body: SessionBody) -> dict[str, Any]:
        clerk(window, body.session, body.staff_id)
        return {"ticket": queue.start(window).to_dict()}

    @v1.post("/counters/{window}/no_show")
    def no_show(window: Window, body: SessionBody) -> dict[str, Any]:
        clerk(window, body.session, body.staff_id)
        return {"ticket": queue.no_show(window).to_dict()}

    @v1.post("/counters/{window}/transfer")
    def transfer(window: Window, body: TransferBody) -> dict[str, Any]:
        clerk(window, body.session, body.staff_id)
        return {"ticket": queue.transfer(window, body.service).to_dict()}

    @v1.post("/counters/{window}/finish")
    def finish(window: Window, body: SessionBody) -> dict[str, Any]:
        clerk(window, body.session, body.staff_id)
        return {"ticket": queue.finish(window).to_dict()}

    def open_alerts() -> list[dict[str, Any]]:
        return [a.to_dict() for a in alerts.open_alerts()] if alerts is not None else []

    @v1.get("/counters/{window}/alerts")
    def list_alerts(window: Window, session: SessionQuery = None, staff_id: StaffQuery = None) -> dict[str, Any]:
        clerk(window, session, staff_id)
        return {"alerts": open_alerts()}

    @v1.post("/counters/{window}/alerts/{alert_id}/ack")
    def acknowledge(window: Window, alert_id: Annotated[int, Path(ge=1, le=MAX_ID)], body: SessionBody
                    ) -> dict[str, Any]:
        who = clerk(window, body.session, body.staff_id)
        if alerts is None:
            raise HallError("no_alert", f"there is no alert {alert_id}", "没有这条提醒")
        return {"alert": alerts.acknowledge(alert_id, who, window).to_dict()}

    @v1.get("/counters/{window}/events")
    async def counter_events(window: Window, session: SessionQuery = None,
                             staff_id: StaffQuery = None) -> StreamingResponse:
        await run_in_threadpool(clerk, window, session, staff_id)

        async def stream() -> AsyncIterator[str]:
            subscription = alert_hub.subscribe()  # before the first read: no change can fall in between
            getter: asyncio.Future[Any] | None = None
            try:
                yield "retry: 1000\n" + sse("alerts", {"alerts": await run_in_threadpool(open_alerts)})
                while True:
                    if getter is None:
                        getter = asyncio.ensure_future(subscription.get())
                    done, _pending = await asyncio.wait({getter}, timeout=keepalive_s)
                    if not done:
                        try:  # the clerk logged out or was replaced: the stream of this session ends
                            await run_in_threadpool(clerk, window, session, staff_id)
                        except HallError as exc:
                            yield sse("ended", exc.to_dict())
                            return
                        yield ": keep-alive\n\n"
                        continue
                    change, getter = getter.result(), None
                    if change is None:
                        return
                    yield sse("alerts", {"alerts": await run_in_threadpool(open_alerts)})
            finally:
                if getter is not None:
                    getter.cancel()
                alert_hub.unsubscribe(subscription)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @v1.get("/counters/{window}/cards/{card_no}")
    def card_info(window: Window, card_no: CardNo, session: SessionQuery = None,
                  staff_id: StaffQuery = None) -> dict[str, Any]:
        clerk(window, session, staff_id)
        if topups is None:
            raise _no_topups()
        return {"card": topups.card(card_no).to_dict()}

    @v1.post("/counters/{window}/cards/topup")
    def topup(window: Window, body: TopupBody) -> dict[str, Any]:
        who = clerk(window, body.session, body.staff_id)
        if topups is None:
            raise _no_topups()
        result = topups.topup(body.request_id, body.card_no, body.amount_fen, body.method, who, window)
        return {"topup": result.to_dict()}

    @v1.post("/counters/{window}/rate")
    def rate(window: Window, body: RateBody) -> dict[str, Any]:
        return {"rating": queue.rate(body.ticket_id, body.level, window).to_dict()}

    @v1.get("/display/info")
    def display_info() -> dict[str, Any]:  # what displays show between calls besides their tips (display_info)
        return read_display_info(queue.store)

    @v1.get("/display/snapshot")
    def snapshot(recent: Annotated[int, Query(ge=1, le=50)] = 5) -> dict[str, Any]:
        return queue.snapshot(recent).to_dict()

    @v1.get("/display/events")
    async def events(request: Request, after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None
                     ) -> StreamingResponse:
        header = request.headers.get("last-event-id", "").strip()
        if after is None and header:
            if not _EVENT_ID.fullmatch(header):
                raise HallError("bad_request", "Last-Event-ID must be a call id in ASCII digits", "请求格式错误")
            after = int(header)

        async def stream() -> AsyncIterator[str]:
            subscription = hub.subscribe()  # before reading the backlog: no call can fall in between
            getter: asyncio.Future[QueueChange | None] | None = None
            try:
                backlog: list[Call] = []
                if after is None:
                    last = (await run_in_threadpool(queue.snapshot, 1)).last_call_id
                else:
                    last = after
                    backlog = await run_in_threadpool(queue.calls_after, after, 1000)
                yield "retry: 1000\n" + sse("hello", {"after": last})  # subscribed: calls after `last` follow
                for call in backlog:
                    yield sse("call", call.to_dict(), call.id)
                    last = call.id
                yield sse("counts", {"waiting": await run_in_threadpool(queue.waiting_counts)})
                while True:
                    if getter is None:
                        getter = asyncio.ensure_future(subscription.get())
                    # asyncio.wait, not wait_for: a change arriving as the keep-alive fires is not lost
                    done, _pending = await asyncio.wait({getter}, timeout=keepalive_s)
                    if not done:
                        yield ": keep-alive\n\n"
                        continue
                    change, getter = getter.result(), None
                    if change is None:
                        return
                    if change.call is not None and change.call.id > last:
                        yield sse("call", change.call.to_dict(), change.call.id)
                        last = change.call.id
                    yield sse("counts", {"waiting": change.waiting})
            finally:
                if getter is not None:
                    getter.cancel()
                hub.unsubscribe(subscription)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    app.include_router(v1)
    return app
