"""充值: the logged-in clerk tops up a resident's community card from the counter console.

The resident taps the card on the counter's reader (while a top-up page is open, a tap is the
resident's card, not a staff login) or the clerk types its number; the page shows the masked
name, the card's status and its last known balance.  The clerk picks the amount (50/100/200/500
元 or the keypad) and the method (现金 / 转账), checks a second screen that says the amount in
words (人民币壹佰元整), confirms, and sees "已为 陈*英 充值 100 元".  The hall records the top-up,
attributed to the session's clerk (:mod:`kiosk.hall.topups`).

Every refusal is said in words: a lost, blocked or unknown card (the hall's words), an ended
session (back to the login page with the reason), the service unreachable.  A top-up whose answer
was lost keeps its request id: "重新提交" sends the same request again, and the hall credits it once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.hall.client import SESSION_GONE, HallClientError, HallRefused, HallUnavailable, new_request_id
from kiosk.hall.errors import HallError
from kiosk.hall.topups import CardInfo, TopupResult
from ui.background import run_in_background
from ui.counter_pages import ANY_WIDTH, DENSE_KEYPAD_PX, LEFT, View, show_message
from ui.keypad import Keypad
from ui.qt import QGridLayout, QHBoxLayout, QPushButton, QSizePolicy, QVBoxLayout, QWidget
from ui.texts import CARD_STATUS_WORDS as STATUS
from ui.texts import COUNTER_TOPUP_WORDS as WORDS
from ui.widgets import label, panel, set_property

PRESETS_YUAN = (50, 100, 200, 500)
MAX_YUAN = 1000  # the hall refuses more (kiosk.canteen.payments.MAX_TOPUP_FEN)
HEX = "ABCDEF"
_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_EN = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
       "seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def t(key: str, language: str, **params: object) -> str:
    """The words ``key`` in ``language`` with ``params`` filled in."""
    pair = WORDS[key]
    return (pair[0] if language == "zh" else pair[1]).format(**params)


def yuan_text(fen: int) -> str:
    """``100`` for whole yuan, ``100.50`` otherwise."""
    return str(fen // 100) if fen % 100 == 0 else f"{fen / 100:.2f}"


def _zh_four(n: int) -> str:
    out, zero = "", False
    for power, unit in ((1000, "仟"), (100, "佰"), (10, "拾"), (1, "")):
        digit = n // power % 10
        if digit == 0:
            zero = bool(out)
        else:
            out += ("零" if zero else "") + _DIGITS[digit] + unit
            zero = False
    return out


def _en_int(n: int) -> str:
    if n < 20:
        return _EN[n]
    if n < 100:
        return _TENS[n // 10] + ("-" + _EN[n % 10] if n % 10 else "")
    if n < 1000:
        return _EN[n // 100] + " hundred" + (" and " + _en_int(n % 100) if n % 100 else "")
    return _en_int(n // 1000) + " thousand" + ((" and " if n % 1000 < 100 else " ") + _en_int(n % 1000)
                                                if n % 1000 else "")


def amount_words(fen: int, language: str) -> str:
    """The amount as said on a cheque: ``壹佰元整`` / ``one hundred yuan`` (0 < fen < 10⁸ yuan)."""
    whole, cents = divmod(fen, 100)
    if language != "zh":
        text = f"{_en_int(whole)} yuan" if whole else ""
        return (text + (" and " if text and cents else "") + (f"{_en_int(cents)} fen" if cents else "")) or "zero yuan"
    high, low = divmod(whole, 10_000)
    text = (_zh_four(high) + "万" if high else "") + ("零" if high and 0 < low < 1000 else "") + _zh_four(low)
    jiao, fen_ = divmod(cents, 10)
    if not cents:
        return (text or "零") + "元整"
    tail = (_DIGITS[jiao] + "角" if jiao else ("零" if text else "")) + (_DIGITS[fen_] + "分" if fen_ else "")
    return (text + "元" if text else "") + tail


class CardPad(Keypad):
    """The keypad with A–F keys that add to the number (a card number is hex), not start a ticket number."""

    def __init__(self) -> None:
        super().__init__(max_length=20, letters=tuple(HEX), hint=WORDS["card_entry_hint"])

    def press(self, key: str) -> None:
        """A letter A–F is appended like a digit; the rest as on the keypad."""
        if key in HEX and len(self.value) < self.max_length:
            self.value += key
            self._render()
            if self.on_change is not None:
                self.on_change(self.value)
            return
        super().press(key)


def _bare(layout: QHBoxLayout | QVBoxLayout, spacing: int) -> QHBoxLayout | QVBoxLayout:
    """A page's outer layout: no margins, ``spacing`` between its parts."""
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(spacing)
    return layout


def _button_row(*names: str) -> tuple[QHBoxLayout, list[QPushButton]]:
    """A row of buttons styled by ``names``; the last one takes the spare width."""
    row, buttons = QHBoxLayout(), [QPushButton(objectName=n) for n in names]
    for i, button in enumerate(buttons):
        row.addWidget(button, 1 if i == len(buttons) - 1 else 0)
    return row, buttons


class TopupPage(QWidget):
    """The card (tapped or typed), the amount (presets and keypad), the method, and "next"."""

    def __init__(self) -> None:
        super().__init__(objectName="page_topup")
        row = _bare(QHBoxLayout(self), 24)
        left = _bare(QVBoxLayout(), 8)
        self.heading = label("heading", align=LEFT)
        left.addWidget(self.heading)
        card, cl = panel()
        card_row = QHBoxLayout()
        about = QVBoxLayout()
        self.card_line = label("big_info", align=LEFT)
        self.card_state = label("detail", align=LEFT)
        about.addWidget(self.card_line)
        about.addWidget(self.card_state)
        card_row.addLayout(about, 1)
        self.type_card = QPushButton(objectName="cancel")  # 输入卡号: beside the card it replaces
        card_row.addWidget(self.type_card)
        cl.addLayout(card_row)
        left.addWidget(card)
        self.amount_caption = label("caption", align=LEFT)
        left.addWidget(self.amount_caption)
        self.preset_grid = QGridLayout()
        self.preset_grid.setSpacing(8)
        self.presets = {yuan: QPushButton(objectName="service_toggle") for yuan in PRESETS_YUAN}
        self.place_presets(len(PRESETS_YUAN))
        left.addLayout(self.preset_grid)
        methods = QHBoxLayout()
        methods.setSpacing(8)
        self.method_caption = label("caption", align=LEFT, wrap=False)
        methods.addWidget(self.method_caption)
        self.methods = {m: QPushButton(objectName="service_toggle") for m in ("cash", "transfer")}
        for button in self.methods.values():
            methods.addWidget(button, 1)
        left.addLayout(methods)
        self.message = label("notice")
        left.addWidget(self.message)
        left.addStretch(1)
        buttons, (self.back, self.next) = _button_row("cancel", "login")
        left.addLayout(buttons)
        row.addLayout(left, 5)
        self.keypad = Keypad(max_length=4, hint=WORDS["other_amount"])
        row.addWidget(self.keypad, 3)

    def place_presets(self, columns: int) -> None:
        """The amount buttons in ``columns`` columns (two on a small screen, so their words fit)."""
        for i, button in enumerate(self.presets.values()):
            self.preset_grid.removeWidget(button)
            self.preset_grid.addWidget(button, i // columns, i % columns)


class CardNumberPage(QWidget):
    """Type a card number on a keypad with A–F keys, then look it up."""

    def __init__(self) -> None:
        super().__init__(objectName="page_topup_card")
        row = _bare(QHBoxLayout(self), 24)
        left = _bare(QVBoxLayout(), 12)
        self.heading = label("heading")
        self.hint = label("caption")
        self.message = label("notice")
        for widget in (self.heading, self.hint, self.message):
            left.addWidget(widget)
        left.addStretch(1)
        self.go = QPushButton(objectName="call_go")
        self.cancel = QPushButton(objectName="cancel")
        left.addWidget(self.go)
        left.addWidget(self.cancel)
        row.addLayout(left, 2)
        self.keypad = CardPad()
        row.addWidget(self.keypad, 3)


class ConfirmPage(QWidget):
    """The top-up said back in full (card, amount in figures and in words, method, clerk): confirm or change."""

    def __init__(self) -> None:
        super().__init__(objectName="page_topup_confirm")
        outer = _bare(QVBoxLayout(self), 10)
        self.heading = label("heading")
        outer.addWidget(self.heading)
        box, bl = panel()
        self.card = label("big_info")
        self.amount = label("heading")
        self.words = label("big_info")
        self.method = label("detail")
        for widget in (self.card, self.amount, self.words, self.method):
            bl.addWidget(widget)
        outer.addWidget(box)
        self.message = label("notice")
        outer.addWidget(self.message)
        outer.addStretch(1)
        buttons, (self.edit, self.confirm) = _button_row("cancel", "login")
        outer.addLayout(buttons)


class DonePage(QWidget):
    """The result in one sentence, the balance, the reference; the next card or back to the console."""

    def __init__(self) -> None:
        super().__init__(objectName="page_topup_done")
        outer = _bare(QVBoxLayout(self), 12)
        outer.addStretch(1)
        self.heading, self.detail, self.ref = label("heading"), label("big_info"), label("caption")
        for widget in (self.heading, self.detail, self.ref):
            outer.addWidget(widget)
        outer.addStretch(1)
        buttons, (self.back, self.another) = _button_row("cancel", "login")
        outer.addLayout(buttons)


class TopupFlow:
    """The top-up pages of one counter window, driven from the clerk's presses and the hall's answers."""

    PAGES = ("topup", "topup_card", "topup_confirm", "topup_done")

    def __init__(self, window: Any) -> None:
        """Add the pages to ``window`` (a :class:`ui.counter.CounterWindow`) and the 充值 button to its console."""
        self.window = window
        self.page, self.card_page, self.confirm_page, self.done_page = (TopupPage(), CardNumberPage(),
                                                                        ConfirmPage(), DonePage())
        for name, page in zip(self.PAGES, (self.page, self.card_page, self.confirm_page, self.done_page), strict=True):
            window.add_page(name, page)
        self.button = QPushButton(objectName="action")
        self.button.setProperty("action", "topup")
        self.button.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)  # fills both rows
        grid = next(item.layout() for i in range(window.console.layout().count())
                    if isinstance((item := window.console.layout().itemAt(i)).layout(), QGridLayout))
        grid.addWidget(self.button, 0, 4, 2, 1)  # beside the eight queue actions, as tall as both rows
        self.card: CardInfo | None = None
        self.amount_yuan: int | None = None
        self.method: str | None = None
        self.result: TopupResult | None = None
        self.pending: tuple[str, tuple[str, int, str]] | None = None  # request id of a top-up whose answer was lost
        self.busy = False
        self.message: tuple[str, str, str] | None = None
        self._connect()

    def _connect(self) -> None:
        p = self.page
        self.button.clicked.connect(self.open)
        for yuan, button in p.presets.items():
            button.clicked.connect(lambda _=False, y=yuan: self.choose_amount(y))
        for method, button in p.methods.items():
            button.clicked.connect(lambda _=False, m=method: self.choose_method(m))
        p.keypad.on_change = self._typed_amount
        p.back.clicked.connect(self.close)
        p.type_card.clicked.connect(self.open_card_entry)
        p.next.clicked.connect(self.review)
        self.card_page.go.clicked.connect(self.look_up_typed)
        self.card_page.cancel.clicked.connect(lambda: self._show("topup"))
        self.confirm_page.edit.clicked.connect(lambda: self._show("topup"))
        self.confirm_page.confirm.clicked.connect(self.confirm)
        self.done_page.back.clicked.connect(self.close)
        self.done_page.another.clicked.connect(self.open)

    # -- navigation -------------------------------------------------------------------------------------
    def _show(self, page: str, message: tuple[str, str, str] | None = None) -> None:
        self.message = message
        self.window.show_page(page)
        self.window.render()

    def open(self) -> None:
        """充值: a fresh top-up (a lost answer's request is kept until it is answered)."""
        self.card, self.amount_yuan, self.method, self.result = None, None, None, None
        self.page.keypad.clear()
        self._show("topup")

    def close(self) -> None:
        """Back to the console."""
        self.message = None
        self.window.show_page("console")
        self.window.render()

    def reset(self) -> None:
        """The clerk logged out: forget the card and the amounts (a pending request id goes too)."""
        self.card, self.amount_yuan, self.method, self.result, self.pending = None, None, None, None, None
        self.busy, self.message = False, None
        self.page.keypad.clear()

    def showing(self) -> bool:
        """True while one of the top-up pages is on screen."""
        return self.window.current_page in self.PAGES

    # -- the card ---------------------------------------------------------------------------------------
    def card_tapped(self, card_no: str) -> None:
        """A card was tapped on the counter's reader while a top-up page shows: the resident's card."""
        if self.window.current_page == "topup_confirm":
            return self._say("warning", "confirm_first")
        if self.window.current_page != "topup":
            self.open()
        self.look_up(card_no)

    def open_card_entry(self) -> None:
        """输入卡号: the keypad with A–F."""
        self.card_page.keypad.clear()
        self._show("topup_card")

    def look_up_typed(self) -> None:
        """查询: look the typed number up."""
        typed = self.card_page.keypad.value
        if len(typed) not in (8, 14, 20):
            return self._say("warning", "bad_card_no")
        self.window.show_page("topup")
        self.look_up(typed)

    def look_up(self, card_no: str) -> None:
        """Ask the hall for the card's status, masked name and balance."""
        self.card = None
        self._say("info", "looking_up", card_no=card_no)
        self._call(lambda c, w: c.card_info(w, card_no), self._looked_up, "down_lookup")

    def _looked_up(self, card: CardInfo) -> None:
        self.card = card
        self.message = ("warning", card.words_zh, card.words_en) if card.refusal else None
        self.window.render()

    # -- amount and method ------------------------------------------------------------------------------
    def choose_amount(self, yuan: int) -> None:
        """A preset amount (the keypad is cleared)."""
        self.page.keypad.clear()
        self.amount_yuan = yuan
        self.window.render()

    def _typed_amount(self, value: str) -> None:
        self.amount_yuan = int(value) if value else None
        self.window.render()

    def choose_method(self, method: str) -> None:
        """现金 or 转账."""
        self.method = method
        self.window.render()

    def review(self) -> None:
        """下一步: check card, amount and method, then show the confirmation."""
        if self.card is None:
            return self._say("warning", "need_card")
        if self.card.refusal:
            return self._show("topup", ("warning", self.card.words_zh, self.card.words_en))
        if not self.amount_yuan or not 1 <= self.amount_yuan <= MAX_YUAN:
            return self._say("warning", "need_amount")
        if self.method is None:
            return self._say("warning", "need_method")
        self._show("topup_confirm")

    # -- the top-up -------------------------------------------------------------------------------------
    def _request(self) -> tuple[str, tuple[str, int, str]]:
        assert self.card is not None and self.amount_yuan is not None and self.method is not None
        what = (self.card.card_no, self.amount_yuan * 100, self.method)
        if self.pending is not None and self.pending[1] == what:
            return self.pending  # the same top-up again after a lost answer: the same request id
        return new_request_id(), what

    def confirm(self) -> None:
        """确认充值 (or 重新提交 after a lost answer)."""
        if self.card is None or self.amount_yuan is None or self.method is None:
            return
        request = self._request()
        self.pending = request
        rid, (card_no, amount_fen, method) = request
        self._say("info", "sending")
        self._call(lambda c, w: c.topup(w, card_no, amount_fen, method, rid), self._done, "down_topup")

    def _done(self, result: TopupResult) -> None:
        self.pending = None
        self.result = result
        self._show("topup_done")

    # -- talking to the hall ----------------------------------------------------------------------------
    def _call(self, fn: Callable[[Any, int], Any], done: Callable[[Any], None], down: str) -> None:
        if self.busy:
            return self._say("warning", "busy")
        self.busy = True
        client, window_no = self.window.client, self.window.window_no

        def work() -> Any:
            try:
                return fn(client, window_no)
            except HallClientError as exc:  # a refusal is an answer, not a crash to log
                return exc

        run_in_background(work, lambda answer: self._answered(answer, done, down),
                          lambda exc: self._answered(exc, done, down))

    def _answered(self, answer: Any, done: Callable[[Any], None], down: str) -> None:
        self.busy = False
        if getattr(self.window, "_closed", False):
            return
        if not isinstance(answer, BaseException):
            return done(answer)
        if isinstance(answer, HallUnavailable):
            return self._say("warning", down)
        if down == "down_topup":
            self.pending = None  # the hall answered: that request is settled (refused, nothing recorded)
        if isinstance(answer, HallRefused) and answer.reason in ("not_logged_in", *SESSION_GONE):
            self.reset()
            return self.window._logged_out(answer)
        if isinstance(answer, HallError):
            back = "topup" if self.window.current_page == "topup_confirm" else self.window.current_page
            return self._show(back, ("warning", answer.words_zh, answer.words_en))
        self._say("warning", "error", words=type(answer).__name__)

    def _say(self, tone: str, key: str, **params: object) -> None:
        self.message = (tone, t(key, "zh", **params), t(key, "en", **params))
        self.window.render()

    # -- drawing ----------------------------------------------------------------------------------------
    def set_dense(self, sheet: str) -> None:
        """The counter's dense stylesheet on a small screen (or none)."""
        for page in (self.page, self.card_page, self.confirm_page, self.done_page):
            page.setStyleSheet(sheet)
        self.page.keypad.setMaximumWidth(DENSE_KEYPAD_PX if sheet else ANY_WIDTH)
        self.page.place_presets(2 if sheet else len(PRESETS_YUAN))

    def render(self, view: View) -> None:
        """Every top-up page and the console's 充值 button, in the view's language."""
        lang = view.language
        down = view.online is False
        self.button.setText(f"{t('topup', lang)}\n{view.t('unavailable')}" if down else t("topup", lang))
        set_property(self.button, "offline", "true" if down else "false")
        shown = View(lang, view.window, [], frozenset(), False, None, None, {}, view.online, self.message)
        self._render_main(lang, shown)
        c = self.card_page
        c.heading.setText(t("card_heading", lang))
        c.hint.setText(t("card_hint", lang))
        c.keypad.retranslate(lang)
        c.go.setText(t("look_up", lang))
        c.cancel.setText(t("cancel", lang))
        show_message(c.message, shown)
        self._render_confirm(lang, view, shown)
        self._render_done(lang)

    def _render_main(self, lang: str, shown: View) -> None:
        p, card = self.page, self.card
        p.heading.setText(t("heading", lang))
        if card is None:
            p.card_line.setText(t("card_prompt", lang))
            p.card_state.setText("")
        else:
            balance = (f"{card.balance_fen / 100:.2f} {'元' if lang == 'zh' else 'yuan'}"
                       if card.balance_fen is not None else t("balance_unknown", lang))
            status = STATUS.get(card.status, (card.status, card.status))[0 if lang == "zh" else 1]
            p.card_line.setText(t("card_line", lang, name=card.masked_name or "—", card_no=card.card_no))
            p.card_state.setText(t("card_state", lang, status=status, balance=balance))
        p.card_state.setVisible(card is not None)
        p.amount_caption.setText(t("amount_caption", lang))
        typed = bool(p.keypad.value)
        for yuan, button in p.presets.items():
            chosen = self.amount_yuan == yuan and not typed
            button.setText(("✔ " if chosen else "") + t("preset", lang, yuan=yuan))
            set_property(button, "chosen", "true" if chosen else "false")
        p.method_caption.setText(t("method_caption", lang))
        for method, button in p.methods.items():
            chosen = self.method == method
            button.setText(("✔ " if chosen else "○ ") + t(method, lang))
            set_property(button, "chosen", "true" if chosen else "false")
        p.keypad.retranslate(lang)
        p.back.setText(t("back", lang))
        p.type_card.setText(t("type_card", lang))
        p.next.setText(t("next", lang))
        show_message(p.message, shown)

    def _render_confirm(self, lang: str, view: View, shown: View) -> None:
        c, card, yuan = self.confirm_page, self.card, self.amount_yuan or 0
        c.heading.setText(t("confirm_heading", lang))
        c.card.setText(t("confirm_card", lang, name=card.masked_name or "—", card_no=card.card_no) if card else "")
        c.amount.setText(t("confirm_amount", lang, yuan=yuan))
        c.words.setText(t("confirm_words", lang, words=amount_words(yuan * 100, lang)) if yuan else "")
        staff = view.counter.staff_id if view.counter else ""
        method = t(self.method or "cash", lang)
        c.method.setText(t("confirm_method", lang, method=method if lang == "zh" else method.lower(),
                           clerk=view.staff_name or staff, staff=staff))
        c.edit.setText(t("edit", lang))
        retry = self.pending is not None and card is not None and self.pending[1] == (card.card_no, yuan * 100,
                                                                                       self.method)
        c.confirm.setText(t("retry" if retry else "confirm", lang))
        show_message(c.message, shown)

    def _render_done(self, lang: str) -> None:
        d, r = self.done_page, self.result
        if r is not None:
            balance = (f"{r.balance_fen / 100:.2f} {'元' if lang == 'zh' else 'yuan'}" if r.balance_fen is not None
                       else t("balance_unknown", lang))
            d.heading.setText(t("done_heading", lang, name=r.masked_name or r.card_no, yuan=yuan_text(r.amount_fen)))
            d.detail.setText(t("done_detail", lang, method=t(r.method, lang), card_no=r.card_no, balance=balance)
                             + ("\n" + t("done_repeat", lang) if r.repeat else ""))
            d.ref.setText(t("done_ref", lang, ref=r.entry_id[:8].upper()))
        d.back.setText(t("back", lang))
        d.another.setText(t("another", lang))
