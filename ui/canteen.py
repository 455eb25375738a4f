"""The canteen reader's screens: set meals (self-pay) or the clerk's basket (cashier), card, paid, refused.

The window shows what the canteen flow sends (:class:`~kiosk.runtime.screens.Show`, see
``kiosk/canteen/flow.py``) and the words of every spoken prompt (:meth:`CanteenWindow.caption`),
so each state is told in words and voice, colour only third:

* **self-pay** idle: "请选择套餐，然后刷一卡通" over today's set meals as big tiles (photo or a
  drawn character, name, "15 元"); *choosing* is the same tiles with "请先选择套餐";
  *present* the meal, its price and where the card goes; *paying*; *paid* each price line
  ("80 岁以上 85 折 −2.25 元", "今日补贴 −3 元"), "实付" and "余额" large, a low balance in
  words, "打印小票" when a printer is configured; *refused* / *error* why and what to do next.
* **cashier**: the clerk's dish buttons and basket feed ``terminal.basket``; the resident's side
  shows the basket, the total and "请刷一卡通".

Every resident screen has the :class:`~ui.resident_bar.ResidentBar` (countdown and its warning,
"再听一遍", "继续", "呼叫工作人员").  Holding the title 2 s opens the staff view: the devices'
strip and the clerk's recent payments with "撤销" (:mod:`ui.canteen_staff`).
"""

from __future__ import annotations

from typing import Any, Protocol

from kiosk.config import TerminalConfig
from kiosk.prompts import PROMPTS, prompt_text
from kiosk.runtime.screens import Show
from ui import texts, theme
from ui.background import run_in_background
from ui.canteen_cashier import CashierPage
from ui.canteen_paid import PaidPage
from ui.canteen_parts import (
    CardPicture,
    MealTile,
    canteen_style,
    money,
    words,
)
from ui.canteen_staff import ROWS_SHOWN, StaffPage
from ui.hall import sentence_per_line
from ui.qt import QGridLayout, QLabel, QPushButton, Qt, QVBoxLayout, QWidget
from ui.resident_bar import ResidentBar
from ui.resident_page import caption_words, redraw_in_language
from ui.shell import STAFF_VIEW_S, KioskWindow
from ui.widgets import clear_layout, label, set_property

MEAL_COLUMNS = 2
MEAL_TILE_MAX_PX = 760  # on a wide screen the tiles stay together in the middle, name next to price
#: Prompts whose words the page itself lays out (meal, price, lines, balance): no caption repeats them.
LAID_OUT = frozenset({"canteen_choose_meal", "canteen_meal_chosen", "canteen_present", "canteen_paid",
                      "canteen_low_balance"})
RESIDENT_PAGES = {"menu": "idle", "choosing": "idle", "present": "present", "paying": "paying", "paid": "paid",
                  "refused": "refused", "error": "refused"}


class CanteenControls(Protocol):
    """What the window asks of the terminal (:class:`kiosk.canteen.terminal.CanteenTerminal`)."""

    def ui(self, command: str) -> None:
        """``meal:<id>``, ``receipt``, ``dismiss``, ``extend``, ``help``, ``repeat``."""

    def basket(self, quantities: dict[str, int]) -> None:
        """The clerk's basket."""

    def void(self, entry_id: str, reason: str, staff: str) -> None:
        """Void one payment."""

    def recent_payments(self, limit: int = 10) -> list[dict[str, Any]]:
        """Today's last payments, newest first."""


class CanteenWindow(KioskWindow):
    """The canteen reader: one window, pages switched by the flow's Show effects."""

    def __init__(self, config: TerminalConfig, terminal: CanteenControls, checker=None) -> None:
        canteen = getattr(config, "canteen", None)
        self.mode = canteen.mode if canteen is not None else "self"
        self.photo_dir = canteen.photo_dir if canteen is not None else None
        self.has_printer = "printer" in config.devices.configured()
        self.terminal = terminal
        self._last_show = Show("menu", {"mode": self.mode, "menu": [], "basket": [], "total_fen": 0})
        self._caption_key: tuple[str, dict] | None = None
        self._staff_open = False
        self._resident_page = "idle"
        self.spoken = ""  # the words of the last prompt spoken
        self.menu: list[dict[str, Any]] = []
        super().__init__(config, checker=checker, resident_facing=True)
        self.setStyleSheet(theme.stylesheet(self.sizes) + canteen_style(self.sizes))
        self._build_canteen()
        self.apply(self._last_show)

    def _send(self, command: str) -> None:
        self.terminal.ui(command)

    # -- pages ----------------------------------------------------------------------------
    def _build_canteen(self) -> None:
        self.body.setSpacing(12)
        self.idle_notice = label("notice")
        self.idle_extra.addWidget(self.idle_notice)
        self.meal_grid = QGridLayout()
        self.meal_grid.setSpacing(12)
        self.idle_extra.addLayout(self.meal_grid)
        self.meal_tiles: dict[str, MealTile] = {}

        present = QWidget()
        pl = QVBoxLayout(present)
        pl.setSpacing(8)
        self.present_chosen = label("big_info")
        self.present_price = label("price_big", wrap=False)
        self.present_heading = label("heading")
        self.present_picture = CardPicture()
        self.present_where = label("caption")
        self.present_back = QPushButton(objectName="back")
        self.present_back.clicked.connect(lambda: self._send("dismiss"))
        for w in (self.present_chosen, self.present_price, self.present_heading):
            pl.addWidget(w)
        pl.addWidget(self.present_picture, 1)
        pl.addWidget(self.present_where)
        pl.addWidget(self.present_back, 0, Qt.AlignmentFlag.AlignCenter)
        self.add_page("present", present)

        paying = QWidget()
        yl = QVBoxLayout(paying)
        self.paying_heading = label("heading")
        self.paying_items = label("big_info")
        self.paying_total = label("price_big", wrap=False)
        yl.addStretch(1)
        for w in (self.paying_heading, self.paying_items, self.paying_total):
            yl.addWidget(w)
        yl.addStretch(1)
        self.add_page("paying", paying)

        self.paid = PaidPage(self._send, self.has_printer)
        self.add_page("paid", self.paid)
        for name in ("heading", "amount", "balance", "low"):  # the page's parts, by the names tests and docs use
            setattr(self, f"paid_{name}", getattr(self.paid, name))
        self.receipt, self.paid_done = self.paid.receipt, self.paid.done

        refused = QWidget()
        fl = QVBoxLayout(refused)
        self.refused_heading = label("heading")
        self.refused_words = label("big_info")
        self.refused_items = label("caption")
        self.refused_ok = QPushButton(objectName="ok")
        self.refused_ok.clicked.connect(lambda: self._send("dismiss"))
        fl.addStretch(1)
        for w in (self.refused_heading, self.refused_words, self.refused_items):
            fl.addWidget(w)
        fl.addWidget(self.refused_ok, 0, Qt.AlignmentFlag.AlignCenter)
        fl.addStretch(1)
        self.add_page("refused", refused)

        self.cashier = CashierPage(self.terminal.basket)
        self.add_page("cashier", self.cashier)
        self.staff = StaffPage(self.terminal.void, touched=self._staff_touched)
        self.add_page("staff", self.staff)

        self.caption_label = label("spoken")  # the words being spoken, when the page does not show them already
        self.caption_label.setVisible(False)
        self.body.addWidget(self.caption_label)
        # pages with room of their own show the spoken words there, not in a row that squeezes the page
        self.spoken_slots: dict[str, QLabel] = {"paid": self.paid.spoken, "cashier": self.cashier.spoken}
        for slot in self.spoken_slots.values():
            slot.setVisible(False)
        self.bar = ResidentBar(self._send, self.language)
        self.body.addWidget(self.bar)

    # -- the flow drives these ------------------------------------------------------------
    def apply(self, show: Show) -> None:
        """Show what the flow asked for, in the current language."""
        d = show.data
        if show.screen == "void_result":
            self.staff.void_result(d)
            self.load_payments()
            return
        if show.screen == "menu" and d.get("reset"):
            self.reset_for_next_resident()  # language and volume back to the defaults
        self._last_show = show
        self.mode = str(d.get("mode") or self.mode)
        if isinstance(d.get("menu"), list):
            self._set_menu(d["menu"])
        lang = self.language
        for slot in (self.caption_label, *self.spoken_slots.values()):
            slot.setText("")
            slot.setVisible(False)
        page = RESIDENT_PAGES.get(show.screen, "idle")
        if self.mode == "cashier" and show.screen in ("menu", "present"):
            if show.screen == "menu":
                self.cashier.set_basket(list(d.get("basket") or []))
            self.cashier.retranslate(lang)
            page = "cashier"
        elif show.screen in ("menu", "choosing"):
            self._show_meals(show.screen == "choosing")
        elif show.screen == "present":
            self._show_present(d)
        elif show.screen == "paying":
            self.paying_heading.setText(words("paying", lang))
            self.paying_items.setText(self._items(d))
            self.paying_total.setText(money(int(d.get("total_fen", 0)), lang))
        elif show.screen == "paid":
            self.paid.show_paid(d, lang)
        elif show.screen in ("refused", "error"):
            self._show_refused(show.screen, d)
        self._page(page)
        stays = d.get("stays_s")
        self.bar.set_timer(float(stays) if isinstance(stays, int | float) else None, bool(d.get("warning")))

    def _items(self, d: dict) -> str:
        return str(d.get("items_zh" if self.language == "zh" else "items_en") or "")

    def _set_menu(self, menu: list[dict[str, Any]]) -> None:
        self.menu = list(menu)
        self.cashier.set_menu(self.menu)
        meals = [m for m in self.menu if m.get("set_meal")]
        if [m.get("item_id") for m in meals] == list(self.meal_tiles):
            return
        clear_layout(self.meal_grid)
        self.meal_tiles = {}
        for i, item in enumerate(meals):
            tile = MealTile(item, self.photo_dir)
            tile.setMaximumWidth(MEAL_TILE_MAX_PX)
            tile.clicked.connect(lambda _=False, k=str(item["item_id"]): self._send(f"meal:{k}"))
            self.meal_tiles[str(item["item_id"])] = tile
            self.meal_grid.addWidget(tile, i // MEAL_COLUMNS, i % MEAL_COLUMNS)

    def _show_meals(self, choosing: bool) -> None:
        lang = self.language
        self.prompt.setText(words("choose_first", lang) if choosing else prompt_text("canteen_choose_meal", lang))
        self.subprompt.setText(texts.pick(texts.IDLE_PROMPTS["canteen"][1], lang))
        self.subprompt.setVisible(not choosing)
        notice = prompt_text("canteen_choose_first", lang) if choosing else ""
        if not self.meal_tiles:
            notice = words("no_meals", lang)  # never an empty screen that asks for a choice
        self.idle_notice.setText(notice)
        self.idle_notice.setVisible(bool(notice))
        set_property(self.idle_notice, "tone", "warning" if notice else "info")
        for tile in self.meal_tiles.values():
            tile.retranslate(lang)

    def _show_present(self, d: dict) -> None:
        lang = self.language
        self.present_chosen.setText(words("you_chose", lang, items=self._items(d)))
        self.present_price.setText(money(int(d.get("total_fen", 0)), lang))
        self.present_heading.setText(words("put_card", lang))
        self.present_where.setText(words("where", lang))
        self.present_back.setText(words("choose_again", lang))

    def _show_refused(self, screen: str, d: dict) -> None:
        lang = self.language
        if screen == "refused":
            self.refused_heading.setText(words("not_paid", lang))
            key = f"canteen_{d.get('code')}"
            text = prompt_text(key if key in PROMPTS else "ask_staff", lang, d)  # a code without words: ask staff
        else:
            self.refused_heading.setText(words("ask_staff", lang))
            text = prompt_text("ask_staff", lang)
        self.refused_words.setText(sentence_per_line(text))
        items = self._items(d)
        self.refused_items.setText(items)
        self.refused_items.setVisible(bool(items))
        self.refused_ok.setText(words("ok", lang))

    def caption(self, key: str, params: dict) -> None:
        """The words being spoken: in the bar for help, as a line under the page unless the page already says them."""
        page = self.pages[self._resident_page]  # the resident's page, even while the clerk has the staff view open
        text = caption_words(self, key, params, page, LAID_OUT)
        if text is None:
            return
        slot = self.spoken_label
        slot.setText(text)
        slot.setVisible(bool(text) and not self._staff_open)
        self._fit_caption()

    @property
    def spoken_label(self) -> QLabel:
        """Where the resident's page shows the spoken words: its own slot, or the line under the pages."""
        return self.spoken_slots.get(self._resident_page, self.caption_label)

    def _fit_caption(self) -> None:
        """The caption line is as tall as its words at the body's width (a wrapped label's own minimum is far taller)."""
        width = self.stack.width() or self.width() - 96
        text = self.caption_label.text()
        self.caption_label.setFixedHeight(max(1, self.caption_label.heightForWidth(width)) if text else 1)

    def resizeEvent(self, event: object) -> None:
        """Keep the caption line's height right for the new width."""
        super().resizeEvent(event)
        if hasattr(self, "caption_label"):
            self._fit_caption()

    # -- pages and the staff view ---------------------------------------------------------
    def _page(self, name: str) -> None:
        self._resident_page = name
        if not self._staff_open:
            self.show_page(name)

    def open_staff_view(self) -> None:
        """The devices' strip and the clerk's page of recent payments (staff only)."""
        super().open_staff_view()
        self._staff_open = True
        self.staff.result = ""
        self.show_page("staff")
        self.bar.setVisible(False)
        self.caption_label.setVisible(False)
        self.load_payments()

    def close_staff_view(self) -> None:
        """Back to the page the resident was on."""
        super().close_staff_view()
        if getattr(self, "_staff_open", False):
            self._staff_open = False
            self.bar.setVisible(True)
            self.show_page(self._resident_page)
            if self._caption_key and self.spoken_label.text():
                self.spoken_label.setVisible(True)

    def _staff_touched(self) -> None:
        self._staff_timer.start(STAFF_VIEW_S * 1000)  # the clerk is working: the view stays open

    def load_payments(self) -> None:
        """Read today's last payments off the GUI thread; the staff page lists them when they come."""
        if self.staff.chosen is None:
            self.staff.loading()
        run_in_background(lambda: self.terminal.recent_payments(ROWS_SHOWN), self._payments_read)

    def _payments_read(self, payments: list[dict[str, Any]]) -> None:
        if not self._window_closed:
            self.staff.set_payments(payments)

    def language_changed(self) -> None:
        """Redraw the page, bar, staff page and caption in the new language (the countdown keeps running)."""
        self.staff.retranslate(self.language)
        redraw_in_language(self)
