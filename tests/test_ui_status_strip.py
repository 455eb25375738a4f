"""The status strip says a device's health in words, from the device supervisor watching the simulator's devices.

The ID card reader (SAM not authorised) and the printer (out of paper) are the simulator's,
on real ptys, asked by their real drivers; the window is the shared kiosk window.  The strip
is saved under ``out/test-screens/`` for people to look at.
"""

from __future__ import annotations

import pytest

from hardware_sim.idcard import IdCardSim
from hardware_sim.printer import PrinterSim
from hardware_sim.traffic import TrafficLog
from kiosk.config import load_config
from kiosk.runtime.health import DeviceSupervisor
from kiosk.status import check_terminal
from ui.shell import KioskWindow

pytestmark = [pytest.mark.ui, pytest.mark.timeout(60)]


@pytest.fixture
def devices(tmp_path):
    idcard = IdCardSim("idcard", tmp_path / "idcard", traffic=TrafficLog())
    printer = PrinterSim("printer", tmp_path / "printer", traffic=TrafficLog())
    idcard.start()
    printer.start()
    yield idcard, printer
    idcard.stop()
    printer.stop()


def test_strip_says_sam_failure_and_paper_out_in_words(qtbot, examples_dir, screens_dir, devices):
    from drivers.idcard import IdCardReader
    from drivers.printer import EscPosPrinter

    idcard_sim, printer_sim = devices
    reader = IdCardReader(str(idcard_sim.link_path), timeout_s=0.5, name="idcard")
    printer = EscPosPrinter(str(printer_sim.link_path), timeout_s=0.5, name="printer")
    supervisor = DeviceSupervisor({"idcard": reader, "printer": printer}, on_change=lambda h: None, debounce=1)
    idcard_sim.faults.set("sam_failure", "66")
    printer_sim.set_paper("out")
    supervisor.check_once()
    config = load_config(examples_dir / "hall.toml")
    try:
        statuses = {s.key: s for s in check_terminal(config, supervisor)}
        assert (statuses["idcard"].up, statuses["idcard"].reason) == (False, "sam_failure")
        assert statuses["thermometer"].reason == "not found"  # not watched: the probe is the fallback
        window = KioskWindow(config, supervisor=supervisor)
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: window.statuses is not None, timeout=10_000)
        labels = window.status_labels
        assert labels["idcard"].text() == "✘ 身份证读卡器：SAM故障"
        assert labels["printer"].text() == "✘ 打印机：缺纸"
        assert labels["printer"].property("state") == "down"
        assert labels["thermometer"].text() == "✘ 测温仪：未连接"
        qtbot.wait(100)
        assert window.grab().save(str(screens_dir / "status-strip-device-down-zh.png"))
        window.toggle_language()
        assert labels["idcard"].text() == "✘ ID card reader: SAM (security module) failed"
        assert labels["printer"].text() == "✘ Printer: out of paper"
        qtbot.wait(100)
        assert window.grab().save(str(screens_dir / "status-strip-device-down-en.png"))
        window.close()
    finally:
        reader.close()
        printer.close()
