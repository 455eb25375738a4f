"""The Time Bank's API routes (in the OpenAPI schema; the web pages are :mod:`.pages`).

    GET /v1/timebank/ledger-check     the coin ledger's sums (admin token)
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from ..deps import error_responses, json_response, protocol_version, require_admin
from .ledger_check import check_ledger

router = APIRouter(tags=["timebank"])


class LedgerCheck(BaseModel):
    """The coin ledger's health: the whole system sums to zero and every cached balance equals its movements."""

    total_cc: int
    accounts: int
    mismatched_accounts: list[str]
    unbalanced_entries: list[str]


@router.get("/v1/timebank/ledger-check", response_model=LedgerCheck,
            dependencies=[Depends(protocol_version), Depends(require_admin)],
            responses=error_responses(400, 401, 403), summary="Check the coin ledger (admin)")
def ledger_check(request: Request) -> Response:
    """Sum of every movement, cached balances against their movements, entries that do not sum to zero."""
    with request.app.state.store.engine.connect() as conn:
        return json_response(LedgerCheck(**check_ledger(conn)))
