"""End to end: a volunteer checks in and out at the hall over the simulated ID card reader (a pty), a resident
co-signs with their ID card, the sync client pushes to a real central on loopback, and the central holds the
shift approved with its coins (helper A's ``hours.shifts`` and ``ledger.statement``).

The roster is published at the central (``feed.publish_roster``) and pulled by the sync client before the
volunteer taps.  Time passing is simulated on the kiosk only: the check-in is written with the store's event
clock set 90 minutes back, so the shift is long enough to earn; the kiosk restarts between check-in and out.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
import tomllib
from pathlib import Path
from typing import get_args

import pytest

from hardware_sim import personas
from hardware_sim.runner import Simulator
from hardware_sim.timing import Timing
from kiosk.config import parse_config
from kiosk.hall.checkin.events import Show
from kiosk.hall.checkin.setup import open_hall
from kiosk.priority import person_key
from kiosk.store import outbox
from kiosk.voice import Speaker
from sync.central.db import read_transaction
from sync.central.timebank.web_auth import session_cookie
from sync.client import SyncClient, SyncSettings
from sync.protocol import ReferenceKind
from tests.sync_fixtures import wait_until
from tests.sync_support import CentralHarness
from tests.timebank_support import import_default_policy, make_member, tb_conn
from tests.web_support import CHROMIUM, launch_chromium, signed_in_context

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

SITE = "linfen-road"
KEY = bytes.fromhex("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
FAST = SyncSettings(idle_interval_s=0.05, backoff_base_s=0.05, backoff_cap_s=0.5, connect_timeout_s=2.0,
                    read_timeout_s=10.0, write_timeout_s=10.0, pool_timeout_s=2.0)
SERVED_MINUTES = 90
SCREENS = Path(__file__).resolve().parent.parent / "out" / "screens" / "timebank"


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    simulator = Simulator(tmp_path_factory.mktemp("vol-sim"), Timing.FAST,
                          devices=("idcard", "thermometer", "printer", "code_service"))
    simulator.start()
    yield simulator
    simulator.stop()


@pytest.fixture
def central(tmp_path):
    harness = CentralHarness(tmp_path / "central.db")
    harness.start()
    yield harness
    harness.stop()


def people():
    """Two adults of the simulator's personas: the volunteer and the resident served (and a third, unregistered)."""
    found = [p for p in personas.load() if 30 <= p.age_on(personas.REFERENCE_DATE) < 80][:3]
    assert len(found) == 3
    return found


def hall_config(sim, central, tmp_path):
    """The hall with the simulator's devices; no token in its config: the test drives the sync client itself."""
    data = tomllib.loads(sim.terminal_config("hall", terminal_id="hall-01"))
    key_file = tmp_path / "person-key.hex"
    key_file.write_text(KEY.hex() + "\n", encoding="ascii")
    data.update(site=SITE, central_url=central.url, store={"path": str(tmp_path / "hall.db")},
                privacy={"person_key_file": str(key_file)}, lan={"secret": "volunteer-test-secret-0123456789"},
                hall={"bind": "127.0.0.1:0"})
    return parse_config(data, "hall.toml")


def register(central, volunteer) -> int:
    """A registered volunteer at the central (a tb_volunteers row) and the roster published to hall sites."""
    from sync.central.timebank import feed  # helper A's roster feed

    with tb_conn(central.store) as conn:
        import_default_policy(conn)
        vid = make_member(conn, person_key=person_key(volunteer.id_number, KEY),
                          name_masked=volunteer.name[0] + "*" + volunteer.name[-1])
        assert feed.publish_roster(conn, [vid], "2026-12-03T00:00:00.000000+00:00") >= 1
    return vid


def last(shows, screen):
    return next((s for s in reversed(shows) if s.screen == screen), None)


def wait_result(shows, result, what):
    wait_until(lambda: (s := last(shows, "volunteer_result")) is not None and s.data.get("result") == result, 20,
               what=what)
    return last(shows, "volunteer_result")


def lift(sim):
    """Take the card off the reader, long enough for the reader's loop to see it gone (it polls every 0.1 s)."""
    sim.remove("idcard")
    time.sleep(0.3)


def tap_card(sim, app, shows, persona, screen):
    """Press "志愿者签到签退" (from idle) and put ``persona``'s ID card on the reader; wait for ``screen``."""
    lift(sim)
    app.terminal.ui("dismiss")
    wait_until(lambda: app.terminal.desk.state == "idle", 10, what="idle")
    shows.clear()
    app.terminal.ui("volunteer")
    wait_until(lambda: last(shows, "volunteer_present") is not None, 10, what="请志愿者刷身份证")
    sim.present("idcard", persona.persona_id)
    wait_until(lambda: last(shows, screen) is not None, 20, what=f"{screen} after {shows}")


def volunteer_events(app):
    """The volunteer desk's events waiting in the outbox (the hall writes others: purges, alerts)."""
    return [e for e in app.store.pending_events(500) if e.type.startswith("volunteer.")]


def earlier_clock(minutes):
    """The kiosk store's event clock ``minutes`` back (the check-in happened that long before the check-out)."""
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes)
    text = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    return lambda: text


def test_check_in_then_a_co_signed_check_out_becomes_an_approved_shift_with_coins_at_the_central(sim, central,
                                                                                                 tmp_path, monkeypatch):
    """Offline from day one (no roster pulled): the check-in is accepted, the central knows the member."""
    from sync.central.timebank import hours, ledger  # helper A's

    volunteer, resident, _ = people()
    token = central.enrol("hall-01", SITE)
    vid = register(central, volunteer)
    shows: list[Show] = []
    said: list[str] = []
    sim.clear("all")
    sim.remove("idcard")
    app = open_hall(hall_config(sim, central, tmp_path), speaker=Speaker(volume=60, player=None), serve_lan=False,
                    on_show=shows.append, on_say=lambda key, params: said.append(key))
    client = SyncClient(app.store, central.url, token, settings=FAST)
    try:
        assert app.base.reference.volunteer_roster() is None
        monkeypatch.setattr(outbox, "utc_now_iso", earlier_clock(SERVED_MINUTES))  # the shift began 90 min ago
        tap_card(sim, app, shows, volunteer, "volunteer_result")
        checked_in = wait_result(shows, "checked_in_unverified", "签到成功 (the central confirms it)")
        assert checked_in.data["name"] == volunteer.name[0] + "*" + volunteer.name[-1]
        assert "volunteer_checked_in" in said and "volunteer_unverified" in said
        monkeypatch.undo()  # now: the check-out

        lift(sim)
        app.close()  # the kiosk restarts with the check-in open: the next tap of the same card checks out
        app = open_hall(hall_config(sim, central, tmp_path), speaker=Speaker(volume=60, player=None),
                        serve_lan=False, on_show=shows.append, on_say=lambda key, params: said.append(key))
        client = SyncClient(app.store, central.url, token, settings=FAST)
        tap_card(sim, app, shows, volunteer, "volunteer_cosign")  # the open check-in: the resident is asked
        lift(sim)
        sim.present("idcard", volunteer.persona_id)  # the volunteer's own card: refused in words
        wait_until(lambda: last(shows, "volunteer_cosign").data.get("notice") == "own_card", 10, what="own card")
        lift(sim)
        sim.present("idcard", resident.persona_id)
        out = wait_result(shows, "checked_out", "签退成功")
        assert (out.data["hours"], out.data["minutes"]) == divmod(SERVED_MINUTES, 60)
        assert "volunteer_checked_out" in said

        events = volunteer_events(app)
        assert [e.type for e in events] == ["volunteer.check_in", "volunteer.check_out"]
        assert events[1].payload["cosigner"] == {"kind": "person", "key": person_key(resident.id_number, KEY),
                                                 "via": "id_card"}
        assert events[1].payload["check_in_event"] == events[0].id
        for e in events:
            assert volunteer.id_number not in str(e.payload) and volunteer.name not in str(e.payload)
        client.push_pending()
        assert app.store.pending_events(100) == []
    finally:
        app.close()

    with read_transaction(central.store.engine) as conn:
        shifts = hours.shifts(conn, volunteer_id=vid)
        assert len(shifts) == 1, shifts
        shift = shifts[0]
        assert (shift.status, shift.minutes, shift.flag) == ("approved", SERVED_MINUTES, None)
        assert shift.cosigner_key == person_key(resident.id_number, KEY) and shift.in_event_id == events[0].id
        statement = ledger.statement(conn, vid)
        assert statement.balance_cc == SERVED_MINUTES * 100 // 60 and statement.given_cc == statement.balance_cc
    the_volunteer_sees_the_hours_on_the_phone(central, vid)


def the_volunteer_sees_the_hours_on_the_phone(central: CentralHarness, vid: int) -> None:
    """The volunteer's statement page in Debian's chromium (a phone at 390x844) shows the co-signed shift's coins."""
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it)")
    from playwright.sync_api import sync_playwright

    name, value = session_cookie(central.store, "volunteer", vid)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = signed_in_context(browser, central.url, {"name": name, "value": value, "url": central.url + "/",
                                                               "httpOnly": True, "sameSite": "Strict"},
                                        width=390, height=844)
            page = context.new_page()
            assert page.goto("/tb/me/statement").status == 200
            text = page.inner_text("main")
            assert "1.5 个时间币" in text, text[:600]  # 90 minutes co-signed = 1.5 coins
            assert "服务 90 分钟" in text and "陪伴聊天" in text  # the shift itself on the movement line
            SCREENS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENS / "kiosk_shift_statement.png"), full_page=True)
        finally:
            browser.close()


@pytest.mark.skipif("volunteer" not in get_args(ReferenceKind),
                    reason="waiting: sync/protocol.py ReferenceKind has no 'volunteer' kind, so the sync client "
                           "skips the roster rows the central publishes (lead to add it)")
def test_the_published_roster_reaches_the_kiosk_and_an_unregistered_person_is_told_how_to_register(sim, central,
                                                                                                    tmp_path):
    volunteer, _, stranger = people()
    token = central.enrol("hall-01", SITE)
    register(central, volunteer)
    shows: list[Show] = []
    sim.clear("all")
    sim.remove("idcard")
    app = open_hall(hall_config(sim, central, tmp_path), speaker=Speaker(volume=60, player=None), serve_lan=False,
                    on_show=shows.append)
    try:
        SyncClient(app.store, central.url, token, settings=FAST).pull_changes()
        vkey = person_key(volunteer.id_number, KEY)
        wait_until(lambda: vkey in (app.base.reference.volunteer_roster() or {}), 10, what="the pulled roster")
        tap_card(sim, app, shows, stranger, "volunteer_result")  # not registered: told how, nothing written
        assert wait_result(shows, "unknown", "not registered").data["result"] == "unknown"
        assert volunteer_events(app) == []
        tap_card(sim, app, shows, volunteer, "volunteer_result")  # on the roster: a confirmed check-in
        assert wait_result(shows, "checked_in", "签到成功").data["result"] == "checked_in"
        assert [e.type for e in volunteer_events(app)] == ["volunteer.check_in"]
    finally:
        app.close()


def test_the_hall_window_takes_a_volunteer_from_its_button_to_the_result_and_back(sim, central, tmp_path, qtbot):
    """The real window (offscreen) on the running hall: its button, the card on the pty reader, the words shown."""
    from tests.ui_checks import SCREENS_DIR
    from ui.hall_app import HallUi

    volunteer, _, _ = people()
    sim.clear("all")
    lift(sim)
    speaker = Speaker(volume=60, player=None)
    ui = HallUi(hall_config(sim, central, tmp_path), speaker=speaker, serve_lan=False)
    qtbot.addWidget(ui.window)
    ui.window.resize(1280, 800)
    ui.window.show()
    try:
        pages = ui.window.volunteer
        qtbot.waitUntil(lambda: ui.window.current_page == "idle", timeout=5000)
        pages.button.click()
        qtbot.waitUntil(lambda: ui.window.current_page == "volunteer_present", timeout=5000)
        assert pages.present_heading.text() == "请志愿者刷身份证"
        qtbot.waitUntil(lambda: any("请志愿者" in s for s in speaker.history), timeout=5000)
        sim.present("idcard", volunteer.persona_id)
        qtbot.waitUntil(lambda: ui.window.current_page == "volunteer_result", timeout=10000)
        assert pages.result_heading.text() == "签到成功" and pages.result_name.text().startswith(volunteer.name[0])
        qtbot.waitUntil(lambda: any("签到成功" in s for s in speaker.history), timeout=5000)
        ui.window.grab().save(str(SCREENS_DIR / "volunteer" / "e2e-checked-in.png"))
        pages.result_done.click()
        qtbot.waitUntil(lambda: ui.window.current_page == "idle", timeout=5000)
    finally:
        lift(sim)
        ui.close()
