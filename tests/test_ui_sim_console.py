"""The maintenance console drives the simulator only through its control API, and shows the printed ticket."""

from __future__ import annotations

import pytest

from hardware_sim.control_api import ControlServer
from hardware_sim.runner import Simulator
from hardware_sim.timing import Timing
from ui.sim_console import SimConsole

pytestmark = [pytest.mark.ui, pytest.mark.timeout(90)]


@pytest.fixture
def sim_with_api(tmp_path):
    sim = Simulator(tmp_path, Timing.FAST, devices=("idcard", "thermometer", "printer", "qr_camera"))
    sim.start()
    server = ControlServer(sim)
    sim.control_url = server.start()
    yield sim
    server.stop()
    sim.stop()


def test_console_presents_cards_sets_faults_and_shows_the_ticket(qtbot, sim_with_api, screens_dir):
    sim = sim_with_api
    console = SimConsole(sim.control_url)
    qtbot.addWidget(console)
    console.resize(1280, 800)
    console.show()
    qtbot.waitUntil(lambda: console.persona_box.count() == 60, timeout=10_000)
    qtbot.waitUntil(lambda: console.device_box.count() == 4, timeout=10_000)

    console.persona_box.setCurrentIndex(4)
    console.call("POST", "/present", {"device": "idcard", "persona": console.persona()})
    qtbot.waitUntil(lambda: sim.devices["idcard"].status()["card"] == "P005", timeout=5000)

    console.temp_box.setValue(38.1)
    console.call("POST", "/temperature", {"celsius": console.temp_box.value()})
    qtbot.waitUntil(lambda: abs(sim.devices["thermometer"].status()["celsius"] - 38.1) < 0.01, timeout=5000)

    console.device_box.setCurrentText("printer")
    qtbot.waitUntil(lambda: console.fault_box.count() > 0, timeout=5000)
    console.fault_box.setCurrentText("no_answer")
    console._device_action("fault")
    qtbot.waitUntil(lambda: "no_answer" in sim.devices["printer"].status()["faults"], timeout=5000)
    console.call("POST", "/fault", {"device": "printer", "kind": "melted"})
    qtbot.waitUntil(lambda: "Refused" in console.message.text(), timeout=5000)
    assert "has no fault 'melted'" in console.message.text()
    console._device_action("clear")
    qtbot.waitUntil(lambda: sim.devices["printer"].status()["faults"] == [], timeout=5000)

    # print a ticket through the real driver so the console has something to show
    import datetime as dt

    from drivers.printer import EscPosPrinter
    from kiosk.hall.printing import Ticket, print_hall_ticket

    printer = EscPosPrinter(sim.devices["printer"].config_entry()["port"])
    print_hall_ticket(printer, Ticket("临汾路街道社区事务受理服务中心", "B023", "社保医保", 4, 20,
                                      dt.datetime.now().astimezone(), "LFQ1:hall-01:B023", masked_name="王*"))
    printer.close()
    assert sim.devices["printer"].wait_for_tickets(1, 5)
    console.refresh()
    qtbot.waitUntil(lambda: console.ticket_label.pixmap() is not None and not console.ticket_label.pixmap().isNull(),
                    timeout=5000)
    qtbot.waitUntil(lambda: "P005" in console.devices_label.text(), timeout=5000)
    console.grab().save(str(screens_dir / "sim-console.png"))
