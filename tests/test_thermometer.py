"""The thermometer driver against pymodbus's own serial server (bridged by ThermometerSim) over real ptys."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.errors import DeviceDisconnected, DeviceRefused, DeviceTimeout, FrameError
from drivers.thermometer import (
    ImplausibleReading,
    TemperatureReading,
    Thermometer,
    ThermometerDisconnected,
    ThermometerError,
    ThermometerFrameError,
    ThermometerRefused,
    ThermometerTimeout,
    register_to_celsius,
)
from hardware_sim.faults import FaultError
from hardware_sim.serial_sim import SerialSimDevice
from hardware_sim.thermometer import ThermometerSim, to_register
from hardware_sim.timing import Timing
from hardware_sim.traffic import TrafficLog
from kiosk.config import ModbusDevice

FC03_UNIT1_REG0 = "01 03 00 00 00 01 84 0a"  # read 1 holding register at 0x0000 of slave 1, CRC 840A
ANSWER_3650 = bytes.fromhex("01 03 02 0e 42 3c 15")  # 36.50 °C from slave 1

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def sim(tmp_path):
    dev = ThermometerSim("thermometer", tmp_path / "thermo", traffic=TrafficLog())
    dev.start()
    yield dev
    dev.stop()


@pytest.fixture
def driver(sim):
    drv = Thermometer(str(sim.link_path), timeout_s=0.3)
    yield drv
    drv.close()


# -- pure parts ---------------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize(("value", "celsius"), [(3650, 36.5), (3737, 37.37), (0, 0.0), (0x7FFF, 327.67),
                                                (0xFFFF, -0.01), (0x8000, -327.68)])
def test_register_value_is_signed_hundredths(value, celsius):
    assert register_to_celsius(value) == celsius


@pytest.mark.unit
@given(st.integers(min_value=-32768, max_value=32767))
def test_register_round_trip_between_simulator_and_driver(hundredths):
    assert register_to_celsius(to_register(hundredths / 100)) == round(hundredths / 100, 2)


@pytest.mark.unit
def test_out_of_range_values_are_refused_on_both_sides():
    with pytest.raises(ValueError):
        register_to_celsius(0x10000)
    with pytest.raises(ValueError):
        to_register(400.0)


@pytest.mark.unit
def test_error_family_keeps_generic_codes():
    assert issubclass(ThermometerTimeout, DeviceTimeout) and ThermometerTimeout.code == 102
    assert issubclass(ThermometerDisconnected, DeviceDisconnected) and ThermometerDisconnected.code == 101
    assert issubclass(ThermometerFrameError, FrameError) and ThermometerFrameError.code == 103
    assert issubclass(ThermometerRefused, DeviceRefused) and ThermometerRefused.code == 104
    assert ImplausibleReading(12.0, 30, 45).code == 171
    assert "measure again" in str(ImplausibleReading(12.0, 30, 45))


# -- against the simulator ----------------------------------------------------------------

@pytest.mark.integration
def test_reads_the_temperature_set_on_the_device(sim, driver):
    for celsius in (36.5, 37.85, 35.02):
        sim.set_temperature(celsius)
        reading = driver.read_once()
        assert isinstance(reading, TemperatureReading)
        assert reading.celsius == celsius
        assert reading.read_at.tzinfo is not None
    assert driver.health()["last_celsius"] == 35.02


@pytest.mark.integration
def test_sends_the_standard_fc03_frame(sim, driver):
    driver.read_once()
    sent = [e.data.hex(" ") for e in sim.traffic.entries("thermometer") if e.direction == "host>dev"]
    received = [e.data for e in sim.traffic.entries("thermometer") if e.direction == "dev>host"]
    assert sent == [FC03_UNIT1_REG0]
    assert received == [ANSWER_3650]


@pytest.mark.integration
def test_configured_register_and_unit_are_used(tmp_path):
    dev = ThermometerSim("t2", tmp_path / "t2", unit=7, register=0x0003, celsius=36.9)
    dev.start()
    try:
        drv = Thermometer(str(dev.link_path), timeout_s=0.3, unit=7, register=0x0003)
        assert drv.read_once().celsius == 36.9
        other = Thermometer(str(dev.link_path), timeout_s=0.3, unit=7, register=0x0001)
        with pytest.raises(ThermometerDisconnected, match="busy"):  # the port is locked by the first driver
            other.read_once()
        drv.close()
        other.retry_now()
        with pytest.raises(ImplausibleReading):  # register 1 of this device reads 0
            other.read_once()
        other.close()
    finally:
        dev.stop()


@pytest.mark.integration
def test_no_answer_is_a_timeout_then_reads_again(sim, driver):
    sim.faults.set("no_answer", count=1)
    with pytest.raises(ThermometerTimeout, match="no answer"):
        driver.read_once()
    assert driver.health()["last_error"]
    assert driver.read_once().celsius == 36.5
    assert driver.health()["last_error"] == ""


@pytest.mark.integration
@pytest.mark.parametrize("kind", ["garbage", "bad_checksum", "truncated"])
def test_broken_answers_are_frame_errors_then_reads_again(sim, driver, kind):
    sim.faults.set(kind, count=1)
    with pytest.raises(ThermometerFrameError, match="no valid Modbus frame"):
        driver.read_once()
    assert driver.read_once().celsius == 36.5


@pytest.mark.integration
def test_modbus_exception_is_refused_with_its_code(sim, driver):
    sim.faults.set("modbus_exception", count=1)
    with pytest.raises(ThermometerRefused) as info:
        driver.read_once()
    assert info.value.exception_code == 4
    assert driver.read_once().celsius == 36.5


@pytest.mark.integration
@pytest.mark.parametrize(("arg", "shown"), [(None, "327.67"), ("low", "0.00"), ("29.9", "29.90"), ("45.1", "45.10")])
def test_implausible_values_ask_to_measure_again(sim, driver, arg, shown):
    sim.faults.set("implausible", arg, count=1)
    with pytest.raises(ImplausibleReading, match=f"{shown} °C.*measure again") as info:
        driver.read_once()
    assert isinstance(info.value, ThermometerError)
    assert driver.read_once().celsius == 36.5


@pytest.mark.integration
def test_plausible_range_edges_are_accepted(sim, driver):
    for celsius in (30.0, 45.0):
        sim.set_temperature(celsius)
        assert driver.read_once().celsius == celsius


@pytest.mark.integration
def test_slow_answer_times_out_and_a_longer_wait_recovers(sim, driver):
    sim.faults.set("slow", count=1)
    with pytest.raises(ThermometerTimeout):
        driver.read_once(timeout_s=0.3)
    assert driver.read_once(timeout_s=8).celsius == 36.5  # retries lost answers until the deadline


@pytest.mark.integration
def test_unplug_mid_read_then_replug_recovers(sim, driver):
    driver.read_once()
    sim.faults.set("unplug_mid_read", count=1)
    with pytest.raises(ThermometerError) as info:
        driver.read_once()
    assert isinstance(info.value, (ThermometerDisconnected, ThermometerFrameError))
    with pytest.raises(ThermometerDisconnected):
        driver.read_once()
    assert driver.health()["connected"] is False
    sim.plug()
    driver.retry_now()
    assert driver.read_once().celsius == 36.5
    assert driver.health()["connected"] is True
    assert driver.reopens >= 1


@pytest.mark.integration
def test_unplug_between_reads_is_seen_at_once(sim, driver):
    driver.read_once()
    sim.unplug()
    with pytest.raises(ThermometerDisconnected):
        driver.read_once()
    with pytest.raises(ThermometerDisconnected, match="retrying in"):  # backing off, no reopen storm
        driver.read_once()
    sim.plug()
    driver.retry_now()
    assert driver.read_once().celsius == 36.5


@pytest.mark.integration
def test_missing_port_is_disconnected_not_a_hang(tmp_path):
    drv = Thermometer(str(tmp_path / "nothing-here"), timeout_s=0.3)
    with pytest.raises(ThermometerDisconnected, match="not found"):
        drv.read_once()
    health = drv.health()
    assert health["connected"] is False and "not found" in health["last_error"]
    json.dumps(health)


@pytest.mark.integration
def test_realistic_timing_still_reads(tmp_path):
    dev = ThermometerSim("slowthermo", tmp_path / "rt", timing=Timing.REALISTIC, celsius=36.7)
    dev.start()
    try:
        assert Thermometer(str(dev.link_path), timeout_s=2).read_once().celsius == 36.7
    finally:
        dev.stop()


@pytest.mark.integration
def test_simulator_status_config_and_faults(sim, driver):
    driver.read_once()
    status = sim.status()
    json.dumps(status)
    assert status["kind"] == "thermometer" and status["celsius"] == 36.5 and status["reads"] == 1
    entry = sim.config_entry()
    assert ModbusDevice(**entry).port == str(sim.link_path) and entry["unit"] == 1
    with pytest.raises(FaultError):
        sim.faults.set("paper_out")
    with pytest.raises(ValueError):
        sim.set_temperature(1000)


# -- fuzzing the driver's handling of answers, over the real pty -------------------------
class CannedAnswer(SerialSimDevice):
    """Answers every request with ``answer`` (whatever the test put there)."""

    kind = "canned"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.answer = b""

    def on_bytes(self, data: bytes) -> None:
        if self.answer:
            self.write_raw(self.answer)


@pytest.fixture(scope="module")
def canned(tmp_path_factory):
    dev = CannedAnswer("canned", Path(tmp_path_factory.mktemp("canned")) / "port")
    dev.start()
    yield dev
    dev.stop()


@pytest.mark.integration
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=st.one_of(
    st.binary(min_size=1, max_size=12),
    st.tuples(st.integers(0, 6), st.integers(1, 255)).map(
        lambda c: ANSWER_3650[:c[0]] + bytes([ANSWER_3650[c[0]] ^ c[1]]) + ANSWER_3650[c[0] + 1:]),
    st.integers(1, 6).map(lambda n: ANSWER_3650[:n]),
))
def test_any_answer_yields_a_reading_or_the_drivers_error(canned, answer):
    canned.answer = answer
    drv = Thermometer(str(canned.link_path), timeout_s=0.05)
    try:
        reading = drv.read_once()
    except ThermometerError:
        return
    finally:
        drv.close()
    assert 30 <= reading.celsius <= 45  # anything else must have been refused


@pytest.mark.unit
def test_pymodbus_lib_logger_is_left_alone_when_configured():
    import logging

    library = logging.getLogger("pymodbus")
    library.setLevel(logging.INFO)
    try:
        Thermometer(os.devnull, timeout_s=0.1)
        assert library.level == logging.INFO
    finally:
        library.setLevel(logging.NOTSET)
