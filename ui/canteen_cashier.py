"""The cashier-mode page: the clerk's dish buttons and basket on the left, what the resident sees on the right.

The clerk taps a dish to add one, "－" on a basket line to take one away, "清空" to empty the
basket; each change goes to the terminal as the whole basket (``terminal.basket({item_id: qty})``).
The resident's side shows the basket, the total in huge type and "请刷一卡通" once there is
something to pay (else the spoken "请等收银员点好菜，再刷卡"): every state in words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.prompts import prompt_text
from ui.canteen_parts import DishTile, item_name, money, words
from ui.qt import QGridLayout, QHBoxLayout, QPushButton, QSizePolicy, Qt, QVBoxLayout, QWidget
from ui.widgets import clear_layout, label, panel

MAX_QTY = 20  # the terminal leaves out a line above this
DISH_COLUMNS = 3
DISH_MAX_PX = 150  # a dish button grows with the pane up to this height


class CashierPage(QWidget):
    """The clerk's pane and the resident's summary; ``on_basket`` gets the whole basket after each change."""

    def __init__(self, on_basket: Callable[[dict[str, int]], None]) -> None:
        super().__init__(objectName="page_cashier")
        self.on_basket = on_basket
        self.language = "zh"
        self.menu: list[dict[str, Any]] = []
        self.quantities: dict[str, int] = {}
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(16)

        clerk, cl = panel()
        self.clerk_heading = label("panel_heading")
        self.clerk_heading.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        cl.addWidget(self.clerk_heading)
        self.dish_grid = QGridLayout()
        self.dish_grid.setSpacing(8)
        cl.addLayout(self.dish_grid, 1)
        self.dishes: dict[str, DishTile] = {}
        row.addWidget(clerk, 1)

        resident, rl = panel()
        rl.setSpacing(8)
        self.heading = label("cashier_heading")
        self.basket_heading = label("panel_heading", align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.lines = QVBoxLayout()
        self.lines.setSpacing(4)
        self.total = label("money_big", align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.clear: QPushButton | None = None  # in the dish grid once there is a menu
        rl.addWidget(self.heading)
        rl.addWidget(self.basket_heading)
        rl.addLayout(self.lines)
        rl.addWidget(self.total)
        self.spoken = label("spoken", align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        rl.addWidget(self.spoken)  # the words being spoken, shown by the window when the panel does not say them
        rl.addStretch(1)
        row.addWidget(resident, 1)
        self.less_buttons: dict[str, QPushButton] = {}

    # -- data ---------------------------------------------------------------------------------
    def set_menu(self, menu: list[dict[str, Any]]) -> None:
        """Today's items as dish buttons (rebuilt only when the menu changed)."""
        if [m.get("item_id") for m in menu] == [m.get("item_id") for m in self.menu] and self.dishes:
            self.menu = list(menu)
            return
        self.menu = list(menu)
        clear_layout(self.dish_grid)
        self.dishes = {}
        for i, item in enumerate(self.menu):
            tile = DishTile(item)
            tile.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)  # rows share the pane
            tile.setMaximumHeight(DISH_MAX_PX)
            tile.clicked.connect(lambda _=False, k=str(item["item_id"]): self.change(k, +1))
            self.dishes[str(item["item_id"])] = tile
            self.dish_grid.addWidget(tile, i // DISH_COLUMNS, i % DISH_COLUMNS)
        n = len(self.menu)  # "清空" is the clerk's too: in the grid's next cell
        self.clear = QPushButton(objectName="clear")
        self.clear.clicked.connect(self.clear_basket)
        self.clear.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        self.clear.setMaximumHeight(DISH_MAX_PX)
        self.dish_grid.addWidget(self.clear, n // DISH_COLUMNS, n % DISH_COLUMNS)
        self.quantities = {k: q for k, q in self.quantities.items() if k in self.dishes}
        self.render()

    def set_basket(self, basket: list[dict[str, Any]]) -> None:
        """The terminal's basket (after a payment, a clear or a reset): the clerk's counts follow it."""
        self.quantities = {str(i["item_id"]): int(i.get("qty", 1)) for i in basket if i.get("item_id") in self.dishes}
        self.render()

    # -- the clerk's buttons ----------------------------------------------------------------------
    def change(self, item_id: str, delta: int) -> None:
        """One more (``+1``) or one less (``-1``) of a dish, then the whole basket to the terminal."""
        qty = max(0, min(MAX_QTY, self.quantities.get(item_id, 0) + delta))
        if qty:
            self.quantities[item_id] = qty
        else:
            self.quantities.pop(item_id, None)
        self.render()
        self.on_basket(dict(self.quantities))

    def clear_basket(self) -> None:
        """"清空": nothing in the basket."""
        self.quantities = {}
        self.render()
        self.on_basket({})

    # -- drawing -------------------------------------------------------------------------------
    def total_fen(self) -> int:
        """The basket's price before any discount, in fen."""
        prices = {str(m["item_id"]): int(m.get("unit_fen", 0)) for m in self.menu}
        return sum(prices.get(k, 0) * q for k, q in self.quantities.items())

    def render(self) -> None:
        """Redraw both sides from the counts, in the current language."""
        lang = self.language
        self.clerk_heading.setText(words("clerk_pane", lang))
        for key, tile in self.dishes.items():
            tile.set_qty(self.quantities.get(key, 0), lang)
        clear_layout(self.lines)
        self.less_buttons = {}
        by_id = {str(m["item_id"]): m for m in self.menu}
        for key, qty in self.quantities.items():
            item = by_id[key]
            line = QHBoxLayout()
            text = label("basket_line", align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            text.setText(f"{item_name(item, lang)} ×{qty} · {money(int(item.get('unit_fen', 0)) * qty, lang)}")
            less = QPushButton("－", objectName="less")
            less.setAccessibleName(f"{words('less', lang)} {item.get('name')}")
            less.setToolTip(words("less", lang))
            less.clicked.connect(lambda _=False, k=key: self.change(k, -1))
            self.less_buttons[key] = less
            line.addWidget(text, 1)
            line.addWidget(less)
            self.lines.addLayout(line)
        have = bool(self.quantities)
        self.heading.setText(words("tap_card", lang) if have else prompt_text("canteen_wait_clerk", lang))
        self.basket_heading.setText(words("basket_empty", lang))
        self.basket_heading.setVisible(not have)  # with lines, "请刷一卡通" and the lines say it
        self.total.setText(words("total", lang, yuan=money(self.total_fen(), lang)))
        self.total.setVisible(have)
        if self.clear is not None:
            self.clear.setText(words("clear", lang))
            self.clear.setVisible(have)

    def retranslate(self, lang: str) -> None:
        """Redraw in ``lang``."""
        self.language = lang
        self.render()
