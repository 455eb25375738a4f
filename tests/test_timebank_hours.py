"""Time Bank hours: check in/out, co-signing, flags, caps and reviews, forgotten check-outs, approvals (both backends)."""

from __future__ import annotations

import copy

import pytest
from sqlalchemy import insert, select

from sync.central.errors import CentralError
from sync.central.storage import CentralStore
from sync.central.timebank import hours, reviews
from sync.central.timebank.ledger import balance_cc, vol_account
from sync.central.timebank.policy import import_policy, load_policy_file
from sync.central.timebank.schema import tb_activities, tb_audit, tb_entries
from tests.timebank_support import (
    assert_ledger_sound,
    import_default_policy,
    make_member,
    person_key_of,
    tb_conn,
)

DAY = "2026-03-02"  # a Monday; 09:00 Shanghai = 01:00 UTC
RESIDENT = person_key_of("resident")


def t(hhmm: str, day: str = DAY) -> str:
    """A UTC time on ``day``."""
    return f"{day}T{hhmm}:00.000000+00:00"


@pytest.fixture
def store(central_db_url):
    s = CentralStore.open(central_db_url)
    with tb_conn(s) as conn:
        import_default_policy(conn)
    yield s
    s.close()


def shift(conn, vid, start, end, *, cosigner=RESIDENT, **kw):
    hours.check_in(conn, vid, at=start, via="kiosk", actor="terminal:hall-01", **kw)
    return hours.check_out(conn, vid, at=end, via="kiosk", actor="terminal:hall-01", cosigner_key=cosigner,
                           cosigned_via="id_card" if cosigner else None)


def test_check_in_and_out_refusals_and_the_category(store):
    with tb_conn(store) as conn:
        vid = make_member(conn, services="meals,phone")
        with pytest.raises(CentralError) as none:
            hours.check_out(conn, vid, at=t("02:00"), via="qr", actor=f"vol:{vid}")
        assert none.value.reason == "not_checked_in"
        opened = hours.check_in(conn, vid, at=t("01:00"), via="qr", actor=f"vol:{vid}")
        assert (opened.status, opened.category, opened.in_via) == ("open", "meals", "qr")
        with pytest.raises(CentralError) as twice:
            hours.check_in(conn, vid, at=t("01:05"), via="qr", actor=f"vol:{vid}")
        assert twice.value.reason == "already_checked_in"
        assert hours.open_shift(conn, vid).id == opened.id
        with pytest.raises(CentralError) as unknown:
            hours.check_in(conn, 9999, at=t("01:00"), via="qr", actor="system")
        assert unknown.value.reason == "unknown_member"
        other = make_member(conn, services="")
        activity = conn.execute(insert(tb_activities).values(
            title="助餐", category="escort", community="c", place="p", starts_at=t("00:00"), ends_at=t("04:00"),
            slots=3, checkin_token="tok-1", created_by="staff:o", created_at=t("00:00"))).inserted_primary_key[0]
        assert hours.check_in(conn, other, at=t("01:00"), via="qr", actor="x", activity_id=activity).category == "escort"
        third = make_member(conn, services="")
        assert hours.check_in(conn, third, at=t("01:00"), via="qr", actor="x").category == "companion"
        with pytest.raises(CentralError) as bad:
            hours.check_in(conn, make_member(conn), at=t("01:00"), via="qr", actor="x", category="juggling")
        assert bad.value.reason == "bad_category"
        actions = [a for a, in conn.execute(select(tb_audit.c.action).where(tb_audit.c.subject == f"vol:{vid}"))]
        assert actions == ["check_in"]


def test_a_cosigned_shift_is_approved_at_once_and_one_without_waits(store):
    with tb_conn(store) as conn:
        vid = make_member(conn)
        done = shift(conn, vid, t("01:00"), t("02:30"))
        assert (done.shift.status, done.shift.minutes, done.coins_cc, done.review_id) == ("approved", 90, 150, None)
        assert balance_cc(conn, vol_account(vid)) == 150
        entry = conn.execute(select(tb_entries).where(tb_entries.c.entry_id == done.shift.entry_id)).one()
        assert (entry.type, entry.shift_id, entry.category) == ("earn", done.shift.id, "companion")
        waiting = shift(conn, vid, t("03:00", "2026-03-03"), t("03:30", "2026-03-03"), cosigner=None)
        assert (waiting.shift.status, waiting.coins_cc) == ("pending", 0)
        assert [s.id for s in hours.shifts(conn, status="pending")] == [waiting.shift.id]
        [approved] = hours.approve(conn, [waiting.shift.id], "staff:org")
        assert (approved.shift.status, approved.coins_cc, approved.shift.decided_by) == ("approved", 50, "staff:org")
        assert hours.approve(conn, [waiting.shift.id], "staff:org") == []  # already approved: skipped
        assert balance_cc(conn, vol_account(vid)) == 200
        assert_ledger_sound(conn)


def test_flags_self_cosign_too_short_too_long_wait_for_an_organiser(store):
    with tb_conn(store) as conn:
        vid = make_member(conn, person_key=person_key_of("volunteer-self"))
        own = shift(conn, vid, t("01:00"), t("02:00"), cosigner=person_key_of("volunteer-self"))
        assert (own.shift.status, own.shift.flag, own.coins_cc) == ("pending", "self_cosign", 0)
        short = shift(conn, vid, t("03:00"), t("03:10"))
        assert (short.shift.status, short.shift.flag) == ("pending", "too_short")
        long = shift(conn, vid, t("04:00", "2026-03-04"), t("17:00", "2026-03-04"))
        assert (long.shift.status, long.shift.flag) == ("pending", "too_long")
        assert hours.decline(conn, [own.shift.id, short.shift.id], "staff:org", "本人不能确认") == 2
        with pytest.raises(CentralError):
            hours.decline(conn, [long.shift.id], "staff:org", "  ")
        declined = hours.shifts(conn, status="declined", volunteer_id=vid)
        assert {s.decision_note for s in declined} == {"本人不能确认"} and len(declined) == 2
        assert balance_cc(conn, vol_account(vid)) == 0


def test_daily_cap_posts_within_and_opens_a_review_for_the_rest(store):
    with tb_conn(store) as conn:
        vid = make_member(conn)
        shift(conn, vid, t("01:00"), t("02:30"))  # 150
        second = shift(conn, vid, t("05:00"), t("06:30"))  # 150, only 50 left today
        assert (second.coins_cc, second.shift.status) == (50, "approved")
        [review] = reviews.open_reviews(conn)
        assert (review.kind, review.amount_cc, review.policy_version, review.shift_id) == (
            "daily_cap", 100, "shanghai-2026", second.shift.id)
        assert second.review_id == review.id
        # 15:30 UTC is still 2 March in Shanghai (cap reached); 16:30 UTC is 3 March (a new day)
        late = shift(conn, vid, t("15:00"), t("15:59"))
        assert late.coins_cc == 0 and late.review_id is not None
        next_day = shift(conn, vid, t("16:30"), t("17:30"))
        assert (next_day.coins_cc, next_day.review_id) == (100, None)
        entry_id = reviews.allow(conn, review.id, "staff:org")
        assert balance_cc(conn, vol_account(vid)) == 200 + 100 + 100
        assert reviews.get_review(conn, review.id).entry_id == entry_id
        with pytest.raises(CentralError) as twice:
            reviews.allow(conn, review.id, "staff:org")
        assert twice.value.reason == "already_decided"
        reviews.refuse(conn, late.review_id, "staff:org", "超时")
        with pytest.raises(CentralError):
            reviews.refuse(conn, late.review_id, "staff:org", "again")
        assert reviews.open_reviews(conn) == []
        assert balance_cc(conn, vol_account(vid)) == 400
        assert_ledger_sound(conn)


def test_lifetime_cap_counts_every_earned_coin(store):
    with tb_conn(store) as conn:
        doc = copy.deepcopy(load_policy_file())
        doc.update(version="tiny-2025", valid_from="2025-01-01")
        doc["rules"]["lifetime_cap_coins"] = 3
        import_policy(conn, doc, "admin")
        vid = make_member(conn)
        shift(conn, vid, t("01:00", "2025-05-01"), t("03:00", "2025-05-01"))  # 200
        over = shift(conn, vid, t("01:00", "2025-05-02"), t("03:00", "2025-05-02"))  # 100 of 200
        assert over.coins_cc == 100
        [review] = reviews.open_reviews(conn)
        assert (review.kind, review.amount_cc, review.policy_version) == ("lifetime_cap", 100, "tiny-2025")
        assert hours.earned_cc(conn, vid) == 300


def test_forgotten_check_outs_close_without_minutes_and_need_an_end(store):
    with tb_conn(store) as conn:
        vid = make_member(conn)
        opened = hours.check_in(conn, vid, at=t("01:00"), via="kiosk", actor="terminal:hall-01")
        assert hours.close_forgotten(conn, t("00:59", "2026-03-03")) == []
        assert hours.close_forgotten(conn, t("01:01", "2026-03-03")) == [opened.id]
        closed = hours.shifts(conn, volunteer_id=vid)[0]
        assert (closed.status, closed.flag, closed.out_via, closed.minutes) == ("pending", "auto_closed", "auto", None)
        assert hours.approve(conn, [closed.id], "staff:org") == []
        assert hours.approve(conn, [closed.id], "staff:org", ends={closed.id: t("00:30")}) == []  # before the start
        skipped = [a for a, in conn.execute(select(tb_audit.c.action).where(tb_audit.c.subject == f"shift:{closed.id}"))]
        assert skipped.count("shift_approve_skipped") == 2
        [done] = hours.approve(conn, [closed.id], "staff:org", ends={closed.id: t("02:00")})
        assert (done.shift.minutes, done.coins_cc, done.shift.check_out_at) == (60, 100, t("02:00"))
        assert_ledger_sound(conn)
