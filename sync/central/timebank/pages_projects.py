"""小区微事 pages: the list with votes and vote buttons, joining a team, proposing, closing the vote (helper D).

``GET /tb/projects`` the community's projects, newest first, each with its votes, status and a
投票 button while voting is open; a member without a team may join one of the community's
teams; a team member gets the form to propose.  ``POST /tb/projects/<id>/vote``,
``POST /tb/projects/team``, ``POST /tb/projects`` (propose) and, for committee and admin,
``POST /tb/staff/projects/close``.  A refusal is the page again with its words (status 409/422).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine

from ..db import now_text, read_transaction, write_transaction
from ..errors import CentralError
from . import activities as acts
from . import projects as pj
from .web_auth import User, check_csrf, page, read_form, require

router = APIRouter(include_in_schema=False)

DONE = {"voted": "投票成功，谢谢参与。", "proposed": "已提出，开始投票。", "joined": "已加入团队。"}


def _engine(request: Request) -> Engine:
    return request.app.state.store.engine


def _view(p: pj.Project, teams: dict[int, str], mine: set[int]) -> dict[str, Any]:
    return {"id": p.id, "title": p.title, "summary": p.summary, "team": teams.get(p.team_id, ""), "votes": p.votes,
            "status": p.status, "status_zh": pj.STATUS_ZH.get(p.status, p.status), "voted": p.id in mine,
            "closes": acts.local(p.vote_closes_at).strftime("%Y年%m月%d日 %H:%M"),
            "open": p.status == "voting" and p.vote_closes_at > now_text()}


def _page(request: Request, user: User, *, message: str = "", error: str = "", status: int = 200,
          form: dict[str, str] | None = None) -> Response:
    with read_transaction(_engine(request)) as conn:
        community = None if user.role == "admin" else user.community
        teams = {u.id: u.name for u in acts.units(conn, "team")}
        local_teams = [u for u in acts.units(conn, "team") if u.community == user.community]
        mine = pj.voted_ids(conn, user.id) if user.kind == "volunteer" else set()
        items = [_view(p, teams, mine) for p in pj.projects(conn, community=community)]
    team = teams.get(user.unit_id or 0) if user.kind == "volunteer" else None
    return page(request, "projects.html", user, status=status, items=items, message=message, error=error,
                team=team, local_teams=local_teams, form=form or {},
                can_close=user.role in ("committee", "admin"))


@router.get("/tb/projects")
def projects_page(request: Request) -> Response:
    """The community's micro-projects with their votes."""
    user = require(request)
    return _page(request, user, message=DONE.get(request.query_params.get("done", ""), ""))


@router.post("/tb/projects/{project_id}/vote")
async def vote_post(request: Request, project_id: int) -> Response:
    """One vote by the signed-in member (a repeat changes nothing)."""
    user = require(request, "volunteer")
    check_csrf(request, await read_form(request))
    try:
        with write_transaction(_engine(request)) as conn:
            pj.vote(conn, project_id, user.id, now_text())
    except CentralError as exc:
        return _page(request, user, error=exc.detail, status=409)
    return RedirectResponse("/tb/projects?done=voted", status_code=303)


@router.post("/tb/projects/team")
async def team_post(request: Request) -> Response:
    """Join one of the community's teams."""
    user = require(request, "volunteer")
    form = await read_form(request)
    check_csrf(request, form)
    try:
        team_id = int(form.get("team_id", "")) if form.get("team_id", "").isdigit() else None
        if team_id is None:
            raise CentralError("no_team", "请选择要加入的团队")
        with write_transaction(_engine(request)) as conn:
            acts.set_team(conn, user.id, team_id, actor=user.actor, at=now_text())
    except CentralError as exc:
        return _page(request, user, error=exc.detail, status=422)
    return RedirectResponse("/tb/projects?done=joined", status_code=303)


@router.post("/tb/projects")
async def propose_post(request: Request) -> Response:
    """A team member proposes a project for the team's community."""
    user = require(request, "volunteer")
    form = await read_form(request)
    check_csrf(request, form)
    try:
        if user.unit_id is None:
            raise CentralError("not_in_team", "先加入一个居民团队，才能提出小区微事")
        with write_transaction(_engine(request)) as conn:
            pj.propose(conn, title=form.get("title", ""), summary=form.get("summary", ""), team_id=user.unit_id,
                       community=user.community or "", proposed_by=user.id, at=now_text())
    except CentralError as exc:
        return _page(request, user, error=exc.detail, status=422, form=form)
    return RedirectResponse("/tb/projects?done=proposed", status_code=303)


@router.post("/tb/staff/projects/close")
async def close_post(request: Request) -> Response:
    """Committee or admin: decide every project whose voting has closed."""
    user = require(request, "committee", "admin")
    check_csrf(request, await read_form(request))
    with write_transaction(_engine(request)) as conn:
        chosen = pj.close_votes(conn, now_text(), user.actor)
    words = f"已结束投票，选中 {len(chosen)} 件。" if chosen else "没有到期的投票，或到期的都没有票。"
    return _page(request, user, message=words)
