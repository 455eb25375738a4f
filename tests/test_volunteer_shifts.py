"""The volunteer desk's store: open check-ins survive a restart, events are exactly docs/timebank.md §6, the roster."""

from __future__ import annotations

import datetime as dt

import pytest

from kiosk.hall.volunteer.events import Cosigner, FindVolunteer, RecordCheckIn, RecordCheckOut
from kiosk.hall.volunteer.shifts import VOLUNTEER_MIGRATIONS, VolunteerShifts
from kiosk.hall.volunteer.wiring import find_volunteer, record_check_in, record_check_out
from kiosk.priority import person_key
from kiosk.reference import ReferenceData
from kiosk.store import Store
from sync import apply
from sync.protocol import Change, ChangesResponse

pytestmark = pytest.mark.unit

KEY = b"k" * 32
ID_NUMBER = "310109199701046877"
VOL = person_key(ID_NUMBER, KEY)
RESIDENT = person_key("11010519491231002X", KEY)


def open_store(path):
    return Store.open(path / "hall.db", "hall-01", extra_migrations=[VOLUNTEER_MIGRATIONS, apply.MIGRATIONS])


def roster_page(cursor_from, *rows):
    """A feed page of ``volunteer`` rows (built without the protocol's kind check: the kiosk's side only)."""
    changes = [Change.model_construct(cursor=cursor_from + i + 1, kind="volunteer", key=h, op="upsert",
                                      data={"h": h, "member_no": i + 1, "name_masked": name, "status": status})
               for i, (h, name, status) in enumerate(rows)]
    return ChangesResponse.model_construct(changes=changes, cursor=cursor_from + len(changes), more=False)


class Clock:
    def __init__(self):
        self.now = dt.datetime(2026, 12, 3, 1, 0, tzinfo=dt.UTC)

    def __call__(self):
        return self.now


def outbox(store):
    return [(e.type, e.payload) for e in store.pending_events(100)]


def test_check_in_and_out_write_the_contract_s_payloads_in_one_transaction_each(tmp_path):
    store = open_store(tmp_path)
    shifts = VolunteerShifts(store, lambda: None)
    event_id, _ = shifts.check_in(VOL, "张*明")
    assert outbox(store) == [("volunteer.check_in", {"person_key": VOL, "name_masked": "张*明", "via": "id_card"})]
    assert shifts.open_shift(VOL).check_in_event == event_id
    out_id, minutes = shifts.check_out(VOL, "张*明", event_id, Cosigner("person", RESIDENT, "id_card"))
    assert outbox(store)[1] == ("volunteer.check_out", {
        "person_key": VOL, "name_masked": "张*明", "via": "id_card", "check_in_event": event_id,
        "cosigner": {"kind": "person", "key": RESIDENT, "via": "id_card"}})
    assert shifts.open_shift(VOL) is None and minutes == 0 and out_id != event_id
    shifts.check_in(VOL, "张*明")
    shifts.check_out(VOL, "张*明", None, Cosigner("card", "04A1B2C3D4E5F6", "community_card"))
    assert outbox(store)[3][1]["cosigner"] == {"kind": "card", "key": "04A1B2C3D4E5F6", "via": "community_card"}
    shifts.check_out(VOL, "张*明", None, None)  # no open check-in here: the central flags it
    assert outbox(store)[4][1]["check_in_event"] is None and outbox(store)[4][1]["cosigner"] is None
    store.close()


def test_an_open_check_in_survives_a_restart_and_the_next_tap_checks_out(tmp_path):
    store = open_store(tmp_path)
    shifts = VolunteerShifts(store, lambda: {VOL: {"h": VOL, "member_no": 1, "name_masked": "张*明", "status": "active"}})
    done = record_check_in(shifts, RecordCheckIn(1, VOL, "张*明"))
    store.close()
    store = open_store(tmp_path)
    shifts = VolunteerShifts(store, lambda: {VOL: {"h": VOL, "member_no": 1, "name_masked": "张*明", "status": "active"}})
    found = find_volunteer(shifts, FindVolunteer(7, VOL, "张*明"))
    assert (found.tap, found.standing, found.open_event) == (7, "active", done.event_id)
    assert found.open_since == done.at_local
    out = record_check_out(shifts, RecordCheckOut(8, VOL, "张*明", found.open_event, None))
    assert (out.tap, out.cosigned) == (8, False)
    assert find_volunteer(shifts, FindVolunteer(9, VOL, "张*明")).open_event is None
    store.close()


def test_an_open_check_in_older_than_the_central_s_auto_close_is_a_new_check_in(tmp_path):
    store = open_store(tmp_path)
    clock = Clock()
    shifts = VolunteerShifts(store, lambda: None, now=clock)
    first, _ = shifts.check_in(VOL, "张*明")
    clock.now = dt.datetime.now(dt.UTC) + dt.timedelta(hours=25)
    assert shifts.open_shift(VOL) is None and len(shifts.open_shifts()) == 1
    second, _ = shifts.check_in(VOL, "张*明")
    assert [s.check_in_event for s in shifts.open_shifts()] == [second] and second != first
    store.close()


def test_no_raw_id_number_or_full_name_reaches_the_store_file(tmp_path):
    store = open_store(tmp_path)
    shifts = VolunteerShifts(store, lambda: None)
    event_id, _ = shifts.check_in(VOL, "张*明")
    shifts.check_out(VOL, "张*明", event_id, Cosigner("person", RESIDENT, "id_card"))
    store.close()
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("hall.db"))
    assert ID_NUMBER.encode() not in data and "张三明".encode() not in data and VOL.encode() in data


def test_bad_input_is_refused_in_words_and_writes_nothing(tmp_path):
    store = open_store(tmp_path)
    shifts = VolunteerShifts(store, lambda: None)
    with pytest.raises(ValueError, match="64 lowercase hex"):
        shifts.check_in(ID_NUMBER, "张*明")
    with pytest.raises(ValueError, match="own service"):
        shifts.check_out(VOL, "张*明", None, Cosigner("person", VOL, "id_card"))
    assert outbox(store) == []
    store.close()


def test_a_store_without_the_table_is_refused_in_words(tmp_path):
    store = Store.open(tmp_path / "bare.db", "hall-01")
    with pytest.raises(RuntimeError, match="VOLUNTEER_MIGRATIONS"):
        VolunteerShifts(store, lambda: None)
    store.close()


def test_the_pulled_roster_tells_active_inactive_and_unknown_and_none_before_the_first_pull(tmp_path):
    store = open_store(tmp_path)
    ref = ReferenceData(store, watch=False)
    shifts = VolunteerShifts(store, ref.volunteer_roster)
    assert ref.volunteer_roster() is None and shifts.standing(VOL) == ("no_roster", "")
    apply.apply_page(store, roster_page(0, (VOL, "张*明", "active"), (RESIDENT, "李*华", "suspended")), 0)
    assert shifts.standing(VOL) == ("active", "张*明")
    assert shifts.standing(RESIDENT) == ("inactive", "李*华")
    assert shifts.standing("f" * 64) == ("unknown", "")
    found = find_volunteer(shifts, FindVolunteer(1, RESIDENT, "李*华"))
    assert found.standing == "inactive" and found.open_event is None
    ref.close()
    store.close()


def test_every_volunteer_effect_has_a_handler_on_the_runtime(tmp_path):
    from kiosk.hall.volunteer.flow import VolunteerFlow
    from kiosk.hall.volunteer.wiring import register_volunteer_effects
    from kiosk.runtime.loop import TerminalRuntime

    store = open_store(tmp_path)
    runtime = TerminalRuntime("hall", VolunteerFlow())
    register_volunteer_effects(runtime, VolunteerShifts(store, lambda: None))
    assert all(runtime.handles(t) for t in (FindVolunteer, RecordCheckIn, RecordCheckOut))
    bare = TerminalRuntime("hall", VolunteerFlow())
    register_volunteer_effects(bare, None)  # no table: nothing registered, each effect fails into "ask staff"
    assert not bare.handles(FindVolunteer)
    runtime.stop()
    bare.stop()
    store.close()
