"""The sync API's routes: push events, pull reference changes, heartbeat, and the admin's enrol and revoke.

Every refusal is the protocol's ``ErrorBody`` (see :mod:`sync.central.app`).  A push whose
payloads carry personal data (:func:`sync.pii.find_pii`: an ID-number field, a raw ID number, an
unmasked name) is refused whole with 422 ``personal_data`` naming the event and field; the sync
client then splits the batch and quarantines that event alone.  A push is answered
only after its transaction committed (:meth:`~sync.central.storage.CentralStore.push`).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from ...pii import find_pii
from ...protocol import (
    ChangesResponse,
    EnrolRequest,
    EnrolResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    PushRequest,
    PushResponse,
)
from ..auth import Terminal
from ..deps import MAX_INT64, TerminalDep, error_responses, json_response, protocol_version, require_admin
from ..errors import ApiError, CentralError, api_error_from
from ..reference import DEFAULT_PAGE, MAX_PAGE

log = logging.getLogger("linfen.central.api")

_versioned = [Depends(protocol_version)]
router = APIRouter(dependencies=_versioned)


class RevokeRequest(BaseModel):
    """An operator retiring a terminal's credentials."""

    model_config = ConfigDict(extra="forbid")
    terminal_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    reason: str = Field("", max_length=200)


class RevokeResponse(BaseModel):
    """When the terminal was revoked (the first time, if it already was)."""

    terminal_id: str
    revoked_at: dt.datetime


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
    for index, event in enumerate(body.events):
        finding = find_pii(event.payload)
        if finding is not None:
            raise ApiError(422, "personal_data", f"events[{index}] (id {event.id}, seq {event.seq}): field "
                           f"payload.{finding.path}: {finding.reason}; nothing in the batch was stored")


@router.post("/v1/events/push", response_model=PushResponse,
             responses=error_responses(400, 401, 403, 413, 422, 429), summary="Push a batch of outbox events")
def push(request: Request, body: PushRequest, terminal: TerminalDep) -> Response:
    """Store a batch of the terminal's events once each; acknowledge after the commit."""
    wait = request.app.state.push_limiter.take(terminal.terminal_id)
    if wait > 0:
        retry = max(1, math.ceil(wait))
        raise ApiError(429, "rate_limited", f"terminal {terminal.terminal_id} is pushing too often; try again in "
                       f"{retry} s", {"Retry-After": str(retry)})
    _check_push(terminal, body)
    try:
        outcome = request.app.state.store.push(terminal.terminal_id, body.events)
    except CentralError as exc:  # a payload over the protocol's limit: the whole batch is refused
        raise api_error_from(exc) from None
    m = request.app.state.metrics
    m.events_stored.inc(outcome.stored)
    m.events_duplicate.inc(outcome.duplicates)
    m.events_conflict.inc(outcome.conflicts)
    log.info("push", extra={"event": "push", "terminal_id": terminal.terminal_id, "events": len(body.events),
                            "stored": outcome.stored, "duplicates": outcome.duplicates,
                            "conflicts": outcome.conflicts, "highest_seq": outcome.response.highest_seq,
                            "gaps": outcome.response.gap_count})
    return json_response(outcome.response)


@router.get("/v1/reference/changes", response_model=ChangesResponse,
            responses=error_responses(400, 401, 403, 413, 422),
            summary="Reference-data changes of the terminal's site")
def changes(request: Request, terminal: TerminalDep,
            cursor: Annotated[int, Query(ge=0, le=MAX_INT64, description="last cursor applied (0: all)")] = 0,
            limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="most changes to return")] = DEFAULT_PAGE,
            ) -> Response:
    """One page of the site's change feed after ``cursor``."""
    body = request.app.state.store.changes_json(terminal.site, cursor, limit)
    return Response(body, media_type="application/json")


@router.post("/v1/heartbeat", response_model=HeartbeatResponse, responses=error_responses(400, 401, 403, 413, 422),
             summary="Device status and outbox length")
def heartbeat(request: Request, body: HeartbeatRequest, terminal: TerminalDep) -> Response:
    """Keep the terminal's latest device status and outbox length."""
    if body.terminal_id != terminal.terminal_id:
        raise ApiError(403, "terminal_mismatch", f"this token belongs to {terminal.terminal_id}")
    for name in ("outbox_pending", "quarantined_events", "skipped_changes"):
        if getattr(body, name) > MAX_INT64:
            raise ApiError(422, "malformed_request", f"{name} must be at most {MAX_INT64}")
    request.app.state.store.heartbeat(body)
    return json_response(HeartbeatResponse(server_time=dt.datetime.now(dt.UTC)))


@router.post("/v1/admin/enrol", response_model=EnrolResponse, dependencies=[Depends(require_admin)],
             responses=error_responses(400, 401, 403, 409, 413, 422), summary="Enrol a terminal (admin)")
def enrol(request: Request, body: EnrolRequest) -> Response:
    """Issue a terminal's credentials (the token is shown only in this answer)."""
    try:
        creds = request.app.state.store.enrol(body.role, body.site, body.terminal_id)
    except CentralError as exc:
        raise api_error_from(exc) from None
    log.info("enrolled", extra={"event": "enrol", "terminal_id": creds.terminal_id, "role": creds.role,
                                "site": creds.site})
    return json_response(creds)


@router.post("/v1/admin/revoke", response_model=RevokeResponse, dependencies=[Depends(require_admin)],
             responses=error_responses(400, 401, 403, 404, 413, 422), summary="Revoke a terminal (admin)")
def revoke(request: Request, body: RevokeRequest) -> Response:
    """Refuse a terminal from now on."""
    try:
        when = request.app.state.store.revoke(body.terminal_id, body.reason)
    except CentralError as exc:
        raise api_error_from(exc) from None
    log.warning("revoked", extra={"event": "revoke", "terminal_id": body.terminal_id, "why": body.reason})
    return json_response(RevokeResponse(terminal_id=body.terminal_id, revoked_at=dt.datetime.fromisoformat(when)))
