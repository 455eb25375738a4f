"""Small widget helpers the counter, rating pad and display share: styled labels, framed panels, live properties."""

from __future__ import annotations

from ui.qt import QFrame, QGridLayout, QLabel, QPushButton, Qt, QVBoxLayout


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
