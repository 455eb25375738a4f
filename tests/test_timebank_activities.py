"""Time Bank units, activities and sign-up (sync/central/timebank/activities.py) on both backends.

Refusals in words (full, started, too far ahead, too many open sign-ups, profile missing,
cancelled), a repeat sign-up that is not an error, cancelling, and two people racing for the
last place from two threads: exactly one gets it.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from sync.central.db import read_transaction
from sync.central.errors import CentralError
from sync.central.storage import CentralStore
from sync.central.timebank import activities as acts
from sync.central.timebank.schema import tb_audit, tb_signups
from tests.timebank_support import import_default_policy, make_member, tb_conn

NOW = "2026-03-02T02:00:00.000000+00:00"  # 10:00 Shanghai, Monday 2 March 2026
SOON = "2026-03-05T09:00:00+08:00"


@pytest.fixture
def store(central_db_url):
    s = CentralStore.open(central_db_url)
    with tb_conn(s) as conn:
        import_default_policy(conn)
    yield s
    s.close()


def _activity(conn, *, starts_at: str = SOON, ends_at: str = "2026-03-05T11:00:00+08:00", slots: int = 3,
              needs: str = "", title: str = "陪老人聊天") -> int:
    return acts.add_activity(conn, title=title, category="companion", community="linfen-1", place="活动室",
                             starts_at=starts_at, ends_at=ends_at, slots=slots, actor="staff:org", at=NOW, needs=needs)


def _refusal(store, activity_id: int, vid: int) -> str:
    with pytest.raises(CentralError) as caught, tb_conn(store) as conn:
        acts.sign_up(conn, activity_id, vid, actor=f"vol:{vid}", at=NOW)
    return caught.value.detail


def test_units_and_teams(store):
    with tb_conn(store) as conn:
        shop = acts.add_unit(conn, "partner", "临汾超市", None, "admin", NOW)
        team = acts.add_unit(conn, "team", "楼组志愿队", "linfen-1", "admin", NOW)
        far = acts.add_unit(conn, "team", "别的小区队", "linfen-2", "admin", NOW)
        vid = make_member(conn)
        acts.set_team(conn, vid, team, actor="admin", at=NOW)
    assert [u.name for u in acts_units(store, "team")] == ["别的小区队", "楼组志愿队"]
    assert [u.id for u in acts_units(store, "partner")] == [shop]
    with pytest.raises(CentralError, match="已经有叫「临汾超市」的合作单位了"), tb_conn(store) as conn:
        acts.add_unit(conn, "partner", "临汾超市", None, "admin", NOW)
    with pytest.raises(CentralError, match="只能加入本小区的团队"), tb_conn(store) as conn:
        acts.set_team(conn, vid, far, actor="admin", at=NOW)
    with pytest.raises(CentralError, match="单位类型"), tb_conn(store) as conn:
        acts.add_unit(conn, "club", "x", None, "admin", NOW)


def acts_units(store, kind):
    with read_transaction(store.engine) as conn:
        return acts.units(conn, kind)


def test_add_activity_checks_its_fields(store):
    with tb_conn(store) as conn:
        aid = _activity(conn)
        other = _activity(conn, title="第二项")
    with read_transaction(store.engine) as conn:
        a, b = acts.activity(conn, aid), acts.activity(conn, other)
        assert a.starts_at == "2026-03-05T01:00:00.000000+00:00" and a.left == 3 and a.status == "open"
        assert len(a.checkin_token) >= 20 and a.checkin_token != b.checkin_token
        assert acts.activity_by_token(conn, a.checkin_token).id == aid
        assert acts.activity_by_token(conn, "x" * 100) is None
    for over, words in (({"ends_at": SOON}, "结束时间要晚于开始时间"), ({"slots": 0}, "名额要在"),
                        ({"needs": "tattoo"}, "不认识的资料要求"), ({"title": " "}, "请填写活动名称")):
        with pytest.raises(CentralError, match=words), tb_conn(store) as conn:
            _activity(conn, **over)
    with pytest.raises(CentralError, match="只有投票选中的小区微事"), tb_conn(store) as conn:
        acts.add_activity(conn, title="t", category="repair", community="linfen-1", place="p", starts_at=SOON,
                          ends_at="2026-03-05T12:00:00+08:00", slots=2, actor="a", at=NOW, project_id=999)


def test_sign_up_refusals_in_words(store):
    with tb_conn(store) as conn:
        one = _activity(conn, slots=1)
        started = _activity(conn, starts_at="2026-03-02T09:00:00+08:00", ends_at="2026-03-02T12:00:00+08:00")
        far = _activity(conn, starts_at="2026-03-17T09:00:00+08:00", ends_at="2026-03-17T10:00:00+08:00")
        edge = _activity(conn, starts_at="2026-03-16T20:00:00+08:00", ends_at="2026-03-16T21:00:00+08:00")
        needs = _activity(conn, needs="emergency")
        gone = _activity(conn)
        acts.cancel_activity(conn, gone, actor="staff:org", at=NOW)
        a, b = make_member(conn), make_member(conn)
        filled = make_member(conn, emergency_relation="女儿", emergency_phone="139****0000")
        assert acts.sign_up(conn, one, a, actor=f"vol:{a}", at=NOW) is True
        assert acts.sign_up(conn, one, a, actor=f"vol:{a}", at=NOW) is False  # a repeat is not an error
        assert acts.sign_up(conn, edge, a, actor=f"vol:{a}", at=NOW) is True  # 14 days ahead, in Shanghai days
        assert acts.sign_up(conn, needs, filled, actor=f"vol:{filled}", at=NOW) is True
    assert _refusal(store, one, b) == "名额已满"
    assert _refusal(store, started, b) == "活动已经开始或结束，不能再报名"
    assert _refusal(store, far, b) == "最多提前 14 天报名，请到时候再来"
    assert _refusal(store, needs, b) == "参加这项活动前请先填写紧急联系人"
    assert _refusal(store, gone, b) == "这项活动已取消，不能报名"
    with read_transaction(store.engine) as conn:
        assert acts.activity(conn, one).left == 0
        assert acts.signed_ids(conn, a) == {one, edge}
        assert [r[0] for r in acts.roster(conn, one)] == [a]
        assert [x.id for x in acts.list_activities(conn, from_at=NOW)] == [started, one, needs, edge, far]
        assert gone in [x.id for x in acts.list_activities(conn, include_cancelled=True)]
        audited = conn.execute(select(func.count()).where(tb_audit.c.action == "activity.sign_up")).scalar_one()
        assert audited == 3


def test_max_open_signups_and_cancel(store):
    with tb_conn(store) as conn:
        ids = [_activity(conn, title=f"活动{n}") for n in range(6)]
        vid = make_member(conn)
        for aid in ids[:5]:
            acts.sign_up(conn, aid, vid, actor=f"vol:{vid}", at=NOW)
    assert _refusal(store, ids[5], vid).startswith("您已报名 5 项还没结束的活动，最多 5 项")
    with tb_conn(store) as conn:
        assert acts.cancel_signup(conn, ids[0], vid, actor=f"vol:{vid}", at=NOW) is True
        assert acts.cancel_signup(conn, ids[0], vid, actor=f"vol:{vid}", at=NOW) is False
        assert acts.sign_up(conn, ids[5], vid, actor=f"vol:{vid}", at=NOW) is True
    assert _refusal(store, ids[0], vid).startswith("您已报名 5 项")  # signing up again counts against the cap
    with pytest.raises(CentralError, match="活动已经开始，不能再取消报名"), tb_conn(store) as conn:
        acts.cancel_signup(conn, ids[1], vid, actor=f"vol:{vid}", at="2026-03-05T09:30:00+08:00")


def test_two_people_race_for_the_last_place(store):
    with tb_conn(store) as conn:
        aid = _activity(conn, slots=1)
        people = [make_member(conn) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes: dict[int, str] = {}

    def take(vid: int) -> None:
        barrier.wait()
        try:
            with tb_conn(store) as conn:
                acts.sign_up(conn, aid, vid, actor=f"vol:{vid}", at=NOW)
            outcomes[vid] = "ok"
        except CentralError as exc:
            outcomes[vid] = exc.detail

    threads = [threading.Thread(target=take, args=(vid,)) for vid in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes.values()) == ["ok", "名额已满"], outcomes
    with read_transaction(store.engine) as conn:
        signed = conn.execute(select(func.count()).where(tb_signups.c.activity_id == aid,
                                                         tb_signups.c.status == "signed")).scalar_one()
    assert signed == 1


def test_qr_check_in_window(store):
    with tb_conn(store) as conn:
        aid = _activity(conn)  # 5 March 09:00-11:00 Shanghai
        a = acts.activity(conn, aid)
        gone = _activity(conn, title="取消的")
        acts.cancel_activity(conn, gone, actor="staff:org", at=NOW)
        cancelled = acts.activity(conn, gone)
    assert acts.check_in_refusal(a, "2026-03-05T07:59:00+08:00") == "活动 03月05日 09:00 开始，开始前 1 小时内才能签到"
    assert acts.check_in_refusal(a, "2026-03-05T08:00:00+08:00") is None
    assert acts.check_in_refusal(a, "2026-03-05T10:59:00+08:00") is None
    assert acts.check_in_refusal(a, "2026-03-05T11:00:00+08:00").startswith("活动已经结束")
    assert acts.check_in_refusal(cancelled, "2026-03-05T09:00:00+08:00") == "这项活动已取消，不能签到"
