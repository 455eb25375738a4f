"""The canteen over the real stack: pyscard → pcscd → vpcd ← simulated cards, a real central on loopback.

Each test runs real canteen reader apps (store, authenticating card reader, sync client) and a
service-centre top-up, and checks what reached the resident's screen and voice and what reached
the central's ledger: pay; insufficient balance; clone refused; lost card refused after the deny list
syncs; offline within limits and refused beyond each; a double tap charged once; a card pulled
mid-payment leaves nothing; the daily subsidy once across two offline canteens, the second reversed
at reconciliation; void; Z totals equal the ledger and the Z refuses over unacknowledged entries.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hardware_sim import personas
from hardware_sim.pcscd import PcscdHarness
from kiosk.canteen.day_close import DayCloseRefused
from sync import apply
from tests.canteen_support import CanteenWorld, card_row, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

CANTEEN_1 = "Canteen VPCD"
CANTEEN_2 = "Linfen CC VPCD"
OLD = "P009"  # born 1929: 80+, 85 折, 3 元 subsidy from 15 元 spent after the discount
MIDDLE = "P013"  # born 1955: 60–79, 9 折
YOUNG = "P001"  # born 1996: list price


@pytest.fixture
def world(tmp_path, pcscd: PcscdHarness) -> Iterator[CanteenWorld]:
    w = CanteenWorld(tmp_path, pcscd)
    try:
        yield w
    finally:
        w.close()


def ledger_payments(world: CanteenWorld, card_no: str) -> list[dict]:
    return [line for line in world.statement(card_no)["lines"] if line["entry_type"] == "payment"]


def test_a_resident_pays_a_set_meal_and_hears_the_discount_subsidy_and_balance(world):
    middle = world.persona(MIDDLE)
    world.topup(middle.ccard_uid, 10_000)
    reader = world.open_reader("canteen-1", CANTEEN_1)
    paid = reader.pay_meal(middle, "set-a")  # 18 元, 9 折 = 16.20 元 ≥ 15: today's subsidy 2 元 → 14.20 元
    assert paid.screen == "paid" and paid.data["paid_fen"] == 1420 and paid.data["balance_fen"] == 8580
    lines = [line["zh"] for line in paid.data["lines"]]
    assert any("9 折" in line for line in lines) and any("补贴" in line and "2 元" in line for line in lines), lines
    said = dict(reader.says)
    assert said["canteen_paid"]["balance"] == "85.80" and "补贴" in said["canteen_paid"]["lines_zh"]
    reader.sync()
    [line] = ledger_payments(world, middle.ccard_uid)
    assert line["amount_fen"] == -1420 and line["subsidy_fen"] == 200
    assert world.statement(middle.ccard_uid)["balance_fen"] == 8580
    # The central's balance row came back, naming the reader's entries it counts: the estimate is the central's.
    row = apply.reference_get(reader.app.store, "balance", middle.ccard_uid)
    assert row["balance_fen"] == 8580 and row["readers"] == {"counter-1": 1, "canteen-1": 1} and row["subsidy_day"]
    assert reader.app.payments.standing(middle.ccard_uid).balance_fen == 8580


def test_insufficient_balance_is_refused_in_words_and_nothing_is_charged(world):
    young = world.persona(YOUNG)
    world.topup(young.ccard_uid, 1000)
    reader = world.open_reader("canteen-1", CANTEEN_1)
    refused = reader.pay_meal(young, "set-a")  # 18 元 at list price, 10 元 on the card
    assert refused.screen == "refused" and refused.data["code"] == "insufficient" and refused.data["short"] == "8"
    assert "canteen_insufficient" in reader.said()
    reader.sync()
    assert ledger_payments(world, young.ccard_uid) == []


def test_a_clone_with_the_right_uid_is_refused_and_staff_are_told(world):
    old = world.persona(OLD)
    world.topup(old.ccard_uid, 10_000)
    reader = world.open_reader("canteen-1", CANTEEN_1)
    refused = reader.pay_meal(personas.card_variant(old, "clone"), "set-a")
    assert refused.data["code"] == "not_genuine" and "canteen_not_genuine" in reader.said()
    reader.sync()
    assert ledger_payments(world, old.ccard_uid) == []
    events = world.central.store.engine.connect().exec_driver_sql(
        "SELECT payload FROM events WHERE type = 'alert.raised'").fetchall()
    assert any("card_not_genuine" in row[0] for row in events)


def test_a_lost_card_is_refused_once_the_deny_list_reaches_the_reader(world):
    old = world.persona(OLD)
    world.topup(old.ccard_uid, 10_000)
    reader = world.open_reader("canteen-1", CANTEEN_1)
    assert reader.pay_meal(old, "set-b").screen == "paid"
    world.central.load("linfen", "blacklist", [(old.ccard_uid, {"card_no": old.ccard_uid, "reason": "挂失"})])
    reader.sync()
    refused = reader.pay_meal(old, "set-a")
    assert refused.data["code"] == "denied" and "canteen_denied" in reader.said()


def test_offline_payments_stop_at_each_limit_and_reach_the_ledger_once_back(world):
    middle, old = world.persona(MIDDLE), world.persona(OLD)
    for p in (middle, old):
        world.topup(p.ccard_uid, 50_000)
    one = world.open_reader("canteen-1", CANTEEN_1, fresh_s=0.2,
                            limits="per_tap_fen = 1400\nper_day_fen = 3000\nconsecutive_offline = 5")
    two = world.open_reader("canteen-2", CANTEEN_2, fresh_s=0.2, limits="consecutive_offline = 1")
    world.central.stop_service()
    wait_for(lambda: not one.app.payments.online() and not two.app.payments.online(), what="both readers offline")
    over_tap = one.pay_meal(middle, "set-a")  # 18 元, 9 折, −2 元 subsidy = 14.20 元 > 14 per tap
    assert over_tap.data["code"] == "over_tap_limit" and over_tap.data["limit"] == "14"
    first = one.pay_meal(middle, "set-b")  # 13.50 元 (under 15: no subsidy)
    assert first.screen == "paid" and first.data["offline"] is True and first.data["paid_fen"] == 1350
    assert one.pay_meal(middle, "set-c").data["paid_fen"] == 1080  # 24.30 元 today offline
    over_day = one.pay_meal(middle, "set-d")  # 9 元 more > 30 per day
    assert over_day.data["code"] == "over_day_limit" and over_day.data["limit"] == "5.70"
    assert "canteen_over_day_limit" in one.said() and "canteen_over_tap_limit" in one.said()
    assert two.pay_meal(old, "set-d").screen == "paid"
    too_many = two.pay_meal(old, "set-c")  # a second offline payment the central has not counted
    assert too_many.data["code"] == "too_many_offline" and "canteen_too_many_offline" in two.said()
    world.central.start_service()
    one.sync()
    two.sync()
    assert [p["amount_fen"] for p in ledger_payments(world, middle.ccard_uid)] == [-1350, -1080]
    assert len(ledger_payments(world, old.ccard_uid)) == 1
    assert one.app.payments.online()  # caught up again: online limits only


def test_a_double_tap_on_the_paid_screen_is_charged_once(world):
    old = world.persona(OLD)
    world.topup(old.ccard_uid, 10_000)
    reader = world.open_reader("canteen-1", CANTEEN_1)
    mark = len(reader.shows)
    reader.terminal.ui("meal:set-a")
    reader.wait_screen("present", mark)
    reader.tap(old)
    reader.wait_screen("paid", mark)
    reader.lift()
    again = len(reader.shows)
    reader.tap(old)
    duplicate = reader.wait_screen("paid", again)
    reader.lift()
    assert duplicate.data["status"] == "duplicate" and "canteen_already_paid" in reader.said()
    reader.sync()
    assert len(ledger_payments(world, old.ccard_uid)) == 1


def test_a_card_pulled_mid_authentication_leaves_no_payment(world):
    old = world.persona(OLD)
    world.topup(old.ccard_uid, 10_000)
    reader = world.open_reader("canteen-1", CANTEEN_1)
    reader.slot.faults.set("card_removed_mid_read", arg="auth", count=1)
    mark = len(reader.shows)
    reader.terminal.ui("meal:set-a")
    reader.wait_screen("present", mark)
    reader.tap(old)
    told = reader.wait_screen("refused", mark)  # the resident is told the card was not read, and to try again
    assert told.data["code"] == "read_failed" and "canteen_read_failed" in reader.said()
    assert reader.app.payments.journal.last_counter() == 0
    assert all(s.screen != "paid" for s in reader.shows[mark:])
    reader.lift()
    assert reader.pay_meal(old, "set-a").screen == "paid"  # the next tap pays, once
    reader.sync()
    assert len(ledger_payments(world, old.ccard_uid)) == 1


def test_the_daily_subsidy_is_once_across_two_offline_canteens_and_the_second_is_reversed(world):
    old = world.persona(OLD)
    world.topup(old.ccard_uid, 20_000)
    one = world.open_reader("canteen-1", CANTEEN_1, fresh_s=0.2)
    two = world.open_reader("canteen-2", CANTEEN_2, fresh_s=0.2)
    world.central.stop_service()
    wait_for(lambda: not one.app.payments.online() and not two.app.payments.online(), what="both offline")
    # 18 元, 85 折 = 15.30 元 ≥ 15: each canteen, offline, grants today's 3 元 provisionally → 12.30 元.
    assert one.pay_meal(old, "set-a").data["paid_fen"] == 1230
    assert two.pay_meal(old, "set-a").data["paid_fen"] == 1230
    world.central.start_service()
    one.sync()
    two.sync()
    statement = world.statement(old.ccard_uid)
    kinds = [line["entry_type"] for line in statement["lines"]]
    assert kinds == ["topup", "payment", "payment", "adjustment"], kinds
    adjustment = statement["lines"][-1]
    assert adjustment["amount_fen"] == -300 and adjustment["note"]
    assert statement["totals"]["subsidy_fen"] == 300
    assert statement["balance_fen"] == 20_000 - 1230 - 1230 - 300
    # Both readers learn the adjusted balance and that today's subsidy was had.
    one.sync()
    assert one.app.payments.standing(old.ccard_uid).balance_fen == statement["balance_fen"]
    assert one.app.payments.standing(old.ccard_uid).subsidy_today


def test_void_reverses_the_payment_at_the_central(world):
    old = world.persona(OLD)
    world.topup(old.ccard_uid, 10_000)
    reader = world.open_reader("canteen-1", CANTEEN_1)
    paid = reader.pay_meal(old, "set-a")
    [recent] = reader.terminal.recent_payments()
    mark = len(reader.shows)
    reader.terminal.void(recent["entry_id"], "顾客退餐", "staff-7")
    result = reader.wait_screen("void_result", mark)
    assert result.data["ok"] is True and result.data["refund_fen"] == paid.data["paid_fen"] == 1230
    reader.sync()
    statement = world.statement(old.ccard_uid)
    assert statement["balance_fen"] == 10_000
    assert [line["entry_type"] for line in statement["lines"]] == ["topup", "payment", "void"]


def test_the_z_report_equals_the_ledger_and_refuses_over_unacknowledged_entries(world):
    cards = [world.persona(i) for i in (OLD, MIDDLE, YOUNG)]
    for p in cards:
        world.topup(p.ccard_uid, 10_000)
    reader = world.open_reader("canteen-1", CANTEEN_1)
    world.central.stop_service()  # the payments cannot be acknowledged yet
    for p, meal in zip(cards, ("set-a", "set-b", "set-c"), strict=True):
        assert reader.pay_meal(p, meal).screen == "paid"
    day = reader.app.terminal.clock().date().isoformat()
    with pytest.raises(DayCloseRefused) as info:
        reader.app.day_close.close_day(day, "staff-7")
    assert len(info.value.unacknowledged) == 3 and reader.app.day_close.reports() == []
    world.central.start_service()
    reader.sync()
    report = reader.app.day_close.close_day(day, "staff-7")
    central_paid = sum(-line["amount_fen"] for p in cards for line in ledger_payments(world, p.ccard_uid))
    central_subsidy = sum(line["subsidy_fen"] for p in cards for line in ledger_payments(world, p.ccard_uid))
    assert report.body["payments"]["paid_fen"] == central_paid
    assert report.body["payments"]["subsidy_fen"] == central_subsidy
    assert report.body["payments"]["count"] == 3
    reader.sync()  # the Z report itself reaches the central
    rows = world.central.store.engine.connect().exec_driver_sql(
        "SELECT count(*) FROM events WHERE type = 'canteen.day_close'").scalar()
    assert rows == 1


def test_card_rows_for_every_persona_are_masked(world):
    for p in personas.load():
        row = card_row(p)
        assert row["masked_name"] != p.name and "*" in row["masked_name"]


def test_each_reader_reports_how_far_behind_its_deny_list_is(world):
    reader = world.open_reader("canteen-1", CANTEEN_1)
    reader.app.base.sync.sync_once(pull=True, heartbeat=True)
    [state] = [s for s in world.central.store.terminal_states() if s.terminal_id == "canteen-1"]
    assert state.feed_age_s is not None and 0 <= state.feed_age_s < 60
    assert reader.app.blacklist_age_s() is not None and reader.app.blacklist_age_s() < 60
    import httpx

    metrics = httpx.get(f"{world.central.url}/metrics", timeout=5,
                        headers={"Authorization": f"Bearer {world.central.admin_token}"}).text
    assert 'linfen_central_terminal_feed_age_seconds{terminal="canteen-1"' in metrics  # per terminal, for admins
    anonymous = httpx.get(f"{world.central.url}/metrics", timeout=5).text
    assert "linfen_central_max_feed_age_seconds" in anonymous and "canteen-1" not in anonymous  # naming none
