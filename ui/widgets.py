"""Small widget helpers the counter, rating pad and display share: styled labels, framed panels, live properties."""

from __future__ import annotations

from ui.qt import QFrame, QLabel, QPushButton, Qt, QVBoxLayout


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
