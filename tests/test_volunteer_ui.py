"""The hall's volunteer screens meet DESIGN §8 in zh and en at three sizes, tell each state in words, and send commands."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kiosk.config import load_config
from kiosk.hall.checkin.events import Show
from kiosk.hall.checkin.setup import hall_queue_parts
from kiosk.prompts import prompt_text
from kiosk.status import ComponentStatus
from tests.ui_checks import SCREENS_DIR, check_and_save
from ui.hall import HallWindow

pytestmark = pytest.mark.ui

NOON = datetime(2026, 12, 3, 4, 0, tzinfo=UTC)
SCREENS = {
    "idle": Show("idle"),
    "present": Show("volunteer_present", {"stays_s": 60.0}),
    "present_read_failed": Show("volunteer_present", {"notice": "read_failed", "stays_s": 60.0}),
    "present_id_card_only": Show("volunteer_present", {"notice": "id_card_only", "warning": True, "stays_s": 9.0}),
    "present_reader_down": Show("volunteer_present", {"notice": "reader_down", "stays_s": 60.0}),
    "working": Show("volunteer_working", {"name": "张*明"}),
    "cosign": Show("volunteer_cosign", {"name": "张*明", "since": "09:02", "stays_s": 90.0}),
    "cosign_ccard": Show("volunteer_cosign", {"name": "张*明", "since": "09:02", "community_card": True,
                                              "stays_s": 90.0}),
    "cosign_own_card": Show("volunteer_cosign", {"name": "欧阳*华", "since": "09:02", "notice": "own_card",
                                                 "stays_s": 90.0}),
    "checked_in": Show("volunteer_result", {"result": "checked_in", "name": "张*明", "time": "09:02",
                                            "stays_s": 20.0}),
    "checked_in_unverified": Show("volunteer_result", {"result": "checked_in_unverified", "name": "张*明",
                                                       "time": "09:02", "stays_s": 20.0}),
    "checked_in_again": Show("volunteer_result", {"result": "checked_in", "name": "张*明", "time": "09:02",
                                                  "again": True, "stays_s": 20.0}),
    "checked_out": Show("volunteer_result", {"result": "checked_out", "name": "张*明", "hours": 2, "minutes": 5,
                                             "stays_s": 20.0}),
    "checked_out_pending": Show("volunteer_result", {"result": "checked_out_pending", "name": "张*明", "hours": 0,
                                                     "minutes": 45, "warning": True, "stays_s": 10.0}),
    "unknown": Show("volunteer_result", {"result": "unknown", "name": "张*明", "stays_s": 20.0}),
    "inactive": Show("volunteer_result", {"result": "inactive", "name": "张*明", "stays_s": 20.0}),
    "ask_staff": Show("error", {"reason": "ask_staff", "stays_s": 30.0}),
}
SIZES = ((1024, 768), (1280, 800), (1920, 1080))


@pytest.fixture
def hall(qtbot, examples_dir):
    sent: list[str] = []
    config = load_config(examples_dir / "hall.toml")
    catalog, _ = hall_queue_parts(config)
    window = HallWindow(config, [catalog.get(c) for c in catalog.codes], sent.append,
                        checker=lambda c: [ComponentStatus(k, True, "ok") for k in (*c.devices.configured(), "central")],
                        clock=lambda: NOON)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.statuses is not None)
    window.sent = sent
    return window


def main_label(hall, name):
    pages = hall.volunteer
    return {"idle": hall.prompt, "working": pages.working_heading, "ask_staff": hall.refused_heading}.get(
        name, pages.cosign_heading if name.startswith("cosign") else
        pages.present_heading if name.startswith("present") else pages.result_heading)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_volunteer_screen_meets_the_numbers_in_both_languages_at_three_sizes(qtbot, hall, language):
    if language == "en":
        hall.toggle_language()
    problems = []
    for width, height in SIZES:
        hall.resize(width, height)
        for name, show in SCREENS.items():
            hall.apply(show)
            path = SCREENS_DIR / "volunteer" / f"{name}-{language}-{width}x{height}.png"
            problems += [f"{name} {width}x{height}: {p}"
                         for p in check_and_save(hall, path, main_label(hall, name), screen=(width, height))]
            assert hall.bar.isVisible() and hall.bar.repeat.isVisible() and hall.bar.help.isVisible(), name
    assert "\n".join(problems) == ""


def test_each_state_is_told_in_words(hall):
    pages = hall.volunteer
    hall.apply(SCREENS["idle"])
    assert pages.button.text() == "志愿者\n签到签退" and pages.button.isVisible()
    hall.apply(SCREENS["present"])
    assert pages.present_heading.text() == "请志愿者刷身份证" and not pages.present_notice.isVisible()
    hall.apply(SCREENS["present_read_failed"])
    assert pages.present_notice.text() == prompt_text("volunteer_read_failed")
    hall.apply(SCREENS["cosign"])  # a hall without a community-card reader names only the ID card
    assert pages.cosign_how.text() == "服务对象刷身份证"
    hall.apply(SCREENS["cosign_ccard"])
    assert pages.cosign_how.text() == "服务对象刷身份证或一卡通"
    hall.apply(SCREENS["cosign_own_card"])
    assert pages.cosign_heading.text() == "请服务对象刷卡确认" and "09:02" in pages.cosign_who.text()
    assert pages.cosign_notice.text() == prompt_text("volunteer_own_card")
    assert pages.cosign_skip.text() == "没有服务对象 / 跳过"
    hall.apply(SCREENS["checked_in"])
    assert (pages.result_name.text(), pages.result_heading.text(), pages.result_big.text()) == ("张*明", "签到成功",
                                                                                               "09:02")
    hall.apply(SCREENS["checked_out"])
    assert (pages.result_big.text(), pages.result_words.text()) == ("2 小时 5 分钟", "服务时长，已请服务对象确认")
    hall.apply(SCREENS["checked_out_pending"])
    assert pages.result_words.text().endswith("待组织者审核")
    hall.apply(SCREENS["unknown"])
    assert pages.result_heading.text() == "您还没有登记为志愿者" and "二维码" in pages.result_words.text()
    assert not pages.result_name.isVisible()
    hall.apply(SCREENS["checked_in_unverified"])
    assert "中心核对" in pages.result_words.text()


def test_the_volunteer_buttons_send_their_commands(hall):
    pages = hall.volunteer
    hall.apply(SCREENS["idle"])
    pages.button.click()
    hall.apply(SCREENS["present"])
    pages.present_back.click()
    hall.apply(SCREENS["cosign"])
    pages.cosign_skip.click()
    pages.cosign_cancel.click()
    hall.apply(SCREENS["checked_in"])
    pages.result_done.click()
    hall.bar.more_time.click()
    hall.bar.repeat.click()
    hall.bar.help.click()
    assert hall.sent == ["volunteer", "dismiss", "skip_cosign", "dismiss", "dismiss", "extend", "repeat", "help"]


def test_a_language_change_redraws_the_volunteer_screen(hall):
    hall.apply(SCREENS["cosign"])
    hall.toggle_language()
    assert hall.volunteer.cosign_heading.text() == "Resident served: please tap your card to confirm"
    hall.apply(Show("idle", {"reset": True}))
    assert hall.language == "zh" and hall.volunteer.button.text() == "志愿者\n签到签退"
