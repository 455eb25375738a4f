"""小区微事 (sync/central/timebank/projects.py) on both backends: proposing, voting, closing the vote.

Only a team's member proposes; each member of the community votes once (a repeat is harmless),
only while voting is open; closing chooses the top project(s) of each community (ties all
chosen, none with no votes), and only a chosen project can get activities.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from sync.central.db import read_transaction
from sync.central.errors import CentralError
from sync.central.storage import CentralStore
from sync.central.timebank import activities as acts
from sync.central.timebank import projects as pj
from sync.central.timebank.schema import tb_audit
from tests.timebank_support import make_member, tb_conn

NOW = "2026-03-02T02:00:00.000000+00:00"
LATER = "2026-03-16T02:00:00.000000+00:00"  # 14 days on: voting closed


@pytest.fixture
def store(central_db_url):
    s = CentralStore.open(central_db_url)
    yield s
    s.close()


@pytest.fixture
def town(store):
    """Two communities; a team in each; members: two in team A, one outside it, one in community 2."""
    with tb_conn(store) as conn:
        team_a = acts.add_unit(conn, "team", "一号楼志愿队", "linfen-1", "admin", NOW)
        team_b = acts.add_unit(conn, "team", "二小区队", "linfen-2", "admin", NOW)
        a1, a2 = make_member(conn, team_id=team_a), make_member(conn, team_id=team_a)
        plain = make_member(conn)
        b1 = make_member(conn, community="linfen-2", team_id=team_b)
    return {"team_a": team_a, "team_b": team_b, "a1": a1, "a2": a2, "plain": plain, "b1": b1}


def _propose(store, town, title: str, by: str = "a1", team: str = "team_a", community: str = "linfen-1") -> int:
    with tb_conn(store) as conn:
        return pj.propose(conn, title=title, summary="给楼道装扶手", team_id=town[team], community=community,
                          proposed_by=town[by], at=NOW)


def test_only_team_members_propose(store, town):
    pid = _propose(store, town, "楼道扶手")
    with read_transaction(store.engine) as conn:
        found = pj.project(conn, pid)
    assert found.status == "voting" and found.votes == 0 and found.proposed_by == f"vol:{town['a1']}"
    assert found.vote_closes_at == LATER
    with pytest.raises(CentralError, match="只有「一号楼志愿队」的成员"):
        _propose(store, town, "x", by="plain")
    with pytest.raises(CentralError, match="只能为本小区提出"):
        _propose(store, town, "x", community="linfen-2")
    with pytest.raises(CentralError, match="请填写标题"):
        _propose(store, town, " ")


def test_votes_once_per_member_same_community_while_open(store, town):
    pid = _propose(store, town, "楼道扶手")
    with tb_conn(store) as conn:
        assert pj.vote(conn, pid, town["plain"], NOW) is True
        assert pj.vote(conn, pid, town["plain"], NOW) is False  # a repeat is not an error
        assert pj.vote(conn, pid, town["a2"], NOW) is True
        assert pj.voted_ids(conn, town["plain"]) == {pid}
    with pytest.raises(CentralError, match="只有本小区的会员"), tb_conn(store) as conn:
        pj.vote(conn, pid, town["b1"], NOW)
    with pytest.raises(CentralError, match="投票已经结束"), tb_conn(store) as conn:
        pj.vote(conn, pid, town["a1"], LATER)
    with read_transaction(store.engine) as conn:
        assert pj.project(conn, pid).votes == 2
        assert conn.execute(select(func.count()).where(tb_audit.c.action == "project.vote")).scalar_one() == 2


def test_close_votes_chooses_the_top_per_community_ties_all(store, town):
    top, tied, low = (_propose(store, town, t) for t in ("扶手", "花坛", "路灯"))
    lone = _propose(store, town, "二小区的事", by="b1", team="team_b", community="linfen-2")  # no votes
    with tb_conn(store) as conn:
        for who in ("a1", "a2"):
            pj.vote(conn, top, town[who], NOW)
            pj.vote(conn, tied, town[who], NOW)
        pj.vote(conn, low, town["plain"], NOW)
        assert pj.close_votes(conn, NOW, "staff:c") == []  # not closed yet: nothing decided
        assert pj.close_votes(conn, LATER, "staff:c") == sorted([top, tied])
        assert pj.close_votes(conn, LATER, "staff:c") == []  # decided once
    with read_transaction(store.engine) as conn:
        status = {p.id: p.status for p in pj.projects(conn)}
        assert [p.id for p in pj.projects(conn, community="linfen-1", status="chosen")] == sorted([top, tied],
                                                                                                 reverse=True)
    assert status == {top: "chosen", tied: "chosen", low: "not_chosen", lone: "not_chosen"}
    with tb_conn(store) as conn:  # a chosen project gets an activity; one not chosen cannot
        aid = acts.add_activity(conn, title="装扶手", category="repair", community="linfen-1", place="一号楼",
                                starts_at="2026-03-20T09:00:00+08:00", ends_at="2026-03-20T11:00:00+08:00",
                                slots=4, actor="staff:c", at=LATER, project_id=top)
        assert acts.activity(conn, aid).project_id == top
    with pytest.raises(CentralError, match="只有投票选中的小区微事"), tb_conn(store) as conn:
        acts.add_activity(conn, title="路灯", category="repair", community="linfen-1", place="x",
                          starts_at="2026-03-20T09:00:00+08:00", ends_at="2026-03-20T11:00:00+08:00",
                          slots=4, actor="staff:c", at=LATER, project_id=low)
