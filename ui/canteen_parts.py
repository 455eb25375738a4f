"""Pieces of the canteen reader's screens: its stylesheet, meal and dish tiles, the card picture, money words.

A set meal is a big white tile with its photo (from ``[canteen] photo_dir`` when the file is
there, else a drawn square with the dish's character) beside its name and its price in huge type;
a dish tile is the clerk's smaller version that also says in words how many are in the basket.
The words are labels inside the button, so they wrap and are checked like every other label.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from kiosk.canteen.pricing import yuan_text
from ui import theme
from ui.qt import QColor, QHBoxLayout, QLabel, QPainter, QPixmap, Qt, QVBoxLayout
from ui.reader_picture import CardOnlyPicture
from ui.texts import CANTEEN_WORDS, pick
from ui.widgets import LabelledButton, label, quiet, set_property

PHOTO_PX = 128  # a set meal's photo or drawn tile, square


def canteen_style(s: theme.Sizes) -> str:
    """The canteen's own rules, appended to :func:`ui.theme.stylesheet` (same constants, same checks)."""
    small_target = max(64, s.target_min_px - 32)

    return f"""
QPushButton#meal, QPushButton#dish {{ background-color: {theme.STRIP_BG}; border: 3px solid {theme.HEADER_BG};
  border-radius: 12px; padding: 6px 12px; }}
QPushButton#meal:pressed, QPushButton#dish:pressed {{ background-color: {theme.CLOSED_BG}; }}
QPushButton#dish {{ min-width: 120px; min-height: {small_target}px; padding: 2px 6px; }}
QPushButton#dish[chosen="true"] {{ border: 6px double {theme.HEADER_BG}; }}
QLabel#meal_name {{ color: {theme.TEXT}; font-size: {s.title_pt + 2}pt; font-weight: bold; }}
QLabel#meal_price {{ color: {theme.HEADER_BG}; font-size: {s.main_pt + 8}pt; font-weight: bold; }}
QLabel#dish_name {{ color: {theme.TEXT}; font-size: {s.status_pt}pt; font-weight: bold; }}
QLabel#dish_price {{ color: {theme.TEXT}; font-size: {s.status_pt}pt; }}
QLabel#price_big {{ color: {theme.HEADER_BG}; font-size: {s.main_pt + 16}pt; font-weight: bold; }}
QLabel#money_big {{ color: {theme.TEXT}; font-size: {s.main_pt}pt; font-weight: bold; }}
QLabel#line {{ color: {theme.TEXT}; font-size: {s.body_pt}pt; }}
QLabel#cashier_heading {{ color: {theme.TEXT}; font-size: {max(30, s.main_pt - 10)}pt; font-weight: bold; }}
QLabel#basket_line {{ color: {theme.TEXT}; font-size: {s.body_pt}pt; }}
QLabel#spoken, QLabel#detail {{ color: {theme.MUTED_TEXT}; font-size: {s.status_pt}pt; }}
QLabel#staff_row {{ color: {theme.TEXT}; font-size: {s.status_pt}pt; }}
QLabel#warning {{ color: {theme.DOWN_TEXT}; font-size: {s.title_pt}pt; font-weight: bold; }}
QPushButton#less, QPushButton#clear, QPushButton#void, QPushButton#reason, QPushButton#confirm,
QPushButton#staff_back, QPushButton#receipt, QPushButton#done, QPushButton#ok, QPushButton#back {{
  min-height: {small_target}px; min-width: {small_target}px; padding: 4px 18px; }}
QPushButton#less {{ padding: 0px; }}
QPushButton#reason {{ padding: 4px 8px; font-size: {s.body_pt}pt; }}
QPushButton#reason {{ background-color: {theme.PANEL_BG}; color: {theme.HEADER_BG}; border: 3px solid {theme.HEADER_BG}; }}
QPushButton#reason[chosen="true"] {{ background-color: {theme.HEADER_BG}; color: {theme.HEADER_TEXT}; }}
QPushButton#void[voided="true"] {{ background-color: {theme.OFFLINE_BG}; }}
"""


NBSP = "\u00a0"  # between a number and its unit: "5.10 yuan" never breaks over two lines


def money(fen: int, lang: str) -> str:
    """An amount as the screens write it: ``15 元`` / ``15 yuan`` (a reduction with a real minus sign)."""
    return yuan_text(int(fen), "zh" if lang == "zh" else "en").replace(" ", NBSP)


def keep_amounts_whole(text: str) -> str:
    """``80 岁以上 85 折 −2.25 元`` with the amount and its unit held together on one line."""
    return re.sub(r"(\d) (元|yuan)", lambda m: f"{m.group(1)}{NBSP}{m.group(2)}", text)


def words(key: str, lang: str, **params: Any) -> str:
    """The canteen's own words (``ui.texts.CANTEEN_WORDS``) in ``lang``, with ``params`` filled in."""
    text = pick(CANTEEN_WORDS[key], lang)
    return text.format(**params) if params else text


def item_name(item: dict[str, Any], lang: str) -> str:
    """A menu item's name in ``lang`` (the Chinese name when it has no English one)."""
    return str(item.get("name") if lang == "zh" else item.get("name_en") or item.get("name") or "")


def tile_character(name: str) -> str:
    """The character drawn on a meal without a photo: its first, or the letter of "套餐A" (else every set reads 套)."""
    name = name.strip()
    if name.startswith("套餐") and len(name) > 2 and name[2].isascii() and name[2].isalnum():
        return name[2].upper()
    return name[:1] or "?"


def drawn_tile(character: str, size: int = PHOTO_PX) -> QPixmap:
    """A rounded square with one big character: the meal's picture when it has no photo (never colour alone)."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(0, 0, 0, 0))
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(QColor(theme.HEADER_BG))
    p.setPen(QColor(theme.HEADER_BG))
    p.drawRoundedRect(2, 2, size - 4, size - 4, size * 0.12, size * 0.12)
    font = p.font()
    font.setPixelSize(int(size * 0.6))
    font.setBold(True)
    p.setFont(font)
    p.setPen(QColor(theme.HEADER_TEXT))
    p.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, character)
    p.end()
    return pixmap


def meal_picture(item: dict[str, Any], photo_dir: str | None, size: int = PHOTO_PX) -> QPixmap:
    """The meal's photo scaled to ``size`` when ``photo_dir/<photo>`` exists and loads, else its drawn tile."""
    photo = item.get("photo")
    if photo_dir and isinstance(photo, str) and photo and "/" not in photo and "\\" not in photo:
        path = Path(photo_dir) / photo
        if path.is_file():
            pixmap = QPixmap(str(path))
            if not pixmap.isNull():
                return pixmap.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                                     Qt.TransformationMode.SmoothTransformation)
    return drawn_tile(tile_character(str(item.get("name", ""))), size)


class MealTile(LabelledButton):
    """A set meal's big button: picture, name and price ("15 元"); tapping it chooses the meal."""

    def __init__(self, item: dict[str, Any], photo_dir: str | None, picture_px: int = PHOTO_PX) -> None:
        super().__init__("meal")
        self.item = item
        self.photo_dir = photo_dir
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 8, 12, 8)
        row.setSpacing(16)
        self.picture = quiet(QLabel(objectName="meal_picture"))
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.set_picture_size(picture_px)
        column = QVBoxLayout()
        column.setSpacing(2)
        self.name = quiet(label("meal_name", align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter))
        self.price = quiet(label("meal_price", wrap=False,
                                  align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter))
        column.addStretch(1)
        column.addWidget(self.name)
        column.addWidget(self.price)
        column.addStretch(1)
        row.addWidget(self.picture)
        row.addLayout(column, 1)
        self.retranslate("zh")

    def set_picture_size(self, px: int) -> None:
        """Draw the photo (or the drawn tile) ``px`` square."""
        self.picture.setPixmap(meal_picture(self.item, self.photo_dir, px))
        self.picture.setFixedSize(px, px)

    def retranslate(self, lang: str) -> None:
        """Name and price in ``lang``."""
        self.name.setText(item_name(self.item, lang))
        self.price.setText(money(int(self.item.get("unit_fen", 0)), lang))
        self.setAccessibleName(f"{self.item.get('name')} {money(int(self.item.get('unit_fen', 0)), 'zh')}")



class DishTile(LabelledButton):
    """The clerk's button for one dish: name, price and how many are in the basket, in words; a tap adds one."""

    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__("dish")
        self.item = item
        self.qty = 0
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 4, 6, 4)
        column.setSpacing(0)
        self.name = quiet(label("dish_name"))
        self.price = quiet(label("dish_price"))
        column.addStretch(1)
        column.addWidget(self.name)
        column.addWidget(self.price)
        column.addStretch(1)
        self.retranslate("zh")

    def set_qty(self, qty: int, lang: str) -> None:
        """How many of this dish the basket holds ("12 元 ×2"; the thicker border is only a second cue)."""
        self.qty = qty
        self.retranslate(lang)

    def retranslate(self, lang: str) -> None:
        """Name, price and count in ``lang``."""
        price = money(int(self.item.get("unit_fen", 0)), lang)
        self.name.setText(item_name(self.item, lang))
        self.price.setText(f"{price} ×{self.qty}" if self.qty else price)
        set_property(self, "chosen", "true" if self.qty else "false")
        self.setAccessibleName(f"{self.item.get('name')} {price}")



CardPicture = CardOnlyPicture  # the card-only reader picture every card terminal shows



__all__ = ["NBSP", "PHOTO_PX", "CardPicture", "DishTile", "MealTile", "keep_amounts_whole", "canteen_style", "drawn_tile",
           "item_name", "meal_picture", "money", "tile_character", "words"]
