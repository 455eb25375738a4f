"""Time Bank reports (sync/central/timebank/reports.py) on a hand-computed fixture, both backends.

The fixture (NOW = 2026-03-15 12:00 Shanghai; window = Shanghai months 2025-04 .. 2026-03):

units: P1 临汾超市 (partner), P2 社区医院 (partner), T 一号楼队 (team); project X (team T, chosen)
members (age on 2026-03-15):  m1 born 1945-01-10 (81, team T)   m2 born 1950-06-01 (75)
                              m3 born 1951-03-16 (74: turns 75 tomorrow)   m4 born 1940-02-02 (86)
                              m5 born 1990-01-01 (36, team T)
activities: A1 repair, unit P1, project X, starts 2026-03-01; A2 companion, unit P2, starts 2026-03-02

shifts (check-in UTC -> Shanghai month), approved unless said:
  s1 m1 A1 repair     2026-03-01T01:00Z -> 2026-03   90 min (out 02:30Z)
  s2 m5 A1 repair     2026-03-01T01:00Z -> 2026-03   90 min
  s3 m5 A2 companion  2026-02-28T17:00Z -> 2026-03   60 min  (Feb in UTC, March in Shanghai)
  s4 m1 -  companion  2026-02-10T02:00Z -> 2026-02  120 min
  s5 m2 -  meals      2025-12-20T02:00Z -> 2025-12   30 min
  s6 m3 -  meals      2025-03-20T02:00Z -> 2025-03   45 min  (before the window: counted nowhere)
  s7 m4 A2 companion  2026-03-02T02:00Z  PENDING     60 min  (not approved: counted nowhere)
  s8 m4 -  companion  2025-03-31T16:00Z -> 2025-04   30 min  (2025-04-01 00:00 Shanghai: first minute of the window)

rewards: R1 理发券 P1 200 cc stock 10; R2 体检 P2 500 cc stock 2; R3 旧奖励 P1 100 cc stock 5 inactive
redemptions: m2 R1 200 cc 2026-01-05; m5 R1 200 cc 2026-03-03; m5 R2 500 cc 2025-02-01 (before the window);
             m1 R2 500 cc 2026-03-04 WAITING for review (moved no coins: counted nowhere, m1 still never redeemed)
balances: m1 300, m2 150, m3 500, m4 0, m5 250 cc

Worked out:
  active last 90 days (check-in >= 2025-12-15T04:00Z): s1 m1, s2/s3 m5, s4 m1, s5 m2 -> {m1, m2, m5} = 3
  active in March: s1 m1, s2 m5, s3 m5 -> 2
  by month: 2025-04 30 min/1 shift/1 member; 2025-12 30/1/1; 2026-02 120/1/1; 2026-03 90+90+60 = 240/3/2;
            the other 8 months 0; 12 months in all
  by category: companion s3+s4+s8 = 60+120+30 = 210 min (3.5 h), 3 shifts, 3 members (m5, m1, m4);
               repair s1+s2 = 180 (3.0 h), 2, 2; meals s5 = 30 (0.5 h), 1, 1
  by project: X s1+s2 = 180 min, 2 shifts, 2 members
  by team: T (m1, m5) s1+s2+s3+s4 = 90+90+60+120 = 360 min (6.0 h), 4 shifts, 2 members
  redemptions in window: 2 (m2's and m5's R1), 400 cc; R1 2 × 200 = 400
  capacity: held 300+150+500+250 = 1200 cc by 4 members; R1 10×200 + R2 2×500 = 3000 cc (R3 inactive),
            2 rewards in stock; 1200 / 3000 = 0.4 months
  易存难兑: m1 only (m2 redeemed once, m3 is 74, m4 has 0, m5 is 36): 81, 3.00 coins, last earned s1's out
  partners: P1 1 activity (A1), 180 min = 3.0 h, 1 active reward (R1), 2 redemptions, 400 cc = 4.00;
            P2 1 activity (A2), s3 60 min = 1.0 h (s7 pending), 1 reward, 0 redemptions in the window
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import insert

from sync.central.db import read_transaction
from sync.central.errors import CentralError
from sync.central.storage import CentralStore
from sync.central.timebank import activities as acts
from sync.central.timebank import reports as rp
from sync.central.timebank.schema import (
    tb_balances,
    tb_projects,
    tb_redemptions,
    tb_rewards,
    tb_shifts,
)
from tests.timebank_support import make_member, tb_conn

NOW = "2026-03-15T04:00:00.000000+00:00"
MONTH = "2026-03"
T0 = "2025-01-01T00:00:00.000000+00:00"


def _shift(conn, vid: int, activity: int | None, category: str, check_in: str, minutes: int,
           status: str = "approved", out: str | None = None) -> None:
    conn.execute(insert(tb_shifts).values(volunteer_id=vid, activity_id=activity, category=category,
                                          check_in_at=check_in, check_out_at=out or check_in, in_via="qr",
                                          out_via="qr", minutes=minutes, status=status))


def load_fixture(store: CentralStore) -> dict[str, int]:
    """The fixture of the module docstring; returns its ids by name."""
    with tb_conn(store) as conn:
        p1 = acts.add_unit(conn, "partner", "临汾超市", None, "admin", T0)
        p2 = acts.add_unit(conn, "partner", "社区医院", None, "admin", T0)
        team = acts.add_unit(conn, "team", "一号楼队", "linfen-1", "admin", T0)
        m1 = make_member(conn, born_on="1945-01-10", team_id=team, name_masked="王*华")
        m2 = make_member(conn, born_on="1950-06-01")
        m3 = make_member(conn, born_on="1951-03-16")
        m4 = make_member(conn, born_on="1940-02-02")
        m5 = make_member(conn, born_on="1990-01-01", team_id=team)
        x = conn.execute(insert(tb_projects).values(
            title="楼道扶手", summary="装扶手", team_id=team, community="linfen-1", proposed_by=f"vol:{m1}",
            proposed_at=T0, vote_closes_at=T0, status="chosen").returning(tb_projects.c.id)).scalar_one()
        a1 = acts.add_activity(conn, title="装扶手", category="repair", community="linfen-1", place="一号楼",
                               starts_at="2026-03-01T09:00:00+08:00", ends_at="2026-03-01T12:00:00+08:00", slots=5,
                               actor="admin", at=T0, unit_id=p1, project_id=x)
        a2 = acts.add_activity(conn, title="陪聊", category="companion", community="linfen-1", place="医院",
                               starts_at="2026-03-02T09:00:00+08:00", ends_at="2026-03-02T12:00:00+08:00", slots=5,
                               actor="admin", at=T0, unit_id=p2)
        _shift(conn, m1, a1, "repair", "2026-03-01T01:00:00.000000+00:00", 90, out="2026-03-01T02:30:00.000000+00:00")
        _shift(conn, m5, a1, "repair", "2026-03-01T01:00:00.000000+00:00", 90)
        _shift(conn, m5, a2, "companion", "2026-02-28T17:00:00.000000+00:00", 60)
        _shift(conn, m1, None, "companion", "2026-02-10T02:00:00.000000+00:00", 120)
        _shift(conn, m2, None, "meals", "2025-12-20T02:00:00.000000+00:00", 30)
        _shift(conn, m3, None, "meals", "2025-03-20T02:00:00.000000+00:00", 45)
        _shift(conn, m4, a2, "companion", "2026-03-02T02:00:00.000000+00:00", 60, status="pending")
        _shift(conn, m4, None, "companion", "2025-03-31T16:00:00.000000+00:00", 30)
        rewards = {}
        for name, unit_id, cost, stock, active in (("理发券", p1, 200, 10, 1), ("体检", p2, 500, 2, 1),
                                                   ("旧奖励", p1, 100, 5, 0)):
            rewards[name] = conn.execute(insert(tb_rewards).values(
                name=name, category="culture", cost_cc=cost, stock=stock, unit_id=unit_id, active=active,
                created_by="admin", created_at=T0).returning(tb_rewards.c.id)).scalar_one()
        for n, (vid, reward, cost, at, status) in enumerate((
                (m2, "理发券", 200, "2026-01-05T02:00:00.000000+00:00", "done"),
                (m5, "理发券", 200, "2026-03-03T02:00:00.000000+00:00", "done"),
                (m5, "体检", 500, "2025-02-01T02:00:00.000000+00:00", "done"),
                (m1, "体检", 500, "2026-03-04T02:00:00.000000+00:00", "waiting"))):
            conn.execute(insert(tb_redemptions).values(volunteer_id=vid, reward_id=rewards[reward], cost_cc=cost,
                                                       at=at, entry_id=f"e{n}", request_id=f"r{n}", actor="admin",
                                                       status=status))
        for vid, cc in ((m1, 300), (m2, 150), (m3, 500), (m4, 0), (m5, 250)):
            conn.execute(insert(tb_balances).values(account=f"vol:{vid}", balance_cc=cc, movements=1, last_at=T0))
    return {"m1": m1, "m2": m2, "m5": m5, "p1": p1, "p2": p2, "team": team, "x": x}


@pytest.fixture
def store(central_db_url):
    s = CentralStore.open(central_db_url)
    yield s
    s.close()


def test_hand_computed_figures(store):
    ids = load_fixture(store)
    win = rp.window(MONTH)
    assert (win.first, win.last) == ("2025-04", "2026-03")
    assert (win.start, win.end) == ("2025-03-31T16:00:00.000000+00:00", "2026-03-31T16:00:00.000000+00:00")
    with read_transaction(store.engine) as conn:
        assert rp.active_volunteers(conn, NOW) == rp.Active(3, 2, "2026-03")
        months = rp.hours_by_month(conn, win)
        assert len(months) == 12
        assert {h.key: (h.minutes, h.shifts, h.members) for h in months if h.minutes} == {
            "2025-04": (30, 1, 1), "2025-12": (30, 1, 1), "2026-02": (120, 1, 1), "2026-03": (240, 3, 2)}
        assert [(h.key, h.name, h.minutes, h.shifts, h.members)
                for h in rp.hours_by_category(conn, win, acts.CATEGORIES)] == [
            ("companion", "陪伴聊天", 210, 3, 3), ("repair", "小修小补", 180, 2, 2), ("meals", "助餐送餐", 30, 1, 1)]
        assert rp.hours_by_project(conn, win) == [rp.Hours(str(ids["x"]), "楼道扶手", 180, 2, 2)]
        assert rp.hours_by_team(conn, win) == [rp.Hours(str(ids["team"]), "一号楼队", 360, 4, 2)]
        red = rp.redemptions(conn, win)
        assert (red.count, red.coins_cc) == (2, 400)
        assert [(r.name, r.count, r.coins_cc) for r in red.per_reward] == [("理发券", 2, 400)]
        cap = rp.capacity(conn)
        assert cap == rp.Capacity(1200, 4, 3000, 2) and cap.months_to_redeem == pytest.approx(0.4)
        assert rp.hard_to_redeem(conn, dt.date(2026, 3, 15)) == [
            rp.Elder(ids["m1"], "王*华", 81, 300, "2026-03-01T02:30:00.000000+00:00")]
        assert rp.partners(conn, win) == [rp.Partner(ids["p1"], "临汾超市", 1, 180, 1, 2, 400),
                                          rp.Partner(ids["p2"], "社区医院", 1, 60, 1, 0, 0)]


def _parse(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")  # Excel reads UTF-8 only with the BOM
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_parses_back(store):
    load_fixture(store)
    with read_transaction(store.engine) as conn:
        by_category = _parse(rp.csv_of("by_category", conn, month=MONTH, now=NOW, names=acts.CATEGORIES))
        partners = _parse(rp.csv_of("partners", conn, month=MONTH, now=NOW))
        elders = _parse(rp.csv_of("elders", conn, month=MONTH, now=NOW))
        redemptions = _parse(rp.csv_of("redemptions", conn, month=MONTH, now=NOW))
        capacity = _parse(rp.csv_of("capacity", conn, month=MONTH, now=NOW))
        every = {name: _parse(rp.csv_of(name, conn, month=MONTH, now=NOW)) for name in rp.REPORTS}
        with pytest.raises(CentralError, match="没有叫"):
            rp.csv_of("salaries", conn, month=MONTH, now=NOW)
        with pytest.raises(CentralError, match="月份要写成 YYYY-MM"):
            rp.csv_of("by_month", conn, month="2026-13", now=NOW)
    assert by_category == [["名称 name", "小时 hours", "分钟 minutes", "次数 shifts", "人数 members"],
                           ["陪伴聊天", "3.5", "210", "3", "3"], ["小修小补", "3.0", "180", "2", "2"],
                           ["助餐送餐", "0.5", "30", "1", "1"]]
    assert partners[1:] == [["临汾超市", "1", "3.0", "1", "2", "4.00"], ["社区医院", "1", "1.0", "1", "0", "0.00"]]
    assert elders[1][1:] == ["王*华", "81", "3.00", "2026-03-01"]
    assert redemptions[1:] == [["理发券", "2", "4.00"], ["合计 total", "2", "4.00"]]
    assert capacity[1] == ["12.00", "4", "30.00", "2", "0.4"]
    assert len(every["by_month"]) == 13 and every["by_month"][12][:3] == ["2026-03", "4.0", "240"]
    assert every["active"] == [["近 90 天 last 90 days", "2026-03 当月 this month"], ["3", "2"]]
    assert all(" " in head for rows in every.values() for head in rows[0])  # Chinese + English in each heading
