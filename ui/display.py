"""The hall TV: the current call big ("请 A012 号 / 到 3 号窗口"), the last calls, waiting counts, info when idle.

A Python thread reads the hall service's push channel (SSE, through
:meth:`~kiosk.hall.client.HallClient.events`) and hands each event to a :class:`Feed` QObject,
whose signals Qt queues to the GUI thread (the :class:`ui.hall_app.Bridge` pattern).  The client
reconnects on its own and replays missed calls; while the link is down the screen says
"正在连接叫号服务…" in words.

Voice: each new call is spoken once through :meth:`kiosk.voice.Speaker.call` — a chime, then
"请 A零一二 号，到 3 号窗口" in Mandarin (the hall's language; no English follows, so a call stays
within DESIGN §8's 4 s, and four windows calling at once are heard one after another, each once).
A recall says the recall words (the speaker says them twice).  Calls older than
:data:`SPEAK_MAX_AGE_S` (replayed after an outage) are shown, not spoken.

Screen: a TV nobody touches, so the header's language and volume controls are hidden and no
button shows; the window is resident-facing (at most one "设备维护中" line, from the shell).
Sizes follow the screen (:mod:`ui.display_style`): the call's two lines take about 30 % of a
16:9 screen's height, every other line ≥ 4.5 %; recomputed on every resize.  White and yellow
on near-black navy.  Languages: every text is in the display's language (``config.language``,
Chinese by default), and the call and each info item also show a smaller line in the other
language under them, since a TV cannot be switched by touch.

Between calls the info panel rotates the tips and, when the hall knows them, "本月最受欢迎的菜":
the month's five most popular canteen dishes with their portions, which the central publishes
(``terminal_config`` ``top_dishes``, :mod:`kiosk.hall.display_info`) and the hall service hands
out at ``/v1/display/info``; a second feed thread reads it every :data:`TOP_DISHES_POLL_S`.

    window = open_display(config)          # from a display TerminalConfig
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from kiosk.config import TerminalConfig
from kiosk.hall.client import HallAuthRefused, HallClient
from kiosk.hall.display_info import TopDishes
from kiosk.hall.errors import HallError
from kiosk.hall.tickets import Call, Snapshot
from kiosk.voice import Speaker
from ui.display_style import (
    CALL_WIDTH_USE,
    MAIN,
    MAIN_PT,
    MIN_PT,
    SHRINK,
    display_qss,
    fit_pt,
    margin_px,
    point_sizes,
    two_lines,
)
from ui.qt import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QObject,
    QStackedWidget,
    Qt,
    QTimer,
    QVBoxLayout,
    QWidget,
    Signal,
)
from ui.shell import KioskWindow
from ui.widgets import grid_row, label

CALL_HOLD_S = 60.0  # seconds a call stays on the calls panel (big, or under "other windows")
ROTATE_S = 8.0  # seconds each info item stays
RECENT = 5  # calls in the "last calls" list
OTHERS = 3  # fresh calls of other windows listed under the big call
SPEAK_MAX_AGE_S = 120.0  # calls older than this (replayed after an outage) are shown but not spoken
SPEAK_LANGUAGE = "zh"  # the hall speaks Mandarin, whatever the screen's language
MIN_WINDOW = (640, 360)  # the smallest window the display lays itself out for, in pixels
SIDE_SHARE = (0.34, 0.5)  # least and most of the body's width for the last calls and the waiting counts
log = logging.getLogger(__name__)

RETRY_S, MAX_RETRY_S = 0.5, 10.0  # feed retry delays when the snapshot cannot be read, in seconds
TOP_DISHES_POLL_S = 300.0  # seconds between two reads of the top dishes (the central publishes them daily)

DEFAULT_INFO: tuple[tuple[str, str], ...] = (
    ("叫到您的号码时，请到对应窗口办理", "When your number is called, please go to the window shown"),
    ("过号的居民请到服务台，工作人员会为您重新叫号", "Missed your call? Please see the front desk"),
    ("需要帮助请找大厅工作人员", "Need help? Please ask the hall staff"),
)

WORDS: dict[str, tuple[str, str]] = {
    "calling": ("正在叫号", "Now calling"),
    "call_big": ("请 {number} 号\n到 {window} 号窗口", "Number {number}\nto window {window}"),
    "call_alt": ("请 {number} 号到 {window} 号窗口", "Number {number}, please go to window {window}"),
    "recall": ("（再次呼叫）", " (called again)"),
    "others": ("其他窗口：", "Other windows:"),
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
    "dishes_heading": ("本月最受欢迎的菜", "This month's most popular dishes"),
    "dishes_heading_month": ("{month} 月最受欢迎的菜", "Most popular dishes of {month}"),
    "dish_line": ("{n}. {dish}　{qty} 份", "{n}. {dish}  {qty} portions"),
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
    top_dishes = Signal(object)  # TopDishes | None

    def __init__(self, client: HallClient, recent: int = RECENT, top_dishes_poll_s: float = TOP_DISHES_POLL_S
                 ) -> None:
        super().__init__()
        self.client = client
        self.recent = recent
        self.top_dishes_poll_s = top_dishes_poll_s
        self.stop_event = threading.Event()
        self._thread = threading.Thread(target=self._run, name="display-feed", daemon=True)
        self._dishes_thread = threading.Thread(target=self._run_dishes, name="display-dishes", daemon=True)

    def start(self) -> None:
        """Start reading in background threads (the push channel; the top dishes now and then)."""
        self._thread.start()
        self._dishes_thread.start()

    def _run_dishes(self) -> None:
        while not self.stop_event.is_set():
            try:
                found = self.client.top_dishes()
            except Exception as exc:  # down or refused: the push channel says so; keep what is shown
                log.debug("display top dishes: %s", exc)
            else:
                if not self._emit(self.top_dishes, found):
                    return
            if self.stop_event.wait(self.top_dishes_poll_s):
                return

    def stop(self) -> None:
        """Ask the reader to stop (it ends at its next event or retry, or when the client closes)."""
        self.stop_event.set()

    def join(self, timeout_s: float = 1.0) -> None:
        """Wait (bounded) for the reader threads to end."""
        for thread in (self._thread, self._dishes_thread):
            if thread.is_alive():
                thread.join(timeout_s)

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


def _panel() -> tuple[QFrame, QVBoxLayout]:
    """A dark framed panel of the display and its layout (margins set by the window's scale)."""
    frame = QFrame(objectName="display_panel")
    return frame, QVBoxLayout(frame)


class DisplayWindow(KioskWindow):
    """The calling display of one hall; owns its client and feed (stopped with the window)."""

    def __init__(self, config: TerminalConfig, client: HallClient, speaker: Speaker | None = None,
                 info: Sequence[str | tuple[str, str]] = DEFAULT_INFO,
                 checker: Callable[[TerminalConfig], list] | None = None, call_hold_s: float = CALL_HOLD_S,
                 rotate_s: float = ROTATE_S, recent: int = RECENT,
                 top_dishes_poll_s: float = TOP_DISHES_POLL_S) -> None:
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
        self.top_dishes: TopDishes | None = None  # from the hall service, when the central published them
        self.info_index = 0
        self.owned: list[Callable[[], None]] = []
        self._arrived: dict[int, float] = {}  # window -> monotonic time its latest call arrived
        self._closed = False
        self._scale: tuple[int, int] | None = None  # the window size the sizes were computed for
        self._pt: dict[str, float] = {}  # point size of each text, for the window's size
        self.panel_layouts: list[QVBoxLayout] = []  # set by _build_display; scaled by apply_scale
        super().__init__(config, checker=checker, resident_facing=True)
        for control in (self.language_button, self.volume_down, self.volume_label, self.volume_up):
            control.setVisible(False)  # a TV nobody touches: its language and volume come from the config
        self._base_qss = self.styleSheet()
        # the layout's own minimum is that of the current sizes: it must not stop a shrink that makes them smaller
        self.setMinimumSize(*MIN_WINDOW)
        self._build_display()
        self.show_page("calls")
        self._rotate = QTimer(self)
        self._rotate.timeout.connect(self._next_info)
        self._rotate.start(round(rotate_s * 1000))
        self._idle_check = QTimer(self)
        self._idle_check.timeout.connect(self.render)
        self._idle_check.start(1000)
        self.feed = Feed(client, recent, top_dishes_poll_s)
        self.feed.snapshot.connect(self.apply_snapshot)
        self.feed.top_dishes.connect(self.set_top_dishes)
        self.feed.call.connect(self.show_call)
        self.feed.counts.connect(self.set_counts)
        self.feed.link.connect(self.set_link)
        self.apply_scale()
        self.render()
        self.feed.start()

    def _build_display(self) -> None:
        page = QWidget(objectName="page_calls")
        outer = QVBoxLayout(page)
        outer.setContentsMargins(0, 0, 0, 0)
        self.page_layout = outer
        self.banner = label("display_banner")
        outer.addWidget(self.banner)
        row = QHBoxLayout()
        self.row_layout = row
        self.main_stack = QStackedWidget()
        call_view, cl = _panel()
        self.calling_heading = label("display_heading")
        self.call_big = label("display_call")
        self.call_service = label("display_service")
        self.call_alt = label("display_alt")
        top_left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop
        self.others_heading = label("display_subheading", wrap=False, align=Qt.AlignmentFlag.AlignRight
                                    | Qt.AlignmentFlag.AlignTop)
        self.others = label("display_line", wrap=False, align=top_left)
        cl.addWidget(self.calling_heading)
        cl.addStretch(1)
        for w in (self.call_big, self.call_service, self.call_alt):
            cl.addWidget(w)
        cl.addStretch(1)
        others_row = QHBoxLayout()
        self.others_layout = others_row
        others_row.addStretch(1)
        others_row.addWidget(self.others_heading)
        others_row.addWidget(self.others)
        others_row.addStretch(1)
        cl.addLayout(others_row)
        info_view, il = _panel()
        self.info_heading = label("display_heading")
        self.info_text = label("display_info")
        self.info_alt = label("display_alt")
        self.info_page = label("display_caption")
        il.addWidget(self.info_heading)
        il.addStretch(1)
        il.addWidget(self.info_text)
        il.addWidget(self.info_alt)
        il.addStretch(1)
        il.addWidget(self.info_page)
        self.main_stack.addWidget(call_view)
        self.main_stack.addWidget(info_view)
        self.call_view, self.info_view = call_view, info_view
        row.addWidget(self.main_stack, 1)
        self.side = QWidget(objectName="display_side")
        side = QVBoxLayout(self.side)
        side.setContentsMargins(0, 0, 0, 0)
        self.side_layout = side
        recent, rl = _panel()
        self.recent_heading = label("display_heading")
        rl.addWidget(self.recent_heading)
        self.recent_labels: list[QLabel] = []
        for _ in range(self.recent_n):
            lbl = label("display_line", align=Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            self.recent_labels.append(lbl)
            rl.addWidget(lbl)
        rl.addStretch(1)
        side.addWidget(recent, 3)
        waiting, wl = _panel()
        self.waiting_heading = label("display_heading")
        wl.addWidget(self.waiting_heading)
        self.waiting_grid = QGridLayout()
        self.waiting_grid.setColumnStretch(0, 1)
        wl.addLayout(self.waiting_grid)
        self.waiting_none = label("display_line")
        wl.addWidget(self.waiting_none)
        wl.addStretch(1)
        self.waiting_labels: dict[str, tuple[QLabel, QLabel]] = {}
        self._count_probe = label("display_count", wrap=False)  # never shown: measures the counts' font
        self._count_probe.setParent(waiting)
        self._count_probe.hide()
        side.addWidget(waiting, 2)
        row.addWidget(self.side)
        outer.addLayout(row, 1)
        self.panel_layouts = [cl, il, rl, wl]
        self.add_page("calls", page)

    # -- sizes follow the screen ----------------------------------------------------------------------------
    def resizeEvent(self, event: Any) -> None:
        """Recompute the text sizes for the new window size."""
        super().resizeEvent(event)
        self.apply_scale()

    def apply_scale(self) -> None:
        """Text sizes, margins and the side column's width from the window's size (no-op when unchanged)."""
        size = (self.width(), self.height())
        if size == self._scale or not self.panel_layouts:
            return
        self._scale = size
        width, height = size
        gap = margin_px(width, height)
        self._pt = point_sizes(width, height, self.logicalDpiY())
        self.setStyleSheet(self._base_qss + display_qss(self._pt, gap))
        for layout in self.panel_layouts:
            layout.setContentsMargins(2 * gap, gap, 2 * gap, gap)
            layout.setSpacing(gap // 2)
        self.page_layout.setSpacing(gap)
        self.row_layout.setSpacing(gap)
        self.others_layout.setSpacing(gap)
        self.side_layout.setSpacing(gap)
        self.waiting_grid.setHorizontalSpacing(2 * gap)
        self.render()

    def _body_width(self) -> int:
        margins = self.body.contentsMargins()
        return max(1, self.width() - margins.left() - margins.right())

    def _fit_side(self) -> None:
        """The side column: as wide as its longest line needs (a waiting service and its count, a last call),
        within :data:`SIDE_SHARE` of the body, so long service names stay on one line and the call keeps its room."""
        gap = margin_px(self.width(), self.height())
        for lbl in (self.waiting_none, self._count_probe, self.recent_heading, self.waiting_heading):
            lbl.ensurePolished()
        line, count, heading = (self.waiting_none.fontMetrics(), self._count_probe.fontMetrics(),
                                self.recent_heading.fontMetrics())
        longest_call = self._t("recent_line", number="A000", window=88) + self._t("recent_again")
        need = max(line.horizontalAdvance(longest_call),
                   *(line.horizontalAdvance(lbl.text()) for lbl in self.recent_labels),
                   *(heading.horizontalAdvance(self._t(k)) for k in ("recent_heading", "waiting_heading")),
                   *(line.horizontalAdvance(name.text()) + 2 * gap
                     + count.horizontalAdvance(self._t("waiting_count", count=888))
                     for name, _count in self.waiting_labels.values()))
        low, high = (round(self._body_width() * share) for share in SIDE_SHARE)
        side = max(low, min(high, need + 4 * gap + 8))  # panel margins, its border and a little air
        if self.side.maximumWidth() != side:
            self.side.setFixedWidth(side)

    def _call_width(self) -> float:
        """The inner width of the call panel, from the window's width (the layout may not have run yet)."""
        gap = margin_px(self.width(), self.height())
        return self._body_width() - self.side.maximumWidth() - gap - 4 * gap - 4

    def _fit_call(self) -> None:
        """The call's size: its share of the screen, smaller only when its longest line would not fit the panel."""
        self._set_pt(self.call_big, fit_pt(self.call_big, self._call_width() * CALL_WIDTH_USE, self._pt["call"]))

    def _set_text(self, lbl: QLabel, text: str, size: str) -> None:
        """Show ``text`` in ``lbl`` (a line of the main panel) at its ``size``: on one line, or two balanced lines,
        a little smaller if that is all it takes (:data:`SHRINK`), else wrapped at full size."""
        most, width = self._pt[size], self._call_width() * CALL_WIDTH_USE
        key = f"{most}|{width}|{text}"
        if lbl.property("fitted_for") == key:  # the same text at the same size: nothing to redo (every second)
            return
        lbl.setProperty("fitted_for", key)
        floor = MAIN_PT if size in MAIN else MIN_PT
        for shown, shrink in zip((text, two_lines(text)), SHRINK, strict=True):
            lbl.setText(shown)
            pt = fit_pt(lbl, width, most)
            if pt >= max(most * shrink, floor):
                self._set_pt(lbl, pt)
                return
        lbl.setText(text)
        self._set_pt(lbl, most)

    def _set_lines(self, lbl: QLabel, text: str, size: str) -> None:
        """Show ``text``'s lines as they are, at ``size`` or smaller if the widest would not fit (never below
        the main-message size)."""
        most, width = self._pt[size], self._call_width() * CALL_WIDTH_USE
        key = f"{most}|{width}|{text}"
        if lbl.property("fitted_for") == key:
            return
        lbl.setProperty("fitted_for", key)
        lbl.setText(text)
        self._set_pt(lbl, most)  # measure at full size
        self._set_pt(lbl, max(fit_pt(lbl, width, most), MAIN_PT if size in MAIN else MIN_PT))

    def _set_pt(self, lbl: QLabel, pt: float) -> None:
        """Give ``lbl`` its own font size (over the window's stylesheet), restyling only on a change."""
        if lbl.property("fitted_pt") != pt:
            lbl.setProperty("fitted_pt", pt)
            lbl.setStyleSheet(f"font-size: {pt}pt;")

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
        """A new call: big on screen at once, into the last calls, and spoken once (a chime, then the words)."""
        if any(c.id == call.id for c in self.recent):
            return
        self.current[call.window] = call
        self._arrived[call.window] = time.monotonic()
        self.recent = [call, *self.recent][: self.recent_n]
        self.latest = call
        self.render()
        if self.speaker is not None and _age_s(call) <= SPEAK_MAX_AGE_S:
            self.speaker.call(call.number, call.window, SPEAK_LANGUAGE, recall=call.kind == "recall")

    def set_counts(self, waiting: dict[str, int]) -> None:
        """New waiting counts per service."""
        self.waiting = waiting
        self.render()

    def set_top_dishes(self, top: TopDishes | None) -> None:
        """The month's most popular dishes (None: the hall knows none); shown as one more info item."""
        if top != self.top_dishes:
            self.top_dishes = top
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

    def _alt(self, key: str, **params: Any) -> str:
        """``key``'s words in the other language (the smaller line)."""
        pair = WORDS[key]
        return (pair[1] if self.language == "zh" else pair[0]).format(**params)

    @property
    def idle(self) -> bool:
        """True when the info panel shows: no call for ``call_hold_s`` seconds and there is info to show."""
        quiet = self.latest is None or not self._fresh(self.latest.window)
        return quiet and bool(self.info_items())

    def info_items(self) -> list[tuple[tuple[str, str], tuple[str, str], tuple[str, str]]]:
        """What the info panel rotates: (heading, text, smaller line), each as (zh, en).

        The tips (the smaller line is the text in the other language, or nothing when it has one
        language only), then the top dishes when known (the smaller line: the heading in the other language).
        """
        tips = [(WORDS["info_heading"], item, (item[1], item[0]) if item[0] != item[1] else ("", ""))
                for item in self.info]
        top = self.top_dishes
        if top is None:
            return tips
        if top.month == datetime.now(SHANGHAI).strftime("%Y-%m"):
            heading = WORDS["dishes_heading"]
        else:
            heading = tuple(w.format(month=int(top.month[5:]) if i == 0 else top.month)  # type: ignore[assignment]
                            for i, w in enumerate(WORDS["dishes_heading_month"]))
        lines = tuple("\n".join(WORDS["dish_line"][i].format(n=n, dish=dish, qty=qty)
                                 for n, (dish, qty) in enumerate(top.dishes, 1)) for i in (0, 1))
        return [*tips, (heading, lines, (heading[1], heading[0]))]  # type: ignore[list-item]

    def _fresh(self, window: int) -> bool:
        """True while the latest call to ``window`` is younger than ``call_hold_s``."""
        return time.monotonic() - self._arrived.get(window, float("-inf")) <= self.call_hold_s

    def _next_info(self) -> None:
        items = self.info_items()
        if items:
            self.info_index = (self.info_index + 1) % len(items)
        self.render()

    def render(self) -> None:
        """Redraw the display from its state in the current language."""
        idx = 0 if self.language == "zh" else 1
        self._render_side(idx)
        self._fit_side()  # the side's width first: the main panel's texts fit what is left
        self._render_main(idx)
        self._fit_call()

    def _render_main(self, idx: int) -> None:
        self.banner.setText("" if self.connected else "⚠ " + self.down_words[idx])
        self.banner.setVisible(not self.connected)
        self.calling_heading.setText(self._t("calling"))
        latest = self.latest
        if latest is not None:
            self.call_big.setText(self._t("call_big", number=latest.number, window=latest.window))
            alt = self._alt("call_alt", number=latest.number, window=latest.window)
            name = latest.service_name_zh if idx == 0 else latest.service_name_en
            service = name + (self._t("recall") if latest.kind == "recall" else "")
        else:
            self.call_big.setText(self._t("no_calls"))
            alt, service = self._alt("no_calls"), ""
        self._set_text(self.call_alt, alt, "alt")
        self._set_text(self.call_service, service, "service")
        self.call_service.setVisible(bool(self.call_service.text()))
        others = sorted((c for w, c in self.current.items() if (latest is None or w != latest.window)
                         and self._fresh(w)), key=lambda c: -c.id)[:OTHERS]  # the newest first
        self.others_heading.setText(self._t("others"))
        self.others_heading.setVisible(bool(others))
        self.others.setText("\n".join(self._t("other", number=c.number, window=c.window) for c in others))
        self.others.setVisible(bool(others))
        self.main_stack.setCurrentWidget(self.info_view if self.idle else self.call_view)
        items = self.info_items()
        if items:
            self.info_index %= len(items)
            heading, text, alt = items[self.info_index]
            self.info_heading.setText(heading[idx])
            if "\n" in text[idx]:  # the dishes, one per line: as large as the widest line allows
                self._set_lines(self.info_text, text[idx], "info")
            else:
                self._set_text(self.info_text, text[idx], "info")
            self._set_text(self.info_alt, alt[idx], "alt")
            self.info_alt.setVisible(bool(self.info_alt.text()))
            self.info_page.setText(self._t("info_page", n=self.info_index + 1, total=len(items)))

    def _render_side(self, idx: int) -> None:
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
        return grid_row(self.waiting_grid, self.waiting_labels, code, "display_line", "display_count")

    def language_changed(self) -> None:
        """Redraw in the new language."""
        self.render()

    def speaker_volume_changed(self, volume: int) -> None:
        """The speaker follows the window's volume (from the config; the display has no buttons)."""
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


SHANGHAI = timezone(timedelta(hours=8))  # the month the top dishes name is a Shanghai month


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
