"""The counter's 充值 pages (pytest-qt, offscreen) against a fake hall client.

The fake keeps the hall's rules that matter to the page: top-ups are recorded once per request
id, lost and unknown cards are refused in the hall's words, the service can be down, an answer
can be lost after the top-up was recorded, and a session can end.  Checked: a tap on a top-up page
is the resident's card (not a login), amounts from the presets and the keypad, the method, the
confirmation with the amount in words, the result sentence, every refusal in words, the retry
after a lost answer reusing its request id (credited once), and every screen at 1024×768,
1280×800 and 1920×1080 in zh and en (saved under out/screens/counter/).  The last test goes the whole way: the
clerk's staff card and then the resident's community card on the counter's own reader (pyscard →
pcscd → vpcd), the real hall service, the ``card.topup`` event in the hall's outbox.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from hardware_sim import personas
from hardware_sim.pcsc_slot import PcscCardSlot
from hardware_sim.runner import CCARD_READER
from hardware_sim.sscard import CCARD_FAULTS, make_ccard
from kiosk.canteen.journal import CardJournal
from kiosk.config import PcscReader
from kiosk.hall import CallingRule, HallQueue, ServiceCatalog
from kiosk.hall.checkin.setup import hall_topups
from kiosk.hall.client import HallClient, HallRefused, HallStaffRefused, HallUnavailable, Session
from kiosk.hall.service_api import create_app
from kiosk.hall.service_server import HallServer
from kiosk.hall.staff import ScryptParams, StaffRegistry
from kiosk.hall.tickets import Counter, Snapshot
from kiosk.hall.topups import CardInfo, TopupResult
from kiosk.reference import ReferenceData
from kiosk.voice import Speaker
from tests.hall_ui_support import SECRET, SERVICES, role_config, statuses
from tests.test_hall_topup import PERSON_KEY, load_reference, open_hall_store
from tests.ui_checks import SCREENS_DIR, check_sizes
from ui.counter import CounterWindow
from ui.counter_topup import amount_words, yuan_text
from ui.qt import QApplication, QThreadPool

pytestmark = [pytest.mark.ui, pytest.mark.timeout(120)]

WAIT_MS = 5000
STAFF_UID, PIN = "0A0B0C01", "2580"
ACTIVE, LOST, UNKNOWN = "4B45B478", "0A1B2C3D", "DEADBEEF"


class FakeHall:
    """What the counter asks the hall, answered in memory (the top-up rules of kiosk.hall.topups)."""

    def __init__(self) -> None:
        self.sessions: dict[int, Session] = {}
        self.cards = {ACTIVE: CardInfo(ACTIVE, "active", "陈*英", 5000, "2026-12-03T08:00:00+08:00", None),
                      LOST: CardInfo(LOST, "lost", "李*华", None, None, "lost", "this card is reported lost: it "
                                     "cannot be topped up", "此卡已挂失，不能充值")}
        self.recorded: dict[str, TopupResult] = {}  # request id -> top-up
        self.calls: list[tuple[str, int, str, str]] = []  # every top-up request received
        self.lookups: list[str] = []
        self.down = False
        self.lose_next_answer = False
        self.session_ended = False

    def _check(self, window: int) -> None:
        if self.down:
            raise HallUnavailable("unreachable", "cannot reach the hall service", "无法连接排队服务，请检查网络")
        if self.session_ended:
            self.sessions.pop(window, None)
            raise HallStaffRefused("session_ended", "someone else logged in at this window: log in again",
                                   "本窗口已有其他工作人员登录，请重新刷工作证")

    # -- the console's calls ---------------------------------------------------------------------------
    def snapshot(self, recent: int = 5) -> Snapshot:
        if self.down:
            raise HallUnavailable("unreachable", "cannot reach the hall service", "无法连接排队服务，请检查网络")
        return Snapshot("2026-12-03", (), (), {"A": 2, "B": 0}, 0, tuple(SERVICES[:2]))

    def counter(self, window: int) -> tuple[Counter, None]:
        self._check(window)
        return Counter(window, "1001", ("A", "B"), "2026-12-03T01:00:00.000Z"), None

    def login(self, window: int, card_uid: str, pin: str, services: Any) -> Counter:
        assert (card_uid, pin) == (STAFF_UID, PIN)
        self.sessions[window] = Session(window, "1001", "王*丽", "t" * 43)
        return Counter(window, "1001", tuple(services), "2026-12-03T01:00:00.000Z")

    def session(self, window: int) -> Session | None:
        return self.sessions.get(window)

    def logout(self, window: int) -> None:
        self.sessions.pop(window, None)

    def alert_events(self, window: int, stop: threading.Event, **_: Any) -> Iterator[list]:
        yield []
        stop.wait()

    def close(self) -> None:
        pass

    # -- top-ups ---------------------------------------------------------------------------------------
    def card_info(self, window: int, card_no: str) -> CardInfo:
        self._check(window)
        self.lookups.append(card_no)
        if card_no not in self.cards:
            raise HallRefused("unknown_card", "this card is not registered with the community card service: check "
                              "the number", "此卡未在一卡通系统登记，请核对卡号")
        return self.cards[card_no]

    def topup(self, window: int, card_no: str, amount_fen: int, method: str, request_id: str) -> TopupResult:
        self._check(window)
        self.calls.append((card_no, amount_fen, method, request_id))
        card = self.cards[card_no]
        if card.refusal:
            raise HallRefused(card.refusal, card.words_en, card.words_zh)
        repeat = request_id in self.recorded
        if not repeat:
            self.recorded[request_id] = TopupResult(request_id, f"e{len(self.recorded):07d}-0000", card_no,
                                                    amount_fen, method, "1001", card.masked_name,
                                                    "2026-12-03T02:00:00.000Z", False, None)
            balance = (card.balance_fen or 0) + amount_fen
            self.cards[card_no] = CardInfo(**{**card.to_dict(), "balance_fen": balance})
        if self.lose_next_answer:
            self.lose_next_answer = False
            raise HallUnavailable("timeout", "the hall service did not answer in time", "排队服务无响应，请稍后重试")
        stored = self.recorded[request_id]
        return TopupResult(**{**stored.to_dict(), "repeat": repeat, "balance_fen": self.cards[card_no].balance_fen})


@pytest.fixture
def hall() -> FakeHall:
    return FakeHall()


@pytest.fixture
def window(qtbot, examples_dir, hall: FakeHall) -> Iterator[CounterWindow]:
    config = role_config(examples_dir, "counter", "http://127.0.0.1:9", window=3)
    speaker = Speaker(True, 0, player=None)
    w = CounterWindow(config, hall, speaker=speaker, checker=lambda _c: statuses(True, ("ccard",)),  # type: ignore[arg-type]
                      poll_ms=60_000, read_cards=False)
    w.owned.append(speaker.close)
    qtbot.addWidget(w)
    qtbot.addWidget(w.pad)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.online is True and w._services_loaded, timeout=WAIT_MS)
    w.card_tapped(STAFF_UID)
    for digit in PIN:
        w.login.keypad.keys[digit].click()
    w.login.login_button.click()
    qtbot.waitUntil(lambda: w.current_page == "console", timeout=WAIT_MS)
    yield w
    w.close()
    QThreadPool.globalInstance().waitForDone(5000)
    QApplication.processEvents()


def message(w: CounterWindow) -> str:
    return {"topup": w.topup.page.message, "topup_card": w.topup.card_page.message,
            "topup_confirm": w.topup.confirm_page.message}[w.current_page].text()


def tap_card(qtbot, w: CounterWindow, card_no: str) -> None:
    w.card_tapped(card_no)  # what the counter's reader hands over
    qtbot.waitUntil(lambda: not w.topup.busy, timeout=WAIT_MS)


def test_a_tap_on_the_top_up_page_is_the_residents_card_and_a_top_up_is_confirmed(window, hall, qtbot):
    w = window
    window.card_tapped(ACTIVE)  # on the console a tap changes nothing: no look-up
    assert hall.lookups == [] and w.current_page == "console"
    assert w.topup.button.text() == "充值"
    w.topup.button.click()
    assert w.current_page == "topup"
    assert w.topup.page.card_line.text() == "请居民在读卡器上刷一卡通"
    tap_card(qtbot, w, ACTIVE)
    assert hall.lookups == [ACTIVE] and w.counter is not None  # still the same clerk: not a login
    assert w.topup.page.card_line.text() == "陈*英 · 卡号 4B45B478"
    assert w.topup.page.card_state.text() == "状态：正常 · 余额：50.00 元"
    w.topup.page.next.click()
    assert message(w) == "✘ 请选择或输入充值金额（1 至 1000 元）"
    w.topup.page.presets[100].click()
    assert w.topup.page.presets[100].text() == "✔ 100 元"
    w.topup.page.next.click()
    assert message(w) == "✘ 请选择充值方式：现金或转账"
    w.topup.page.methods["cash"].click()
    w.topup.page.next.click()
    c = w.topup.confirm_page
    assert w.current_page == "topup_confirm" and hall.calls == []  # nothing is sent before the confirmation
    assert (c.card.text(), c.amount.text(), c.words.text()) == ("为 陈*英（卡号 4B45B478）充值", "100 元",
                                                                "大写：人民币壹佰元整")
    assert c.method.text() == "方式：现金 · 经办：王*丽（工号 1001）"
    c.confirm.click()
    qtbot.waitUntil(lambda: w.current_page == "topup_done", timeout=WAIT_MS)
    assert [call[:3] for call in hall.calls] == [(ACTIVE, 10_000, "cash")]
    d = w.topup.done_page
    assert d.heading.text() == "已为 陈*英 充值 100 元"
    assert d.detail.text() == "现金 · 卡号 4B45B478 · 余额 150.00 元"
    tap_card(qtbot, w, ACTIVE)  # the next resident's tap starts the next top-up
    assert w.current_page == "topup" and w.topup.amount_yuan is None and w.topup.method is None
    w.topup.page.back.click()
    assert w.current_page == "console"


def test_a_typed_card_number_and_a_typed_amount_by_transfer(window, hall, qtbot):
    w = window
    w.topup.button.click()
    w.topup.page.type_card.click()
    assert w.current_page == "topup_card"
    for key in "4B45B47":
        (w.topup.card_page.keypad.letter_keys.get(key) or w.topup.card_page.keypad.keys[key]).click()
    w.topup.card_page.go.click()
    assert message(w) == "✘ 卡号应为 8、14 或 20 位（数字和 A–F）" and hall.lookups == []
    w.topup.card_page.keypad.keys["8"].click()
    assert w.topup.card_page.keypad.entry.text() == ACTIVE
    w.topup.card_page.go.click()
    qtbot.waitUntil(lambda: w.topup.card is not None, timeout=WAIT_MS)
    assert w.current_page == "topup" and hall.lookups == [ACTIVE]
    for digit in "2500":
        w.topup.page.keypad.keys[digit].click()
    w.topup.page.methods["transfer"].click()
    w.topup.page.next.click()
    assert message(w) == "✘ 请选择或输入充值金额（1 至 1000 元）"  # 2500 元 is over the limit
    w.topup.page.keypad.keys["back"].click()
    w.topup.page.next.click()
    assert w.topup.confirm_page.words.text() == "大写：人民币贰佰伍拾元整"
    w.topup.confirm_page.confirm.click()
    qtbot.waitUntil(lambda: w.current_page == "topup_done", timeout=WAIT_MS)
    assert [call[:3] for call in hall.calls] == [(ACTIVE, 25_000, "transfer")]
    assert w.topup.done_page.heading.text() == "已为 陈*英 充值 250 元"


def test_refusals_are_said_in_words(window, hall, qtbot):
    w = window
    w.topup.button.click()
    tap_card(qtbot, w, LOST)
    assert w.topup.page.card_state.text() == "状态：已挂失 · 余额：暂无"
    assert message(w) == "✘ 此卡已挂失，不能充值"
    w.topup.page.presets[50].click()
    w.topup.page.methods["cash"].click()
    w.topup.page.next.click()
    assert w.current_page == "topup" and message(w) == "✘ 此卡已挂失，不能充值" and hall.calls == []
    tap_card(qtbot, w, UNKNOWN)
    assert message(w) == "✘ 此卡未在一卡通系统登记，请核对卡号" and w.topup.card is None
    hall.down = True
    tap_card(qtbot, w, ACTIVE)
    assert message(w) == "✘ 大厅服务无法连接，查不到这张卡。请稍后再刷卡" and w.topup.card is None
    hall.down = False
    tap_card(qtbot, w, ACTIVE)
    w.topup.page.next.click()
    assert w.current_page == "topup_confirm"
    w.card_tapped(LOST)  # a tap while the clerk confirms changes nothing
    assert message(w) == "✘ 请先确认或返回修改，再刷下一张卡" and hall.lookups[-1] == ACTIVE
    hall.session_ended = True
    w.topup.confirm_page.confirm.click()
    qtbot.waitUntil(lambda: w.current_page == "login", timeout=WAIT_MS)
    assert w.counter is None and hall.recorded == {}
    assert w.login.message.text() == "✘ 本窗口已有其他工作人员登录，请重新刷工作证"
    w.card_tapped(ACTIVE)  # logged out: a tap is a staff card again, not a top-up
    assert w.current_page == "login" and w.card_uid == ACTIVE


def test_a_lost_answer_is_sent_again_with_its_request_id_and_credited_once(window, hall, qtbot):
    w = window
    w.topup.button.click()
    tap_card(qtbot, w, ACTIVE)
    w.topup.page.presets[200].click()
    w.topup.page.methods["cash"].click()
    w.topup.page.next.click()
    hall.lose_next_answer = True
    w.topup.confirm_page.confirm.click()
    qtbot.waitUntil(lambda: not w.topup.busy and message(w).startswith("✘"), timeout=WAIT_MS)
    assert message(w) == "✘ 大厅服务无法连接：不确定是否已充值。请按「重新提交」，同一笔不会重复充值"
    assert w.current_page == "topup_confirm" and w.topup.confirm_page.confirm.text() == "重新提交"
    w.topup.confirm_page.edit.click()  # the clerk looks again, changes nothing, and confirms
    w.topup.page.next.click()
    assert w.topup.confirm_page.confirm.text() == "重新提交"
    w.topup.confirm_page.confirm.click()
    qtbot.waitUntil(lambda: w.current_page == "topup_done", timeout=WAIT_MS)
    assert len(hall.calls) == 2 and hall.calls[0] == hall.calls[1] and len(hall.recorded) == 1
    assert w.topup.done_page.detail.text() == "现金 · 卡号 4B45B478 · 余额 250.00 元\n（这笔充值此前已记录，未重复充值）"
    w.topup.done_page.another.click()
    tap_card(qtbot, w, ACTIVE)
    w.topup.page.presets[200].click()
    w.topup.page.methods["cash"].click()
    w.topup.page.next.click()
    assert w.topup.confirm_page.confirm.text() == "确认充值"  # a new top-up gets a new request id
    w.topup.confirm_page.confirm.click()
    qtbot.waitUntil(lambda: len(hall.recorded) == 2, timeout=WAIT_MS)
    assert hall.calls[2][3] != hall.calls[0][3]


def test_amounts_in_words():
    assert [amount_words(f, "zh") for f in (5000, 10_000, 25_000, 100_000, 105_000, 1_000, 1234, 5, 10_005)] == [
        "伍拾元整", "壹佰元整", "贰佰伍拾元整", "壹仟元整", "壹仟零伍拾元整", "壹拾元整", "壹拾贰元叁角肆分", "伍分",
        "壹佰元零伍分"]
    assert amount_words(200_000_000, "zh") == "贰佰万元整" and amount_words(1_000_100, "zh") == "壹万零壹元整"
    assert [amount_words(f, "en") for f in (10_000, 25_000, 100_000, 10_550, 1_500)] == [
        "one hundred yuan", "two hundred and fifty yuan", "one thousand yuan", "one hundred and five yuan and "
        "fifty fen", "fifteen yuan"]
    assert (yuan_text(10_000), yuan_text(10_050)) == ("100", "100.50")


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_top_up_screen_meets_the_numbers(window, hall, qtbot, language):
    w = window
    if language == "en":
        w.toggle_language()
    folder = SCREENS_DIR / "counter"
    sizes = ((1024, 768), (1280, 800), (1920, 1080))
    problems = check_sizes(w, folder, f"console-with-topup-{language}", sizes=sizes)
    w.topup.button.click()
    problems += check_sizes(w, folder, f"topup-tap-{language}", w.topup.page.heading, sizes)
    tap_card(qtbot, w, ACTIVE)
    w.topup.page.presets[100].click()
    w.topup.page.methods["cash"].click()
    problems += check_sizes(w, folder, f"topup-card-{language}", w.topup.page.heading, sizes)
    tap_card(qtbot, w, LOST)
    problems += check_sizes(w, folder, f"topup-lost-{language}", w.topup.page.heading, sizes)
    w.topup.page.type_card.click()
    for key in "4B45":
        (w.topup.card_page.keypad.letter_keys.get(key) or w.topup.card_page.keypad.keys[key]).click()
    problems += check_sizes(w, folder, f"topup-type-card-{language}", w.topup.card_page.heading, sizes)
    w.topup.card_page.cancel.click()
    tap_card(qtbot, w, ACTIVE)
    w.topup.page.presets[500].click()
    w.topup.page.next.click()
    problems += check_sizes(w, folder, f"topup-confirm-{language}", w.topup.confirm_page.amount, sizes)
    hall.lose_next_answer = True
    w.topup.confirm_page.confirm.click()
    qtbot.waitUntil(lambda: not w.topup.busy and w.topup.confirm_page.message.text() != "", timeout=WAIT_MS)
    problems += check_sizes(w, folder, f"topup-retry-{language}", w.topup.confirm_page.amount, sizes)
    w.topup.confirm_page.confirm.click()
    qtbot.waitUntil(lambda: w.current_page == "topup_done", timeout=WAIT_MS)
    problems += check_sizes(w, folder, f"topup-done-{language}", w.topup.done_page.heading, sizes)
    assert not problems, "\n".join(problems)


# -- the whole way: the counter's own reader (pyscard → pcscd → vpcd), the real hall service ------------------
def test_a_community_card_tapped_on_the_counters_reader_is_topped_up_by_the_logged_in_clerk(
        qtbot, examples_dir, tmp_path, pcscd):
    clerk, resident = personas.load()[2], personas.load()[4]
    resident_card = resident.ccard_uid.upper()
    store = open_hall_store(tmp_path / "hall.db")
    load_reference(store, [("card", resident_card, {"card_no": resident_card, "status": "active",
                                                    "masked_name": resident.name[0] + "*" + resident.name[-1]})])
    ref = ReferenceData(store, watch=False)
    staff = StaffRegistry(store, PERSON_KEY, kdf=ScryptParams(n=2**10))
    staff.set("2001", "李*华", clerk.ccard_uid, PIN)
    topups = hall_topups(SimpleNamespace(store=store, reference=ref))
    server = HallServer(create_app(HallQueue(store, ServiceCatalog.from_data(SERVICES), CallingRule("strict")),
                                   SECRET, staff=staff, topups=topups))
    url = server.start()
    slot = PcscCardSlot("ccard", pcscd, CCARD_READER, make_ccard, CCARD_FAULTS)
    config = role_config(examples_dir, "counter", url, window=5)
    config = config.model_copy(update={"devices": config.devices.model_copy(
        update={"ccard": PcscReader(reader=pcscd.pyscard_name(CCARD_READER))})})
    speaker = Speaker(True, 0, player=None)
    w = CounterWindow(config, HallClient(url, SECRET), speaker=speaker, poll_ms=60_000,
                      checker=lambda _c: statuses(True, ("ccard",)))
    w.owned.append(speaker.close)
    qtbot.addWidget(w)
    qtbot.addWidget(w.pad)
    try:
        w.resize(1280, 800)
        w.show()
        qtbot.waitUntil(lambda: w.online is True and w._services_loaded, timeout=WAIT_MS)
        slot.present(clerk)
        qtbot.waitUntil(lambda: w.card_uid == clerk.ccard_uid.upper(), timeout=WAIT_MS)
        for digit in PIN:
            w.login.keypad.keys[digit].click()
        w.login.login_button.click()
        qtbot.waitUntil(lambda: w.current_page == "console", timeout=WAIT_MS)
        slot.remove(wait=True)
        w.topup.button.click()
        slot.present(resident)  # the resident's community card, on the same reader
        qtbot.waitUntil(lambda: w.topup.card is not None, timeout=WAIT_MS)
        masked = resident.name[0] + "*" + resident.name[-1]
        assert w.topup.page.card_line.text() == f"{masked} · 卡号 {resident_card}"
        assert w.counter is not None and w.counter.staff_id == "2001"  # the tap did not log anyone in or out
        w.topup.page.presets[100].click()
        w.topup.page.methods["cash"].click()
        w.topup.page.next.click()
        w.topup.confirm_page.confirm.click()
        qtbot.waitUntil(lambda: w.current_page == "topup_done", timeout=WAIT_MS)
        assert w.topup.done_page.heading.text() == f"已为 {masked} 充值 100 元"
        [event] = [e for e in store.pending_events(100) if e.type == "card.topup"]
        assert (event.payload["card_no"], event.payload["amount_fen"], event.payload["staff"]) == (
            resident_card, 10_000, "2001")
        assert len(CardJournal(store).for_card(resident_card)) == 1
    finally:
        w.close()
        QThreadPool.globalInstance().waitForDone(5000)
        QApplication.processEvents()
        slot.remove(wait=True)
        server.stop()
        ref.close()
        store.close()
