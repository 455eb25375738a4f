"""Partner units, residents' teams, activities and sign-up (docs/timebank.md §7, §8).

A unit is a partner (a shop, clinic or school that hosts activities or gives rewards) or a
residents' team (members join one through ``tb_volunteers.team_id``; a team proposes 小区微事).
An activity has a number of places (``slots``); a member signs up within the policy's limits
(``signup_ahead_days``, ``max_open_signups``) and with the profile fields the activity needs.
Two people taking the last place at once: the activity's row is locked (``FOR UPDATE`` on
PostgreSQL; SQLite's write transaction is ``BEGIN IMMEDIATE``) before the places are counted,
so only one gets it.  Every refusal is a :class:`~sync.central.errors.CentralError` whose
``detail`` is the sentence shown to the member.  Times are stored as UTC ISO text.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, Select, and_, func, insert, select, update

from ..errors import CentralError
from .audit import audit
from .people import NEEDS_ZH, SERVICE_ZH, member, missing_for
from .policy import policy_on
from .schema import tb_activities, tb_projects, tb_signups, tb_units, tb_volunteers

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
UNIT_KINDS = {"partner": "合作单位", "team": "居民团队"}
CATEGORIES = SERVICE_ZH  # service code -> words (docs/timebank.md §3)
NEEDS = NEEDS_ZH  # profile field code -> words, checked by people.missing_for
MAX_SLOTS = 500
CHECKIN_EARLY = dt.timedelta(minutes=60)  # a QR check-in opens this long before the activity starts


@dataclass(frozen=True)
class Unit:
    """A partner unit or a residents' team."""

    id: int
    kind: str
    name: str
    community: str | None


@dataclass(frozen=True)
class Activity:
    """One activity with how many places are taken (``signed``)."""

    id: int
    title: str
    category: str
    community: str
    place: str
    starts_at: str
    ends_at: str
    slots: int
    signed: int
    status: str
    needs: str
    unit_id: int | None
    project_id: int | None
    checkin_token: str

    @property
    def left(self) -> int:
        """Places still free."""
        return max(0, self.slots - self.signed)


def utc_text(value: str | dt.datetime) -> str:
    """A time as stored (UTC ISO text); a naive time is read as Shanghai time. Bad text: CentralError."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise CentralError("bad_time", f"时间格式不对：{value[:40]}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def local(at: str) -> dt.datetime:
    """A stored UTC time in Shanghai time."""
    return dt.datetime.fromisoformat(at).astimezone(SHANGHAI)


def _words(value: str, what: str, longest: int) -> str:
    value = (value or "").strip()
    if not value:
        raise CentralError("missing", f"请填写{what}")
    if len(value) > longest:
        raise CentralError("too_long", f"{what}最多 {longest} 个字")
    return value


# -- units and teams -----------------------------------------------------------------------

def add_unit(conn: Connection, kind: str, name: str, community: str | None, actor: str, at: str) -> int:
    """Add a partner unit or a team; a name already used for that kind is refused in words."""
    if kind not in UNIT_KINDS:
        raise CentralError("bad_kind", f"单位类型只能是 partner（合作单位）或 team（居民团队），不是 {kind!r}")
    name = _words(name, "名称", 80)
    if kind == "team" and not (community or "").strip():
        raise CentralError("missing", "居民团队要写明所在小区")
    taken = conn.execute(select(tb_units.c.id).where(and_(tb_units.c.kind == kind, tb_units.c.name == name))).first()
    if taken is not None:
        raise CentralError("unit_exists", f"已经有叫「{name}」的{UNIT_KINDS[kind]}了")
    uid = conn.execute(insert(tb_units).values(kind=kind, name=name, community=(community or "").strip() or None,
                                               created_at=utc_text(at), created_by=actor)
                       .returning(tb_units.c.id)).scalar_one()
    audit(conn, actor, "unit.add", f"unit:{uid}", {"kind": kind, "name": name, "community": community}, at=at)
    return int(uid)


def units(conn: Connection, kind: str | None = None) -> list[Unit]:
    """Every unit (of ``kind`` when given), by name."""
    q = select(tb_units.c.id, tb_units.c.kind, tb_units.c.name, tb_units.c.community).order_by(tb_units.c.name)
    if kind is not None:
        q = q.where(tb_units.c.kind == kind)
    return [Unit(int(r.id), r.kind, r.name, r.community) for r in conn.execute(q)]


def unit(conn: Connection, unit_id: int) -> Unit | None:
    """One unit, or None."""
    r = conn.execute(select(tb_units).where(tb_units.c.id == unit_id)).first()
    return Unit(int(r.id), r.kind, r.name, r.community) if r else None


def set_team(conn: Connection, volunteer_id: int, team_id: int | None, *, actor: str, at: str) -> None:
    """Put a member in a team of their own community (or, with None, in no team)."""
    member = conn.execute(select(tb_volunteers.c.community).where(tb_volunteers.c.id == volunteer_id)).first()
    if member is None:
        raise CentralError("no_member", f"没有会员号 {volunteer_id}")
    if team_id is not None:
        team = unit(conn, team_id)
        if team is None or team.kind != "team":
            raise CentralError("no_team", f"没有编号为 {team_id} 的居民团队")
        if team.community != member.community:
            raise CentralError("other_community", f"「{team.name}」是{team.community}的团队，只能加入本小区的团队")
    conn.execute(update(tb_volunteers).where(tb_volunteers.c.id == volunteer_id).values(team_id=team_id))
    audit(conn, actor, "team.set", f"vol:{volunteer_id}", {"team_id": team_id}, at=at)


# -- activities ----------------------------------------------------------------------------

def add_activity(conn: Connection, *, title: str, category: str, community: str, place: str,
                 starts_at: str | dt.datetime, ends_at: str | dt.datetime, slots: int, actor: str, at: str,
                 unit_id: int | None = None, project_id: int | None = None, needs: str = "") -> int:
    """Add an activity with a random check-in token; bad fields are refused in words."""
    title, place = _words(title, "活动名称", 80), _words(place, "地点", 120)
    community = _words(community, "小区", 64)
    if category not in CATEGORIES:
        raise CentralError("bad_category", f"服务类别 {category!r} 不在列表里")
    start, end = utc_text(starts_at), utc_text(ends_at)
    if end <= start:
        raise CentralError("bad_time", "结束时间要晚于开始时间")
    if not 1 <= int(slots) <= MAX_SLOTS:
        raise CentralError("bad_slots", f"名额要在 1 到 {MAX_SLOTS} 之间")
    codes = [c.strip() for c in (needs or "").split(",") if c.strip()]
    unknown = [c for c in codes if c not in NEEDS]
    if unknown:
        raise CentralError("bad_needs", f"不认识的资料要求：{', '.join(unknown)}")
    if unit_id is not None and unit(conn, unit_id) is None:
        raise CentralError("no_unit", f"没有编号为 {unit_id} 的单位")
    if project_id is not None:
        status = conn.execute(select(tb_projects.c.status).where(tb_projects.c.id == project_id)).scalar()
        if status != "chosen":
            raise CentralError("project_not_chosen", "只有投票选中的小区微事才能安排活动")
    aid = conn.execute(insert(tb_activities).values(
        title=title, category=category, unit_id=unit_id, project_id=project_id, community=community, place=place,
        starts_at=start, ends_at=end, slots=int(slots), needs=",".join(codes),
        checkin_token=secrets.token_urlsafe(16), status="open", created_by=actor, created_at=utc_text(at))
        .returning(tb_activities.c.id)).scalar_one()
    audit(conn, actor, "activity.add", f"activity:{aid}", {"title": title, "starts_at": start, "slots": int(slots)},
          at=at)
    return int(aid)


def cancel_activity(conn: Connection, activity_id: int, *, actor: str, at: str) -> None:
    """Cancel an activity (its sign-ups stay, shown as cancelled with it); cancelling twice is harmless."""
    found = _lock_activity(conn, activity_id)
    if found.status == "cancelled":
        return
    conn.execute(update(tb_activities).where(tb_activities.c.id == activity_id).values(status="cancelled"))
    audit(conn, actor, "activity.cancel", f"activity:{activity_id}", None, at=at)


_SIGNED = (select(func.count()).where(and_(tb_signups.c.activity_id == tb_activities.c.id,
                                             tb_signups.c.status == "signed"))
           .scalar_subquery().label("signed"))


def _activity(row: Row[Any]) -> Activity:
    return Activity(int(row.id), row.title, row.category, row.community, row.place, row.starts_at, row.ends_at,
                    int(row.slots), int(row.signed), row.status, row.needs, row.unit_id, row.project_id,
                    row.checkin_token)


def _select() -> Select[Any]:
    return select(tb_activities, _SIGNED)


def list_activities(conn: Connection, *, community: str | None = None, from_at: str | None = None,
                    limit: int = 50, include_cancelled: bool = False) -> list[Activity]:
    """Activities ending after ``from_at`` (all when None), soonest first, with their places taken."""
    q = _select().order_by(tb_activities.c.starts_at, tb_activities.c.id).limit(limit)
    if community is not None:
        q = q.where(tb_activities.c.community == community)
    if from_at is not None:
        q = q.where(tb_activities.c.ends_at > utc_text(from_at))
    if not include_cancelled:
        q = q.where(tb_activities.c.status == "open")
    return [_activity(r) for r in conn.execute(q)]


def activity(conn: Connection, activity_id: int) -> Activity | None:
    """One activity, or None."""
    row = conn.execute(_select().where(tb_activities.c.id == activity_id)).first()
    return _activity(row) if row else None


def activity_by_token(conn: Connection, token: str) -> Activity | None:
    """The activity whose QR carries ``token``, or None."""
    if not token or len(token) > 40:
        return None
    row = conn.execute(_select().where(tb_activities.c.checkin_token == token)).first()
    return _activity(row) if row else None


def _lock_activity(conn: Connection, activity_id: int) -> Row[Any]:
    row = conn.execute(select(tb_activities).where(tb_activities.c.id == activity_id).with_for_update()).first()
    if row is None:
        raise CentralError("no_activity", f"没有编号为 {activity_id} 的活动")
    return row


# -- sign-up -------------------------------------------------------------------------------

def sign_up(conn: Connection, activity_id: int, volunteer_id: int, *, actor: str, at: str) -> bool:
    """Take a place for the member: True when new, False when already signed up; a refusal in words."""
    at = utc_text(at)
    act = _lock_activity(conn, activity_id)
    conn.execute(select(tb_volunteers.c.id).where(tb_volunteers.c.id == volunteer_id).with_for_update())
    who = member(conn, volunteer_id)
    if who is None or who.status != "active":
        raise CentralError("no_member", "找不到您的会员资料，或会员资格已停用，请到服务台询问")
    mine = conn.execute(select(tb_signups.c.status).where(and_(tb_signups.c.activity_id == activity_id,
                                                               tb_signups.c.volunteer_id == volunteer_id))).scalar()
    if mine == "signed":
        return False
    if act.status == "cancelled":
        raise CentralError("activity_cancelled", "这项活动已取消，不能报名")
    if act.starts_at <= at:
        raise CentralError("activity_started", "活动已经开始或结束，不能再报名")
    rules = policy_on(conn, local(at).date()).rules
    ahead = int(rules.signup_ahead_days)
    if local(act.starts_at).date() > local(at).date() + dt.timedelta(days=ahead):
        raise CentralError("too_early", f"最多提前 {ahead} 天报名，请到时候再来")
    taken = conn.execute(select(func.count()).where(and_(tb_signups.c.activity_id == activity_id,
                                                         tb_signups.c.status == "signed"))).scalar_one()
    if taken >= act.slots:
        raise CentralError("full", "名额已满")
    missing = [NEEDS.get(code, code) for code in missing_for(who, act.needs)]
    if missing:
        raise CentralError("profile_missing", f"参加这项活动前请先填写{'、'.join(missing)}")
    most = int(rules.max_open_signups)
    open_now = conn.execute(
        select(func.count()).select_from(tb_signups.join(tb_activities, tb_activities.c.id == tb_signups.c.activity_id))
        .where(and_(tb_signups.c.volunteer_id == volunteer_id, tb_signups.c.status == "signed",
                    tb_activities.c.status == "open", tb_activities.c.ends_at > at))).scalar_one()
    if open_now >= most:
        raise CentralError("too_many", f"您已报名 {open_now} 项还没结束的活动，最多 {most} 项；请先参加或取消一项")
    if mine is None:
        conn.execute(insert(tb_signups).values(activity_id=activity_id, volunteer_id=volunteer_id, signed_at=at,
                                               status="signed"))
    else:
        conn.execute(update(tb_signups).where(and_(tb_signups.c.activity_id == activity_id,
                                                   tb_signups.c.volunteer_id == volunteer_id))
                     .values(status="signed", signed_at=at))
    audit(conn, actor, "activity.sign_up", f"activity:{activity_id}", {"volunteer_id": volunteer_id}, at=at)
    return True


def cancel_signup(conn: Connection, activity_id: int, volunteer_id: int, *, actor: str, at: str) -> bool:
    """Give the place back before the activity starts: True when cancelled, False when there was none."""
    at = utc_text(at)
    act = _lock_activity(conn, activity_id)
    mine = conn.execute(select(tb_signups.c.status).where(and_(tb_signups.c.activity_id == activity_id,
                                                               tb_signups.c.volunteer_id == volunteer_id))).scalar()
    if mine != "signed":
        return False
    if act.starts_at <= at:
        raise CentralError("activity_started", "活动已经开始，不能再取消报名；来不了请告诉组织者")
    conn.execute(update(tb_signups).where(and_(tb_signups.c.activity_id == activity_id,
                                               tb_signups.c.volunteer_id == volunteer_id)).values(status="cancelled"))
    audit(conn, actor, "activity.cancel_signup", f"activity:{activity_id}", {"volunteer_id": volunteer_id}, at=at)
    return True


def signed_ids(conn: Connection, volunteer_id: int) -> set[int]:
    """The activities the member holds a place on."""
    return {int(r[0]) for r in conn.execute(select(tb_signups.c.activity_id).where(
        and_(tb_signups.c.volunteer_id == volunteer_id, tb_signups.c.status == "signed")))}


def roster(conn: Connection, activity_id: int) -> list[tuple[int, str, str]]:
    """Who holds a place: (member no, masked name, masked phone or "")."""
    rows = conn.execute(select(tb_volunteers.c.id, tb_volunteers.c.name_masked, tb_volunteers.c.phone_masked)
                        .join(tb_signups, tb_signups.c.volunteer_id == tb_volunteers.c.id)
                        .where(and_(tb_signups.c.activity_id == activity_id, tb_signups.c.status == "signed"))
                        .order_by(tb_signups.c.signed_at))
    return [(int(r.id), r.name_masked, r.phone_masked or "") for r in rows]


def check_in_refusal(a: Activity, at: str) -> str | None:
    """Why the activity's QR cannot check anyone in at ``at`` (None: it can): cancelled, too early, over."""
    if a.status != "open":
        return "这项活动已取消，不能签到"
    now = dt.datetime.fromisoformat(utc_text(at))
    start = dt.datetime.fromisoformat(a.starts_at)
    if now < start - CHECKIN_EARLY:
        return f"活动 {local(a.starts_at):%m月%d日 %H:%M} 开始，开始前 1 小时内才能签到"
    if now >= dt.datetime.fromisoformat(a.ends_at):
        return "活动已经结束，不能再签到；如果忘了签到，请找组织者补记"
    return None
