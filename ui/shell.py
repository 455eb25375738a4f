"""The kiosk window every role shares: header with clock, the role's idle screen, and the status strip.

The status strip says in words (and a symbol) whether each configured device and the
network are up, and for a device what is wrong ("打印机：缺纸", "身份证读卡器：SAM故障"),
from the device supervisor's snapshot when the terminal runs one; colour is only a third
cue.  Checking runs off the GUI thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kiosk.config import TerminalConfig
from kiosk.runtime.health import DeviceSupervisor
from kiosk.status import ComponentStatus, check_terminal
from ui import texts, theme
from ui.background import run_in_background
from ui.qt import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
)

STATUS_REFRESH_MS = 5000  # how often the strip re-probes devices and network, in milliseconds
STRIP_COLUMNS = 4  # status entries per row of the strip


class KioskWindow(QMainWindow):
    """Main window of one terminal; ``role`` picks the idle screen's words."""

    def __init__(self, config: TerminalConfig, checker: Callable[[TerminalConfig], list[ComponentStatus]] | None = None,
                 supervisor: DeviceSupervisor | None = None):
        super().__init__()
        self.config = config
        self.language = config.language
        self.volume = config.voice.volume
        self.sizes = theme.sizes(config.screen.elder_mode)
        self.statuses: list[ComponentStatus] | None = None  # None until the first probe returns
        self._checker = checker or (lambda c: check_terminal(c, supervisor))
        self._probe_running = False
        self.setObjectName("window")
        self.setWindowTitle(f"Linfen · {config.role} · {config.terminal_id}")
        self.setStyleSheet(theme.stylesheet(self.sizes))
        self._build()
        self._retranslate()
        self._clock_timer = QTimer(self)
        self._clock_timer.timeout.connect(self._tick)
        self._clock_timer.start(1000)
        self._status_timer = QTimer(self)
        self._status_timer.timeout.connect(self.refresh_status)
        self._status_timer.start(STATUS_REFRESH_MS)
        self._tick()
        self.refresh_status()

    # -- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        root = QWidget(objectName="screen")
        outer = QVBoxLayout(root)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)

        header = QWidget(objectName="header")
        header.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        hl = QHBoxLayout(header)
        hl.setContentsMargins(24, 8, 24, 8)
        hl.setSpacing(12)
        self.title = QLabel(objectName="title")
        self.clock = QLabel(objectName="clock")
        self.clock.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        # language and volume sit in the header so every page keeps them (DESIGN §8: volume control)
        self.language_button = QPushButton(objectName="language")
        self.language_button.clicked.connect(self.toggle_language)
        self.volume_down = QPushButton(objectName="volume_down")
        self.volume_down.clicked.connect(lambda: self.change_volume(-10))
        self.volume_label = QLabel(objectName="volume")
        self.volume_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.volume_up = QPushButton(objectName="volume_up")
        self.volume_up.clicked.connect(lambda: self.change_volume(+10))
        self.volume_down.setAccessibleName("音量减小 / Volume down")
        self.volume_up.setAccessibleName("音量增大 / Volume up")
        self.volume_label.setMinimumWidth(110)
        hl.addWidget(self.title, 1)
        for w in (self.language_button, self.volume_down, self.volume_label, self.volume_up):
            hl.addWidget(w)
        hl.addSpacing(16)
        hl.addWidget(self.clock)
        outer.addWidget(header)

        body = QVBoxLayout()
        body.setContentsMargins(48, 12, 48, 12)
        body.setSpacing(24)
        self.stack = QStackedWidget(objectName="stack")
        self.pages: dict[str, QWidget] = {}
        idle = QWidget(objectName="page_idle")
        idle_layout = QVBoxLayout(idle)
        idle_layout.addStretch(1)
        self.prompt = QLabel(objectName="prompt")
        self.prompt.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.prompt.setWordWrap(True)
        self.subprompt = QLabel(objectName="subprompt")
        self.subprompt.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.subprompt.setWordWrap(True)
        idle_layout.addWidget(self.prompt)
        idle_layout.addWidget(self.subprompt)
        self.idle_extra = QVBoxLayout()  # roles add their idle controls here (service buttons…)
        idle_layout.addLayout(self.idle_extra)
        idle_layout.addStretch(1)
        self.add_page("idle", idle)
        body.addWidget(self.stack, 1)

        outer.addLayout(body, 1)

        self.strip = QWidget(objectName="strip")
        self.strip.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.strip_layout = QGridLayout(self.strip)
        self.strip_layout.setContentsMargins(24, 8, 24, 8)
        self.strip_layout.setHorizontalSpacing(28)
        self.strip_layout.setVerticalSpacing(4)
        self.status_labels: dict[str, QLabel] = {}
        outer.addWidget(self.strip)
        self.setCentralWidget(root)

    # -- pages --------------------------------------------------------------------------
    def add_page(self, name: str, widget: QWidget) -> None:
        """Add a role's page (ticket, refusal, counter console…) to the body."""
        self.pages[name] = widget
        self.stack.addWidget(widget)

    def show_page(self, name: str) -> None:
        """Bring a page to the front."""
        self.stack.setCurrentWidget(self.pages[name])

    @property
    def current_page(self) -> str:
        """Name of the page on screen."""
        current = self.stack.currentWidget()
        return next((n for n, w in self.pages.items() if w is current), "")

    # -- behaviour ------------------------------------------------------------------------
    def toggle_language(self) -> None:
        """Switch between Chinese and English."""
        self.language = "en" if self.language == "zh" else "zh"
        self._retranslate()
        self.language_changed()

    def language_changed(self) -> None:
        """Hook for roles: redraw their own pages in the new language."""

    def change_volume(self, delta: int) -> None:
        """Change the voice volume in steps, within 0–100 %."""
        self.volume = max(0, min(100, self.volume + delta))
        self._retranslate()
        self.speaker_volume_changed(self.volume)

    def speaker_volume_changed(self, volume: int) -> None:
        """Hook: the role's speaker follows the volume buttons."""

    def refresh_status(self) -> None:
        """Probe devices and network off the GUI thread; the strip updates when the answer comes."""
        if self._probe_running:
            return
        self._probe_running = True
        config = self.config
        run_in_background(lambda: self._checker(config), self._show_status, self._probe_failed)

    def _probe_failed(self, exc: BaseException) -> None:
        self._probe_running = False

    def _show_status(self, statuses: list[ComponentStatus]) -> None:
        self._probe_running = False
        self.statuses = statuses
        self._render_strip()

    def _tick(self) -> None:
        self.clock.setText(time.strftime("%m-%d\n%H:%M:%S"))

    def _retranslate(self) -> None:
        lang = self.language
        role = self.config.role
        self.title.setText(texts.pick(texts.ROLE_TITLES[role], lang))
        main, sub = texts.IDLE_PROMPTS[role]
        self.prompt.setText(texts.pick(main, lang))
        self.subprompt.setText(texts.pick(sub, lang))
        self.language_button.setText(texts.pick(texts.BUTTONS["language"], lang))
        self.volume_down.setText(texts.pick(texts.BUTTONS["volume_down"], lang))
        self.volume_up.setText(texts.pick(texts.BUTTONS["volume_up"], lang))
        if self.config.voice.enabled:
            self.volume_label.setText(texts.pick(texts.VOLUME_LABEL, lang).format(volume=self.volume))
        else:
            self.volume_label.setText(texts.pick(texts.VOICE_OFF_LABEL, lang))
        self._render_strip()

    def _render_strip(self) -> None:
        lang = self.language
        if self.statuses is None:
            keys = [*self.config.devices.configured(), *(["hall"] if self.config.hall_url else []), "central"]
            rows = [(k, "checking", texts.pick(texts.STATE_WORDS["checking"], lang), "…") for k in keys]
        else:
            rows = [(s.key, "up" if s.up else "down", texts.state_word(s.reason, s.up, lang), "✔" if s.up else "✘")
                    for s in self.statuses]
        colon = "：" if lang == "zh" else ": "
        whole = {s.key: texts.pick((s.words_zh, s.words_en), lang) for s in self.statuses or () if s.words_zh}
        for key, state, word, mark in rows:
            label = self.status_labels.get(key)
            if label is None:
                label = QLabel(objectName=f"status_{key}")
                label.setWordWrap(True)  # a long name wraps instead of widening the window past the screen
                n = len(self.status_labels)
                self.status_labels[key] = label
                self.strip_layout.addWidget(label, n // STRIP_COLUMNS, n % STRIP_COLUMNS)
            name = texts.pick(texts.COMPONENT_NAMES.get(key, (key, key)), lang)
            label.setText(f"{mark} {whole[key]}" if key in whole else f"{mark} {name}{colon}{word}")
            if label.property("state") != state:
                label.setProperty("state", state)
                label.style().unpolish(label)
                label.style().polish(label)

