"""The counter console: a clerk logs in at a window, calls, serves and finishes tickets; the resident rates.

The clerk logs in by tapping the staff card on the counter's ``[devices.ccard]`` reader (read by
the kiosk, :mod:`kiosk.counter_login`, bridged by :mod:`ui.counter_feeds`) and typing the PIN on
the keypad; a counter without that reader says in words that nobody can log in.  The window
talks to the hall's LAN queue service only through :class:`~kiosk.hall.client.HallClient`, and
only off the GUI thread (:func:`ui.background.run_in_background`).  The service decides what is
allowed: every refusal is shown in the service's own words (wrong PIN, card locked, unknown
card, session ended).  When the service cannot be reached, the console says so ("大厅叫号服务无法
连接"), its buttons say they are unavailable and do nothing, and it retries on its own.  While a
clerk is logged in, the hall's open staff alerts stand on a banner at the top, each with a
"知道了" button; the first clerk to press it takes it off every counter.  After "办结" the
rating pad (:mod:`ui.rating`) asks the resident for a 好差评 rating.  "充值" opens the community
card top-up (:mod:`ui.counter_topup`): while it shows, a card tapped on the reader is the resident's.

    window = open_counter(config)          # from a counter TerminalConfig
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.config import TerminalConfig
from kiosk.counter_login import has_staff_card_reader
from kiosk.hall.client import (
    SESSION_GONE,
    AlertNotice,
    HallAuthRefused,
    HallClient,
    HallClientError,
    HallRefused,
    HallUnavailable,
)
from kiosk.hall.errors import HallError
from kiosk.hall.tickets import Counter, Ticket
from kiosk.voice import Speaker
from ui.background import run_in_background
from ui.counter_feeds import AlertFeed, CardBridge
from ui.counter_pages import (
    DENSE_BELOW,
    AlertBanner,
    CallNumberPage,
    ConsolePage,
    LoginPage,
    TransferPage,
    View,
    dense_sheet,
    words,
)
from ui.counter_topup import TopupFlow
from ui.qt import QTimer
from ui.rating import RatingOutcome, RatingPad
from ui.shell import KioskWindow

SMALLEST_SCREEN = (1024, 768)  # the console fits this screen; on it the pages use the dense layout
POLL_MS = 3000  # how often the console re-reads its window and the waiting counts (and retries when down)
_NUMBER = re.compile(r"^([A-Z]{1,2})(\d{1,3})$")
#: Login refusals after which the tapped card is dropped (another tap is needed); a wrong PIN keeps it.
DROP_CARD = ("unknown_card", "locked", "bad_card")


@dataclass(frozen=True)
class _State:
    """One read of the service: this window, its ticket, the waiting counts and the hall's services."""

    counter: Counter | None
    ticket: Ticket | None
    waiting: dict[str, int]
    services: tuple[dict[str, Any], ...]


def normalise_number(typed: str) -> str | None:
    """A typed ticket number as the queue writes it (``A12`` → ``A012``), or None when incomplete."""
    m = _NUMBER.match(typed.strip().upper())
    return f"{m.group(1)}{int(m.group(2)):03d}" if m else None


class CounterWindow(KioskWindow):
    """The clerk's console at one window; owns its client and its rating pad (closed with the window)."""

    def __init__(self, config: TerminalConfig, client: HallClient, speaker: Speaker | None = None,
                 checker: Callable[[TerminalConfig], list] | None = None, poll_ms: int = POLL_MS,
                 pad_options: dict[str, float] | None = None, read_cards: bool = True,
                 card_driver: Any = None) -> None:
        """``read_cards``: start the staff-card reader (off: taps come only through :meth:`card_tapped`);
        ``card_driver``: an already opened ccard driver instead of the configured one."""
        if config.counter is None:
            raise HallError("not_a_counter", "the counter console needs [counter] with its window number")
        self.client = client
        self.window_no = config.counter.window
        self.preferred = tuple(config.counter.services)
        self.services: list[dict[str, Any]] = [{"code": c, "name_zh": c, "name_en": c} for c in self.preferred]
        self.chosen: set[str] = set(self.preferred)
        self.counter: Counter | None = None
        self.ticket: Ticket | None = None
        self.waiting: dict[str, int] = {}
        self.online: bool | None = None  # None until the first answer
        self.owned: list[Callable[[], None]] = []  # closed with the window (open_counter adds its speaker)
        self._services_loaded = False
        self._message: tuple[str, str, str] | None = None  # tone, zh, en
        self._busy = False
        self._generation = 0
        self._closed = False
        self.has_reader = card_driver is not None or has_staff_card_reader(config)
        self.card_uid: str | None = None  # the tapped staff card, until login (never stored)
        self.staff_name = ""
        self.alerts: list[AlertNotice] = []
        self.alert_feed: AlertFeed | None = None
        super().__init__(config, checker=checker)
        self.login = LoginPage()
        self.console = ConsolePage()
        self.banner: AlertBanner = self.console.banner
        self.banner.ack.clicked.connect(self.acknowledge_shown)
        self.transfer_page = TransferPage()
        self.call_page = CallNumberPage()
        for name, page in (("login", self.login), ("console", self.console), ("transfer", self.transfer_page),
                           ("call_number", self.call_page)):
            self.add_page(name, page)
        self.topup = TopupFlow(self)  # 充值: its pages, and its button on the console
        self._connect()
        self._dense = ""  # the pages' stylesheet on a small screen (see resizeEvent)
        self.setMinimumSize(*SMALLEST_SCREEN)  # never grown past a small screen by its text: the layout fits it
        self.pad = RatingPad(config, rate=lambda tid, level: self.client.rate(self.window_no, tid, level),
                             speaker=speaker, on_outcome=self._rating_outcome, **(pad_options or {}))
        self._poll = QTimer(self)
        self._poll.timeout.connect(self.poll)
        self._poll.start(poll_ms)
        self._second = QTimer(self)
        self._second.timeout.connect(self._render_timer)
        self._second.start(1000)
        self.cards: CardBridge | None = None
        if self.has_reader and read_cards:
            self.cards = CardBridge(config, driver=card_driver)
            self.cards.card.connect(self.card_tapped)
            self.cards.problem.connect(self._card_problem)
            self.cards.ready.connect(self._card_ready)
            self.cards.start()
        self.show_page("login")
        self._set_login_services()
        self.render()
        self.poll()

    def _connect(self) -> None:
        self.login.keypad.on_change = lambda _v: self.render()
        self.login.login_button.clicked.connect(self.log_in)
        self.login.other_card.clicked.connect(self.forget_card)
        handlers: dict[str, Callable[[], None]] = {
            "next": self.call_next, "recall": self.recall, "start": self.start, "no_show": self.no_show,
            "transfer": self.open_transfer, "call_number": self.open_call_number, "finish": self.finish,
            "logout": self.log_out}
        for action, handler in handlers.items():
            self.console.buttons[action].clicked.connect(lambda _=False, h=handler: h())
        self.transfer_page.cancel.clicked.connect(lambda: self._back_to_console())
        self.call_page.cancel.clicked.connect(lambda: self._back_to_console())
        self.call_page.go.clicked.connect(self.call_typed_number)

    # -- talking to the service (always off the GUI thread) -----------------------------------------
    def _read_state(self, logged_in: bool) -> _State:
        snap = self.client.snapshot(1)
        counter, ticket = self.client.counter(self.window_no) if logged_in else (None, None)
        return _State(counter, ticket, dict(snap.waiting), snap.services)

    def _read_or_refusal(self, logged_in: bool) -> _State | HallClientError:
        """The state, or the service's refusal as a value: a poll while the service is down is no crash to log."""
        try:
            return self._read_state(logged_in)
        except HallClientError as exc:
            return exc

    def poll(self) -> None:
        """Re-read the window and counts (or the service list before login); also the retry when down."""
        if self._busy or self._closed:
            return
        generation = self._generation
        logged_in = self.counter is not None
        run_in_background(lambda: self._read_or_refusal(logged_in),
                          lambda state: self._polled(generation, state),
                          lambda exc: self._poll_failed(generation, exc))

    def _polled(self, generation: int, state: _State | HallClientError) -> None:
        if isinstance(state, HallClientError):
            return self._poll_failed(generation, state)
        if generation != self._generation or self._busy or self._closed:
            return  # an action started since: its own answer is newer
        self._set_online(True)
        self._apply(state)

    def _poll_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation or self._busy or self._closed:
            return
        if isinstance(exc, HallRefused) and exc.reason in ("not_logged_in", *SESSION_GONE) and self.counter:
            self._logged_out(exc)
        else:
            self._failed(exc, None)

    def _act(self, action: str, call: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """Send one action; on success refresh the window's state together with it."""
        if self._busy:
            self._tell("warning", "busy")
            return
        if self.online is False:
            self._tell("warning", "down_action", action=self._pair(action))
            self.poll()  # the press doubles as a reconnect attempt
            return
        self._busy = True
        self._generation += 1
        logged_in = self.counter is not None or action == "login"

        def work() -> tuple[Any, _State | None] | HallClientError:
            try:
                result = call()
            except HallClientError as exc:  # a refusal is an answer, not a crash to log
                return exc
            state = self._read_or_refusal(logged_in)
            return result, state if isinstance(state, _State) else None

        run_in_background(work, lambda answer: self._acted(action, done, answer),
                          lambda exc: self._failed(exc, action))

    def _acted(self, action: str, done: Callable[[Any], None],
               answer: tuple[Any, _State | None] | HallClientError) -> None:
        if isinstance(answer, HallClientError):
            return self._failed(answer, action)
        self._busy = False
        if self._closed:  # the answer came after the window closed: nobody to tell
            return
        result, state = answer
        self._set_online(True)
        if state is not None:
            self._apply(state)
        done(result)
        self.render()

    def _failed(self, exc: BaseException, action: str | None) -> None:
        self._busy = False
        if self._closed:
            return
        if isinstance(exc, HallUnavailable):
            self._set_online(False)
            if action:
                self._tell("warning", "down_action", action=self._pair(action))
        elif isinstance(exc, HallAuthRefused):
            self._tell("warning", "auth", words=(exc.words_zh, exc.words_en))
        elif isinstance(exc, HallError):  # HallRefused, HallProtocolError: the service's own words
            if action == "login":
                self.login.keypad.clear()  # a refused PIN never stays on screen
                if exc.reason in DROP_CARD:
                    self.card_uid = None
            elif isinstance(exc, HallRefused) and exc.reason in ("not_logged_in", *SESSION_GONE):
                self._logged_out(exc)
                return
            self._message = ("warning", exc.words_zh, exc.words_en)
        else:
            self._tell("warning", "error", words=type(exc).__name__)
        self.render()

    def _apply(self, state: _State) -> None:
        if state.services:
            self.services = [dict(s) for s in state.services]
            if not self._services_loaded:
                self._services_loaded = True
                codes = [s["code"] for s in self.services]
                self.chosen = {c for c in self.preferred if c in codes} or set(codes)
                self._set_login_services()
        self.waiting = state.waiting
        if state.counter is not None:
            self.counter = state.counter
            self.ticket = state.ticket
        self.render()

    # -- login ------------------------------------------------------------------------------------------
    def _set_login_services(self) -> None:
        self.login.set_services([s["code"] for s in self.services])
        for code, button in self.login.service_buttons.items():
            button.clicked.connect(lambda _=False, c=code: self.toggle_service(c))
        self.call_page.keypad.set_letters([s["code"] for s in self.services])
        self.render()

    def toggle_service(self, code: str) -> None:
        """Choose or un-choose a service on the login page."""
        self.chosen ^= {code}
        self.render()

    def card_tapped(self, uid: str) -> None:
        """A staff card was read on this counter's reader: keep its UID for the login, ask for the PIN."""
        if self.counter is not None and not self._closed and self.topup.showing():
            return self.topup.card_tapped(uid)  # on the top-up pages a tap is the resident's card
        if self.counter is not None or self._closed:
            return  # already logged in: a tap changes nothing
        self.card_uid = uid
        self.login.keypad.clear()
        self._message = None  # the card line above says "card read: type your PIN"
        self.render()

    def forget_card(self) -> None:
        """换一张卡: drop the tapped card and its PIN."""
        self.card_uid = None
        self.login.keypad.clear()
        self._message = None
        self.render()

    def _card_problem(self, _kind: str, zh: str, en: str) -> None:
        if self.counter is None:
            self._message = ("warning", zh, en)
            self.render()

    def _card_ready(self) -> None:
        if self.counter is None:
            self._message = None
            self.render()

    def log_in(self) -> None:
        """Log in with the tapped staff card, the typed PIN and the chosen services."""
        if not self.has_reader:
            return self._tell("warning", "no_reader")
        uid, pin = self.card_uid, self.login.keypad.value
        if uid is None:
            return self._tell("warning", "need_card")
        if not 4 <= len(pin) <= 8:
            return self._tell("warning", "need_pin")
        codes = [s["code"] for s in self.services if s["code"] in self.chosen]
        if not codes:
            return self._tell("warning", "need_service")
        self._tell("info", "logging_in")

        def done(counter: Counter) -> None:
            self.counter = counter
            session = self.client.session(self.window_no)
            self.staff_name = session.display_name if session else ""
            self.card_uid = None
            self.login.keypad.clear()
            self._tell("info", "logged_in")
            self._start_alerts()
            self.show_page("console")

        self._act("login", lambda: self.client.login(self.window_no, uid, pin, codes), done)

    def log_out(self) -> None:
        """Log this window out and go back to the login page."""
        self._act("logout", lambda: self.client.logout(self.window_no), lambda _r: self._logged_out(None))

    def _logged_out(self, exc: HallError | None) -> None:
        self.counter = None
        self.ticket = None
        self.staff_name = ""
        self.topup.reset()
        self._stop_alerts()
        self._message = ("warning", exc.words_zh, exc.words_en) if exc else None
        if exc is None:
            self._tell("info", "logged_out")
        self.show_page("login")
        self.render()

    # -- staff alerts ---------------------------------------------------------------------------------
    def _start_alerts(self) -> None:
        self._stop_alerts()
        feed = AlertFeed(self.client, self.window_no)
        feed.alerts.connect(self._alerts_changed)
        feed.ended.connect(self._alert_feed_ended)
        self.alert_feed = feed
        feed.start()

    def _stop_alerts(self) -> None:
        if self.alert_feed is not None:
            self.alert_feed.stop()
            self.alert_feed = None
        self.alerts = []
        self.render()

    def _alerts_changed(self, alerts: list[AlertNotice]) -> None:
        if self.alert_feed is None or self._closed:
            return  # a late list from a feed already stopped
        self.alerts = list(alerts)
        self.render()

    def _alert_feed_ended(self, exc: HallError) -> None:
        if self.counter is not None and not self._closed:
            self._logged_out(exc)

    def acknowledge_shown(self) -> None:
        """知道了: the clerk has taken care of the alert on the banner."""
        alert_id = self.banner.shown
        alert = next((a for a in self.alerts if a.id == alert_id), None)

        def done(notice: AlertNotice) -> None:
            self.alerts = [a for a in self.alerts if a.id != notice.id]
            self._tell("info", "acknowledged", words=(notice.words_zh, notice.words_en))

        if alert is not None:
            self._act("alert_ack", lambda: self.client.acknowledge(self.window_no, alert_id), done)

    # -- the clerk's actions ----------------------------------------------------------------------------
    def call_next(self) -> None:
        """叫号: call the next ticket by the hall's rule."""
        def done(call: Any) -> None:
            if call is None:
                self._tell("info", "nobody")
            else:
                self._tell("info", "called", number=call.number, window=call.window)
        self._act("next", lambda: self.client.call_next(self.window_no), done)

    def recall(self) -> None:
        """重呼: call the current ticket again."""
        self._act("recall", lambda: self.client.recall(self.window_no),
                  lambda call: self._tell("info", "recalled", number=call.number,
                                         calls=self.ticket.calls if self.ticket else 2))

    def start(self) -> None:
        """开始办理: the resident has arrived."""
        self._act("start", lambda: self.client.start(self.window_no),
                  lambda t: self._tell("info", "started", number=t.number))

    def no_show(self) -> None:
        """过号: the called resident did not come."""
        self._act("no_show", lambda: self.client.no_show(self.window_no),
                  lambda t: self._tell("info", "no_showed", number=t.number))

    def finish(self) -> None:
        """办结: finish the ticket, then ask the resident for a rating on the pad."""
        def done(ticket: Ticket) -> None:
            self._tell("info", "finished", number=ticket.number)
            self.pad.ask(ticket)
        self._act("finish", lambda: self.client.finish(self.window_no), done)

    def open_transfer(self) -> None:
        """转移: show the services the current ticket can move to."""
        if self.ticket is None:
            self._tell("warning", "transfer_none")
            return
        codes = [s["code"] for s in self.services if s["code"] != self.ticket.service]
        self.transfer_page.set_services(codes)
        for code, button in self.transfer_page.service_buttons.items():
            button.clicked.connect(lambda _=False, c=code: self.transfer(c))
        self.render()
        self.show_page("transfer")

    def transfer(self, service: str) -> None:
        """Move the current ticket to ``service``."""
        name = self._service_name(service)

        def done(ticket: Ticket) -> None:
            self._tell("info", "transferred", number=ticket.number, service=name)
            self.show_page("console")
        self._act("transfer", lambda: self.client.transfer(self.window_no, service), done)

    def open_call_number(self) -> None:
        """指定叫号: show the number keypad."""
        self.call_page.keypad.clear()
        self._message = None
        self.render()
        self.show_page("call_number")

    def call_typed_number(self) -> None:
        """Call the number typed on the keypad."""
        number = normalise_number(self.call_page.keypad.value)
        if number is None:
            return self._tell("warning", "need_number")

        def done(call: Any) -> None:
            self._tell("info", "called", number=call.number, window=call.window)
            self.show_page("console")
        self._act("call_number", lambda: self.client.call_specific(self.window_no, number), done)

    def _back_to_console(self) -> None:
        self._message = None
        self.show_page("console")
        self.render()

    def _rating_outcome(self, outcome: RatingOutcome) -> None:
        if outcome.level is None:
            self._tell("info", "not_rated", number=outcome.number)
        elif outcome.error_zh:
            self._tell("warning", "rate_failed", number=outcome.number, words=(outcome.error_zh, outcome.error_en))
        else:
            self._tell("info", "rated", number=outcome.number, level=(outcome.level.zh, outcome.level.en))

    # -- words on screen --------------------------------------------------------------------------------
    @staticmethod
    def _pair(key: str) -> tuple[str, str]:
        return words(key, "zh"), words(key, "en")

    def _tell(self, tone: str, key: str, **params: Any) -> None:
        """Set the page message (both languages, so a language switch keeps it)."""
        texts = [words(key, lang, **{k: (v[i] if isinstance(v, tuple) else v) for k, v in params.items()})
                 for i, lang in enumerate(("zh", "en"))]
        self._message = (tone, texts[0], texts[1])
        self.render()

    def _service_name(self, code: str) -> tuple[str, str]:
        svc = next((s for s in self.services if s["code"] == code), None)
        return (svc["name_zh"], svc["name_en"]) if svc else (code, code)

    def _set_online(self, online: bool) -> None:
        was = self.online
        self.online = online
        if was is False and online:
            self._tell("info", "back_online")
        elif not online:
            self._message = ("warning", words("down", "zh"), words("down", "en"))
        self.render()

    def view(self) -> View:
        """What the pages show, as of now."""
        return View(self.language, self.window_no, self.services, frozenset(self.chosen),
                    self._services_loaded, self.counter, self.ticket, self.waiting, self.online, self._message,
                    self.has_reader, self.card_uid is not None, self.staff_name)

    def render(self) -> None:
        """Redraw every page from the current state, in the current language."""
        if not hasattr(self, "console"):
            return
        view = self.view()
        shown = self.alerts if self.counter is not None else []
        self.console.restyle(self._dense, bool(shown))  # first: the pages measure their texts in these fonts
        for page in (self.login, self.console, self.transfer_page, self.call_page):
            page.render(view)
        self.banner.render(view, shown)
        self.topup.render(view)

    def resizeEvent(self, event: Any) -> None:
        """On a screen smaller than :data:`~ui.counter_pages.DENSE_BELOW` the pages use the dense layout."""
        super().resizeEvent(event)
        size = event.size()
        dense = size.width() < DENSE_BELOW[0] or size.height() < DENSE_BELOW[1]
        sheet = dense_sheet(self.sizes) if dense else ""
        if sheet != self._dense:
            self._dense = sheet
            self.transfer_page.setStyleSheet(sheet)
            for page in (self.login, self.call_page, self.topup):
                page.set_dense(sheet)
            self.render()

    def _render_timer(self) -> None:
        self.console.render_timer(self.view())

    def language_changed(self) -> None:
        """Redraw the console in the new language."""
        self.render()

    def speaker_volume_changed(self, volume: int) -> None:
        """The pad's voice follows the console's volume buttons too."""
        if self.pad.speaker is not None:
            self.pad.speaker.volume = volume

    # -- life -------------------------------------------------------------------------------------------
    def refresh_status(self) -> None:
        """Probe devices and network, unless the window is closed (no answer may land on a deleted strip)."""
        if not getattr(self, "_closed", False):
            super().refresh_status()

    def showEvent(self, event: Any) -> None:
        """Show the rating pad together with the console."""
        super().showEvent(event)
        if not self.pad.isVisible() and not self._closed:
            self.pad.present()

    def closeEvent(self, event: Any) -> None:
        """Stop polling, close the pad, the client and what the window owns."""
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop timers and close the pad, the client and owned parts (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._poll.stop()
        self._second.stop()
        if self.cards is not None:
            self.cards.stop()
        if self.alert_feed is not None:
            self.alert_feed.stop()
        self.pad.close()
        self.client.close()
        for close in self.owned:
            close()


def open_counter(config: TerminalConfig, speaker: Speaker | None = None) -> CounterWindow:
    """The counter console of a ``counter`` config: client to ``hall_url`` with ``lan.secret``, window from ``[counter]``."""
    if config.role != "counter" or config.hall_url is None or config.lan is None:
        raise HallError("not_a_counter", f"open_counter needs a counter config, not role {config.role!r}")
    owned = speaker is None
    speaker = speaker or Speaker(config.voice.enabled, config.voice.volume)
    window = CounterWindow(config, HallClient(config.hall_url, config.lan.secret), speaker=speaker)
    if owned:
        window.owned.append(speaker.close)
    return window
