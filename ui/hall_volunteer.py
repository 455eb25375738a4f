"""The hall's volunteer desk screens: the idle button, "请志愿者刷身份证", the co-sign screen and the result.

:class:`VolunteerPages` makes a "志愿者签到签退" button (a tall tile beside the hall's service tiles) and adds four pages to
the :class:`~ui.hall.HallWindow`; the window hands it every ``volunteer_*`` Show of the volunteer flow
(:mod:`kiosk.hall.volunteer.flow`).  Each page says its state in words at the size of the main message
and the same words are spoken (the prompt texts of :mod:`kiosk.prompts`); the window's resident bar
("再听一遍", "继续", "呼叫工作人员") stays under every page.  Buttons send ``volunteer``, ``skip_cosign``
and ``dismiss`` to the terminal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.prompts import prompt_text
from ui import theme
from ui.qt import (
    QColor,
    QHBoxLayout,
    QIcon,
    QPainter,
    QPixmap,
    QPointF,
    QPolygonF,
    QPushButton,
    QSize,
    QVBoxLayout,
    QWidget,
)
from ui.reader_picture import CardOnlyPicture
from ui.widgets import label, set_property

WORDS: dict[str, tuple[str, str]] = {
    "button": ("志愿者\n签到签退", "Volunteer\ncheck-in / out"),
    "present": ("请志愿者刷身份证", "Volunteers: please swipe your ID card"),
    "present_sub": ("签到、签退都刷同一张身份证", "The same ID card checks you in and out"),
    "where": ("读卡器在屏幕下方", "The card reader is below the screen"),
    "back": ("返回首页", "Back to start"),
    "working": ("请稍候", "One moment, please"),
    "cosign": ("请服务对象刷卡确认", "Resident served: please tap your card to confirm"),
    "cosign_who": ("{name} 签退 · {since} 签到", "{name} checking out · in since {since}"),
    "cosign_who_plain": ("{name} 签退", "{name} checking out"),
    "cosign_how": ("服务对象刷身份证", "The resident taps their ID card"),
    "cosign_how_ccard": ("服务对象刷身份证或一卡通", "The resident taps their ID card or community card"),
    "skip": ("没有服务对象 / 跳过", "No one to confirm / Skip"),
    "cosign_timeout": ("没有人刷卡时，到时按“跳过”签退", "If no one taps in time, you are checked out as with 'Skip'"),
    "cancel": ("返回首页，不签退", "Back, do not check out"),
    "checked_in": ("签到成功", "Checked in"),
    "checked_out": ("签退成功", "Checked out"),
    "unverified": ("名单还没有同步到本机，由中心核对", "The centre will confirm it (the list has not arrived yet)"),
    "served": ("{hours} 小时 {minutes} 分钟", "{hours} h {minutes} min"),
    "confirmed": ("服务时长，已请服务对象确认", "of service, confirmed by the resident served"),
    "pending": ("服务时长，待组织者审核", "of service, waiting for the organiser's approval"),
    "unknown": ("您还没有登记为志愿者", "You are not registered as a volunteer"),
    "inactive": ("您的志愿者登记现在不能使用", "Your volunteer registration is not active"),
    "done": ("完成", "Done"),
    "ok": ("我知道了", "OK"),
}
#: What a notice on the present or co-sign screen says: the prompt spoken with it.
NOTICES = {"read_failed": "volunteer_read_failed", "own_card": "volunteer_own_card",
           "id_card_only": "volunteer_id_card_only", "reader_down": "volunteer_reader_down"}


def volunteer_icon(size: int = 72) -> QIcon:
    """A heart in a circle: the volunteer desk's icon beside its words."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(0, 0, 0, 0))
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(QColor(theme.HEADER_BG))
    p.setPen(QColor(theme.HEADER_BG))
    p.drawEllipse(2, 2, size - 4, size - 4)
    s = size / 72.0
    p.setBrush(QColor(theme.HEADER_TEXT))
    p.setPen(QColor(theme.HEADER_TEXT))
    p.drawEllipse(QPointF(27 * s, 29 * s), 10 * s, 10 * s)  # a heart: two lobes and a point
    p.drawEllipse(QPointF(45 * s, 29 * s), 10 * s, 10 * s)
    p.drawPolygon(QPolygonF([QPointF(17.5 * s, 32 * s), QPointF(54.5 * s, 32 * s), QPointF(36 * s, 55 * s)]))
    p.end()
    return QIcon(pixmap)


def _buttons(*buttons: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addStretch(1)
    for b in buttons:
        row.addWidget(b)
    row.addStretch(1)
    return row


class VolunteerPages:
    """The volunteer desk's button on the idle screen and its pages in the hall window."""

    def __init__(self, window: Any, send: Callable[[str], None]) -> None:
        """Add the pages to ``window`` (a :class:`~ui.hall.HallWindow`), which places :attr:`button` among its tiles."""
        self.window = window
        self.button = QPushButton(objectName="service")
        self.button.setIcon(volunteer_icon())
        self.button.setIconSize(QSize(44, 44))
        policy = self.button.sizePolicy()
        policy.setVerticalPolicy(policy.Policy.Expanding)  # as tall as the service tiles beside it
        self.button.setSizePolicy(policy)
        self.button.setStyleSheet("QPushButton#service { padding: 4px 14px; }")  # narrower: the tiles keep their room
        self.button.clicked.connect(lambda: send("volunteer"))
        self._build_present(send)
        self._build_working()
        self._build_cosign(send)
        self._build_result(send)

    def _w(self, key: str, **params: Any) -> str:
        pair = WORDS[key]
        text = pair[0] if self.window.language == "zh" else pair[1]
        return text.format(**params) if params else text

    # -- pages ------------------------------------------------------------------------------
    def _build_present(self, send: Callable[[str], None]) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setSpacing(10)
        self.present_heading = label("heading")
        self.present_sub = label("big_info")
        self.present_notice = label("notice")
        self.present_picture = CardOnlyPicture()
        self.present_where = label("caption")
        self.present_back = QPushButton(objectName="back")
        self.present_back.clicked.connect(lambda: send("dismiss"))
        for w in (self.present_heading, self.present_sub, self.present_notice):
            layout.addWidget(w)
        layout.addWidget(self.present_picture, 1)
        layout.addWidget(self.present_where)
        layout.addLayout(_buttons(self.present_back))
        self.window.add_page("volunteer_present", page)

    def _build_working(self) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        self.working_name = label("big_info")
        self.working_heading = label("heading")
        layout.addWidget(self.working_name)
        layout.addWidget(self.working_heading)
        layout.addStretch(1)
        self.window.add_page("volunteer_working", page)

    def _build_cosign(self, send: Callable[[str], None]) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setSpacing(8)
        self.cosign_who = label("big_info")
        self.cosign_heading = label("heading")
        self.cosign_how = label("big_info")
        self.cosign_notice = label("notice")
        self.cosign_picture = CardOnlyPicture()
        self.cosign_timeout = label("caption")
        self.cosign_skip = QPushButton(objectName="skip")
        self.cosign_skip.clicked.connect(lambda: send("skip_cosign"))
        self.cosign_cancel = QPushButton(objectName="back")
        self.cosign_cancel.clicked.connect(lambda: send("dismiss"))
        for w in (self.cosign_who, self.cosign_heading, self.cosign_how, self.cosign_notice):
            layout.addWidget(w)
        layout.addWidget(self.cosign_picture, 1)
        layout.addWidget(self.cosign_timeout)
        layout.addLayout(_buttons(self.cosign_skip, self.cosign_cancel))
        self.window.add_page("volunteer_cosign", page)

    def _build_result(self, send: Callable[[str], None]) -> None:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setSpacing(8)
        layout.addStretch(1)
        self.result_name = label("big_info")
        self.result_heading = label("heading")
        self.result_big = label("ticket_number", wrap=False)
        self.result_words = label("big_info")
        self.result_done = QPushButton(objectName="done")
        self.result_done.clicked.connect(lambda: send("dismiss"))
        for w in (self.result_name, self.result_heading, self.result_big, self.result_words):
            layout.addWidget(w)
        layout.addSpacing(12)
        layout.addLayout(_buttons(self.result_done))
        layout.addStretch(1)
        self.window.add_page("volunteer_result", page)

    # -- the flow's Show --------------------------------------------------------------------
    def retranslate_idle(self) -> None:
        """The idle button's words in the window's language."""
        self.button.setText(self._w("button"))
        self.button.setAccessibleName(WORDS["button"][0].replace("\n", ""))

    def apply(self, screen: str, d: dict[str, Any]) -> None:
        """Draw the page ``screen`` with the flow's data ``d`` and show it."""
        lang = self.window.language
        name = str(d.get("name") or "")
        if screen == "volunteer_present":
            self.present_heading.setText(self._w("present"))
            self.present_sub.setText(self._w("present_sub"))
            self._notice(self.present_notice, d)
            self.present_where.setText(self._w("where"))
            self.present_back.setText(self._w("back"))
        elif screen == "volunteer_working":
            self.working_name.setText(name)
            self.working_name.setVisible(bool(name))
            self.working_heading.setText(self._w("working"))
        elif screen == "volunteer_cosign":
            since = d.get("since")
            self.cosign_who.setText(self._w("cosign_who", name=name, since=since) if since
                                    else self._w("cosign_who_plain", name=name))
            self.cosign_heading.setText(self._w("cosign"))
            self.cosign_how.setText(self._w("cosign_how_ccard" if d.get("community_card") else "cosign_how"))
            self._notice(self.cosign_notice, d)
            self.cosign_how.setVisible(not self.cosign_notice.isVisibleTo(self.cosign_notice.parentWidget()))  # room
            self.cosign_timeout.setText(self._w("cosign_timeout"))
            self.cosign_skip.setText(self._w("skip"))
            self.cosign_cancel.setText(self._w("cancel"))
        elif screen == "volunteer_result":
            self._result(d, name, lang)
        self.window.show_page(screen)

    def _notice(self, widget: Any, d: dict[str, Any]) -> None:
        key = NOTICES.get(str(d.get("notice") or ""))
        widget.setText(prompt_text(key, self.window.language) if key else "")
        widget.setVisible(key is not None)
        set_property(widget, "tone", "warning" if key else "info")

    def _result(self, d: dict[str, Any], name: str, lang: str) -> None:
        result = str(d.get("result", ""))
        big, words, button = "", "", "done"
        if result.startswith("checked_in"):
            heading = self._w("checked_in")
            big = str(d.get("time", ""))
            if result == "checked_in_unverified":
                words = self._w("unverified")
        elif result.startswith("checked_out"):
            heading = self._w("checked_out")
            big = self._w("served", hours=d.get("hours", 0), minutes=d.get("minutes", 0))
            words = self._w("confirmed" if result == "checked_out" else "pending")
        else:
            heading = self._w("inactive" if result == "inactive" else "unknown")
            key = "volunteer_inactive" if result == "inactive" else "volunteer_unknown"
            words = prompt_text(key, lang).replace(heading, "", 1).lstrip("。.，, ")
            words = words.replace("，或", "，\n或").replace(", or ", ",\nor ")  # each way to register on its line
            button = "ok"
        if d.get("again"):
            key = "volunteer_already_in" if result.startswith("checked_in") else "volunteer_already_out"
            words = "\n".join(w for w in (words, prompt_text(key, lang, {"name": name})) if w)
        self.result_name.setText(name)
        self.result_name.setVisible(bool(name) and result not in ("unknown", "inactive"))
        self.result_heading.setText(heading)
        self.result_big.setText(big)
        self.result_big.setVisible(bool(big))
        self.result_words.setText(words)
        self.result_words.setVisible(bool(words))
        self.result_done.setText(self._w(button))
