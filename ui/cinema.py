"""The cinema terminal's screens: today's screenings, card, ticket, full, refused, and the door check.

The window shows what the cinema flow sends (:class:`~kiosk.runtime.screens.Show`, see
``kiosk/cinema/flow.py``) and the words of every spoken prompt (:meth:`CinemaWindow.caption`), so
each state is told in words and voice, colour only third:

* idle: "请选择要看的电影场次，然后刷一卡通" over today's screenings as big tiles (title, time and
  hall, "还剩 12 座" or "已满座", "免费" or "5 元"); *present* the screening and where the card goes;
  *issuing*; *ticket* the seat huge ("3排1号"), the film, what was paid or 免费 and the balance, an
  aisle seat said in words, "请取走电影票" (or, printer failing, that the card is the ticket);
  *full* the next screening with seats and "选这一场"; *refused* / *error* why and what next, with
  "补打这张票" when the card already holds a ticket for the screening.
* the door (entry mode, turned on from the staff view): "检票" and the screening, a card tap or
  a scanner's QR line (a keyboard-wedge scanner types into the window and ends with Enter), then
  "请入场" with the seat or "不能入场" with why, for a few seconds.

Every resident screen has the :class:`~ui.resident_bar.ResidentBar` (countdown and its warning,
"再听一遍", "继续", "呼叫工作人员").  Holding the title 2 s opens the staff view: the devices' strip
and the door check's buttons.
"""

from __future__ import annotations

from typing import Any, Protocol

from kiosk.cinema.seats import seat_words
from kiosk.config import TerminalConfig
from kiosk.prompts import prompt_text
from kiosk.runtime.screens import Show
from ui import theme
from ui.cinema_parts import (
    CardPicture,
    ScreeningTile,
    button_row,
    cinema_style,
    page_with,
    price,
    title,
    when_hall,
    words,
)
from ui.hall import sentence_per_line
from ui.qt import QGridLayout, QPushButton, QSizePolicy, Qt, QVBoxLayout
from ui.resident_bar import ResidentBar
from ui.resident_page import caption_words, redraw_in_language
from ui.shell import KioskWindow
from ui.widgets import clear_layout, label, set_property

COLUMNS = 2  # screening tiles per row
#: Prompts whose words the page itself lays out: no caption repeats them.
LAID_OUT = frozenset({"cinema_choose", "cinema_present", "cinema_ticket", "cinema_ticket_again", "cinema_aisle",
                      "cinema_full", "cinema_full_next", "cinema_full_none", "cinema_entry", "cinema_entry_ok"})
PAGES = {"screenings": "idle", "present": "present", "issuing": "issuing", "ticket": "ticket", "full": "full",
         "refused": "refused", "error": "refused", "entry": "door", "checking": "door", "entry_result": "door"}


class CinemaControls(Protocol):
    """What the window asks of the terminal (:class:`kiosk.cinema.terminal.CinemaTerminal`)."""

    def ui(self, command: str) -> None:
        """``screening:<id>``, ``reprint``, ``dismiss``, ``extend``, ``help``, ``repeat``, ``entry:<id>``, ``entry_off``."""

    def scan(self, text: str) -> None:
        """A ticket QR scanned at the door."""


class CinemaWindow(KioskWindow):
    """The cinema terminal: one window, pages switched by the flow's Show effects."""

    def __init__(self, config: TerminalConfig, terminal: CinemaControls, checker=None) -> None:
        self.terminal = terminal
        self._last_show = Show("screenings", {"screenings": []})
        self._caption_key: tuple[str, dict] | None = None
        self._staff_open = False
        self._resident_page = "idle"
        self._scanned = ""  # what a keyboard-wedge scanner typed so far
        self.spoken = ""
        self.screenings: list[dict[str, Any]] = []
        super().__init__(config, checker=checker, resident_facing=True)
        self.setStyleSheet(theme.stylesheet(self.sizes) + cinema_style(self.sizes))
        self._build_cinema()
        self.apply(self._last_show)

    def _send(self, command: str) -> None:
        self.terminal.ui(command)

    def _button(self, name: str, command: str) -> QPushButton:
        button = QPushButton(objectName=name)
        button.clicked.connect(lambda: self._send(command))
        return button

    # -- pages ----------------------------------------------------------------------------
    def _build_cinema(self) -> None:
        self.idle_notice = label("notice")
        self.idle_extra.addWidget(self.idle_notice)
        self.grid = QGridLayout()
        self.grid.setSpacing(12)
        for column in range(COLUMNS):
            self.grid.setColumnStretch(column, 1)
        self.idle_extra.addLayout(self.grid)
        self.tiles: dict[str, ScreeningTile] = {}

        self.present_film, self.present_info = label("big_info"), label("caption")
        self.present_heading, self.present_where = label("heading"), label("caption")
        self.present_picture = CardPicture()
        self.present_back = self._button("back", "dismiss")
        page, pl = page_with(self.present_film, self.present_info, self.present_heading)
        pl.addWidget(self.present_picture, 1)
        pl.addWidget(self.present_where)
        button_row(pl, self.present_back)
        self.add_page("present", page)

        self.issuing_heading, self.issuing_film = label("heading"), label("big_info")
        page, pl = page_with(self.issuing_heading, self.issuing_film)
        pl.addStretch(1)
        self.add_page("issuing", page)

        self.ticket_heading, self.ticket_film = label("heading"), label("big_info")
        self.ticket_seat = label("seat_big", wrap=False)
        self.ticket_aisle, self.ticket_paid = label("notice"), label("big_info")
        self.ticket_print = label("print_state")
        self.ticket_done = self._button("done", "dismiss")
        page, pl = page_with(self.ticket_heading, self.ticket_seat, self.ticket_film,
                         self.ticket_aisle, self.ticket_paid, self.ticket_print)
        button_row(pl, self.ticket_done)
        self.add_page("ticket", page)

        self.full_heading, self.full_film = label("heading"), label("big_info")
        self.full_next_word, self.full_next = label("caption"), label("big_info")
        self.full_take = QPushButton(objectName="take_next")
        self.full_take.clicked.connect(self._take_next)
        self.full_back = self._button("back", "dismiss")
        page, pl = page_with(self.full_heading, self.full_film, self.full_next_word, self.full_next)
        button_row(pl, self.full_take, self.full_back)
        self.add_page("full", page)

        self.refused_heading, self.refused_words = label("heading"), label("big_info")
        self.refused_film = label("caption")
        self.refused_reprint = self._button("reprint", "reprint")
        self.refused_ok = self._button("ok", "dismiss")
        page, pl = page_with(self.refused_heading, self.refused_words, self.refused_film)
        button_row(pl, self.refused_reprint, self.refused_ok)
        self.add_page("refused", page)

        self.door_heading, self.door_film = label("door_heading"), label("big_info")
        self.door_result, self.door_seat = label("heading"), label("seat_big", wrap=False)
        self.door_words = label("big_info")
        page, pl = page_with(self.door_heading, self.door_film, self.door_result, self.door_seat, self.door_words)
        pl.addStretch(1)
        self.add_page("door", page)

        self.staff_heading = label("heading")
        self.staff_list = QVBoxLayout()
        self.staff_stop = self._button("stop_checking", "entry_off")
        page, pl = page_with(self.staff_heading)
        pl.addLayout(self.staff_list)
        pl.addWidget(self.staff_stop, 0, Qt.AlignmentFlag.AlignCenter)
        pl.addStretch(1)
        self.add_page("staff", page)

        self.caption_label = label("caption")  # the words being spoken, when the page does not show them already
        self.caption_label.setVisible(False)
        self.body.addWidget(self.caption_label)
        self.bar = ResidentBar(self._send, self.language)
        self.body.addWidget(self.bar)
        self.stack.currentChanged.connect(self._fit_pages)
        self._fit_pages()

    def _fit_pages(self, *_: Any) -> None:
        """Only the page on screen counts for the window's size (a stack asks for its tallest page otherwise)."""
        current = self.stack.currentWidget()
        for page in self.pages.values():
            policy = QSizePolicy.Policy.Preferred if page is current else QSizePolicy.Policy.Ignored
            page.setSizePolicy(policy, policy)
        self.stack.updateGeometry()

    # -- the flow drives these ------------------------------------------------------------
    def apply(self, show: Show) -> None:
        """Show what the flow asked for, in the current language."""
        d = show.data
        if d.get("reset"):
            self.reset_for_next_resident()  # language and volume back to the defaults
        self._last_show = show
        self.caption_label.setText("")
        self.caption_label.setVisible(False)
        screen = show.screen
        if screen == "screenings":
            self._show_screenings(list(d.get("screenings") or []))
        elif screen == "present":
            self._show_present(d)
        elif screen == "issuing":
            self.issuing_heading.setText(words("issuing", self.language))
            self.issuing_film.setText(self._film(d))
        elif screen == "ticket":
            self._show_ticket(d)
        elif screen == "full":
            self._show_full(d)
        elif screen in ("refused", "error"):
            self._show_refused(screen, d)
        elif screen in ("entry", "checking", "entry_result"):
            self._show_door(screen, d)
        self._page(PAGES.get(screen, "idle"))
        stays = d.get("stays_s")
        self.bar.set_timer(float(stays) if isinstance(stays, int | float) else None, bool(d.get("warning")))

    def _film(self, d: dict) -> str:
        item = d.get("screening") or {}
        return f"{title(item, self.language)}\n{when_hall(item, self.language)}" if item else ""

    def _show_screenings(self, items: list[dict[str, Any]]) -> None:
        lang = self.language
        self.screenings = items
        self.prompt.setText(prompt_text("cinema_choose", lang))
        self.subprompt.setText(words("subprompt", lang))
        self.idle_notice.setText("" if items else words("none_today", lang))
        self.idle_notice.setVisible(not items)
        if [i.get("screening_id") for i in items] != list(self.tiles) or any(
                t.item != i for t, i in zip(self.tiles.values(), items, strict=False)):
            clear_layout(self.grid)
            self.tiles = {}
            for n, item in enumerate(items):
                tile = ScreeningTile(item)
                tile.clicked.connect(lambda _=False, k=str(item["screening_id"]): self._send(f"screening:{k}"))
                self.tiles[str(item["screening_id"])] = tile
                self.grid.addWidget(tile, n // COLUMNS, n % COLUMNS, Qt.AlignmentFlag.AlignTop)
        for tile in self.tiles.values():
            tile.retranslate(lang)

    def _show_present(self, d: dict) -> None:
        lang = self.language
        item = d.get("screening") or {}
        self.present_film.setText(title(item, lang))
        self.present_info.setText(f"{when_hall(item, lang)} · {price(item, lang)}")
        self.present_heading.setText(words("put_card", lang))
        self.present_where.setText(words("where", lang))
        self.present_back.setText(words("choose_again", lang))

    def _show_ticket(self, d: dict) -> None:
        lang = self.language
        t = d.get("ticket") or {}
        self.ticket_heading.setText(words("ticket", lang))
        self.ticket_film.setText(self._film(d))
        self.ticket_seat.setText(seat_words(str(t.get("seat") or "1-1"), lang))
        aisle = bool(t.get("aisle") and t.get("aisle_needed"))
        self.ticket_aisle.setText(words("aisle", lang) if aisle else "")
        self.ticket_aisle.setVisible(aisle)
        paid, balance = int(t.get("paid_fen") or 0), t.get("balance_fen")
        money = price({"price_fen": paid}, lang)
        if paid == 0:
            self.ticket_paid.setText(words("free", lang))
        elif balance is not None:
            self.ticket_paid.setText(words("paid", lang, yuan=money, balance=price({"price_fen": balance}, lang)))
        else:
            self.ticket_paid.setText(words("paid_no_balance", lang, yuan=money))
        failed = bool(d.get("print_failed"))
        self.ticket_print.setText(words("not_printed" if failed else "take_ticket", lang))
        set_property(self.ticket_print, "tone", "warning" if failed else "info")
        self.ticket_done.setText(words("done", lang))

    def _show_full(self, d: dict) -> None:
        lang = self.language
        offer = d.get("offer")
        self.full_heading.setText(words("full", lang))
        self.full_film.setText(self._film(d))
        self.full_next_word.setText(words("next" if offer else "no_next", lang))
        self.full_next.setText(f"{title(offer, lang)}\n{when_hall(offer, lang)}\n"
                               f"{words('seats_left', lang, n=offer.get('seats_left'))} · {price(offer, lang)}"
                               if offer else "")
        self.full_next.setVisible(bool(offer))
        self.full_take.setText(words("take_next", lang))
        self.full_take.setVisible(bool(offer))
        self.full_back.setText(words("back", lang))

    def _take_next(self) -> None:
        offer = self._last_show.data.get("offer")
        if isinstance(offer, dict):
            self._send(f"screening:{offer.get('screening_id')}")

    def _show_refused(self, screen: str, d: dict) -> None:
        lang = self.language
        if screen == "refused":
            self.refused_heading.setText(words("no_ticket", lang))
            text = prompt_text(f"cinema_{d.get('code')}", lang, d)
        else:
            self.refused_heading.setText(words("ask_staff", lang))
            text = prompt_text("ask_staff", lang)
        self.refused_words.setText(sentence_per_line(text))
        film = self._film(d).replace("\n", " · ")
        self.refused_film.setText(film)
        self.refused_film.setVisible(bool(film))
        self.refused_reprint.setText(words("reprint", lang))
        self.refused_reprint.setVisible(d.get("code") == "already")
        self.refused_ok.setText(words("ok", lang))

    def _show_door(self, screen: str, d: dict) -> None:
        lang = self.language
        self.door_heading.setText(words("door", lang))
        self.door_film.setText(self._film(d))
        result = d.get("result")
        ok = screen == "entry_result" and result == "ok"
        self.door_result.setVisible(screen != "entry")
        self.door_result.setText(words("checking", lang) if screen == "checking" else
                                 words("go_in" if ok else "not_in", lang))
        self.door_seat.setText(str(d.get("seat_zh" if lang == "zh" else "seat_en") or "") if ok else "")
        self.door_seat.setVisible(ok)
        if screen == "entry":
            text = words("door_how", lang)
        elif screen == "entry_result" and not ok:
            key = "ask_staff" if result == "error" else (
                f"cinema_entry_{result}" if result not in ("not_genuine", "read_failed") else f"cinema_{result}")
            text = sentence_per_line(prompt_text(key, lang, d))
        else:
            text = ""
        self.door_words.setText(text)
        self.door_words.setVisible(bool(text))

    def caption(self, key: str, params: dict) -> None:
        """The words being spoken: in the bar for help, as a line under the page unless the page already says them."""
        text = caption_words(self, key, params, self.stack.currentWidget(), LAID_OUT)
        if text is None:
            return
        self.caption_label.setText(text)
        self.caption_label.setVisible(bool(text))

    # -- the scanner at the door ------------------------------------------------------------
    def keyPressEvent(self, event: Any) -> None:
        """A keyboard-wedge scanner types the ticket's QR and Enter: sent to the terminal at the door only."""
        if self._resident_page != "door":
            super().keyPressEvent(event)
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            text, self._scanned = self._scanned, ""
            if text:
                self.terminal.scan(text)
        elif event.text() and len(self._scanned) < 1000:
            self._scanned += event.text()

    # -- pages and the staff view ---------------------------------------------------------
    def _page(self, name: str) -> None:
        self._resident_page = name
        if not self._staff_open:
            self.show_page(name)

    def open_staff_view(self) -> None:
        """The devices' strip and the door check's buttons (staff only)."""
        super().open_staff_view()
        self._staff_open = True
        self._fill_staff()
        self.show_page("staff")
        self.bar.setVisible(False)
        self.caption_label.setVisible(False)

    def _fill_staff(self) -> None:
        lang = self.language
        self.staff_heading.setText(words("staff_heading", lang))
        clear_layout(self.staff_list)
        for item in self.screenings:
            taken = int(item.get("seats") or 0) - int(item.get("seats_left") or 0)
            button = QPushButton(objectName="check_this")
            button.setText(words("check_this", lang, title=title(item, lang), when=item.get(f"when_{lang}", ""),
                                 taken=taken))
            button.clicked.connect(lambda _=False, k=str(item["screening_id"]): self._staff(f"entry:{k}"))
            self.staff_list.addWidget(button)
        self.staff_stop.setText(words("stop_checking", lang))

    def _staff(self, command: str) -> None:
        self._send(command)
        self.close_staff_view()

    def close_staff_view(self) -> None:
        """Back to the page the resident was on."""
        super().close_staff_view()
        if getattr(self, "_staff_open", False):
            self._staff_open = False
            self.bar.setVisible(True)
            self.show_page(self._resident_page)

    def language_changed(self) -> None:
        """Redraw the page, bar and caption in the new language (the countdown keeps running)."""
        redraw_in_language(self)
        if self._staff_open:
            self._fill_staff()
