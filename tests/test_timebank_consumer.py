"""Kiosk volunteer events through CentralStore.push become shifts; bad ones are audited; the roster feed (both backends)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from sync.central.db import read_transaction
from sync.central.storage import CentralStore
from sync.central.sync_api.schema import reference
from sync.central.timebank import feed, hours
from sync.central.timebank.ledger import balance_cc, vol_account
from sync.central.timebank.schema import tb_audit, tb_shifts
from sync.protocol import EventEnvelope
from tests.timebank_support import (
    assert_ledger_sound,
    import_default_policy,
    make_member,
    person_key_of,
    tb_conn,
)

pytestmark = [pytest.mark.timeout(120)]

VOLUNTEER = person_key_of("volunteer-a")
RESIDENT = person_key_of("resident-b")
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
TERMINALS = {"hall-01": ("hall", "site-a"), "hall-02": ("hall", "site-b"), "canteen-01": ("canteen", "site-a")}


class Kiosk:
    """One terminal's volunteer events with its own seq."""

    def __init__(self, terminal_id: str) -> None:
        self.terminal_id = terminal_id
        self.seq = 0

    def event(self, type_: str, payload: dict[str, Any], at: dt.datetime) -> EventEnvelope:
        self.seq += 1
        return EventEnvelope(id=uuid.uuid4(), terminal_id=self.terminal_id, seq=self.seq, type=type_,
                             occurred_at=at, payload=payload)

    def check_in(self, at: dt.datetime, key: str = VOLUNTEER, **over: Any) -> EventEnvelope:
        return self.event("volunteer.check_in", {"person_key": key, "name_masked": "张*明", "via": "id_card", **over}, at)

    def check_out(self, at: dt.datetime, key: str = VOLUNTEER, cosigner: dict | None = None,
                  check_in_event: str | None = None, **over: Any) -> EventEnvelope:
        payload = {"person_key": key, "name_masked": "张*明", "via": "id_card", "check_in_event": check_in_event,
                   "cosigner": cosigner, **over}
        return self.event("volunteer.check_out", payload, at)


def person(key: str = RESIDENT) -> dict[str, str]:
    return {"kind": "person", "key": key, "via": "id_card"}


@pytest.fixture
def store(central_db_url):
    s = CentralStore.open(central_db_url)
    for terminal_id, (role, site) in TERMINALS.items():
        s.enrol(role, site, terminal_id)
    with tb_conn(s) as conn:
        import_default_policy(conn)
    yield s
    s.close()


@pytest.fixture
def member(store) -> int:
    with tb_conn(store) as conn:
        return make_member(conn, person_key=VOLUNTEER, services="meals")


def push(store: CentralStore, *events: EventEnvelope) -> list[str]:
    return [a.status for a in store.push(events[0].terminal_id, list(events)).response.acks]


def all_shifts(store: CentralStore) -> list[Any]:
    with read_transaction(store.engine) as conn:
        return list(conn.execute(select(tb_shifts).order_by(tb_shifts.c.id)))


def refusals(store: CentralStore) -> list[dict[str, Any]]:
    with read_transaction(store.engine) as conn:
        return [json.loads(d) for d, in conn.execute(select(tb_audit.c.detail).where(
            tb_audit.c.action == "kiosk_event_refused").order_by(tb_audit.c.id))]


def test_a_cosigned_kiosk_shift_is_approved_and_a_resent_push_changes_nothing(store, member):
    hall = Kiosk("hall-01")
    start = NOW - dt.timedelta(hours=3)
    check_in = hall.check_in(start)
    check_out = hall.check_out(start + dt.timedelta(minutes=90), cosigner=person(), check_in_event=str(check_in.id))
    assert push(store, check_in, check_out) == ["stored", "stored"]
    assert push(store, check_in, check_out) == ["duplicate", "duplicate"]
    [shift] = all_shifts(store)
    assert (shift.status, shift.minutes, shift.category, shift.site, shift.in_via) == ("approved", 90, "meals",
                                                                                        "site-a", "kiosk")
    assert (shift.in_event_id, shift.out_event_id, shift.cosigned_via) == (str(check_in.id), str(check_out.id), "id_card")
    assert shift.check_in_at == start.isoformat(timespec="microseconds")
    with read_transaction(store.engine) as conn:
        assert balance_cc(conn, vol_account(member)) == 150
        actors = {a for a, in conn.execute(select(tb_audit.c.actor).where(tb_audit.c.subject == vol_account(member)))}
        assert actors == {"terminal:hall-01"}
        assert_ledger_sound(conn)
    assert refusals(store) == []


def test_odd_cases_become_flagged_shifts_an_organiser_sees(store, member):
    hall = Kiosk("hall-01")
    start = NOW - dt.timedelta(hours=5)
    assert push(store, hall.check_out(start, cosigner=person())) == ["stored"]  # no check-in
    assert push(store, hall.check_in(start + dt.timedelta(minutes=10)),
                hall.check_in(start + dt.timedelta(minutes=70)),  # the first never checked out
                hall.check_out(start + dt.timedelta(minutes=130), cosigner=person(VOLUNTEER))) == ["stored"] * 3
    rows = all_shifts(store)
    assert [(r.status, r.flag) for r in rows] == [("pending", "no_check_in"), ("pending", "no_check_out"),
                                                  ("pending", "self_cosign")]
    assert rows[1].minutes is None and rows[2].minutes == 60
    with read_transaction(store.engine) as conn:
        assert balance_cc(conn, vol_account(member)) == 0
        assert hours.open_shift(conn, member) is None
    assert refusals(store) == []


@pytest.mark.parametrize("change, reason", [
    (lambda p: p.update(person_key="XYZ"), "bad_payload"),
    (lambda p: p.update(extra=1), "bad_payload"),
    (lambda p: p.pop("via"), "bad_payload"),
    (lambda p: p.update(via="fingerprint"), "bad_payload"),
    (lambda p: p.update(name_masked=""), "bad_payload"),
    (lambda p: p.update(person_key=person_key_of("stranger")), "unknown_person"),
])
def test_bad_check_ins_are_audited_never_raised(store, member, change, reason):
    hall = Kiosk("hall-01")
    event = hall.check_in(NOW - dt.timedelta(hours=1))
    change(event.payload)
    assert push(store, event, hall.check_in(NOW - dt.timedelta(minutes=30))) == ["stored", "stored"]
    [refused] = refusals(store)
    assert refused["reason"] == reason and refused["event"] == str(event.id)
    assert [r.status for r in all_shifts(store)] == ["open"]  # the good event after it still counted


@pytest.mark.parametrize("cosigner", [
    {"kind": "person", "key": "short", "via": "id_card"},
    {"kind": "card", "key": "04A1B2C3", "via": "id_card"},
    {"kind": "robot", "key": "x", "via": "id_card"},
    {"kind": "person", "key": RESIDENT},
    "yes",
])
def test_a_bad_cosigner_is_refused_and_the_shift_stays_open(store, member, cosigner):
    hall = Kiosk("hall-01")
    assert push(store, hall.check_in(NOW - dt.timedelta(hours=2)), hall.check_out(NOW, cosigner=cosigner)) == [
        "stored"] * 2
    assert [r["reason"] for r in refusals(store)] == ["bad_payload"]
    assert [r.status for r in all_shifts(store)] == ["open"]


def test_a_card_cosigner_a_canteen_terminal_and_an_inactive_member(store, member):
    hall = Kiosk("hall-01")
    push(store, hall.check_in(NOW - dt.timedelta(hours=2)),
         hall.check_out(NOW - dt.timedelta(hours=1), cosigner={"kind": "card", "key": "04A1B2C3",
                                                               "via": "community_card"}))
    assert [(r.status, r.cosigner_key) for r in all_shifts(store)] == [("approved", "04A1B2C3")]
    canteen = Kiosk("canteen-01")
    push(store, canteen.check_in(NOW))
    with tb_conn(store) as conn:
        gone = make_member(conn, person_key=person_key_of("gone"), status="inactive")
    push(store, hall.check_in(NOW, key=person_key_of("gone")))
    assert [r["reason"] for r in refusals(store)] == ["role_canteen", "inactive_member"]
    with read_transaction(store.engine) as conn:
        subjects = [s for s, in conn.execute(select(tb_audit.c.subject).where(
            tb_audit.c.action == "kiosk_event_refused").order_by(tb_audit.c.id))]
    assert subjects == ["terminal:canteen-01", vol_account(gone)]


def test_each_push_closes_forgotten_check_ins(store, member):
    hall = Kiosk("hall-01")
    push(store, hall.check_in(NOW - dt.timedelta(hours=25)))
    [shift] = all_shifts(store)
    assert (shift.status, shift.flag, shift.out_via) == ("pending", "auto_closed", "auto")


def test_the_roster_goes_to_every_hall_site(store, member):
    with tb_conn(store) as conn:
        assert feed.publish_roster(conn, [member], "2026-03-02T00:00:00+00:00") == 2
        assert feed.publish_roster(conn, [member], "2026-03-02T00:00:00+00:00") == 0  # unchanged: no cursor
        other = make_member(conn, person_key=person_key_of("other"))
        assert feed.publish_all(conn, "2026-03-02T00:00:00+00:00") == 2
    with read_transaction(store.engine) as conn:
        rows = list(conn.execute(select(reference.c.site, reference.c.key, reference.c.data)
                                 .where(reference.c.kind == "volunteer").order_by(reference.c.site, reference.c.key)))
    assert sorted({r.site for r in rows}) == ["site-a", "site-b"] and len(rows) == 4
    data = next(json.loads(r.data) for r in rows if r.key == VOLUNTEER)
    assert data == {"h": VOLUNTEER, "member_no": member, "name_masked": "张*明", "status": "active"}
    assert other in {json.loads(r.data)["member_no"] for r in rows}
    store.revoke("hall-02", "gone")
    with tb_conn(store) as conn:
        assert feed.roster_sites(conn) == ["site-a"]


def test_a_late_check_out_fills_in_the_shift_closed_meanwhile(store, member):
    hall = Kiosk("hall-01")
    start = NOW - dt.timedelta(hours=30)
    check_in = hall.check_in(start)
    push(store, check_in)  # the check-in arrives after 24 h: closed at once, no minutes
    [closed] = all_shifts(store)
    assert (closed.status, closed.flag, closed.minutes) == ("pending", "auto_closed", None)
    push(store, hall.check_out(start + dt.timedelta(minutes=120), cosigner=person(), check_in_event=str(check_in.id)))
    [late] = all_shifts(store)
    assert (late.status, late.flag, late.minutes, late.cosigner_key) == ("pending", "late_check_out", 120, RESIDENT)
    with tb_conn(store) as conn:
        [done] = hours.approve(conn, [late.id], "staff:org")
        assert done.coins_cc == 200 and balance_cc(conn, vol_account(member)) == 200
    assert refusals(store) == []
