"""The canteen analytics web page: ``GET /analytics/canteen?month=YYYY-MM[&canteen=SITE]`` (admin).

Server-rendered from ``templates/canteen.html`` (:mod:`sync.central.web`): the month's key
figures, then each chart with its numbers in a table under it: dish ranking (bars), daily
customers (a line), meals per 15 minutes (a heat row), subsidised meals by tier (bars),
repurchase by age band, and the canteens side by side.  A browser signs in with the form of
:mod:`sync.central.web.session`; a script may send the admin token as a bearer header.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from ..errors import CentralError
from ..web import charts
from ..web.session import NeedLogin, login_redirect, render, require_page_admin
from .figures import ALL
from .load import month_bounds
from .models import CanteenAnalytics, CanteenFigures
from .queries import canteen_views, this_month

router = APIRouter(include_in_schema=False)

TOP_SHOWN = 10  # dishes on the page
BANDS_ZH = {"under-60": "60 岁以下", "60-79": "60–79 岁", "80+": "80 岁以上"}


def yuan(fen: int | None) -> str:
    """``1234`` -> ``12.34 元``; None -> ``—``."""
    return "—" if fen is None else f"{fen / 100:,.2f} 元"


def money(fen: int | None) -> str:
    """``1234`` -> ``12.34`` (the table's header says 元); None -> ``—``."""
    return "—" if fen is None else f"{fen / 100:,.2f}"


def whole_yuan(fen: int | None) -> str:
    """``1234567`` -> ``12346`` (whole yuan, half up: a narrow table column); None -> ``—``."""
    return "—" if fen is None else str((fen + 50) // 100)


def percent(value: float | None, missing: str = "—") -> str:
    """``0.4567`` -> ``45.7%``; None -> ``missing``."""
    return missing if value is None else f"{value * 100:.1f}%"


def _shift(month: str, by: int) -> str:
    first, _ = month_bounds(month)
    index = first.year * 12 + first.month - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _charts(shown: CanteenFigures, found: CanteenAnalytics) -> dict[str, object]:
    dishes = shown.dishes[:TOP_SHOWN]
    return {
        "dishes": charts.bars("菜品排行（份数）", [(d.dish, d.qty, f"{d.qty} 份") for d in dishes]),
        "daily": charts.line("每日就餐人数", [(str(int(d.day[8:])), d.customers) for d in shown.days]),
        "slots": charts.heat_row("每 15 分钟就餐份数", [(s.start, s.meals, f"{s.meals} 份",
                                                        str(int(s.start[:2])) if s.start.endswith(":00") else "")
                                                       for s in shown.slots]),
        "tiers": charts.bars("补贴餐次（按档次）", [(t.tier, t.subsidy_fen, f"{t.meals} 餐 {yuan(t.subsidy_fen)}")
                                                    for t in found.elderly.tiers]),
    }


@router.get("/analytics/canteen")
def canteen_page(request: Request,
                 month: Annotated[str | None, Query(max_length=7)] = None,
                 canteen: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """The page for ``month`` (default: this month), all canteens or one."""
    try:
        logout_csrf = require_page_admin(request)
    except NeedLogin as exc:
        return login_redirect(exc)
    month = month or this_month()
    try:
        month_bounds(month)
    except CentralError as exc:
        return render("canteen.html", status=422, error=exc.detail, found=None, month=this_month(),
                      logout_csrf=logout_csrf)
    found, everything = canteen_views(request.app.state.store, month, canteen or None)
    shown = found.canteens[0] if canteen and found.canteens else found.total
    first, _ = month_bounds(month)
    return render("canteen.html", found=found, shown=shown, everything=everything, month=month,
                  month_zh=f"{first.year} 年 {first.month} 月", prev=_shift(month, -1), next=_shift(month, 1),
                  canteen=canteen, charts=_charts(shown, found), yuan=yuan, money=money, whole_yuan=whole_yuan, percent=percent, bands=BANDS_ZH,
                  top_shown=TOP_SHOWN, all_name=ALL, logout_csrf=logout_csrf, error=None,
                  generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))
