"""Every label and button whole, on its own and inside the window: the checker itself, then the counter's screens.

The first tests build small windows that ARE clipped, overlapping or cut off and show that
:func:`tests.ui_checks.label_problems` names them (and passes a sound one).  The harness then
walks the counter console (logged out, PIN typed, refused, serving, alerts, transfer, call a
number, service down) and the rating pad (waiting, rate, warning, sending, thanks, not saved)
in Chinese and English at 1024×768, 1280×800 and 1920×1080 with the example configs' service
names, saves each screen to ``out/screens/<role>/<state>-<lang>-<w>x<h>.png`` and asserts that
neither :func:`~tests.ui_checks.label_problems` nor :func:`~tests.ui_checks.elderly_problems`
finds anything.  One window per role and language is built and resized through the sizes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from PySide6.QtWidgets import QScrollArea

from kiosk.config import load_config
from kiosk.hall.errors import HallError
from kiosk.hall.tickets import Ticket
from tests import test_ui_counter as counter_tests
from tests.hall_ui_support import take
from tests.test_ui_counter import CARDS, WAIT_MS, log_in, make_counter, press, settle, type_pin
from tests.ui_checks import SCREENS_DIR, check_and_save, check_sizes, label_problems
from ui.qt import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    Qt,
    QVBoxLayout,
    QWidget,
)
from ui.rating import RatingPad

pytest_plugins = ("tests.hall_ui_fixtures",)  # hall_queue
pytestmark = [pytest.mark.ui, pytest.mark.timeout(120)]

LONG_EN = "Social and medical insurance"

# the counter tests' hall: its store with staff and alert tables, clerks 1001 and 1002, the alert board
hall_store, staff, alerts = counter_tests.hall_store, counter_tests.staff, counter_tests.alerts
hall_service = counter_tests.hall_service


# -- the checker on windows made to fail ---------------------------------------------------------------------
def shown(qtbot, widget: QWidget, size: tuple[int, int] = (400, 300)) -> QWidget:
    """``widget`` as a shown top-level window of ``size``, laid out."""
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def placed(parent: QWidget, widget: QLabel | QPushButton, x: int, y: int, w: int, h: int) -> QLabel | QPushButton:
    """``widget`` put by hand at (x, y) with size w×h inside ``parent`` (no layout to rescue it)."""
    widget.setParent(parent)
    widget.setGeometry(x, y, w, h)
    return widget


def test_a_sound_window_passes(qtbot):
    window = QWidget()
    column = QVBoxLayout(window)
    caption = QLabel("请选择业务。Please choose the service you need today.", objectName="caption")
    caption.setWordWrap(True)
    column.addWidget(caption)
    row = QHBoxLayout()
    for code in "ABC":
        row.addWidget(QPushButton(f"{code} 综合受理", objectName=f"service_{code}"))
    column.addLayout(row)
    column.addWidget(QLabel(LONG_EN, objectName="name"))
    shown(qtbot, window, (640, 400))
    assert label_problems(window) == []


def test_a_squeezed_wrapped_label_is_clipped(qtbot):
    window = QWidget()
    lbl = placed(window, QLabel("请带好身份证 " * 12, objectName="caption"), 10, 10, 200, 30)
    lbl.setWordWrap(True)
    shown(qtbot, window)
    [problem] = label_problems(window)
    assert problem.startswith("caption '请带好身份证 请带好身份证") and "200x30 px" in problem
    assert f"needs {lbl.heightForWidth(200)} px high" in problem and problem.endswith("(clipped)")


def test_a_wrapped_label_centred_in_a_layout_that_keeps_its_width_and_loses_height_is_clipped(qtbot):
    """The hall's ticket caption: AlignHCenter in a column keeps the preferred width, the height is cut."""
    window = QWidget()
    column = QVBoxLayout(window)
    for i in range(6):
        column.addWidget(QPushButton(f"button {i}", objectName=f"b{i}"))
    caption = QLabel("请保管好您的号码单，留意大厅屏幕和语音叫号，过号请到服务台重新取号。" * 3, objectName="caption")
    caption.setWordWrap(True)
    column.addWidget(caption, 0, Qt.AlignmentFlag.AlignHCenter)
    shown(qtbot, window, (600, 400))
    window.resize(600, window.minimumSizeHint().height())
    qtbot.wait(10)
    assert caption.height() < caption.heightForWidth(caption.width())
    assert any(p.startswith("caption '请保管好") and "wrapped text needs" in p for p in label_problems(window))


def test_a_single_line_label_narrower_than_its_text_is_clipped(qtbot):
    window = QWidget()
    placed(window, QLabel(LONG_EN, objectName="service_name"), 10, 10, 90, 40)
    shown(qtbot, window)
    [problem] = label_problems(window)
    assert problem.startswith(f"service_name {LONG_EN!r}: 90x40 px, its text needs")


def test_a_button_narrower_than_its_text_is_clipped(qtbot):
    window = QWidget()
    placed(window, QPushButton(LONG_EN, objectName="service_B"), 10, 10, 120, 60)
    shown(qtbot, window)
    [problem] = label_problems(window)
    assert problem.startswith(f"service_B {LONG_EN!r}: 120x60 px") and problem.endswith("(clipped)")


def test_a_label_partly_outside_its_parent_is_cut(qtbot):
    window = QWidget()
    frame = QWidget(window)
    frame.setGeometry(10, 10, 150, 100)
    placed(frame, QLabel("取号", objectName="inner"), 100, 60, 80, 40)  # 30 px right, none below
    shown(qtbot, window)
    [problem] = label_problems(window)
    assert problem == "inner '取号': cut by its parent, 50x40 of 80x40 px shown (clipped)"


def test_a_label_scrolled_partly_out_of_its_scroll_area_is_cut(qtbot):
    window = QWidget()
    area = QScrollArea(window)
    area.setGeometry(10, 10, 250, 120)
    content = QWidget()
    content.resize(200, 400)
    placed(content, QLabel("A 综合受理", objectName="in_view"), 0, 0, 180, 40)
    placed(content, QLabel("B 社保医保", objectName="half_out"), 0, 90, 180, 40)
    area.setWidget(content)
    shown(qtbot, window)
    [problem] = label_problems(window)
    assert problem.startswith("half_out 'B 社保医保': cut by its parent, 180x") and problem.endswith(
        " of 180x40 px shown (clipped)")


def test_a_label_outside_the_window_is_named(qtbot):
    window = QWidget()
    placed(window, QLabel("1/3", objectName="page_count"), 380, 10, 60, 40)
    shown(qtbot, window, (400, 300))
    assert label_problems(window) == ["page_count '1/3': at 380,10 size 60x40 px, outside the 400x300 window"]


def test_overlapping_text_widgets_are_named_but_not_pages_of_a_stack_or_a_label_in_its_button(qtbot):
    window = QWidget()
    placed(window, QLabel("叫号", objectName="left"), 10, 10, 100, 40)
    placed(window, QPushButton("Next", objectName="right"), 90, 20, 120, 60)
    stack = QStackedWidget(window)
    stack.setGeometry(10, 150, 300, 100)
    for name in ("page_one", "page_two"):  # same place, different pages: only the current one is on screen
        page = QWidget()
        placed(page, QLabel(name, objectName=name), 0, 0, 200, 40)
        stack.addWidget(page)
    button = placed(window, QPushButton("", objectName="tile"), 250, 10, 140, 100)
    placed(button, QLabel("A", objectName="tile_letter"), 10, 10, 40, 40)  # a label drawn on its own button
    shown(qtbot, window, (400, 300))
    assert label_problems(window) == ["left '叫号' and right 'Next' overlap by 20x30 px at 90,20"]


def test_check_and_save_writes_the_png_and_adds_a_window_that_cannot_shrink(qtbot, tmp_path):
    window = QWidget()
    column = QVBoxLayout(window)
    column.addWidget(QLabel(LONG_EN, objectName="name"))
    window.setMinimumSize(500, 320)
    shown(qtbot, window, (400, 300))
    path = tmp_path / "role" / "state-en-400x300.png"
    problems = check_and_save(window, path, screen=(400, 300))
    assert path.stat().st_size > 0
    assert problems[0] == "window is 500x320 px, it cannot shrink to the 400x300 screen"
    assert any(p.startswith("name: ") and p.endswith(" pt") for p in problems[1:])  # the default font is small


# -- the counter console and the rating pad, every state, both languages, three sizes -------------------------
def sweep(window: QWidget, role: str, state: str, language: str, main_label: QLabel | None,
          problems: list[str]) -> None:
    """Resize ``window`` through every size; save each screen and collect its problems with where they are."""
    problems += check_sizes(window, SCREENS_DIR / role, f"{state}-{language}", main_label)


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_counter_screen_is_whole_at_every_size(qtbot, examples_dir, hall_service, hall_queue, alerts,
                                                     language):
    window = make_counter(qtbot, examples_dir, hall_service.url, {"up": True})
    window.pad.hide()
    problems: list[str] = []
    try:
        if language == "en":
            window.toggle_language()
        qtbot.waitUntil(lambda: window.online is True and window._services_loaded, timeout=WAIT_MS)
        sweep(window, "counter", "login", language, window.login.heading, problems)
        window.card_tapped(CARDS["1002"])
        type_pin(window, "1357")
        sweep(window, "counter", "login-pin", language, window.login.heading, problems)
        window.login.login_button.click()
        qtbot.waitUntil(lambda: window.login.message.text().startswith("✘"), timeout=WAIT_MS)
        sweep(window, "counter", "login-wrong-pin", language, window.login.heading, problems)
        window.forget_card()
        window.has_reader = False  # a counter without a staff-card reader: its longest login line
        window.render()
        sweep(window, "counter", "login-no-reader", language, window.login.heading, problems)
        window.has_reader = True

        log_in(qtbot, window)
        sweep(window, "counter", "console-idle", language, window.console.number, problems)
        take(hall_queue, "B", 1, priority_reasons=("veteran", "age80"), staff_check=True)
        take(hall_queue, "C", 2)
        press(window, "next")
        qtbot.waitUntil(lambda: window.ticket is not None, timeout=WAIT_MS)
        press(window, "start")
        qtbot.waitUntil(lambda: window.ticket.state == "serving", timeout=WAIT_MS)
        sweep(window, "counter", "console-serving", language, window.console.number, problems)

        alerts.raise_alert("fever", "hall-01", resident="张*明", detail={"celsius": 38.1})
        alerts.raise_alert("printer", "hall-01", detail={"reason": "paper out", "ticket": "A012"})
        qtbot.waitUntil(lambda: window.banner.isVisibleTo(window), timeout=WAIT_MS)
        sweep(window, "counter", "console-alerts", language, window.console.number, problems)

        press(window, "transfer")
        sweep(window, "counter", "transfer", language, window.transfer_page.heading, problems)
        window.transfer_page.cancel.click()
        press(window, "call_number")
        for key in ("A", "1", "2"):
            (window.call_page.keypad.letter_keys.get(key) or window.call_page.keypad.keys[key]).click()
        sweep(window, "counter", "call-number", language, window.call_page.heading, problems)
        window.call_page.cancel.click()

        window.hall_up["up"] = False
        hall_service.stop()
        window.refresh_status()
        press(window, "next")
        qtbot.waitUntil(lambda: window.online is False, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: window.statuses is not None and not window.statuses[-2].up, timeout=WAIT_MS)
        sweep(window, "counter", "console-down", language, window.console.number, problems)
    finally:
        window.close()
        settle()
    assert not problems, "\n".join(problems)


def a_ticket(number: str = "B012") -> Ticket:
    """A finished ticket for the rating pad to ask about."""
    return Ticket(id=7, day="2024-05-01", number=number, service="B", origin_service="B", masked_name="张*明",
                  priority=False, priority_reasons=(), staff_check=False, state="done",
                  issued_at="2024-05-01T08:00:00Z", window=3, staff_id="1001", calls=1,
                  called_at="2024-05-01T08:10:00Z", serving_at="2024-05-01T08:11:00Z",
                  closed_at="2024-05-01T08:20:00Z", transferred_from=None)


class Rater:
    """The pad's ``rate`` callable: holds each rating until released, then stores it or refuses it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.refuse = False
        self.rated: list[tuple[int, str]] = []

    def __call__(self, ticket_id: int, level: str) -> None:
        self.release.wait(10)
        if self.refuse:
            raise HallError("unavailable", "the queue service cannot be reached", "无法连接排队服务，请检查网络")
        self.rated.append((ticket_id, level))


@pytest.fixture
def pad(qtbot, examples_dir) -> Iterator[tuple[RatingPad, Rater]]:
    """A rating pad of counter 3 whose ratings wait for the test."""
    rater = Rater()
    pad = RatingPad(load_config(examples_dir / "counter.toml"), rate=rater, timeout_s=600.0, warn_before_s=10.0,
                    thanks_s=600.0)
    qtbot.addWidget(pad)
    pad.show()
    qtbot.waitExposed(pad)
    yield pad, rater
    rater.release.set()
    pad.close()
    settle()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_rating_pad_screen_is_whole_at_every_size(qtbot, pad, language):
    pad, rater = pad
    problems: list[str] = []
    if language == "en":
        pad.toggle_language()
    sweep(pad, "rating", "waiting", language, pad.prompt, problems)
    pad.ask(a_ticket())
    sweep(pad, "rating", "rate", language, pad.ask_heading, problems)
    pad.warn_before_s = pad.timeout_s  # the last seconds: the warning and "more time" show
    pad.extend()
    assert pad.more_time.isVisible()
    sweep(pad, "rating", "rate-warning", language, pad.ask_heading, problems)
    pad.warn_before_s = 10.0
    pad.extend()
    pad.level_buttons["very_satisfied"].click()
    sweep(pad, "rating", "sending", language, pad.ask_heading, problems)
    rater.release.set()
    qtbot.waitUntil(lambda: pad.current_page == "thanks", timeout=WAIT_MS)
    sweep(pad, "rating", "thanks", language, pad.thanks_heading, problems)
    rater.release.clear()
    rater.refuse = True
    pad.ask(a_ticket("B013"))
    pad.level_buttons["dissatisfied"].click()
    rater.release.set()
    qtbot.waitUntil(lambda: pad.current_page == "thanks" and pad.outcome.error_zh != "", timeout=WAIT_MS)
    sweep(pad, "rating", "not-saved", language, pad.thanks_heading, problems)
    assert rater.rated == [(7, "very_satisfied")]
    assert not problems, "\n".join(problems)
