"""The row every resident screen shares: how long the screen stays, "再听一遍", "继续", "呼叫工作人员".

A timed screen says in words how long it stays and counts down; ``warning_s`` before it
goes the countdown turns to a warning (words first, colour third) and the flow speaks it;
"继续" gives the full time again and "再听一遍" repeats the last prompt.  "呼叫工作人员" is on
every resident screen and raises an alert at the counters.  The canteen, cinema and
self-service screens use the same bar: it only sends commands (``repeat``, ``extend``,
``help``) through the ``send`` callable its window gives it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ui.qt import QHBoxLayout, QPushButton, Qt, QTimer, QWidget
from ui.texts import pick
from ui.widgets import label, set_property

WORDS: dict[str, tuple[str, str]] = {
    "repeat": ("再听一遍", "Hear again"),
    "more_time": ("继续", "More time"),
    "help": ("呼叫工作人员", "Call staff"),
    "stays": ("本页 {seconds} 秒后返回首页", "This screen closes in {seconds} s"),
    "soon": ("{seconds} 秒后返回首页，需要请点“继续”", "Closing in {seconds} s: press 'More time'"),
}


class ResidentBar(QWidget):
    """Countdown and the three resident buttons; ``send`` gets ``repeat``, ``extend`` or ``help``."""

    def __init__(self, send: Callable[[str], None], language: str = "zh") -> None:
        super().__init__(objectName="resident_bar")
        self.language = language
        self._ends_at: float | None = None  # monotonic time the screen goes, None when not timed
        self._warning = False
        self._note = ""
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(16)
        self.countdown = label("countdown", align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.repeat = QPushButton(objectName="repeat")
        self.more_time = QPushButton(objectName="more")
        self.help = QPushButton(objectName="help")
        self.repeat.clicked.connect(lambda: send("repeat"))
        self.more_time.clicked.connect(lambda: send("extend"))
        self.help.clicked.connect(lambda: send("help"))
        row.addWidget(self.countdown, 1)
        for button in (self.repeat, self.more_time, self.help):
            row.addWidget(button)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._render)
        self._timer.start(1000)
        self.set_timer(None)

    def set_timer(self, stays_s: float | None, warning: bool = False) -> None:
        """The screen now on stays ``stays_s`` seconds (None: not timed); ``warning``: it goes soon."""
        self._ends_at = None if stays_s is None else time.monotonic() + float(stays_s)
        self._warning = warning
        self._note = ""
        self._render()

    def note(self, text: str) -> None:
        """Words to show in place of the countdown until the next screen (help has been called)."""
        self._note = text
        self._render()

    def seconds_left(self) -> int | None:
        """Whole seconds until the screen goes, or None when it is not timed."""
        if self._ends_at is None:
            return None
        return max(0, round(self._ends_at - time.monotonic()))

    def retranslate(self, language: str) -> None:
        """Redraw in ``language``."""
        self.language = language
        self._render()

    def _render(self) -> None:
        lang = self.language
        self.repeat.setText(pick(WORDS["repeat"], lang))
        self.more_time.setText(pick(WORDS["more_time"], lang))
        self.help.setText(pick(WORDS["help"], lang))
        left = self.seconds_left()
        self.more_time.setVisible(left is not None)
        if self._note:
            text, tone = self._note, "info"
        elif left is None:
            text, tone = "", "info"
        else:
            text = pick(WORDS["soon" if self._warning else "stays"], lang).format(seconds=left)
            tone = "warning" if self._warning else "info"
        self.countdown.setText(text)
        set_property(self.countdown, "tone", tone)
