"""Measure DESIGN §8 on real widgets: font sizes, touch targets, contrast against what is painted."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import Qt as GuiQt

from ui import theme
from ui.qt import QApplication, QLabel, QPushButton, Qt

MAIN_PT, BODY_PT, TARGET_PX, CONTRAST = 30, 18, 60, 4.5
SMALLEST_SCREEN = (1280, 800)  # the smallest kiosk screen a window must fit without growing past it
SCREEN_SIZES = ((1024, 768), (1280, 800), (1920, 1080))  # DESIGN §8: every screen is checked at these sizes
SCREENS_DIR = Path(__file__).resolve().parent.parent / "out" / "screens"  # <role>/<state>-<lang>-<w>x<h>.png


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


# -- clipping and overlap of every text widget ---------------------------------------------------------------
def _name(widget) -> str:
    """A widget's objectName (its class when unnamed) and the first 40 characters of its text."""
    text = widget.text().replace("\n", "⏎")
    return f"{widget.objectName() or type(widget).__name__} {text[:40]!r}"


def _size(width: int, height: int) -> str:
    return f"{width}x{height}"


def window_rect(widget, window) -> QRect:
    """``widget``'s rectangle in ``window``'s coordinates."""
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def visible_rect(widget, window) -> QRect:
    """The part of ``widget`` its ancestors (scroll viewports, frames, the window) leave on screen, in window coordinates."""
    seen = window_rect(widget, window)
    parent = widget.parentWidget()
    while parent is not None:
        seen = seen.intersected(window_rect(parent, window) if parent is not window else window.rect())
        if parent is window:
            break
        parent = parent.parentWidget()
    return seen


def text_widgets(window) -> list:
    """Every visible label and button of ``window`` (not of another top-level window) that shows text."""
    return [w for w in window.findChildren(QLabel) + window.findChildren(QPushButton)
            if w.isVisible() and w.window() is window and w.text().strip()]


def _text_flags(widget) -> int:
    align = int(widget.alignment().value) if isinstance(widget, QLabel) else 0
    wrap = int(Qt.TextFlag.TextWordWrap.value) if isinstance(widget, QLabel) and widget.wordWrap() else 0
    return (align & ~int((Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignHCenter).value)) | wrap


def text_clipping(widget) -> str | None:
    """Why ``widget``'s own text does not fit its size, or None when it does."""
    w, h = widget.width(), widget.height()
    if isinstance(widget, QPushButton):
        need = widget.sizeHint()
        if need.width() > w or need.height() > h:
            return f"{_size(w, h)} px, its text needs {_size(need.width(), need.height())} px"
        return None
    rich = widget.textFormat() == Qt.TextFormat.RichText or (
        widget.textFormat() == Qt.TextFormat.AutoText and GuiQt.mightBeRichText(widget.text()))
    if widget.wordWrap():
        need_h = widget.heightForWidth(w)
        if need_h > h:
            return f"{_size(w, h)} px, its wrapped text needs {need_h} px high at that width"
    else:
        need = widget.sizeHint()
        if need.width() > w or need.height() > h:
            return f"{_size(w, h)} px, its text needs {_size(need.width(), need.height())} px"
    if rich:
        return None
    box = widget.contentsRect()
    drawn = widget.fontMetrics().boundingRect(QRect(0, 0, box.width(), 1_000_000), _text_flags(widget),
                                               widget.text())
    if drawn.width() > box.width() or drawn.height() > box.height():
        return (f"text box {_size(box.width(), box.height())} px, its lines need "
                f"{_size(drawn.width(), drawn.height())} px")
    return None


def _related(a, b) -> bool:
    return a.isAncestorOf(b) or b.isAncestorOf(a)


def label_problems(window) -> list[str]:
    """Every visible label and button of ``window`` whose text is clipped, overlaps another's or leaves the window.

    Clipped: the text needs more than the widget's size (a wrapped label: ``heightForWidth`` at its
    width; otherwise its size hint and each line's font-metrics box against the contents rectangle),
    or an ancestor (a scroll area, a panel) cuts part of the widget off.  Overlap: two text widgets'
    visible rectangles intersect (ancestor and descendant pairs excepted; a stacked widget's other
    pages are not visible).  Empty when every text is whole and on its own.
    """
    problems = []
    widgets = text_widgets(window)
    seen = {}
    whole_window = window.rect()
    for w in widgets:
        name = _name(w)
        why = text_clipping(w)
        if why:
            problems.append(f"{name}: {why} (clipped)")
        full = window_rect(w, window)
        if not whole_window.contains(full):
            problems.append(f"{name}: at {full.x()},{full.y()} size {_size(full.width(), full.height())} px, "
                            f"outside the {_size(whole_window.width(), whole_window.height())} window")
        seen[w] = visible_rect(w, window)
        if seen[w] != full.intersected(whole_window):
            cut = seen[w]
            problems.append(f"{name}: cut by its parent, {_size(cut.width(), cut.height())} of "
                            f"{_size(full.width(), full.height())} px shown (clipped)")
    for i, a in enumerate(widgets):
        for b in widgets[i + 1:]:
            if _related(a, b) or not seen[a].intersects(seen[b]):
                continue
            both = seen[a].intersected(seen[b])
            problems.append(f"{_name(a)} and {_name(b)} overlap by {_size(both.width(), both.height())} px "
                            f"at {both.x()},{both.y()}")
    return problems


def check_and_save(window, path: Path, main_label=None, screen: tuple[int, int] | None = None) -> list[str]:
    """Lay out ``window`` (already resized by the caller), save its PNG at ``path``, return every problem found.

    The problems are :func:`elderly_problems` and :func:`label_problems`; with ``screen`` also a window
    that could not shrink to that size (its layout needs more than the screen has).
    """
    for _ in range(3):  # wrapped labels take a second pass to settle their heights
        QApplication.processEvents()
    shot = window.grab()
    path.parent.mkdir(parents=True, exist_ok=True)
    shot.save(str(path))
    problems = []
    if screen is not None and (window.width(), window.height()) != screen:
        problems.append(f"window is {_size(window.width(), window.height())} px, it cannot shrink to the "
                        f"{_size(*screen)} screen")
    return problems + elderly_problems(window, shot.toImage(), main_label) + label_problems(window)


def check_sizes(window, folder: Path, name: str, main_label=None,
                sizes: tuple[tuple[int, int], ...] = SCREEN_SIZES) -> list[str]:
    """Resize ``window`` through ``sizes``; save ``folder/<name>-<w>x<h>.png`` and return every problem found.

    Each problem starts with the screen's ``<name>-<w>x<h>``, so one assertion can list them all::

        problems += check_sizes(window, SCREENS_DIR / "hall", f"ticket-{language}", window.prompt)
    """
    problems = []
    for width, height in sizes:
        window.resize(width, height)
        where = f"{name}-{width}x{height}"
        problems += [f"{folder.name}/{where}: {p}" for p in
                     check_and_save(window, folder / f"{where}.png", main_label, screen=(width, height))]
    return problems
