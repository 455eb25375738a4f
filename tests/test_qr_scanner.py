"""The serial QR scanner driver against the simulated GM65-style scanner, and against hand-played bytes, over a pty."""

from __future__ import annotations

import base64
import json
import os
import select
import threading
import time
from collections.abc import Iterator

import pytest

from drivers.qr_common import (
    QrBinaryPayload,
    QrOversized,
    QrReading,
    QrRefused,
    QrTimeout,
    QrUnavailable,
    QrUndecodable,
)
from drivers.qr_scanner import ACK_REPLY, TRIGGER_COMMAND, QrScanner, crc16_xmodem
from hardware_sim import personas
from hardware_sim.code_tokens import SIM_ISSUER
from hardware_sim.qr_scanner import BINARY_PAYLOAD, QrScannerSim
from hardware_sim.traffic import TrafficLog
from kiosk.config import SerialDevice

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def token(persona_id: str) -> str:
    """The persona's signed code token (fixed issue time)."""
    p = personas.by_id(persona_id)
    return SIM_ISSUER.issue(p.id_number, p.code_colour, issued_at=1_790_000_000)


@pytest.fixture
def sim(tmp_path) -> Iterator[QrScannerSim]:
    dev = QrScannerSim("qr_scanner", tmp_path / "qr_scanner", traffic=TrafficLog(tmp_path / "traffic"))
    dev.start()
    yield dev
    dev.stop()


@pytest.fixture
def drv(sim) -> Iterator[QrScanner]:
    d = QrScanner(str(sim.link_path), timeout_s=0.5, idle_end_s=0.2).start()
    deadline = time.monotonic() + 5
    while not d.link.connected:  # the reader thread opens the port
        assert time.monotonic() < deadline, "driver did not open the port"
        time.sleep(0.01)
    yield d
    d.close()


# -- readings -------------------------------------------------------------------------------
def test_scanned_persona_code_is_read(sim, drv):
    sim.scan(token("P010"))
    reading = drv.read_once(2)
    assert isinstance(reading, QrReading)
    assert reading.text == token("P010") and reading.source == str(sim.link_path)
    body = reading.text.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    p = personas.by_id("P010")
    assert (claims["sub"], claims["col"]) == (p.id_number, p.code_colour)


@pytest.mark.parametrize("ending", [b"\r", b"\n", b"\r\n"])
def test_any_line_ending_is_accepted(sim, drv, ending):
    sim.write_raw("绿码 P011".encode() + ending + b"second" + ending)
    assert drv.read_once(2).text == "绿码 P011"
    assert drv.read_once(2).text == "second"
    with pytest.raises(QrTimeout):
        drv.read_once(0.3)  # the LF of a CRLF is no empty code


def test_callback_gets_results_in_order(sim):
    got: list = []
    seen = threading.Event()

    def on_result(r):
        got.append(r)
        if len(got) == 3:
            seen.set()

    with QrScanner(str(sim.link_path), on_result=on_result) as d:
        while not d.link.connected:
            time.sleep(0.01)
        for i in range(3):
            sim.scan(f"code {i}")
        assert seen.wait(5)
    assert [r.text for r in got] == ["code 0", "code 1", "code 2"]


# -- trigger --------------------------------------------------------------------------------
def test_trigger_is_acknowledged_and_a_held_code_is_read(sim, drv):
    drv.trigger()
    assert sim.triggers == 1
    sim.hold(token("P012"))
    drv.trigger()
    assert drv.read_once(2).text == token("P012")


def test_trigger_with_a_spoiled_reply_crc(sim, drv):
    sim.faults.set("bad_checksum", count=1)
    with pytest.raises(QrUndecodable, match="bad CRC"):
        drv.trigger()
    drv.trigger()


def test_trigger_without_answer_times_out_then_works(sim, drv):
    sim.faults.set("no_answer", count=1)
    with pytest.raises(QrTimeout):
        drv.trigger(timeout_s=0.3)
    drv.trigger()


def _host_bytes(master: int, n: int, timeout_s: float = 2.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout_s
    while len(data) < n and time.monotonic() < deadline:
        if select.select([master], [], [], 0.05)[0]:
            data += os.read(master, n - len(data))
    return data


@pytest.mark.parametrize(("reply", "outcome"), [
    (ACK_REPLY, None),  # the documented acknowledgement
    (bytes.fromhex("02 00 00 01 00 AB CD"), None),  # no-CRC marker
    (b"\x02\x00\x00\x02\x00\x01" + crc16_xmodem(b"\x00\x02\x00\x01").to_bytes(2, "big"), None),  # longer data
    (b"\x02\x00\x01\x01\x00" + crc16_xmodem(b"\x01\x01\x00").to_bytes(2, "big"), QrRefused),  # failure status
])
def test_trigger_against_hand_played_replies(raw_pty, reply, outcome):
    d = QrScanner(raw_pty.slave_path, timeout_s=1.0).start()
    try:
        errors: list[BaseException] = []

        def call() -> None:
            try:
                d.trigger()
            except Exception as exc:
                errors.append(exc)

        caller = threading.Thread(target=call)
        caller.start()
        assert _host_bytes(raw_pty.master, len(TRIGGER_COMMAND)) == TRIGGER_COMMAND  # strict in what it sends
        os.write(raw_pty.master, reply + b"LFHC1.after-trigger\r")
        caller.join(5)
        assert not caller.is_alive()
        if outcome is None:
            assert errors == []
        else:
            assert len(errors) == 1 and isinstance(errors[0], outcome)
        assert d.read_once(2).text == "LFHC1.after-trigger"
    finally:
        d.close()


# -- faults ---------------------------------------------------------------------------------
def test_binary_payload(sim, drv):
    sim.faults.set("binary")
    sim.scan("anything")
    with pytest.raises(QrBinaryPayload) as info:
        drv.read_once(2)
    assert info.value.payload == BINARY_PAYLOAD
    sim.faults.clear()
    sim.scan("text again")
    assert drv.read_once(2).text == "text again"


def test_oversized_payload_is_refused_and_logged(sim, drv, caplog):
    sim.faults.set("oversized", arg="2100")
    sim.scan("anything")
    with pytest.raises(QrOversized) as info:
        drv.read_once(3)
    assert info.value.length == 2100 and "2100" in caplog.text
    sim.faults.clear()
    sim.scan("short")
    assert drv.read_once(2).text == "short"


def test_no_terminator_is_undecodable_not_guessed(sim, drv):
    sim.faults.set("no_terminator")
    sim.scan(token("P013"))
    with pytest.raises(QrUndecodable, match="terminator"):
        drv.read_once(2)
    sim.faults.clear()
    sim.scan(token("P013"))
    assert drv.read_once(2).text == token("P013")


def test_truncated_line_is_undecodable_then_reads_again(sim, drv):
    sim.faults.set("truncated", count=1)
    sim.scan("a code cut in half")
    with pytest.raises(QrUndecodable):
        drv.read_once(2)
    sim.scan("whole")
    assert drv.read_once(2).text == "whole"


def test_garbage_never_hangs_and_the_next_code_is_read(sim, drv):
    sim.faults.set("garbage", count=1)
    sim.scan("x" * 40)
    sim.write_raw(b"\r")  # end whatever the garbage left open
    sim.scan("clean")
    deadline = time.monotonic() + 5
    while True:
        try:
            if drv.read_once(2).text == "clean":
                break
        except (QrUndecodable, QrBinaryPayload):
            pass  # what random bytes look like
        assert time.monotonic() < deadline


def test_dropped_code_is_a_timeout(sim, drv):
    sim.faults.set("no_answer", count=1)
    sim.scan("lost")
    with pytest.raises(QrTimeout):
        drv.read_once(0.3)
    sim.scan("kept")
    assert drv.read_once(2).text == "kept"


def test_slow_scan_arrives_after_a_short_wait_timed_out(sim, drv):
    sim.faults.set("slow", count=1)
    scanner = threading.Thread(target=sim.scan, args=("slow code",))
    scanner.start()
    with pytest.raises(QrTimeout):
        drv.read_once(0.3)
    assert drv.read_once(6).text == "slow code"
    scanner.join(5)


def test_unplug_mid_read_reports_unavailable_then_recovers(sim, drv):
    sim.faults.set("unplug_mid_read", count=1)
    sim.scan("interrupted")
    deadline = time.monotonic() + 5
    while drv.health()["connected"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with pytest.raises(QrUnavailable):
        drv.read_once(0.3)
    with pytest.raises(QrUnavailable):
        drv.trigger()
    sim.plug()
    drv.retry_now()
    while not drv.health()["connected"]:
        assert time.monotonic() < deadline + 5
        time.sleep(0.01)
    sim.scan("back")
    assert drv.read_once(2).text == "back"  # the cut-off line was dropped with the old connection
    assert drv.health()["reopens"] == 1


# -- contracts ------------------------------------------------------------------------------
def test_config_entry_is_a_valid_serial_device_and_status_is_json(sim):
    entry = sim.config_entry()
    dev = SerialDevice(**entry)
    assert (dev.port, dev.baud) == (str(sim.link_path), 9600)
    sim.hold("held")
    status = json.loads(json.dumps(sim.status()))
    assert status["held"] == "held" and status["plugged"] and status["kind"] == "qr_scanner"


def test_health_is_json(drv):
    h = json.loads(json.dumps(drv.health()))
    assert h["connected"] is True and "last_error" in h
