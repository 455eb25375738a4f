"""The counter console's pages (login, console, transfer, call a number), its alert banner, and their words.

Only layout and words live here; :mod:`ui.counter` drives the pages from the hall service's
answers.  Every state is told in words (priority, staff check, service down, an open alert),
never by colour alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kiosk.hall.tickets import Counter, Ticket
from ui.hall import PRIORITY_NAMES
from ui.keypad import Keypad
from ui.qt import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, Qt, QVBoxLayout, QWidget
from ui.theme import DOWN_TEXT, PANEL_BG, Sizes
from ui.widgets import label, panel, set_property

WORDS: dict[str, tuple[str, str]] = {
    "login_heading": ("{window} 号窗口 · 请刷工作证", "Window {window} · tap your staff card"),
    "card_prompt": ("请把工作证放在读卡器上，然后输入密码", "Put your staff card on the reader, then type your PIN"),
    "card_read": ("已读到工作证，请输入密码后按「登录」", "Staff card read: type your PIN, then press “Log in”"),
    "no_reader": ("本窗口没有配置工作证读卡器，无法登录。请联系管理员在配置中加入 [devices.ccard]",
                  "No staff-card reader is configured here, so nobody can log in: "
                  "ask the administrator to add [devices.ccard]"),
    "pin_hint": ("密码", "PIN"),
    "other_card": ("换一张卡", "Another card"),
    "need_card": ("请先刷工作证", "Please tap your staff card first"),
    "need_pin": ("请用数字键输入密码（4 至 8 位）", "Please type your PIN on the keypad (4 to 8 digits)"),
    "services_caption": ("本窗口办理的业务（点按选择）", "Services at this window (tap to choose)"),
    "services_loading": ("正在读取业务列表…", "Loading the services…"),
    "login": ("登录", "Log in"),
    "logging_in": ("正在登录…", "Logging in…"),
    "need_service": ("请至少选择一项业务", "Please choose at least one service"),
    "counter_info": ("{window} 号窗口 · {name}（工号 {staff}）· 办理业务 {services}",
                     "Window {window} · {name} (staff {staff}) · serving {services}"),
    "alert_ack": ("知道了", "Acknowledge"),
    "alert_line": ("⚠ 提醒 {n}/{of}：{words}", "⚠ Alert {n}/{of}: {words}"),
    "acknowledged": ("已处理提醒：{words}", "Alert acknowledged: {words}"),
    "current": ("当前号码", "Current ticket"),
    "no_ticket_number": ("—", "—"),
    "state_none": ("暂无号码\n请按「叫号」", "No ticket\nPress “Next”"),
    "details_none": ("叫号后，这里显示业务、姓名、优先类别和计时", "After a call: service, name, priority and timer"),
    "state_called": ("已叫号，等候居民到来", "Called, waiting for the resident"),
    "state_serving": ("正在办理", "Serving"),
    "service": ("业务：{service}", "Service: {service}"),
    "name": ("姓名：{name}", "Name: {name}"),
    "calls": ("已呼叫 {calls} 次", "Called {calls} time(s)"),
    "timer_called": ("叫号后 {elapsed}", "Called {elapsed} ago"),
    "timer_serving": ("办理用时 {elapsed}", "Serving for {elapsed}"),
    "priority": ("优先号：{reasons}", "Priority: {reasons}"),
    "staff_check": ("需工作人员核验健康码", "Staff: check the health code"),
    "waiting_heading": ("等候人数", "Waiting"),
    "waiting_stale": ("等候人数\n（未更新）", "Waiting\n(not updated)"),  # two whole lines beside the counts
    "waiting_name": ("{code} {name}", "{code} {name}"),
    "waiting_count": ("{count} 人", "{count}"),
    "next": ("叫号", "Next"),
    "recall": ("重呼", "Recall"),
    "start": ("开始办理", "Start"),
    "no_show": ("过号", "No-show"),
    "transfer": ("转移", "Transfer"),
    "call_number": ("指定叫号", "Call number"),
    "finish": ("办结", "Finish"),
    "logout": ("退出登录", "Log out"),
    "unavailable": ("暂不可用", "unavailable"),
    "cancel": ("取消", "Cancel"),
    "transfer_heading": ("把 {number} 号转到哪项业务？", "Transfer {number} to which service?"),
    "transfer_none": ("当前没有可转移的号码", "There is no ticket to transfer"),
    "call_heading": ("指定叫号", "Call a number"),
    "call_hint": ("先按业务字母，再按数字，如 A 1 2 → A012", "Press the letter, then the digits: A 1 2 → A012"),
    "call_entry_hint": ("号码", "Number"),
    "call_go": ("叫这个号", "Call it"),
    "need_number": ("请输入完整号码：字母加数字", "Please enter a full number: letter and digits"),
    "down": ("大厅叫号服务无法连接，按钮暂时无效，正在自动重试…",
             "Hall queue service unreachable: buttons do nothing until it is back. Retrying…"),
    "down_action": ("大厅叫号服务无法连接：「{action}」未执行，正在自动重试…",
                    "Hall queue service unreachable: “{action}” was not done. Retrying…"),
    "auth": ("大厅叫号服务拒绝了本机：{words}。请联系管理员", "The hall queue service refused this counter: {words}. "
             "Please call the administrator"),
    "busy": ("正在处理上一个操作，请稍候", "Still doing the last action, please wait"),
    "back_online": ("大厅叫号服务已恢复", "The hall queue service is back"),
    "logged_in": ("已登录，可以叫号", "Logged in: you can call the next resident"),
    "nobody": ("目前没有人排队", "Nobody is waiting"),
    "called": ("已叫 {number} 号到 {window} 号窗口", "Called {number} to window {window}"),
    "recalled": ("已重呼 {number} 号（第 {calls} 次）", "Called {number} again (call {calls})"),
    "started": ("开始办理 {number} 号", "Serving {number}"),
    "no_showed": ("{number} 号已过号", "{number} marked as not shown"),
    "transferred": ("{number} 号已转到「{service}」，按原取号时间排队",
                    "{number} moved to “{service}”, queued by its original time"),
    "finished": ("{number} 号已办结，请居民在评价器上评价", "{number} finished: the resident can rate us on the pad"),
    "rated": ("{number} 号居民评价：{level}", "{number} rated us: {level}"),
    "rate_failed": ("{number} 号的评价未保存：{words}", "The rating of {number} was not saved: {words}"),
    "not_rated": ("{number} 号居民未评价", "{number} left without a rating"),
    "logged_out": ("已退出登录", "Logged out"),
    "error": ("出现故障：{words}", "Something went wrong: {words}"),
}


LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


def words(key: str, language: str, **params: object) -> str:
    """The words ``key`` in ``language`` with ``params`` filled in."""
    pair = WORDS[key]
    return (pair[0] if language == "zh" else pair[1]).format(**params)


def elapsed_text(since_iso: str | None, now: datetime | None = None) -> str:
    """``mm:ss`` (or ``h:mm:ss``) since an ISO-8601 time; ``00:00`` when unknown or in the future."""
    if not since_iso:
        return "00:00"
    seconds = max(0, int(((now or datetime.now(UTC)) - datetime.fromisoformat(since_iso)).total_seconds()))
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"


#: A console window narrower or shorter than this uses the dense layout (1024×768, 1280×800 screens).
DENSE_BELOW = (1400, 900)
DENSE_KEYPAD_PX = 340  # the keypad's width in the dense layout: three 108-px keys (96 px and padding)
ANY_WIDTH = 16_777_215  # Qt's QWIDGETSIZE_MAX: no maximum width


def dense_sheet(s: Sizes) -> str:
    """The pages' stylesheet on a small screen: body text at 18 pt (DESIGN §8's floor), 60-px targets, a 1.5× number.

    The theme's sizes are kept on larger screens; here every line of the console, the login page
    and the keypad must still fit 1024×768 in English with an alert and the service down.
    """
    body = max(18, s.body_pt - 4)
    return (f"QLabel#caption, QLabel#detail, QLabel#notice, QLabel#waiting_name {{ font-size: {body}pt; }}"
            f" QLabel#tag {{ font-size: {body}pt; padding: 2px 10px; }}"
            f" QLabel#big_info {{ font-size: {s.title_pt - 2}pt; }}"
            f" QLabel#heading {{ font-size: {max(30, s.main_pt - 8)}pt; }}"
            f" QLabel#panel_heading, QLabel#waiting_count {{ font-size: {body + 4}pt; }}"
            f" QLabel#ticket_number {{ font-size: {max(30, s.main_pt * 3 // 2)}pt; }}"
            f" QLabel#entry {{ font-size: {max(30, s.main_pt - 8)}pt; padding: 0px 12px; }}"
            " QPushButton#action, QPushButton#login, QPushButton#call_go, QPushButton#cancel,"
            " QPushButton#service_toggle, QPushButton#transfer_to { min-height: 48px; padding: 6px 16px; }"
            " QPushButton#key { min-height: 48px; padding: 6px 6px; }"
            f" QPushButton#action[offline=\"true\"] {{ font-size: {body}pt; padding: 3px 12px; }}"
            f" QPushButton#key[word=\"true\"] {{ font-size: {body}pt; }}")


@dataclass(frozen=True)
class View:
    """Everything the counter's pages show: the window's state as last read from the service."""

    language: str
    window: int
    services: list[dict[str, Any]]  # the hall's services: code, name_zh, name_en
    chosen: frozenset[str]  # services ticked on the login page
    services_loaded: bool
    counter: Counter | None
    ticket: Ticket | None
    waiting: dict[str, int]
    online: bool | None  # None until the first answer
    message: tuple[str, str, str] | None  # tone ("info" / "warning"), zh, en
    has_reader: bool = True  # a staff-card reader is configured (without one nobody can log in)
    card_read: bool = False  # a staff card was tapped and waits for its PIN
    staff_name: str = ""  # the logged-in clerk's display name

    def t(self, key: str, **params: object) -> str:
        """The words ``key`` in the view's language."""
        return words(key, self.language, **params)

    def service_name(self, code: str) -> str:
        """A service's name in the view's language (its code when unknown)."""
        svc = next((s for s in self.services if s["code"] == code), None)
        return str(svc[f"name_{self.language}"]) if svc else code

    def message_text(self) -> str:
        """The page message with a ✔ / ✘ mark, so its tone is not told by colour alone."""
        if not self.message:
            return ""
        tone, zh, en = self.message
        return ("✘ " if tone == "warning" else "✔ ") + (zh if self.language == "zh" else en)


def show_message(lbl: QLabel, view: View) -> None:
    """Put the view's message on a page's message label, styled by its tone."""
    lbl.setText(view.message_text())
    set_property(lbl, "tone", view.message[0] if view.message else "info")


class LoginPage(QWidget):
    """Tap the staff card, type the PIN on a large keypad, choose the services served here, log in."""

    def __init__(self) -> None:
        super().__init__(objectName="page_login")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(10)
        self.heading = label("heading")
        outer.addWidget(self.heading)
        row = QHBoxLayout()
        row.setSpacing(32)
        left = QVBoxLayout()
        left.setSpacing(10)
        self.card_state = label("notice")
        left.addWidget(self.card_state)
        self.services_caption = label("caption")
        left.addWidget(self.services_caption)
        self.service_box = QGridLayout()
        self.service_box.setSpacing(8)
        left.addLayout(self.service_box)
        self.service_buttons: dict[str, QPushButton] = {}
        self.message = label("notice")
        left.addWidget(self.message)
        left.addStretch(1)
        buttons = QHBoxLayout()
        self.other_card = QPushButton(objectName="cancel")
        self.login_button = QPushButton(objectName="login")
        buttons.addWidget(self.other_card)
        buttons.addWidget(self.login_button, 1)
        left.addLayout(buttons)
        row.addLayout(left, 5)
        self.keypad = Keypad(max_length=8, hint=WORDS["pin_hint"], secret=True)
        row.addWidget(self.keypad, 3)
        outer.addLayout(row, 1)

    def set_dense(self, sheet: str) -> None:
        """The dense stylesheet on a small screen (or none); the keypad then leaves the services their width."""
        self.setStyleSheet(sheet)
        self.keypad.setMaximumWidth(DENSE_KEYPAD_PX if sheet else ANY_WIDTH)

    def render(self, view: View) -> None:
        """Heading, card state (no reader / tap the card / card read), services, PIN keypad and message."""
        self.heading.setText(view.t("login_heading", window=view.window))
        self.card_state.setText(view.t("no_reader" if not view.has_reader else
                                       "card_read" if view.card_read else "card_prompt"))
        set_property(self.card_state, "tone", "warning" if not view.has_reader else "info")
        self.services_caption.setText(view.t("services_caption" if view.services_loaded or view.services
                                             else "services_loading"))
        for code, button in self.service_buttons.items():
            chosen = code in view.chosen
            button.setText(f"{'✔' if chosen else '○'} {code} {view.service_name(code)}")
            set_property(button, "chosen", "true" if chosen else "false")
        self.keypad.retranslate(view.language)
        self.keypad.setEnabled(view.has_reader)
        self.login_button.setText(view.t("login"))
        self.login_button.setEnabled(view.has_reader)
        self.other_card.setText(view.t("other_card"))
        self.other_card.setVisible(view.card_read)
        show_message(self.message, view)

    def set_services(self, codes: list[str]) -> None:
        """One toggle button per service code (texts are set by the window); two columns past three."""
        for button in self.service_buttons.values():
            self.service_box.removeWidget(button)
            button.deleteLater()
        self.service_buttons = {}
        columns = 1 if len(codes) <= 3 else 2
        for i, code in enumerate(codes):
            button = QPushButton(objectName="service_toggle")
            self.service_buttons[code] = button
            self.service_box.addWidget(button, i // columns, i % columns)


class AlertBanner(QFrame):
    """The open staff alerts across the top of the console page, the oldest first, with its "知道了" button.

    One alert is shown at a time, whole, with how many are open ("提醒 1/3"); the first clerk to
    acknowledge it takes it off every counter and the next one moves up.  Hidden when none is open.
    Kept to one line of controls so the console still fits a 1024×768 screen: the text is body size
    (18 pt), the button a 60-px target, and the console's own buttons give up their extra height
    while the banner shows (:meth:`ConsolePage.restyle`).
    """

    TEXT_PT = 18  # DESIGN §8: body text at least 18 pt

    def __init__(self) -> None:
        super().__init__(objectName="alert_banner")
        self.setStyleSheet(
            f"QFrame#alert_banner {{ background-color: {PANEL_BG}; border: 3px solid {DOWN_TEXT}; border-radius: 8px; }}"
            f" QLabel#alert_text {{ color: {DOWN_TEXT}; font-size: {self.TEXT_PT}pt; font-weight: bold; "
            f"background-color: {PANEL_BG}; border: none; }}"
            f" QPushButton#alert_ack {{ min-height: 48px; min-width: 60px; padding: 6px 20px; }}")
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 3, 6, 3)
        row.setSpacing(12)
        self.text = label("alert_text", align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.text.setMinimumWidth(360)  # the wrapped height is worked out at a real width, not a sliver
        self.ack = QPushButton(objectName="alert_ack")
        self.ack.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)  # its whole word, always
        row.addWidget(self.text, 1)
        row.addWidget(self.ack)
        self.shown: int | None = None  # the id of the alert on the banner
        self.setVisible(False)

    def render(self, view: View, alerts: list[Any]) -> None:
        """Show the oldest of ``alerts`` (AlertNotice) in the view's language, or hide when there is none."""
        alert = alerts[0] if alerts else None
        self.shown = alert.id if alert is not None else None
        if alert is not None:
            said = alert.words_zh if view.language == "zh" else alert.words_en
            self.text.setText(view.t("alert_line", n=1, of=len(alerts), words=said))
            self.ack.setText(view.t("alert_ack"))
            self.ack.setAccessibleName(f"知道了 / Acknowledge: {alert.words_zh}")
        self.setVisible(alert is not None)


class ConsolePage(QWidget):
    """The current ticket with its state, timer, details and badges; the waiting counts; the clerk's buttons.

    One wide ticket panel (the number on the left, what the clerk needs about it on the right) over a
    row of waiting counts, so the long English service names get the width instead of the height.
    """

    ACTIONS = ("next", "recall", "start", "no_show", "transfer", "call_number", "finish", "logout")
    WAITING_COLUMNS = 3  # services per row of the waiting counts
    BANNER_SHEET = "QPushButton#action { min-height: 48px; padding: 6px 16px; }"  # 60-px targets under a banner

    def __init__(self) -> None:
        super().__init__(objectName="page_console")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(10)
        self.banner = AlertBanner()  # the open staff alerts, on top of the console
        outer.addWidget(self.banner)
        self.info = label("caption", align=LEFT)
        outer.addWidget(self.info)

        ticket, tl = panel()
        tl.setContentsMargins(14, 4, 14, 4)
        top = QHBoxLayout()
        top.setSpacing(24)
        number_column = QVBoxLayout()  # the caption right over the number, both in the middle of a tall panel
        number_column.setSpacing(0)
        self.current_caption = label("caption")
        self.number = label("ticket_number", wrap=False)
        self.number_room = QWidget()  # a strut as wide as a number, so "—" keeps the column's width
        number_column.addStretch(1)
        number_column.addWidget(self.current_caption)
        number_column.addWidget(self.number)
        number_column.addWidget(self.number_room)
        number_column.addStretch(1)
        top.addLayout(number_column)
        about = QVBoxLayout()
        about.setSpacing(6)
        about.addStretch(1)
        state_row = QHBoxLayout()
        state_row.setSpacing(24)
        self.state = label("big_info", align=LEFT)
        self.timer = label("big_info", wrap=False, align=LEFT)
        state_row.addWidget(self.state, 1)
        state_row.addWidget(self.timer)
        about.addLayout(state_row)
        self.service = label("detail", align=LEFT)
        self.name = label("detail", align=LEFT)
        about.addWidget(self.service)
        about.addWidget(self.name)
        tags = QHBoxLayout()
        tags.setSpacing(12)
        self.priority = label("tag", align=LEFT)
        self.staff_check = label("tag", align=LEFT)
        tags.addWidget(self.priority)
        tags.addWidget(self.staff_check)
        tags.addStretch(1)
        about.addLayout(tags)
        about.addStretch(1)
        top.addLayout(about, 1)
        tl.addLayout(top, 1)
        outer.addWidget(ticket, 1)

        waiting, wl = panel()
        wl.setContentsMargins(14, 4, 14, 4)
        row = QHBoxLayout()
        row.setSpacing(24)
        self.waiting_heading = label("panel_heading", align=LEFT)
        self.waiting_heading.setFixedWidth(180)  # "Waiting / (not updated)" on two lines: the names get the width
        row.addWidget(self.waiting_heading)
        self.waiting_grid = QGridLayout()
        self.waiting_grid.setHorizontalSpacing(10)
        self.waiting_grid.setVerticalSpacing(4)
        row.addLayout(self.waiting_grid, 1)
        wl.addLayout(row)
        self.waiting_labels: dict[str, tuple[QLabel, QLabel]] = {}
        outer.addWidget(waiting)

        self.message = label("notice")
        outer.addWidget(self.message)
        grid = QGridLayout()
        grid.setSpacing(8)
        self.buttons: dict[str, QPushButton] = {}
        for i, action in enumerate(self.ACTIONS):
            button = QPushButton(objectName="action")
            button.setProperty("action", action)
            self.buttons[action] = button
            grid.addWidget(button, i // 4, i % 4)
        outer.addLayout(grid)
        self._dense = ""

    def restyle(self, dense: str, banner: bool) -> None:
        """Apply the dense sheet (small screens) and, while the alert banner shows, 60-px action buttons."""
        sheet = dense + (" " + self.BANNER_SHEET if banner else "")
        if self.styleSheet() != sheet:
            self.setStyleSheet(sheet)
            self.layout().setSpacing(4 if dense else 6 if banner else 10)
            for widget in self.findChildren(QWidget):  # restyled now, so the layout counts the new sizes at once
                widget.ensurePolished()
                widget.updateGeometry()
            self.layout().activate()

    def render(self, view: View) -> None:
        """The ticket, its details and timer, the waiting counts, the buttons (marked when the service is down)."""
        zh = view.language == "zh"
        sep = "、" if zh else ", "
        if view.counter is not None:
            self.info.setText(view.t("counter_info", window=view.window, staff=view.counter.staff_id,
                                     name=view.staff_name or view.counter.staff_id,
                                     services=sep.join(view.counter.services)))
        self.current_caption.setText(view.t("current"))
        t = view.ticket
        self.number.setText(t.number if t else view.t("no_ticket_number"))
        self.number.ensurePolished()  # its font (dense or not) is known
        self.number_room.setFixedSize(self.number.fontMetrics().horizontalAdvance("B000"), 0)
        self.state.setText(view.t("state_serving" if t and t.state == "serving" else
                                  "state_called" if t else "state_none"))
        self.service.setText(view.t("service", service=view.service_name(t.service)) if t else view.t("details_none"))
        lines = [view.t("name", name=t.masked_name)] if t and t.masked_name else []
        self.name.setText(" · ".join([*lines, view.t("calls", calls=t.calls)]) if t else "")
        self.name.setVisible(t is not None)
        reasons = sep.join(PRIORITY_NAMES.get(r, (r, r))[0 if zh else 1] for r in (t.priority_reasons if t else ()))
        self.priority.setText(view.t("priority", reasons=reasons))
        self.priority.setVisible(bool(t and t.priority))
        self.staff_check.setText(view.t("staff_check"))
        self.staff_check.setVisible(bool(t and t.staff_check))
        self.render_timer(view)
        self.waiting_heading.setText(view.t("waiting_stale" if view.online is False else "waiting_heading"))
        for svc in view.services:
            name, count = self.waiting_row(svc["code"])
            name.setText(view.t("waiting_name", code=svc["code"], name=view.service_name(svc["code"])))
            count.setText(view.t("waiting_count", count=view.waiting.get(svc["code"], 0)))
        down = view.online is False
        for action, button in self.buttons.items():
            button.setText(f"{view.t(action)}\n{view.t('unavailable')}" if down else view.t(action))
            set_property(button, "offline", "true" if down else "false")
        show_message(self.message, view)

    def render_timer(self, view: View) -> None:
        """Time since the call, or since serving started."""
        t = view.ticket
        if t is None:
            self.timer.setText("")
        elif t.state == "serving":
            self.timer.setText(view.t("timer_serving", elapsed=elapsed_text(t.serving_at)))
        else:
            self.timer.setText(view.t("timer_called", elapsed=elapsed_text(t.called_at)))
        self.timer.setVisible(t is not None)

    def waiting_row(self, code: str) -> tuple[QLabel, QLabel]:
        """The name and count labels of service ``code`` in the waiting counts, made on first use."""
        if code not in self.waiting_labels:
            i = len(self.waiting_labels)
            row, column = divmod(i, self.WAITING_COLUMNS)
            name = label("waiting_name", align=Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            count = label("waiting_count", wrap=False, align=LEFT)  # right after its name
            self.waiting_grid.addWidget(name, row, 3 * column)
            self.waiting_grid.addWidget(count, row, 3 * column + 1)
            self.waiting_grid.setColumnStretch(3 * column, 1)
            self.waiting_grid.setColumnMinimumWidth(3 * column + 2, 16)  # a gap before the next service
            self.waiting_labels[code] = (name, count)
        return self.waiting_labels[code]


class TransferPage(QWidget):
    """Pick the service to transfer the current ticket to."""

    def __init__(self) -> None:
        super().__init__(objectName="page_transfer")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(14)
        outer.addStretch(1)
        self.heading = label("heading")
        outer.addWidget(self.heading)
        self.service_box = QVBoxLayout()
        self.service_box.setSpacing(10)
        outer.addLayout(self.service_box)
        self.service_buttons: dict[str, QPushButton] = {}
        self.cancel = QPushButton(objectName="cancel")
        outer.addWidget(self.cancel, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(1)

    def render(self, view: View) -> None:
        """Heading with the ticket number, one button per target service, cancel."""
        self.heading.setText(view.t("transfer_heading", number=view.ticket.number if view.ticket else ""))
        for code, button in self.service_buttons.items():
            button.setText(f"{code} {view.service_name(code)}")
        self.cancel.setText(view.t("cancel"))

    def set_services(self, codes: list[str]) -> None:
        """One button per service the ticket can move to."""
        for button in self.service_buttons.values():
            self.service_box.removeWidget(button)
            button.deleteLater()
        self.service_buttons = {}
        for code in codes:
            button = QPushButton(objectName="transfer_to")
            self.service_buttons[code] = button
            self.service_box.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)


class CallNumberPage(QWidget):
    """Type a ticket number (letter keys for the prefixes, then digits) and call it."""

    def __init__(self) -> None:
        super().__init__(objectName="page_call_number")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(32)
        left = QVBoxLayout()
        left.setSpacing(12)
        self.heading = label("heading")
        self.hint = label("caption")
        self.message = label("notice")
        left.addWidget(self.heading)
        left.addWidget(self.hint)
        left.addWidget(self.message)
        left.addStretch(1)
        self.go = QPushButton(objectName="call_go")
        self.cancel = QPushButton(objectName="cancel")
        left.addWidget(self.go)
        left.addWidget(self.cancel)
        row.addLayout(left, 3)
        self.keypad = Keypad(max_length=5, hint=WORDS["call_entry_hint"])
        row.addWidget(self.keypad, 2)

    def set_dense(self, sheet: str) -> None:
        """The dense stylesheet on a small screen (or none), with the keypad as narrow as on the login page."""
        self.setStyleSheet(sheet)
        self.keypad.setMaximumWidth(DENSE_KEYPAD_PX if sheet else ANY_WIDTH)

    def render(self, view: View) -> None:
        """Heading, hint, keypad, buttons and message."""
        self.heading.setText(view.t("call_heading"))
        self.hint.setText(view.t("call_hint"))
        self.keypad.retranslate(view.language)
        self.go.setText(view.t("call_go"))
        self.cancel.setText(view.t("cancel"))
        show_message(self.message, view)
