"""A drawing of where the card and the code go: a card over the reader, a phone over the scanner, arrows down.

Painted, not a bitmap, so it scales with the screen and needs no asset; the words next to
it ("读卡器和扫码口在屏幕下方") are ordinary labels in the window, so they are checked and
translated like every other text.
"""

from __future__ import annotations

from ui import theme
from ui.qt import QColor, QPainter, QPen, QPointF, QPolygonF, QRectF, QSize, QWidget

CARD_COLOUR = "#1F6F43"
PHONE_COLOUR = "#222222"


class ReaderPicture(QWidget):
    """Two pictograms side by side: card → reader, phone with code → scanner; each with an arrow down."""

    def __init__(self) -> None:
        super().__init__(objectName="reader_picture")
        self.setMinimumSize(QSize(320, 100))

    def sizeHint(self) -> QSize:
        """A wide strip; the picture keeps its proportions inside whatever it is given."""
        return QSize(640, 220)

    def paintEvent(self, event: object) -> None:
        """Draw both pictograms centred in the widget."""
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        h = self.height()
        unit = min(h / 5.0, self.width() / 14.0)
        cx = self.width() / 2.0
        self._card_and_reader(p, cx - 3.5 * unit, unit)
        self._phone_and_scanner(p, cx + 3.5 * unit, unit)
        p.end()

    def _arrow(self, p: QPainter, x: float, top: float, unit: float) -> None:
        colour = QColor(theme.HEADER_BG)
        p.setPen(QPen(colour, unit * 0.25))
        p.drawLine(QPointF(x, top), QPointF(x, top + unit * 0.9))
        p.setBrush(colour)
        p.setPen(QPen(colour, 1))
        p.drawPolygon(QPolygonF([QPointF(x - unit * 0.45, top + unit * 0.8), QPointF(x + unit * 0.45, top + unit * 0.8),
                                 QPointF(x, top + unit * 1.4)]))

    def _device(self, p: QPainter, x: float, unit: float) -> None:
        p.setPen(QPen(QColor(theme.TEXT), unit * 0.08))
        p.setBrush(QColor("#5A5A5A"))
        p.drawRoundedRect(QRectF(x - 2.2 * unit, 3.9 * unit, 4.4 * unit, 0.9 * unit), unit * 0.2, unit * 0.2)

    def _card_and_reader(self, p: QPainter, x: float, unit: float) -> None:
        p.setPen(QPen(QColor(theme.TEXT), unit * 0.08))
        p.setBrush(QColor(CARD_COLOUR))
        p.drawRoundedRect(QRectF(x - 1.6 * unit, 0.3 * unit, 3.2 * unit, 2.0 * unit), unit * 0.25, unit * 0.25)
        p.setBrush(QColor("#E8C547"))  # the chip
        p.drawRect(QRectF(x - 1.2 * unit, 0.9 * unit, 0.7 * unit, 0.55 * unit))
        self._arrow(p, x, 2.4 * unit, unit)
        self._device(p, x, unit)

    def _phone_and_scanner(self, p: QPainter, x: float, unit: float) -> None:
        p.setPen(QPen(QColor(theme.TEXT), unit * 0.08))
        p.setBrush(QColor(PHONE_COLOUR))
        p.drawRoundedRect(QRectF(x - 0.8 * unit, 0.1 * unit, 1.6 * unit, 2.3 * unit), unit * 0.2, unit * 0.2)
        p.setBrush(QColor("#FFFFFF"))
        p.drawRect(QRectF(x - 0.55 * unit, 0.5 * unit, 1.1 * unit, 1.1 * unit))
        p.setBrush(QColor(PHONE_COLOUR))
        step = 1.1 * unit / 5
        for i, j in ((0, 0), (0, 4), (4, 0), (2, 2), (1, 3), (3, 1), (4, 4)):  # a few QR modules
            p.drawRect(QRectF(x - 0.55 * unit + i * step, 0.5 * unit + j * step, step, step))
        self._arrow(p, x, 2.4 * unit, unit)
        self._device(p, x, unit)


class CardOnlyPicture(ReaderPicture):
    """The reader picture with the card only, for terminals without a code scanner (canteen, cinema)."""

    def __init__(self) -> None:
        """A strip that shrinks on a small screen (the words beside it say where the reader is)."""
        super().__init__()
        self.setMinimumSize(QSize(160, 60))

    def sizeHint(self) -> QSize:
        """A strip about as tall as the hall's."""
        return QSize(360, 200)

    def paintEvent(self, event: object) -> None:
        """The card over the reader with its arrow, centred."""
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        unit = min(self.height() / 5.0, self.width() / 6.0)
        self._card_and_reader(p, self.width() / 2.0, unit)
        p.end()
