"""The Time Bank's report page and its CSV files (helper D): ``GET /tb/reports?month=YYYY-MM``.

For the 12 Shanghai months to ``month`` (default this month): active volunteers, approved hours
by month (a line, and members per month as a heat row), by category, team and 小区微事 (bars),
redemptions per reward, coins held against the rewards' capacity, the 易存难兑 list and the
partner units' contribution; every chart is followed by its numbers in a table, and each report
has a CSV link ``/tb/reports/<name>.csv`` (UTF-8 with BOM; the download is audited).
Organisers, committee workers and admins may read them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import Engine

from ..db import now_text, read_transaction, write_transaction
from ..errors import CentralError
from ..web import charts
from . import reports as rp
from .activities import CATEGORIES, SHANGHAI
from .audit import audit
from .web_auth import PageExit, page, refusal, require

router = APIRouter(include_in_schema=False)

READERS = ("organiser", "committee", "admin")
ELDERS_SHOWN = 50
BARS_SHOWN = 10


def _engine(request: Request) -> Engine:
    return request.app.state.store.engine


def this_month() -> str:
    """The current month in Shanghai."""
    return dt.datetime.now(SHANGHAI).strftime("%Y-%m")


def _month(request: Request, user: Any) -> str:
    month = request.query_params.get("month") or this_month()
    try:
        rp.window(month)
    except CentralError as exc:
        raise PageExit(refusal(request, 422, "月份不对", exc.detail, user=user, back="/tb/reports")) from None
    return month


def _hours_bars(title: str, rows: list[rp.Hours]) -> Any:
    return charts.bars(title, [(h.name, h.minutes / 60, f"{rp.hours_text(h.minutes)} 小时")
                               for h in rows[:BARS_SHOWN]])


def _month_line(short: list[str], by_month: list[rp.Hours]) -> Any:
    """Hours per month as a line; below 20 hours in the busiest month, minutes (whole hours would read as 0)."""
    if max((h.minutes for h in by_month), default=0) >= 20 * 60:
        return charts.line("每月服务小时", [(s, round(h.minutes / 60)) for s, h in zip(short, by_month, strict=True)],
                           tick_every=3)
    return charts.line("每月服务分钟", [(s, h.minutes) for s, h in zip(short, by_month, strict=True)], tick_every=3)


def figures(conn: Any, month: str, now: str) -> dict[str, Any]:
    """Every figure of the page for the 12 months to ``month``, with its charts."""
    win = rp.window(month)
    until = min(now, win.end)  # a past month's "active" counts end with that month
    if until == win.end:
        until = (dt.datetime.fromisoformat(win.end) - dt.timedelta(microseconds=1)).isoformat(timespec="microseconds")
    by_month = rp.hours_by_month(conn, win)
    by_category = rp.hours_by_category(conn, win, CATEGORIES)
    by_team, by_project = rp.hours_by_team(conn, win), rp.hours_by_project(conn, win)
    red = rp.redemptions(conn, win)
    cap = rp.capacity(conn)
    partners = rp.partners(conn, win)
    today = dt.datetime.fromisoformat(now).astimezone(SHANGHAI).date()
    elders = rp.hard_to_redeem(conn, today, last_earned=False)  # the page shows no dates; the CSV does
    short = [f"{int(h.key[5:])}月" for h in by_month]
    return {
        "win": win, "active": rp.active_volunteers(conn, until), "by_month": by_month, "by_category": by_category,
        "by_team": by_team, "by_project": by_project, "red": red, "cap": cap, "partners": partners,
        "line_unit": "小时" if max((h.minutes for h in by_month), default=0) >= 20 * 60 else "分钟",
        "until_day": dt.datetime.fromisoformat(until).astimezone(SHANGHAI).strftime("%Y-%m-%d"),
        "elders": elders[:ELDERS_SHOWN], "elders_total": len(elders),
        "elders_cc": sum(e.balance_cc for e in elders),
        "charts": {
            "by_month": _month_line(short, by_month),
            "members": charts.heat_row("每月参与人数", [(s, h.members, f"{h.members} 人", s if i % 3 == 0 else "")
                                                      for i, (s, h) in enumerate(zip(short, by_month, strict=True))]),
            "by_category": _hours_bars("按服务类别的小时", by_category),
            "by_team": _hours_bars("按居民团队的小时", by_team),
            "by_project": _hours_bars("按小区微事的小时", by_project),
            "redemptions": charts.bars("各奖励兑换的时间币", [(r.name, r.coins_cc, f"{r.count} 次 {rp.coins_text(r.coins_cc)} 币")
                                                          for r in red.per_reward[:BARS_SHOWN]]),
            "capacity": charts.bars("时间币存量与每月可兑", [("会员持有", cap.outstanding_cc,
                                                          f"{rp.coins_text(cap.outstanding_cc)} 币"),
                                                         ("每月可兑", cap.capacity_cc, f"{rp.coins_text(cap.capacity_cc)} 币")]),
            "partners": charts.bars("合作单位活动小时", [(p.name, p.minutes / 60, f"{rp.hours_text(p.minutes)} 小时")
                                                         for p in partners[:BARS_SHOWN]]),
        },
    }


@router.get("/tb/reports")
def reports_page(request: Request) -> Response:
    """The report page: charts, each with its numbers in a table, and the CSV links."""
    user = require(request, *READERS)
    month = _month(request, user)
    with read_transaction(_engine(request)) as conn:
        found = figures(conn, month, now_text())
    return page(request, "reports.html", user, month=month, prev=rp.add_months(month, -1),
                next=rp.add_months(month, 1), names=rp.REPORTS, hours=rp.hours_text, coins=rp.coins_text,
                generated=dt.datetime.now(SHANGHAI).strftime("%Y-%m-%d %H:%M"), **found)


@router.get("/tb/reports/{name}.csv")
def report_csv(request: Request, name: str) -> Response:
    """One report as CSV for Excel (UTF-8 with BOM; headings in Chinese and English)."""
    user = require(request, *READERS)
    month = _month(request, user)
    if name not in rp.REPORTS:
        raise PageExit(refusal(request, 404, "没有这个报表", f"没有叫 {name[:40]} 的报表。", user=user,
                               back="/tb/reports"))
    with write_transaction(_engine(request)) as conn:
        text = rp.csv_of(name, conn, month=month, now=now_text(), names=CATEGORIES)
        audit(conn, user.actor, "report.csv", f"report:{name}", {"month": month})
    return Response(text.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="timebank-{name}-{month}.csv"',
                             "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
