"""The clerk's page of the staff view: today's last payments at this reader, and voiding one.

Opened with the shell's staff view (hold the title 2 s), never shown to residents.  Each
payment is a row in words (time, amount, what was bought, the card's last digits) with
"撤销"; voiding asks for a reason (four big buttons) and the clerk's staff number on the
shared keypad, then calls ``void(entry_id, reason, staff)``.  The terminal's answer
(``void_result``) is shown in words and the list is read again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ui.canteen_parts import money, words
from ui.keypad import Keypad
from ui.qt import QGridLayout, QHBoxLayout, QPushButton, QStackedWidget, Qt, QVBoxLayout, QWidget
from ui.texts import CANTEEN_WORDS, VOID_CODES, pick
from ui.widgets import clear_layout, label, set_property

REASONS = ("reason_returned", "reason_wrong_dish", "reason_duplicate", "reason_other")
ROWS_SHOWN = 5  # payments listed: what fits above the device strip on a 1024×768 screen


def payment_words(payment: dict[str, Any], lang: str, short: bool = False) -> str:
    """One payment as a line: ``12:05 · 9.75 元 · 套餐A 两荤一素 · 卡 …A1B2`` (``short``: time and amount)."""
    at = str(payment.get("at", ""))
    clock = at[11:16] if len(at) >= 16 else at
    names = "、" if lang == "zh" else ", "
    items = names.join(str(i.get("name") if lang == "zh" else i.get("name_en") or i.get("name"))
                       + (f"×{i['qty']}" if int(i.get("qty", 1)) > 1 else "") for i in payment.get("items", []))
    if short:
        return f"{clock} · {money(int(payment.get('paid_fen', 0)), lang)}"
    card = str(payment.get("card_no", ""))[-4:]
    card_words = f"卡 …{card}" if lang == "zh" else f"card …{card}"
    return " · ".join(p for p in (clock, money(int(payment.get("paid_fen", 0)), lang), items, card_words) if p)


class StaffPage(QWidget):
    """List of payments ↔ the void form; ``touched`` is called on every tap (it keeps the staff view open)."""

    def __init__(self, void: Callable[[str, str, str], None], touched: Callable[[], None] = lambda: None) -> None:
        super().__init__(objectName="page_staff")
        self._void = void
        self._touched = touched
        self.language = "zh"
        self.payments: list[dict[str, Any]] | None = None  # None while being read
        self.chosen: dict[str, Any] | None = None
        self.reason: str | None = None
        self.result = ""
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.inner = QStackedWidget()
        outer.addWidget(self.inner)

        listing = QWidget()
        ll = QVBoxLayout(listing)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(6)
        self.heading = label("panel_heading", align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.result_label = label("notice", align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.rows = QVBoxLayout()
        self.rows.setSpacing(4)
        ll.addWidget(self.heading)
        ll.addWidget(self.result_label)
        ll.addLayout(self.rows)
        ll.addStretch(1)
        self.inner.addWidget(listing)
        self.void_buttons: dict[str, QPushButton] = {}

        form = QWidget()
        fl = QHBoxLayout(form)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.setSpacing(24)
        left = QVBoxLayout()
        left.setSpacing(8)
        self.what = label("notice", align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.reason_heading = label("notice", align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        grid = QGridLayout()
        grid.setSpacing(8)
        self.reason_buttons: dict[str, QPushButton] = {}
        for i, key in enumerate(REASONS):
            b = QPushButton(objectName="reason")
            b.clicked.connect(lambda _=False, k=key: self.choose_reason(k))
            self.reason_buttons[key] = b
            grid.addWidget(b, i // 2, i % 2)
        self.form_note = label("notice", align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        buttons = QHBoxLayout()
        self.confirm = QPushButton(objectName="confirm")
        self.confirm.clicked.connect(self.confirm_void)
        self.back = QPushButton(objectName="staff_back")
        self.back.clicked.connect(self.show_list)
        buttons.addWidget(self.confirm)
        buttons.addWidget(self.back)
        buttons.addStretch(1)
        for w in (self.what, self.reason_heading):
            left.addWidget(w)
        left.addLayout(grid)
        left.addWidget(self.form_note)
        left.addStretch(1)
        left.addLayout(buttons)
        self.keypad = Keypad(max_length=8, hint=("工号", "Staff no."), on_change=lambda v: self._touched())
        fl.addLayout(left, 1)
        fl.addWidget(self.keypad, 1)
        self.inner.addWidget(form)
        self.render()

    # -- data and taps ----------------------------------------------------------------------------
    def loading(self) -> None:
        """The list is being read."""
        self.payments = None
        self.show_list()

    def set_payments(self, payments: list[dict[str, Any]]) -> None:
        """Today's last payments (newest first), as ``terminal.recent_payments()`` gives them."""
        self.payments = list(payments)[:ROWS_SHOWN]
        self.render()

    def start_void(self, payment: dict[str, Any]) -> None:
        """"撤销" on a row: the form for that payment, no reason chosen, an empty staff number."""
        self._touched()
        self.chosen = payment
        self.reason = None
        self.keypad.clear()
        self.form_note.setText("")
        self.inner.setCurrentIndex(1)
        self.render()

    def choose_reason(self, key: str) -> None:
        """One of the four reasons."""
        self._touched()
        self.reason = key
        self.render()

    def confirm_void(self) -> None:
        """"确认撤销": with a reason and a staff number, ask the terminal; else say what is missing."""
        self._touched()
        lang = self.language
        staff = self.keypad.value
        if self.chosen is None:
            return
        if self.reason is None or not staff:
            missing = VOID_CODES["no_reason" if self.reason is None else "no_staff"]
            self.form_note.setText(words("void_failed", lang, why=pick(missing, lang)))
            set_property(self.form_note, "tone", "warning")
            return
        self._void(str(self.chosen["entry_id"]), pick(_reason_words(self.reason), "zh"), staff)
        self.result = words("loading", lang)
        self.show_list()

    def void_result(self, data: dict[str, Any]) -> None:
        """The terminal's answer to a void, in words."""
        lang = self.language
        if data.get("ok"):
            self.result = words("void_ok", lang, yuan=money(int(data.get("refund_fen", 0)), lang))
        else:
            code = str(data.get("code", ""))
            self.result = words("void_failed", lang, why=pick(VOID_CODES.get(code, (code, code)), lang))
        self.render()

    def show_list(self) -> None:
        """Back to the list of payments."""
        self.chosen = None
        self.inner.setCurrentIndex(0)
        self.render()

    # -- drawing ---------------------------------------------------------------------------------
    def render(self) -> None:
        """Redraw the list or the form in the current language."""
        lang = self.language
        self.heading.setText(words("staff_heading", lang, n=ROWS_SHOWN))
        self.result_label.setText(self.result)
        self.result_label.setVisible(bool(self.result))
        clear_layout(self.rows)
        self.void_buttons = {}
        if self.payments is None:
            self.rows.addWidget(label("staff_row", align=Qt.AlignmentFlag.AlignLeft))
            self.rows.itemAt(0).widget().setText(words("loading", lang))
        elif not self.payments:
            empty = label("staff_row", align=Qt.AlignmentFlag.AlignLeft)
            empty.setText(words("no_payments", lang))
            self.rows.addWidget(empty)
        for payment in self.payments or ():
            row = QHBoxLayout()
            text = label("staff_row", align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            text.setText(payment_words(payment, lang))
            button = QPushButton(objectName="void")
            voided = bool(payment.get("voided"))
            button.setText(words("voided" if voided else "void", lang))
            button.setEnabled(not voided)
            set_property(button, "voided", "true" if voided else "false")
            button.clicked.connect(lambda _=False, p=payment: self.start_void(p))
            self.void_buttons[str(payment.get("entry_id"))] = button
            row.addWidget(text, 1)
            row.addWidget(button)
            self.rows.addLayout(row)
        what = payment_words(self.chosen, lang, short=True) if self.chosen else ""
        self.what.setText(words("void_which", lang, what=what))
        self.reason_heading.setText(words("void_reason", lang))
        for key, button in self.reason_buttons.items():
            mark = "✔ " if key == self.reason else ""  # the chosen one says so, not only its colour
            button.setText(mark + pick(_reason_words(key), lang))
            set_property(button, "chosen", "true" if key == self.reason else "false")
        self.confirm.setText(words("confirm_void", lang))
        self.back.setText(words("back", lang))
        self.keypad.retranslate(lang)

    def retranslate(self, lang: str) -> None:
        """Redraw in ``lang``."""
        self.language = lang
        self.render()


def _reason_words(key: str) -> tuple[str, str]:
    return CANTEEN_WORDS[key]
