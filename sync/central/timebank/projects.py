"""小区微事 (micro-projects): a residents' team proposes, the community's members vote, the top is chosen.

A member of a team proposes a project for the team's community; voting stays open ``vote_days``
days.  Each active member of that community has one vote per project (a repeat is harmless);
:func:`close_votes` decides every project whose voting has closed: in each community, the
project(s) with the most votes among those decided in that run are ``chosen`` (a tie chooses all
of them; a project with no votes is never chosen), the rest ``not_chosen``.  A chosen project
can then get activities (``tb_activities.project_id``, :func:`.activities.add_activity`).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, and_, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..errors import CentralError
from .activities import unit, utc_text
from .audit import audit
from .schema import tb_projects, tb_volunteers, tb_votes

STATUS_ZH = {"voting": "投票中", "chosen": "已选中", "not_chosen": "未选中"}
MAX_VOTE_DAYS = 60


@dataclass(frozen=True)
class Project:
    """One micro-project with its vote count."""

    id: int
    title: str
    summary: str
    team_id: int
    community: str
    proposed_by: str
    proposed_at: str
    vote_closes_at: str
    status: str
    votes: int


def _member(conn: Connection, volunteer_id: int) -> Row[Any]:
    row = conn.execute(select(tb_volunteers.c.id, tb_volunteers.c.community, tb_volunteers.c.team_id,
                              tb_volunteers.c.status).where(tb_volunteers.c.id == volunteer_id)).first()
    if row is None or row.status != "active":
        raise CentralError("no_member", "找不到您的会员资料，或会员资格已停用，请到服务台询问")
    return row


def propose(conn: Connection, *, title: str, summary: str, team_id: int, community: str, proposed_by: int,
            at: str, vote_days: int = 14) -> int:
    """Member ``proposed_by`` proposes a project for their team; only that team's members may."""
    title, summary = (title or "").strip(), (summary or "").strip()
    if not title or len(title) > 80:
        raise CentralError("bad_title", "请填写标题（最多 80 个字）")
    if not summary or len(summary) > 1000:
        raise CentralError("bad_summary", "请写几句说明（最多 1000 个字）")
    if not 1 <= int(vote_days) <= MAX_VOTE_DAYS:
        raise CentralError("bad_days", f"投票天数要在 1 到 {MAX_VOTE_DAYS} 天之间")
    team = unit(conn, team_id)
    if team is None or team.kind != "team":
        raise CentralError("no_team", f"没有编号为 {team_id} 的居民团队")
    member = _member(conn, proposed_by)
    if member.team_id != team_id:
        raise CentralError("not_in_team", f"只有「{team.name}」的成员才能以这个团队的名义提出小区微事")
    if community != team.community or member.community != community:
        raise CentralError("other_community", f"「{team.name}」是{team.community}的团队，只能为本小区提出")
    at = utc_text(at)
    closes = (dt.datetime.fromisoformat(at) + dt.timedelta(days=int(vote_days))).isoformat(timespec="microseconds")
    pid = conn.execute(insert(tb_projects).values(
        title=title, summary=summary, team_id=team_id, community=community, proposed_by=f"vol:{proposed_by}",
        proposed_at=at, vote_closes_at=closes, status="voting").returning(tb_projects.c.id)).scalar_one()
    audit(conn, f"vol:{proposed_by}", "project.propose", f"project:{pid}", {"title": title, "team_id": team_id},
          at=at)
    return int(pid)


def vote(conn: Connection, project_id: int, volunteer_id: int, at: str) -> bool:
    """One vote by a member of the project's community while voting is open: True new, False a repeat."""
    at = utc_text(at)
    project = conn.execute(select(tb_projects).where(tb_projects.c.id == project_id)).first()
    if project is None:
        raise CentralError("no_project", f"没有编号为 {project_id} 的小区微事")
    if project.status != "voting" or project.vote_closes_at <= at:
        raise CentralError("vote_closed", "这件小区微事的投票已经结束")
    member = _member(conn, volunteer_id)
    if member.community != project.community:
        raise CentralError("other_community", "只有本小区的会员才能为这件小区微事投票")
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    added = conn.execute(dialect.insert(tb_votes).values(project_id=project_id, volunteer_id=volunteer_id,
                                                         voted_at=at)
                         .on_conflict_do_nothing(index_elements=["project_id", "volunteer_id"])
                         .returning(tb_votes.c.project_id)).first() is not None
    if added:
        audit(conn, f"vol:{volunteer_id}", "project.vote", f"project:{project_id}", None, at=at)
    return added


def close_votes(conn: Connection, now: str, actor: str) -> list[int]:
    """Decide every project whose voting closed by ``now``; returns the chosen ones' ids."""
    now = utc_text(now)
    due = conn.execute(select(tb_projects.c.id, tb_projects.c.community, _VOTES)
                       .where(and_(tb_projects.c.status == "voting", tb_projects.c.vote_closes_at <= now))
                       .with_for_update(of=tb_projects)).all()
    by_community: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for row in due:
        by_community[row.community].append((int(row.id), int(row.votes)))
    chosen: list[int] = []
    for community, rows in sorted(by_community.items()):
        top = max(votes for _, votes in rows)
        for pid, votes in rows:
            status = "chosen" if votes == top and top > 0 else "not_chosen"
            conn.execute(update(tb_projects).where(tb_projects.c.id == pid)
                         .values(status=status, decided_by=actor, decided_at=now))
            audit(conn, actor, "project.decide", f"project:{pid}", {"status": status, "votes": votes,
                                                                     "community": community}, at=now)
            if status == "chosen":
                chosen.append(pid)
    return sorted(chosen)


_VOTES = (select(func.count()).where(tb_votes.c.project_id == tb_projects.c.id)
          .scalar_subquery().label("votes"))


def projects(conn: Connection, community: str | None = None, status: str | None = None) -> list[Project]:
    """Projects (of ``community`` / ``status`` when given), newest first, with their vote counts."""
    q = select(tb_projects, _VOTES).order_by(tb_projects.c.proposed_at.desc(), tb_projects.c.id.desc())
    if community is not None:
        q = q.where(tb_projects.c.community == community)
    if status is not None:
        q = q.where(tb_projects.c.status == status)
    return [_project(r) for r in conn.execute(q)]


def _project(r: Row[Any]) -> Project:
    return Project(int(r.id), r.title, r.summary, int(r.team_id), r.community, r.proposed_by, r.proposed_at,
                   r.vote_closes_at, r.status, int(r.votes))


def project(conn: Connection, project_id: int) -> Project | None:
    """One project, or None."""
    row = conn.execute(select(tb_projects, _VOTES).where(tb_projects.c.id == project_id)).first()
    return _project(row) if row else None


def voted_ids(conn: Connection, volunteer_id: int) -> set[int]:
    """The projects the member has voted for."""
    return {int(r[0]) for r in conn.execute(select(tb_votes.c.project_id)
                                            .where(tb_votes.c.volunteer_id == volunteer_id))}
