"""The hall ticket machine's screens: idle with service choice, reading (steps in words), ticket, refusal.

The window shows what the check-in flow asks for (:class:`~kiosk.hall.checkin.events.Show`)
and the words of every spoken prompt, so each state is told in words, in voice, and
only then in colour.  Buttons send events back to the terminal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from kiosk.config import TerminalConfig
from kiosk.hall.checkin.events import Show
from kiosk.prompts import prompt_text
from ui.qt import QHBoxLayout, QLabel, QPushButton, Qt, QVBoxLayout, QWidget
from ui.shell import KioskWindow

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


@dataclass(frozen=True)
class HallService:
    """A service residents can choose on the idle screen."""

    code: str
    name_zh: str
    name_en: str


def _label(name: str, text: str = "", wrap: bool = True) -> QLabel:
    label = QLabel(text, objectName=name)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(wrap)
    return label


class HallWindow(KioskWindow):
    """The ticket machine: one window, pages switched by the flow's Show effects."""

    def __init__(self, config: TerminalConfig, services: list[HallService], send: Callable[[str], None],
                 checker=None):
        self.services = services
        self._send = send  # "service:A", "reprint", "dismiss", "extend"
        self._last_show = Show("idle", {"service": services[0].code if services else "A"})
        self._caption_key: tuple[str, dict] | None = None
        super().__init__(config, checker=checker)
        self._build_hall()
        self.apply(self._last_show)

    # -- pages ----------------------------------------------------------------------------
    def _build_hall(self) -> None:
        row = QHBoxLayout()
        row.addStretch(1)
        self.service_buttons: dict[str, QPushButton] = {}
        for svc in self.services:
            b = QPushButton(objectName="service")
            b.clicked.connect(lambda _=False, c=svc.code: self._send(f"service:{c}"))
            self.service_buttons[svc.code] = b
            row.addWidget(b)
        row.addStretch(1)
        self.idle_extra.addLayout(row)

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
        self.ticket_heading = _label("big_info")
        self.ticket_number = _label("ticket_number", wrap=False)
        self.ticket_info = _label("big_info")
        self.ticket_badges = _label("badge")
        self.ticket_print = _label("warning")
        self.ticket_caption = _label("caption")
        tl.setSpacing(8)
        for w in (self.ticket_heading, self.ticket_number, self.ticket_info, self.ticket_badges, self.ticket_print,
                  self.ticket_caption):
            tl.addWidget(w, 0, Qt.AlignmentFlag.AlignHCenter)
        self.ticket_done = QPushButton(objectName="done")
        self.ticket_done.clicked.connect(lambda: self._send("dismiss"))
        tl.addWidget(self.ticket_done, 0, Qt.AlignmentFlag.AlignCenter)
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
        self.offer_warning = _label("warning")
        ol.addWidget(self.offer_words)
        ol.addWidget(self.offer_warning)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.offer_yes = QPushButton(objectName="reprint")
        self.offer_yes.clicked.connect(lambda: self._send("reprint"))
        self.offer_no = QPushButton(objectName="no_thanks")
        self.offer_no.clicked.connect(lambda: self._send("dismiss"))
        self.offer_more = QPushButton(objectName="more_time")
        self.offer_more.clicked.connect(lambda: self._send("extend"))
        for b in (self.offer_yes, self.offer_no, self.offer_more):
            buttons.addWidget(b)
        buttons.addStretch(1)
        ol.addLayout(buttons)
        ol.addStretch(1)
        self.add_page("reprint_offer", offer)
        self.pages["error"] = refused  # errors use the refusal page with its own words

    # -- the flow drives these ------------------------------------------------------------
    def apply(self, show: Show) -> None:
        """Show what the flow asked for, in the current language."""
        self._last_show = show
        lang = self.language
        zh = lang == "zh"
        d = show.data
        if show.screen == "idle":
            chosen = str(d.get("service", ""))
            for code, b in self.service_buttons.items():
                svc = next(s for s in self.services if s.code == code)
                mark = "● " if code == chosen else ""
                b.setText(f"{mark}{svc.name_zh if zh else svc.name_en}")
                b.setProperty("chosen", "true" if code == chosen else "false")
                b.style().unpolish(b)
                b.style().polish(b)
            self.show_page("idle")
        elif show.screen == "reading":
            self._show_reading(d, zh)
        elif show.screen == "ticket":
            self._show_ticket(d, zh)
        elif show.screen in ("refused", "error"):
            self._show_refused(show.screen, d, zh)
        elif show.screen == "reprint_offer":
            self.offer_words.setText(prompt_text("reprint_offer", lang, d))
            self.offer_warning.setText(prompt_text("timeout_warning", lang) if d.get("warning") else "")
            self.offer_yes.setText("补打号票" if zh else "Print again")
            self.offer_no.setText("不用了" if zh else "No thanks")
            self.offer_more.setText("继续" if zh else "More time")
            self.offer_more.setVisible(bool(d.get("warning")))
            self.show_page("reprint_offer")

    def caption(self, key: str, params: dict) -> None:
        """Show the words of what is being spoken on the current page."""
        self._caption_key = (key, params)
        text = prompt_text(key, self.language, params)
        for lbl in (self.reading_caption, self.ticket_caption):
            lbl.setText(text)

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
        self.ticket_info.setText(
            f"{svc_name}\n前面还有 {d.get('people_ahead')} 人，预计等候约 {d.get('wait_min')} 分钟" if zh else
            f"{svc_name}\n{d.get('people_ahead')} people ahead, about {d.get('wait_min')} min")
        badges = []
        if d.get("priority"):
            badges.append("优先号" if zh else "Priority ticket")
        if d.get("staff_check"):
            badges.append("请先到服务台核验" if zh else "Please see the front desk first")
        self.ticket_badges.setText(" · ".join(badges))
        self.ticket_badges.setVisible(bool(badges))
        if d.get("printing"):
            words = "正在打印号票…" if zh else "Printing your ticket…"
        elif d.get("printed"):
            words = "请取走号票" if zh else "Please take your ticket"
        else:
            words = prompt_text("ticket_not_printed", self.language, d)
        self.ticket_print.setText(words)
        self.ticket_done.setText("完成" if zh else "Done")
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
        """Redraw the hall's page and caption in the new language."""
        self.apply(self._last_show)
        if self._caption_key:
            self.caption(*self._caption_key)


def sentence_per_line(text: str) -> str:
    """Each sentence of a refusal on a line of its own: lines break where a sentence ends, not mid-phrase."""
    return re.sub(r"(?<=[。！？])\s*(?=\S)|(?<=[.!?])\s+(?=[A-Z])", "\n", text.strip())
