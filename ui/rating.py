"""The resident-facing rating pad (好差评) of a counter: its own window, meant for the counter's second screen.

Design choice: the pad is a separate :class:`~ui.shell.KioskWindow` (header with language and
volume, no status strip) owned by the :class:`~ui.counter.CounterWindow`.  With two screens it
fills the second one; with one screen it is a second window.  Keeping it apart lets the clerk
call the next resident while the last one is still rating.

Pages: ``idle`` (waiting: "欢迎办理"), ``rate`` ("请为本次服务评价" with the five levels as large
buttons in words, Chinese and English, one under the other so both languages fit a 1024-px
screen), ``thanks``.  The rate page has a time limit: a warning
with a "more time" button first (DESIGN §8), then back to waiting.  Every prompt is also spoken.
The rating is sent with the ``rate`` callable off the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.config import TerminalConfig
from kiosk.hall.errors import HallError
from kiosk.hall.ratings import LEVELS, Level
from kiosk.hall.tickets import Ticket
from kiosk.voice import Speaker
from ui.background import run_in_background
from ui.qt import QGuiApplication, QHBoxLayout, QPushButton, QTimer, QVBoxLayout, QWidget
from ui.shell import KioskWindow
from ui.widgets import label

RATE_TIMEOUT_S = 60.0  # seconds the rate page waits for a choice, warning included
WARN_BEFORE_S = 15.0  # the warning appears this many seconds before going back to waiting
THANKS_S = 5.0  # seconds the thanks page stays
COLUMN_MAX_PX = 1100  # the rate page's column of buttons is no wider on a big screen
#: 72-px buttons (DESIGN §8 asks for 60): five levels, the heading and the warning fit a 1024×768 screen.
BUTTONS_SHEET = "QPushButton#rate_level, QPushButton#more_time, QPushButton#skip { min-height: 60px; padding: 6px 16px; }"

WORDS: dict[str, tuple[str, str]] = {
    "title": ("服务评价", "Rate our service"),
    "idle": ("欢迎办理业务", "Welcome"),
    "idle_sub": ("{window} 号窗口为您服务，办结后请在这里评价", "Window {window} is serving you; please rate us here afterwards"),
    "ask": ("请为本次服务评价", "Please rate this service"),
    "ticket": ("{number} 号 · {window} 号窗口", "Ticket {number} · window {window}"),
    "warning": ("{seconds} 秒后自动返回。需要更多时间，请按「继续评价」",
                "Going back in {seconds} s. Press “More time” if you need it"),
    "more_time": ("继续评价", "More time"),
    "skip": ("不评价", "No rating"),
    "repeat": ("再听一遍", "Hear again"),
    "sending": ("正在提交…", "Sending…"),
    "thanks": ("谢谢您的评价！", "Thank you for your rating!"),
    "your_choice": ("您的评价：{level}", "Your rating: {level}"),
    "not_saved": ("评价未能保存：{words}。请告诉窗口工作人员", "Your rating was not saved: {words}. Please tell the clerk"),
    "goodbye": ("祝您生活愉快", "Have a good day"),
}


@dataclass(frozen=True)
class RatingOutcome:
    """What came of one rating request: the level chosen (None: no rating) and the service's refusal words."""

    number: str
    level: Level | None
    error_zh: str = ""
    error_en: str = ""


class RatingPad(KioskWindow):
    """The rating pad window; :meth:`ask` shows the levels for a finished ticket."""

    def __init__(self, config: TerminalConfig, rate: Callable[[int, str], Any], speaker: Speaker | None = None,
                 on_outcome: Callable[[RatingOutcome], None] | None = None, timeout_s: float = RATE_TIMEOUT_S,
                 warn_before_s: float = WARN_BEFORE_S, thanks_s: float = THANKS_S) -> None:
        self._rate = rate
        self.speaker = speaker
        self._on_outcome = on_outcome
        self.timeout_s = timeout_s
        self.warn_before_s = min(warn_before_s, timeout_s)
        self.thanks_s = thanks_s
        self.window_no = config.counter.window if config.counter else 0
        self.ticket: Ticket | None = None
        self.chosen: Level | None = None
        self._last_key = "ask"  # what "再听一遍" says again
        self.outcome: RatingOutcome | None = None
        self._error: tuple[str, str] | None = None
        self._sending = False
        self._left_s = 0.0
        super().__init__(config, checker=lambda _config: [])
        self.strip.hide()  # a resident needs no device list
        self._build_pad()
        self._countdown = QTimer(self)
        self._countdown.setInterval(250)
        self._countdown.timeout.connect(self._tick_countdown)
        self._thanks_timer = QTimer(self)
        self._thanks_timer.setSingleShot(True)
        self._thanks_timer.timeout.connect(self.back_to_waiting)
        self._render()

    # -- layout ---------------------------------------------------------------------------
    def _build_pad(self) -> None:
        rate = QWidget(objectName="page_rate")
        rate.setStyleSheet(BUTTONS_SHEET)
        rl = QVBoxLayout(rate)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.setSpacing(10)
        rl.addStretch(1)
        self.ask_heading = label("heading")
        self.ticket_words = label("big_info")
        rl.addWidget(self.ask_heading)
        rl.addWidget(self.ticket_words)
        # one column: the levels, then the time limit's warning beside "more time" and "no rating";
        # as wide as the longest level needs, and no wider than COLUMN_MAX_PX on a big screen
        column = QWidget(objectName="rate_column")
        column.setMaximumWidth(COLUMN_MAX_PX)
        cl = QVBoxLayout(column)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(6)
        self.level_buttons: dict[str, QPushButton] = {}
        for level in LEVELS:
            button = QPushButton(objectName="rate_level")
            button.clicked.connect(lambda _=False, lv=level: self.choose(lv))
            button.setAccessibleName(f"{level.zh} / {level.en}")
            self.level_buttons[level.key] = button
            cl.addWidget(button)
        bottom = QHBoxLayout()
        bottom.setSpacing(16)
        self.warning = label("warning")
        self.more_time = QPushButton(objectName="more_time")
        self.more_time.clicked.connect(self.extend)
        self.skip = QPushButton(objectName="skip")
        self.skip.clicked.connect(lambda: self.finish_without_rating())
        self.repeat = QPushButton(objectName="skip")  # styled as "no rating": same size, same row
        self.repeat.clicked.connect(self.say_again)
        bottom.addStretch(1)
        bottom.addWidget(self.more_time)
        bottom.addWidget(self.repeat)
        bottom.addWidget(self.skip)
        bottom.addStretch(1)
        cl.addWidget(self.warning)  # the time limit's words on a line of their own, the buttons under them
        cl.addLayout(bottom)
        centred = QHBoxLayout()
        centred.addStretch(1)
        centred.addWidget(column, 100)
        centred.addStretch(1)
        rl.addLayout(centred)
        rl.addStretch(1)
        self.add_page("rate", rate)

        thanks = QWidget(objectName="page_thanks")
        tl = QVBoxLayout(thanks)
        tl.addStretch(1)
        self.thanks_heading = label("heading")
        self.thanks_choice = label("big_info")
        self.thanks_note = label("caption")
        for w in (self.thanks_heading, self.thanks_choice, self.thanks_note):
            tl.addWidget(w)
        tl.addStretch(1)
        self.add_page("thanks", thanks)

    def present(self, size: tuple[int, int] = (1280, 800)) -> None:
        """Show the pad: full screen on the second screen when there is one, else as a window."""
        screens = QGuiApplication.screens()
        if len(screens) > 1:
            self.setGeometry(screens[1].geometry())
            self.showFullScreen()
        else:
            self.resize(*size)
            self.show()

    # -- behaviour ------------------------------------------------------------------------
    def ask(self, ticket: Ticket) -> None:
        """Ask the resident of finished ``ticket`` for a rating (replaces any open question)."""
        self._thanks_timer.stop()
        self.ticket = ticket
        self.chosen = None
        self.outcome = None
        self._error = None
        self._sending = False
        self._left_s = self.timeout_s
        self._countdown.start()
        self._render()
        self.show_page("rate")
        self._say("ask")

    def extend(self) -> None:
        """More time: restart the time limit and hide the warning."""
        if self.current_page == "rate":
            self._left_s = self.timeout_s
            self._render()

    def say_again(self) -> None:
        """"再听一遍": the pad's last prompt again, with the full time to answer."""
        if self.speaker is not None:
            self.speaker.cancel()
        self.extend()
        self._say(self._last_key)

    def choose(self, level: Level) -> None:
        """The resident pressed a level: send it off the GUI thread, then thank them."""
        if self.ticket is None or self._sending or self.current_page != "rate":
            return
        self._sending = True
        self.chosen = level
        self._countdown.stop()
        ticket_id = self.ticket.id
        self._render()
        run_in_background(lambda: self._rate(ticket_id, level.key), self._sent, self._not_sent)

    def finish_without_rating(self) -> None:
        """Go back to waiting without a rating (the resident declined or the time ran out)."""
        if self.ticket is not None and self.current_page == "rate" and not self._sending:
            self._report(RatingOutcome(self.ticket.number, None))
        self.back_to_waiting()

    def back_to_waiting(self) -> None:
        """Show the waiting page; language and volume go back to the defaults for the next resident."""
        self._countdown.stop()
        self._thanks_timer.stop()
        self.ticket = None
        self._sending = False
        self.reset_for_next_resident()
        self._render()
        self.show_page("idle")

    def _sent(self, _rating: Any) -> None:
        self._thank(None)

    def _not_sent(self, exc: BaseException) -> None:
        if isinstance(exc, HallError):
            self._thank((exc.words_zh, exc.words_en))
        else:
            self._thank(("出现故障", f"an error occurred ({type(exc).__name__})"))

    def _thank(self, error: tuple[str, str] | None) -> None:
        if self.ticket is None or self.chosen is None:
            return
        self._error = error
        self._report(RatingOutcome(self.ticket.number, self.chosen, *(error or ("", ""))))
        self._sending = False
        self._render()
        self.show_page("thanks")
        self._say("not_saved" if error else "thanks")
        self._thanks_timer.start(round(self.thanks_s * 1000))

    def _report(self, outcome: RatingOutcome) -> None:
        self.outcome = outcome
        if self._on_outcome is not None:
            self._on_outcome(outcome)

    def _tick_countdown(self) -> None:
        was_warning = self._left_s <= self.warn_before_s
        self._left_s -= self._countdown.interval() / 1000
        if self._left_s <= 0:
            self.finish_without_rating()
            return
        self._render()
        if not was_warning and self._left_s <= self.warn_before_s:
            self._say("warning")

    # -- words ----------------------------------------------------------------------------
    def _words(self, key: str) -> str:
        pair = WORDS[key]
        return pair[0] if self.language == "zh" else pair[1]

    def _params(self) -> dict[str, Any]:
        number = self.ticket.number if self.ticket else ""
        level = ""
        if self.chosen is not None:
            level = self.chosen.zh if self.language == "zh" else self.chosen.en
        words = ""
        if self._error:
            words = self._error[0] if self.language == "zh" else self._error[1]
        return {"window": self.window_no, "number": number, "seconds": max(0, round(self._left_s)),
                "level": level, "words": words}

    def _say(self, key: str) -> None:
        if key != "warning":
            self._last_key = key  # "再听一遍" repeats what the page is about, not the warning
        if self.speaker is not None:
            self.speaker.say(self._words(key).format(**self._params()), self.language)

    def _render(self) -> None:
        zh = self.language == "zh"
        p = self._params()
        self.title.setText(self._words("title"))
        self.prompt.setText(self._words("idle"))
        self.subprompt.setText(self._words("idle_sub").format(**p))
        self.ask_heading.setText(self._words("ask"))
        for level in LEVELS:
            first, second = (level.zh, level.en) if zh else (level.en, level.zh)
            mark = "✔ " if self.chosen is level else ""
            stars = "★" * level.score  # a second cue besides the words: more stars, more satisfied
            self.level_buttons[level.key].setText(f"{mark}{stars}  {first}  ·  {second}")
        self.ticket_words.setText(self._words("ticket").format(**p) if self.ticket else "")
        warn = self.current_page == "rate" and 0 < self._left_s <= self.warn_before_s and not self._sending
        self.warning.setText(self._words("sending") if self._sending else
                             self._words("warning").format(**p) if warn else "")
        self.more_time.setText(self._words("more_time"))
        self.more_time.setVisible(warn)
        self.skip.setText(self._words("skip"))
        self.repeat.setText(self._words("repeat"))
        if self._error:
            self.thanks_heading.setText(self._words("your_choice").format(**p))
            self.thanks_choice.setText(self._words("not_saved").format(**p))
        else:
            self.thanks_heading.setText(self._words("thanks"))
            self.thanks_choice.setText(self._words("your_choice").format(**p))
        self.thanks_note.setText(self._words("goodbye"))

    def refresh_status(self) -> None:
        """The pad shows no device list: nothing to probe (and no answer to land on a closed pad)."""

    def language_changed(self) -> None:
        """Redraw the pad's pages in the new language."""
        self._render()

    def speaker_volume_changed(self, volume: int) -> None:
        """The pad's voice follows its volume buttons."""
        if self.speaker is not None:
            self.speaker.volume = volume
