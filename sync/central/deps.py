"""What every module's router shares: authentication dependencies, the protocol-version check, error docs.

    @router.post("/v1/x", dependencies=[Depends(protocol_version)], responses=error_responses(401, 422))
    def x(terminal: TerminalDep) -> Response: ...

The store and the metrics are the app's (``request.app.state.store`` / ``.metrics``), so a
router holds no state and can be included in any app :func:`sync.central.app.create_app` builds.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from ..protocol import PROTOCOL_HEADER, PROTOCOL_VERSION, ErrorBody
from .auth import Terminal, bearer_token, check_admin
from .errors import ApiError

MAX_INT64 = 2**63 - 1  # largest seq, cursor or count the database columns hold

_STATUS_WORDS = {400: "wrong protocol version", 401: "no or bad token", 403: "not allowed", 404: "not found",
                 409: "already enrolled", 413: "body too large", 422: "malformed request", 429: "too many requests (see Retry-After)",
                 503: "database down"}

_terminal_bearer = HTTPBearer(auto_error=False, scheme_name="terminal", description="token from enrolment")
_admin_bearer = HTTPBearer(auto_error=False, scheme_name="admin", description="the central's admin token")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting each refusal status with the protocol's ``ErrorBody``."""
    return {s: {"model": ErrorBody, "description": _STATUS_WORDS[s]} for s in statuses}


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


def json_response(model: BaseModel, status: int = 200) -> Response:
    """``model`` as a JSON response (by alias), without FastAPI validating it a second time."""
    return Response(model.model_dump_json(by_alias=True), status_code=status, media_type="application/json")
