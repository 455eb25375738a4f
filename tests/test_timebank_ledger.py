"""The Time Bank's policy versions and coin ledger: post_entry, balances, statements (both backends)."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from sync.central.errors import CentralError
from sync.central.storage import CentralStore
from sync.central.timebank import ledger
from sync.central.timebank.ledger import ISSUE, Line, post_entry, vol_account
from sync.central.timebank.policy import (
    DEFAULT_POLICY_FILE,
    import_policy,
    load_policy_file,
    parse_policy,
    policy_on,
    shanghai_day,
)
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
