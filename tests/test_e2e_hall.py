"""End to end: the simulator's devices, the hall terminal and its window (offscreen), resident by resident.

Every device speaks over its real transport (ptys, pcscd + vpcd, MJPEG over HTTP, the
city code service over HTTP); the window is the real one, driven by the terminal.
"""

from __future__ import annotations

import dataclasses
import time

import pytest

from hardware_sim import personas
from hardware_sim.runner import SSCARD_READER, Simulator
from hardware_sim.timing import Timing
from kiosk.config import Hall, load_config
from kiosk.config import Store as StoreConfig
from kiosk.hall.client import HallClient
from kiosk.voice import Speaker
from linfen.reference import write_sim_reference
from ui.hall_app import HallUi

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

HALL_DEVICES = ("idcard", "sscard", "qr_camera", "thermometer", "printer", "code_service")


def persona_where(**want):
    for p in personas.load():
        if all(getattr(p, k) == v for k, v in want.items()) and (p.age_on() < 80 or want.get("old")):
            return p
    raise LookupError(want)


@pytest.fixture
def sim(pcscd, tmp_path_factory):
    """A fresh simulator per test: no card, code or fault left over from another test."""
    work = tmp_path_factory.mktemp("hall-sim")
    simulator = Simulator(work, Timing.FAST, harness=pcscd, devices=HALL_DEVICES, sscard_reader=SSCARD_READER)
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def hall_settings():
    """The [hall] settings of the hall under test (tests override the calling rule)."""
    return {"bind": "127.0.0.1:0"}


@pytest.fixture
def hall(sim, qtbot, tmp_path, hall_settings):
    sim.clear("all")
    sim.paper("ok")
    sim.set_temperature(36.5)
    for device in ("idcard", "sscard", "qr_camera"):
        sim.remove(device)
    sim.devices["code_service"].clear_colour()
    extra = write_sim_reference(sim, tmp_path / "ref")
    (tmp_path / "hall.toml").write_text(sim.terminal_config("hall", extra=extra), encoding="utf-8")
    config = load_config(tmp_path / "hall.toml")
    config = config.model_copy(update={"store": StoreConfig(path=str(tmp_path / "hall.db")),
                                       "hall": Hall(**hall_settings)})
    speaker = Speaker(volume=60, player=None)
    ui = HallUi(config, speaker=speaker)
    qtbot.addWidget(ui.window)
    ui.window.resize(1280, 800)
    ui.window.show()
    ui.spoken = speaker.history
    yield ui
    ui.close()


def tap(qtbot, ui, code="A"):
    """The resident taps a service tile (after the last resident's screen is done), then sees where the card goes."""
    ui.app.terminal.ui("dismiss")
    ui.app.terminal.ui(f"service:{code}")
    wait_screen(qtbot, ui, "present", service=code)


def wait_screen(qtbot, ui, screen, timeout=8000, **data):
    def check():
        show = ui.window._last_show
        assert show.screen == screen, f"on {show.screen} {show.data}"
        for k, v in data.items():
            assert show.data.get(k) == v, show.data
    qtbot.waitUntil(check, timeout=timeout)
    return ui.window._last_show


def test_green_id_card_resident_gets_a_printed_ticket(sim, hall, qtbot, screens_dir):
    p = persona_where(code_colour="green", veteran=False, special_care=False, disabled=False)
    pages = sim.devices["printer"].pages_printed
    tap(qtbot, hall)  # service first, as a resident does
    sim.present("idcard", p.persona_id)
    show = wait_screen(qtbot, hall, "ticket", printed=True)
    assert show.data["number"] == "A001" and show.data["priority"] is False
    assert sim.devices["printer"].wait_for_tickets(pages + 1, 5)
    page = sim.devices["printer"].last_ticket()
    assert "A001" in page.text and (p.name[0] + "*") in page.text and p.id_number not in page.text
    assert "请取走号票" in hall.window.ticket_print.text()
    qtbot.waitUntil(lambda: any("您的号码是 A001" in s for s in hall.spoken), timeout=5000)
    hall.window.grab().save(str(screens_dir / "e2e-hall-ticket.png"))


def test_second_swipe_offers_a_reprint(sim, hall, qtbot):
    p = persona_where(code_colour="green")
    tap(qtbot, hall)  # service first, as a resident does
    sim.present("idcard", p.persona_id)
    wait_screen(qtbot, hall, "ticket", printed=True)
    sim.remove("idcard")
    time.sleep(0.2)
    tap(qtbot, hall)  # service first, as a resident does
    sim.present("idcard", p.persona_id)
    wait_screen(qtbot, hall, "reprint_offer", number="A001")
    hall.window.offer_yes.click()
    show = wait_screen(qtbot, hall, "ticket", printed=True)
    assert show.data["reprint"] is True and show.data["number"] == "A001"


@pytest.mark.parametrize("colour", ["yellow", "red"])
def test_yellow_or_red_code_is_refused_in_words_and_voice(sim, hall, qtbot, colour, screens_dir):
    p = persona_where(code_colour=colour)
    tap(qtbot, hall)  # service first, as a resident does
    sim.present("idcard", p.persona_id)
    wait_screen(qtbot, hall, "refused", reason=f"code_{colour}")
    words = hall.window.refused_words.text()
    assert ("黄码" if colour == "yellow" else "红码") in words
    qtbot.waitUntil(lambda: any(("黄码" if colour == "yellow" else "红码") in s for s in hall.spoken), timeout=5000)
    hall.window.grab().save(str(screens_dir / f"e2e-hall-refused-{colour}.png"))


def test_fever_is_retested_then_refused(sim, hall, qtbot):
    sim.set_temperature(38.2)
    tap(qtbot, hall)  # service first, as a resident does
    sim.present("idcard", persona_where(code_colour="green").persona_id)
    wait_screen(qtbot, hall, "refused", reason="fever")
    assert "38.2" in hall.window.refused_words.text()
    qtbot.waitUntil(lambda: any("再测一次" in s for s in hall.spoken), timeout=5000)


def test_social_security_card_works_too(sim, hall, qtbot):
    p = persona_where(code_colour="green")
    tap(qtbot, hall)  # service first, as a resident does
    sim.present("sscard", p.persona_id)
    show = wait_screen(qtbot, hall, "ticket", printed=True)
    assert show.data["number"].startswith("A")


def test_qr_code_gives_a_ticket_and_bad_tokens_are_refused(sim, hall, qtbot):
    service = sim.devices["code_service"]
    p = persona_where(code_colour="green")
    tap(qtbot, hall)  # service first, as a resident does
    sim.show_qr(p.persona_id, None)
    wait_screen(qtbot, hall, "ticket", printed=True)
    sim.remove("qr_camera")
    expired = service.issue_token(p.persona_id, issued_at=time.time() - 3 * 86400)
    sim.show_qr(None, expired)
    wait_screen(qtbot, hall, "error", reason="token_expired")
    assert "过期" in hall.window.refused_words.text()
    sim.remove("qr_camera")
    good = service.issue_token(p.persona_id)
    head, body, sig = good.split(".")
    forged = ".".join([head, body, ("A" if sig[0] != "A" else "B") + sig[1:]])
    sim.show_qr(None, forged)
    wait_screen(qtbot, hall, "error", reason="token_forged")


def test_city_service_down_gives_a_staff_check_ticket(sim, hall, qtbot):
    sim.fault("code_service", "down")
    tap(qtbot, hall)  # service first, as a resident does
    sim.present("idcard", persona_where(code_colour="green").persona_id)
    show = wait_screen(qtbot, hall, "ticket", printed=True)
    assert show.data["staff_check"] is True
    assert "服务台" in hall.window.ticket_check.text()


def test_paper_out_keeps_the_ticket_on_screen(sim, hall, qtbot, screens_dir):
    sim.paper("out")
    tap(qtbot, hall)  # service first, as a resident does
    sim.present("idcard", persona_where(code_colour="green").persona_id)
    show = wait_screen(qtbot, hall, "ticket", printing=False)
    assert show.data["printed"] is False
    assert "没有打印" in hall.window.ticket_print.text() and hall.window.ticket_done.text() == "我记下了"
    hall.window.grab().save(str(screens_dir / "e2e-hall-paper-out.png"))


def test_a_reader_unplugged_while_idle_leaves_the_screen_alone_and_the_next_resident_is_served(sim, hall, qtbot):
    said_before = len(hall.app.speaker.history)
    sim.fault("idcard", "unplug_mid_read", count=1)  # the idle loop's next "find card" loses the reader
    qtbot.wait(1500)
    assert hall.window._last_show.screen == "idle"  # no error page for an empty hall
    assert len(hall.app.speaker.history) == said_before  # and nothing said
    sim.plug("idcard")
    nxt = [p for p in personas.load() if p.code_colour == "green"][3]
    tap(qtbot, hall)  # service first, as a resident does
    sim.present("idcard", nxt.persona_id)
    wait_screen(qtbot, hall, "ticket", printed=True, timeout=15000)


def _priority_people(n):
    found = [p for p in personas.load() if p.code_colour == "green" and
             (p.veteran or p.special_care or p.disabled or p.age_on() >= 80)]
    assert len(found) >= n
    return found[:n]


def _take_tickets(sim, hall, qtbot, people):
    numbers: list[str] = []
    terminal = hall.app.terminal
    for p in people:
        done_before = terminal.visits_done
        tap(qtbot, hall)  # service first, as a resident does
        sim.present("idcard", p.persona_id)

        def new_ticket(before=done_before):
            assert terminal.visits_done > before
            show = hall.window._last_show
            assert show.screen == "ticket" and show.data.get("printed")

        qtbot.waitUntil(new_ticket, timeout=8000)
        numbers.append(hall.window._last_show.data["number"])
        sim.remove("idcard")
        qtbot.wait(150)
    return numbers


def _calls(hall, count):
    from linfen.demo import DEMO_STAFF_PIN, enrol_demo_staff

    cards = enrol_demo_staff(hall.app, (1,))  # the clerk's card, enrolled in the hall's staff registry
    client = HallClient(hall.app.service_url, hall.app.config.lan.secret)
    try:
        client.login(1, cards[1], DEMO_STAFF_PIN, ["A"])
        order = []
        for _ in range(count):
            call = client.call_next(1)
            assert call is not None, f"nobody waiting after {order}: {hall.app.queue.snapshot()}"
            order.append(call.number)
            client.start(1)
            client.finish(1)
        return order
    finally:
        client.close()


@pytest.mark.parametrize(("hall_settings", "expected"), [
    ({"bind": "127.0.0.1:0", "rule": "strict", "max_wait_min": None}, ["P1", "P2", "P3", "N1"]),
    ({"bind": "127.0.0.1:0", "rule": "ratio", "ratio_priority": 2, "ratio_normal": 1, "max_wait_min": None},
     ["P1", "P2", "N1", "P3"]),
], ids=["strict", "ratio"])
def test_priority_residents_are_called_by_the_configured_rule(sim, hall, qtbot, expected):
    normal = next(p for p in personas.load() if p.code_colour == "green" and p.age_on() < 80 and
                  not (p.veteran or p.special_care or p.disabled))
    people = [normal, *_priority_people(3)]
    numbers = dict(zip(["N1", "P1", "P2", "P3"], _take_tickets(sim, hall, qtbot, people), strict=True))
    tickets = {hall.app.queue.ticket(i).number: hall.app.queue.ticket(i).priority_reasons for i in range(1, 5)}
    assert _calls(hall, 4) == [numbers[k] for k in expected], (numbers, tickets)


@pytest.mark.parametrize("hall_settings", [{"bind": "127.0.0.1:0", "rule": "strict", "max_wait_min": 0.02}],
                         ids=["strict-max-wait"])
def test_max_wait_lets_a_normal_ticket_go_first(sim, hall, qtbot):
    normal = next(p for p in personas.load() if p.code_colour == "green" and p.age_on() < 80 and
                  not (p.veteran or p.special_care or p.disabled))
    (n1,) = _take_tickets(sim, hall, qtbot, [normal])
    qtbot.wait(1500)  # the normal ticket waits past max_wait (1.2 s) before the priority resident arrives
    (p1,) = _take_tickets(sim, hall, qtbot, _priority_people(1))
    assert _calls(hall, 2) == [n1, p1]


def test_a_locked_database_while_issuing_ends_on_ask_staff_then_idle(sim, hall, qtbot, monkeypatch):
    """Finding 1: a StoreError while issuing once left the screen on "issuing" for good."""
    from kiosk.store import StoreError

    def locked(*args, **kwargs):
        raise StoreError("database is locked")

    monkeypatch.setattr(hall.app.queue, "take_ticket", locked)
    hall.app.terminal.flow.settings = dataclasses.replace(hall.app.terminal.flow.settings, refused_screen_s=2.0)
    tap(qtbot, hall)  # service first, as a resident does
    sim.present("idcard", persona_where(code_colour="green").persona_id)
    wait_screen(qtbot, hall, "error", reason="ask_staff")
    assert "工作人员" in hall.window.refused_words.text() and "工作人员" in hall.window.refused_heading.text()
    qtbot.waitUntil(lambda: any("工作人员" in text for text in hall.spoken), timeout=3000)
    assert any("database is locked" in e for e in hall.app.terminal.errors)
    wait_screen(qtbot, hall, "idle", timeout=8000)  # and back to idle on its own


def test_unplugging_the_id_reader_while_idle_raises_one_alert_down_and_one_up_in_words(sim, hall, qtbot,
                                                                                     screens_dir):
    """With the simulator: no screen change, no speech, one "down" alert, the strip says it; plugged back, one "up"."""
    board = hall.app.alerts
    said = len(hall.spoken)
    sim.unplug("idcard")
    qtbot.waitUntil(lambda: [a.kind for a in board.open_alerts()] == ["device_down"], timeout=10000)
    qtbot.wait(3000)  # the reader stays unplugged: still one alert, nothing on screen, nothing said
    assert [a.kind for a in board.open_alerts()] == ["device_down"]
    assert hall.window._last_show.screen == "idle" and len(hall.spoken) == said
    down = board.open_alerts()[0]
    assert "身份证读卡器" in down.words("zh") and "ID card reader" in down.words("en")
    hall.window.refresh_status()
    strip = hall.window.status_labels["idcard"]
    qtbot.waitUntil(lambda: "✘" in strip.text(), timeout=5000)
    assert "身份证读卡器" in strip.text() and "正常" not in strip.text()
    hall.window.grab().save(str(screens_dir / "e2e-hall-idcard-unplugged.png"))
    sim.plug("idcard")
    qtbot.waitUntil(lambda: [a.kind for a in board.open_alerts()] == ["device_down", "device_up"], timeout=10000)
    qtbot.wait(2000)
    assert [a.kind for a in board.open_alerts()] == ["device_down", "device_up"]
    assert hall.window._last_show.screen == "idle" and len(hall.spoken) == said
    hall.window.refresh_status()
    qtbot.waitUntil(lambda: "✔" in strip.text(), timeout=5000)


def test_a_fever_alert_reaches_a_logged_in_counter_with_the_resident_masked(sim, hall, qtbot):
    """The terminal's alert goes through the hall's one AlertBoard to the counters' push feed; one clerk clears it."""
    import threading

    from linfen.demo import DEMO_STAFF_PIN, enrol_demo_staff

    cards = enrol_demo_staff(hall.app, (1,))
    client = HallClient(hall.app.service_url, hall.app.config.lan.secret)
    client.login(1, cards[1], DEMO_STAFF_PIN, ["A"])
    seen: list[list] = []
    stop = threading.Event()

    def follow():
        for item in client.alert_events(1, stop, read_timeout_s=10):
            if isinstance(item, list):
                seen.append(item)

    reader = threading.Thread(target=follow, daemon=True)
    reader.start()
    try:
        p = persona_where(code_colour="green")
        sim.set_temperature(38.4)
        tap(qtbot, hall)  # service first, as a resident does
        sim.present("idcard", p.persona_id)
        wait_screen(qtbot, hall, "refused", reason="fever")
        qtbot.waitUntil(lambda: seen and any(a.kind == "fever" for a in seen[-1]), timeout=8000)
        fever = next(a for a in seen[-1] if a.kind == "fever")
        assert "体温异常 38.4°C" in fever.words_zh and f"居民：{p.name[0]}*" in fever.words_zh
        assert p.name not in fever.words_zh and p.id_number not in fever.words_zh
        client.acknowledge(1, fever.id)
        qtbot.waitUntil(lambda: not any(a.kind == "fever" for a in seen[-1]), timeout=8000)
        raised = [e.payload for e in hall.app.store.pending_events(1000) if e.type == "alert.raised"]
        assert any(r["kind"] == "fever" for r in raised) and p.name[0] not in str(raised)
    finally:
        stop.set()
        client.close()
        reader.join(5)


def test_call_staff_reaches_the_counters_with_where_and_which_screen(sim, hall, qtbot):
    """"呼叫工作人员" on the present screen: a clerk's alert names the machine and the screen; the resident hears it."""
    tap(qtbot, hall, "B")
    hall.window.bar.help.click()
    board = hall.app.alerts
    qtbot.waitUntil(lambda: [a.kind for a in board.open_alerts()] == ["help"], timeout=5000)
    words = board.open_alerts()[0].to_dict()["words_zh"]
    assert "呼叫工作人员" in words and "刷卡页面" in words and f"取号机 {hall.app.config.terminal_id}" in words
    qtbot.waitUntil(lambda: any("已通知工作人员" in s for s in hall.spoken), timeout=5000)
    assert hall.window.bar.countdown.text() == "已通知工作人员，请在原地稍候"
    assert hall.window._last_show.screen == "present"  # the resident keeps the screen while staff come


def test_hear_again_on_the_idle_screen_says_the_idle_prompt(sim, hall, qtbot):
    hall.window.bar.repeat.click()
    qtbot.waitUntil(lambda: "请选择您要办理的业务" in hall.spoken, timeout=5000)
    tap(qtbot, hall, "C")
    qtbot.waitUntil(lambda: any(s.startswith("您选择了为老服务。") for s in hall.spoken), timeout=5000)
    hall.window.bar.repeat.click()  # the present screen's words again, and its full time
    qtbot.waitUntil(lambda: sum(s.startswith("您选择了为老服务。") for s in hall.spoken) == 2, timeout=5000)
