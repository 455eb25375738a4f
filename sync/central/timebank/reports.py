"""The Time Bank's figures for the committee and the sub-district office, and each as CSV.

Every figure is aggregated in SQL over indexed columns (``tb_shifts`` by status and check-in
time, members by id, redemptions by member), so the page stays fast at 13,000 members and
195,000 shifts.  Hours are **approved** shifts' ``minutes`` (pending, open and declined shifts
count nowhere); a shift belongs to the month (Shanghai time) of its check-in and to the
category written on it.  A window is a range of Shanghai months; times are stored as UTC text,
so a window is the UTC range [start, end).  Coins are hundredths (``_cc``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

from sqlalchemy import TIMESTAMP, ColumnElement, Connection, cast, distinct, exists, func, select

from ..errors import CentralError
from .schema import (
    tb_activities,
    tb_balances,
    tb_projects,
    tb_redemptions,
    tb_rewards,
    tb_shifts,
    tb_units,
    tb_volunteers,
)

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
ELDER_AGE = 75
APPROVED = tb_shifts.c.status == "approved"
DONE = tb_redemptions.c.status == "done"  # a redemption waiting for review, or refused, moved no coins


@dataclass(frozen=True)
class Window:
    """Shanghai months ``first``..``last`` (YYYY-MM) as the UTC range [start, end)."""

    first: str
    last: str
    start: str
    end: str


def _month_start(month: str) -> dt.datetime:
    try:
        day = dt.date.fromisoformat(f"{month}-01") if len(month) == 7 else None
    except ValueError:
        day = None
    if day is None:
        raise CentralError("bad_month", f"月份要写成 YYYY-MM，例如 2026-03，不是 {month[:20]!r}")
    return dt.datetime(day.year, day.month, 1, tzinfo=SHANGHAI)


def add_months(month: str, by: int) -> str:
    """``month`` moved by ``by`` months."""
    first = _month_start(month)
    index = first.year * 12 + first.month - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _utc(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def window(last: str, months: int = 12) -> Window:
    """The ``months`` Shanghai months ending with ``last`` (YYYY-MM)."""
    first = add_months(last, 1 - months)
    return Window(first, last, _utc(_month_start(first)), _utc(_month_start(add_months(last, 1))))


def month_of(at: str) -> str:
    """The Shanghai month (YYYY-MM) of a stored UTC time."""
    return dt.datetime.fromisoformat(at).astimezone(SHANGHAI).strftime("%Y-%m")


def _in(win: Window) -> list[ColumnElement[bool]]:
    """Approved shifts checked in during ``win``, found through the (status, check-in) index: for short windows."""
    return [APPROVED, tb_shifts.c.check_in_at >= win.start, tb_shifts.c.check_in_at < win.end]


def _scan(win: Window) -> list[ColumnElement[bool]]:
    """The same shifts for a long window, read by one pass over the table instead of the index.

    A year is about half of the table: SQLite reads it four times faster in one pass than by
    looking each indexed row up (measured at 195,000 shifts); ``status || ''`` keeps both
    backends' planners off the index, and PostgreSQL would choose a sequential scan here anyway.
    """
    return [tb_shifts.c.status.concat("") == "approved", tb_shifts.c.check_in_at >= win.start,
            tb_shifts.c.check_in_at < win.end]


def _shanghai_month(conn: Connection) -> ColumnElement[str]:
    """SQL for the Shanghai month (YYYY-MM) of a shift's check-in."""
    if conn.dialect.name == "postgresql":
        moment = cast(tb_shifts.c.check_in_at, TIMESTAMP(timezone=True))
        return func.to_char(func.timezone("Asia/Shanghai", moment), "YYYY-MM")
    return func.strftime("%Y-%m", tb_shifts.c.check_in_at, "+8 hours")


# -- figures -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Active:
    """Distinct members with an approved shift checked in during the 90 days before ``now`` / in ``month``."""

    last_90_days: int
    this_month: int
    month: str


@dataclass(frozen=True)
class Hours:
    """Approved hours of one group: ``minutes``, how many shifts, how many distinct members."""

    key: str
    name: str
    minutes: int
    shifts: int
    members: int


@dataclass(frozen=True)
class RewardCount:
    """Redemptions of one reward."""

    reward_id: int
    name: str
    count: int
    coins_cc: int


@dataclass(frozen=True)
class Redemptions:
    """Redemptions in the window: how many, coins spent, and per reward (most coins first)."""

    count: int
    coins_cc: int
    per_reward: list[RewardCount]


@dataclass(frozen=True)
class Capacity:
    """Coins held by members against what the rewards on offer can absorb (see :func:`capacity`)."""

    outstanding_cc: int
    members_with_coins: int
    capacity_cc: int
    rewards_in_stock: int

    @property
    def months_to_redeem(self) -> float | None:
        """Months of today's reward stock the members' coins would take (None when nothing is in stock)."""
        return None if self.capacity_cc == 0 else self.outstanding_cc / self.capacity_cc


@dataclass(frozen=True)
class Elder:
    """A member aged 75+ holding coins who has never redeemed (易存难兑)."""

    member_no: int
    name_masked: str
    age: int
    balance_cc: int
    last_earned: str | None


@dataclass(frozen=True)
class Partner:
    """A partner unit's contribution: its activities' approved hours, the rewards it gives and their redemptions."""

    unit_id: int
    name: str
    activities: int
    minutes: int
    rewards: int
    redemptions: int
    coins_cc: int


def active_volunteers(conn: Connection, now: str) -> Active:
    """Distinct members with an approved shift in the 90 days before ``now``, and in ``now``'s month."""
    at = dt.datetime.fromisoformat(now)
    month = month_of(now)
    count = select(func.count(distinct(tb_shifts.c.volunteer_id)))
    recent = conn.execute(count.where(APPROVED, tb_shifts.c.check_in_at >= _utc(at - dt.timedelta(days=90)),
                                      tb_shifts.c.check_in_at <= _utc(at))).scalar_one()
    this = conn.execute(count.where(*_in(window(month, 1)))).scalar_one()
    return Active(int(recent), int(this), month)


def _hours(rows: object) -> list[Hours]:
    out = [Hours(str(r.key), r.name or str(r.key), int(r.minutes or 0), int(r.shifts), int(r.members)) for r in rows]
    return sorted(out, key=lambda h: (-h.minutes, h.name))


def _sums() -> tuple:
    return (func.coalesce(func.sum(tb_shifts.c.minutes), 0).label("minutes"), func.count().label("shifts"),
            func.count(distinct(tb_shifts.c.volunteer_id)).label("members"))


def hours_by_project(conn: Connection, win: Window) -> list[Hours]:
    """Approved hours on activities of each 小区微事, most first."""
    q = (select(tb_projects.c.id.label("key"), tb_projects.c.title.label("name"), *_sums())
         .select_from(tb_shifts.join(tb_activities, tb_activities.c.id == tb_shifts.c.activity_id)
                      .join(tb_projects, tb_projects.c.id == tb_activities.c.project_id))
         .where(*_scan(win)).group_by(tb_projects.c.id, tb_projects.c.title))
    return _hours(conn.execute(q))


def hours_by_team(conn: Connection, win: Window) -> list[Hours]:
    """Approved hours of each team's members (the team a member is in now), most first.

    Shifts are summed per member first (195,000 rows become at most one per member), then the
    members are summed per team: no DISTINCT over the shifts.
    """
    per = (select(tb_shifts.c.volunteer_id, func.sum(tb_shifts.c.minutes).label("minutes"),
                  func.count().label("shifts")).where(*_scan(win)).group_by(tb_shifts.c.volunteer_id).subquery())
    q = (select(tb_units.c.id.label("key"), tb_units.c.name.label("name"),
                func.coalesce(func.sum(per.c.minutes), 0).label("minutes"), func.sum(per.c.shifts).label("shifts"),
                func.count().label("members"))
         .select_from(per.join(tb_volunteers, tb_volunteers.c.id == per.c.volunteer_id)
                      .join(tb_units, tb_units.c.id == tb_volunteers.c.team_id))
         .group_by(tb_units.c.id, tb_units.c.name))
    return _hours(conn.execute(q))


def hours_by_category(conn: Connection, win: Window, names: dict[str, str] | None = None) -> list[Hours]:
    """Approved hours per service category written on the shift, most first (``names``: code -> words)."""
    q = (select(tb_shifts.c.category.label("key"), tb_shifts.c.category.label("name"), *_sums())
         .where(*_scan(win)).group_by(tb_shifts.c.category))
    found = _hours(conn.execute(q))
    names = names or {}
    return [Hours(h.key, names.get(h.key, h.key), h.minutes, h.shifts, h.members) for h in found]


def hours_by_month(conn: Connection, win: Window) -> list[Hours]:
    """Approved hours per Shanghai month of the window, every month listed (0 when none), oldest first."""
    month = _shanghai_month(conn).label("month")
    found = {r.month: r for r in conn.execute(select(month, *_sums()).where(*_scan(win)).group_by(month))}
    out, m = [], win.first
    while m <= win.last:
        r = found.get(m)
        out.append(Hours(m, m, int(r.minutes or 0), int(r.shifts), int(r.members)) if r else Hours(m, m, 0, 0, 0))
        m = add_months(m, 1)
    return out


def redemptions(conn: Connection, win: Window) -> Redemptions:
    """Redemptions done in the window (not those waiting for review or refused): count, coins, per reward."""
    rows = conn.execute(select(tb_rewards.c.id, tb_rewards.c.name, func.count(), func.sum(tb_redemptions.c.cost_cc))
                        .join(tb_rewards, tb_rewards.c.id == tb_redemptions.c.reward_id)
                        .where(tb_redemptions.c.at >= win.start, tb_redemptions.c.at < win.end, DONE)
                        .group_by(tb_rewards.c.id, tb_rewards.c.name)).all()
    per = sorted((RewardCount(int(r[0]), r[1], int(r[2]), int(r[3] or 0)) for r in rows),
                 key=lambda x: (-x.coins_cc, x.name))
    return Redemptions(sum(x.count for x in per), sum(x.coins_cc for x in per), per)


def capacity(conn: Connection) -> Capacity:
    """Coins outstanding against the service capacity.

    ``outstanding_cc``: the sum of every positive member balance (accounts ``vol:<id>`` in
    ``tb_balances``).  ``capacity_cc``: for every active reward, its current ``stock`` × its
    ``cost_cc``, summed: the coins that could be redeemed if all of today's stock were taken,
    which we read as one month's supply (stock is topped up monthly).  ``months_to_redeem`` is
    their ratio: how many such months the coins already held would take to redeem.
    """
    held = conn.execute(select(func.coalesce(func.sum(tb_balances.c.balance_cc), 0), func.count())
                        .where(tb_balances.c.account.like("vol:%"), tb_balances.c.balance_cc > 0)).one()
    cap = conn.execute(select(func.coalesce(func.sum(tb_rewards.c.stock * tb_rewards.c.cost_cc), 0),
                              func.count()).where(tb_rewards.c.active == 1, tb_rewards.c.stock > 0)).one()
    return Capacity(int(held[0]), int(held[1]), int(cap[0]), int(cap[1]))


def hard_to_redeem(conn: Connection, today: dt.date, limit: int | None = None, *,
                   last_earned: bool = True) -> list[Elder]:
    """易存难兑: members aged 75+ on ``today`` holding coins with no redemption done, most coins first.

    ``last_earned`` is the check-out time of the member's latest approved shift (None: coins only
    from gifts or grants, or not asked for with ``last_earned=False``).  Three indexed reads joined here: the elders without a redemption,
    the positive member balances, and the latest approved shift of each elder listed.
    """
    born_by = today.replace(year=today.year - ELDER_AGE, day=28 if (today.month, today.day) == (2, 29)
                            else today.day).isoformat()
    elders = {int(r.id): r for r in conn.execute(
        select(tb_volunteers.c.id, tb_volunteers.c.name_masked, tb_volunteers.c.born_on)
        .where(tb_volunteers.c.born_on <= born_by,
               ~exists().where(tb_redemptions.c.volunteer_id == tb_volunteers.c.id, DONE)))}
    held = []
    for account, cc in conn.execute(select(tb_balances.c.account, tb_balances.c.balance_cc)
                                    .where(tb_balances.c.account.like("vol:%"), tb_balances.c.balance_cc > 0)):
        vid = account[4:]
        if vid.isdigit() and int(vid) in elders:
            held.append((int(vid), int(cc)))
    held.sort(key=lambda x: (-x[1], x[0]))
    if limit is not None:
        held = held[:limit]
    last: dict[int, str] = {}
    ids = [vid for vid, _ in held] if last_earned else []
    for start in range(0, len(ids), 500):
        last.update((int(v), at) for v, at in conn.execute(
            select(tb_shifts.c.volunteer_id, func.max(tb_shifts.c.check_out_at))
            .where(tb_shifts.c.volunteer_id.in_(ids[start:start + 500]),
                   tb_shifts.c.status.concat("") == "approved")  # by the member index, not the status one
            .group_by(tb_shifts.c.volunteer_id)))
    out = []
    for vid, cc in held:
        born = dt.date.fromisoformat(elders[vid].born_on)
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        out.append(Elder(vid, elders[vid].name_masked, age, cc, last.get(vid)))
    return out


def partners(conn: Connection, win: Window) -> list[Partner]:
    """Every partner unit: activities it hosted starting in the window, their approved hours, its rewards."""
    acts = dict(conn.execute(select(tb_activities.c.unit_id, func.count())
                             .where(tb_activities.c.starts_at >= win.start, tb_activities.c.starts_at < win.end)
                             .group_by(tb_activities.c.unit_id)).all())
    minutes = dict(conn.execute(select(tb_activities.c.unit_id, func.sum(tb_shifts.c.minutes))
                                .join(tb_activities, tb_activities.c.id == tb_shifts.c.activity_id)
                                .where(*_scan(win)).group_by(tb_activities.c.unit_id)).all())
    rewards = dict(conn.execute(select(tb_rewards.c.unit_id, func.count()).where(tb_rewards.c.active == 1)
                                .group_by(tb_rewards.c.unit_id)).all())
    redeemed = {r[0]: (int(r[1]), int(r[2] or 0)) for r in conn.execute(
        select(tb_rewards.c.unit_id, func.count(), func.sum(tb_redemptions.c.cost_cc))
        .join(tb_rewards, tb_rewards.c.id == tb_redemptions.c.reward_id)
        .where(tb_redemptions.c.at >= win.start, tb_redemptions.c.at < win.end, DONE).group_by(tb_rewards.c.unit_id))}
    out = []
    for uid, name in conn.execute(select(tb_units.c.id, tb_units.c.name).where(tb_units.c.kind == "partner")):
        count, coins = redeemed.get(uid, (0, 0))
        out.append(Partner(int(uid), name, int(acts.get(uid, 0)), int(minutes.get(uid) or 0),
                           int(rewards.get(uid, 0)), count, coins))
    return sorted(out, key=lambda p: (-p.minutes, -p.coins_cc, p.name))


# -- CSV -----------------------------------------------------------------------------------

def hours_text(minutes: int) -> str:
    """Minutes as hours with one decimal: ``90`` -> ``1.5``."""
    return f"{minutes / 60:.1f}"


def coins_text(cc: int) -> str:
    """Hundredths of a coin as coins: ``150`` -> ``1.50``."""
    return f"{cc / 100:.2f}"


_HOURS_HEAD = ["名称 name", "小时 hours", "分钟 minutes", "次数 shifts", "人数 members"]


def _hour_rows(found: list[Hours]) -> list[list[object]]:
    return [[h.name, hours_text(h.minutes), h.minutes, h.shifts, h.members] for h in found]


REPORTS = {  # name: (Chinese title, English title)
    "active": ("活跃志愿者", "active volunteers"), "by_month": ("按月服务时长", "hours by month"),
    "by_category": ("按服务类别", "hours by category"), "by_project": ("按小区微事", "hours by project"),
    "by_team": ("按居民团队", "hours by team"), "redemptions": ("兑换", "redemptions"),
    "capacity": ("存量与兑换能力", "coins outstanding vs capacity"), "elders": ("易存难兑", "hard to redeem"),
    "partners": ("合作单位贡献", "partner units"),
}


def table_of(report: str, conn: Connection, *, month: str, now: str,
             names: dict[str, str] | None = None) -> tuple[list[str], list[list[object]]]:
    """The header (Chinese + English) and rows of ``report`` for the 12 months to ``month``."""
    win = window(month)
    if report == "active":
        a = active_volunteers(conn, now)
        return ["近 90 天 last 90 days", f"{a.month} 当月 this month"], [[a.last_90_days, a.this_month]]
    if report in ("by_month", "by_category", "by_project", "by_team"):
        fn = {"by_month": hours_by_month, "by_project": hours_by_project, "by_team": hours_by_team}.get(report)
        found = fn(conn, win) if fn else hours_by_category(conn, win, names)
        return (["月份 month", *_HOURS_HEAD[1:]] if report == "by_month" else _HOURS_HEAD), _hour_rows(found)
    if report == "redemptions":
        r = redemptions(conn, win)
        rows = [[x.name, x.count, coins_text(x.coins_cc)] for x in r.per_reward]
        return ["奖励 reward", "次数 count", "时间币 coins"], [*rows, ["合计 total", r.count, coins_text(r.coins_cc)]]
    if report == "capacity":
        c = capacity(conn)
        months = "" if c.months_to_redeem is None else f"{c.months_to_redeem:.1f}"
        return (["会员持有 coins held", "持币人数 members", "每月可兑 capacity per month", "有库存奖励 rewards",
                 "需月数 months"], [[coins_text(c.outstanding_cc), c.members_with_coins, coins_text(c.capacity_cc),
                                    c.rewards_in_stock, months]])
    if report == "elders":
        today = dt.datetime.fromisoformat(now).astimezone(SHANGHAI).date()
        return (["会员号 member_no", "姓名 name", "年龄 age", "余额 balance", "最近获得 last earned"],
                [[e.member_no, e.name_masked, e.age, coins_text(e.balance_cc), (e.last_earned or "")[:10]]
                 for e in hard_to_redeem(conn, today)])
    if report == "partners":
        return (["单位 unit", "活动数 activities", "小时 hours", "奖励种类 rewards", "兑换次数 redemptions",
                 "时间币 coins"], [[p.name, p.activities, hours_text(p.minutes), p.rewards, p.redemptions,
                                   coins_text(p.coins_cc)] for p in partners(conn, win)])
    raise CentralError("no_report", f"没有叫 {report[:40]!r} 的报表")


def csv_of(report: str, conn: Connection, *, month: str, now: str, names: dict[str, str] | None = None) -> str:
    """``report`` as CSV text for Excel: UTF-8 with a BOM, a Chinese + English header row."""
    head, rows = table_of(report, conn, month=month, now=now, names=names)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(head)
    writer.writerows(rows)
    return "\ufeff" + out.getvalue()
