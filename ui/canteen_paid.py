"""The canteen's "paid" page: what it cost, line by line, beside what was paid and what is left.

Left, a white bill: the meal, then each line of the price the terminal sends ("合计 18 元",
"80 岁以上 85 折 −2.70 元", "今日补贴 −3 元", or why there is no subsidy today), and under it a
low balance in words ("⚠ 卡里只剩 20.25 元了，请到服务中心充值").  Right, large: "实付 12.30 元"
and "余额 80.25 元".  Below, "打印小票" (only with a printer) and "完成".  The same card tapped
again is told "这份已经付过款了，没有重复扣款" in place of "付款成功".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.canteen.flow import yuan
from kiosk.prompts import prompt_text
from ui.canteen_parts import keep_amounts_whole, money, words
from ui.qt import QHBoxLayout, QPushButton, Qt, QVBoxLayout, QWidget
from ui.widgets import clear_layout, label, panel

SHOWN_LINE_KINDS = ("gross", "discount", "subsidy", "no_subsidy")  # "paid" is the large 实付 line
PAID_MAX_PX = 1400  # on a wide screen the bill and the money stay together in the middle
LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


class PaidPage(QWidget):
    """The paid page; ``send`` gets ``receipt`` or ``dismiss``."""

    def __init__(self, send: Callable[[str], None], has_printer: bool) -> None:
        super().__init__(objectName="page_paid")
        self.has_printer = has_printer
        page = QVBoxLayout(self)
        page.setSpacing(8)
        self.heading = label("heading")
        bill, bl = panel()  # what it cost: the meal, the total, discount and subsidy, like a receipt
        self.items = label("detail", align=LEFT)
        self.lines = QVBoxLayout()
        self.lines.setSpacing(2)
        bl.addWidget(self.items)
        bl.addLayout(self.lines)
        bl.addStretch(1)
        self.low = label("warning", align=LEFT)
        bill_column = QVBoxLayout()  # the bill, and under it the low-balance warning: the columns stay level
        bill_column.setSpacing(4)
        bill_column.addWidget(bill)
        bill_column.addWidget(self.low)
        bill_column.addStretch(1)
        self.amount = label("money_big", align=LEFT)
        self.balance = label("money_big", align=LEFT)
        self.spoken = label("spoken", align=LEFT)  # words spoken here that the page does not show otherwise
        money_column = QVBoxLayout()
        money_column.setSpacing(4)
        for w in (self.amount, self.balance, self.spoken):
            money_column.addWidget(w)
        money_column.addStretch(1)
        columns = QHBoxLayout()
        columns.setSpacing(24)
        columns.addLayout(bill_column, 1)
        columns.addLayout(money_column, 1)
        held = QWidget()
        held.setLayout(columns)
        held.setMaximumWidth(PAID_MAX_PX)
        centred = QHBoxLayout()
        centred.addStretch(1)
        centred.addWidget(held, 100)
        centred.addStretch(1)
        self.receipt = QPushButton(objectName="receipt")
        self.receipt.clicked.connect(lambda: send("receipt"))
        self.done = QPushButton(objectName="done")
        self.done.clicked.connect(lambda: send("dismiss"))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.receipt)
        buttons.addWidget(self.done)
        buttons.addStretch(1)
        page.addStretch(1)
        page.addWidget(self.heading)
        page.addLayout(centred)
        page.addLayout(buttons)
        page.addStretch(1)

    def show_paid(self, d: dict[str, Any], lang: str) -> None:
        """Fill the page from the flow's ``paid`` Show data, in ``lang``."""
        duplicate = d.get("status") == "duplicate"
        self.heading.setText(prompt_text("canteen_already_paid", lang) if duplicate else words("paid", lang))
        self.items.setText(str(d.get("items_zh" if lang == "zh" else "items_en") or ""))
        clear_layout(self.lines)
        for line in d.get("lines") or []:
            if line.get("kind") in SHOWN_LINE_KINDS:
                row = label("line", align=LEFT)
                row.setText(keep_amounts_whole(str(line.get("zh" if lang == "zh" else "en", ""))))
                self.lines.addWidget(row)
        self.amount.setText(words("paid_amount", lang, yuan=money(int(d.get("paid_fen", 0)), lang)))
        balance = d.get("balance_fen")
        self.balance.setText(words("balance", lang, yuan=money(int(balance), lang)) if balance is not None else "")
        self.balance.setVisible(balance is not None)
        low = bool(d.get("low_balance")) and balance is not None
        said = prompt_text("canteen_low_balance", lang, {"balance": yuan(int(balance or 0))})
        self.low.setText(words("low_mark", lang) + said if low else "")
        self.low.setVisible(low)
        self.receipt.setText(words("receipt", lang))
        self.receipt.setVisible(self.has_printer and not duplicate)
        self.done.setText(words("done", lang))
