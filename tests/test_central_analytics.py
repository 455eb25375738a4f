"""Canteen analytics at the central (sync/central/analytics/) against a hand-computed fixture week, both backends.

The week (1-7 December 2026, Shanghai time) is written out below payment by payment, and every
figure asserted is worked out by hand in the comments next to it.  Canteen = the pushing
terminal's site: ``canteen-a`` (readers A1, A2) and ``canteen-b`` (reader B1).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from hardware_sim import canteen_traffic
from sync.central.analytics.cli import run_analytics_command
from sync.central.analytics.queries import canteen_month, publish_top_dishes, set_population_65, top_dishes
from sync.central.cli import main
from sync.central.reference import RowChange
from sync.central.storage import CentralStore
from sync.protocol import EventEnvelope
from tests.central_fixtures import central  # noqa: F401  (fixture)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

TZ = dt.timezone(dt.timedelta(hours=8))
TERMINALS = {"A1": ("canteen", "canteen-a"), "A2": ("canteen", "canteen-a"), "B1": ("canteen", "canteen-b"),
             "CIN": ("cinema", "canteen-a"), "HALL": ("hall", "hall-site")}
C1, C2, C3, C4, C5, C6, C7, C8 = (f"0A00000{n}" for n in range(1, 9))
#: item id: (dish, unit price in fen)
MENU = {"m1": ("红烧肉套餐", 1500), "m2": ("清蒸鱼套餐", 1800), "d1": ("番茄炒蛋", 600), "d2": ("青菜", 300),
        "r1": ("米饭", 100)}
#: (card, band, tier, discount, subsidy) per holder: C1/C5 aged 80+, C2/C3 60-79, C4 under 60
HOLDER = {C1: ("80+", "age-80", 200, 300), C5: ("80+", "age-80", 200, 300), C2: ("60-79", "age-60", 100, 200),
          C3: ("60-79", "age-60", 100, 200), C4: (None, None, 0, 0)}
#: label: (reader, card, local time, items as (item id, qty)); P7 and P13 are voided below
PAYMENTS: dict[str, tuple[str, str, str, tuple[tuple[str, int], ...]]] = {
    "P0": ("A1", C1, "2026-11-30 11:00", (("m1", 1),)),  # the month before: not counted
    "P1": ("A1", C1, "2026-12-01 11:05", (("m1", 1),)),
    "P2": ("A1", C2, "2026-12-01 11:10", (("m1", 1),)),
    "P3": ("B1", C3, "2026-12-01 11:20", (("m2", 1),)),
    "P4": ("A2", C4, "2026-12-01 12:02", (("d1", 1), ("r1", 1))),
    "P4b": ("B1", C4, "2026-12-01 17:30", (("d2", 2),)),  # C4 eats twice on the 1st, at both canteens
    "P5": ("A1", C1, "2026-12-02 11:07", (("m1", 1),)),
    "P6": ("B1", C5, "2026-12-02 11:40", (("m2", 1),)),
    "P7": ("B1", C4, "2026-12-02 17:00", (("d1", 2), ("r1", 1))),  # voided (V1)
    "P8": ("A1", C2, "2026-12-03 11:15", (("m1", 1),)),
    "P9": ("A2", C3, "2026-12-03 11:16", (("d1", 1), ("d2", 1), ("r1", 1))),
    "P10": ("A1", C1, "2026-12-04 11:01", (("m1", 1),)),
    "P11": ("B1", C5, "2026-12-04 11:44", (("m2", 1),)),
    "P12": ("B1", C4, "2026-12-04 12:10", (("m1", 1),)),
    "P13": ("B1", C3, "2026-12-05 11:50", (("m2", 1),)),  # voided (V2)
    "P14": ("A1", C2, "2026-12-05 11:25", (("m1", 1),)),
    "P15": ("A1", C1, "2026-12-06 11:03", (("m1", 1),)),
    "P16": ("A2", C5, "2026-12-06 11:30", (("m1", 1), ("d2", 1))),
    "P17": ("B1", C3, "2026-12-06 17:05", (("d1", 1), ("r1", 1))),
    "P18": ("A1", C1, "2026-12-07 11:06", (("m1", 1),)),
    "P19": ("B1", C4, "2026-12-07 11:12", (("m2", 1),)),
    "P20": ("A2", C2, "2026-12-07 11:14", (("d1", 1), ("r1", 1))),
    "P21": ("A1", C4, "2027-01-02 12:00", (("m1", 1),)),  # the month after: only C4's 30-day return
}
# Gross, discount, subsidy and paid of each payment (HOLDER's discount and subsidy; gross = items):
#   P1 1500/200/300/1000  P2 1500/100/200/1200  P3 1800/100/200/1500  P4 700/0/0/700   P4b 600/0/0/600
#   P5 1500/200/300/1000  P6 1800/200/300/1300  P8 1500/100/200/1200  P9 1000/100/200/700
#   P10 1500/200/300/1000 P11 1800/200/300/1300 P12 1500/0/0/1500     P14 1500/100/200/1200
#   P15 1500/200/300/1000 P16 1800/200/300/1300 P17 700/100/200/400   P18 1500/200/300/1000
#   P19 1800/0/0/1800     P20 700/100/200/400
AS_OF = dt.date(2027, 1, 6)  # every December window of 7 and 30 days is observed (Dec 7 + 30 = Jan 6)


class Reader:
    """One terminal's events with its own seq and journal counter."""

    def __init__(self, terminal_id: str) -> None:
        self.terminal_id, self.seq = terminal_id, 0

    def event(self, type_: str, at: dt.datetime, fields: dict[str, Any]) -> EventEnvelope:
        self.seq += 1
        eid = uuid.uuid4()
        payload = {"entry_id": str(eid), "reader_id": self.terminal_id, "counter": self.seq, **fields}
        return EventEnvelope(id=eid, terminal_id=self.terminal_id, seq=self.seq, type=type_, occurred_at=at,
                             payload=payload)


def payment(reader: Reader, card: str, local: str, items: tuple[tuple[str, int], ...],
            **over: Any) -> EventEnvelope:
    """A ``card.payment`` as a canteen reader writes it (docs/community-card.md §3)."""
    at = dt.datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=TZ)
    band, tier, discount, subsidy = HOLDER.get(card, (None, None, 0, 0))
    gross = sum(MENU[i][1] * q for i, q in items)
    fields = {"card_no": card, "day": at.date().isoformat(), "at": at.astimezone(dt.UTC).isoformat(),
              "items": [{"item_id": i, "dish": MENU[i][0], "qty": q, "unit_fen": MENU[i][1]} for i, q in items],
              "gross_fen": gross, "discount_fen": discount, "subsidy_fen": subsidy, "subsidy_tier": tier,
              "paid_fen": gross - discount - subsidy, "age_band": band, "group": None, "policy": "putuo:1",
              "offline": False, "balance_before_fen": 50_000}
    return reader.event("card.payment", at, {**fields, **over})


def void(reader: Reader, paid: EventEnvelope) -> EventEnvelope:
    """A ``card.void`` of ``paid``, a little later the same day."""
    p = paid.payload
    return reader.event("card.void", paid.occurred_at + dt.timedelta(minutes=5), {
        "card_no": p["card_no"], "voids": str(paid.id), "refund_fen": p["paid_fen"], "subsidy_fen": p["subsidy_fen"],
        "reason": "点错了", "staff": "staff-07"})


def load_week(store: CentralStore) -> dict[str, EventEnvelope]:
    """Enrol the terminals, import cards and spaces, push the week (and what must not count)."""
    for terminal_id, (role, site) in TERMINALS.items():
        store.enrol(role, site, terminal_id)  # type: ignore[arg-type]
    years = {C1: 1940, C2: 1955, C3: 1963, C4: 1990, C5: 1944, C6: 1950, C7: 1980, C8: 1958}
    store.apply_reference("canteen-a", "card", [RowChange(c, "upsert", {
        "card_no": c, "status": "lost" if c == C6 else "active", "birth_year": y}) for c, y in years.items()])
    store.apply_reference("canteen-b", "card", [RowChange(C1, "upsert", {"card_no": C1, "status": "active",
                                                                          "birth_year": 1940})])
    store.apply_reference("canteen-a", "space", [
        RowChange("a-hall", "upsert", {"space_id": "a-hall", "name": "A 食堂", "capacity": 20, "kind": "canteen",
                                       "sittings": 2}),
        RowChange("a-room", "upsert", {"space_id": "a-room", "name": "活动室", "capacity": 30, "kind": "activity"})])
    store.apply_reference("canteen-b", "space", [RowChange("b-hall", "upsert", {
        "space_id": "b-hall", "name": "B 食堂", "capacity": 10, "kind": "canteen", "sittings": "3"})])
    readers = {t: Reader(t) for t in TERMINALS}
    made = {label: payment(readers[r], card, local, items) for label, (r, card, local, items) in PAYMENTS.items()}
    made["V1"], made["V2"] = void(readers["B1"], made["P7"]), void(readers["B1"], made["P13"])
    # a film ticket paid by card at the cinema (C7): a card.payment, but not a meal
    made["X1"] = payment(readers["CIN"], C7, "2026-12-03 14:00", (("m2", 1),))
    # amounts that disagree (C8): the ledger refuses it (a card_problems row), so analytics leaves it out
    made["X2"] = payment(readers["A1"], C8, "2026-12-03 11:30", (("m1", 1),), paid_fen=1)
    for terminal_id in TERMINALS:
        batch = sorted((e for e in made.values() if e.terminal_id == terminal_id), key=lambda e: e.seq)
        if batch:
            acks = store.push(terminal_id, batch).response.acks
            assert {a.status for a in acks} == {"stored"}
    return made


@pytest.fixture
def week_store(central_db_url):
    store = CentralStore.open(central_db_url)
    load_week(store)
    yield store
    store.close()


def test_fixture_week_figures_all_canteens(week_store):
    set_population_65(week_store, 60)
    found = canteen_month(week_store, "2026-12", as_of=AS_OF)
    # P1..P20 with P4b: 21 December payments at canteen terminals; P7 and P13 voided; P0 (Nov), P21 (Jan),
    # X1 (cinema) and X2 (refused by the ledger) are not December canteen payments
    assert (found.payments, found.voided) == (21, 2)
    total = found.total
    assert total.meals == 19
    # meals per day: 1st P1 P2 P3 P4 P4b = 5; 2nd P5 P6 = 2; 3rd P8 P9 = 2; 4th P10 P11 P12 = 3; 5th P14 = 1;
    # 6th P15 P16 P17 = 3; 7th P18 P19 P20 = 3; then nothing till the 31st (the days run to the month's end)
    assert [d.meals for d in total.days[:8]] == [5, 2, 2, 3, 1, 3, 3, 0] and len(total.days) == 31
    # distinct cards per day: 1st C1 C2 C3 C4 (C4 twice) = 4; 2nd C1 C5; 3rd C2 C3; 4th C1 C5 C4; 5th C2;
    # 6th C1 C5 C3; 7th C1 C4 C2
    assert [d.customers for d in total.days[:7]] == [4, 2, 2, 3, 1, 3, 3]
    assert (total.customers, total.customer_days) == (5, 18)
    # gross 6100+3300+2500+4800+1500+4000+4000 = 26200; discount 400+400+200+400+100+500+300 = 2300;
    # subsidy 700+600+400+600+200+800+500 = 3800; paid 5000+2300+1900+3800+1200+2700+3200 = 20100
    assert total.revenue.model_dump() == {"gross_fen": 26200, "discount_fen": 2300, "subsidy_fen": 3800,
                                          "paid_fen": 20100, "earned_fen": 23900}
    # per capita: 23900 / 18 = 1327.8 -> 1328; paid 20100 / 18 = 1116.7 -> 1117
    assert (total.per_capita_fen, total.per_capita_paid_fen) == (1328, 1117)
    # per day: 1st (5000+700)/4 = 1425; 2nd 2900/2 = 1450; 4th 4400/3 = 1466.7 -> 1467; 7th 3700/3 = 1233.3 -> 1233
    assert [total.days[i].per_capita_fen for i in (0, 1, 3, 6, 7)] == [1425, 1450, 1467, 1233, None]
    # dishes: m1 P1 P2 P5 P8 P10 P12 P14 P15 P16 P18 = 10; m2 P3 P6 P11 P19 = 4 (P13 voided); d1 P4 P9 P17 P20
    # = 4 (P7 voided); d2 P4b(2) P9 P16 = 4; r1 P4 P9 P17 P20 = 4; equal portions by sales 7200 > 2400 > 1200 > 400
    assert [(d.dish, d.qty, d.sales_fen) for d in total.dishes] == [
        ("红烧肉套餐", 10, 15000), ("清蒸鱼套餐", 4, 7200), ("番茄炒蛋", 4, 2400), ("青菜", 4, 1200), ("米饭", 4, 400)]
    # occupancy: seats A 20 (2 sittings) + B 10 (3 sittings, given as text) = 30 seats, 40 + 30 = 70 meals a day
    # (A's activity room is not a canteen); 19 meals / (70 x 7 serving days) = 0.03878
    assert (total.seats, total.meal_capacity, total.serving_days, total.occupancy) == (30, 70, 7, 0.0388)
    # 15-minute slots: 11:00 P1 P2 P5 P10 P15 P18 P19 P20 = 8; 11:15 P3 P8 P9 P14 = 4; 11:30 P6 P11 P16 = 3;
    # 12:00 P4 P12 = 2; 17:00 P17; 17:30 P4b; 11:00 per day 8/7 = 1.14, of the seats 8/(7 x 30) = 0.0381
    slots = {s.start: s for s in total.slots}
    assert {k: s.meals for k, s in slots.items() if s.meals} == {"11:00": 8, "11:15": 4, "11:30": 3, "12:00": 2,
                                                               "17:00": 1, "17:30": 1}
    assert total.slots[0].start == "11:00" and total.slots[-1].start == "17:30" and len(total.slots) == 27
    assert (slots["11:00"].per_day, slots["11:00"].seat_share) == (1.14, 0.0381)
    # cards: active rows C1-C5, C7, C8 = 7 (C6 is lost); paying C1-C5 = 5 (C7 only at the cinema, C8 refused)
    assert found.cards.model_dump() == {"issued": 7, "paying": 5, "active": 5, "activity": 0.7143}
    # tiers: age-80 P1 P5 P6 P10 P11 P15 P16 P18 = 8 meals x 300 = 2400, cards C1 C5; age-60 P2 P3 P8 P9 P14 P17
    # P20 = 7 x 200 = 1400, cards C2 C3
    assert [t.model_dump() for t in found.elderly.tiers] == [
        {"tier": "age-60", "meals": 7, "subsidy_fen": 1400, "cards": 2},
        {"tier": "age-80", "meals": 8, "subsidy_fen": 2400, "cards": 2}]
    # 65+ in 2026: C1 (1940), C2 (1955), C5 (1944) = 3 of a population of 60 = 0.05 (C3 born 1963 is 63)
    e = found.elderly
    assert (e.meals, e.subsidy_fen, e.diners_65_plus, e.population_65_plus, e.share_65_plus) == (15, 3800, 3, 60, 0.05)


def test_fixture_week_repurchase_by_age_band(week_store):
    found = canteen_month(week_store, "2026-12", as_of=AS_OF)
    rates = {(r.age_band, r.window_days): (r.base, r.returned, r.rate) for r in found.repurchase}
    # (card, day) pairs: C1 1 2 4 6 7 and C5 2 4 6 (80+); C2 1 3 5 7 and C3 1 3 6 (60-79); C4 1 4 7 (under 60)
    # 7 days: C1 returns after 1 2 4 6, not 7; C5 after 2 4, not 6 -> 6 of 8 = 0.75
    #         C2 after 1 3 5, not 7; C3 after 1 3, not 6 -> 5 of 7 = 0.7143
    #         C4 after 1 4; from the 7th its next meal is 2 January (26 days) -> 2 of 3
    # 30 days: the same, except C4's 7th now counts (2 January) -> 3 of 3
    assert rates == {("under-60", 7): (3, 2, 0.6667), ("60-79", 7): (7, 5, 0.7143), ("80+", 7): (8, 6, 0.75),
                     ("under-60", 30): (3, 3, 1.0), ("60-79", 30): (7, 5, 0.7143), ("80+", 30): (8, 6, 0.75)}
    # as of 10 December only days up to the 3rd have a whole 7-day window: C1 1 2, C5 2 (all return);
    # C2 1 3, C3 1 3 (all return); C4 1 (returns on the 4th); no 30-day window is complete
    early = {(r.age_band, r.window_days): (r.base, r.returned, r.rate)
             for r in canteen_month(week_store, "2026-12", as_of=dt.date(2026, 12, 10)).repurchase}
    assert early == {("under-60", 7): (1, 1, 1.0), ("60-79", 7): (4, 4, 1.0), ("80+", 7): (3, 3, 1.0),
                     ("under-60", 30): (0, 0, None), ("60-79", 30): (0, 0, None), ("80+", 30): (0, 0, None)}


def test_fixture_week_per_canteen(week_store):
    found = canteen_month(week_store, "2026-12", as_of=AS_OF)
    a, b = found.canteens
    assert (a.canteen, b.canteen) == ("canteen-a", "canteen-b")
    # A (A1 and A2): P1 P2 P4 P5 P8 P9 P10 P14 P15 P16 P18 P20 = 12 meals; customers per day 3 1 2 1 1 2 2 = 12
    # paid 1000+1200+700+1000+1200+700+1000+1200+1000+1300+1000+400 = 11700; subsidy 2800; earned 14500;
    # per capita 14500/12 = 1208.3 -> 1208; occupancy per day 3/40, 1/40 ...; month 12 / (40 x 7) = 0.0429
    assert (a.meals, a.customer_days, a.revenue.paid_fen, a.revenue.earned_fen, a.per_capita_fen) == (
        12, 12, 11700, 14500, 1208)
    assert [d.occupancy for d in a.days[:7]] == [0.075, 0.025, 0.05, 0.025, 0.025, 0.05, 0.05]
    assert (a.seats, a.meal_capacity, a.occupancy) == (20, 40, 0.0429)
    assert [(d.dish, d.qty) for d in a.dishes] == [("红烧肉套餐", 9), ("番茄炒蛋", 3), ("米饭", 3), ("青菜", 2)]
    # B: P3 P4b P6 P11 P12 P17 P19 = 7 meals on 5 serving days (nothing left on the 3rd and 5th);
    # paid 8400, subsidy 1000, earned 9400 / 7 customer-days = 1342.9 -> 1343; 7 / (30 x 5) = 0.0467
    assert (b.meals, b.serving_days, b.revenue.earned_fen, b.per_capita_fen, b.occupancy) == (7, 5, 9400, 1343,
                                                                                          0.0467)
    assert [(d.dish, d.qty) for d in b.dishes] == [("清蒸鱼套餐", 4), ("青菜", 2), ("红烧肉套餐", 1), ("番茄炒蛋", 1),
                                                   ("米饭", 1)]
    # one canteen asked for: B's payments 9 (2 voided); cards C3 C4 C5 of 7 issued = 0.4286; repurchase counts
    # only B's meals: C4 ate at B on 1 4 7 and came back on 2 January at A, so its 30-day rate is 2 of 3
    only_b = canteen_month(week_store, "2026-12", canteen="canteen-b", as_of=AS_OF)
    assert (only_b.payments, only_b.voided, only_b.total.meals) == (9, 2, 7)
    assert (only_b.cards.active, only_b.cards.activity) == (3, 0.4286)
    assert [c.canteen for c in only_b.canteens] == ["canteen-b"]
    rates = {(r.age_band, r.window_days): (r.base, r.returned) for r in only_b.repurchase}
    assert rates[("under-60", 30)] == (3, 2) and rates[("60-79", 7)] == (2, 1)  # C3 at B: 1st -> 6th, 6th -> -


def test_top_dishes_and_publish_to_every_site(week_store):
    top = top_dishes(week_store, "2026-12", limit=3)
    assert [(d.dish, d.qty) for d in top.dishes] == [("红烧肉套餐", 10), ("清蒸鱼套餐", 4), ("番茄炒蛋", 4)]
    changed = publish_top_dishes(week_store, "2026-12")
    assert changed == {"canteen-a": 1, "canteen-b": 1, "hall-site": 1}
    assert publish_top_dishes(week_store, "2026-12") == dict.fromkeys(changed, 0)  # unchanged: no new cursor
    feed = week_store.changes_json("hall-site", 0, 100)
    assert '"kind":"terminal_config","key":"top_dishes"' in feed
    assert '{"dish":"红烧肉套餐","qty":10}' in feed and '"month":"2026-12"' in feed


def test_cli_settings_publish_and_show(central_db_url, capsys):
    store = CentralStore.open(central_db_url)
    try:
        load_week(store)
    finally:
        store.close()
    assert main(["--db", central_db_url, "analytics", "settings", "--population-65", "41000"]) == 0
    assert capsys.readouterr().out.strip() == '{"population_65_plus":41000}'
    assert main(["--db", central_db_url, "analytics", "publish", "--month", "2026-12"]) == 0
    out = capsys.readouterr().out
    assert "红烧肉套餐 10" in out and "published to 3 sites (3 changed)" in out
    assert main(["--db", central_db_url, "analytics", "show", "--month", "2026-12", "--canteen", "canteen-b"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["canteen"] == "canteen-b" and shown["total"]["meals"] == 7
    assert main(["--db", central_db_url, "analytics", "settings", "--population-65", "0"]) == 2
    assert "65+ population must be" in capsys.readouterr().err
    out = io.StringIO()
    store = CentralStore.open(central_db_url)
    try:
        assert run_analytics_command(store, "show", out, month="2027-02") == 0  # a month without payments
        assert '"meals": 0' in out.getvalue()
    finally:
        store.close()


def test_api_auth_and_answers(central):  # noqa: F811  (fixture)
    made = load_week(central.store)
    assert made["P1"].payload["card_no"] == C1
    tokens = {t: central.store.enrol("canteen", site, f"{t}-api").token for t, site in
              (("a", "canteen-a"), ("h", "hall-site"))}
    with central.client() as anonymous:
        assert anonymous.get("/v1/analytics/canteen", params={"month": "2026-12"}).status_code == 401
        assert anonymous.get("/v1/analytics/top-dishes", params={"month": "2026-12"}).status_code == 401
    with central.client(tokens["a"]) as terminal:
        assert terminal.get("/v1/analytics/canteen", params={"month": "2026-12"}).status_code == 403
        own = terminal.get("/v1/analytics/top-dishes", params={"month": "2026-12", "site": "canteen-a"})
        assert own.status_code == 200 and own.json()["dishes"][0] == {
            "rank": 1, "item_id": "m1", "dish": "红烧肉套餐", "qty": 9, "sales_fen": 13500}
        other = terminal.get("/v1/analytics/top-dishes", params={"month": "2026-12", "site": "canteen-b"})
        assert other.status_code == 403 and other.json()["reason"] == "other_site"
        every = central.client(tokens["h"]).get("/v1/analytics/top-dishes", params={"month": "2026-12"})
        assert every.status_code == 200 and every.json()["site"] is None and len(every.json()["dishes"]) == 5
    with central.client("not-a-token.xxxxxxxx") as bad:
        assert bad.get("/v1/analytics/top-dishes", params={"month": "2026-12"}).status_code == 401
    with central.client(central.admin_token) as admin:
        r = admin.get("/v1/analytics/canteen", params={"month": "2026-12", "as_of": "2027-01-06"})
        assert r.status_code == 200 and r.json()["total"]["revenue"]["earned_fen"] == 23900
        assert admin.get("/v1/analytics/canteen", params={"month": "2026-13"}).status_code == 422
        b = admin.get("/v1/analytics/top-dishes", params={"month": "2026-12", "site": "canteen-b", "limit": 1})
        assert b.json()["dishes"] == [{"rank": 1, "item_id": "m2", "dish": "清蒸鱼套餐", "qty": 4, "sales_fen": 7200}]
        page = admin.get("/analytics/canteen", params={"month": "2026-12"})
        assert page.status_code == 200 and "红烧肉套餐" in page.text
    paths = central.app.openapi()["paths"]
    assert {"/v1/analytics/canteen", "/v1/analytics/top-dishes"} <= set(paths)
    assert "/analytics/canteen" not in paths  # the page is HTML, not part of the API
    with httpx.Client(base_url=central.url, follow_redirects=False) as browser:
        r = browser.get("/analytics/canteen", params={"month": "2026-12"})
        assert r.status_code == 303 and r.headers["location"].startswith("/web/login?next=")


GENERATED_MENU = {"s1": ("软食套餐", 1000), "s2": ("荤素套餐", 1500), "s3": ("营养套餐", 1800), "c1": ("番茄炒蛋", 600),
                  "c2": ("青菜", 300), "c3": ("红烧肉", 900), "mifan": ("米饭", 100)}


def push_generated(store: CentralStore, days: int = 31) -> int:
    """``days`` of December 2026 from hardware_sim.canteen_traffic (three canteens, ~1,100 meals a day, each
    canteen a site with 100 seats and 3 sittings) pushed to ``store``; returns the payments pushed."""
    for n, site in enumerate(canteen_traffic.CANTEENS):
        store.enrol("canteen", site, f"{site}-r{n}")
        store.apply_reference(site, "space", [RowChange("hall", "upsert", {
            "space_id": "hall", "name": "餐厅", "capacity": 100, "kind": "canteen", "sittings": 3})])
    people = canteen_traffic.diners()
    store.apply_reference("canteen-1", "card", [RowChange(d.card_no, "upsert", d.card_row()) for d in people])
    meals = []
    for week_no in range((days + 6) // 7):
        meals += canteen_traffic.week(people, dt.date(2026, 12, 1) + dt.timedelta(days=7 * week_no),
                                      ["s1", "s2", "s3"], ["c1", "c2", "c3"], "mifan", seed=week_no,
                                      days=min(7, days - 7 * week_no))
    readers = {site: Reader(f"{site}-r{n}") for n, site in enumerate(canteen_traffic.CANTEENS)}
    batches: dict[str, list[EventEnvelope]] = {site: [] for site in readers}
    for meal in meals:
        items = [{"item_id": i, "dish": GENERATED_MENU[i][0], "qty": q, "unit_fen": GENERATED_MENU[i][1]}
                 for i, q in meal.items]
        gross = sum(it["qty"] * it["unit_fen"] for it in items)
        batches[meal.canteen].append(readers[meal.canteen].event("card.payment", meal.at, {
            "card_no": meal.card_no, "day": meal.day.isoformat(), "at": meal.at.astimezone(dt.UTC).isoformat(),
            "items": items, "gross_fen": gross, "discount_fen": 0, "subsidy_fen": 0, "subsidy_tier": None,
            "paid_fen": gross, "age_band": None, "group": None, "policy": "p:1", "offline": False,
            "balance_before_fen": 0}))
    for batch in batches.values():
        for start in range(0, len(batch), 1000):
            store.push(batch[start].terminal_id, batch[start:start + 1000])
    return len(meals)


def test_month_of_generated_traffic_timing(central_db_url, capsys):
    """About 33,000 payments (a month of the district's three canteens): print how long the figures take.

    Pushed without the card ledger's consumer (its postings are not what is timed here, and they would
    take minutes): analytics reads only the ``events`` table (and ``card_problems``, empty here).
    """
    store = CentralStore.open(central_db_url, consumers=())
    try:
        t0 = time.perf_counter()
        pushed = push_generated(store)
        push_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        found = canteen_month(store, "2026-12", as_of=dt.date(2026, 12, 31))
        query_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        top_dishes(store, "2026-12")
        top_s = time.perf_counter() - t0
        assert found.total.meals == pushed > 30_000 and found.total.meal_capacity == 900
        with capsys.disabled():
            print(f"\n[analytics {store.backend}] {pushed} payments (pushed in {push_s:.1f} s): "
                  f"canteen figures {query_s:.2f} s, top dishes {top_s:.2f} s")
    finally:
        store.close()


@pytest.mark.ui
def test_published_top_dishes_reach_the_hall_display(central, qtbot, examples_dir, tmp_path):  # noqa: F811
    """Central publishes -> the hall pulls (its sync client) -> its LAN service -> the display shows 本月最受欢迎的菜."""
    from kiosk.hall import HALL_MIGRATIONS, CallingRule, HallQueue, ServiceCatalog
    from kiosk.hall.client import HallClient
    from kiosk.store import Store
    from sync import apply
    from sync.client import SyncClient
    from tests.hall_ui_support import SECRET, SERVICES, Service, role_config, statuses
    from ui.display import DisplayWindow

    load_week(central.store)
    token = central.store.enrol("hall", "hall-site", "hall-display-test").token
    publish_top_dishes(central.store, "2026-12")
    store = Store.open(tmp_path / "hall.db", "hall-display-test", extra_migrations=(HALL_MIGRATIONS, apply.MIGRATIONS))
    service = None
    try:
        SyncClient(store, central.url, token).sync_once(pull=True, heartbeat=False)
        service = Service(HallQueue(store, ServiceCatalog.from_data(SERVICES), CallingRule("strict")))
        client = HallClient(service.url, SECRET)
        top = client.top_dishes()
        assert top is not None and top.dishes[:2] == (("红烧肉套餐", 10), ("清蒸鱼套餐", 4)) and len(top.dishes) == 5
        window = DisplayWindow(role_config(examples_dir, "display", service.url), HallClient(service.url, SECRET),
                               info=[("温馨提示一", "Tip one")], checker=lambda _c: statuses(True),
                               call_hold_s=0.1, rotate_s=0.3, top_dishes_poll_s=0.2)
        qtbot.addWidget(window)
        window.resize(1920, 1080)
        window.show()
        qtbot.waitUntil(lambda: window.top_dishes == top, timeout=10_000)
        qtbot.waitUntil(lambda: window.info_text.text().startswith("1. 红烧肉套餐"), timeout=10_000)
        month_words = ("本月最受欢迎的菜" if dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m")
                       == "2026-12" else "12 月最受欢迎的菜")
        assert window.info_heading.text() == month_words
        assert window.info_text.text().split("\n") == ["1. 红烧肉套餐　10 份", "2. 清蒸鱼套餐　4 份",
                                                     "3. 番茄炒蛋　4 份", "4. 青菜　4 份", "5. 米饭　4 份"]
        assert window.info_page.text() == "第 2 / 2 条"
        assert window.info_text.font().pointSizeF() >= 30  # the main-message size (DESIGN §8)
        screens = Path(__file__).resolve().parent.parent / "out" / "screens" / "display"
        screens.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(screens / "top-dishes-1920x1080.png"))
        window.close()
    finally:
        if service is not None:
            service.stop()
        store.close()
