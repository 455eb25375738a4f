"""Day close (Z report): totals from the journal, hash chain, refusal over unacknowledged entries."""

from __future__ import annotations

import sqlite3

import pytest

from kiosk.canteen.day_close import GENESIS, Z_MIGRATIONS, DayClose, DayCloseRefused, chain_hash, z_lines
from kiosk.canteen.journal import CANTEEN_MIGRATIONS
from kiosk.store import Store
from sync import apply
from tests.test_canteen_payments import MEAL, Price, Reader


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "reader.db", "canteen-1",
                   extra_migrations=(CANTEEN_MIGRATIONS, Z_MIGRATIONS, apply.MIGRATIONS))
    yield s
    s.close()


def a_day(store):
    """Three payments (one voided, one offline), a top-up; returns the reader."""
    reader = Reader(store)

    def priced(gross, discount, subsidy, tier, band):
        def price(used):
            q = Price(gross, discount, 0 if used else subsidy, gross - discount - (0 if used else subsidy))
            q.subsidy_tier, q.age_band, q.group, q.policy = (tier if not used else None), band, None, "p:1"
            return q
        return price

    first = reader.pay.pay("C5EEDA41", MEAL, priced(1500, 225, 300, "age-80", "80+")).entry
    reader.clock.advance(60)
    reader.pay.pay("C5EEDA41", [{"item_id": "soup", "name": "汤", "qty": 2, "unit_fen": 200}],
                   priced(400, 60, 300, "age-80", "80+"))
    reader.clock.advance(60)
    reader.is_online = False
    reader.pay.pay("C5EEDA41", [{"item_id": "rice", "name": "米饭", "qty": 1, "unit_fen": 100}],
                   priced(100, 0, 0, None, "standard"))
    reader.is_online = True
    reader.pay.void(first.entry_id, "点错菜", "staff-7")
    reader.pay.topup("C5EEDA41", 5000, "cash", "staff-7")
    return reader


def test_a_day_will_not_close_while_the_central_has_not_acknowledged_its_entries(store):
    a_day(store)
    z = DayClose(store)
    with pytest.raises(DayCloseRefused, match="not yet confirmed") as info:
        z.close_day("2026-12-03", "staff-7")
    assert len(info.value.unacknowledged) == 5 and z.reports() == []
    assert [e.type for e in store.pending_events()].count("canteen.day_close") == 0


def test_the_z_report_sums_the_day_net_of_voids_and_chains_its_hash(store):
    a_day(store)
    store.mark_acked([e.id for e in store.pending_events()])
    z = DayClose(store)
    report = z.close_day("2026-12-03", "staff-7", counted_cash_fen=4900)
    b = report.body
    # The voided 15-yuan meal is out; the soup, paid before the void, had no subsidy (already used today).
    assert b["payments"] == {"count": 2, "gross_fen": 500, "discount_fen": 60, "subsidy_fen": 0, "paid_fen": 440}
    assert b["voids"] == {"count": 1, "refund_fen": 975, "subsidy_fen": 300}
    assert b["dishes"]["soup"]["qty"] == 2 and "set-a" not in b["dishes"]
    assert b["topups"]["amount_fen"] == 5000 and b["cash"] == {"expected_fen": 5000, "counted_fen": 4900,
                                                                "difference_fen": -100}
    assert b["offline_payments"] == 1 and b["entries"] == 5
    assert report.number == 1 and report.prev_hash == GENESIS and report.hash == chain_hash(GENESIS, b)
    event = [e for e in store.pending_events() if e.type == "canteen.day_close"][0]
    assert event.payload["hash"] == report.hash and event.payload["number"] == 1
    assert any("Z0001" in str(line) for line in z_lines(report))
    with pytest.raises(DayCloseRefused, match="already closed"):
        z.close_day("2026-12-03", "staff-7")
    second = z.close_day("2026-12-04", "staff-7")
    assert second.number == 2 and second.prev_hash == report.hash and second.body["payments"]["count"] == 0
    assert z.verify_chain()


def test_a_provisional_close_says_so_and_a_final_one_may_follow(store):
    a_day(store)
    z = DayClose(store)
    provisional = z.close_day("2026-12-03", "staff-7", provisional=True)
    assert provisional.provisional and len(provisional.body["unacknowledged"]) == 5
    assert any("未确认" in str(line) for line in z_lines(provisional))
    store.mark_acked([e.id for e in store.pending_events()])
    final = z.close_day("2026-12-03", "staff-7")
    assert not final.provisional and final.prev_hash == provisional.hash and z.verify_chain()


def test_a_report_is_immutable_and_a_forged_one_breaks_the_chain(store):
    a_day(store)
    z = DayClose(store)
    z.close_day("2026-12-03", "staff-7", provisional=True)
    conn = store.db.conn
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        conn.execute("UPDATE z_reports SET body = '{}'")
    with pytest.raises(sqlite3.DatabaseError, match="kept"):
        conn.execute("DELETE FROM z_reports")
    conn.execute("DROP TRIGGER z_reports_immutable")
    conn.execute("UPDATE z_reports SET body = json_set(body, '$.payments.paid_fen', 1)")
    assert not z.verify_chain()


def test_a_close_needs_a_clerk(store):
    with pytest.raises(DayCloseRefused, match="clerk"):
        DayClose(store).close_day("2026-12-03", " ")
