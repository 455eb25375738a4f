"""The hall screens meet DESIGN §8 in every state, tell each state in words, and are saved as PNG."""

from __future__ import annotations

import pytest

from kiosk.config import load_config
from kiosk.hall.checkin.events import Show
from kiosk.prompts import prompt_text
from kiosk.status import ComponentStatus
from tests.ui_checks import elderly_problems
from ui.hall import HallService, HallWindow, sentence_per_line

pytestmark = pytest.mark.ui

SERVICES = [HallService("A", "综合受理", "General"), HallService("B", "社保医保", "Social insurance"),
            HallService("C", "老年服务", "Elderly services")]
STEPS = {"identity": "done", "temperature": "done", "code": "pending", "priority": "done"}
SCREENS = {
    "idle": Show("idle", {"service": "A"}),
    "reading": Show("reading", {"steps": STEPS, "source": "idcard", "celsius": 36.6}),
    "ticket": Show("ticket", {"number": "A012", "service": "A", "people_ahead": 3, "wait_min": 15,
                              "priority": True, "staff_check": False, "printing": False, "printed": True}),
    "ticket_paper_out": Show("ticket", {"number": "A013", "service": "B", "people_ahead": 0, "wait_min": 0,
                                        "priority": False, "staff_check": True, "printing": False,
                                        "printed": False, "print_problem": "paper out"}),
    "refused_fever": Show("refused", {"reason": "fever", "celsius": 37.8}),
    "refused_code_red": Show("refused", {"reason": "code_red", "colour": "red"}),
    "refused_code_yellow": Show("refused", {"reason": "code_yellow", "colour": "yellow"}),
    "error_token_expired": Show("error", {"reason": "token_expired"}),
    "error_card": Show("error", {"reason": "card"}),
    "error_ask_staff": Show("error", {"reason": "ask_staff"}),
    "reprint_offer": Show("reprint_offer", {"number": "A007", "service": "A", "warning": True}),
}


def all_up(config):
    """What the status probe says when every device and the network answer."""
    return [ComponentStatus(key, True, "ok") for key in (*config.devices.configured(), "central")]


@pytest.fixture
def hall(qtbot, examples_dir):
    sent: list[str] = []
    window = HallWindow(load_config(examples_dir / "hall.toml"), SERVICES, sent.append, checker=all_up)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.statuses is not None)  # the strip shows the probe's answer
    window.sent = sent
    return window


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("name", sorted(SCREENS))
def test_every_hall_screen_meets_the_numbers(qtbot, hall, screens_dir, name, language):
    if language == "en":
        hall.toggle_language()
    hall.apply(SCREENS[name])
    qtbot.wait(20)  # the layouts settle, as they do before a resident sees the screen
    shot = hall.grab()
    shot.save(str(screens_dir / f"hall-{name}-{language}.png"))
    assert elderly_problems(hall, shot.toImage()) == []


def test_states_are_told_in_words(hall):
    hall.apply(SCREENS["refused_fever"])
    assert "37.8" in hall.refused_words.text() and "服务台" in hall.refused_words.text()
    assert "\n" in hall.refused_words.text()  # the advice starts its own line
    hall.apply(SCREENS["ticket_paper_out"])
    assert "缺纸" in hall.ticket_print.text() and "服务台" in hall.ticket_badges.text()
    hall.apply(SCREENS["reading"])
    assert hall.step_labels["code"].text() == "随申码核验：… 进行中"
    assert hall.step_labels["temperature"].text() == "体温测量：✔ 完成  36.6 °C"
    hall.apply(SCREENS["error_ask_staff"])
    assert hall.refused_heading.text() == "请找工作人员"
    assert hall.refused_words.text().replace("\n", "") == prompt_text("ask_staff")


def test_buttons_send_events(hall):
    hall.service_buttons["B"].click()
    hall.apply(SCREENS["reprint_offer"])
    hall.offer_yes.click()
    hall.offer_more.click()
    assert hall.sent == ["service:B", "reprint", "extend"]


@pytest.mark.parametrize("text, lines", [
    ("体温 38.1°C 偏高，暂不能取号。请到门口服务台，工作人员会帮您", ["体温 38.1°C 偏高，暂不能取号。", "请到门口服务台，工作人员会帮您"]),
    ("健康码为红码！请到服务台。", ["健康码为红码！", "请到服务台。"]),
    ("Temperature 38.1 °C is high. Please go to the desk.", ["Temperature 38.1 °C is high.", "Please go to the desk."]),
    ("One sentence only.", ["One sentence only."]),
])
def test_refusals_break_lines_at_sentence_ends(text, lines):
    assert sentence_per_line(text).split("\n") == lines
