"""The kiosk window every role shares: header with clock, the role's idle screen, and the status strip.

The status strip says in words (and a symbol) whether each configured device and the
network are up, and for a device what is wrong ("打印机：缺纸", "身份证读卡器：SAM故障"),
from the device supervisor's snapshot when the terminal runs one; colour is only a third
cue.  Checking runs off the GUI thread.

On a resident-facing window (hall, display, self-service, canteen, cinema) residents see at
most one discreet line, "设备维护中", when a device is down — the network being offline is
normal operation and is not shown to them.  Staff see every line in the staff view: hold
the title for :data:`STAFF_HOLD_MS` (it closes by itself after :data:`STAFF_VIEW_S`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from kiosk.config import TerminalConfig
from kiosk.runtime.health import DeviceSupervisor
from kiosk.status import ComponentStatus, check_terminal
from kiosk.voice import MIN_VOLUME
from ui import texts, theme
from ui.background import run_in_background
from ui.qt import (
    QCloseEvent,
    QEvent,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QObject,
    QPushButton,
    QStackedWidget,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
)

STATUS_REFRESH_MS = 5000  # how often the strip re-probes devices and network, in milliseconds
STRIP_COLUMNS = 4  # status entries per row of the strip
STAFF_HOLD_MS = 2000  # holding the title this long opens the staff view of every device, in milliseconds
STAFF_VIEW_S = 30  # the staff view closes by itself after this many seconds
NOT_FOR_RESIDENTS = frozenset({"central"})  # offline is normal operation: never a maintenance line


class KioskWindow(QMainWindow):
    """Main window of one terminal; ``role`` picks the idle screen's words."""

    def __init__(self, config: TerminalConfig, checker: Callable[[TerminalConfig], list[ComponentStatus]] | None = None,
                 supervisor: DeviceSupervisor | None = None, resident_facing: bool = False):
        super().__init__()
        self.config = config
        self.resident_facing = resident_facing
        self._window_closed = False  # set on close: late probe answers are dropped
        self.language = config.language
        self.volume = max(MIN_VOLUME, config.voice.volume)
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
        self.title.setWordWrap(True)  # on a 1024 px screen the hall's long name takes two lines, not the buttons' room
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
        self._hold = QTimer(self)
        self._hold.setSingleShot(True)
        self._hold.timeout.connect(self.open_staff_view)
        header.installEventFilter(self)  # holding the header (the title) opens the staff view
        self.header = header
        hl.addWidget(self.title, 1)
        for w in (self.language_button, self.volume_down, self.volume_label, self.volume_up):
            hl.addWidget(w)
        hl.addSpacing(16)
        hl.addWidget(self.clock)
        outer.addWidget(header)

        body = QVBoxLayout()
        body.setContentsMargins(48, 12, 48, 12)
        body.setSpacing(24)
        self.body = body  # roles add rows under the pages (the resident bar)
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
        self.staff_close = QPushButton(objectName="staff_close")
        self.staff_close.clicked.connect(self.close_staff_view)
        self._staff_timer = QTimer(self)
        self._staff_timer.setSingleShot(True)
        self._staff_timer.timeout.connect(self.close_staff_view)
        self.maintenance = QLabel(objectName="maintenance")  # the one line residents see when a device is down
        self.maintenance.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.maintenance.setWordWrap(True)
        outer.addWidget(self.maintenance)
        outer.addWidget(self.strip)
        self.strip.setVisible(not self.resident_facing)
        self.maintenance.setVisible(False)
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

    # -- the staff view -------------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """A press held on the header opens the staff view; letting go early does nothing."""
        if watched is getattr(self, "header", None) and self.resident_facing:
            if event.type() == QEvent.Type.MouseButtonPress:
                self._hold.start(STAFF_HOLD_MS)
            elif event.type() == QEvent.Type.MouseButtonRelease:
                self._hold.stop()
        return super().eventFilter(watched, event)

    @property
    def staff_view_open(self) -> bool:
        """True while the detailed status strip is shown on a resident-facing window."""
        return self.resident_facing and self.strip.isVisible()

    def open_staff_view(self) -> None:
        """Show every device's state in words (staff only: opened by holding the title)."""
        if not self.resident_facing:
            return
        self.strip.setVisible(True)
        self.staff_close.setVisible(True)
        self._staff_timer.start(STAFF_VIEW_S * 1000)
        self._render_strip()

    def close_staff_view(self) -> None:
        """Back to the residents' view: at most one maintenance line."""
        if self.resident_facing:
            self.strip.setVisible(False)
            self._staff_timer.stop()
            self._render_strip()

    # -- behaviour ------------------------------------------------------------------------
    def reset_for_next_resident(self) -> None:
        """Language and volume back to the config's defaults (one visitor cannot leave it in English at 30 %)."""
        volume = max(MIN_VOLUME, self.config.voice.volume)
        changed = self.language != self.config.language or self.volume != volume
        self.language = self.config.language
        if self.volume != volume:
            self.volume = volume
            self.speaker_volume_changed(volume)
        if changed:
            self._retranslate()
            self.language_changed()

    def toggle_language(self) -> None:
        """Switch between Chinese and English."""
        self.language = "en" if self.language == "zh" else "zh"
        self._retranslate()
        self.language_changed()

    def language_changed(self) -> None:
        """Hook for roles: redraw their own pages in the new language."""

    def change_volume(self, delta: int) -> None:
        """Change the voice volume in steps, within MIN_VOLUME–100 % (the voice never goes silent)."""
        self.volume = max(MIN_VOLUME, min(100, self.volume + delta))
        self._retranslate()
        self.speaker_volume_changed(self.volume)

    def speaker_volume_changed(self, volume: int) -> None:
        """Hook: the role's speaker follows the volume buttons."""

    def refresh_status(self) -> None:
        """Probe devices and network off the GUI thread; the strip updates when the answer comes."""
        if self._probe_running or self._window_closed:
            return
        self._probe_running = True
        config = self.config
        run_in_background(lambda: self._checker(config), self._show_status, self._probe_failed)

    def _probe_failed(self, exc: BaseException) -> None:
        self._probe_running = False

    def closeEvent(self, event: QCloseEvent) -> None:
        """Stop probing and ticking: an answer that arrives after the window closed is dropped."""
        self._window_closed = True
        for timer in (self._clock_timer, self._status_timer, self._hold, self._staff_timer):
            timer.stop()
        super().closeEvent(event)

    def _show_status(self, statuses: list[ComponentStatus]) -> None:
        if self._window_closed:
            return  # the window went while the probe ran
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
        self._render_maintenance()
        self.staff_close.setText(texts.pick(texts.BUTTONS["staff_close"], lang))
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
        if self.resident_facing and self.strip_layout.indexOf(self.staff_close) < 0:
            n = len(self.status_labels)
            self.strip_layout.addWidget(self.staff_close, n // STRIP_COLUMNS + 1, 0, 1, STRIP_COLUMNS)
        self.staff_close.setVisible(self.resident_facing)

    def _render_maintenance(self) -> None:
        """Residents' one line: "设备维护中" when a device they rely on is down, nothing otherwise."""
        if not self.resident_facing:
            return
        down = [s for s in self.statuses or () if not s.up and s.key not in NOT_FOR_RESIDENTS]
        self.maintenance.setText(texts.pick(texts.MAINTENANCE_LINE, self.language) if down else "")
        self.maintenance.setVisible(bool(down) and not self.strip.isVisible())

