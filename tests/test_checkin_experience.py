"""The resident's side of the check-in flow: service first, time on their terms, help, paper out, all spoken.

Each test is one finding of issue #11 as the flow sees it: the effects a screen and the voice get.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk.hall.checkin.events import (
    Alert,
    CheckOpenTicket,
    CodeResult,
    Dismissed,
    HelpRequested,
    Identified,
    Identity,
    MoreTime,
    OpenTicketResult,
    PrintDone,
    PriorityResult,
    Say,
    ServiceChosen,
    Show,
    TemperatureFailed,
    TemperatureMeasured,
    Tick,
    TicketIssued,
    TicketRefusedByQueue,
)
from kiosk.hall.checkin.flow import RESIDENT_SCREENS, STATES, CheckInFlow, FlowSettings
from kiosk.prompts import PROMPTS, SCREENS, prompts_markdown

pytestmark = pytest.mark.unit

ZHANG = Identity("idcard", "310109199701046877", "张三明", "19970104")
B_OPEN = ServiceChosen("B", "社保医保", "Social and medical insurance")
B_CLOSED = ServiceChosen("B", "社保医保", "Social and medical insurance", open=False,
                         opens_zh="今日 13:00 开始取号", opens_en="Opens today at 13:00")
ROOT = Path(__file__).resolve().parents[1]


def said(effects):
    return [e.key for e in effects if isinstance(e, Say)]


def screens(effects):
    return [e.screen for e in effects if isinstance(e, Show)]


def to_ticket(flow, printed=True, priority=False, staff_check=False):
    flow.handle(B_OPEN)
    flow.handle(Identified(ZHANG, at=flow.now))
    out = []
    for event in (TemperatureMeasured(36.5), CodeResult("green", "lookup"), PriorityResult(()),
                  OpenTicketResult(None)):
        out += flow.handle(event)
    out += flow.handle(TicketIssued("B004", "B", 1, 8, priority, staff_check, visit=flow.visit.number))
    out += flow.handle(PrintDone(printed, "" if printed else "paper out"))
    return out


def test_a_swipe_before_choosing_asks_which_service_and_goes_on_with_the_choice():
    flow = CheckInFlow()
    asked = flow.handle(Identified(ZHANG, at=0.0, code=CodeResult("green", "token")))
    assert flow.state == "choosing" and flow.visit is None  # nothing issued, no service assumed
    assert said(asked) == ["choose_first"] and asked[0] == Show("idle", {"asked": True, "stays_s": 60.0})
    out = flow.handle(B_OPEN)
    assert said(out)[:2] == ["service_chosen", "measuring"]
    assert [e.service for e in out if isinstance(e, CheckOpenTicket)] == ["B"]
    assert flow.visit.code == CodeResult("green", "token")  # the verified code came along with the held card


def test_a_held_card_is_dropped_when_the_resident_walks_away():
    flow = CheckInFlow()
    flow.handle(Identified(ZHANG, at=0.0))
    assert flow.deadline() == 60.0
    out = flow.handle(Tick(61.0))
    assert flow.state == "idle" and flow.held is None and out == [Show("idle", {"reset": True})]


def test_a_closed_service_says_when_it_opens_before_any_swipe():
    flow = CheckInFlow()
    out = flow.handle(B_CLOSED)
    assert flow.state == "idle" and said(out) == ["service_closed"]
    assert out[1].params["opens_zh"] == "今日 13:00 开始取号"
    assert out[0].data["closed"] == "B"


def test_the_present_screen_says_the_service_and_where_the_card_goes():
    flow = CheckInFlow()
    out = flow.handle(B_OPEN)
    assert screens(out) == ["present"] and said(out) == ["present_card"]
    assert out[1].params == {"service_zh": "社保医保", "service_en": "Social and medical insurance"}
    assert out[0].data["stays_s"] == 60.0  # it says how long it stays
    assert flow.handle(Dismissed()) == [Show("idle", {"reset": True})]  # "重新选择"


@pytest.mark.parametrize("state_of", ["present", "ticket", "refused"])
def test_every_timed_screen_warns_ten_seconds_before_and_more_time_restores_it(state_of):
    flow = CheckInFlow()
    if state_of == "present":
        flow.handle(B_OPEN)
    elif state_of == "ticket":
        to_ticket(flow)
    else:
        flow.handle(B_OPEN)
        flow.handle(Identified(ZHANG, at=0.0))
        flow.handle(CodeResult("red", "lookup"))
    assert flow.state == state_of
    end = flow.deadline()
    assert flow.handle(Tick(end - 10.5)) == []
    warned = flow.handle(Tick(end - 9.5))
    assert said(warned) == ["timeout_warning"] and warned[0].data["warning"] is True
    assert flow.handle(Tick(end - 9.0)) == []  # once
    again = flow.handle(MoreTime())
    assert screens(again) == [screens(warned)[0]] and "warning" not in again[0].data
    assert flow.deadline() == pytest.approx(end - 9.0 + flow._limit())
    flow.handle(Tick(flow.deadline() + 0.1))
    assert flow.state == "idle"


def test_the_ticket_screen_outlasts_its_words():
    flow = CheckInFlow()
    to_ticket(flow)
    assert flow.settings.ticket_screen_s >= 20.0  # the old 10 s cut the voice at 11.1 s


def test_an_unprinted_number_stays_until_i_have_noted_it_and_staff_are_told():
    flow = CheckInFlow()
    out = to_ticket(flow, printed=False)
    assert said(out) == ["printing", "ticket_not_printed"] and [a.kind for a in out if isinstance(a, Alert)] == ["printer"]
    assert flow.deadline() == flow.settings.paper_out_screen_s
    flow.handle(Tick(flow.settings.ticket_screen_s + 5))
    assert flow.state == "ticket"  # not gone after the usual 20 s
    assert flow.handle(Identified(Identity("sscard", "310101195001010010", "李四"), at=30.0)) == []
    assert flow.handle(Dismissed()) == [Show("idle", {"reset": True})]  # "我记下了"


def test_help_alerts_the_counters_with_the_screen_once_and_keeps_the_screen():
    flow = CheckInFlow()
    flow.handle(B_OPEN)
    flow.handle(Tick(50.0))
    out = flow.handle(HelpRequested())
    alerts = [e for e in out if isinstance(e, Alert)]
    assert [(a.kind, a.detail) for a in alerts] == [("help", {"screen": "present", "service": "B"})]
    assert said(out) == ["help_called"]
    assert flow.deadline() == 110.0  # the resident waiting for staff is not sent back to idle
    assert [e for e in flow.handle(HelpRequested()) if isinstance(e, Alert)] == []  # no alert storm


def test_printing_priority_staff_check_and_thermometer_failure_are_spoken():
    flow = CheckInFlow()
    flow.handle(B_OPEN)
    flow.handle(Identified(ZHANG, at=0.0))
    failed = flow.handle(TemperatureFailed("no answer")) + flow.handle(TemperatureFailed("no answer"))
    assert "thermometer_failed" in said(failed)
    for event in (CodeResult("green", "lookup"), PriorityResult(("veteran",)), OpenTicketResult(None)):
        flow.handle(event)
    printing = flow.handle(TicketIssued("B001", "B", 0, 0, True, True, visit=flow.visit.number))
    assert said(printing) == ["printing"]
    done = flow.handle(PrintDone(True))
    assert said(done) == ["ticket", "ticket_priority", "ticket_staff_check"]


def test_the_hours_refusal_says_the_words_on_screen():
    flow = CheckInFlow()
    flow.handle(B_OPEN)
    flow.handle(Identified(ZHANG, at=0.0))
    for event in (TemperatureMeasured(36.5), CodeResult("green", "lookup"), PriorityResult(()),
                  OpenTicketResult(None)):
        flow.handle(event)
    out = flow.handle(TicketRefusedByQueue("hours", "社保医保 13:00 开始取号", "Opens at 13:00", flow.visit.number))
    assert out[0].data["words_zh"] == "社保医保 13:00 开始取号"
    assert [(e.key, e.params["words_zh"]) for e in out if isinstance(e, Say)] == [
        ("queue_refused", "社保医保 13:00 开始取号")]


def test_every_state_is_in_the_prompt_table_and_every_spoken_key_has_words():
    assert set(SCREENS) == set(STATES)
    source = (ROOT / "kiosk/hall/checkin/flow.py").read_text(encoding="utf-8")
    spoken = set(re.findall(r'Say\("(\w+)"[,)]', source))  # fixed keys; built ones ("refused_" + …) below
    spoken |= {f"refused_{r}" for r in ("fever", "code_yellow", "code_red", "code_unknown", "cap", "hours")}
    for key in spoken:
        assert key in PROMPTS, key
        assert any(key in keys for _, keys in SCREENS.values()), f"{key} is said but not in the table"
    for _, keys in SCREENS.values():
        for key in keys:
            zh, en = PROMPTS[key]
            assert zh and en, key
    assert RESIDENT_SCREENS <= set(STATES)


def test_docs_prompts_md_is_generated_from_the_code():
    assert (ROOT / "docs/prompts.md").read_text(encoding="utf-8") == prompts_markdown(), \
        "regenerate: .venv/bin/python -m kiosk.prompts > docs/prompts.md"


def test_a_hall_with_one_service_serves_a_swipe_without_a_choice():
    flow = CheckInFlow(FlowSettings(only_service="A"))
    out = flow.handle(Identified(ZHANG, at=0.0))
    assert flow.state == "checking" and [e.service for e in out if isinstance(e, CheckOpenTicket)] == ["A"]
