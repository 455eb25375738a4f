"""The device supervisor: debounce and words (fake clock and driver), then the simulator's devices over real ptys.

The ID card reader and the printer are the simulator's, each on its own pty, driven by the
real drivers; the ID reader is watched both ways the runtime does it: by the supervisor's own
live check (SAM status) and by the card loop feeding its observations.  The heartbeat test
sends the supervisor's states to a real central (the ``central`` fixture: SQLite and
PostgreSQL) over loopback HTTP and reads them back from its database.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from sqlalchemy import text

from drivers.idcard import (
    CardReadError,
    IdCardDisconnected,
    IdCardReader,
    IdCardTimeout,
    NoCardError,
    SamError,
)
from drivers.pcsc_common import CardRemovedError, PcscServiceError, ReaderNotFound, WrongCardError
from drivers.printer import EscPosPrinter, PaperOut, PrinterTimeout
from hardware_sim.idcard import IdCardSim
from hardware_sim.personas import by_id
from hardware_sim.printer import PrinterSim
from hardware_sim.traffic import TrafficLog
from kiosk.runtime.health import (
    REASON_WORDS,
    DeviceHealth,
    DeviceSupervisor,
    classify_error,
    classify_health,
    device_health,
)
from kiosk.runtime.readers import CardLoop, CardLoopCallbacks
from kiosk.store import Store
from sync import apply
from sync.client import SyncClient, SyncSettings

TIMEOUT_S = 0.5  # the simulated reader and printer answer at once


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class FakeDriver:
    """A driver whose health dict the test sets; counts the live checks it was asked for."""

    def __init__(self, **health: Any) -> None:
        self.report: dict[str, Any] = {"connected": True, **health}
        self.checks = 0

    def health(self, *, check: bool = False) -> dict[str, Any]:
        self.checks += check
        return dict(self.report)


def wait_for(predicate, timeout_s: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


# -- words and classification ----------------------------------------------------------------
@pytest.mark.unit
def test_every_state_is_said_in_chinese_first_and_english():
    h = device_health("idcard", "sam_failure", "SAM not authorised")
    assert (h.up, h.words_zh, h.words_en) == (False, "身份证读卡器：SAM故障",
                                              "ID card reader: SAM (security module) failed")
    assert device_health("printer", "paper_out").words_zh == "打印机：缺纸"
    assert device_health("idcard", "no_answer").words_en == "ID card reader: not answering"
    low = device_health("printer", "paper_low")
    assert low.up and low.words_zh.startswith("打印机：纸将用完")
    for reason, (zh, en, _up) in REASON_WORDS.items():
        assert zh and en and zh != en, reason


@pytest.mark.unit
@pytest.mark.parametrize(("error", "reason"), [
    (SamError("find card: SAM not authorised", sw3=0x66), "sam_failure"),
    (IdCardTimeout("no answer"), "no_answer"),
    (IdCardDisconnected("gone"), "unplugged"),
    (PaperOut("paper out: ticket not printed"), "paper_out"),
    (PrinterTimeout("no answer to DLE EOT 1"), "no_answer"),
    (PcscServiceError("pcscd not running"), "pcsc_service_down"),
    (ReaderNotFound("no reader like 'VPCD'"), "not_found"),
    # the resident's card, not the device: the reader answered
    (NoCardError("no card"), "ok"),
    (CardReadError("read failed", sw3=0x41), "ok"),
    (CardRemovedError("card removed"), "ok"),
    (WrongCardError("select", 0x6A82), "ok"),
    (RuntimeError("a bug"), "fault"),
])
def test_driver_errors_are_classified_by_what_they_say_about_the_device(error, reason):
    assert classify_error(error) == reason


@pytest.mark.unit
def test_health_dicts_are_classified():
    assert classify_health({"connected": True, "sam_ok": False, "sam_text": "SAM self-test failed"}) == (
        "sam_failure", "SAM self-test failed")
    assert classify_health({"connected": False, "last_error": "gone"})[0] == "unplugged"
    assert classify_health({"connected": False, "last_error_code": 191})[0] == "pcsc_service_down"
    assert classify_health({"connected": True, "problem_code": 102, "problem": "no answer"})[0] == "no_answer"
    assert classify_health({"connected": True, "status": {"paper": "out", "problem": "paper out"}}) == (
        "paper_out", "paper out")
    assert classify_health({"connected": True, "status": {"paper": "near_end", "online": True}})[0] == "paper_low"
    assert classify_health({"connected": False, "source": "http://cam", "last_error": "stream ended"})[0] == \
        "no_picture"


# -- debounce ----------------------------------------------------------------------------------
@pytest.mark.unit
def test_one_on_change_per_transition_after_debounce():
    clock, printer = FakeClock(), FakeDriver(status={"paper": "ok", "online": True})
    changes: list[DeviceHealth] = []
    sup = DeviceSupervisor({"printer": printer}, on_change=changes.append, debounce=2, clock=clock)
    assert sup.snapshot()["printer"].reason == "checking"
    sup.check_once()
    sup.check_once()
    assert changes == [] and sup.snapshot()["printer"].reason == "ok"  # started up: nothing to report
    printer.report["status"] = {"paper": "out", "problem": "paper out"}
    sup.check_once()
    assert changes == [] and sup.snapshot()["printer"].up  # one observation is not a state
    sup.check_once()
    assert [(c.up, c.reason) for c in changes] == [(False, "paper_out")]
    for _ in range(5):
        sup.check_once()  # the state holds: never reported again
    printer.report["status"] = {"cover_open": True, "paper": "out", "problem": "paper out"}
    printer.report["connected"] = False
    sup.check_once()
    assert len(changes) == 1 and sup.snapshot()["printer"].reason == "unplugged"  # still down: words only
    printer.report = {"connected": True, "status": {"paper": "ok", "online": True}}
    sup.check_once()
    printer.report["connected"] = False
    sup.check_once()  # a single good look between bad ones is not a recovery
    printer.report["connected"] = True
    sup.check_once()
    assert len(changes) == 1
    sup.check_once()
    assert [(c.up, c.reason) for c in changes] == [(False, "paper_out"), (True, "ok")]
    assert printer.checks == 14 and sup.changes == 2


@pytest.mark.unit
def test_a_device_down_from_the_start_is_reported_once():
    changes: list[DeviceHealth] = []
    sup = DeviceSupervisor({"idcard": FakeDriver(connected=False)}, on_change=changes.append, debounce=3,
                           clock=FakeClock())
    for _ in range(6):
        sup.check_once()
    assert [(c.name, c.reason, c.words_zh) for c in changes] == [("idcard", "unplugged", "身份证读卡器：未连接")]


@pytest.mark.unit
def test_fed_observations_keep_the_supervisor_off_the_port_while_fresh():
    clock, reader = FakeClock(), FakeDriver()
    changes: list[DeviceHealth] = []
    sup = DeviceSupervisor({"idcard": reader}, on_change=changes.append, clock=clock, fed_fresh_s=5.0)
    sup.observe_ok("idcard")
    sup.check_once()
    assert reader.checks == 0  # the loop is talking to the reader: the supervisor does not
    sup.observe_failure("idcard", SamError("find card: SAM self-test failed", sw3=0x60))
    sup.observe_failure("idcard", SamError("find card: SAM self-test failed", sw3=0x60))
    assert [c.reason for c in changes] == ["sam_failure"]
    sup.observe_failure("idcard", CardReadError("read card: card read failed", sw3=0x41))
    sup.observe_failure("idcard", NoCardError("no card"))  # the card's failures: the reader answered
    assert [c.reason for c in changes] == ["sam_failure", "ok"]
    clock.now += 6.0  # the loop went quiet: the supervisor looks itself
    sup.check_once()
    assert reader.checks == 1


@pytest.mark.unit
def test_observations_from_many_threads_give_one_change_each_way():
    changes: list[DeviceHealth] = []
    sup = DeviceSupervisor({}, on_change=changes.append, debounce=2)
    sup.observe_ok("sscard")
    sup.observe_ok("sscard")
    start = threading.Barrier(8)

    def feed() -> None:
        start.wait()
        for _ in range(500):
            sup.observe_failure("sscard", PcscServiceError("pcscd stopped"))

    threads = [threading.Thread(target=feed) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sup.observe_ok("sscard")
    sup.observe_ok("sscard")
    assert [(c.up, c.reason) for c in changes] == [(False, "pcsc_service_down"), (True, "ok")]


# -- the simulator's devices over real ptys ------------------------------------------------------
@pytest.fixture
def id_sim(tmp_path):
    dev = IdCardSim("idcard", tmp_path / "idcard", traffic=TrafficLog())
    dev.start()
    yield dev
    dev.stop()


@pytest.fixture
def id_reader(id_sim):
    with IdCardReader(str(id_sim.link_path), baud=115200, timeout_s=TIMEOUT_S, name="idcard") as r:
        yield r


@pytest.fixture
def printer_sim(tmp_path):
    dev = PrinterSim("printer", tmp_path / "printer", traffic=TrafficLog())
    dev.start()
    yield dev
    dev.stop()


@pytest.fixture
def printer(printer_sim):
    drv = EscPosPrinter(str(printer_sim.link_path), timeout_s=TIMEOUT_S, name="printer")
    yield drv
    drv.close()


@pytest.mark.integration
@pytest.mark.timeout(60)
@pytest.mark.parametrize(("sw3", "detail"), [("60", "SAM self-test failed"), ("66", "SAM not authorised")])
def test_sam_failure_is_said_in_words(id_sim, id_reader, sw3, detail):
    changes: list[DeviceHealth] = []
    sup = DeviceSupervisor({"idcard": id_reader}, on_change=changes.append, debounce=2)
    sup.check_once()
    sup.check_once()
    assert sup.snapshot()["idcard"].reason == "ok" and changes == []  # the probe alone said 正常 before, too
    id_sim.faults.set("sam_failure", sw3)
    sup.check_once()
    sup.check_once()
    now = sup.snapshot()["idcard"]
    assert (now.up, now.reason, now.detail) == (False, "sam_failure", detail)
    assert now.words_zh == "身份证读卡器：SAM故障"
    assert [c.reason for c in changes] == ["sam_failure"]
    id_sim.faults.clear()
    sup.check_once()
    sup.check_once()
    assert [c.reason for c in changes] == ["sam_failure", "ok"]


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_card_loop_feeds_the_supervisor_sam_failure_and_recovery(id_sim, id_reader):
    changes: list[DeviceHealth] = []
    sup = DeviceSupervisor({"idcard": id_reader}, on_change=changes.append, interval_s=0.05, debounce=2)
    readings: list[Any] = []
    stop = threading.Event()
    callbacks = CardLoopCallbacks(
        on_reading=lambda name, reading: readings.append(reading),
        on_read_failed=lambda name, error: None,
        on_device_fault=sup.observe_failure,
        on_device_ok=sup.observe_ok,
    )
    loop = threading.Thread(target=CardLoop("idcard", id_reader, callbacks, stop).run, daemon=True)
    loop.start()
    sup.start()
    try:
        wait_for(lambda: sup.snapshot()["idcard"].reason == "ok", what="the reader seen working")
        id_sim.faults.set("sam_failure", "60")
        wait_for(lambda: changes, what="the SAM failure reported")
        assert (changes[0].up, changes[0].reason) == (False, "sam_failure")
        id_sim.faults.clear()
        wait_for(lambda: len(changes) == 2, what="the recovery reported")
        id_sim.present(by_id("P001"))
        wait_for(lambda: readings, what="a card read after recovery")
        time.sleep(0.5)
        assert [(c.up, c.reason) for c in changes] == [(False, "sam_failure"), (True, "ok")]
    finally:
        stop.set()
        sup.stop()
        loop.join(5)


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_unplug_reports_down_once_and_replug_up_once(id_sim, id_reader):
    changes: list[DeviceHealth] = []
    sup = DeviceSupervisor({"idcard": id_reader}, on_change=changes.append, interval_s=0.05, debounce=2)
    sup.start()
    try:
        wait_for(lambda: sup.snapshot()["idcard"].reason == "ok", what="the reader seen working")
        id_sim.unplug()
        wait_for(lambda: changes, what="the unplug reported")
        time.sleep(1.0)  # many looks while unplugged (the link backs off): still one report
        assert [(c.up, c.reason) for c in changes] == [(False, "unplugged")]
        assert sup.snapshot()["idcard"].words_en == "ID card reader: not connected"
        id_sim.plug()
        wait_for(lambda: len(changes) == 2, timeout_s=15, what="the replug reported")  # reopen backoff ≤ 5 s
        time.sleep(0.5)
        assert [(c.up, c.reason) for c in changes] == [(False, "unplugged"), (True, "ok")]
    finally:
        sup.stop()


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_health_checks_never_corrupt_a_read_in_progress(id_sim, id_reader):
    sup = DeviceSupervisor({"idcard": id_reader}, on_change=lambda h: None, interval_s=0.0, debounce=2)
    id_sim.present(by_id("P003"))
    sup.start()  # asks the SAM's status back to back while this thread reads
    try:
        for _ in range(30):
            assert id_reader.read_card().id_number == by_id("P003").id_number
    finally:
        sup.stop()
    assert id_reader.health()["stale_replies"] == 0 and sup.snapshot()["idcard"].reason == "ok"


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_printer_paper_out_and_low_from_the_paper_sensor(printer_sim, printer):
    changes: list[DeviceHealth] = []
    sup = DeviceSupervisor({"printer": printer}, on_change=changes.append, debounce=2)
    sup.check_once()
    sup.check_once()
    assert sup.snapshot()["printer"].reason == "ok"
    printer_sim.set_paper("out")  # nothing printed: only DLE EOT 4 can tell
    sup.check_once()
    sup.check_once()
    out = sup.snapshot()["printer"]
    assert (out.up, out.reason, out.words_zh, out.words_en) == (False, "paper_out", "打印机：缺纸",
                                                                 "Printer: out of paper")
    printer_sim.set_paper("near_end")
    sup.check_once()
    sup.check_once()
    low = sup.snapshot()["printer"]
    assert (low.up, low.reason) == (True, "paper_low")
    assert [(c.up, c.reason) for c in changes] == [(False, "paper_out"), (True, "paper_low")]
    printer_sim.unplug()
    sup.check_once()
    sup.check_once()
    assert sup.snapshot()["printer"].reason == "unplugged" and len(changes) == 3


# -- the heartbeat carries every device's state -----------------------------------------------------
@pytest.mark.integration
@pytest.mark.timeout(60)
def test_heartbeat_stores_the_supervisors_device_states(tmp_path, central, printer_sim, printer, id_sim,
                                                        id_reader):
    sup = DeviceSupervisor({"printer": printer, "idcard": id_reader}, on_change=lambda h: None, debounce=1)
    printer_sim.set_paper("out")
    id_sim.faults.set("sam_failure", "66")
    sup.check_once()
    token = central.enrol("hall-01", "linfen-road")
    store = Store.open(tmp_path / "hall-01.db", "hall-01", extra_migrations=[apply.MIGRATIONS])
    client = SyncClient(store, central.url, token, settings=SyncSettings(read_timeout_s=10.0),
                        device_status=sup.device_states)
    try:
        client.sync_once(pull=False, heartbeat=True)
    finally:
        client.stop()
    with central.store.engine.connect() as conn:
        stored = conn.execute(text("SELECT devices FROM heartbeats WHERE terminal_id = :t"), {"t": "hall-01"}).scalar()
    assert json.loads(stored) == {
        "printer": {"up": False, "reason": "paper_out"},
        "idcard": {"up": False, "reason": "sam_failure"},
    }


@pytest.mark.integration
@pytest.mark.timeout(60)
def test_thermometer_no_answer_and_unplug_from_a_live_reading(tmp_path):
    from drivers.thermometer import Thermometer
    from hardware_sim.thermometer import ThermometerSim

    sim = ThermometerSim("thermometer", tmp_path / "thermo", traffic=TrafficLog())
    sim.start()
    driver = Thermometer(str(sim.link_path), timeout_s=0.3, name="thermometer")
    changes: list[DeviceHealth] = []
    sup = DeviceSupervisor({"thermometer": driver}, on_change=changes.append, debounce=2)
    try:
        sup.check_once()
        sup.check_once()
        assert sup.snapshot()["thermometer"].reason == "ok"  # nobody in front: an answer all the same
        sim.faults.set("no_answer")
        sup.check_once()
        sup.check_once()
        assert sup.snapshot()["thermometer"].words_zh == "测温仪：无应答"
        sim.faults.clear()
        sim.unplug()
        sup.check_once()
        sup.check_once()
        assert sup.snapshot()["thermometer"].reason in ("unplugged", "no_answer")
        assert [c.up for c in changes] == [False]
        sim.plug()
        driver.retry_now()
        for _ in range(40):
            sup.check_once()
            if len(changes) == 2:
                break
            time.sleep(0.1)
        assert [(c.up, c.reason) for c in changes][-1] == (True, "ok") and len(changes) == 2
    finally:
        driver.close()
        sim.stop()
