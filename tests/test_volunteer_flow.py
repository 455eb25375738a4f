"""The volunteer desk's state machine and its place on the hall's runtime, event by event (no I/O)."""

from __future__ import annotations

import pytest

from kiosk.hall.checkin.events import (
    IdentificationFailed,
    Identified,
    Identity,
    ServiceChosen,
    Show,
)
from kiosk.hall.checkin.flow import CheckInFlow
from kiosk.hall.volunteer.desk import HallDesk
from kiosk.hall.volunteer.events import (
    CardTapped,
    CheckedIn,
    CheckedOut,
    Cosigner,
    FindVolunteer,
    PersonTapped,
    ReaderState,
    RecordCheckIn,
    RecordCheckOut,
    SkipCosign,
    TapFailed,
    VolunteerFound,
    VolunteerStart,
)
from kiosk.hall.volunteer.flow import RESIDENT_SCREENS, STATES, VolunteerFlow
from kiosk.prompts import PROMPTS, VOLUNTEER_SCREENS
from kiosk.runtime.events import CardPresented, Failed, Tick
from kiosk.runtime.screens import Alert, Dismissed, HelpRequested, MoreTime, Say

pytestmark = pytest.mark.unit

VOL = "a" * 64
RESIDENT = "b" * 64
ZHANG = Identity("idcard", "310109199701046877", "张三明", "19970104")


def shown(effects):
    return [e for e in effects if isinstance(e, Show)]


def said(effects):
    return [e.key for e in effects if isinstance(e, Say)]


def one(effects, kind):
    found = [e for e in effects if isinstance(e, kind)]
    assert len(found) == 1, effects
    return found[0]


def tapped(flow, key=VOL, name="张*明"):
    """Start the desk and tap a volunteer's card: the flow asks for the look-up."""
    flow.handle(Tick(0.0))
    flow.handle(VolunteerStart())
    return one(flow.handle(PersonTapped(key, name, "idcard")), FindVolunteer)


def checked_in(flow, standing="active"):
    find = tapped(flow)
    record = one(flow.handle(VolunteerFound(find.tap, VOL, standing, "张*明")), RecordCheckIn)
    return flow.handle(CheckedIn(record.tap, "ev-in", "09:02"))


def at_cosign(flow):
    find = tapped(flow)
    effects = flow.handle(VolunteerFound(find.tap, VOL, "active", "张*明", "ev-in", "09:02"))
    assert flow.state == "cosign"
    return effects


def test_the_button_asks_for_the_id_card_in_words_and_voice():
    flow = VolunteerFlow()
    flow.handle(Tick(0.0))
    effects = flow.handle(VolunteerStart())
    assert [s.screen for s in shown(effects)] == ["volunteer_present"] and said(effects) == ["volunteer_present"]
    assert shown(effects)[0].data["stays_s"] == 60.0 and flow.state == "present"


def test_an_active_volunteer_without_an_open_check_in_is_checked_in_and_told_the_time():
    flow = VolunteerFlow()
    find = tapped(flow)
    assert (find.key, find.name_masked) == (VOL, "张*明") and flow.state == "finding"
    record = one(flow.handle(VolunteerFound(find.tap, VOL, "active", "张*明")), RecordCheckIn)
    assert (record.key, record.name_masked, flow.state) == (VOL, "张*明", "recording")
    effects = flow.handle(CheckedIn(record.tap, "ev-in", "09:02"))
    result = one(effects, Show)
    assert result.screen == "volunteer_result" and result.data["result"] == "checked_in"
    assert result.data["time"] == "09:02" and result.data["name"] == "张*明"
    say = one(effects, Say)
    assert say.key == "volunteer_checked_in" and say.params == {"name": "张*明", "hour": 9, "minute": 2}
    assert flow.state == "done"


def test_an_open_check_in_asks_the_served_resident_to_tap_and_their_id_card_co_signs():
    flow = VolunteerFlow()
    effects = at_cosign(flow)
    assert [s.screen for s in shown(effects)] == ["volunteer_cosign"] and said(effects) == ["volunteer_cosign"]
    assert shown(effects)[0].data["since"] == "09:02"
    out = one(flow.handle(PersonTapped(RESIDENT, "李*华", "idcard")), RecordCheckOut)
    assert out.cosigner == Cosigner("person", RESIDENT, "id_card") and out.check_in_event == "ev-in"
    effects = flow.handle(CheckedOut(out.tap, "ev-out", 125, True))
    assert one(effects, Show).data["result"] == "checked_out"
    assert one(effects, Say) == Say("volunteer_checked_out", {"hours": 2, "minutes": 5})


def test_a_community_card_co_signs_with_its_number():
    flow = VolunteerFlow()
    at_cosign(flow)
    out = one(flow.handle(CardTapped("04A1B2C3D4E5F6", "c" * 64)), RecordCheckOut)
    assert out.cosigner == Cosigner("card", "04A1B2C3D4E5F6", "community_card")


@pytest.mark.parametrize("own", [PersonTapped(VOL, "张*明", "sscard"), CardTapped("04A1B2C3D4E5F6", VOL)])
def test_the_volunteer_s_own_card_is_refused_as_co_signer_in_words(own):
    flow = VolunteerFlow()
    at_cosign(flow)
    effects = flow.handle(own)
    assert not [e for e in effects if isinstance(e, RecordCheckOut)]
    assert said(effects) == ["volunteer_own_card"] and one(effects, Show).data["notice"] == "own_card"
    assert flow.state == "cosign"
    assert one(flow.handle(PersonTapped(RESIDENT, "李*华", "idcard")), RecordCheckOut).cosigner.key == RESIDENT


def test_skip_checks_out_without_a_co_signer_and_says_an_organiser_reviews_it():
    flow = VolunteerFlow()
    at_cosign(flow)
    out = one(flow.handle(SkipCosign()), RecordCheckOut)
    assert out.cosigner is None
    effects = flow.handle(CheckedOut(out.tap, "ev-out", 30, False))
    assert one(effects, Show).data["result"] == "checked_out_pending"
    assert said(effects) == ["volunteer_checked_out_pending"]


def test_a_co_sign_screen_that_runs_out_warns_then_checks_out_for_review():
    flow = VolunteerFlow()
    at_cosign(flow)
    assert flow.handle(Tick(79.0)) == []
    warning = flow.handle(Tick(81.0))
    assert said(warning) == ["timeout_warning"] and one(warning, Show).data["warning"] is True
    out = one(flow.handle(Tick(91.0)), RecordCheckOut)
    assert out.cosigner is None and flow.state == "recording"


def test_someone_not_on_the_roster_is_told_how_to_register_and_nothing_is_written():
    flow = VolunteerFlow()
    find = tapped(flow)
    effects = flow.handle(VolunteerFound(find.tap, VOL, "unknown", "张*明"))
    assert one(effects, Show).data["result"] == "unknown" and said(effects) == ["volunteer_unknown"]
    assert not [e for e in effects if isinstance(e, RecordCheckIn | RecordCheckOut)]
    assert "二维码" in PROMPTS["volunteer_unknown"][0] and "服务台" in PROMPTS["volunteer_unknown"][0]


def test_an_inactive_registration_is_told_in_words():
    flow = VolunteerFlow()
    find = tapped(flow)
    effects = flow.handle(VolunteerFound(find.tap, VOL, "inactive", "张*明"))
    assert one(effects, Show).data["result"] == "inactive" and said(effects) == ["volunteer_inactive"]


def test_without_a_roster_the_check_in_is_accepted_and_the_central_confirms_it():
    flow = VolunteerFlow()
    effects = checked_in(flow, standing="no_roster")
    assert one(effects, Show).data["result"] == "checked_in_unverified"
    assert said(effects) == ["volunteer_checked_in", "volunteer_unverified"]


def test_a_double_tap_on_the_result_screen_writes_nothing_and_says_it_again():
    flow = VolunteerFlow()
    checked_in(flow)
    effects = flow.handle(PersonTapped(VOL, "张*明", "idcard"))
    assert said(effects) == ["volunteer_already_in"] and one(effects, Show).data["again"] is True
    assert not [e for e in effects if isinstance(e, FindVolunteer | RecordCheckIn | RecordCheckOut)]
    assert flow.state == "done"


def test_the_next_volunteer_on_the_result_screen_is_looked_up():
    flow = VolunteerFlow()
    checked_in(flow)
    assert one(flow.handle(PersonTapped("d" * 64, "王*", "idcard")), FindVolunteer).key == "d" * 64


def test_taps_while_the_store_works_are_ignored_and_old_answers_too():
    flow = VolunteerFlow()
    find = tapped(flow)
    assert flow.handle(PersonTapped("d" * 64, "王*", "idcard")) == []
    assert flow.handle(VolunteerFound(find.tap + 5, VOL, "active", "张*明")) == []
    assert flow.state == "finding"


def test_a_store_that_stays_silent_ends_on_ask_staff_and_a_late_check_in_is_still_shown():
    flow = VolunteerFlow()
    find = tapped(flow)
    record = one(flow.handle(VolunteerFound(find.tap, VOL, "active", "张*明")), RecordCheckIn)
    effects = flow.handle(Tick(9.0))
    assert flow.state == "error" and said(effects) == ["ask_staff"] and one(effects, Alert).kind == "volunteer_timeout"
    late = flow.handle(CheckedIn(record.tap, "ev-in", "09:02"))
    assert one(late, Show).data["result"] == "checked_in"


def test_a_failed_store_write_ends_on_ask_staff_with_an_alert():
    flow = VolunteerFlow()
    find = tapped(flow)
    flow.handle(VolunteerFound(find.tap, VOL, "active", "张*明"))
    effects = flow.handle(Failed("RecordCheckIn", "StoreError: disk full"))
    assert [s.screen for s in shown(effects)] == ["error"] and said(effects) == ["ask_staff"]
    assert one(effects, Alert).detail["where"] == "RecordCheckIn"


def test_a_failed_read_is_worded_and_spoken_and_the_screen_stays():
    flow = VolunteerFlow()
    flow.handle(Tick(0.0))
    flow.handle(VolunteerStart())
    effects = flow.handle(TapFailed("read_failed"))
    assert one(effects, Show).data["notice"] == "read_failed" and said(effects) == ["volunteer_read_failed"]
    at_cosign(flow := VolunteerFlow())
    effects = flow.handle(TapFailed("not_genuine"))
    assert flow.state == "cosign" and one(effects, Show).screen == "volunteer_cosign"


def test_a_community_card_cannot_check_a_volunteer_in():
    flow = VolunteerFlow()
    flow.handle(Tick(0.0))
    flow.handle(VolunteerStart())
    effects = flow.handle(CardTapped("04A1B2C3D4E5F6", VOL))
    assert said(effects) == ["volunteer_id_card_only"] and flow.state == "present"


@pytest.mark.parametrize("state", ["present", "cosign", "done", "error"])
def test_every_resident_screen_warns_can_be_extended_and_ends(state):
    flow = VolunteerFlow()
    if state == "present":
        flow.handle(Tick(0.0))
        flow.handle(VolunteerStart())
    elif state == "cosign":
        at_cosign(flow)
    elif state == "done":
        checked_in(flow)
    else:
        tapped(flow)
        flow.handle(Failed("FindVolunteer", "boom"))
    assert flow.state == state
    limit = flow.deadline() - flow.now
    t0 = flow.now
    assert said(flow.handle(Tick(t0 + limit - 9))) == ["timeout_warning"]
    extended = flow.handle(MoreTime())
    assert one(extended, Show).data["stays_s"] == limit and "warning" not in one(extended, Show).data
    assert flow.deadline() == pytest.approx(t0 + limit - 9 + limit)
    end = flow.handle(Tick(flow.deadline() + 0.5))
    if state == "cosign":
        assert one(end, RecordCheckOut).cosigner is None
    else:
        assert end == [Show("idle", {"reset": True})] and flow.state == "idle" and flow.deadline() is None


def test_every_state_but_idle_has_a_deadline_and_the_prompt_table_names_them():
    assert set(VOLUNTEER_SCREENS) == set(STATES)
    table = {k for _, keys in VOLUNTEER_SCREENS.values() for k in keys}
    assert {k for k in PROMPTS if k.startswith("volunteer_")} <= table <= set(PROMPTS)
    flow = VolunteerFlow()
    assert flow.deadline() is None
    tapped(flow)
    assert flow.deadline() is not None  # finding
    assert RESIDENT_SCREENS <= set(STATES)


def test_help_alerts_staff_once_per_half_minute_and_dismiss_goes_home():
    flow = VolunteerFlow()
    at_cosign(flow)
    first = flow.handle(HelpRequested())
    assert said(first) == ["help_called"] and one(first, Alert).kind == "help"
    assert [e for e in flow.handle(HelpRequested()) if isinstance(e, Alert)] == []
    assert flow.handle(Dismissed()) == [Show("idle", {"reset": True})]


# -- the desk: the hall's check-in and the volunteer desk on one runtime ------------------------

def desk():
    keys = {ZHANG.id_number: VOL}
    return HallDesk(CheckInFlow(), VolunteerFlow(), lambda n: keys.get(n, "e" * 64),
                    card_holder=lambda no: VOL if no == "OWN" else None)


def test_the_desk_turns_an_id_card_into_a_person_key_and_never_hands_on_the_number():
    d = desk()
    d.handle(Tick(0.0))
    assert [s.screen for s in shown(d.handle(VolunteerStart()))] == ["volunteer_present"]
    assert d.state == "volunteer:present"
    find = one(d.handle(Identified(ZHANG, at=0.0)), FindVolunteer)
    assert (find.key, find.name_masked) == (VOL, "张*明")
    assert ZHANG.id_number not in repr(find) and "张三明" not in repr(find)


def test_the_desk_ignores_a_code_and_routes_community_cards_with_their_holder():
    d = desk()
    d.handle(Tick(0.0))
    d.handle(VolunteerStart())
    qr = Identity("qr_camera", ZHANG.id_number)
    assert d.handle(Identified(qr, at=0.0)) == []
    find = one(d.handle(Identified(ZHANG, at=0.0)), FindVolunteer)
    d.handle(VolunteerFound(find.tap, VOL, "active", "张*明", "ev-in", "09:02"))
    assert said(d.handle(CardPresented("OWN", 0.0))) == ["volunteer_own_card"]
    assert one(d.handle(CardPresented("C2", 0.0)), RecordCheckOut).cosigner == Cosigner("card", "C2", "community_card")
    assert said(d.handle(IdentificationFailed("idcard", "card", "x", "x"))) == []  # recording: nothing to say


def test_the_desk_takes_no_volunteer_while_a_resident_takes_a_ticket_and_returns_to_tickets_after():
    d = desk()
    d.handle(Tick(0.0))
    d.handle(ServiceChosen("A", "综合受理", "General"))
    assert d.handle(VolunteerStart()) == [] and d.state == "present"
    d.handle(Dismissed())
    d.handle(VolunteerStart())
    assert said(d.handle(CardPresented("C1", 0.0))) == ["volunteer_id_card_only"] and d.serving_volunteer
    d.handle(Dismissed())
    assert d.state == "idle" and not d.serving_volunteer
    assert d.handle(CardPresented("C1", 0.0)) == []  # the check-in takes no community card
    assert d.handle(ServiceChosen("A", "综合受理", "General"))[0].screen == "present"


def test_the_desk_gives_time_to_both_and_the_deadline_of_the_screen_on_show():
    d = desk()
    d.handle(Tick(5.0))
    d.handle(VolunteerStart())
    assert d.deadline() == 65.0
    assert said(d.handle(Tick(56.0))) == ["timeout_warning"]
    assert d.handle(Tick(66.0)) == [Show("idle", {"reset": True})] and d.deadline() is None
    assert [type(e) for e in d.fail("x", "y")] == [Alert]  # the check-in's: idle, staff are told only


def test_a_reader_that_is_down_is_said_on_the_screen_and_staff_are_alerted():
    flow = VolunteerFlow()
    flow.handle(Tick(0.0))
    effects = flow.handle(VolunteerStart(reader_up=False))
    assert one(effects, Show).data["notice"] == "reader_down" and said(effects) == ["volunteer_reader_down"]
    assert one(effects, Alert).kind == "volunteer_reader_down" and flow.state == "present"
    back = flow.handle(ReaderState(True))
    assert "notice" not in one(back, Show).data and said(back) == ["volunteer_present"]
    assert said(flow.handle(ReaderState(False))) == ["volunteer_reader_down"]


def test_a_reader_lost_on_the_co_sign_screen_keeps_skip_and_the_community_card():
    flow = VolunteerFlow()
    at_cosign(flow)
    effects = flow.handle(ReaderState(False))
    assert one(effects, Show).data["notice"] == "reader_down" and flow.state == "cosign"
    assert one(flow.handle(CardTapped("C9")), RecordCheckOut).cosigner.kind == "card"


def test_the_desk_leaves_reader_changes_to_the_supervisor_while_tickets_are_taken():
    d = desk()
    d.handle(Tick(0.0))
    assert d.handle(ReaderState(False)) == [] and d.state == "idle"
