"""The canteen reader's screens meet DESIGN §8 in both modes and languages, tell each state in words, reach the terminal.

The window is driven by the Show effects the canteen flow sends, built here from the shipped
menu (``config/canteen/menu.json``) and real price lines (``kiosk.canteen.pricing.quote`` with the
shipped policy for an 82-year-old); a fake terminal records what the buttons ask for.
Screenshots go to ``out/screens/canteen/``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from kiosk.canteen.flow import yuan
from kiosk.canteen.menu import load_menu_file, todays_menu
from kiosk.canteen.policy import load_policy
from kiosk.canteen.pricing import Holder, quote
from kiosk.config import load_config
from kiosk.prompts import CANTEEN_SCREENS, prompt_text
from kiosk.runtime.screens import Show
from kiosk.status import ComponentStatus
from tests.ui_checks import SCREENS_DIR, check_sizes
from ui.canteen import CanteenWindow
from ui.canteen_parts import tile_character
from ui.qt import QLabel, Qt

pytestmark = pytest.mark.ui

ROOT = Path(__file__).resolve().parent.parent
MONDAY = dt.date(2026, 11, 30)  # the steamed fish is served on Mondays: the longest menu
HOLDER = Holder(MONDAY.year - 82)  # an 82-year-old: 85 折 and the 80+ subsidy tier
POLICY = load_policy(ROOT / "config" / "policy" / "putuo-canteen-2025-12.json")
MENU = [m.as_item() | {"photo": m.photo} for m in
        todays_menu(load_menu_file(ROOT / "config" / "canteen" / "menu.json"), "linfen-canteen-1", MONDAY)]
BY_ID = {m["item_id"]: m for m in MENU}


def names(items: list[dict[str, Any]]) -> dict[str, str]:
    """The flow's ``items_zh`` / ``items_en`` of a basket."""
    zh = "、".join(i["name"] + (f"×{i['qty']}" if i["qty"] > 1 else "") for i in items)
    en = ", ".join(i["name_en"] + (f" x{i['qty']}" if i["qty"] > 1 else "") for i in items)
    return {"items_zh": zh, "items_en": en}


def basket(**quantities: int) -> list[dict[str, Any]]:
    """Basket lines of menu items by id."""
    return [{k: v for k, v in BY_ID[i].items() if k != "photo"} | {"qty": q} for i, q in quantities.items()]


def paid(items: list[dict[str, Any]], balance_fen: int, low: bool, mode: str, used: bool = False) -> Show:
    """The paid screen of ``items`` priced for the 82-year-old, as the terminal sends it."""
    q = quote(items, HOLDER, MONDAY, POLICY, used)
    lines = [{"zh": x.zh, "en": x.en, "kind": x.kind, "amount_fen": x.amount_fen} for x in q.lines]
    return Show("paid", {"mode": mode, "status": "paid", "paid_fen": q.paid_fen, "lines": lines,
                         "balance_fen": balance_fen, "low_balance": low, "offline": False, **names(items),
                         "stays_s": 20.0})


SET_A = basket(**{"set-a": 1})
CASHIER_BASKET = basket(**{"set-a": 1, "hongshaorou": 1, "mifan": 2, "tang": 1})
GROSS = sum(i["unit_fen"] * i["qty"] for i in CASHIER_BASKET)
SELF = {
    "menu": Show("menu", {"mode": "self", "menu": MENU, "basket": [], "total_fen": 0}),
    "choosing": Show("choosing", {"mode": "self", "stays_s": 60.0}),
    "present": Show("present", {"mode": "self", **names(SET_A), "total_fen": SET_A[0]["unit_fen"], "basket": SET_A,
                                "stays_s": 60.0}),
    "paying": Show("paying", {"mode": "self", "total_fen": SET_A[0]["unit_fen"], **names(SET_A)}),
    "paid": paid(SET_A, 8025, False, "self"),
    "paid_low": paid(SET_A, 2025, True, "self"),
    "paid_duplicate": Show("paid", {"mode": "self", "status": "duplicate", "paid_fen": 1275, "lines": [],
                                    "balance_fen": 8025, "low_balance": False, "offline": False, **names(SET_A),
                                    "stays_s": 20.0}),
    "refused_insufficient": Show("refused", {"mode": "self", "code": "insufficient", "short": "2.75", "limit": "10",
                                             **names(SET_A), "stays_s": 30.0}),
    "refused_lost": Show("refused", {"mode": "self", "code": "lost", **names(SET_A), "stays_s": 30.0}),
    "refused_over_day_limit": Show("refused", {"mode": "self", "code": "over_day_limit", "limit": "35",
                                               **names(SET_A), "stays_s": 30.0}),
    "refused_warning": Show("refused", {"mode": "self", "code": "read_failed", **names(SET_A), "stays_s": 9.0,
                                        "warning": True}),
    "error": Show("error", {"mode": "self", "reason": "ask_staff", "stays_s": 30.0}),
}
CASHIER = {
    "menu": Show("menu", {"mode": "cashier", "menu": MENU, "basket": [], "total_fen": 0}),
    "present": Show("present", {"mode": "cashier", **names(CASHIER_BASKET), "total_fen": GROSS,
                                "basket": CASHIER_BASKET, "stays_s": 60.0}),
    "paying": Show("paying", {"mode": "cashier", "total_fen": GROSS, **names(CASHIER_BASKET)}),
    "paid_subsidy_low": paid(CASHIER_BASKET, 1585, True, "cashier"),
    "refused_insufficient": Show("refused", {"mode": "cashier", "code": "insufficient", "short": "11.35",
                                             "limit": "12", **names(CASHIER_BASKET), "stays_s": 30.0}),
}
#: Words spoken on a screen that its page does not already show: drawn as the caption line under it.
CAPTIONS: dict[str, dict[str, tuple[str, dict[str, Any]]]] = {
    "self": {"paid_low": ("canteen_receipt_failed", {}), "present": ("help_called", {})},
    "cashier": {"menu": ("canteen_read_failed", {}), "paid_subsidy_low": ("canteen_receipt_failed", {})},
}
PAYMENTS = [
    {"entry_id": "e3", "at": "2026-11-30T11:52:10+08:00", "paid_fen": 1995, "card_no": "04A1B2C3D4E5F6",
     "items": CASHIER_BASKET, "voided": False},
    {"entry_id": "e2", "at": "2026-11-30T11:40:02+08:00", "paid_fen": 1275, "card_no": "04A1B2C3D4E5AA",
     "items": SET_A, "voided": True},
    {"entry_id": "e1", "at": "2026-11-30T11:31:45+08:00", "paid_fen": 680, "card_no": "04A1B2C3D4E5BB",
     "items": basket(**{"set-d": 1}), "voided": False},
]


def plain(text: str) -> str:
    """Screen text with its no-break spaces (between an amount and its unit) as plain spaces."""
    return text.replace("\u00a0", " ")


class FakeTerminal:
    """Records what the window asks of the terminal."""

    def __init__(self) -> None:
        self.commands: list[str] = []
        self.baskets: list[dict[str, int]] = []
        self.voids: list[tuple[str, str, str]] = []

    def ui(self, command: str) -> None:
        self.commands.append(command)

    def basket(self, quantities: dict[str, int]) -> None:
        self.baskets.append(dict(quantities))

    def void(self, entry_id: str, reason: str, staff: str) -> None:
        self.voids.append((entry_id, reason, staff))

    def recent_payments(self, limit: int = 10) -> list[dict[str, Any]]:
        return PAYMENTS[:limit]


def all_up(config):
    """What the status probe says when every device and the network answer."""
    return [ComponentStatus(key, True, "ok") for key in (*config.devices.configured(), "central")]


def open_window(qtbot, examples_dir, mode: str = "self", **canteen: Any) -> CanteenWindow:
    config = load_config(examples_dir / "canteen.toml")
    config = config.model_copy(update={"canteen": config.canteen.model_copy(update={"mode": mode, **canteen})})
    terminal = FakeTerminal()
    window = CanteenWindow(config, terminal, checker=all_up)
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.statuses is not None)
    window.apply(SELF["menu"] if mode == "self" else CASHIER["menu"])
    window.fake = terminal
    return window


@pytest.fixture
def canteen(qtbot, examples_dir) -> CanteenWindow:
    return open_window(qtbot, examples_dir)


@pytest.fixture
def cashier(qtbot, examples_dir) -> CanteenWindow:
    return open_window(qtbot, examples_dir, "cashier")


def main_label(window: CanteenWindow):
    """The page's main message (checked ≥ 30 pt)."""
    page = window.current_page
    return {"idle": window.prompt, "present": window.present_heading, "paying": window.paying_heading,
            "paid": window.paid_heading, "refused": window.refused_heading,
            "cashier": window.cashier.heading}.get(page)


@pytest.mark.parametrize("mode", ["self", "cashier"])
@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_canteen_screen_meets_the_numbers(qtbot, examples_dir, mode, language):
    window = open_window(qtbot, examples_dir, mode)
    if language == "en":
        window.toggle_language()
    problems = []
    for name, show in (SELF if mode == "self" else CASHIER).items():
        window.apply(SELF["menu"] if mode == "self" else CASHIER["menu"])
        if mode == "cashier" and name == "present":
            for item in CASHIER_BASKET:
                for _ in range(item["qty"]):
                    window.cashier.dishes[item["item_id"]].click()
        window.apply(show)
        if name in CAPTIONS[mode]:
            window.caption(*CAPTIONS[mode][name])  # the spoken words' line under the page has its room too
        problems += check_sizes(window, SCREENS_DIR / "canteen", f"{mode}-{name}-{language}", main_label(window))
    assert problems == []


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_staff_view_meets_the_numbers(qtbot, cashier, language):
    if language == "en":
        cashier.toggle_language()
    cashier.open_staff_view()
    qtbot.waitUntil(lambda: cashier.staff.payments is not None)
    problems = check_sizes(cashier, SCREENS_DIR / "canteen", f"staff-list-{language}")
    cashier.staff.void_buttons["e3"].click()
    cashier.staff.reason_buttons["reason_returned"].click()
    problems += check_sizes(cashier, SCREENS_DIR / "canteen", f"staff-void-{language}")
    assert problems == []


def test_every_canteen_screen_of_the_flow_is_drawn():
    """Each state the flow has (kiosk.prompts.CANTEEN_SCREENS) is among the screens checked here."""
    drawn = {s.screen for s in (*SELF.values(), *CASHIER.values())} | {"menu"}
    assert {"choosing", "present", "paying", "paid", "refused", "error"} <= drawn
    assert set(CANTEEN_SCREENS) - {"idle"} <= drawn


def test_a_meal_tap_and_the_bar_reach_the_terminal(canteen):
    assert list(canteen.meal_tiles) == ["set-d", "set-c", "set-b", "set-a"]  # the set meals only, as sorted
    canteen.meal_tiles["set-a"].click()
    canteen.apply(SELF["present"])
    canteen.present_back.click()
    canteen.apply(SELF["paid"])
    canteen.receipt.click()
    canteen.paid_done.click()
    canteen.bar.more_time.click()
    canteen.bar.repeat.click()
    canteen.bar.help.click()
    assert canteen.fake.commands == ["meal:set-a", "dismiss", "receipt", "dismiss", "extend", "repeat", "help"]


def test_meals_show_name_and_price_and_a_drawn_tile_without_a_photo(canteen, tmp_path):
    tile = canteen.meal_tiles["set-a"]
    price = BY_ID["set-a"]["unit_fen"]
    assert tile.name.text() == "套餐A 两荤一素" and plain(tile.price.text()) == f"{yuan(price)} 元"
    assert tile_character("套餐A 两荤一素") == "A" and tile_character("软食套餐") == "软"
    assert not tile.picture.pixmap().isNull()
    canteen.toggle_language()
    assert tile.name.text() == "Set A: two meat, one veg" and plain(tile.price.text()) == f"{yuan(price)} yuan"


def test_a_photo_from_the_photo_dir_is_used_when_it_exists(qtbot, examples_dir, tmp_path):
    from ui.qt import QColor, QPixmap

    photo = QPixmap(300, 200)
    photo.fill(QColor("#C04020"))
    photo.save(str(tmp_path / "set-b.png"))
    window = open_window(qtbot, examples_dir, photo_dir=str(tmp_path))
    shown = window.meal_tiles["set-b"].picture.pixmap().toImage()
    assert shown.width() == 128 and QColor(shown.pixel(64, 64)).name() == "#c04020"
    drawn = window.meal_tiles["set-a"].picture.pixmap().toImage()  # no file: the drawn tile
    assert QColor(drawn.pixel(64, 64)).name() != "#c04020"


def test_paid_shows_each_line_then_paid_and_balance_and_the_low_balance_in_words(cashier):
    cashier.apply(CASHIER["paid_subsidy_low"])
    shown = [plain(w.text()) for w in cashier.pages["paid"].findChildren(QLabel) if w.isVisible()]
    q = quote(CASHIER_BASKET, HOLDER, MONDAY, POLICY, False)
    assert [x.kind for x in q.lines] == ["gross", "discount", "subsidy", "paid"]  # the basket earns the subsidy
    assert all(x.zh in shown for x in q.lines[:3]) and "今日补贴 −3 元" in shown and "85 折" in q.lines[1].zh
    assert f"实付 {yuan(q.paid_fen)} 元" in shown and "余额 15.85 元" in shown
    assert plain(cashier.paid_low.text()) == "⚠ " + prompt_text("canteen_low_balance", "zh", {"balance": "15.85"})
    assert not any(t.startswith("应付") for t in shown)  # the large 实付 says it once
    assert cashier.receipt.isVisible()  # the example config has a printer
    cashier.apply(SELF["paid_duplicate"])
    assert cashier.paid_heading.text() == prompt_text("canteen_already_paid") and not cashier.receipt.isVisible()


def test_no_receipt_button_without_a_printer(qtbot, examples_dir):
    config = load_config(examples_dir / "canteen.toml")
    config = config.model_copy(update={"devices": config.devices.model_copy(update={"printer": None})})
    window = CanteenWindow(config, FakeTerminal(), checker=all_up)
    qtbot.addWidget(window)
    window.show()
    window.apply(SELF["paid"])
    assert window.paid_amount.isVisible() and not window.receipt.isVisible()


def test_refusals_say_why_and_what_next_in_the_prompt_words(canteen):
    canteen.apply(SELF["refused_insufficient"])
    assert canteen.refused_heading.text() == "没有付款"
    said = prompt_text("canteen_insufficient", "zh", {"short": "2.75"})
    assert canteen.refused_words.text().replace("\n", "") == said and "还差 2.75 元" in said
    canteen.caption("canteen_insufficient", {"short": "2.75", "limit": "10"})
    assert canteen.spoken == said and not canteen.spoken_label.isVisible()  # the page says it already
    canteen.apply(Show("refused", {"mode": "self", "code": "something_new", "stays_s": 30.0}))
    assert canteen.refused_words.text().replace("\n", "") == prompt_text("ask_staff")  # never the hall's words
    canteen.apply(SELF["error"])
    assert canteen.refused_heading.text() == "请找工作人员"
    assert canteen.refused_words.text().replace("\n", "") == prompt_text("ask_staff")


def test_a_menu_without_set_meals_says_so(qtbot, canteen):
    canteen.apply(Show("menu", {"mode": "self", "menu": [m for m in MENU if not m["set_meal"]], "basket": [],
                                "total_fen": 0}))
    assert canteen.meal_tiles == {} and canteen.idle_notice.text() == "本机还没有今天的套餐，请找工作人员"


def test_captions_show_the_spoken_words(canteen, cashier):
    canteen.apply(SELF["paid"])
    canteen.caption("canteen_receipt_failed", {})
    assert canteen.spoken_label.isVisible() and canteen.spoken_label.text() == prompt_text("canteen_receipt_failed")
    canteen.caption("help_called", {})
    assert canteen.bar.countdown.text() == prompt_text("help_called")
    canteen.apply(SELF["choosing"])
    canteen.caption("canteen_choose_first", {})
    assert canteen.idle_notice.text() == prompt_text("canteen_choose_first") and canteen.prompt.text() == "请先选择套餐"
    cashier.caption("canteen_wait_clerk", {})  # the resident's side already says it: no second line
    assert cashier.cashier.heading.text() == prompt_text("canteen_wait_clerk") and not cashier.spoken_label.isVisible()
    cashier.caption("canteen_not_genuine", {})  # words the page does not show get the caption line
    assert cashier.spoken_label.isVisible() and cashier.spoken_label.text() == prompt_text("canteen_not_genuine")
    canteen.toggle_language()  # the caption follows the language
    canteen.caption("canteen_receipt_failed", {})
    assert canteen.spoken_label.text() == prompt_text("canteen_receipt_failed", "en")


def test_the_warning_shows_the_countdown_with_more_time(canteen):
    canteen.apply(SELF["refused_warning"])
    assert "9 秒后返回首页" in canteen.bar.countdown.text() and canteen.bar.more_time.isVisible()
    assert canteen.bar.countdown.property("tone") == "warning"
    canteen.bar.more_time.click()
    assert canteen.fake.commands[-1] == "extend"


def test_the_reset_restores_language_and_volume(canteen):
    volumes = []
    canteen.speaker_volume_changed = volumes.append
    canteen.toggle_language()
    for _ in range(4):
        canteen.volume_down.click()
    assert canteen.language == "en" and canteen.volume < canteen.config.voice.volume
    canteen.apply(Show("menu", {"mode": "self", "menu": MENU, "basket": [], "total_fen": 0, "reset": True}))
    assert canteen.language == "zh" and canteen.volume == canteen.config.voice.volume
    assert volumes[-1] == canteen.config.voice.volume
    assert canteen.prompt.text() == prompt_text("canteen_choose_meal")
    assert plain(canteen.meal_tiles["set-a"].price.text()) == f"{yuan(BY_ID['set-a']['unit_fen'])} 元"


def test_the_clerks_basket_reaches_the_terminal(cashier):
    dishes = cashier.cashier.dishes
    assert len(dishes) == len(MENU)
    dishes["hongshaorou"].click()
    dishes["mifan"].click()
    dishes["mifan"].click()
    assert cashier.fake.baskets[-1] == {"hongshaorou": 1, "mifan": 2}
    assert dishes["mifan"].price.text().endswith("×2")  # the count in figures, not a colour
    total = BY_ID["hongshaorou"]["unit_fen"] + 2 * BY_ID["mifan"]["unit_fen"]
    assert plain(cashier.cashier.total.text()) == f"合计 {yuan(total)} 元" and cashier.cashier.heading.text() == "请刷一卡通"
    cashier.cashier.less_buttons["mifan"].click()
    assert cashier.fake.baskets[-1] == {"hongshaorou": 1, "mifan": 1}
    assert cashier.cashier.clear is not None
    cashier.cashier.clear.click()
    assert cashier.fake.baskets[-1] == {}
    assert cashier.cashier.heading.text() == prompt_text("canteen_wait_clerk") and not cashier.cashier.total.isVisible()
    dishes["tang"].click()
    cashier.apply(Show("menu", {"mode": "cashier", "menu": MENU, "basket": [], "total_fen": 0, "reset": True}))
    assert cashier.cashier.quantities == {}  # paid (or cleared): the next resident starts empty


def test_the_clerk_voids_a_payment_with_a_reason_and_staff_number(qtbot, cashier):
    cashier.open_staff_view()
    qtbot.waitUntil(lambda: cashier.staff.payments is not None)
    assert cashier.current_page == "staff" and cashier.strip.isVisible() and not cashier.bar.isVisible()
    assert not cashier.staff.void_buttons["e2"].isEnabled() and cashier.staff.void_buttons["e2"].text() == "已撤销"
    cashier.staff.void_buttons["e3"].click()
    cashier.staff.confirm.click()
    assert cashier.fake.voids == [] and "没有选原因" in cashier.staff.form_note.text()
    cashier.staff.reason_buttons["reason_wrong_dish"].click()
    assert cashier.staff.reason_buttons["reason_wrong_dish"].text() == "✔ 点错菜"
    cashier.staff.confirm.click()
    assert cashier.fake.voids == [] and "没有输入工号" in cashier.staff.form_note.text()
    for key in "0427":
        cashier.staff.keypad.keys[key].click()
    cashier.staff.confirm.click()
    assert cashier.fake.voids == [("e3", "点错菜", "0427")]
    cashier.apply(Show("void_result", {"ok": True, "entry_id": "e3", "code": "", "refund_fen": 1995}))
    assert plain(cashier.staff.result_label.text()) == "已撤销，退回卡里 19.95 元"
    cashier.apply(Show("void_result", {"ok": False, "entry_id": "e3", "code": "too_late", "refund_fen": 0}))
    assert "已超过可撤销的时间" in cashier.staff.result_label.text()
    cashier.apply(CASHIER["present"])  # a resident screen while the clerk works does not take the page away
    cashier.caption("canteen_read_failed", {})
    assert cashier.current_page == "staff" and not cashier.spoken_label.isVisible()
    cashier.staff_close.click()
    assert cashier.current_page == "cashier" and cashier.bar.isVisible() and not cashier.strip.isVisible()
    assert cashier.spoken_label.isVisible() and cashier.spoken_label.text() == prompt_text("canteen_read_failed")


def test_the_staff_view_opens_only_by_holding_the_title(qtbot, canteen):
    assert not canteen.strip.isVisible()
    qtbot.mousePress(canteen.header, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: canteen.staff_view_open, timeout=5000)
    qtbot.mouseRelease(canteen.header, Qt.MouseButton.LeftButton)
    assert canteen.current_page == "staff"


def test_canteen_ui_carries_the_terminals_callbacks_to_the_window_and_taps_back(qtbot, examples_dir, monkeypatch):
    """CanteenUi: shows and words from the terminal's thread reach the window; language, volume and taps go back."""
    import threading
    from types import SimpleNamespace

    import ui.canteen_app as canteen_app

    opened: dict[str, Any] = {}
    terminal = FakeTerminal()
    speaker = SimpleNamespace(volume=0)
    closed: list[bool] = []

    def fake_open(config, **kwargs):
        opened.update(kwargs)
        return SimpleNamespace(terminal=terminal, base=SimpleNamespace(speaker=speaker, health=None, sync=None),
                               close=lambda: closed.append(True))

    monkeypatch.setattr(canteen_app, "open_canteen", fake_open)
    ui = canteen_app.CanteenUi(load_config(examples_dir / "canteen.toml"))
    window = ui.window
    qtbot.addWidget(window)
    window.show()
    assert speaker.volume == window.volume  # the speaker starts at the window's volume
    thread = threading.Thread(target=lambda: (opened["on_show"](SELF["menu"]),
                                              opened["on_say"]("canteen_choose_meal", {})))
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bool(window.meal_tiles))
    qtbot.waitUntil(lambda: window.spoken == prompt_text("canteen_choose_meal"))
    window.meal_tiles["set-b"].click()
    assert terminal.commands == ["meal:set-b"]
    window.toggle_language()
    assert opened["language"]() == "en"
    window.volume_down.click()
    assert speaker.volume == window.volume
    assert ui.door.recent_payments(2) == PAYMENTS[:2]
    ui.close()
    assert closed == [True]


def test_the_terminal_door_drops_taps_until_the_terminal_runs():
    from ui.canteen_app import CanteenDoor

    door = CanteenDoor()
    door.ui("meal:set-a")
    door.basket({"mifan": 1})
    door.void("e1", "其他", "0427")
    assert door.recent_payments() == []


@pytest.mark.parametrize("mode", ["self", "cashier"])
def test_the_real_flows_effects_draw_every_screen(qtbot, examples_dir, mode):
    """The canteen flow itself (kiosk.canteen.flow, no I/O) drives the window: its Show data has what the pages read."""
    from kiosk.canteen import events as ev
    from kiosk.canteen.flow import CanteenFlow, CanteenSettings

    window = open_window(qtbot, examples_dir, mode)
    flow = CanteenFlow(CanteenSettings(mode=mode))
    pays: list[ev.Pay] = []

    def run(event) -> None:
        for effect in flow.handle(event):
            if isinstance(effect, ev.Show):
                data = effect.data if "menu" in effect.data or effect.screen != "menu" else {**effect.data, "menu": MENU}
                window.apply(ev.Show(effect.screen, data))  # the terminal adds today's menu to the idle screen
            elif isinstance(effect, ev.Say):
                window.caption(effect.key, effect.params)
            elif isinstance(effect, ev.Pay):
                pays.append(effect)

    run(ev.Tick(0.0))
    if mode == "self":
        window.meal_tiles["set-a"].click()
        run(ev.MealChosen(BY_ID["set-a"]))
        assert window.current_page == "present" and plain(window.present_price.text()).startswith(yuan(SET_A[0]["unit_fen"]))
    else:
        window.cashier.dishes["hongshaorou"].click()
        run(ev.BasketChanged(tuple(basket(hongshaorou=1))))
        assert window.current_page == "cashier" and window.cashier.heading.text() == "请刷一卡通"
    run(ev.CardPresented("04A1B2C3", 1.0))
    assert window.current_page == "paying" and pays
    q = quote(list(pays[-1].items), HOLDER, MONDAY, POLICY, False)
    lines = tuple({"zh": x.zh, "en": x.en, "kind": x.kind, "amount_fen": x.amount_fen} for x in q.lines)
    run(ev.PaymentDone("paid", "e1", q.paid_fen, lines, 2000, True, False, pays[-1].tap))
    assert window.current_page == "paid" and f"实付 {yuan(q.paid_fen)} 元" == plain(window.paid_amount.text())
    assert window.paid_low.isVisible() and "20 元" in plain(window.paid_low.text())
    run(ev.Tick(flow.now + 11.0))  # 10 s before the paid screen goes: the warning, with 继续
    assert window.bar.countdown.property("tone") == "warning" and window.bar.more_time.isVisible()
    run(ev.Dismissed())
    assert window.current_page == ("idle" if mode == "self" else "cashier")
    run(ev.CardPresented("04A1B2C3", 30.0))  # a card with nothing chosen
    if mode == "self":
        assert window.current_page == "idle" and window.prompt.text() == "请先选择套餐"
    else:
        assert window.spoken == prompt_text("canteen_wait_clerk") and not window.spoken_label.isVisible()
    run(ev.PaymentRefused("insufficient", {"short": "3", "limit": "12"}, tap=flow.taps))  # for no tap: ignored
    assert window.current_page != "refused"
    if mode == "self":
        run(ev.MealChosen(BY_ID["set-b"]))  # the card held while choosing pays at once
    else:
        run(ev.BasketChanged(tuple(basket(mifan=1))))
        run(ev.CardPresented("04A1B2C3", 31.0))
    run(ev.PaymentRefused("insufficient", {"short": "3", "limit": "12"}, tap=pays[-1].tap))
    said = prompt_text("canteen_insufficient", "zh", {"short": "3"})
    assert window.current_page == "refused" and window.refused_words.text().replace("\n", "") == said
    assert window.spoken == said
