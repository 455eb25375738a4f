"""Every role's idle screen meets DESIGN §8, measured on the real widgets, and is saved as PNG.

Font sizes are read from the widgets after the stylesheet is applied, touch targets from
their geometry, and contrast between each text's colour and the background actually
painted behind it (the most frequent colour of the widget's own rendering).
"""

from __future__ import annotations

from collections import Counter

import pytest

from common.roles import AVAILABLE_ROLES
from kiosk.config import load_config
from kiosk.status import ComponentStatus
from ui import theme
from ui.qt import QLabel, QPushButton
from ui.shell import MIN_VOLUME, KioskWindow

pytestmark = pytest.mark.ui

MAIN_PT, BODY_PT, TARGET_PX, CONTRAST = 30, 18, 60, 4.5


def _background_rgb(window_image, window, widget) -> tuple[int, int, int]:
    """The most frequent colour in the widget's area of the whole window's rendering."""
    top_left = widget.mapTo(window, widget.rect().topLeft())
    counts: Counter[int] = Counter()
    step = max(1, min(widget.width(), widget.height()) // 40)
    for x in range(top_left.x(), top_left.x() + widget.width(), step):
        for y in range(top_left.y(), top_left.y() + widget.height(), step):
            counts[window_image.pixel(x, y) & 0xFFFFFF] += 1
    rgb = counts.most_common(1)[0][0]
    return (rgb >> 16) & 0xFF, (rgb >> 8) & 0xFF, rgb & 0xFF


def _foreground_rgb(widget) -> tuple[int, int, int]:
    colour = widget.palette().color(widget.foregroundRole())
    return colour.red(), colour.green(), colour.blue()


def _open(qtbot, config, checker=None):
    window = KioskWindow(config, checker=checker)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.statuses is not None, timeout=10_000)
    return window


def _texts(window):
    return [w for w in window.findChildren(QLabel) + window.findChildren(QPushButton) if w.isVisible() and w.text()]


@pytest.mark.parametrize("elder_mode", [True, False], ids=["elder", "standard"])
@pytest.mark.parametrize("role", AVAILABLE_ROLES)  # roles not built yet never show a screen
def test_idle_screen_meets_the_elderly_friendly_numbers(qtbot, examples_dir, screens_dir, role, elder_mode):
    config = load_config(examples_dir / f"{role}.toml")
    config = config.model_copy(update={"screen": config.screen.model_copy(update={"elder_mode": elder_mode})})
    window = _open(qtbot, config)
    mode = "elder" if elder_mode else "standard"
    shot = window.grab()
    assert shot.save(str(screens_dir / f"{role}-{mode}.png"))
    image = shot.toImage()

    assert window.prompt.font().pointSizeF() >= MAIN_PT
    widgets = _texts(window)
    assert len(widgets) >= 8  # title, clock, prompt, subprompt, 3 buttons, volume, status entries
    problems = []
    for w in widgets:
        name = w.objectName() or w.text()
        if w.font().pointSizeF() < BODY_PT:
            problems.append(f"{name}: {w.font().pointSizeF()} pt")
        ratio = theme.contrast_ratio(_foreground_rgb(w), _background_rgb(image, window, w))
        if ratio < CONTRAST:
            problems.append(f"{name}: contrast {ratio:.2f}")
    for b in window.findChildren(QPushButton):
        if b.width() < TARGET_PX or b.height() < TARGET_PX:
            problems.append(f"button {b.objectName()}: {b.width()}x{b.height()} px")
    assert problems == []


def test_status_strip_says_each_state_in_words(qtbot, examples_dir):
    config = load_config(examples_dir / "hall.toml")
    answer = [
        ComponentStatus("idcard", True, "ok"),
        ComponentStatus("printer", False, "not found", "/dev/linfen-printer"),
        ComponentStatus("central", False, "not reachable"),
    ]
    window = _open(qtbot, config, checker=lambda c: answer)
    labels = window.status_labels
    assert labels["idcard"].text() == "✔ 身份证读卡器：正常"
    assert labels["printer"].text() == "✘ 打印机：未连接"
    assert labels["central"].text() == "✘ 网络：离线"
    assert labels["printer"].property("state") == "down"
    window.toggle_language()
    assert labels["printer"].text() == "✘ Printer: not connected"
    assert window.prompt.text() == "Please choose the service you need"  # the hall asks for the service first


def test_real_probe_reports_missing_devices(qtbot, examples_dir):
    # The example config names /dev/linfen-* ports that do not exist on a test machine.
    window = _open(qtbot, load_config(examples_dir / "hall.toml"))
    by_key = {s.key: s for s in window.statuses}
    assert by_key["printer"].up is False and by_key["printer"].reason == "not found"
    assert "未连接" in window.status_labels["printer"].text()


def test_volume_buttons_step_within_bounds(qtbot, examples_dir):
    window = _open(qtbot, load_config(examples_dir / "display.toml"), checker=lambda c: [])
    for _ in range(3):
        window.volume_up.click()
    assert window.volume == 100
    assert window.volume_label.text() == "音量\n100%"
    for _ in range(12):
        window.volume_down.click()
    assert window.volume == MIN_VOLUME > 0  # a floor: one visitor cannot leave the machine silent


def test_a_probe_answer_after_the_window_closed_is_dropped(qtbot, examples_dir):
    """A late status answer once reached a deleted strip label (a libshiboken RuntimeError in the pad tests)."""
    window = _open(qtbot, load_config(examples_dir / "counter.toml"), checker=lambda c: [])
    window.close()
    window._show_status([ComponentStatus("printer", False, "paper_out")])
    assert window.statuses == [] and not window._status_timer.isActive()
    window.refresh_status()  # no new probe starts either
    assert not window._probe_running
