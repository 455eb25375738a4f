"""The cinema terminal's screens meet DESIGN §8 in both languages, tell each state in words, and reach the terminal.

The window is driven by the Show effects of the real cinema flow (``kiosk.cinema.flow``), fed with
screenings from the shipped seed file (``config/cinema/screenings.json``) as the terminal lists
them; a fake terminal records what the buttons and the door's scanner ask for.  Screenshots go to
``out/screens/cinema/``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from kiosk.cinema.events import (
    CardFailed,
    CardPresented,
    Dismissed,
    EntryChecked,
    EntryMode,
    PrintDone,
    QrScanned,
    ScreeningChosen,
    Show,
    TicketIssued,
    TicketRefused,
)
from kiosk.cinema.flow import CinemaFlow
from kiosk.cinema.screenings import expand_seed, load_screenings_file, upcoming
from kiosk.cinema.terminal import when_words
from kiosk.config import load_config
from kiosk.prompts import CINEMA_SCREENS, prompt_text
from kiosk.status import ComponentStatus
from tests.ui_checks import SCREENS_DIR, check_sizes
from ui.cinema import CinemaWindow
from ui.qt import QLabel, Qt

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 12, 4, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))  # a Friday morning
SEED = expand_seed(load_screenings_file(ROOT / "config" / "cinema" / "screenings.json"), NOW.date())
LISTING = [s.as_item(s.seats - {0: 13, 1: 60}.get(n, 0)) | when_words(s.starts_at, NOW.date())
           for n, s in enumerate(upcoming(SEED, NOW))]
TODAY = [i for i in LISTING if i["day"] == NOW.date().isoformat()]
FREE, PRICED = TODAY  # 少林寺 09:30 free (13 taken), 长津湖 14:00 8 元 (full)
PRICED_OPEN = {**PRICED, "seats_left": 12}
OLD_TICKET = {"ticket_id": "0A1B2C3D4E5F", "screening_id": FREE["screening_id"], "seat": "2-1", "aisle": True,
              "aisle_needed": True, "paid_fen": 0, "balance_fen": None, "low_balance": False}
PAID_TICKET = {**OLD_TICKET, "screening_id": PRICED["screening_id"], "seat": "10-10", "aisle": True,
               "aisle_needed": False, "paid_fen": 800, "balance_fen": 2150, "low_balance": True}


def flow_shows() -> dict[str, Show]:
    """Every screen of the flow, as the real flow makes it."""
    shows: dict[str, Show] = {}

    def last(effects: list[Any]) -> Show:
        return [e for e in effects if isinstance(e, Show)][-1]

    def tap(flow: CinemaFlow, item: dict) -> list[Any]:
        flow.handle(ScreeningChosen(item, tuple(LISTING)))
        return flow.handle(CardPresented("C5EEDA41", 1.0))

    flow = CinemaFlow()
    shows["present"] = last(flow.handle(ScreeningChosen(PRICED_OPEN, tuple(LISTING))))
    shows["issuing"] = last(flow.handle(CardPresented("C5EEDA41", 1.0)))
    shows["ticket_paid_low"] = last(flow.handle(TicketIssued(PAID_TICKET, flow.taps)))
    flow = CinemaFlow()
    tap(flow, FREE)
    shows["ticket_free_aisle"] = last(flow.handle(TicketIssued(OLD_TICKET, flow.taps)))
    shows["ticket_not_printed"] = last(flow.handle(PrintDone(False, "paper out")))
    shows["full_next"] = last(CinemaFlow().handle(ScreeningChosen(PRICED, tuple(LISTING))))
    shows["full_none"] = last(CinemaFlow().handle(ScreeningChosen(PRICED, (PRICED,))))
    for code, params in (("already", {"ticket": OLD_TICKET}), ("insufficient", {"short": "3.50", "limit": "4.50"}),
                         ("over_day_limit", {"limit": "35"}), ("lost", {}), ("closed", {})):
        flow = CinemaFlow()
        tap(flow, FREE)
        shows[f"refused_{code}"] = last(flow.handle(TicketRefused(code, params, tap=flow.taps)))
    flow = CinemaFlow()
    flow.handle(ScreeningChosen(FREE, tuple(LISTING)))
    shows["refused_not_genuine"] = last(flow.handle(CardFailed("not_genuine")))
    flow = CinemaFlow()
    tap(flow, FREE)
    shows["error"] = last(flow.fail("Issue", "store locked"))
    flow = CinemaFlow()
    shows["entry"] = last(flow.handle(EntryMode(FREE)))
    shows["checking"] = last(flow.handle(QrScanned("LFC1:cinema-1:x:0A1B2C3D4E5F")))
    shows["entry_ok"] = last(flow.handle(EntryChecked("ok", {"seat": "2-1", "ticket_id": "X"}, tap=flow.taps)))
    other = when_words(dt.datetime.fromisoformat(PRICED["starts_at"]), NOW.date())
    for result, params in (("again", {"seat": "2-1", "ticket_id": "X", "entered": "09:21"}),
                           ("wrong_screening", {"ticket_id": "X", "other_zh": "《长津湖》",
                                                "other_en": "The Battle at Lake Changjin", **other}),
                           ("bad_qr", {})):
        flow.handle(Dismissed())  # the door's answer goes: the next person
        flow.handle(CardPresented("C5", 2.0))
        shows[f"entry_{result}"] = last(flow.handle(EntryChecked(result, params, tap=flow.taps)))
    warning = shows["refused_insufficient"]
    shows["refused_warning"] = Show(warning.screen, {**warning.data, "warning": True, "stays_s": 9.0})
    return shows


SHOWS = flow_shows()


class FakeTerminal:
    """Records what the window asks of the terminal."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.scanned: list[str] = []

    def ui(self, command: str) -> None:
        self.commands.append(command)

    def scan(self, text: str) -> None:
        self.scanned.append(text)


def all_up(config):
    """What the status probe says when every device and the network answer."""
    return [ComponentStatus(key, True, "ok") for key in (*config.devices.configured(), "central")]


@pytest.fixture
def cinema(qtbot, examples_dir) -> CinemaWindow:
    window = CinemaWindow(load_config(examples_dir / "cinema.toml"), FakeTerminal(), checker=all_up)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.statuses is not None)
    window.apply(Show("screenings", {"screenings": TODAY}))
    return window


def main_label(window: CinemaWindow):
    """The page's main message (checked ≥ 30 pt)."""
    return {"idle": window.prompt, "present": window.present_heading, "issuing": window.issuing_heading,
            "ticket": window.ticket_seat, "full": window.full_heading, "refused": window.refused_heading,
            "door": window.door_heading, "staff": window.staff_heading}.get(window.current_page)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_cinema_screen_meets_the_numbers(cinema, language):
    if language == "en":
        cinema.toggle_language()
    problems = check_sizes(cinema, SCREENS_DIR / "cinema", f"screenings-{language}", main_label(cinema))
    cinema.apply(Show("screenings", {"screenings": []}))
    problems += check_sizes(cinema, SCREENS_DIR / "cinema", f"screenings_none-{language}", main_label(cinema))
    for name, show in SHOWS.items():
        cinema.apply(show)
        problems += check_sizes(cinema, SCREENS_DIR / "cinema", f"{name}-{language}", main_label(cinema))
    cinema.apply(Show("screenings", {"screenings": TODAY}))
    cinema.open_staff_view()
    problems += check_sizes(cinema, SCREENS_DIR / "cinema", f"staff-{language}", main_label(cinema))
    assert problems == [], "\n".join(problems)


def test_every_cinema_state_of_the_flow_is_drawn():
    drawn = {s.screen for s in SHOWS.values()} | {"screenings"}
    assert drawn >= {"screenings", "present", "issuing", "ticket", "full", "refused", "error", "entry", "checking",
                     "entry_result"}
    assert len(CINEMA_SCREENS) == len(drawn)


def test_tiles_say_time_hall_seats_and_price_in_words_and_a_full_one_says_so(cinema):
    free, full = cinema.tiles[FREE["screening_id"]], cinema.tiles[PRICED["screening_id"]]
    assert free.title.text() == "《少林寺》" and free.info.text() == "今天 09:30 · 一楼多功能厅"
    assert free.seats.text() == "还剩 47 座" and free.price.text() == "免费"
    assert full.seats.text() == "已满座" and full.price.text() == "8 元"
    assert full.free_for.text() == "特殊照护对象、残疾人、优抚对象免费" and not full.free_for.isHidden()
    assert free.free_for.isHidden()
    cinema.toggle_language()
    assert free.seats.text() == "47 seats left" and free.price.text() == "Free" and full.seats.text() == "Full"


def test_buttons_and_the_door_scanner_reach_the_terminal(cinema, qtbot):
    fake = cinema.terminal
    cinema.tiles[FREE["screening_id"]].click()
    cinema.apply(SHOWS["present"])
    cinema.present_back.click()
    cinema.apply(SHOWS["full_next"])
    assert cinema.full_take.isVisible()
    cinema.full_take.click()
    cinema.apply(SHOWS["refused_already"])
    assert cinema.refused_reprint.isVisible()
    cinema.refused_reprint.click()
    cinema.refused_ok.click()
    cinema.bar.help.click()
    offer = SHOWS["full_next"].data["offer"]
    assert fake.commands == [f"screening:{FREE['screening_id']}", "dismiss", f"screening:{offer['screening_id']}",
                             "reprint", "dismiss", "help"]
    qtbot.keyClicks(cinema, "LFC1:cinema-1:x:0A1B2C3D4E5F")
    assert fake.scanned == []  # typing is for the door only
    cinema.apply(SHOWS["entry"])
    qtbot.keyClicks(cinema, "LFC1:cinema-1:x:0A1B2C3D4E5F")
    qtbot.keyClick(cinema, Qt.Key.Key_Return)
    assert fake.scanned == ["LFC1:cinema-1:x:0A1B2C3D4E5F"]
    cinema.apply(Show("screenings", {"screenings": TODAY}))
    cinema.open_staff_view()
    buttons = cinema.pages["staff"].findChildren(type(cinema.staff_stop), "check_this")
    assert [b.text() for b in buttons][0] == "检票：《少林寺》 今天 09:30（已领 13 张）"
    buttons[0].click()
    assert fake.commands[-1] == f"entry:{FREE['screening_id']}" and not cinema.staff_view_open


def test_the_ticket_shows_the_seat_large_the_aisle_and_what_was_paid_in_words(cinema):
    cinema.apply(SHOWS["ticket_free_aisle"])
    shown = [w.text() for w in cinema.pages["ticket"].findChildren(QLabel) if w.isVisible()]
    assert "2排1号" in shown and "免费" in shown and "靠走道的座位，进出方便" in shown and "请取走电影票" in shown
    cinema.apply(SHOWS["ticket_paid_low"])
    assert cinema.ticket_paid.text() == "已付 8 元，卡里还有 21.50 元" and not cinema.ticket_aisle.isVisible()
    assert cinema.ticket_seat.text() == "10排10号"
    cinema.apply(SHOWS["ticket_not_printed"])
    assert cinema.ticket_print.text().startswith("⚠") and "刷一卡通" in cinema.ticket_print.text()
    cinema.caption("cinema_low_balance", {"balance": "21.50"})
    assert cinema.caption_label.isVisible() and cinema.caption_label.text() == prompt_text(
        "cinema_low_balance", "zh", {"balance": "21.50"})


def test_the_door_says_go_in_with_the_seat_or_why_not(cinema):
    cinema.apply(SHOWS["entry_ok"])
    assert cinema.door_result.text() == "请入场" and cinema.door_seat.text() == "2排1号"
    cinema.apply(SHOWS["entry_again"])
    assert cinema.door_result.text() == "不能入场" and "09:21" in cinema.door_words.text()
    cinema.apply(SHOWS["entry_wrong_screening"])
    assert "《长津湖》" in cinema.door_words.text()


def test_cinema_ui_carries_the_terminals_callbacks_to_the_window_and_taps_back(qtbot, examples_dir, monkeypatch):
    """CinemaUi: shows and words from the terminal's thread reach the window; language, volume, taps and scans go back."""
    import threading
    from types import SimpleNamespace

    import ui.cinema_app as cinema_app

    opened: dict[str, Any] = {}
    terminal = FakeTerminal()
    speaker = SimpleNamespace(volume=0)
    closed: list[bool] = []

    def fake_open(config, **kwargs):
        opened.update(kwargs)
        return SimpleNamespace(terminal=terminal, base=SimpleNamespace(speaker=speaker, health=None, sync=None),
                               close=lambda: closed.append(True))

    door = cinema_app.CinemaDoor()
    door.ui("screening:x")
    door.scan("LFC1:x")  # dropped: no terminal yet
    monkeypatch.setattr(cinema_app, "open_cinema", fake_open)
    ui = cinema_app.CinemaUi(load_config(examples_dir / "cinema.toml"))
    window = ui.window
    qtbot.addWidget(window)
    window.show()
    assert speaker.volume == window.volume
    thread = threading.Thread(target=lambda: (opened["on_show"](Show("screenings", {"screenings": TODAY})),
                                              opened["on_say"]("cinema_choose", {})))
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bool(window.tiles))
    qtbot.waitUntil(lambda: window.spoken == prompt_text("cinema_choose"))
    window.tiles[FREE["screening_id"]].click()
    ui.door.scan("LFC1:cinema-1:x:0A1B2C3D4E5F")
    assert terminal.commands == [f"screening:{FREE['screening_id']}"] and terminal.scanned == [
        "LFC1:cinema-1:x:0A1B2C3D4E5F"]
    window.toggle_language()
    assert opened["language"]() == "en"
    window.volume_down.click()
    assert speaker.volume == window.volume
    ui.close()
    assert closed == [True]
