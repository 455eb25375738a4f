"""Small widget helpers the screens share: styled labels, framed panels, live properties, labelled buttons."""

from __future__ import annotations

from typing import Any

from ui.qt import QFrame, QGridLayout, QLabel, QPushButton, QSize, Qt, QVBoxLayout


def label(name: str, wrap: bool = True, align: Qt.AlignmentFlag = Qt.AlignmentFlag.AlignCenter) -> QLabel:
    """A label styled by its object ``name`` (see :mod:`ui.theme`), centred and wrapping by default."""
    lbl = QLabel(objectName=name)
    lbl.setAlignment(align)
    lbl.setWordWrap(wrap)
    return lbl


def panel() -> tuple[QFrame, QVBoxLayout]:
    """A white framed panel (``QFrame#panel``) and its layout."""
    frame = QFrame(objectName="panel")
    layout = QVBoxLayout(frame)
    layout.setContentsMargins(16, 10, 16, 10)
    layout.setSpacing(6)
    return frame, layout


def set_property(widget: QLabel | QPushButton, name: str, value: str) -> None:
    """Set a property the stylesheet selects on (``[tone="warning"]``) and restyle the widget when it changed."""
    if widget.property(name) != value:
        widget.setProperty(name, value)
        widget.style().unpolish(widget)
        widget.style().polish(widget)


def grid_row(grid: QGridLayout, rows: dict[str, tuple[QLabel, QLabel]], key: str,
             name_style: str, value_style: str) -> tuple[QLabel, QLabel]:
    """The (name, value) labels of row ``key`` in a two-column grid, added as a new row on first use."""
    if key not in rows:
        name = label(name_style, align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        value = label(value_style, wrap=False, align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row = len(rows)
        grid.addWidget(name, row, 0)
        grid.addWidget(value, row, 1)
        rows[key] = (name, value)
    return rows[key]


def quiet(widget: QLabel) -> QLabel:
    """A label inside a button that lets taps through to the button."""
    widget.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
    return widget


class LabelledButton(QPushButton):
    """A big button whose words are labels in its layout: its size follows them, wrapped lines included.

    The canteen's set meals and dishes and the cinema's screening tiles are these: a grid does not ask a
    button its height for a width, so the button asks for it itself when its width changes.
    """

    def __init__(self, name: str) -> None:
        """A button styled by its object ``name``; give it a layout with the labels."""
        super().__init__(objectName=name)
        policy = self.sizePolicy()
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)

    def sizeHint(self) -> QSize:
        """What its words (and picture) need (a button's own hint knows only its text)."""
        hint = self.layout().sizeHint()
        return QSize(hint.width(), max(hint.height(), self.heightForWidth(hint.width())))

    def minimumSizeHint(self) -> QSize:
        """The least its wrapped words need."""
        return self.layout().minimumSize()

    def hasHeightForWidth(self) -> bool:
        """Wrapped words: the height depends on the width."""
        return True

    def heightForWidth(self, width: int) -> int:
        """The height its labels need at ``width``."""
        return self.layout().totalHeightForWidth(width)

    def resizeEvent(self, event: object) -> None:
        """At its new width, ask for the height its wrapped words need, and lay the labels out now."""
        super().resizeEvent(event)
        need = max(self.heightForWidth(self.width()), 64)
        if need != self.minimumHeight():
            self.setMinimumHeight(need)
        self.layout().invalidate()
        self.layout().activate()


def clear_layout(layout: Any) -> None:
    """Remove and delete every widget of ``layout`` (rows rebuilt from new data)."""
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget()
        if widget is not None:
            widget.setParent(None)
            widget.deleteLater()
        elif item.layout() is not None:
            clear_layout(item.layout())
