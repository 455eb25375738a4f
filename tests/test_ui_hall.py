"""The hall screens meet DESIGN §8 in every state, tell each state in words, and are saved as PNG."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kiosk.config import load_config
from kiosk.hall.checkin.events import Show
from kiosk.hall.checkin.setup import hall_queue_parts
from kiosk.prompts import prompt_text
from kiosk.status import ComponentStatus
from tests.ui_checks import SCREENS_DIR, check_and_save
from ui.hall import HallWindow, sentence_per_line
from ui.qt import QLabel, Qt

pytestmark = pytest.mark.ui

NOON = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)  # 12:00 in the hall: A and B reopen at 13:00, C issues
STEPS = {"identity": "done", "temperature": "done", "code": "pending", "priority": "done"}
B = {"service_zh": "社保医保", "service_en": "Social and medical insurance"}
TICKET = {"number": "B012", "service": "B", "people_ahead": 3, "wait_min": 15, "priority": True,
          "staff_check": True, "printing": False, "printed": True, "stays_s": 20.0}
SCREENS = {
    "idle": Show("idle"),
    "idle_asked": Show("idle", {"asked": True, "stays_s": 60.0}),
    "idle_closed": Show("idle", {"closed": "B", **B, "opens_zh": "今日 13:00 开始取号", "opens_en": "Opens today at 13:00"}),
    "present": Show("present", {"service": "B", **B, "stays_s": 60.0}),
    "reading": Show("reading", {"steps": STEPS, "source": "idcard", "celsius": 36.6}),
    "printing": Show("ticket", {**TICKET, "printing": True, "printed": False, "stays_s": None}),
    "ticket": Show("ticket", TICKET),
    "ticket_warning": Show("ticket", {**TICKET, "warning": True, "stays_s": 10.0}),
    "ticket_paper_out": Show("ticket", {**TICKET, "printed": False, "print_problem": "paper out", "stays_s": 600.0}),
    "refused_fever": Show("refused", {"reason": "fever", "celsius": 37.8, "stays_s": 30.0}),
    "refused_code_red": Show("refused", {"reason": "code_red", "colour": "red", "stays_s": 30.0}),
    "refused_code_yellow": Show("refused", {"reason": "code_yellow", "colour": "yellow", "stays_s": 30.0}),
    "refused_hours": Show("refused", {"reason": "hours", "words_zh": "社保医保 只在 08:30-11:30, 13:00-16:30 取号",
                                      "words_en": "Social and medical insurance issues tickets only "
                                                  "08:30-11:30, 13:00-16:30", "stays_s": 30.0}),
    "error_token_expired": Show("error", {"reason": "token_expired", "stays_s": 30.0}),
    "error_card": Show("error", {"reason": "card", "stays_s": 30.0}),
    "error_ask_staff": Show("error", {"reason": "ask_staff", "stays_s": 30.0}),
    "reprint_offer": Show("reprint_offer", {"number": "A007", "service": "A", "warning": True, "stays_s": 9.0}),
}
SIZES = ((1024, 768), (1280, 800), (1920, 1080))


def all_up(config):
    """What the status probe says when every device and the network answer."""
    return [ComponentStatus(key, True, "ok") for key in (*config.devices.configured(), "central")]


@pytest.fixture
def hall(qtbot, examples_dir):
    sent: list[str] = []
    config = load_config(examples_dir / "hall.toml")
    catalog, _ = hall_queue_parts(config)  # the shipped service names, the long English ones too
    window = HallWindow(config, [catalog.get(c) for c in catalog.codes], sent.append, checker=all_up,
                        clock=lambda: NOON)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.statuses is not None)  # the strip shows the probe's answer
    window.sent = sent
    return window


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_hall_screen_meets_the_numbers(qtbot, hall, screens_dir, language):
    if language == "en":
        hall.toggle_language()
    problems = []
    for width, height in SIZES:
        hall.resize(width, height)
        for name, show in SCREENS.items():
            hall.apply(show)
            path = SCREENS_DIR / "hall" / f"{name}-{language}-{width}x{height}.png"
            problems += [f"{name} {width}x{height}: {p}"  # §8 numbers, and every label shown whole, none overlapping
                         for p in check_and_save(hall, path, hall.prompt, screen=(width, height))]
    assert problems == []


def test_states_are_told_in_words(hall):
    hall.apply(SCREENS["refused_fever"])
    assert "37.8" in hall.refused_words.text() and "服务台" in hall.refused_words.text()
    assert "\n" in hall.refused_words.text()  # the advice starts its own line
    hall.apply(SCREENS["ticket_paper_out"])
    assert "没有打印" in hall.ticket_print.text() and "服务台" in hall.ticket_check.text()
    assert hall.ticket_done.text() == "我记下了"
    hall.apply(SCREENS["reading"])
    assert hall.step_labels["code"].text() == "随申码核验：… 进行中"
    assert hall.step_labels["temperature"].text() == "体温测量：✔ 完成  36.6 °C"
    hall.apply(SCREENS["error_ask_staff"])
    assert hall.refused_heading.text() == "请找工作人员"
    assert hall.refused_words.text().replace("\n", "") == prompt_text("ask_staff")


def test_buttons_send_events(hall):
    hall.service_buttons["B"].click()
    hall.apply(SCREENS["present"])
    hall.present_back.click()
    hall.apply(SCREENS["reprint_offer"])
    hall.offer_yes.click()
    hall.bar.more_time.click()
    hall.bar.repeat.click()
    hall.bar.help.click()
    assert hall.sent == ["service:B", "dismiss", "reprint", "extend", "repeat", "help"]


@pytest.mark.parametrize("text, lines", [
    ("体温 38.1°C 偏高，暂不能取号。请到门口服务台，工作人员会帮您", ["体温 38.1°C 偏高，暂不能取号。", "请到门口服务台，工作人员会帮您"]),
    ("健康码为红码！请到服务台。", ["健康码为红码！", "请到服务台。"]),
    ("Temperature 38.1 °C is high. Please go to the desk.", ["Temperature 38.1 °C is high.", "Please go to the desk."]),
    ("One sentence only.", ["One sentence only."]),
])
def test_refusals_break_lines_at_sentence_ends(text, lines):
    assert sentence_per_line(text).split("\n") == lines


def test_language_and_volume_return_to_the_defaults_after_each_resident(hall):
    volumes = []
    hall.speaker_volume_changed = volumes.append
    hall.toggle_language()
    for _ in range(6):
        hall.volume_down.click()
    assert hall.language == "en" and hall.volume < hall.config.voice.volume
    hall.apply(Show("idle", {"reset": True}))
    assert hall.language == hall.config.language == "zh" and hall.volume == hall.config.voice.volume
    assert volumes[-1] == hall.config.voice.volume  # the speaker follows
    assert hall.prompt.text() == "请选择您要办理的业务"


def test_residents_see_one_maintenance_line_and_staff_see_every_device(qtbot, examples_dir):
    config = load_config(examples_dir / "hall.toml")
    catalog, _ = hall_queue_parts(config)
    down = [ComponentStatus("printer", False, "paper_out", "", "打印机：缺纸", "Printer: out of paper"),
            ComponentStatus("idcard", False, "not found"), ComponentStatus("sscard", False, "not found"),
            ComponentStatus("thermometer", False, "no answer"), ComponentStatus("central", False, "offline")]
    window = HallWindow(config, [catalog.get(c) for c in catalog.codes], lambda c: None, checker=lambda c: down,
                        clock=lambda: NOON)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitUntil(lambda: window.statuses is not None)
    shown = [w.text() for w in window.findChildren(QLabel) if w.isVisible() and w.objectName() == "maintenance"]
    assert shown == ["设备维护中，部分功能请找工作人员"]
    assert not window.strip.isVisible()  # no red "✘ 未连接" lines for residents
    qtbot.mousePress(window.header, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.staff_view_open, timeout=5000)  # held for STAFF_HOLD_MS
    qtbot.mouseRelease(window.header, Qt.MouseButton.LeftButton)
    assert window.status_labels["printer"].text() == "✘ 打印机：缺纸" and not window.maintenance.isVisible()
    window.staff_close.click()
    assert not window.strip.isVisible() and window.maintenance.isVisible()


def test_offline_network_alone_is_not_a_maintenance_line(qtbot, examples_dir):
    config = load_config(examples_dir / "hall.toml")
    catalog, _ = hall_queue_parts(config)
    offline = [*all_up(config)[:-1], ComponentStatus("central", False, "offline")]
    window = HallWindow(config, [catalog.get(c) for c in catalog.codes], lambda c: None, checker=lambda c: offline,
                        clock=lambda: NOON)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.statuses is not None)
    assert not window.maintenance.isVisible() and not window.strip.isVisible()


def test_no_stale_words_from_an_earlier_step_stay_on_screen(hall):
    """The old ticket page kept "正在测量体温，请稍候" under the number while printing."""
    hall.apply(SCREENS["reading"])
    hall.caption("measuring", {})
    assert hall.reading_caption.text() == prompt_text("measuring")
    hall.apply(SCREENS["printing"])
    shown = [w.text() for w in hall.findChildren(QLabel) if w.isVisible()]
    assert not any("体温" in text for text in shown)
    assert hall.ticket_print.text() == prompt_text("printing")
