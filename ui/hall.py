"""The hall ticket machine's screens: service tiles, where to put the card, steps, ticket, refusal.

Service first, as a real 取号机: screen 1 is the services as full-width tiles with their
letter and words ("请选择您要办理的业务"), a closed one greyed with when it opens; screen 2
("present") shows and says where the card or code goes.  Every resident screen has the
:class:`~ui.resident_bar.ResidentBar` (countdown, "再听一遍", "继续", "呼叫工作人员").  The
window shows what the check-in flow asks for (:class:`~kiosk.hall.checkin.events.Show`)
and the words of every spoken prompt, so each state is told in words, in voice, and only
then in colour.  Buttons send commands back to the terminal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from kiosk.config import TerminalConfig
from kiosk.hall.checkin.events import Show
from kiosk.hall.services import Service
from kiosk.prompts import prompt_text
from ui import theme
from ui.hall_volunteer import VolunteerPages
from ui.qt import (
    QColor,
    QGridLayout,
    QHBoxLayout,
    QIcon,
    QLabel,
    QPainter,
    QPixmap,
    QPushButton,
    QSize,
    Qt,
    QVBoxLayout,
    QWidget,
)
from ui.reader_picture import ReaderPicture
from ui.resident_bar import ResidentBar
from ui.resident_page import redraw_in_language
from ui.shell import KioskWindow
from ui.widgets import set_property

STEP_NAMES = {
    "identity": ("身份识别", "Identity"),
    "temperature": ("体温测量", "Temperature"),
    "code": ("随申码核验", "Health code"),
    "priority": ("优先资格查询", "Priority check"),
}
STEP_STATES = {"done": ("✔ 完成", "✔ done"), "pending": ("… 进行中", "… in progress"),
               "failed": ("✘ 未成功，请工作人员协助", "✘ failed, staff will help")}
SOURCE_NAMES = {"idcard": ("身份证", "ID card"), "sscard": ("社保卡", "social-security card"),
                "qr_camera": ("随申码", "health code"), "qr_scanner": ("随申码", "health code")}
PRIORITY_NAMES = {"veteran": ("退役军人", "veteran"), "special_care": ("优抚对象", "special care"),
                  "disabled": ("残疾人", "disability"), "age80": ("80岁以上", "aged 80+")}

WORDS: dict[str, tuple[str, str]] = {
    "choose": ("请选择您要办理的业务", "Please choose the service you need"),
    "choose_then": ("选好后，请刷身份证、社保卡，或出示随申码", "Then swipe your ID card or social-security card, or show your code"),
    "asked": ("已读到您的证件。请先选择您要办理的业务", "Your card has been read. Please choose your service first"),
    "open_now": ("现在可以取号", "Tickets now"),
    "present": ("请刷身份证、社保卡，\n或出示随申码", "Please swipe your ID card or social-security card,\nor show your code"),
    "chosen": ("您选择了：{service}", "You chose: {service}"),
    "where": ("读卡器（左）和扫码口（右）在屏幕下方", "The card reader (left) and code scanner (right) are below the screen"),
    "back": ("重新选择", "Choose again"),
    "noted": ("我记下了", "I have noted it"),
}
TILE_COLUMNS_FROM = 4  # with this many services or more, the tiles go in two columns


def _label(name: str, text: str = "", wrap: bool = True) -> QLabel:
    label = QLabel(text, objectName=name)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(wrap)
    return label


def letter_icon(code: str, size: int = 72) -> QIcon:
    """The service's ticket letter in a circle: the tile's icon, the same letter as on the ticket."""
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(0, 0, 0, 0))
    p = QPainter(pixmap)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(QColor(theme.HEADER_BG))
    p.setPen(QColor(theme.HEADER_BG))
    p.drawEllipse(2, 2, size - 4, size - 4)
    font = p.font()
    font.setPixelSize(int(size * 0.55))
    font.setBold(True)
    p.setFont(font)
    p.setPen(QColor(theme.HEADER_TEXT))
    p.drawText(pixmap.rect(), Qt.AlignmentFlag.AlignCenter, code)
    p.end()
    return QIcon(pixmap)


class HallWindow(KioskWindow):
    """The ticket machine: one window, pages switched by the flow's Show effects."""

    def __init__(self, config: TerminalConfig, services: Sequence[Service], send: Callable[[str], None],
                 checker=None, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.services = list(services)
        self._send = send  # "service:A", "reprint", "dismiss", "extend", "repeat", "help"
        self._clock = clock  # wall time, for which services issue now
        self._last_show = Show("idle")
        self._caption_key: tuple[str, dict] | None = None
        super().__init__(config, checker=checker, resident_facing=True)
        self._build_hall()
        self.apply(self._last_show)

    # -- pages ----------------------------------------------------------------------------
    def _build_hall(self) -> None:
        self.idle_notice = _label("notice")
        self.idle_extra.addWidget(self.idle_notice)
        self.body.setSpacing(12)
        grid = QGridLayout()
        grid.setSpacing(10)
        columns = 2 if len(self.services) >= TILE_COLUMNS_FROM else 1
        self.service_buttons: dict[str, QPushButton] = {}
        for i, svc in enumerate(self.services):
            b = QPushButton(objectName="service")
            b.setIcon(letter_icon(svc.code))
            b.setIconSize(QSize(72, 72))
            b.clicked.connect(lambda _=False, c=svc.code: self._send(f"service:{c}"))
            self.service_buttons[svc.code] = b
            grid.addWidget(b, i // columns, i % columns)
        self.volunteer = VolunteerPages(self, self._send)  # "志愿者签到签退": a tall tile beside the services
        grid.addWidget(self.volunteer.button, 0, columns, max(1, -(-len(self.services) // columns)), 1)
        self.idle_extra.addLayout(grid)

        present = QWidget()
        pl = QVBoxLayout(present)
        pl.setSpacing(12)
        self.present_chosen = _label("big_info")
        self.present_heading = _label("heading")
        self.present_picture = ReaderPicture()
        self.present_where = _label("caption")
        self.present_back = QPushButton(objectName="back")
        self.present_back.clicked.connect(lambda: self._send("dismiss"))
        pl.addWidget(self.present_chosen)
        pl.addWidget(self.present_heading)
        pl.addWidget(self.present_picture, 1)
        pl.addWidget(self.present_where)
        pl.addWidget(self.present_back, 0, Qt.AlignmentFlag.AlignCenter)
        self.add_page("present", present)

        reading = QWidget()
        rl = QVBoxLayout(reading)
        self.reading_heading = _label("heading")
        rl.addWidget(self.reading_heading)
        self.step_labels = {k: _label("step") for k in STEP_NAMES}
        for lbl in self.step_labels.values():
            rl.addWidget(lbl)
        self.reading_caption = _label("caption")
        rl.addWidget(self.reading_caption)
        rl.addStretch(1)
        self.add_page("reading", reading)

        ticket = QWidget()
        tl = QVBoxLayout(ticket)
        tl.setSpacing(8)
        self.ticket_heading = _label("big_info")
        self.ticket_number = _label("ticket_number", wrap=False)
        self.ticket_info = _label("big_info")
        self.ticket_priority = _label("badge", wrap=False)
        self.ticket_check = _label("badge", wrap=False)
        self.ticket_print = _label("print_state")
        tl.addStretch(1)
        for w in (self.ticket_heading, self.ticket_number, self.ticket_info):
            tl.addWidget(w)
        badges = QHBoxLayout()  # each badge hugs its words, side by side
        badges.addStretch(1)
        badges.addWidget(self.ticket_priority)
        badges.addWidget(self.ticket_check)
        badges.addStretch(1)
        tl.addLayout(badges)
        tl.addWidget(self.ticket_print)
        self.ticket_done = QPushButton(objectName="done")
        self.ticket_done.clicked.connect(lambda: self._send("dismiss"))
        tl.addWidget(self.ticket_done, 0, Qt.AlignmentFlag.AlignCenter)
        tl.addStretch(1)
        self.add_page("ticket", ticket)

        refused = QWidget()
        fl = QVBoxLayout(refused)
        fl.addStretch(1)
        self.refused_heading = _label("heading")
        self.refused_words = _label("big_info")
        fl.addWidget(self.refused_heading)
        fl.addWidget(self.refused_words)
        self.refused_ok = QPushButton(objectName="ok")
        self.refused_ok.clicked.connect(lambda: self._send("dismiss"))
        fl.addWidget(self.refused_ok, 0, Qt.AlignmentFlag.AlignCenter)
        fl.addStretch(1)
        self.add_page("refused", refused)

        offer = QWidget()
        ol = QVBoxLayout(offer)
        ol.addStretch(1)
        self.offer_words = _label("heading")
        ol.addWidget(self.offer_words)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.offer_yes = QPushButton(objectName="reprint")
        self.offer_yes.clicked.connect(lambda: self._send("reprint"))
        self.offer_no = QPushButton(objectName="no_thanks")
        self.offer_no.clicked.connect(lambda: self._send("dismiss"))
        for b in (self.offer_yes, self.offer_no):
            buttons.addWidget(b)
        buttons.addStretch(1)
        ol.addLayout(buttons)
        ol.addStretch(1)
        self.add_page("reprint_offer", offer)
        self.pages["error"] = refused  # errors use the refusal page with its own words

        self.bar = ResidentBar(self._send, self.language)
        self.body.addWidget(self.bar)

    # -- the flow drives these ------------------------------------------------------------
    def apply(self, show: Show) -> None:
        """Show what the flow asked for, in the current language."""
        if show.screen == "idle" and show.data.get("reset"):
            self.reset_for_next_resident()  # language and volume back to the defaults
        self._last_show = show
        lang = self.language
        zh = lang == "zh"
        d = show.data
        self.reading_caption.setText("")
        if show.screen == "idle":
            self._show_tiles(d)
        elif show.screen == "present":
            name = str(d.get("service_zh" if zh else "service_en") or d.get("service", ""))
            self.present_chosen.setText(self._w("chosen").format(service=name))
            self.present_heading.setText(self._w("present"))
            self.present_where.setText(self._w("where"))
            self.present_back.setText(self._w("back"))
            self.show_page("present")
        elif show.screen == "reading":
            self._show_reading(d, zh)
        elif show.screen == "ticket":
            self._show_ticket(d, zh)
        elif show.screen in ("refused", "error"):
            self._show_refused(show.screen, d, zh)
        elif show.screen.startswith("volunteer_"):
            self.volunteer.apply(show.screen, d)
        elif show.screen == "reprint_offer":
            self.offer_words.setText(prompt_text("reprint_offer", lang, d))
            self.offer_yes.setText("补打号票" if zh else "Print again")
            self.offer_no.setText("不用了" if zh else "No thanks")
            self.show_page("reprint_offer")
        stays = d.get("stays_s")
        paper_out = show.screen == "ticket" and not d.get("printing") and not d.get("printed")
        timed = isinstance(stays, int | float) and not paper_out  # an unprinted number stays until "我记下了"
        self.bar.set_timer(float(stays) if timed else None, bool(d.get("warning")))  # type: ignore[arg-type]

    def _w(self, key: str) -> str:
        pair = WORDS[key]
        return pair[0] if self.language == "zh" else pair[1]

    def _show_tiles(self, d: dict) -> None:
        self.prompt.setText(self._w("choose"))
        self.subprompt.setText(self._w("choose_then"))
        if d.get("closed"):
            notice = prompt_text("service_closed", self.language, d)
        elif d.get("asked"):
            notice = self._w("asked")
        else:
            notice = ""
        self.idle_notice.setText(notice)
        self.idle_notice.setVisible(bool(notice))
        set_property(self.idle_notice, "tone", "warning" if notice else "info")
        self.refresh_tiles()
        self.volunteer.retranslate_idle()
        self.show_page("idle")

    def refresh_tiles(self) -> None:
        """Each tile's name and whether it issues now ("现在可以取号" / "今日 13:00 开始取号")."""
        zh = self.language == "zh"
        now = self._clock()
        for svc in self.services:
            b = self.service_buttons[svc.code]
            state = svc.availability(now)
            words = self._w("open_now") if state.open else (state.words_zh if zh else state.words_en)
            b.setText(f"{svc.name_zh if zh else svc.name_en}\n{words}")
            b.setAccessibleName(f"{svc.code} {svc.name_zh} {words}")
            set_property(b, "closed", "false" if state.open else "true")

    def caption(self, key: str, params: dict) -> None:
        """Show the words of what is being spoken: under the steps, or in the bar for help and warnings."""
        self._caption_key = (key, params)
        text = prompt_text(key, self.language, params)
        if key == "help_called":
            self.bar.note(text)
        elif self.current_page == "reading":
            self.reading_caption.setText(text)

    def _tick(self) -> None:
        super()._tick()
        if getattr(self, "service_buttons", None) and self.current_page == "idle":
            self.refresh_tiles()  # a service that opens at 13:00 turns ready without a resident

    def _show_reading(self, d: dict, zh: bool) -> None:
        source = SOURCE_NAMES.get(str(d.get("source")), ("", ""))
        self.reading_heading.setText(f"正在办理（{source[0]}）" if zh else f"Checking you in ({source[1]})")
        steps = d.get("steps", {})
        for key, lbl in self.step_labels.items():
            name = STEP_NAMES[key][0 if zh else 1]
            state = STEP_STATES.get(steps.get(key, "pending"), STEP_STATES["pending"])[0 if zh else 1]
            extra = ""
            if key == "temperature" and isinstance(d.get("celsius"), float) and not math.isnan(d["celsius"]):
                extra = f"  {d['celsius']:.1f} °C"
            if key == "temperature" and d.get("retest"):
                state = "… 请再测一次" if zh else "… please measure again"
            lbl.setText(f"{name}：{state}{extra}")
        self.show_page("reading")

    def _show_ticket(self, d: dict, zh: bool) -> None:
        svc = next((s for s in self.services if s.code == d.get("service")), None)
        svc_name = (svc.name_zh if zh else svc.name_en) if svc else str(d.get("service"))
        reprint = d.get("reprint")
        self.ticket_heading.setText(("补打号票" if reprint else "取号成功") if zh else
                                    ("Your ticket again" if reprint else "Your ticket"))
        self.ticket_number.setText(str(d.get("number", "")))
        self.ticket_info.setText(  # one line where it fits: the number keeps its room on a small screen
            f"{svc_name} · 前面还有 {d.get('people_ahead')} 人，约 {d.get('wait_min')} 分钟" if zh else
            f"{svc_name} · {d.get('people_ahead')} ahead, ~{d.get('wait_min')} min")
        self.ticket_priority.setText("优先号" if zh else "Priority ticket")
        self.ticket_priority.setVisible(bool(d.get("priority")))
        self.ticket_check.setText("请先到服务台核验" if zh else "Please see the front desk first")
        self.ticket_check.setVisible(bool(d.get("staff_check")))
        paper_out = not d.get("printing") and not d.get("printed")
        if d.get("printing"):
            words = prompt_text("printing", self.language)
        elif d.get("printed"):
            words = "请取走号票" if zh else "Please take your ticket"
        else:
            words = prompt_text("ticket_not_printed", self.language, d)
        self.ticket_print.setText(words)
        set_property(self.ticket_print, "tone", "warning" if paper_out else "info")
        self.ticket_done.setText(self._w("noted") if paper_out else ("完成" if zh else "Done"))
        self.show_page("ticket")

    def _show_refused(self, screen: str, d: dict, zh: bool) -> None:
        reason = str(d.get("reason", ""))
        if screen == "refused":
            self.refused_heading.setText("暂不能取号" if zh else "No ticket now")
            key = f"refused_{reason}"
            words = d.get("words_zh" if zh else "words_en") or prompt_text(key, self.language, d)
        elif reason == "ask_staff":
            self.refused_heading.setText("请找工作人员" if zh else "Please ask staff")
            key = "ask_staff"
            words = prompt_text(key, self.language, d)
        else:
            self.refused_heading.setText("没有读取成功" if zh else "That did not work")
            key = f"error_{reason}" if reason.startswith("token") else "read_failed"
            words = prompt_text(key, self.language, d)
        self.refused_words.setText(sentence_per_line(str(words)))
        self.refused_ok.setText("我知道了" if zh else "OK")
        self.show_page("refused")

    def language_changed(self) -> None:
        """Redraw the hall's page, bar and caption in the new language (the countdown keeps running)."""
        redraw_in_language(self)


def sentence_per_line(text: str) -> str:
    """Each sentence of a refusal on a line of its own: lines break where a sentence ends, not mid-phrase."""
    return re.sub(r"(?<=[。！？])\s*(?=\S)|(?<=[.!?])\s+(?=[A-Z])", "\n", text.strip())
