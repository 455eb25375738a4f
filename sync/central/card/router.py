"""The card module's routes, for operators (the central's admin token, as ``/v1/admin/*``).

    GET /v1/card/{card_no}/statement     the card's movements in order, running balance, totals
    GET /v1/card/problems?after=&limit=  money events the ledger refused, oldest first
    GET /v1/card/ledger/check            sum of all movements (0), cached balances against their sums

Readers learn balances from the ``balance`` reference rows of their site's feed, not here.
A statement is one person's record (DESIGN §7): each read is logged (``card_statement_read``
with the card number and the client address); the central has no audit table yet.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from ..db import read_transaction
from ..deps import MAX_INT64, error_responses, json_response, protocol_version, require_admin
from ..errors import ApiError
from .models import LedgerCheck, Problems, Statement
from .queries import MAX_PROBLEMS, ledger_check, problems, statement

log = logging.getLogger("linfen.central.audit")
router = APIRouter(dependencies=[Depends(protocol_version), Depends(require_admin)], tags=["card"])


@router.get("/v1/card/problems", response_model=Problems, responses=error_responses(400, 401, 403, 422),
            summary="Money events the ledger refused (admin)")
def card_problems(request: Request,
                  after: Annotated[int, Query(ge=0, le=MAX_INT64, description="last problem id seen")] = 0,
                  limit: Annotated[int, Query(ge=1, le=MAX_PROBLEMS)] = 100) -> Response:
    """Problem rows after ``after``, oldest first."""
    with read_transaction(request.app.state.store.engine) as conn:
        return json_response(problems(conn, after, limit))


@router.get("/v1/card/ledger/check", response_model=LedgerCheck, responses=error_responses(400, 401, 403),
            summary="Check the card ledger's invariants (admin)")
def card_ledger_check(request: Request) -> Response:
    """The sum of all movements, unbalanced entries and cached balances that differ from their movements."""
    with read_transaction(request.app.state.store.engine) as conn:
        return json_response(ledger_check(conn))


@router.get("/v1/card/{card_no}/statement", response_model=Statement,
            responses=error_responses(400, 401, 403, 404, 422), summary="A card's statement (admin)")
def card_statement(request: Request,
                   card_no: Annotated[str, Path(pattern=r"^[0-9A-F]{2,40}$", description="UID, upper-case hex")],
                   ) -> Response:
    """Every movement of the card in posting order, with the running balance and totals."""
    log.info("card statement read", extra={"event": "card_statement_read", "card_no": card_no,
                                           "client": request.client.host if request.client else None})
    with read_transaction(request.app.state.store.engine) as conn:
        found = statement(conn, card_no)
    if found is None:
        raise ApiError(404, "unknown_card", f"the ledger has no entry for card {card_no}")
    return json_response(found)
