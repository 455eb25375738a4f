"""The central's HTTP app (FastAPI): one router per module, plus ``/health`` and ``/metrics``.

    app = create_app("central.db", admin_token=None)      # or create_app(CentralStore(...))

The modules (:mod:`.modules`) bring their routers: the sync API (:mod:`.sync_api.router`:
push, pull, heartbeat, admin enrol/revoke) today; the Time Bank, alerts and reports later.
Every refusal, whichever router it comes from, is the protocol's ``ErrorBody`` (``reason`` +
``detail``) with a clear status: 400 wrong protocol version, 401 no/bad token, 403 revoked or not
allowed (another terminal's events, another site, not admin), 404 unknown path or terminal, 409
already enrolled, 413 body over :data:`~sync.protocol.MAX_BODY_BYTES`, 422 malformed or
non-strict JSON, personal data, or a request outside the protocol, 429 a terminal pushing too
often (with ``Retry-After``).  A 5xx means the central itself is broken (503: the database is
unreachable).
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..protocol import PROTOCOL_VERSION
from .analytics.page import router as analytics_page
from .auth import ADMIN_TOKEN_ENV, validate_admin_token
from .errors import ApiError, CentralError
from .metrics import CentralMetrics
from .middleware import GuardMiddleware
from .modules import MODULES
from .ops import MIN_FREE_BYTES
from .ops import router as ops_router
from .ratelimit import PushLimiter
from .storage import CentralStore
from .timebank.pages import router as timebank_pages
from .timebank.settings import TimebankSettings, settings_from_env
from .timebank.web_auth import PageExit, page_exit_handler
from .web.session import router as web_session

log = logging.getLogger("linfen.central.api")

DB_ENV = "LINFEN_CENTRAL_DB"
LOG_LEVEL_ENV = "LINFEN_CENTRAL_LOG_LEVEL"  # set for worker processes, which configure their own logging


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
               metrics: CentralMetrics | None = None, push_limiter: PushLimiter | None = None,
               timebank: TimebankSettings | None = None) -> FastAPI:
    """The API over ``store`` (a :class:`CentralStore`, or a path/URL the app opens and closes itself).

    ``admin_token`` enables ``/v1/admin/*``; without it those endpoints answer 403.  ``push_limiter``
    is the per-terminal push rate limit (default :class:`PushLimiter`'s rate and burst).  The
    routers find the store, the admin token, the limiter and the metrics in ``app.state``;
    ``timebank`` (the person key and SMS gateway) is ``app.state.timebank``.
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
    app.state.push_limiter = push_limiter or PushLimiter()
    app.state.min_free_bytes = MIN_FREE_BYTES
    app.state.timebank = timebank or TimebankSettings()
    app.add_middleware(GuardMiddleware, metrics=app.state.metrics)
    _install_handlers(app)
    app.add_exception_handler(PageExit, page_exit_handler)  # Time Bank pages: sign-in redirects, worded refusals
    for module in MODULES:
        app.include_router(module.router)
    app.include_router(ops_router)
    app.include_router(web_session)  # web pages (HTML, outside the API schema): sign-in, then each page
    app.include_router(analytics_page)
    app.include_router(timebank_pages)
    return app


def app_from_env() -> FastAPI:
    """The app for uvicorn worker processes: database, admin token and log level from the environment."""
    db = os.environ.get(DB_ENV)
    if not db:
        raise CentralError("bad_db", f"{DB_ENV} is not set")
    if os.environ.get(LOG_LEVEL_ENV):
        from .logs import configure_logging

        configure_logging(os.environ[LOG_LEVEL_ENV])
    return create_app(db, admin_token=os.environ.get(ADMIN_TOKEN_ENV) or None, timebank=settings_from_env())
