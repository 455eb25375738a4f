"""The calling display against a real hall service on loopback (pytest-qt, offscreen).

A call made at a counter reaches the screen through the SSE push channel and is spoken twice;
the last calls and waiting counts follow; the display says in words when the service is down,
reconnects by itself and catches up on the calls it missed; the info panel rotates when idle;
every screen meets DESIGN §8 in zh and en and is saved as PNG.
"""

from __future__ import annotations

import time

import pytest

from kiosk.hall.client import HallClient
from kiosk.voice import Speaker, call_text
from tests.hall_ui_support import SECRET, role_config, statuses, take
from tests.ui_checks import elderly_problems
from ui.display import DisplayWindow, open_display
from ui.qt import QThreadPool

pytest_plugins = ("tests.hall_ui_fixtures",)  # hall_store, hall_queue, hall_service, unused_port
pytestmark = [pytest.mark.ui, pytest.mark.timeout(90)]

CALL_WAIT_MS = 5000  # bound of the wait for a pushed call (the requirement is 0.5 s; bench/ measures it)
WAIT_MS = 10000  # bound of the waits for the link to drop and come back


def make_display(qtbot, examples_dir, url, hall_up=True, **options):
    config = role_config(examples_dir, "display", url)
    speaker = Speaker(True, 0, player=None)  # volume 0: texts are kept, nothing is rendered
    window = DisplayWindow(config, HallClient(url, SECRET), speaker=speaker,
                           checker=lambda _c: statuses(hall_up), **options)
    window.owned.append(speaker.close)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def display(qtbot, examples_dir, hall_service):
    window = make_display(qtbot, examples_dir, hall_service.url)
    yield window
    window.close()
    QThreadPool.globalInstance().waitForDone(5000)


def counter_calls(queue, window=3, services=("A", "B", "C")):
    queue.login(window, f"s{window:03d}", list(services))
    return queue.call_next(window)


def test_a_call_reaches_the_screen_and_is_spoken_twice(display, hall_queue, qtbot):
    qtbot.waitUntil(lambda: display.connected, timeout=WAIT_MS)
    take(hall_queue, "A", 1)
    take(hall_queue, "B", 2)
    qtbot.waitUntil(lambda: display.waiting_labels.get("B") is not None
                    and display.waiting_labels["B"][1].text() == "1 人", timeout=CALL_WAIT_MS)
    assert display.waiting_labels["B"][0].text() == "社保医保"
    began = time.monotonic()
    call = counter_calls(hall_queue)
    qtbot.waitUntil(lambda: display.call_big.text() == "请 A001 号\n到 3 号窗口", timeout=CALL_WAIT_MS)
    print(f"call on screen {1000 * (time.monotonic() - began):.0f} ms after the clerk's press")  # bench/ asserts none
    assert display.call_service.text() == "综合受理"
    assert display.recent_labels[0].text() == "A001 → 3 号窗口"
    qtbot.waitUntil(lambda: display.waiting_labels["A"][1].text() == "0 人", timeout=CALL_WAIT_MS)
    display.speaker.wait_idle()
    assert list(display.speaker.history).count(call_text(call.number, 3, "zh")) == 2
    assert call_text(call.number, 3, "zh") == "请 A零零一 号，到 3 号窗口"

    hall_queue.recall(3)
    qtbot.waitUntil(lambda: display.call_service.text() == "综合受理（再次呼叫）", timeout=CALL_WAIT_MS)
    display.speaker.wait_idle()
    assert list(display.speaker.history).count(call_text(call.number, 3, "zh")) == 4
    other = counter_calls(hall_queue, window=5)
    qtbot.waitUntil(lambda: display.call_big.text() == f"请 {other.number} 号\n到 5 号窗口", timeout=CALL_WAIT_MS)
    assert display.others.text() == "A001 → 3 号窗口" and display.others_heading.text() == "其他窗口"
    assert [lbl.text() for lbl in display.recent_labels[:3]] == ["B001 → 5 号窗口", "A001 → 3 号窗口（重呼）",
                                                                   "A001 → 3 号窗口"]


def test_the_last_five_calls_are_listed_newest_first(display, hall_queue, qtbot):
    qtbot.waitUntil(lambda: display.connected, timeout=WAIT_MS)
    for n in range(7):
        take(hall_queue, "A", n)
    hall_queue.login(3, "s003", ["A"])
    for _ in range(7):
        hall_queue.call_next(3)
        hall_queue.finish(3)
    qtbot.waitUntil(lambda: display.call_big.text() == "请 A007 号\n到 3 号窗口", timeout=CALL_WAIT_MS)
    assert [lbl.text() for lbl in display.recent_labels] == [f"A00{n} → 3 号窗口" for n in (7, 6, 5, 4, 3)]


def test_service_down_is_said_in_words_then_the_display_reconnects_and_catches_up(display, hall_service,
                                                                                  hall_queue, qtbot):
    qtbot.waitUntil(lambda: display.connected, timeout=WAIT_MS)
    assert not display.banner.isVisible()
    hall_service.stop()
    qtbot.waitUntil(lambda: not display.connected, timeout=WAIT_MS)
    assert display.banner.isVisible() and display.banner.text() == "⚠ 正在连接叫号服务…"
    take(hall_queue, "C", 1)
    call = counter_calls(hall_queue, window=2)  # made while the display cannot hear it
    hall_service.restart()
    qtbot.waitUntil(lambda: display.connected, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: display.call_big.text() == f"请 {call.number} 号\n到 2 号窗口", timeout=WAIT_MS)
    assert not display.banner.isVisible()
    display.speaker.wait_idle()
    assert list(display.speaker.history).count(call_text(call.number, 2, "zh")) == 2


def test_a_display_started_with_the_service_down_says_so(qtbot, examples_dir, unused_port):
    window = make_display(qtbot, examples_dir, f"http://127.0.0.1:{unused_port}", hall_up=False)
    try:
        qtbot.waitUntil(lambda: window.banner.isVisible(), timeout=WAIT_MS)
        assert window.banner.text() == "⚠ 正在连接叫号服务…" and not window.connected
        window.toggle_language()
        assert window.banner.text() == "⚠ Connecting to the calling service…"
    finally:
        window.close()
        QThreadPool.globalInstance().waitForDone(5000)


def test_a_display_with_the_wrong_secret_says_it_is_refused(qtbot, examples_dir, hall_service):
    config = role_config(examples_dir, "display", hall_service.url)
    window = DisplayWindow(config, HallClient(hall_service.url, "not-this-halls-secret-0000"), speaker=None,
                           checker=lambda _c: statuses(True))
    qtbot.addWidget(window)
    try:
        qtbot.waitUntil(lambda: "拒绝" in window.banner.text(), timeout=WAIT_MS)
        assert window.banner.text().startswith("⚠ 叫号服务拒绝了本机：") and window.banner.text().endswith("请联系管理员")
        assert not window.connected
    finally:
        window.close()
        QThreadPool.globalInstance().waitForDone(5000)


def test_the_info_panel_rotates_when_no_call_is_fresh(qtbot, examples_dir, hall_service, hall_queue):
    window = make_display(qtbot, examples_dir, hall_service.url, info=["第一条", ("第二条", "Second")],
                          call_hold_s=0.3, rotate_s=0.3)
    try:
        qtbot.waitUntil(lambda: window.connected, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: window.main_stack.currentWidget() is window.info_view, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: window.info_text.text() == "第二条", timeout=WAIT_MS)
        assert window.info_page.text() == "第 2 / 2 条"
        take(hall_queue, "A", 1)
        counter_calls(hall_queue)
        qtbot.waitUntil(lambda: window.main_stack.currentWidget() is window.call_view, timeout=CALL_WAIT_MS)
        assert window.call_big.text() == "请 A001 号\n到 3 号窗口"
        qtbot.waitUntil(lambda: window.main_stack.currentWidget() is window.info_view, timeout=WAIT_MS)
    finally:
        window.close()
        QThreadPool.globalInstance().waitForDone(5000)


def test_calls_of_other_windows_show_while_fresh(qtbot, examples_dir, hall_service, hall_queue):
    window = make_display(qtbot, examples_dir, hall_service.url, info=[], call_hold_s=2.0)
    try:
        qtbot.waitUntil(lambda: window.connected, timeout=WAIT_MS)
        take(hall_queue, "A", 1)
        take(hall_queue, "A", 2)
        counter_calls(hall_queue, window=3)
        counter_calls(hall_queue, window=5)
        qtbot.waitUntil(lambda: window.others.text() == "A001 → 3 号窗口", timeout=CALL_WAIT_MS)
        assert window.call_big.text() == "请 A002 号\n到 5 号窗口" and window.others.isVisible()
        qtbot.waitUntil(lambda: not window.others.isVisible(), timeout=WAIT_MS)  # a stale call leaves the panel
        assert window.main_stack.currentWidget() is window.call_view  # no info items: the last call stays
    finally:
        window.close()
        QThreadPool.globalInstance().waitForDone(5000)


def check_screen(window, screens_dir, name, main_label):
    assert (window.width(), window.height()) == (1280, 800), f"{name}: the layout does not fit 1280×800"
    shot = window.grab()
    shot.save(str(screens_dir / f"{name}.png"))
    assert elderly_problems(window, shot.toImage(), main_label) == [], name


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_display_screen_meets_the_numbers(qtbot, examples_dir, hall_service, hall_queue, unused_port,
                                                screens_dir, language):
    window = make_display(qtbot, examples_dir, hall_service.url, call_hold_s=3600)
    down = make_display(qtbot, examples_dir, f"http://127.0.0.1:{unused_port}", hall_up=False)
    try:
        for w in (window, down):
            if language == "en":
                w.toggle_language()
        qtbot.waitUntil(lambda: window.connected, timeout=WAIT_MS)
        for n in range(6):
            take(hall_queue, "ABCABC"[n], n)
        for counter in (1, 2, 3, 5):
            counter_calls(hall_queue, window=counter)
        hall_queue.recall(5)
        qtbot.waitUntil(lambda: window.recent_labels[4].text() != "", timeout=CALL_WAIT_MS)
        qtbot.waitUntil(lambda: window.statuses is not None, timeout=WAIT_MS)
        check_screen(window, screens_dir, f"display-calls-{language}", window.call_big)
        window.call_hold_s = 0
        window.render()
        check_screen(window, screens_dir, f"display-info-{language}", window.info_text)
        qtbot.waitUntil(lambda: down.banner.isVisible() and down.statuses is not None, timeout=WAIT_MS)
        check_screen(down, screens_dir, f"display-disconnected-{language}", down.banner)
    finally:
        for w in (window, down):
            w.close()
        QThreadPool.globalInstance().waitForDone(5000)


def test_open_display_builds_the_window_from_its_config(qtbot, examples_dir, hall_service):
    window = open_display(role_config(examples_dir, "display", hall_service.url),
                          speaker=Speaker(True, 0, player=None), info=["欢迎"])
    qtbot.addWidget(window)
    try:
        assert window.client.base_url == hall_service.url and window.info == [("欢迎", "欢迎")]
        qtbot.waitUntil(lambda: window.connected, timeout=WAIT_MS)
        with pytest.raises(Exception, match="display config"):
            open_display(role_config(examples_dir, "counter", hall_service.url))
    finally:
        window.close()
        QThreadPool.globalInstance().waitForDone(5000)
