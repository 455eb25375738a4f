"""The check-in state machine, event by event: tickets, refusals, retest, reprint, timeouts."""

from __future__ import annotations

import math

import pytest

from kiosk.hall.checkin.events import (
    Alert,
    CheckOpenTicket,
    CodeResult,
    Dismissed,
    Failed,
    IdentificationFailed,
    Identified,
    Identity,
    IssueTicket,
    LogVisit,
    LookupCode,
    Measure,
    MeasureTemperature,
    OpenTicketResult,
    PrintDone,
    PrintTicket,
    PriorityResult,
    ReprintChosen,
    Say,
    ServiceChosen,
    Show,
    TemperatureFailed,
    TemperatureMeasured,
    Tick,
    TicketIssued,
)
from kiosk.hall.checkin.flow import CheckInFlow

pytestmark = pytest.mark.unit

ZHANG = Identity("idcard", "310109199701046877", "张三明", "19970104")


def kinds(effects):
    return [type(e).__name__ for e in effects]


def screens(effects):
    return [e.screen for e in effects if isinstance(e, Show)]


def said(effects):
    return [e.key for e in effects if isinstance(e, Say)]


def start(flow, identity=ZHANG, code=None, service="A"):
    """The resident taps a service tile, then swipes (service first, as at a real ticket machine)."""
    flow.handle(ServiceChosen(service, "综合受理", "General services"))
    return flow.handle(Identified(identity, at=1.0, code=code))


def answer_all(flow, celsius=36.5, colour="green", reasons=(), open_ticket=None):
    out = []
    out += flow.handle(TemperatureMeasured(celsius))
    out += flow.handle(CodeResult(colour, "lookup"))
    out += flow.handle(PriorityResult(tuple(reasons)))
    out += flow.handle(OpenTicketResult(open_ticket))
    return out


TICKET = TicketIssued("A001", "A", people_ahead=2, wait_min=10, priority=False, staff_check=False)


def test_green_resident_gets_a_ticket():
    flow = CheckInFlow()
    first = start(flow)
    assert screens(first) == ["reading"]
    assert {"MeasureTemperature", "LookupCode", "LookupPriority", "CheckOpenTicket"} <= set(kinds(first))
    decided = answer_all(flow)
    issue = [e for e in decided if isinstance(e, IssueTicket)]
    assert len(issue) == 1 and issue[0].colour == "green" and not issue[0].staff_check
    shown = flow.handle(TICKET)
    assert screens(shown) == ["ticket"] and any(isinstance(e, PrintTicket) for e in shown)
    assert not any(isinstance(e, LogVisit) for e in shown)  # the visit row is written with the ticket
    done = flow.handle(PrintDone(True))
    assert said(done) == ["ticket"]
    assert [e.name for e in done if isinstance(e, Measure)] == ["swipe_to_ticket"]
    assert flow.state == "ticket"


def test_other_sources_are_ignored_while_one_resident_is_served():
    flow = CheckInFlow()
    start(flow)
    assert flow.handle(Identified(Identity("qr_camera", "310101195001010010"), at=1.1)) == []
    assert flow.visit.identity == ZHANG


@pytest.mark.parametrize("colour", ["yellow", "red"])
def test_yellow_or_red_code_refuses_at_once_with_words_voice_and_alert(colour):
    flow = CheckInFlow()
    start(flow)
    out = flow.handle(CodeResult(colour, "lookup"))  # before the thermometer answers
    assert screens(out) == ["refused"] and said(out) == [f"refused_code_{colour}"]
    assert [a.kind for a in out if isinstance(a, Alert)] == [f"code_{colour}"]
    assert [v.outcome for v in out if isinstance(v, LogVisit)] == [f"refused_code_{colour}"]
    assert flow.handle(TemperatureMeasured(36.5)) == []  # late answers change nothing


def test_fever_is_retested_once_then_refused():
    flow = CheckInFlow()
    start(flow)
    flow.handle(CodeResult("green", "lookup"))
    first = flow.handle(TemperatureMeasured(37.8))
    assert said(first) == ["retest"] and any(isinstance(e, MeasureTemperature) for e in first)
    second = flow.handle(TemperatureMeasured(37.6))
    assert screens(second) == ["refused"] and said(second) == ["refused_fever"]
    assert [a.kind for a in second if isinstance(a, Alert)] == ["fever"]


def test_a_normal_retest_lets_the_resident_through():
    flow = CheckInFlow()
    start(flow)
    flow.handle(TemperatureMeasured(37.4))
    out = flow.handle(TemperatureMeasured(36.9))
    out += flow.handle(CodeResult("green", "lookup"))
    out += flow.handle(PriorityResult(()))
    out += flow.handle(OpenTicketResult(None))
    assert any(isinstance(e, IssueTicket) and e.temperature_c == 36.9 for e in out)


def test_city_service_down_gives_a_staff_check_ticket():
    flow = CheckInFlow()
    start(flow)
    out = flow.handle(TemperatureMeasured(36.4)) + flow.handle(CodeResult(None, "fallback", "staff_check"))
    out += flow.handle(PriorityResult(())) + flow.handle(OpenTicketResult(None))
    issue = [e for e in out if isinstance(e, IssueTicket)]
    assert issue and issue[0].staff_check and issue[0].colour == "unknown"


def test_fallback_refuse_refuses():
    flow = CheckInFlow()
    start(flow)
    out = flow.handle(CodeResult(None, "fallback", "refuse"))
    assert screens(out) == ["refused"] and said(out) == ["refused_code_unknown"]


def test_verified_qr_token_skips_the_lookup():
    flow = CheckInFlow()
    out = start(flow, Identity("qr_camera", ZHANG.id_number), code=CodeResult("green", "token"))
    assert not any(isinstance(e, LookupCode) for e in out)


def test_thermometer_failure_is_retried_then_ticket_flagged_for_staff():
    flow = CheckInFlow()
    start(flow)
    assert kinds(flow.handle(TemperatureFailed("no answer"))) == ["MeasureTemperature"]
    out = flow.handle(TemperatureFailed("no answer"))
    assert [a.kind for a in out if isinstance(a, Alert)] == ["device_fault"]
    out = flow.handle(CodeResult("green", "lookup")) + flow.handle(PriorityResult(("age80",)))
    out += flow.handle(OpenTicketResult(None))
    issue = [e for e in out if isinstance(e, IssueTicket)][0]
    assert issue.staff_check and math.isnan(issue.temperature_c) and issue.priority_reasons == ("age80",)


def test_second_swipe_offers_a_reprint_instead_of_a_second_ticket():
    flow = CheckInFlow()
    start(flow)
    out = answer_all(flow, open_ticket="A007")
    assert screens(out)[-1] == "reprint_offer" and not any(isinstance(e, IssueTicket) for e in out)
    again = flow.handle(ReprintChosen())
    assert any(isinstance(e, IssueTicket) for e in again)
    shown = flow.handle(TicketIssued("A007", "A", 1, 5, False, False, reprint=True))
    assert screens(shown) == ["ticket"] and not any(isinstance(v, LogVisit) for v in shown)


def test_reprint_offer_warns_before_it_times_out_and_can_be_dismissed():
    flow = CheckInFlow()
    flow.handle(Tick(100.0))
    start(flow)
    answer_all(flow, open_ticket="A007")
    assert said(flow.handle(Tick(121.0))) == ["timeout_warning"]
    assert flow.handle(Tick(122.0)) == []
    assert screens(flow.handle(Dismissed())) == ["idle"] and flow.state == "idle"


def test_paper_out_keeps_the_ticket_on_screen_and_alerts_staff():
    flow = CheckInFlow()
    start(flow)
    answer_all(flow)
    flow.handle(TICKET)
    out = flow.handle(PrintDone(False, "paper out"))
    assert screens(out) == ["ticket"] and said(out) == ["ticket_not_printed"]
    assert [a.kind for a in out if isinstance(a, Alert)] == ["printer"]
    assert [s.data["printed"] for s in out if isinstance(s, Show)] == [False]


def test_card_failed_mid_read_is_said_and_the_next_resident_is_served():
    flow = CheckInFlow()
    out = flow.handle(IdentificationFailed("idcard", "card", "读卡失败", "card read failed"))
    assert screens(out) == ["error"] and said(out) == ["read_failed"]
    assert not any(isinstance(a, Alert) for a in out)  # the reader's own faults are the supervisor's alerts
    flow.handle(Tick(flow.now + 31))
    assert flow.state == "idle"
    assert screens(start(flow)) == ["reading"]


def test_unanswered_check_in_times_out_to_an_error_then_idle():
    flow = CheckInFlow()
    flow.handle(Tick(10.0))
    start(flow)
    out = flow.handle(Tick(21.0))
    assert screens(out) == ["error"] and [a.kind for a in out if isinstance(a, Alert)] == ["checkin_timeout"]
    assert said(out) == ["ask_staff"] and out[0].data["reason"] == "ask_staff"  # not "read failed": not the card
    assert screens(flow.handle(Tick(52.0))) == ["idle"]


def test_a_queue_that_never_answers_ends_on_ask_staff_and_a_late_ticket_is_still_shown():
    flow = CheckInFlow()
    flow.handle(Tick(0.0))
    start(flow)
    issue = [e for e in answer_all(flow) if isinstance(e, IssueTicket)][0]
    assert flow.state == "issuing" and flow.deadline() == 8.0
    out = flow.handle(Tick(8.5))
    assert screens(out) == ["error"] and said(out) == ["ask_staff"]
    assert [a.kind for a in out if isinstance(a, Alert)] == ["flow_stuck"]
    late = flow.handle(TicketIssued("A001", "A", 0, 0, False, False, visit=issue.visit))
    assert screens(late) == ["ticket"]  # the number exists: the resident sees it


def test_a_failed_step_ends_on_ask_staff_once_and_goes_idle():
    flow = CheckInFlow()
    flow.handle(Tick(0.0))
    start(flow)
    out = flow.handle(Failed("LookupCode", "RuntimeError: boom"))
    assert screens(out) == ["error"] and said(out) == ["ask_staff"]
    alerts = [a for a in out if isinstance(a, Alert)]
    assert [a.kind for a in alerts] == ["flow_stuck"] and alerts[0].identity is not None
    assert flow.handle(Failed("Alert", "StoreError: locked")) == []  # no alert storm
    assert screens(flow.handle(Tick(31.0))) == ["idle"]


def test_a_printer_that_fails_or_stays_silent_still_ends_on_the_ticket():
    for ending in (Failed("PrintTicket", "OSError: gone"), Tick(16.0)):
        flow = CheckInFlow()
        flow.handle(Tick(0.0))
        start(flow)
        answer_all(flow)
        flow.handle(TICKET)
        out = flow.handle(ending)
        assert screens(out) == ["ticket"] and said(out) == ["ticket_not_printed"]
        assert [a.kind for a in out if isinstance(a, Alert)] == ["printer"]


def test_an_answer_for_a_resident_who_has_gone_is_ignored():
    flow = CheckInFlow()
    flow.handle(Tick(0.0))
    start(flow)
    first = [e for e in answer_all(flow) if isinstance(e, IssueTicket)][0]
    flow.handle(Tick(9.0))  # issuing timed out: ask staff
    flow.handle(Tick(40.0))  # back to idle
    start(flow)
    answer_all(flow)
    assert flow.state == "issuing"
    assert flow.handle(TicketIssued("A001", "A", 0, 0, False, False, visit=first.visit)) == []


def test_service_choice_applies_to_the_next_swipe_then_resets():
    flow = CheckInFlow()
    out = start(flow, service="B")
    assert [e.service for e in out if isinstance(e, CheckOpenTicket)] == ["B"]
    flow.state = "ticket"
    out = flow.handle(Dismissed())
    assert flow.service is None  # the next resident chooses again: nothing is preselected
    assert out == [Show("idle", {"reset": True})]  # and the UI puts language and volume back


def test_the_next_resident_need_not_wait_for_the_last_ticket_screen():
    flow = CheckInFlow()
    start(flow)
    answer_all(flow)
    flow.handle(TICKET)
    flow.handle(PrintDone(True))
    assert flow.state == "ticket"
    nxt = Identity("sscard", "310101195001010010", "李四")
    asked = flow.handle(Identified(nxt, at=5.0))
    assert flow.state == "choosing" and said(asked) == ["choose_first"]  # asked which service, not given A
    out = flow.handle(ServiceChosen("C", "为老服务", "Services for older residents"))
    assert screens(out) == ["reading"] and flow.visit.identity == nxt and flow.visit.service == "C"
