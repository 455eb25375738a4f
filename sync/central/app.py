"""The central's HTTP API (FastAPI): push, pull, heartbeat, admin enrol/revoke, health, metrics.

    app = create_app("central.db", admin_token=None)      # or create_app(CentralStore(...))

Every refusal is the protocol's ``ErrorBody`` (``reason`` + ``detail``) with a clear status:
400 wrong protocol version, 401 no/bad token, 403 revoked or not allowed (another terminal's
events, another site, not admin), 404 unknown path or terminal, 409 already enrolled,
413 body over :data:`~sync.protocol.MAX_BODY_BYTES`, 422 malformed JSON or a request outside
the protocol.  A 5xx means the central itself is broken (503: the database is unreachable).

A push is answered only after its transaction committed (:meth:`CentralStore.push`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..protocol import (
    PROTOCOL_HEADER,
    PROTOCOL_VERSION,
    ChangesResponse,
    EnrolRequest,
    EnrolResponse,
    ErrorBody,
    HeartbeatRequest,
    HeartbeatResponse,
    PushRequest,
    PushResponse,
)
from .auth import ADMIN_TOKEN_ENV, Terminal, bearer_token, check_admin, validate_admin_token
from .errors import ApiError, CentralError
from .metrics import CONTENT_TYPE, CentralMetrics
from .middleware import GuardMiddleware
from .reference import DEFAULT_PAGE, MAX_PAGE
from .storage import CentralStore, api_error_from

log = logging.getLogger("linfen.central.api")

DB_ENV = "LINFEN_CENTRAL_DB"
LOG_LEVEL_ENV = "LINFEN_CENTRAL_LOG_LEVEL"  # set for worker processes, which configure their own logging
MAX_INT64 = 2**63 - 1  # largest seq, cursor or count the database columns hold


class RevokeRequest(BaseModel):
    """An operator retiring a terminal's credentials."""

    model_config = ConfigDict(extra="forbid")
    terminal_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    reason: str = Field("", max_length=200)


class RevokeResponse(BaseModel):
    """When the terminal was revoked (the first time, if it already was)."""

    terminal_id: str
    revoked_at: dt.datetime


class HealthResponse(BaseModel):
    """The central is up and its database answers."""

    status: str
    database: str
    backend: str
    schema_version: int


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    words = {400: "wrong protocol version", 401: "no or bad token", 403: "not allowed", 404: "not found",
             409: "already enrolled", 413: "body too large", 422: "malformed request", 503: "database down"}
    return {s: {"model": ErrorBody, "description": words[s]} for s in statuses}


_terminal_bearer = HTTPBearer(auto_error=False, scheme_name="terminal", description="token from enrolment")
_admin_bearer = HTTPBearer(auto_error=False, scheme_name="admin", description="the central's admin token")


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    return bearer_token(f"{credentials.scheme} {credentials.credentials}" if credentials else None)


def protocol_version(version: Annotated[str | None, Header(alias=PROTOCOL_HEADER)] = None) -> None:
    """Refuse a request that names another protocol version (a missing header is taken as ours)."""
    if version is not None and version.strip() != str(PROTOCOL_VERSION):
        raise ApiError(400, "unsupported_protocol", f"this central speaks {PROTOCOL_HEADER}: {PROTOCOL_VERSION}, "
                       f"not {version[:20]!r}")


def current_terminal(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(_terminal_bearer)]) -> Terminal:
    """The authenticated, unrevoked terminal making this request."""
    return request.app.state.store.authenticate(_token(credentials))


def require_admin(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(_admin_bearer)]) -> None:
    """Pass only with the admin token."""
    check_admin(_token(credentials), request.app.state.admin_token)


TerminalDep = Annotated[Terminal, Depends(current_terminal)]


def _check_push(terminal: Terminal, body: PushRequest) -> None:
    if body.terminal_id != terminal.terminal_id:
        raise ApiError(403, "terminal_mismatch", f"this token belongs to {terminal.terminal_id}; it may not push "
                       f"for {body.terminal_id[:64]!r}")
    for event in body.events:
        if event.terminal_id != terminal.terminal_id:
            raise ApiError(403, "terminal_mismatch", f"event {event.id} names terminal {event.terminal_id!r}; "
                           f"this token may push only {terminal.terminal_id}'s events")
        if event.seq > MAX_INT64:
            raise ApiError(422, "seq_out_of_range", f"event {event.id}: seq must be at most {MAX_INT64}")


def _json(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(by_alias=True), status_code=status, media_type="application/json")


def _install_handlers(app: FastAPI) -> None:
    def refusal(status: int, reason: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
        app.state.metrics.refusals.inc(1, reason)
        return JSONResponse({"reason": reason, "detail": detail}, status_code=status, headers=headers)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        log.info("refused", extra={"event": "refused", "path": request.url.path, "status": exc.status,
                                   "reason": exc.reason})
        return refusal(exc.status, exc.reason, exc.detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        reason = "malformed_json" if any(e.get("type") == "json_invalid" for e in errors) else "malformed_request"
        parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in errors[:3]]
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        log.info("refused", extra={"event": "refused", "path": request.url.path, "status": 422, "reason": reason})
        return refusal(422, reason, "; ".join(parts)[:1000] + more)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not decode the body (not UTF-8 JSON): malformed, like bad JSON
            return refusal(422, "malformed_json", f"the body is not JSON text: {exc.detail}")
        reason = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return refusal(exc.status_code, reason, str(exc.detail), dict(exc.headers or {}))

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        log.error("database error", extra={"event": "database_error", "path": request.url.path,
                                           "error": type(exc).__name__}, exc_info=exc)
        return refusal(503, "storage_unavailable", "the central database did not answer; try again later")


def create_app(store: CentralStore | str, *, admin_token: str | None = None,
               metrics: CentralMetrics | None = None) -> FastAPI:
    """The API over ``store`` (a :class:`CentralStore`, or a path/URL the app opens and closes itself).

    ``admin_token`` enables ``/v1/admin/*``; without it those endpoints answer 403.
    """
    owned = isinstance(store, str)
    central = CentralStore.open(store) if isinstance(store, str) else store

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            central.close()

    app = FastAPI(title="Linfen central sync service", version=f"{PROTOCOL_VERSION}", lifespan=lifespan,
                  description=__doc__, docs_url=None, redoc_url=None)
    app.state.store = central
    app.state.admin_token = validate_admin_token(admin_token)
    app.state.metrics = metrics or CentralMetrics()
    app.add_middleware(GuardMiddleware, metrics=app.state.metrics)
    _install_handlers(app)
    versioned = [Depends(protocol_version)]

    @app.post("/v1/events/push", response_model=PushResponse, dependencies=versioned,
              responses=_errors(400, 401, 403, 413, 422), summary="Push a batch of outbox events")
    def push(body: PushRequest, terminal: TerminalDep) -> Response:
        _check_push(terminal, body)
        try:
            outcome = central.push(terminal.terminal_id, body.events)
        except CentralError as exc:  # a payload over the protocol's limit: the whole batch is refused
            raise api_error_from(exc) from None
        m = app.state.metrics
        m.events_stored.inc(outcome.stored)
        m.events_duplicate.inc(outcome.duplicates)
        m.events_conflict.inc(outcome.conflicts)
        log.info("push", extra={"event": "push", "terminal_id": terminal.terminal_id, "events": len(body.events),
                                "stored": outcome.stored, "duplicates": outcome.duplicates,
                                "conflicts": outcome.conflicts, "highest_seq": outcome.response.highest_seq,
                                "gaps": len(outcome.response.gaps)})
        return _json(outcome.response)

    @app.get("/v1/reference/changes", response_model=ChangesResponse, dependencies=versioned,
             responses=_errors(400, 401, 403, 413, 422), summary="Reference-data changes of the terminal's site")
    def changes(terminal: TerminalDep,
                cursor: Annotated[int, Query(ge=0, le=MAX_INT64, description="last cursor applied (0: all)")] = 0,
                limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="most changes to return")] = DEFAULT_PAGE,
                ) -> Response:
        return Response(central.changes_json(terminal.site, cursor, limit), media_type="application/json")

    @app.post("/v1/heartbeat", response_model=HeartbeatResponse, dependencies=versioned,
              responses=_errors(400, 401, 403, 413, 422), summary="Device status and outbox length")
    def heartbeat(body: HeartbeatRequest, terminal: TerminalDep) -> Response:
        if body.terminal_id != terminal.terminal_id:
            raise ApiError(403, "terminal_mismatch", f"this token belongs to {terminal.terminal_id}")
        if body.outbox_pending > MAX_INT64:
            raise ApiError(422, "malformed_request", f"outbox_pending must be at most {MAX_INT64}")
        central.heartbeat(body)
        return _json(HeartbeatResponse(server_time=dt.datetime.now(dt.UTC)))

    @app.post("/v1/admin/enrol", response_model=EnrolResponse, dependencies=[*versioned, Depends(require_admin)],
              responses=_errors(400, 401, 403, 409, 413, 422), summary="Enrol a terminal (admin)")
    def enrol(body: EnrolRequest) -> Response:
        try:
            creds = central.enrol(body.role, body.site, body.terminal_id)
        except CentralError as exc:
            raise api_error_from(exc) from None
        log.info("enrolled", extra={"event": "enrol", "terminal_id": creds.terminal_id, "role": creds.role,
                                    "site": creds.site})
        return _json(creds)

    @app.post("/v1/admin/revoke", response_model=RevokeResponse, dependencies=[*versioned, Depends(require_admin)],
              responses=_errors(400, 401, 403, 404, 413, 422), summary="Revoke a terminal (admin)")
    def revoke(body: RevokeRequest) -> Response:
        try:
            when = central.revoke(body.terminal_id, body.reason)
        except CentralError as exc:
            raise api_error_from(exc) from None
        log.warning("revoked", extra={"event": "revoke", "terminal_id": body.terminal_id, "why": body.reason})
        return _json(RevokeResponse(terminal_id=body.terminal_id, revoked_at=dt.datetime.fromisoformat(when)))

    @app.get("/health", response_model=HealthResponse, responses=_errors(503), summary="Up, and the database answers")
    def health() -> Response:
        version = central.ping()
        return _json(HealthResponse(status="ok", database="ok", backend=central.backend, schema_version=version))

    @app.get("/metrics", response_class=Response, summary="Prometheus metrics",
             responses={200: {"content": {CONTENT_TYPE.split(";")[0]: {"schema": {"type": "string"}}}}})
    def metrics_text() -> Response:
        text = app.state.metrics.render(central.terminal_states(), central.ping())
        return Response(text, media_type=CONTENT_TYPE)

    return app


def app_from_env() -> FastAPI:
    """The app for uvicorn worker processes: database, admin token and log level from the environment."""
    db = os.environ.get(DB_ENV)
    if not db:
        raise CentralError("bad_db", f"{DB_ENV} is not set")
    if os.environ.get(LOG_LEVEL_ENV):
        from .logs import configure_logging

        configure_logging(os.environ[LOG_LEVEL_ENV])
    return create_app(db, admin_token=os.environ.get(ADMIN_TOKEN_ENV) or None)
