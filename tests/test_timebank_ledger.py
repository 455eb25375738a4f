"""The Time Bank's policy versions and coin ledger: post_entry, balances, statements (both backends)."""

from __future__ import annotations

import copy
import datetime as dt
import threading

import pytest
from sqlalchemy import select

from sync.central.errors import CentralError
from sync.central.storage import CentralStore
from sync.central.timebank import ledger, reviews, rewards, transfers
from sync.central.timebank.ledger import ISSUE, Line, post_entry, vol_account
from sync.central.timebank.policy import (
    DEFAULT_POLICY_FILE,
    import_policy,
    load_policy_file,
    parse_policy,
    policy_on,
    shanghai_day,
)
from sync.central.timebank.schema import tb_redemptions
from tests.timebank_support import assert_ledger_sound, import_default_policy, make_member, tb_conn

AT = "2026-03-02T02:00:00.000000+00:00"


@pytest.fixture
def store(central_db_url):
    s = CentralStore.open(central_db_url)
    yield s
    s.close()


def test_policy_file_parses_and_the_rules_are_the_documented_ones():
    policy = parse_policy(load_policy_file(DEFAULT_POLICY_FILE))
    assert policy.version == "shanghai-2026" and policy.valid_from == "2026-01-01"
    assert (policy.rules.coins_per_hour, policy.rules.daily_cap_coins, policy.rules.lifetime_cap_coins) == (1, 2, 600)
    assert (policy.rules.redeem_age, policy.rules.redeem_age_hardship, policy.rules.auto_close_hours) == (65, 60, 24)


@pytest.mark.parametrize("change, field", [
    (lambda d: d.pop("version"), "version"),
    (lambda d: d.update(extra=1), "extra"),
    (lambda d: d["rules"].pop("join_age"), "rules.join_age"),
    (lambda d: d["rules"].update(bonus=3), "rules.bonus"),
    (lambda d: d["rules"].update(daily_cap_coins=-1), "rules.daily_cap_coins"),
    (lambda d: d["rules"].update(daily_cap_coins="2"), "rules.daily_cap_coins"),
    (lambda d: d["rules"].update(redeem_age=True), "rules.redeem_age"),
    (lambda d: d["rules"].update(coins_per_hour=0), "rules.coins_per_hour"),
    (lambda d: d.update(valid_from="2026-13-01"), "valid_from"),
    (lambda d: d.update(format="other"), "format"),
])
def test_a_bad_policy_is_refused_naming_its_field(change, field):
    doc = copy.deepcopy(load_policy_file())
    change(doc)
    with pytest.raises(CentralError) as caught:
        parse_policy(doc)
    assert caught.value.reason == "bad_policy" and field in caught.value.detail


def test_import_is_idempotent_a_changed_version_is_refused_and_the_day_picks_the_version(store):
    with tb_conn(store) as conn:
        with pytest.raises(CentralError) as none:
            policy_on(conn, dt.date(2026, 3, 1))
        assert none.value.reason == "no_policy"
        first = import_default_policy(conn)
        assert import_default_policy(conn) == first
        changed = copy.deepcopy(load_policy_file())
        changed["rules"]["daily_cap_coins"] = 3
        with pytest.raises(CentralError) as conflict:
            import_policy(conn, changed, "admin")
        assert conflict.value.reason == "policy_conflict"
        changed.update(version="shanghai-2026b", valid_from="2026-07-01")
        import_policy(conn, changed, "admin")
        assert policy_on(conn, dt.date(2026, 6, 30)).version == "shanghai-2026"
        assert policy_on(conn, dt.date(2026, 7, 1)).rules.daily_cap_coins == 3
        with pytest.raises(CentralError):
            policy_on(conn, dt.date(2025, 12, 31))


def test_shanghai_day_turns_at_16_utc():
    assert shanghai_day("2026-03-01T15:59:59+00:00") == dt.date(2026, 3, 1)
    assert shanghai_day("2026-03-01T16:00:00+00:00") == dt.date(2026, 3, 2)


def test_post_entry_balances_and_refuses_an_unbalanced_entry(store):
    with tb_conn(store) as conn:
        vid = make_member(conn)
        eid = post_entry(conn, entry_type="earn", actor="system", at=AT, category="meals", shift_id=None,
                         lines=[Line(ISSUE, -150, "earn"), Line(vol_account(vid), 150, "earn")])
        assert len(eid) == 36 and ledger.balance_cc(conn, vol_account(vid)) == 150
        with pytest.raises(AssertionError):
            post_entry(conn, entry_type="earn", actor="system", at=AT,
                       lines=[Line(ISSUE, -150, "earn"), Line(vol_account(vid), 151, "earn")])
        assert ledger.balance_cc(conn, ISSUE) == -150
        assert_ledger_sound(conn)


def test_statement_shows_given_spent_pending_and_counterparts(store):
    with tb_conn(store) as conn:
        a, b = make_member(conn), make_member(conn)
        post_entry(conn, entry_type="earn", actor="system", at=AT, category="meals",
                   lines=[Line(ISSUE, -300, "earn"), Line(vol_account(a), 300, "earn")])
        post_entry(conn, entry_type="gift", actor=f"vol:{a}", at=AT, memo="亲属赠与",
                   lines=[Line(vol_account(a), -100, "gift"), Line(vol_account(b), 100, "gift")])
        post_entry(conn, entry_type="redeem", actor=f"vol:{a}", at=AT, category="goods",
                   lines=[Line(vol_account(a), -50, "redeem"), Line(ledger.REWARDS, 50, "redeem")])
        s = ledger.statement(conn, a)
        assert (s.balance_cc, s.given_cc, s.received_cc, s.pending_cc) == (150, 300, 50, 0)
        assert [(r.entry_type, r.amount_cc, r.counterpart) for r in s.rows] == [
            ("redeem", -50, "rewards"), ("gift", -100, vol_account(b)), ("earn", 300, "issue")]
        assert ledger.statement(conn, a, limit=1).rows[0].entry_type == "redeem"
        assert ledger.statement(conn, b).given_cc == 0


def test_lock_members_refuses_unknown_and_inactive(store):
    with tb_conn(store) as conn:
        gone = make_member(conn, status="inactive")
        with pytest.raises(CentralError) as unknown:
            ledger.lock_members(conn, [999])
        assert unknown.value.reason == "unknown_member"
        with pytest.raises(CentralError) as inactive:
            ledger.lock_members(conn, [gone])
        assert inactive.value.reason == "inactive_member"
        assert ledger.lock_accounts(conn, ["pool", vol_account(gone)], AT) == {"pool": 0, vol_account(gone): 0}
        assert_ledger_sound(conn)


# -- transfers, rewards, reviews ------------------------------------------------------------------
def funded(conn, amount_cc: int = 500, **member) -> int:
    """A member holding ``amount_cc`` earned coins."""
    vid = make_member(conn, **member)
    post_entry(conn, entry_type="earn", actor="system", at=AT,
               lines=[Line(ISSUE, -amount_cc, "earn"), Line(vol_account(vid), amount_cc, "earn")])
    return vid


def rid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def test_gift_donate_grant_and_group_move_coins_once_per_request(store):
    with tb_conn(store) as conn:
        a, b, c = funded(conn), make_member(conn), make_member(conn)
        assert transfers.gift(conn, a, b, 100, relation="女儿", actor=f"vol:{a}", request_id=rid(1), at=AT) == rid(1)
        assert transfers.gift(conn, a, b, 100, relation="女儿", actor=f"vol:{a}", request_id=rid(1), at=AT) == rid(1)
        transfers.donate(conn, a, 150, actor=f"vol:{a}", request_id=rid(2), at=AT)
        transfers.pool_grant(conn, c, 50, actor="staff:org", memo="困难补助", request_id=rid(3), at=AT)
        transfers.group_transfer(conn, payer=vol_account(a), shares={vol_account(b): 30, vol_account(c): 20},
                                 actor="staff:org", category="meals", memo="团队", request_id=rid(4), at=AT)
        balances = {v: ledger.balance_cc(conn, vol_account(v)) for v in (a, b, c)}
        assert balances == {a: 200, b: 130, c: 70} and ledger.balance_cc(conn, ledger.POOL) == 100
        assert ledger.statement(conn, c).given_cc == 50  # a pool grant counts as given
        assert_ledger_sound(conn)


@pytest.mark.parametrize("call, reason", [
    (lambda conn, a, b: transfers.gift(conn, a, make_member(conn), 0, relation="子", actor="x", request_id=rid(9), at=AT), "bad_amount"),
    (lambda conn, a, b: transfers.gift(conn, a, make_member(conn), 501, relation="子", actor="x", request_id=rid(9), at=AT),
     "insufficient_balance"),
    (lambda conn, a, b: transfers.gift(conn, a, a, 10, relation="子", actor="x", request_id=rid(9), at=AT), "to_self"),
    (lambda conn, a, b: transfers.gift(conn, a, 999, 10, relation="子", actor="x", request_id=rid(9), at=AT),
     "unknown_member"),
    (lambda conn, a, b: transfers.gift(conn, a, make_member(conn), 10, relation="", actor="x", request_id=rid(9), at=AT), "bad_relation"),
    (lambda conn, a, b: transfers.donate(conn, b, 10, actor="x", request_id=rid(9), at=AT), "inactive_member"),
    (lambda conn, a, b: transfers.gift(conn, a, b, 10, relation="子", actor="x", request_id=rid(9), at=AT),
     "inactive_member"),
    (lambda conn, a, b: transfers.pool_grant(conn, a, 10, actor="x", memo="m", request_id=rid(9), at=AT),
     "insufficient_balance"),
    (lambda conn, a, b: transfers.group_transfer(conn, payer=vol_account(a), shares={vol_account(a): 5}, actor="x",
                                                 category=None, memo=None, request_id=rid(9), at=AT), "to_self"),
    (lambda conn, a, b: transfers.donate(conn, a, 10, actor="x", request_id="short", at=AT), "bad_request_id"),
])
def test_transfer_refusals_move_nothing(store, call, reason):
    with tb_conn(store) as conn:
        a, b = funded(conn), make_member(conn, status="inactive")
        with pytest.raises(CentralError) as caught:
            call(conn, a, b)
        assert caught.value.reason == reason and caught.value.detail
        assert ledger.balance_cc(conn, vol_account(a)) == 500
        assert_ledger_sound(conn)


def test_redeem_checks_stock_balance_age_and_a_resent_request(store):
    with tb_conn(store) as conn:
        import_default_policy(conn)
        old, young, poor = funded(conn, born_on="1950-01-01"), funded(conn, born_on="1990-01-01"), make_member(conn)
        hardship = funded(conn, born_on="1964-06-01", hardship=1)
        rice = rewards.add_reward(conn, name="大米 5 斤", category="goods", cost_cc=200, stock=2, actor="staff:o", at=AT)
        today = dt.date(2026, 3, 2)
        first = rewards.redeem(conn, old, rice, request_id=rid(1), actor=f"vol:{old}", today=today, at=AT)
        assert first.entry_id and first.review_id is None and first.cost_cc == 200
        assert rewards.redeem(conn, old, rice, request_id=rid(1), actor=f"vol:{old}", today=today, at=AT) == first
        with pytest.raises(CentralError) as poor_refused:
            rewards.redeem(conn, poor, rice, request_id=rid(2), actor="x", today=today, at=AT)
        assert poor_refused.value.reason == "insufficient_balance" and "余额不足" in poor_refused.value.detail
        waiting = rewards.redeem(conn, young, rice, request_id=rid(3), actor="x", today=today, at=AT)
        assert waiting.entry_id == "" and waiting.review_id is not None  # nothing moved yet
        assert ledger.balance_cc(conn, vol_account(young)) == 500
        assert rewards.redeem(conn, hardship, rice, request_id=rid(4), actor="x", today=today, at=AT).review_id is None
        assert [r.stock for r in rewards.catalogue(conn)] == [0]
        with pytest.raises(CentralError) as empty:
            rewards.redeem(conn, old, rice, request_id=rid(5), actor="x", today=today, at=AT)
        assert empty.value.reason == "out_of_stock"
        with pytest.raises(CentralError) as still_empty:  # allowing the young member's wait finds no stock either
            reviews.allow(conn, waiting.review_id, "staff:o")
        assert still_empty.value.reason == "out_of_stock"
        assert rewards.restock(conn, rice, 1, "staff:o", AT) == 1
        assert conn.execute(select(tb_redemptions.c.status).where(tb_redemptions.c.id == waiting.id)).scalar() \
            == "waiting"
        entry = reviews.allow(conn, waiting.review_id, "staff:o")
        assert entry and ledger.balance_cc(conn, vol_account(young)) == 300
        assert conn.execute(select(tb_redemptions.c.status, tb_redemptions.c.entry_id)
                            .where(tb_redemptions.c.id == waiting.id)).one() == ("done", entry)
        s = ledger.statement(conn, young)
        assert (s.received_cc, s.given_cc) == (200, 500)
        assert ledger.balance_cc(conn, ledger.REWARDS) == 600
        assert_ledger_sound(conn)


def test_a_refused_redemption_review_moves_nothing(store):
    with tb_conn(store) as conn:
        import_default_policy(conn)
        young = funded(conn, born_on="1990-01-01")
        tea = rewards.add_reward(conn, name="茶叶", category="goods", cost_cc=100, stock=1, actor="staff:o", at=AT)
        waiting = rewards.redeem(conn, young, tea, request_id=rid(1), actor="x", today=dt.date(2026, 3, 2), at=AT)
        with pytest.raises(CentralError):
            reviews.refuse(conn, waiting.review_id, "staff:o", "")
        reviews.refuse(conn, waiting.review_id, "staff:o", "未到年龄")
        assert reviews.get_review(conn, waiting.review_id).status == "refused"
        assert ledger.balance_cc(conn, vol_account(young)) == 500 and rewards.catalogue(conn)[0].stock == 1
        with pytest.raises(CentralError) as bad:
            rewards.add_reward(conn, name="x", category="goods", cost_cc=0, stock=1, actor="staff:o", at=AT)
        assert bad.value.reason == "bad_reward"
        with pytest.raises(CentralError):
            rewards.restock(conn, tea, -2, "staff:o", AT)


def _together(store, calls) -> list[object]:
    """Run each call in its own write transaction on its own thread, all released at once."""
    barrier, results = threading.Barrier(len(calls)), []

    def run(call) -> None:
        barrier.wait(timeout=30)
        try:
            with tb_conn(store) as conn:
                results.append(call(conn))
        except CentralError as refused:
            results.append(refused.reason)

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def test_concurrent_spending_never_goes_beyond_the_balance_or_the_stock(store):
    with tb_conn(store) as conn:
        import_default_policy(conn)
        many = rewards.add_reward(conn, name="毛巾", category="goods", cost_cc=100, stock=50, actor="staff:o", at=AT)
    today = dt.date(2026, 3, 2)
    for n in range(0, 40, 10):  # a few rounds: a race without locks loses only now and then
        with tb_conn(store) as conn:
            a, b, c = (funded(conn, 100) for _ in range(3))
            last = rewards.add_reward(conn, name="雨伞", category="goods", cost_cc=50, stock=1, actor="staff:o", at=AT)
        one_member = _together(store, [
            lambda conn, a=a, n=n: rewards.redeem(conn, a, many, request_id=rid(n + 1), actor="x", today=today, at=AT),
            lambda conn, a=a, n=n: rewards.redeem(conn, a, many, request_id=rid(n + 2), actor="x", today=today, at=AT),
            lambda conn, a=a, b=b, n=n: transfers.gift(conn, a, b, 100, relation="子", actor="x",
                                                       request_id=rid(n + 3), at=AT)])
        assert one_member.count("insufficient_balance") == 2, one_member
        last_unit = _together(store, [
            lambda conn, b=b, n=n, last=last: rewards.redeem(conn, b, last, request_id=rid(n + 4), actor="x",
                                                             today=today, at=AT),
            lambda conn, c=c, n=n, last=last: rewards.redeem(conn, c, last, request_id=rid(n + 5), actor="x",
                                                             today=today, at=AT)])
        assert last_unit.count("out_of_stock") == 1, last_unit
        with tb_conn(store) as conn:
            assert {r.id: r.stock for r in rewards.catalogue(conn)}[last] == 0
            assert ledger.balance_cc(conn, vol_account(a)) == 0
            assert_ledger_sound(conn)
