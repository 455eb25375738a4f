"""The analytics module's routes.

    GET /v1/analytics/canteen?month=2026-12[&canteen=SITE][&as_of=2026-12-31]   every figure (admin token)
    GET /v1/analytics/top-dishes?month=2026-12[&site=SITE][&limit=5]            the most popular dishes

The web page ``GET /analytics/canteen`` is :mod:`.page`'s router, which :mod:`sync.central.app`
includes beside the modules' (a module's router holds only API routes, all in the schema).

``top-dishes`` takes the admin token or a terminal's: a terminal may ask for its own site's
canteen, or (no ``site``) for every canteen together, which is what the hall display shows
and what :func:`.queries.publish_top_dishes` sends to every site anyway; another site's list
is 403.  The figures name no person (counts and sums only), so reading them is not audited.
"""

from __future__ import annotations

import datetime as dt
import hmac
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..auth import bearer_token, token_hash
from ..deps import error_responses, json_response, protocol_version, require_admin
from ..errors import ApiError, CentralError, api_error_from
from .models import CanteenAnalytics, TopDishes
from .queries import TOP, canteen_month, this_month, top_dishes

router = APIRouter(tags=["analytics"])
_bearer = HTTPBearer(auto_error=False, scheme_name="terminal or admin",
                     description="a terminal's token (its own site) or the admin token")

MonthQuery = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM (default: "
                                         "this month, Shanghai time)")]
SiteQuery = Annotated[str | None, Query(min_length=1, max_length=64, description="a canteen's site")]


def _month(month: str | None) -> str:
    return month or this_month()


@router.get("/v1/analytics/canteen", response_model=CanteenAnalytics,
            dependencies=[Depends(protocol_version), Depends(require_admin)],
            responses=error_responses(400, 401, 403, 422), summary="Canteen figures of a month (admin)")
def canteen(request: Request, month: MonthQuery = None, canteen: SiteQuery = None,
            as_of: Annotated[dt.date | None, Query(description="last day taken as complete (default: yesterday)")]
            = None) -> Response:
    """Dish ranking, daily customers, per-capita spend, revenue, repurchase, occupancy, card activity, tiers."""
    try:
        found = canteen_month(request.app.state.store, _month(month), canteen, as_of)
    except CentralError as exc:
        raise api_error_from(exc) from None
    return json_response(found)


def _reader_site(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str | None:
    """None for the admin token; the terminal's site for a terminal's token; 401/403 otherwise."""
    token = bearer_token(f"{credentials.scheme} {credentials.credentials}" if credentials else None)
    admin = request.app.state.admin_token
    if admin and hmac.compare_digest(token_hash(token), token_hash(admin)):
        return None
    return request.app.state.store.authenticate(token).site


@router.get("/v1/analytics/top-dishes", response_model=TopDishes, dependencies=[Depends(protocol_version)],
            responses=error_responses(400, 401, 403, 422), summary="The month's most popular dishes")
def top(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        month: MonthQuery = None, site: SiteQuery = None,
        limit: Annotated[int, Query(ge=1, le=50, description="dishes to return")] = TOP) -> Response:
    """Dishes by portions sold at ``site``'s canteen, or at every canteen together without ``site``."""
    own = _reader_site(request, credentials)
    if own is not None and site is not None and site != own:
        raise ApiError(403, "other_site", f"this terminal belongs to site {own}; it may read only that site's "
                       "dishes or every canteen's together (no site)")
    try:
        found = top_dishes(request.app.state.store, _month(month), site, limit)
    except CentralError as exc:
        raise api_error_from(exc) from None
    return json_response(found)

