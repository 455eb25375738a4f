"""The counter console and rating pad against a real hall service on loopback (pytest-qt, offscreen).

A clerk logs in with the on-screen keypad, calls, starts, finishes; the resident rates on the pad
and the rating is stored with its ``ticket.rated`` event.  Recall, no-show, transfer, call a
number, refusals in the service's words, the service going down and coming back, the pad's time
limit with its warning; every screen meets DESIGN §8 in zh and en and is saved as PNG.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from kiosk.hall.client import HallClient
from kiosk.hall.ratings import rating_of
from kiosk.voice import Speaker
from tests.hall_ui_support import SECRET, role_config, statuses, take
from tests.ui_checks import elderly_problems
from ui.counter import CounterWindow, normalise_number, open_counter
from ui.counter_pages import elapsed_text
from ui.qt import QThreadPool

pytest_plugins = ("tests.hall_ui_fixtures",)  # hall_store, hall_queue, hall_service, unused_port
pytestmark = [pytest.mark.ui, pytest.mark.timeout(90)]

WAIT_MS = 8000  # bound of every wait for the service's answer to reach the screen


def make_counter(qtbot, examples_dir, url, hall_up, **pad_options):
    config = role_config(examples_dir, "counter", url)
    speaker = Speaker(True, 0, player=None)  # volume 0: the texts are kept, nothing is rendered
    window = CounterWindow(config, HallClient(url, SECRET), speaker=speaker,
                           checker=lambda _c: statuses(hall_up["up"], ("ccard",)), poll_ms=300,
                           pad_options={"timeout_s": 30.0, "warn_before_s": 10.0, "thanks_s": 0.5, **pad_options})
    window.owned.append(speaker.close)
    window.hall_up = hall_up
    qtbot.addWidget(window)
    qtbot.addWidget(window.pad)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def counter(qtbot, examples_dir, hall_service):
    window = make_counter(qtbot, examples_dir, hall_service.url, {"up": True})
    yield window
    window.close()
    QThreadPool.globalInstance().waitForDone(5000)


def log_in(qtbot, window, staff="1001"):
    qtbot.waitUntil(lambda: window.online is True and window._services_loaded, timeout=WAIT_MS)
    for digit in staff:
        window.login.keypad.keys[digit].click()
    assert window.login.keypad.entry.text() == staff
    window.login.login_button.click()
    qtbot.waitUntil(lambda: window.current_page == "console" and window.counter is not None, timeout=WAIT_MS)


def press(window, action):
    window.console.buttons[action].click()


def message(window):
    return window.console.message.text()


def test_clerk_logs_in_calls_starts_finishes_and_the_resident_rates(counter, hall_queue, hall_store, qtbot):
    ticket = take(hall_queue, "A", 1, priority_reasons=("veteran",), staff_check=True)
    take(hall_queue, "B", 2)
    log_in(qtbot, counter)
    assert (counter.counter.staff_id, counter.counter.services) == ("1001", ("A", "B"))
    assert counter.login.keypad.value == ""  # the staff number does not linger on screen
    assert "工号 1001" in counter.console.info.text()
    name, count = counter.console.waiting_labels["A"]
    qtbot.waitUntil(lambda: count.text() == "1 人", timeout=WAIT_MS)
    assert name.text() == "A 综合受理" and counter.console.waiting_labels["C"][1].text() == "0 人"

    press(counter, "next")
    qtbot.waitUntil(lambda: counter.console.number.text() == ticket.number, timeout=WAIT_MS)
    c = counter.console
    assert "张*明" in c.name.text() and "已呼叫 1 次" in c.name.text()
    assert c.priority.text() == "优先号：退役军人" and c.staff_check.text() == "需工作人员核验健康码"
    assert c.state.text() == "已叫号，等候居民到来" and c.timer.text().startswith("叫号后 ")
    assert message(counter) == f"✔ 已叫 {ticket.number} 号到 3 号窗口"

    press(counter, "start")
    qtbot.waitUntil(lambda: c.state.text() == "正在办理", timeout=WAIT_MS)
    assert c.timer.text().startswith("办理用时 ")

    press(counter, "finish")
    qtbot.waitUntil(lambda: counter.pad.current_page == "rate", timeout=WAIT_MS)
    assert c.number.text() == "—" and "已办结" in message(counter)
    assert counter.pad.ask_heading.text() == "请为本次服务评价"
    assert counter.pad.ticket_words.text() == f"{ticket.number} 号 · 3 号窗口"
    counter.pad.level_buttons["satisfied"].click()
    qtbot.waitUntil(lambda: counter.pad.current_page == "thanks", timeout=WAIT_MS)
    assert counter.pad.thanks_heading.text() == "谢谢您的评价！"
    assert counter.pad.thanks_choice.text() == "您的评价：满意"
    stored = rating_of(hall_store, ticket.id)
    assert stored is not None and (stored.level, stored.window, stored.staff_id) == ("satisfied", 3, "1001")
    rated = [e.payload for e in hall_store.pending_events(1000) if e.type == "ticket.rated"]
    assert [(p["ticket_id"], p["level"]) for p in rated] == [(ticket.id, "satisfied")]
    assert message(counter) == f"✔ {ticket.number} 号居民评价：满意"
    qtbot.waitUntil(lambda: counter.pad.current_page == "idle", timeout=WAIT_MS)  # thanks, then waiting
    counter.pad.speaker.wait_idle()
    assert list(counter.pad.speaker.history)[:2] == ["请为本次服务评价", "谢谢您的评价！"]


def test_recall_no_show_call_a_number_and_transfer(counter, hall_queue, qtbot):
    first = take(hall_queue, "A", 1)
    take(hall_queue, "A", 2)
    log_in(qtbot, counter)
    c = counter.console
    press(counter, "next")
    qtbot.waitUntil(lambda: c.number.text() == first.number, timeout=WAIT_MS)

    press(counter, "recall")
    qtbot.waitUntil(lambda: "已重呼" in message(counter), timeout=WAIT_MS)
    assert message(counter) == f"✔ 已重呼 {first.number} 号（第 2 次）"
    assert hall_queue.current(3).calls == 2 and "已呼叫 2 次" in c.name.text()

    press(counter, "no_show")
    qtbot.waitUntil(lambda: c.number.text() == "—", timeout=WAIT_MS)
    assert hall_queue.ticket(first.id).state == "no_show" and message(counter) == f"✔ {first.number} 号已过号"

    press(counter, "call_number")
    assert counter.current_page == "call_number"
    pad = counter.call_page.keypad
    assert sorted(pad.letter_keys) == ["A", "B", "C"]
    for key in ("A", "1"):
        (pad.letter_keys.get(key) or pad.keys[key]).click()
    assert pad.entry.text() == "A1"
    counter.call_page.go.click()  # A1 → A001, the no-show resident came back
    qtbot.waitUntil(lambda: counter.current_page == "console" and c.number.text() == "A001", timeout=WAIT_MS)
    assert hall_queue.current(3).number == "A001"

    press(counter, "transfer")
    assert counter.current_page == "transfer"
    assert sorted(counter.transfer_page.service_buttons) == ["B", "C"]
    assert counter.transfer_page.service_buttons["B"].text() == "B 社保医保"
    counter.transfer_page.service_buttons["B"].click()
    qtbot.waitUntil(lambda: counter.current_page == "console" and c.number.text() == "—", timeout=WAIT_MS)
    assert message(counter) == "✔ A001 号已转到「社保医保」，按原取号时间排队"
    assert hall_queue.waiting_counts()["B"] == 1
    assert counter.services  # the service list came from the hall


def test_refusals_are_shown_in_the_services_words(counter, hall_queue, qtbot):
    log_in(qtbot, counter)
    press(counter, "start")  # nothing called yet
    qtbot.waitUntil(lambda: "3 号窗口当前没有叫号" in message(counter), timeout=WAIT_MS)
    assert message(counter).startswith("✘ ") and counter.console.message.property("tone") == "warning"
    press(counter, "next")
    qtbot.waitUntil(lambda: message(counter) == "✔ 目前没有人排队", timeout=WAIT_MS)
    press(counter, "call_number")
    for key in ("A", "9"):
        (counter.call_page.keypad.letter_keys.get(key) or counter.call_page.keypad.keys[key]).click()
    counter.call_page.go.click()
    qtbot.waitUntil(lambda: "今天没有 A009 号" in counter.call_page.message.text(), timeout=WAIT_MS)
    assert counter.current_page == "call_number"  # stays, so the clerk can correct the number
    counter.call_page.keypad.press("clear")
    counter.call_page.go.click()
    assert counter.call_page.message.text() == "✘ 请输入完整号码：字母加数字"
    counter.call_page.cancel.click()
    press(counter, "transfer")
    assert counter.current_page == "console" and message(counter) == "✘ 当前没有可转移的号码"
    counter.toggle_language()
    assert message(counter) == "✘ There is no ticket to transfer"


def test_login_needs_a_staff_number_and_a_service(counter, qtbot):
    qtbot.waitUntil(lambda: counter.online is True and counter._services_loaded, timeout=WAIT_MS)
    assert sorted(counter.login.service_buttons) == ["A", "B", "C"]
    assert counter.login.service_buttons["A"].text() == "✔ A 综合受理"
    assert counter.login.service_buttons["C"].text() == "○ C 为老服务"
    counter.login.login_button.click()
    assert counter.login.message.text() == "✘ 请先用数字键输入工号"
    counter.login.keypad.keys["7"].click()
    counter.login.keypad.keys["back"].click()
    assert counter.login.keypad.value == ""
    counter.login.keypad.keys["7"].click()
    for code in ("A", "B"):
        counter.login.service_buttons[code].click()
    counter.login.login_button.click()
    assert counter.login.message.text() == "✘ 请至少选择一项业务"
    counter.login.service_buttons["C"].click()
    counter.login.login_button.click()
    qtbot.waitUntil(lambda: counter.current_page == "console", timeout=WAIT_MS)
    assert counter.counter.services == ("C",)
    press(counter, "logout")
    qtbot.waitUntil(lambda: counter.current_page == "login", timeout=WAIT_MS)
    assert counter.login.message.text() == "✔ 已退出登录"


def test_service_down_is_said_in_words_and_the_console_comes_back(counter, hall_service, hall_queue, qtbot):
    ticket = take(hall_queue, "A", 1)
    log_in(qtbot, counter)
    hall_service.stop()
    press(counter, "next")
    qtbot.waitUntil(lambda: counter.online is False, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "大厅叫号服务无法连接" in message(counter), timeout=WAIT_MS)
    assert all(b.text().endswith("\n暂不可用") for b in counter.console.buttons.values())
    assert counter.console.buttons["next"].property("offline") == "true"
    press(counter, "finish")  # does nothing, and says why
    assert message(counter) == "✘ 大厅叫号服务无法连接：「办结」未执行，正在自动重试…"
    hall_service.restart()
    qtbot.waitUntil(lambda: counter.online is True, timeout=WAIT_MS)
    assert message(counter) == "✔ 大厅叫号服务已恢复"
    assert counter.console.buttons["next"].text() == "叫号"
    press(counter, "next")
    qtbot.waitUntil(lambda: counter.console.number.text() == ticket.number, timeout=WAIT_MS)


def test_a_rating_that_cannot_be_sent_is_told_to_the_resident_and_the_clerk(counter, hall_service, hall_queue,
                                                                             hall_store, qtbot):
    ticket = take(hall_queue, "A", 1)
    log_in(qtbot, counter)
    press(counter, "next")
    qtbot.waitUntil(lambda: counter.ticket is not None, timeout=WAIT_MS)
    press(counter, "finish")
    qtbot.waitUntil(lambda: counter.pad.current_page == "rate", timeout=WAIT_MS)
    hall_service.stop()
    counter.pad.level_buttons["dissatisfied"].click()
    qtbot.waitUntil(lambda: counter.pad.current_page == "thanks", timeout=WAIT_MS)
    assert counter.pad.thanks_heading.text() == "您的评价：不满意"
    assert counter.pad.thanks_choice.text() == "评价未能保存：无法连接排队服务，请检查网络。请告诉窗口工作人员"
    assert rating_of(hall_store, ticket.id) is None
    # the clerk's line may already carry the console's next "service down" notice when a poll lands first
    assert message(counter) in (f"✘ {ticket.number} 号的评价未保存：无法连接排队服务，请检查网络",) or \
        "无法连接" in message(counter)


def test_console_started_with_the_service_down_says_so(qtbot, examples_dir, unused_port):
    window = make_counter(qtbot, examples_dir, f"http://127.0.0.1:{unused_port}", {"up": False})
    try:
        qtbot.waitUntil(lambda: window.online is False, timeout=WAIT_MS)
        assert "大厅叫号服务无法连接" in window.login.message.text()
        window.login.keypad.keys["1"].click()
        window.login.login_button.click()
        assert window.login.message.text() == "✘ 大厅叫号服务无法连接：「登录」未执行，正在自动重试…"
        assert window.current_page == "login"
    finally:
        window.close()
        QThreadPool.globalInstance().waitForDone(5000)


def test_a_counter_with_the_wrong_secret_says_it_is_refused(qtbot, examples_dir, hall_service):
    config = role_config(examples_dir, "counter", hall_service.url)
    window = CounterWindow(config, HallClient(hall_service.url, "not-this-halls-secret-0000"), speaker=None,
                           checker=lambda _c: statuses(True, ("ccard",)), poll_ms=300)
    qtbot.addWidget(window)
    qtbot.addWidget(window.pad)
    try:
        qtbot.waitUntil(lambda: "拒绝了本机" in window.login.message.text(), timeout=WAIT_MS)
        assert window.login.message.text().endswith("请联系管理员")
    finally:
        window.close()
        QThreadPool.globalInstance().waitForDone(5000)


def test_rating_pad_warns_gives_more_time_then_goes_back_to_waiting(qtbot, examples_dir, hall_service, hall_queue,
                                                                    screens_dir):
    window = make_counter(qtbot, examples_dir, hall_service.url, {"up": True}, timeout_s=3.0, warn_before_s=2.5)
    try:
        take(hall_queue, "A", 1)
        log_in(qtbot, window)
        press(window, "next")
        qtbot.waitUntil(lambda: window.ticket is not None, timeout=WAIT_MS)
        press(window, "finish")
        qtbot.waitUntil(lambda: window.pad.current_page == "rate", timeout=WAIT_MS)
        pad = window.pad
        qtbot.waitUntil(lambda: pad.more_time.isVisible(), timeout=WAIT_MS)
        assert "秒后自动返回" in pad.warning.text()
        check_screen(pad, screens_dir, "rating-pad-warning-zh", pad.ask_heading)
        pad.more_time.click()
        assert not pad.more_time.isVisible() and pad.warning.text() == ""
        qtbot.waitUntil(lambda: pad.current_page == "idle", timeout=WAIT_MS)
        assert message(window) == "✔ A001 号居民未评价"
        pad.speaker.wait_idle()
        assert "秒后自动返回" in " ".join(pad.speaker.history)
    finally:
        window.close()
        QThreadPool.globalInstance().waitForDone(5000)


def check_screen(widget, screens_dir, name, main_label=None):
    assert (widget.width(), widget.height()) == (1280, 800), f"{name}: the layout does not fit 1280×800"
    shot = widget.grab()
    shot.save(str(screens_dir / f"{name}.png"))
    assert elderly_problems(widget, shot.toImage(), main_label) == [], name


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_counter_and_rating_screen_meets_the_numbers(counter, hall_service, hall_queue, qtbot, screens_dir,
                                                           language):
    if language == "en":
        counter.toggle_language()
        counter.pad.toggle_language()
    qtbot.waitUntil(lambda: counter.online is True and counter._services_loaded, timeout=WAIT_MS)
    counter.login.keypad.keys["1"].click()
    check_screen(counter, screens_dir, f"counter-login-{language}", counter.login.heading)
    counter.login.keypad.keys["clear"].click()
    take(hall_queue, "A", 1, priority_reasons=("veteran", "age80"), staff_check=True)
    take(hall_queue, "B", 2)
    log_in(qtbot, counter)
    press(counter, "next")
    qtbot.waitUntil(lambda: counter.ticket is not None, timeout=WAIT_MS)
    press(counter, "start")
    qtbot.waitUntil(lambda: counter.ticket.state == "serving", timeout=WAIT_MS)
    check_screen(counter, screens_dir, f"counter-console-{language}", counter.console.number)
    press(counter, "call_number")
    check_screen(counter, screens_dir, f"counter-call-number-{language}", counter.call_page.heading)
    counter.call_page.cancel.click()
    press(counter, "transfer")
    check_screen(counter, screens_dir, f"counter-transfer-{language}", counter.transfer_page.heading)
    counter.transfer_page.cancel.click()
    press(counter, "finish")
    qtbot.waitUntil(lambda: counter.pad.current_page == "rate", timeout=WAIT_MS)
    check_screen(counter.pad, screens_dir, f"rating-pad-{language}", counter.pad.ask_heading)
    counter.pad.level_buttons["very_satisfied"].click()
    qtbot.waitUntil(lambda: counter.pad.current_page == "thanks", timeout=WAIT_MS)
    check_screen(counter.pad, screens_dir, f"rating-thanks-{language}", counter.pad.thanks_heading)
    qtbot.waitUntil(lambda: counter.pad.current_page == "idle", timeout=WAIT_MS)
    check_screen(counter.pad, screens_dir, f"rating-waiting-{language}", counter.pad.prompt)
    counter.hall_up["up"] = False
    hall_service.stop()
    counter.refresh_status()
    press(counter, "next")
    qtbot.waitUntil(lambda: counter.online is False, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: counter.statuses is not None and not counter.statuses[-2].up, timeout=WAIT_MS)
    check_screen(counter, screens_dir, f"counter-console-down-{language}", counter.console.number)


def test_number_and_timer_helpers():
    assert normalise_number("a12") == "A012" and normalise_number("B7") == "B007"
    assert normalise_number("A") is None and normalise_number("12") is None and normalise_number("A1234") is None
    called = "2024-05-01T08:00:00.000Z"
    assert elapsed_text(called, now=datetime.fromisoformat("2024-05-01T08:01:05Z")) == "01:05"
    assert elapsed_text(called, now=datetime.fromisoformat("2024-05-01T09:02:03Z")) == "1:02:03"
    assert elapsed_text(called, now=datetime.fromisoformat("2024-05-01T07:00:00Z")) == "00:00"
    assert elapsed_text(None) == "00:00"


def test_open_counter_builds_the_window_from_its_config(qtbot, examples_dir, hall_service):
    config = role_config(examples_dir, "counter", hall_service.url)
    window = open_counter(config, speaker=Speaker(True, 0, player=None))
    qtbot.addWidget(window)
    qtbot.addWidget(window.pad)
    try:
        assert window.window_no == 3 and window.client.base_url == hall_service.url
        qtbot.waitUntil(lambda: window.online is True, timeout=WAIT_MS)
        with pytest.raises(Exception, match="counter config"):
            open_counter(role_config(examples_dir, "display", hall_service.url))
    finally:
        window.close()
        QThreadPool.globalInstance().waitForDone(5000)
