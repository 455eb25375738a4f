"""The reader's money core: journal, standing, offline limits, double taps, voids and top-ups."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

import pytest

from kiosk.canteen.card_data import online_check
from kiosk.canteen.journal import CANTEEN_MIGRATIONS, CardJournal
from kiosk.canteen.payments import CardFacts, CardPayments, PaymentError, basket_key
from kiosk.canteen.wallet import CardLimits, Snapshot
from kiosk.reference import CardEntry
from kiosk.store import Store, StoreError
from sync import apply
from sync.apply import CAUGHT_UP_KEY, feed_age_s

TZ = dt.timezone(dt.timedelta(hours=8))
MEAL = [{"item_id": "set-a", "name": "套餐A", "qty": 1, "unit_fen": 1500}]


@dataclass
class Price:
    """A fixed quote: 15 元, 3 元 subsidy unless used today."""

    gross_fen: int = 1500
    discount_fen: int = 0
    subsidy_fen: int = 0
    paid_fen: int = 1500


def price(subsidy_used: bool) -> Price:
    return Price(subsidy_fen=0 if subsidy_used else 300, paid_fen=1500 if subsidy_used else 1200)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 3, 11, 30, tzinfo=TZ)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "reader.db", "canteen-1", extra_migrations=(CANTEEN_MIGRATIONS, apply.MIGRATIONS))
    yield s
    s.close()


class Reader:
    """A reader with settable pulled facts and sync state."""

    def __init__(self, store: Store, limits: CardLimits | None = None) -> None:
        self.clock = Clock()
        self.is_online = True
        self.cards = {"C5EEDA41": CardEntry("C5EEDA41", "active")}
        self.denied: dict[str, str] = {}
        self.balances = {"C5EEDA41": Snapshot(10_000, "2026-12-03T03:00:00+00:00", None, {})}
        self.pay = CardPayments(store, self.facts, limits or CardLimits(), self.clock, lambda: self.is_online)

    def facts(self, card_no: str) -> CardFacts:
        return CardFacts(self.cards.get(card_no), self.denied.get(card_no), self.balances.get(card_no))


def test_a_payment_writes_one_journal_entry_and_its_outbox_event_with_the_same_id(store):
    reader = Reader(store)
    result = reader.pay.pay("C5EEDA41", MEAL, price)
    assert result.status == "paid" and result.balance_after_fen == 10_000 - 1200
    event = store.pending_events()[0]
    assert event.type == "card.payment" and event.id == result.entry.entry_id
    assert event.payload["entry_id"] == event.id and event.payload["counter"] == 1
    assert event.payload["reader_id"] == "canteen-1" and event.payload["subsidy_fen"] == 300
    assert event.payload["paid_fen"] + event.payload["subsidy_fen"] + event.payload["discount_fen"] == 1500
    with pytest.raises(sqlite3.DatabaseError, match="immutable"):
        store.db.conn.execute("UPDATE card_journal SET debit_fen = 0")


def test_the_subsidy_is_granted_once_a_day_at_a_reader_and_again_after_its_payment_is_voided(store):
    reader = Reader(store)
    first = reader.pay.pay("C5EEDA41", MEAL, price)
    reader.clock.advance(60)
    second = reader.pay.pay("C5EEDA41", MEAL, price)
    assert (first.entry.subsidy_fen, second.entry.subsidy_fen) == (300, 0)
    reader.pay.void(first.entry.entry_id, "点错了", "staff-7")
    reader.clock.advance(60)
    assert reader.pay.pay("C5EEDA41", [{**MEAL[0], "qty": 2}], price).entry.subsidy_fen == 300


def test_a_snapshot_that_says_today_s_subsidy_was_had_elsewhere_gives_none(store):
    reader = Reader(store)
    reader.balances["C5EEDA41"] = Snapshot(10_000, "t", "2026-12-03", {})
    assert reader.pay.pay("C5EEDA41", MEAL, price).entry.subsidy_fen == 0


def test_a_double_tap_within_seconds_is_charged_once_and_a_new_basket_is_a_new_sale(store):
    reader = Reader(store)
    first = reader.pay.pay("C5EEDA41", MEAL, price)
    reader.clock.advance(2)
    again = reader.pay.pay("C5EEDA41", MEAL, price)
    assert again.status == "duplicate" and again.entry.entry_id == first.entry.entry_id
    assert len(store.pending_events()) == 1
    other = reader.pay.pay("C5EEDA41", [{"item_id": "soup", "name": "汤", "qty": 1, "unit_fen": 300}], price)
    assert other.status == "paid"
    reader.clock.advance(10)
    assert reader.pay.pay("C5EEDA41", MEAL, price).status == "paid"
    assert len(store.pending_events()) == 3


def test_insufficient_balance_is_refused_with_what_is_left(store):
    reader = Reader(store)
    reader.balances["C5EEDA41"] = Snapshot(1000, "t", None, {})
    result = reader.pay.pay("C5EEDA41", MEAL, price)
    assert result.status == "refused" and result.refusal.code == "insufficient"
    assert result.refusal.limit_fen == 1000 and store.pending_events() == []


def test_the_overdraft_lets_a_balance_go_below_zero_by_its_amount_only(store):
    reader = Reader(store, CardLimits(overdraft_fen=500))
    reader.balances["C5EEDA41"] = Snapshot(1000, "t", None, {})
    assert reader.pay.pay("C5EEDA41", MEAL, price).status == "paid"  # 1000 - 1200 = -200 >= -500
    reader.clock.advance(60)
    assert reader.pay.pay("C5EEDA41", [{**MEAL[0], "qty": 3}], price).refusal.code == "insufficient"


@pytest.mark.parametrize("status", ["lost", "blocked", "cancelled"])
def test_a_card_not_active_is_refused_before_any_money_moves(store, status):
    reader = Reader(store)
    reader.cards["C5EEDA41"] = CardEntry("C5EEDA41", status)
    with pytest.raises(PaymentError) as info:
        reader.pay.pay("C5EEDA41", MEAL, price)
    assert info.value.code == status and store.pending_events() == []


def test_a_card_on_the_deny_list_or_unknown_is_refused(store):
    reader = Reader(store)
    reader.denied["C5EEDA41"] = "挂失"
    with pytest.raises(PaymentError, match="挂失") as info:
        reader.pay.pay("C5EEDA41", MEAL, price)
    assert info.value.code == "denied"
    with pytest.raises(PaymentError) as info:
        reader.pay.pay("00000000", MEAL, price)
    assert info.value.code == "unknown_card"


def test_offline_payments_stop_at_each_limit(store):
    reader = Reader(store, CardLimits(per_tap_fen=1300, per_day_fen=5000, consecutive_offline=3))
    reader.is_online = False
    two = reader.pay.pay("C5EEDA41", [{**MEAL[0], "qty": 2}], lambda used: Price(3000, 0, 0, 3000))
    assert two.refusal.code == "over_tap_limit" and two.refusal.limit_fen == 1300
    paid = []
    for n in range(3):
        reader.clock.advance(10)
        paid.append(reader.pay.pay("C5EEDA41", [{**MEAL[0], "item_id": f"d{n}", "unit_fen": 1000}],
                                   lambda used: Price(1000, 0, 0, 1000)))
    assert [p.status for p in paid] == ["paid"] * 3 and all(p.offline for p in paid)
    reader.clock.advance(10)
    assert reader.pay.pay("C5EEDA41", [{"item_id": "x", "qty": 1}],
                          lambda used: Price(100, 0, 0, 100)).refusal.code == "too_many_offline"
    # The central counted the three (the snapshot names this reader's counter 3): offline taps reset,
    # but the day's offline spending still counts toward the per-day limit.
    reader.balances["C5EEDA41"] = Snapshot(7000, "t2", None, {"canteen-1": 3})
    reader.clock.advance(10)
    assert reader.pay.pay("C5EEDA41", [{"item_id": "y", "qty": 1}],
                          lambda used: Price(1200, 0, 0, 1200)).status == "paid"
    reader.clock.advance(10)
    refused = reader.pay.pay("C5EEDA41", [{"item_id": "z", "qty": 1}], lambda used: Price(1200, 0, 0, 1200))
    assert refused.refusal.code == "over_day_limit" and refused.refusal.limit_fen == 800


def test_online_the_offline_limits_do_not_apply(store):
    reader = Reader(store, CardLimits(per_tap_fen=100))
    assert reader.pay.pay("C5EEDA41", MEAL, price).status == "paid"


def test_a_card_never_synced_has_no_balance_and_is_refused(store):
    reader = Reader(store)
    del reader.balances["C5EEDA41"]
    assert reader.pay.pay("C5EEDA41", MEAL, price).refusal.code == "no_balance"


def test_the_balance_counts_own_unsynced_entries_until_the_snapshot_counts_them(store):
    reader = Reader(store)
    reader.pay.pay("C5EEDA41", MEAL, price)
    assert reader.pay.standing("C5EEDA41").balance_fen == 10_000 - 1200
    # Acknowledged but the snapshot is older (no readers map): still counted as unsynced? No: acked
    # entries without a readers map are taken as counted.
    store.mark_acked([e.id for e in store.pending_events()])
    assert reader.pay.standing("C5EEDA41").balance_fen == 10_000
    reader.balances["C5EEDA41"] = Snapshot(10_000, "t", None, {"canteen-1": 0})
    assert reader.pay.standing("C5EEDA41").balance_fen == 10_000 - 1200
    reader.balances["C5EEDA41"] = Snapshot(8_800, "t", "2026-12-03", {"canteen-1": 1})
    assert reader.pay.standing("C5EEDA41").balance_fen == 8_800


def test_a_void_refunds_once_within_its_window_with_a_reason_and_a_clerk(store):
    reader = Reader(store)
    paid = reader.pay.pay("C5EEDA41", MEAL, price).entry
    with pytest.raises(PaymentError, match="reason"):
        reader.pay.void(paid.entry_id, "  ", "staff-7")
    void = reader.pay.void(paid.entry_id, "顾客退餐", "staff-7")
    assert void.debit_fen == -1200 and void.payload["voids"] == paid.entry_id
    assert reader.pay.standing("C5EEDA41").balance_fen == 10_000
    with pytest.raises(PaymentError) as info:
        reader.pay.void(paid.entry_id, "again", "staff-7")
    assert info.value.code == "already_voided"
    late = reader.pay.pay("C5EEDA41", [{**MEAL[0], "qty": 2}], price).entry
    reader.clock.advance(601)
    with pytest.raises(PaymentError) as info:
        reader.pay.void(late.entry_id, "late", "staff-7")
    assert info.value.code == "too_late"


def test_a_top_up_credits_the_card_and_names_the_staff(store):
    reader = Reader(store)
    entry = reader.pay.topup("C5EEDA41", 5000, "cash", "staff-3")
    assert entry.debit_fen == -5000 and entry.payload["staff"] == "staff-3"
    assert store.pending_events()[0].type == "card.topup"
    assert reader.pay.standing("C5EEDA41").balance_fen == 15_000
    for amount in (0, -5, 100_001, True):
        with pytest.raises(PaymentError):
            reader.pay.topup("C5EEDA41", amount, "cash", "staff-3")


def test_journal_entries_are_pruned_only_after_the_central_acknowledged_them(store):
    reader = Reader(store)
    a = reader.pay.pay("C5EEDA41", MEAL, price).entry
    reader.clock.advance(3600 * 24)
    b = reader.pay.pay("C5EEDA41", MEAL, price).entry
    journal = CardJournal(store)
    assert journal.prune("2026-12-05") == 0  # nothing acknowledged
    store.mark_acked([a.entry_id])
    assert journal.prune("2026-12-05") == 1
    assert journal.get(a.entry_id) is None and journal.get(b.entry_id) is not None
    assert [e.entry_id for e in journal.unacknowledged()] == [b.entry_id]
    assert journal.last_counter() == 2


def test_a_store_without_the_journal_is_refused(tmp_path):
    s = Store.open(tmp_path / "plain.db", "x")
    with pytest.raises(StoreError, match="journal"):
        CardJournal(s)
    s.close()


def test_basket_key_ignores_order_and_sees_quantities():
    a = [{"item_id": "x", "qty": 1}, {"item_id": "y", "qty": 2}]
    assert basket_key(a) == basket_key(list(reversed(a)))
    assert basket_key(a) != basket_key([{"item_id": "x", "qty": 1}, {"item_id": "y", "qty": 1}])


def test_online_means_caught_up_with_the_feed_recently(store):
    clock = Clock()
    online = online_check(store, 300, clock)
    assert not online() and feed_age_s(store, clock()) is None
    apply.write_state(store, {CAUGHT_UP_KEY: (clock() - dt.timedelta(seconds=100)).isoformat()})
    assert online() and feed_age_s(store, clock()) == pytest.approx(100)
    clock.advance(201)
    assert not online()
