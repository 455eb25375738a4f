"""Measure DESIGN §8 on real widgets: font sizes, touch targets, contrast against what is painted."""

from __future__ import annotations

from collections import Counter

from ui import theme
from ui.qt import QLabel, QPushButton

MAIN_PT, BODY_PT, TARGET_PX, CONTRAST = 30, 18, 60, 4.5
SMALLEST_SCREEN = (1280, 800)  # the smallest kiosk screen a window must fit without growing past it


def background_rgb(window_image, window, widget) -> tuple[int, int, int]:
    """The most frequent colour in the widget's area of the whole window's rendering."""
    top_left = widget.mapTo(window, widget.rect().topLeft())
    counts: Counter[int] = Counter()
    step = max(1, min(widget.width(), widget.height()) // 40)
    for x in range(top_left.x(), min(window_image.width(), top_left.x() + widget.width()), step):
        for y in range(top_left.y(), min(window_image.height(), top_left.y() + widget.height()), step):
            counts[window_image.pixel(x, y) & 0xFFFFFF] += 1
    rgb = counts.most_common(1)[0][0]
    return (rgb >> 16) & 0xFF, (rgb >> 8) & 0xFF, rgb & 0xFF


def foreground_rgb(widget) -> tuple[int, int, int]:
    """The widget's text colour after the stylesheet is applied."""
    colour = widget.palette().color(widget.foregroundRole())
    return colour.red(), colour.green(), colour.blue()


def visible_texts(window):
    """Every visible label and button that shows text."""
    return [w for w in window.findChildren(QLabel) + window.findChildren(QPushButton)
            if w.isVisibleTo(window) and w.isVisible() and w.text()]


def elderly_problems(window, image, main_label=None) -> list[str]:
    """Every §8 number a window misses, in words (empty when all are met)."""
    problems = []
    need = window.minimumSizeHint()
    if need.width() > SMALLEST_SCREEN[0] or need.height() > SMALLEST_SCREEN[1]:
        problems.append(f"window needs {need.width()}x{need.height()} px, more than a "
                        f"{SMALLEST_SCREEN[0]}x{SMALLEST_SCREEN[1]} screen")
    if main_label is not None and main_label.font().pointSizeF() < MAIN_PT:
        problems.append(f"main message {main_label.font().pointSizeF()} pt")
    for w in visible_texts(window):
        name = w.objectName() or w.text()
        if w.font().pointSizeF() < BODY_PT:
            problems.append(f"{name}: {w.font().pointSizeF()} pt")
        ratio = theme.contrast_ratio(foreground_rgb(w), background_rgb(image, window, w))
        if ratio < CONTRAST:
            problems.append(f"{name}: contrast {ratio:.2f}")
    for b in window.findChildren(QPushButton):
        if b.isVisible() and (b.width() < TARGET_PX or b.height() < TARGET_PX):
            problems.append(f"button {b.objectName()}: {b.width()}x{b.height()} px")
        if b.isVisible() and b.text() and b.width() < b.sizeHint().width():
            problems.append(f"button {b.objectName()} {b.text()!r}: {b.width()} px wide, its text needs "
                            f"{b.sizeHint().width()} px (clipped)")
    return problems
