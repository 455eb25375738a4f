"""The hall TV: current calls big ("请 A012 号 到 3 号窗口"), the last calls, waiting counts, an info panel when idle.

A Python thread reads the hall service's push channel (SSE, through
:meth:`~kiosk.hall.client.HallClient.events`) and hands each event to a :class:`Feed` QObject,
whose signals Qt queues to the GUI thread (the :class:`ui.hall_app.Bridge` pattern).  The client
reconnects on its own and replays missed calls; while the link is down the screen says
"正在连接叫号服务…" in words.  Each new call is spoken twice through the :class:`~kiosk.voice.Speaker`.

    window = open_display(config)          # from a display TerminalConfig
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from kiosk.config import TerminalConfig
from kiosk.hall.client import HallAuthRefused, HallClient
from kiosk.hall.errors import HallError
from kiosk.hall.tickets import Call, Snapshot
from kiosk.voice import Speaker, call_text
from ui.qt import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QObject,
    QStackedWidget,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ui.shell import KioskWindow
from ui.widgets import grid_row, label, panel

CALL_HOLD_S = 60.0  # seconds a call stays on the calls panel (big, or under "other windows")
ROTATE_S = 8.0  # seconds each info item stays
RECENT = 5  # calls in the "last calls" list
SPEAK_MAX_AGE_S = 120.0  # calls older than this (replayed after an outage) are shown but not spoken
log = logging.getLogger(__name__)

RETRY_S, MAX_RETRY_S = 0.5, 10.0  # feed retry delays when the snapshot cannot be read, in seconds

DEFAULT_INFO: tuple[tuple[str, str], ...] = (
    ("叫到您的号码时，请到对应窗口办理", "When your number is called, please go to the window shown"),
    ("过号的居民请到服务台，工作人员会为您重新叫号", "Missed your call? Please see the front desk"),
    ("需要帮助请找大厅工作人员", "Need help? Please ask the hall staff"),
)

WORDS: dict[str, tuple[str, str]] = {
    "calling": ("正在叫号", "Now calling"),
    "call_big": ("请 {number} 号\n到 {window} 号窗口", "Number {number}\nto window {window}"),
    "recall": ("（再次呼叫）", " (called again)"),
    "others": ("其他窗口", "Other windows"),
    "other": ("{number} → {window} 号窗口", "{number} → window {window}"),
    "recent_heading": ("最近叫号", "Last calls"),
    "recent_line": ("{number} → {window} 号窗口", "{number} → window {window}"),
    "recent_again": ("（重呼）", " (again)"),
    "no_calls": ("暂无叫号", "No calls yet"),
    "waiting_heading": ("等候人数", "Waiting"),
    "waiting_count": ("{count} 人", "{count}"),
    "no_data": ("暂无数据", "Not known yet"),
    "info_heading": ("温馨提示", "Information"),
    "info_page": ("第 {n} / {total} 条", "{n} of {total}"),
    "connecting": ("正在连接叫号服务…", "Connecting to the calling service…"),
    "refused": ("叫号服务拒绝了本机：{words}，请联系管理员", "The calling service refused this display: {words}. "
                "Please call the administrator"),
}


class Feed(QObject):
    """Carries the push channel's events from the reader thread to the GUI thread."""

    snapshot = Signal(object)
    call = Signal(object)
    counts = Signal(object)
    link = Signal(bool, object)  # up, (zh, en) words when down

    def __init__(self, client: HallClient, recent: int = RECENT) -> None:
        super().__init__()
        self.client = client
        self.recent = recent
        self.stop_event = threading.Event()
        self._thread = threading.Thread(target=self._run, name="display-feed", daemon=True)

    def start(self) -> None:
        """Start reading in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Ask the reader to stop (it ends at its next event or retry, or when the client closes)."""
        self.stop_event.set()

    def join(self, timeout_s: float = 1.0) -> None:
        """Wait (bounded) for the reader thread to end."""
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _emit(self, signal: Any, *args: Any) -> bool:
        try:
            signal.emit(*args)
            return True
        except RuntimeError:  # the window is gone
            self.stop_event.set()
            return False

    def _run(self) -> None:
        delay = RETRY_S
        while not self.stop_event.is_set():
            try:
                snap = self.client.snapshot(self.recent)
                if not self._emit(self.snapshot, snap):
                    return
                delay = RETRY_S
                for event in self.client.events(after=snap.last_call_id, stop=self.stop_event):
                    if event.event == "connected":
                        ok = self._emit(self.link, True, None)
                    elif event.event == "disconnected":
                        ok = self._emit(self.link, False, WORDS["connecting"])
                    elif event.event == "call" and event.call is not None:
                        ok = self._emit(self.call, event.call)
                    elif event.event == "counts" and isinstance(event.data.get("waiting"), dict):
                        ok = self._emit(self.counts, dict(event.data["waiting"]))
                    else:
                        ok = True
                    if not ok:
                        return
            except HallAuthRefused as exc:
                words = tuple(w.format(words=ws) for w, ws in zip(WORDS["refused"], (exc.words_zh, exc.words_en),
                                                                  strict=True))
                if not self._emit(self.link, False, words):
                    return
            except Exception as exc:  # down, dropped, closed: the reader thread must live on and retry
                if self.stop_event.is_set():
                    return
                log.debug("display feed: %s", exc)
                if not self._emit(self.link, False, WORDS["connecting"]):
                    return
            if self.stop_event.wait(delay):
                return
            delay = min(delay * 2, MAX_RETRY_S)


class DisplayWindow(KioskWindow):
    """The calling display of one hall; owns its client and feed (stopped with the window)."""

    def __init__(self, config: TerminalConfig, client: HallClient, speaker: Speaker | None = None,
                 info: Sequence[str | tuple[str, str]] = DEFAULT_INFO,
                 checker: Callable[[TerminalConfig], list] | None = None, call_hold_s: float = CALL_HOLD_S,
                 rotate_s: float = ROTATE_S, recent: int = RECENT) -> None:
        self.client = client
        self.speaker = speaker
        self.info = [(i, i) if isinstance(i, str) else (i[0], i[1]) for i in info]
        self.call_hold_s = call_hold_s
        self.recent_n = recent
        self.connected = False
        self.down_words: tuple[str, str] = WORDS["connecting"]
        self.current: dict[int, Call] = {}  # window -> its latest call
        self.recent: list[Call] = []  # newest first
        self.latest: Call | None = None
        self.waiting: dict[str, int] = {}
        self.services: list[dict[str, Any]] = []
        self.info_index = 0
        self.owned: list[Callable[[], None]] = []
        self._arrived: dict[int, float] = {}  # window -> monotonic time its latest call arrived
        self._closed = False
        super().__init__(config, checker=checker)
        self._build_display()
        self.show_page("calls")
        self._rotate = QTimer(self)
        self._rotate.timeout.connect(self._next_info)
        self._rotate.start(round(rotate_s * 1000))
        self._idle_check = QTimer(self)
        self._idle_check.timeout.connect(self.render)
        self._idle_check.start(1000)
        self.feed = Feed(client, recent)
        self.feed.snapshot.connect(self.apply_snapshot)
        self.feed.call.connect(self.show_call)
        self.feed.counts.connect(self.set_counts)
        self.feed.link.connect(self.set_link)
        self.render()
        self.feed.start()

    def _build_display(self) -> None:
        page = QWidget(objectName="page_calls")
        outer = QVBoxLayout(page)
        outer.setSpacing(10)
        self.banner = label("banner")
        outer.addWidget(self.banner)
        row = QHBoxLayout()
        row.setSpacing(16)
        self.main_stack = QStackedWidget()
        call_view, cl = panel()
        self.calling_heading = label("panel_heading")
        self.call_big = label("call_big")
        self.call_service = label("big_info")
        self.others_heading = label("caption")
        self.others = label("recent_call")
        cl.addWidget(self.calling_heading)
        cl.addStretch(1)
        for w in (self.call_big, self.call_service):
            cl.addWidget(w)
        cl.addStretch(1)
        cl.addWidget(self.others_heading)
        cl.addWidget(self.others)
        info_view, il = panel()
        self.info_heading = label("panel_heading")
        self.info_text = label("info_text")
        self.info_page = label("caption")
        il.addWidget(self.info_heading)
        il.addStretch(1)
        il.addWidget(self.info_text)
        il.addStretch(1)
        il.addWidget(self.info_page)
        self.main_stack.addWidget(call_view)
        self.main_stack.addWidget(info_view)
        self.call_view, self.info_view = call_view, info_view
        row.addWidget(self.main_stack, 3)
        side = QVBoxLayout()
        side.setSpacing(12)
        recent, rl = panel()
        self.recent_heading = label("panel_heading")
        rl.addWidget(self.recent_heading)
        self.recent_labels: list[QLabel] = []
        for _ in range(self.recent_n):
            lbl = label("recent_call")
            self.recent_labels.append(lbl)
            rl.addWidget(lbl)
        rl.addStretch(1)
        side.addWidget(recent, 3)
        waiting, wl = panel()
        self.waiting_heading = label("panel_heading")
        wl.addWidget(self.waiting_heading)
        self.waiting_grid = QGridLayout()
        self.waiting_grid.setHorizontalSpacing(10)
        self.waiting_grid.setColumnStretch(0, 1)
        wl.addLayout(self.waiting_grid)
        self.waiting_none = label("recent_call")
        wl.addWidget(self.waiting_none)
        wl.addStretch(1)
        self.waiting_labels: dict[str, tuple[QLabel, QLabel]] = {}
        side.addWidget(waiting, 2)
        row.addLayout(side, 2)
        outer.addLayout(row, 1)
        self.add_page("calls", page)

    # -- the feed drives these (GUI thread) -------------------------------------------------------------
    def apply_snapshot(self, snap: Snapshot) -> None:
        """Start from a full read of the service: current calls, last calls, counts, services."""
        self.services = [dict(s) for s in snap.services]
        self.waiting = dict(snap.waiting)
        self.current = {c.window: c for c in snap.current}
        self._arrived = dict.fromkeys(self.current, time.monotonic())
        self.recent = list(snap.recent)[: self.recent_n]
        self.latest = max(snap.current, key=lambda c: c.id) if snap.current else None
        self.render()

    def show_call(self, call: Call) -> None:
        """A new call: big on screen at once, into the last calls, and spoken twice."""
        if any(c.id == call.id for c in self.recent):
            return
        self.current[call.window] = call
        self._arrived[call.window] = time.monotonic()
        self.recent = [call, *self.recent][: self.recent_n]
        self.latest = call
        self.render()
        if self.speaker is not None and _age_s(call) <= SPEAK_MAX_AGE_S:
            self.speaker.say(call_text(call.number, call.window, self.language), self.language, repeat=2)

    def set_counts(self, waiting: dict[str, int]) -> None:
        """New waiting counts per service."""
        self.waiting = waiting
        self.render()

    def set_link(self, up: bool, words: tuple[str, str] | None) -> None:
        """The push channel is up, or down with the words to show."""
        self.connected = up
        if words:
            self.down_words = words
        self.render()

    # -- words ------------------------------------------------------------------------------------------
    def _t(self, key: str, **params: Any) -> str:
        pair = WORDS[key]
        return (pair[0] if self.language == "zh" else pair[1]).format(**params)

    @property
    def idle(self) -> bool:
        """True when the info panel shows: no call for ``call_hold_s`` seconds and there is info to show."""
        quiet = self.latest is None or not self._fresh(self.latest.window)
        return quiet and bool(self.info)

    def _fresh(self, window: int) -> bool:
        """True while the latest call to ``window`` is younger than ``call_hold_s``."""
        return time.monotonic() - self._arrived.get(window, float("-inf")) <= self.call_hold_s

    def _next_info(self) -> None:
        if self.info:
            self.info_index = (self.info_index + 1) % len(self.info)
        self.render()

    def render(self) -> None:
        """Redraw the display from its state in the current language."""
        idx = 0 if self.language == "zh" else 1
        self.banner.setText("" if self.connected else "⚠ " + self.down_words[idx])
        self.banner.setVisible(not self.connected)
        self.calling_heading.setText(self._t("calling"))
        latest = self.latest
        if latest is not None:
            self.call_big.setText(self._t("call_big", number=latest.number, window=latest.window))
            name = latest.service_name_zh if idx == 0 else latest.service_name_en
            self.call_service.setText(name + (self._t("recall") if latest.kind == "recall" else ""))
        else:
            self.call_big.setText(self._t("no_calls"))
            self.call_service.setText("")
        others = [c for w, c in sorted(self.current.items())
                  if (latest is None or w != latest.window) and self._fresh(w)][:3]
        self.others_heading.setText(self._t("others"))
        self.others_heading.setVisible(bool(others))
        self.others.setText("\n".join(self._t("other", number=c.number, window=c.window) for c in others))
        self.others.setVisible(bool(others))
        self.main_stack.setCurrentWidget(self.info_view if self.idle else self.call_view)
        if self.info:
            self.info_index %= len(self.info)
            self.info_heading.setText(self._t("info_heading"))
            self.info_text.setText(self.info[self.info_index][idx])
            self.info_page.setText(self._t("info_page", n=self.info_index + 1, total=len(self.info)))
        self.recent_heading.setText(self._t("recent_heading"))
        for i, lbl in enumerate(self.recent_labels):
            call = self.recent[i] if i < len(self.recent) else None
            again = self._t("recent_again") if call and call.kind == "recall" else ""
            lbl.setText(self._t("recent_line", number=call.number, window=call.window) + again if call else
                        (self._t("no_calls") if i == 0 else ""))
        self.waiting_heading.setText(self._t("waiting_heading"))
        self.waiting_none.setText(self._t("no_data"))
        self.waiting_none.setVisible(not self.services)
        for svc in self.services:
            name, count = self.waiting_row(svc["code"])
            name.setText(svc["name_zh"] if idx == 0 else svc["name_en"])
            count.setText(self._t("waiting_count", count=self.waiting.get(svc["code"], 0)))

    def waiting_row(self, code: str) -> tuple[QLabel, QLabel]:
        """The name and count labels of service ``code``, made on first use."""
        return grid_row(self.waiting_grid, self.waiting_labels, code, "recent_call", "waiting_count")

    def language_changed(self) -> None:
        """Redraw in the new language."""
        self.render()

    def speaker_volume_changed(self, volume: int) -> None:
        """The speaker follows the volume buttons."""
        if self.speaker is not None:
            self.speaker.volume = volume

    # -- life -------------------------------------------------------------------------------------------
    def closeEvent(self, event: Any) -> None:
        """Stop the feed and close the client and what the window owns."""
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop timers and the feed; close the client and owned parts (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._rotate.stop()
        self._idle_check.stop()
        self.feed.stop()
        self.client.close()  # unblocks a reader waiting on the stream
        self.feed.join()
        for close in self.owned:
            close()


def _age_s(call: Call) -> float:
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(call.at)).total_seconds()
    except ValueError:
        return 0.0


def open_display(config: TerminalConfig, speaker: Speaker | None = None,
                 info: Sequence[str | tuple[str, str]] = DEFAULT_INFO) -> DisplayWindow:
    """The calling display of a ``display`` config: client to ``hall_url`` with ``lan.secret``; speaker from ``[voice]``."""
    if config.role != "display" or config.hall_url is None or config.lan is None:
        raise HallError("not_a_display", f"open_display needs a display config, not role {config.role!r}")
    owned = speaker is None
    speaker = speaker or Speaker(config.voice.enabled, config.voice.volume)
    window = DisplayWindow(config, HallClient(config.hall_url, config.lan.secret), speaker=speaker, info=info)
    if owned:
        window.owned.append(speaker.close)
    return window
