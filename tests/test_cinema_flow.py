"""The cinema flow (pure): choose, tap, ticket; full with the next offered; one ticket per card; the door check."""

from __future__ import annotations

from kiosk.cinema.events import (
    Alert,
    CardFailed,
    CardPresented,
    CheckEntry,
    Dismissed,
    EntryChecked,
    EntryMode,
    HelpRequested,
    Issue,
    MoreTime,
    PrintDone,
    PrintTicket,
    QrScanned,
    ReprintWanted,
    Say,
    ScreeningChosen,
    Show,
    Tick,
    TicketIssued,
    TicketRefused,
)
from kiosk.cinema.flow import CinemaFlow, next_with_seats, price_words


def screening(sid: str, title: str, starts: str, left: int = 10, price: int = 0, **extra) -> dict:
    return {"screening_id": sid, "title": title, "title_en": title.upper(), "starts_at": starts, "time": starts[11:16],
            "when_zh": f"今天 {starts[11:16]}", "when_en": f"today {starts[11:16]}", "hall": "一楼多功能厅",
            "seats": 60, "seats_left": left, "price_fen": price, "free_groups": [], **extra}


A = screening("a", "地道战", "2026-12-03T09:30:00+08:00")
B = screening("b", "庐山恋", "2026-12-03T14:00:00+08:00", price=500, free_groups=["special_care"])
A_LATER = screening("a2", "地道战", "2026-12-05T09:30:00+08:00", left=3)
UPCOMING = (A, B, A_LATER)
TICKET = {"ticket_id": "0A1B2C3D4E5F", "screening_id": "a", "seat": "1-1", "aisle": True, "aisle_needed": True,
          "paid_fen": 0, "balance_fen": None, "low_balance": False}


def says(effects) -> list[str]:
    return [e.key for e in effects if isinstance(e, Say)]


def shown(effects) -> list[Show]:
    return [e for e in effects if isinstance(e, Show)]


def chosen(flow: CinemaFlow, item=A):
    return flow.handle(ScreeningChosen(item, UPCOMING))


def issue_of(effects) -> Issue:
    return next(e for e in effects if isinstance(e, Issue))


def test_choose_a_screening_then_tap_issues_and_the_ticket_is_shown_spoken_and_printed():
    flow = CinemaFlow()
    effects = chosen(flow)
    assert flow.state == "present" and says(effects) == ["cinema_present"]
    assert effects[1].params["price_zh"] == "免费" and effects[1].params["title_zh"] == "地道战"
    issue = issue_of(flow.handle(CardPresented("C5EEDA41", 1.0)))
    assert issue == Issue("C5EEDA41", "a", 1) and flow.state == "issuing"
    effects = flow.handle(TicketIssued(TICKET, issue.tap))
    assert flow.state == "ticket" and says(effects) == ["cinema_ticket", "cinema_aisle"]
    said = effects[1].params
    assert said["seat_zh"] == "1排1号" and said["paid_zh"] == "这场免费。"
    assert effects[-1] == PrintTicket("0A1B2C3D4E5F")
    assert shown(effects)[0].data["stays_s"] == 30.0


def test_a_paid_ticket_says_what_was_paid_and_the_balance_and_a_low_balance():
    flow = CinemaFlow()
    chosen(flow, B)
    assert price_words(B)["price_zh"] == "5 元（特殊照护对象免费）"
    issue = issue_of(flow.handle(CardPresented("F9FF43FB", 1.0)))
    paid = {**TICKET, "screening_id": "b", "seat": "1-5", "aisle": False, "aisle_needed": False, "paid_fen": 500,
            "balance_fen": 2000, "low_balance": True}
    effects = flow.handle(TicketIssued(paid, issue.tap))
    assert says(effects) == ["cinema_ticket", "cinema_low_balance"]
    assert effects[1].params["paid_zh"] == "付了 5 元，卡里还有 20 元。"


def test_a_full_screening_says_so_and_offers_the_next_with_seats_of_the_same_film_first():
    assert next_with_seats(A, UPCOMING) == A_LATER
    assert next_with_seats({**A_LATER, "seats_left": 0}, UPCOMING) is None
    flow = CinemaFlow()
    effects = chosen(flow, {**A, "seats_left": 0})
    assert flow.state == "full" and says(effects) == ["cinema_full", "cinema_full_next"]
    assert shown(effects)[0].data["offer"] == A_LATER and effects[2].params["next_seats_left"] == 3
    effects = flow.handle(ScreeningChosen(A_LATER, UPCOMING))  # "选这一场"
    assert flow.state == "present" and flow.chosen == A_LATER


def test_a_screening_that_fills_while_issuing_turns_to_the_full_screen():
    flow = CinemaFlow()
    chosen(flow)
    issue = issue_of(flow.handle(CardPresented("C5", 1.0)))
    effects = flow.handle(TicketRefused("full", upcoming=(A, B), tap=issue.tap))
    assert flow.state == "full" and says(effects) == ["cinema_full", "cinema_full_next"]
    assert shown(effects)[0].data["offer"] == B  # no later 地道战 with seats: the next film


def test_a_second_ticket_for_the_same_card_is_refused_with_its_seat_and_the_same_ticket_can_be_reprinted():
    flow = CinemaFlow()
    assert flow.handle(ReprintWanted()) == []
    chosen(flow)
    issue = issue_of(flow.handle(CardPresented("C5", 1.0)))
    effects = flow.handle(TicketRefused("already", {"ticket": TICKET}, tap=issue.tap))
    assert flow.state == "refused" and says(effects) == ["cinema_already"]
    assert effects[1].params["seat_zh"] == "1排1号"
    assert flow.handle(ReprintWanted()) == [PrintTicket("0A1B2C3D4E5F", reprint=True), Say("cinema_reprinting")]


def test_on_the_ticket_screen_the_same_card_hears_its_seat_and_another_card_takes_a_ticket_too():
    flow = CinemaFlow()
    chosen(flow)
    issue = issue_of(flow.handle(CardPresented("C5", 1.0)))
    flow.handle(TicketIssued(TICKET, issue.tap))
    assert says(flow.handle(CardPresented("C5", 2.0))) == ["cinema_ticket_again"] and flow.state == "ticket"
    assert issue_of(flow.handle(CardPresented("F9", 3.0))) == Issue("F9", "a", 2)


def test_a_tap_before_choosing_asks_to_choose_and_a_tap_while_issuing_is_ignored():
    flow = CinemaFlow()
    assert says(flow.handle(CardPresented("C5", 1.0))) == ["cinema_choose_first"] and flow.state == "idle"
    chosen(flow)
    flow.handle(CardPresented("C5", 1.0))
    assert flow.handle(CardPresented("C5", 1.1)) == []


def test_a_clone_is_refused_in_words_and_staff_are_alerted_and_card_refusals_alert_for_a_lost_card():
    flow = CinemaFlow()
    chosen(flow)
    effects = flow.handle(CardFailed("not_genuine"))
    assert flow.state == "refused" and says(effects) == ["cinema_not_genuine"]
    assert [a.kind for a in effects if isinstance(a, Alert)] == ["card_not_genuine"]
    issue = issue_of(flow.handle(CardPresented("C5", 1.0)))
    effects = flow.handle(TicketRefused("lost", tap=issue.tap))
    assert says(effects) == ["cinema_lost"] and [a.kind for a in effects if isinstance(a, Alert)] == ["card_refused"]


def test_an_issue_that_does_not_answer_ends_on_ask_staff_and_a_late_ticket_is_still_shown():
    flow = CinemaFlow()
    flow.handle(Tick(0.0))
    chosen(flow)
    issue = issue_of(flow.handle(CardPresented("C5", 1.0)))
    effects = flow.handle(Tick(9.0))
    assert flow.state == "error" and says(effects) == ["ask_staff"]
    effects = flow.handle(TicketIssued(TICKET, issue.tap))
    assert flow.state == "ticket" and "cinema_ticket" in says(effects)


def test_a_ticket_that_did_not_print_is_said_and_the_card_is_the_ticket():
    flow = CinemaFlow()
    chosen(flow)
    flow.handle(TicketIssued(TICKET, issue_of(flow.handle(CardPresented("C5", 1.0))).tap))
    effects = flow.handle(PrintDone(False, "paper out"))
    assert shown(effects)[0].data["print_failed"] is True and says(effects) == ["cinema_ticket_not_printed"]
    assert [a.kind for a in effects if isinstance(a, Alert)] == ["printer"]
    assert flow.handle(PrintDone(True)) == []


def test_screens_warn_before_they_go_more_time_and_help():
    flow = CinemaFlow()
    flow.handle(Tick(0.0))
    chosen(flow)
    assert says(flow.handle(Tick(51.0))) == ["timeout_warning"]
    flow.handle(MoreTime())
    assert flow.deadline() == 111.0
    first = flow.handle(HelpRequested())
    assert [e.kind for e in first if isinstance(e, Alert)] == ["help"]
    assert not any(isinstance(e, Alert) for e in flow.handle(HelpRequested()))
    effects = flow.handle(Tick(200.0))
    assert flow.state == "idle" and shown(effects)[0].screen == "screenings" and shown(effects)[0].data["reset"]


def test_the_door_checks_a_card_or_a_qr_then_shows_the_answer_briefly_and_is_ready_for_the_next():
    flow = CinemaFlow()
    flow.handle(Tick(0.0))
    effects = flow.handle(EntryMode(A))
    assert flow.state == "entry" and shown(effects)[0].screen == "entry" and says(effects) == ["cinema_entry"]
    assert flow.handle(ScreeningChosen(A, UPCOMING)) == []  # no tickets from the door screen
    check = next(e for e in flow.handle(CardPresented("C5", 1.0)) if isinstance(e, CheckEntry))
    assert check == CheckEntry("a", "C5", None, 1)
    effects = flow.handle(EntryChecked("ok", {"seat": "1-1", "ticket_id": "X"}, tap=check.tap))
    assert flow.state == "entry_result" and says(effects) == ["cinema_entry_ok"]
    assert effects[1].params["seat_zh"] == "1排1号" and shown(effects)[0].data["stays_s"] == 6.0
    check = next(e for e in flow.handle(QrScanned("LFC1:cinema-1:a:0A1B2C3D4E5F")) if isinstance(e, CheckEntry))
    assert check.qr == "LFC1:cinema-1:a:0A1B2C3D4E5F" and check.card_no is None
    effects = flow.handle(EntryChecked("again", {"seat": "1-1", "ticket_id": "X", "entered": "09:25"}, tap=check.tap))
    assert says(effects) == ["cinema_entry_again"] and [a.kind for a in effects if isinstance(a, Alert)] == [
        "ticket_used_again"]
    assert shown(effects)[0].data["screening"] == A
    flow.handle(Tick(5.0))
    assert shown(flow.handle(MoreTime()))[0].data["result"] == "again" and flow.deadline() == 11.0
    effects = flow.handle(Tick(12.0))
    assert flow.state == "entry" and shown(effects)[0].screen == "entry"
    effects = flow.handle(CardFailed("not_genuine"))
    assert flow.state == "entry_result" and says(effects) == ["cinema_not_genuine"]
    flow.handle(EntryMode(None))
    assert flow.state == "idle" and flow.handle(QrScanned("LFC1:x:a:0A1B2C3D4E5F")) == []


def test_dismiss_goes_home_and_the_door_screen_has_no_deadline():
    flow = CinemaFlow()
    chosen(flow)
    effects = flow.handle(Dismissed())
    assert flow.state == "idle" and flow.deadline() is None and shown(effects)[0].data["reset"] is True
    flow.handle(EntryMode(A))
    assert flow.deadline() is None


def test_every_cinema_state_is_in_the_prompt_table_and_every_spoken_key_has_words():
    import re
    from pathlib import Path

    from kiosk.cinema.flow import AMOUNT_CODES, CARD_CODES, ENTRY_RESULTS, OTHER_CODES, STATES
    from kiosk.prompts import CINEMA_SCREENS, PROMPTS, ROLE_SCREENS, prompt_text

    assert set(CINEMA_SCREENS) == set(STATES) and ROLE_SCREENS["cinema"] is CINEMA_SCREENS
    source = (Path(__file__).resolve().parent.parent / "kiosk/cinema/flow.py").read_text(encoding="utf-8")
    spoken = set(re.findall(r'Say\("(\w+)"[,)]', source))
    spoken |= {f"cinema_{c}" for c in (*CARD_CODES, *AMOUNT_CODES, *OTHER_CODES)}
    spoken |= {f"cinema_entry_{r}" for r in ENTRY_RESULTS[:5]}
    table = {k for _, keys in CINEMA_SCREENS.values() for k in keys}
    for key in spoken:
        assert key in PROMPTS and key in table, key
        for language in ("zh", "en"):
            assert PROMPTS[key][0 if language == "zh" else 1].strip(), key
    said = prompt_text("cinema_ticket", "zh", {"title_zh": "地道战", "when_zh": "今天 09:30", "hall": "一楼多功能厅",
                                               "seat_zh": "1排1号", "paid_zh": "这场免费。"})
    assert said == "出票成功。《地道战》，今天 09:30，一楼多功能厅，座位 1排1号。这场免费。请取走电影票"
