"""Pieces of the cinema terminal's screens: its stylesheet and words, the screening tile, the card picture.

A screening is a big white button: the film's title large, then its time and hall, the seats left
in words ("还剩 12 座" / "已满座") and its price ("免费" / "5 元"); a full screening's tile says
"已满座" in words (the dashed grey border is only a second cue) and still answers a tap with the
next screening that has seats.  The words are labels inside the button, so they wrap and are
checked like every other label.
"""

from __future__ import annotations

from typing import Any

from kiosk.cinema.flow import price_words
from ui import theme
from ui.qt import QHBoxLayout, QPushButton, Qt, QVBoxLayout, QWidget
from ui.reader_picture import CardOnlyPicture
from ui.texts import pick
from ui.widgets import LabelledButton, label, quiet, set_property

#: The cinema's own words (headings, buttons); what it speaks is in kiosk.prompts.
WORDS: dict[str, tuple[str, str]] = {
    "subprompt": ("每场电影一张卡限领一张票", "One ticket per card per screening"),
    "none_today": ("今天没有可以领票的场次了，请留意服务中心的放映通知",
                   "No more screenings with tickets today; watch the service centre's notices"),
    "seats_left": ("还剩 {n} 座", "{n} seats left"),
    "full_mark": ("已满座", "Full"),
    "put_card": ("请把一卡通放在\n屏幕下方的读卡区", "Please put your community card\non the reader below the screen"),
    "where": ("读卡区在屏幕下方，放好后停一秒", "The card reader is below the screen; hold the card there a second"),
    "choose_again": ("重新选择", "Choose again"),
    "issuing": ("正在出票，请不要拿开卡", "Issuing your ticket: please keep the card on the reader"),
    "ticket": ("出票成功，您的座位", "Ticket issued: your seat"),
    "aisle": ("靠走道的座位，进出方便", "An aisle seat, easy to get in and out"),
    "take_ticket": ("请取走电影票", "Please take your ticket"),
    "not_printed": ("⚠ 票没有打印出来，入场时刷一卡通就可以", "⚠ Not printed: tap your card at the door instead"),
    "paid": ("已付 {yuan}，卡里还有 {balance}", "Paid {yuan}; {balance} left on the card"),
    "paid_no_balance": ("已付 {yuan}", "Paid {yuan}"),
    "free": ("免费", "Free"),
    "done": ("完成", "Done"),
    "full": ("这一场已满座", "This screening is full"),
    "next": ("下一场有座位的：", "Next with seats:"),
    "no_next": ("这几天的场次都满了", "All screenings of the coming days are full"),
    "take_next": ("选这一场", "Choose this one"),
    "back": ("返回", "Back"),
    "no_ticket": ("没有出票", "No ticket"),
    "ask_staff": ("请找工作人员", "Please ask staff"),
    "reprint": ("补打这张票", "Print it again"),
    "ok": ("我知道了", "OK"),
    "door": ("检票", "Ticket check"),
    "door_how": ("请刷一卡通，或把电影票上的二维码对准扫码枪",
                 "Tap your community card, or hold the ticket's QR code to the scanner"),
    "checking": ("正在检票…", "Checking…"),
    "go_in": ("请入场", "Please go in"),
    "not_in": ("不能入场", "Cannot go in"),
    # staff view
    "staff_heading": ("检票（工作人员）", "Door check (staff)"),
    "check_this": ("检票：{title} {when}（已领 {taken} 张）", "Check: {title} {when} ({taken} issued)"),
    "stop_checking": ("结束检票，回到领票", "Stop checking; back to tickets"),
}


def words(key: str, lang: str, **params: Any) -> str:
    """The cinema's own words in ``lang``, with ``params`` filled in."""
    text = pick(WORDS[key], lang)
    return text.format(**params) if params else text


def title(item: dict[str, Any], lang: str) -> str:
    """A screening's film title in ``lang``, in 《》 in Chinese."""
    return f"《{item.get('title', '')}》" if lang == "zh" else str(item.get("title_en") or item.get("title", ""))


def when_hall(item: dict[str, Any], lang: str) -> str:
    """``今天 14:00 · 一楼多功能厅``."""
    when = item.get("when_zh" if lang == "zh" else "when_en") or item.get("time", "")
    hall = item.get("hall" if lang == "zh" else "hall_en") or item.get("hall")
    return f"{when} · {hall}" if hall else str(when)


def price(item: dict[str, Any], lang: str) -> str:
    """``免费`` / ``5 元（残疾人免费）`` / ``5 yuan (free for …)``."""
    text = price_words(item)["price_zh" if lang == "zh" else "price_en"]
    return text if lang == "zh" else text[:1].upper() + text[1:]


def price_parts(item: dict[str, Any], lang: str) -> tuple[str, str]:
    """The price alone (``5 元`` / ``Free``) and who goes free, on a line of its own (or ``""``)."""
    text = price(item, lang)
    for opening, closing in (("（", "）"), (" (", ")")):
        if opening in text and text.endswith(closing):
            head, _, rest = text.partition(opening)
            return head, rest[: -len(closing)]
    return text, ""


def cinema_style(s: theme.Sizes) -> str:
    """The cinema's own rules, appended to :func:`ui.theme.stylesheet` (same constants, same checks)."""
    small_target = max(64, s.target_min_px - 32)
    return f"""
QPushButton#screening {{ background-color: {theme.STRIP_BG}; border: 3px solid {theme.HEADER_BG};
  border-radius: 12px; padding: 6px 12px; }}
QPushButton#screening[full="true"] {{ background-color: {theme.CLOSED_BG}; border: 3px dashed {theme.MUTED_TEXT}; }}
QPushButton#screening:pressed {{ background-color: {theme.CLOSED_BG}; }}
QLabel#film_title {{ color: {theme.TEXT}; font-size: {s.title_pt + 2}pt; font-weight: bold; }}
QLabel#film_info, QLabel#film_seats {{ color: {theme.TEXT}; font-size: {s.body_pt}pt; }}
QLabel#film_price {{ color: {theme.HEADER_BG}; font-size: {s.title_pt + 2}pt; font-weight: bold; }}
QLabel#film_seats[full="true"] {{ color: {theme.DOWN_TEXT}; font-weight: bold; }}
QLabel#seat_big {{ color: {theme.TEXT}; font-size: {s.main_pt + 16}pt; font-weight: bold; }}
QLabel#warning {{ color: {theme.DOWN_TEXT}; font-size: {s.title_pt}pt; font-weight: bold; }}
QLabel#door_heading {{ color: {theme.HEADER_BG}; font-size: {s.main_pt}pt; font-weight: bold; }}
QPushButton#take_next, QPushButton#back, QPushButton#done, QPushButton#ok, QPushButton#reprint,
QPushButton#check_this, QPushButton#stop_checking {{ min-height: {small_target}px; min-width: {small_target}px;
  padding: 4px 18px; }}
QPushButton#check_this {{ background-color: {theme.PANEL_BG}; color: {theme.HEADER_BG};
  border: 3px solid {theme.HEADER_BG}; text-align: left; }}
"""


class ScreeningTile(LabelledButton):
    """A screening's big button: title, time and hall, seats left, price; tapping it chooses the screening."""

    def __init__(self, item: dict[str, Any]) -> None:
        super().__init__("screening")
        self.item = item
        column = QVBoxLayout(self)
        column.setContentsMargins(16, 8, 16, 8)
        column.setSpacing(2)
        left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        self.title = quiet(label("film_title", align=left))
        self.info = quiet(label("film_info", align=left))
        self.seats = quiet(label("film_seats", align=left))
        self.price = quiet(label("film_price", align=left))
        self.free_for = quiet(label("film_info", align=left))  # who goes free, in body type under the price
        for widget in (self.title, self.info, self.seats, self.price, self.free_for):
            column.addWidget(widget)
        self.retranslate("zh")

    @property
    def full(self) -> bool:
        """No seat left (said in words on the tile)."""
        return int(self.item.get("seats_left") or 0) <= 0

    def retranslate(self, lang: str) -> None:
        """Title, time, hall, seats left and price in ``lang``."""
        self.title.setText(title(self.item, lang))
        self.info.setText(when_hall(self.item, lang))
        n = int(self.item.get("seats_left") or 0)
        self.seats.setText(words("full_mark", lang) if self.full else words("seats_left", lang, n=n))
        amount, free_for = price_parts(self.item, lang)
        self.price.setText(amount)
        self.free_for.setText(free_for)
        self.free_for.setVisible(bool(free_for))
        set_property(self, "full", "true" if self.full else "false")
        set_property(self.seats, "full", "true" if self.full else "false")
        self.setAccessibleName(f"{title(self.item, 'zh')} {when_hall(self.item, 'zh')} {self.seats.text()}")


CardPicture = CardOnlyPicture  # the card-only reader picture every card terminal shows



def page_with(*widgets: QWidget | None) -> tuple[QWidget, QVBoxLayout]:
    """A page whose layout starts with a stretch and ``widgets``."""
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.setSpacing(8)
    layout.addStretch(1)
    for w in widgets:
        if w is not None:
            layout.addWidget(w)
    return page, layout


def button_row(layout: QVBoxLayout, *buttons: QPushButton) -> None:
    """``buttons`` centred in a row, then a stretch."""
    row = QHBoxLayout()
    row.addStretch(1)
    for b in buttons:
        row.addWidget(b)
    row.addStretch(1)
    layout.addLayout(row)
    layout.addStretch(1)
