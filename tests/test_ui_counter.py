"""The counter console and rating pad against a real hall service on loopback (pytest-qt, offscreen).

A clerk taps the staff card and types the PIN, calls, starts, finishes; the resident rates on the
pad and the rating is stored with its ``ticket.rated`` event.  Recall, no-show, transfer, call a
number, refusals in the service's words, the service going down and coming back, the pad's time
limit with its warning; every screen meets DESIGN §8 in zh and en and is saved as PNG.  Logins
refused in words (unknown card, wrong PIN, locked), a counter without a card reader, a session
ended by another login.  Staff alerts raised in the hall's AlertBoard reach the banner of every
logged-in counter; one clerk's "知道了" takes it off the others, attributed, with no name sent on.
Most tests hand the card's UID to the window as its reader would (:meth:`CounterWindow.card_tapped`);
the reader path itself runs through pyscard → pcscd → vpcd in the ``test_..._reader`` tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from hardware_sim import personas
from hardware_sim.pcsc_slot import PcscCardSlot
from hardware_sim.runner import CCARD_READER
from hardware_sim.sscard import CCARD_FAULTS, make_ccard
from kiosk.config import PcscReader
from kiosk.hall import HALL_MIGRATIONS
from kiosk.hall.alerts import AlertBoard
from kiosk.hall.client import HallClient
from kiosk.hall.ratings import rating_of
from kiosk.hall.service_api import create_app
from kiosk.hall.service_server import HallServer
from kiosk.hall.staff import ScryptParams, StaffRegistry
from kiosk.hall.staff_tables import STAFF_ALERT_MIGRATIONS
from kiosk.store import Store
from kiosk.voice import Speaker
from tests.hall_ui_support import SECRET, role_config, statuses, take
from tests.ui_checks import check_and_save
from ui.counter import CounterWindow, normalise_number, open_counter
from ui.counter_pages import elapsed_text
from ui.qt import QApplication, QThreadPool

pytest_plugins = ("tests.hall_ui_fixtures",)  # hall_queue, unused_port (hall_store, hall_service: below)
pytestmark = [pytest.mark.ui, pytest.mark.timeout(90)]

WAIT_MS = 8000  # bound of every wait for the service's answer to reach the screen
PERSON_KEY = b"linfen-test-person-key-0123456789"
PIN = "2580"
CARDS = {"1001": "0A0B0C01", "1002": "0A0B0C02"}  # staff id -> staff-card UID


@pytest.fixture
def hall_store(tmp_path: Path) -> Iterator[Store]:
    """The hall's store with the queue, staff and alert tables."""
    store = Store.open(tmp_path / "hall.db", "hall-01", extra_migrations=(HALL_MIGRATIONS, STAFF_ALERT_MIGRATIONS))
    yield store
    store.close()


@pytest.fixture
def staff(hall_store: Store) -> StaffRegistry:
    """Clerks 1001 and 1002 (cards in CARDS, PIN 2580)."""
    registry = StaffRegistry(hall_store, PERSON_KEY, kdf=ScryptParams(n=2**10))
    for staff_id, uid in CARDS.items():
        registry.set(staff_id, f"王*{staff_id[-1]}", uid, PIN)
    return registry


@pytest.fixture
def alerts(hall_store: Store) -> AlertBoard:
    """The hall's alert board (the one the terminal raises on)."""
    return AlertBoard(hall_store)


class Service:
    """The hall service with its staff registry and alert board, on a loopback port a test can stop and reuse."""

    def __init__(self, queue, staff, alerts) -> None:
        self.parts = (queue, staff, alerts)
        self.server = self._server(0)
        self.url = self.server.start()
        self.port = self.server.port

    def _server(self, port: int) -> HallServer:
        queue, staff, alerts = self.parts
        return HallServer(create_app(queue, SECRET, staff=staff, alerts=alerts, keepalive_s=0.5), port=port)

    def stop(self) -> None:
        self.server.stop()

    def restart(self) -> None:
        self.server = self._server(self.port)
        self.server.start()


@pytest.fixture
def hall_service(hall_queue, staff, alerts) -> Iterator[Service]:
    """The hall service over ``hall_queue`` on loopback; counters log in against ``staff``."""
    service = Service(hall_queue, staff, alerts)
    yield service
    service.stop()


def settle() -> None:
    """Let the pool finish and deliver its answers now, while the closed windows still exist to receive them."""
    QThreadPool.globalInstance().waitForDone(5000)
    QApplication.processEvents()


def make_counter(qtbot, examples_dir, url, hall_up, window_no=3, config=None, read_cards=False, **pad_options):
    config = config or role_config(examples_dir, "counter", url, window=window_no)
    speaker = Speaker(True, 0, player=None)  # volume 0: the texts are kept, nothing is rendered
    window = CounterWindow(config, HallClient(url, SECRET), speaker=speaker,
                           checker=lambda _c: statuses(hall_up["up"], ("ccard",)), poll_ms=300,
                           pad_options={"timeout_s": 30.0, "warn_before_s": 10.0, "thanks_s": 0.5, **pad_options},
                           read_cards=read_cards)
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
    settle()


def type_pin(window, pin=PIN):
    for digit in pin:
        window.login.keypad.keys[digit].click()


def log_in(qtbot, window, staff="1001", pin=PIN):
    qtbot.waitUntil(lambda: window.online is True and window._services_loaded, timeout=WAIT_MS)
    window.card_tapped(CARDS[staff])  # what the counter's staff-card reader hands over
    zh = window.language == "zh"
    assert window.login.card_state.text() == ("已读到工作证，请输入密码后按「登录」" if zh else
                                              "Staff card read: type your PIN, then press “Log in”")
    type_pin(window, pin)
    assert window.login.keypad.entry.text() == ("●●●●（4 位）" if zh else "●●●● (4 digits)")  # never the digits
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
    assert counter.login.keypad.value == "" and counter.card_uid is None  # neither PIN nor card lingers
    assert counter.console.info.text() == "3 号窗口 · 王*1（工号 1001）· 办理业务 A、B"
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


def test_login_needs_a_card_a_pin_and_a_service(counter, qtbot):
    qtbot.waitUntil(lambda: counter.online is True and counter._services_loaded, timeout=WAIT_MS)
    assert counter.login.heading.text() == "3 号窗口 · 请刷工作证"
    assert counter.login.card_state.text() == "请把工作证放在读卡器上，然后输入密码"
    assert sorted(counter.login.service_buttons) == ["A", "B", "C"]
    assert counter.login.service_buttons["A"].text() == "✔ A 综合受理"
    assert counter.login.service_buttons["C"].text() == "○ C 为老服务"
    counter.login.login_button.click()
    assert counter.login.message.text() == "✘ 请先刷工作证"
    counter.card_tapped(CARDS["1001"])
    assert counter.login.other_card.isVisible() and counter.login.other_card.text() == "换一张卡"
    counter.login.keypad.keys["7"].click()
    counter.login.login_button.click()
    assert counter.login.message.text() == "✘ 请用数字键输入密码（4 至 8 位）"
    counter.login.keypad.keys["back"].click()
    assert counter.login.keypad.value == "" and counter.login.keypad.entry.text() == "密码"
    type_pin(counter)
    for code in ("A", "B"):
        counter.login.service_buttons[code].click()
    counter.login.login_button.click()
    assert counter.login.message.text() == "✘ 请至少选择一项业务"
    counter.login.service_buttons["C"].click()
    counter.login.login_button.click()
    qtbot.waitUntil(lambda: counter.current_page == "console", timeout=WAIT_MS)
    assert counter.counter.services == ("C",) and counter.counter.staff_id == "1001"
    press(counter, "logout")
    qtbot.waitUntil(lambda: counter.current_page == "login", timeout=WAIT_MS)
    assert counter.login.message.text() == "✔ 已退出登录"


def test_refused_logins_are_said_in_words(counter, hall_store, qtbot):
    qtbot.waitUntil(lambda: counter.online is True and counter._services_loaded, timeout=WAIT_MS)
    counter.card_tapped("DEADBEEF")  # a card nobody enrolled
    type_pin(counter)
    counter.login.login_button.click()
    qtbot.waitUntil(lambda: "此卡不是本大厅登记的工作证" in counter.login.message.text(), timeout=WAIT_MS)
    assert counter.card_uid is None and counter.login.keypad.value == ""  # tap again
    assert counter.login.card_state.text() == "请把工作证放在读卡器上，然后输入密码"
    counter.card_tapped(CARDS["1002"])
    for attempt in range(1, 6):
        type_pin(counter, "1357")
        counter.login.login_button.click()
        if attempt < 5:
            qtbot.waitUntil(lambda a=attempt: counter.login.message.text() == f"✘ 密码错误，还可再试 {5 - a} 次",
                            timeout=WAIT_MS)
            assert counter.card_uid == CARDS["1002"] and counter.login.keypad.value == ""  # the card stays
    qtbot.waitUntil(lambda: counter.login.message.text() == "✘ 密码连续错误 5 次，工作证已锁定 5 分钟", timeout=WAIT_MS)
    assert counter.card_uid is None
    counter.card_tapped(CARDS["1002"])
    type_pin(counter)  # the right PIN, but the card is locked
    counter.login.login_button.click()
    qtbot.waitUntil(lambda: "工作证已锁定，请 5 分钟后再试" in counter.login.message.text(), timeout=WAIT_MS)
    counter.toggle_language()
    assert counter.login.message.text() == "✘ too many wrong PINs: this card is locked, try again in 5 min"
    assert counter.current_page == "login"
    locked = [e.payload for e in hall_store.pending_events(1000) if e.type == "staff.locked"]
    assert [p["staff_id"] for p in locked] == ["1002"]


def test_another_login_at_the_window_ends_this_session_in_words(counter, hall_service, qtbot):
    log_in(qtbot, counter)
    with HallClient(hall_service.url, SECRET) as other:  # a second console at the same window
        other.login(3, CARDS["1002"], PIN, ["A"])
    qtbot.waitUntil(lambda: counter.current_page == "login", timeout=WAIT_MS)  # the next poll learns it
    assert counter.login.message.text() == "✘ 本窗口已有其他工作人员登录，请重新刷工作证"
    assert counter.counter is None and not counter.banner.isVisible()


def test_a_counter_without_a_card_reader_says_nobody_can_log_in(qtbot, examples_dir, hall_service, screens_dir):
    config = role_config(examples_dir, "counter", hall_service.url)
    config = config.model_copy(update={"devices": config.devices.model_copy(update={"ccard": None})})
    window = make_counter(qtbot, examples_dir, hall_service.url, {"up": True}, config=config, read_cards=True)
    try:
        qtbot.waitUntil(lambda: window.online is True and window._services_loaded, timeout=WAIT_MS)
        assert window.cards is None and not window.has_reader
        qtbot.waitUntil(lambda: all(b.isVisible() for b in window.login.service_buttons.values()))  # laid out
        assert window.login.card_state.text().startswith("本窗口没有配置工作证读卡器，无法登录")
        assert window.login.card_state.property("tone") == "warning"
        assert not window.login.login_button.isEnabled() and not window.login.keypad.isEnabled()
        check_screen(window, screens_dir, "counter-login-no-reader-zh", window.login.heading)
        assert_whole(qtbot, window.login.card_state)
        window.toggle_language()
        assert "No staff-card reader is configured here" in window.login.card_state.text()
        assert_whole(qtbot, window.login.card_state)
        check_screen(window, screens_dir, "counter-login-no-reader-en", window.login.heading)
    finally:
        window.close()
        settle()


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
        window.card_tapped(CARDS["1001"])
        type_pin(window)
        window.login.login_button.click()
        assert window.login.message.text() == "✘ 大厅叫号服务无法连接：「登录」未执行，正在自动重试…"
        assert window.current_page == "login"
    finally:
        window.close()
        settle()


def test_a_counter_with_the_wrong_secret_says_it_is_refused(qtbot, examples_dir, hall_service):
    config = role_config(examples_dir, "counter", hall_service.url)
    window = CounterWindow(config, HallClient(hall_service.url, "not-this-halls-secret-0000"), speaker=None,
                           checker=lambda _c: statuses(True, ("ccard",)), poll_ms=300, read_cards=False)
    qtbot.addWidget(window)
    qtbot.addWidget(window.pad)
    try:
        qtbot.waitUntil(lambda: "拒绝了本机" in window.login.message.text(), timeout=WAIT_MS)
        assert window.login.message.text().endswith("请联系管理员")
    finally:
        window.close()
        settle()


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
        pad.toggle_language()  # this resident reads English …
        pad.speaker.wait_idle()
        before = len(pad.speaker.history)
        pad.repeat.click()  # … and hears the question again, with the full time
        pad.speaker.wait_idle()
        assert list(pad.speaker.history)[before] == "Please rate this service"
        qtbot.waitUntil(lambda: pad.current_page == "idle", timeout=WAIT_MS)
        assert message(window) == "✔ A001 号居民未评价"
        assert pad.language == "zh"  # … and the next resident finds the pad in Chinese again
        pad.speaker.wait_idle()
        assert "秒后自动返回" in " ".join(pad.speaker.history)
    finally:
        window.close()
        settle()


def assert_whole(qtbot, lbl):
    """A word-wrapped label gets the height its whole text needs at its width (no line cut off)."""
    qtbot.waitUntil(lambda: lbl.height() >= lbl.heightForWidth(lbl.width()), timeout=2000)


def check_screen(widget, screens_dir, name, main_label=None):
    """Save the screen and assert DESIGN §8's numbers and that every label and button is whole."""
    problems = check_and_save(widget, screens_dir / f"{name}.png", main_label, screen=(1280, 800))
    assert not problems, f"{name}: " + "\n".join(problems)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_counter_and_rating_screen_meets_the_numbers(counter, hall_service, hall_queue, qtbot, screens_dir,
                                                           language):
    if language == "en":
        counter.toggle_language()
        counter.pad.toggle_language()
    qtbot.waitUntil(lambda: counter.online is True and counter._services_loaded, timeout=WAIT_MS)
    counter.card_tapped(CARDS["1001"])
    counter.login.keypad.keys["1"].click()
    check_screen(counter, screens_dir, f"counter-login-{language}", counter.login.heading)
    counter.forget_card()
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
    config = config.model_copy(update={"devices": config.devices.model_copy(update={"ccard": None})})
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
        settle()


# -- the staff card through the real PC/SC stack ------------------------------------------------------------
@pytest.fixture
def staff_card_slot(pcscd) -> Iterator[PcscCardSlot]:
    """The simulator's contactless reader slot (pyscard → pcscd → vpcd), as the control API drives it."""
    slot = PcscCardSlot("ccard", pcscd, CCARD_READER, make_ccard, CCARD_FAULTS)
    try:
        yield slot
    finally:
        slot.remove(wait=True)


def reader_config(examples_dir, url, pcscd, reader=None):
    config = role_config(examples_dir, "counter", url)
    ccard = PcscReader(reader=reader or pcscd.pyscard_name(CCARD_READER))
    return config.model_copy(update={"devices": config.devices.model_copy(update={"ccard": ccard})})


def test_a_clerk_logs_in_by_tapping_the_staff_card_on_the_reader(qtbot, examples_dir, hall_service, staff, pcscd,
                                                                 staff_card_slot):
    clerk, stranger = personas.load()[2], personas.load()[3]
    staff.set("2001", "李*华", clerk.ccard_uid, PIN)  # the card's UID as enrolled by `linfen staff set`
    window = make_counter(qtbot, examples_dir, hall_service.url, {"up": True},
                          config=reader_config(examples_dir, hall_service.url, pcscd), read_cards=True)
    try:
        qtbot.waitUntil(lambda: window.online is True and window._services_loaded, timeout=WAIT_MS)
        staff_card_slot.present(stranger)
        qtbot.waitUntil(lambda: window.card_uid == stranger.ccard_uid.upper(), timeout=WAIT_MS)
        type_pin(window)
        window.login.login_button.click()
        qtbot.waitUntil(lambda: "此卡不是本大厅登记的工作证" in window.login.message.text(), timeout=WAIT_MS)
        staff_card_slot.remove(wait=True)
        staff_card_slot.present(clerk)
        qtbot.waitUntil(lambda: window.card_uid == clerk.ccard_uid.upper(), timeout=WAIT_MS)
        assert window.login.card_state.text() == "已读到工作证，请输入密码后按「登录」"
        type_pin(window)
        window.login.login_button.click()
        qtbot.waitUntil(lambda: window.current_page == "console", timeout=WAIT_MS)
        assert window.counter.staff_id == "2001" and "李*华（工号 2001）" in window.console.info.text()
    finally:
        window.close()
        settle()


def test_a_missing_staff_card_reader_is_said_on_the_login_page(qtbot, examples_dir, hall_service, pcscd):
    config = reader_config(examples_dir, hall_service.url, pcscd, reader="No Such Staff Reader")
    window = make_counter(qtbot, examples_dir, hall_service.url, {"up": True}, config=config, read_cards=True)
    try:
        qtbot.waitUntil(lambda: "工作证读卡器无法使用" in window.login.message.text(), timeout=WAIT_MS)
        assert window.login.message.text().endswith("请联系管理员")
    finally:
        window.close()
        settle()


# -- staff alerts -------------------------------------------------------------------------------------------
def banner_text(window) -> str:
    return window.banner.text.text() if window.banner.isVisibleTo(window) else ""


def test_an_alert_reaches_every_counter_and_one_acknowledgement_clears_it(qtbot, examples_dir, hall_service, alerts,
                                                                          hall_store, hall_queue, screens_dir):
    first = make_counter(qtbot, examples_dir, hall_service.url, {"up": True}, window_no=3)
    second = make_counter(qtbot, examples_dir, hall_service.url, {"up": True}, window_no=4)
    try:
        log_in(qtbot, first, "1001")
        log_in(qtbot, second, "1002")
        assert not first.banner.isVisible() and first.alert_feed is not None
        fever = alerts.raise_alert("fever", "hall-01", resident="张*明", detail={"celsius": 38.1})
        words = "⚠ 提醒 1/1：体温异常 38.1°C，未发号，请工作人员处置。位置：取号机 hall-01。居民：张*明"
        for window in (first, second):
            qtbot.waitUntil(lambda w=window: banner_text(w) == words, timeout=WAIT_MS)
            assert window.banner.ack.text() == "知道了"
        paper = alerts.raise_alert("printer", "hall-01", detail={"reason": "paper out", "ticket": "A012"})
        alerts.raise_alert("code_red", "hall-01", resident="李*")
        qtbot.waitUntil(lambda: banner_text(first).startswith("⚠ 提醒 1/3：体温异常"), timeout=WAIT_MS)
        take(hall_queue, "A", 1, priority_reasons=("veteran",), staff_check=True)
        press(first, "next")  # the fullest console, with the banner on top
        qtbot.waitUntil(lambda: first.ticket is not None, timeout=WAIT_MS)
        assert_whole(qtbot, first.banner.text)
        check_screen(first, screens_dir, "counter-console-alerts-zh", first.console.number)
        first.toggle_language()
        assert banner_text(first) == ("⚠ Alert 1/3: Fever 38.1 °C: no ticket issued, please attend. Where: ticket "
                                      "machine hall-01. Resident: 张*明")
        qtbot.waitUntil(lambda: first.banner.ack.width() >= first.banner.ack.sizeHint().width())  # laid out again
        assert_whole(qtbot, first.banner.text)
        check_screen(first, screens_dir, "counter-console-alerts-en", first.console.number)
        first.toggle_language()

        first.banner.ack.click()  # 知道了, at window 3
        qtbot.waitUntil(lambda: banner_text(second).startswith("⚠ 提醒 1/2：打印机问题（缺纸），A012 号只显示在屏幕上"),
                        timeout=WAIT_MS)
        qtbot.waitUntil(lambda: banner_text(first).startswith("⚠ 提醒 1/2：打印机问题"), timeout=WAIT_MS)
        qtbot.waitUntil(lambda: message(first).startswith("✔ 已处理提醒：体温异常 38.1°C"), timeout=WAIT_MS)
        done = alerts.alert(fever)
        assert (done.ack_staff, done.ack_window) == ("1001", 3) and done.ack_at
        assert [a.id for a in alerts.open_alerts()][0] == paper

        events = [e for e in hall_store.pending_events(1000) if e.type.startswith("alert.")]
        assert [e.type for e in events] == ["alert.raised"] * 3 + ["alert.acknowledged"]
        assert events[-1].payload == {"alert_id": fever, "kind": "fever", "source": "hall-01", "staff_id": "1001",
                                      "window": 3}
        sent = " ".join(str(e.payload) for e in events)
        assert "张" not in sent and "李" not in sent and "resident" not in sent  # no name leaves the hall
    finally:
        for window in (first, second):
            window.close()
        settle()


def test_an_alert_from_before_login_is_shown_at_login_and_gone_at_logout(counter, alerts, qtbot):
    alerts.raise_alert("device_down", "thermometer", detail={"device": "thermometer", "reason": "not answering"})
    qtbot.waitUntil(lambda: counter.online is True, timeout=WAIT_MS)
    assert not counter.banner.isVisible()  # alerts are for logged-in staff only
    log_in(qtbot, counter)
    qtbot.waitUntil(lambda: banner_text(counter) == "⚠ 提醒 1/1：测温仪故障（无应答），请检修。位置：测温仪",
                    timeout=WAIT_MS)
    press(counter, "logout")
    qtbot.waitUntil(lambda: counter.current_page == "login", timeout=WAIT_MS)
    assert not counter.banner.isVisible() and counter.alerts == []
