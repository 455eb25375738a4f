"""The ticket printer driver: status codec and layout (pure), and against the simulated printer over a pty."""

from __future__ import annotations

import io
import json
import logging
from datetime import datetime

import pytest
from escpos.constants import RT_MASK_LOWPAPER, RT_MASK_NOPAPER, RT_MASK_PAPER
from escpos.printer import Dummy
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from pyzbar.pyzbar import decode as zbar_decode

from drivers.errors import DeviceDisconnected, DeviceTimeout, DriverError, FrameError
from drivers.printer import (
    CoverOpen,
    EscPosPrinter,
    PaperOut,
    PrinterDisconnected,
    PrinterError,
    PrinterFrameError,
    PrinterTimeout,
    decode_answers,
    decode_status,
    receipt_bytes,
)
from drivers.printer.layout import clean, columns_of, wrap
from drivers.printer.status import decode_paper, is_status_byte
from hardware_sim.printer import PrinterSim
from hardware_sim.traffic import TrafficLog
from kiosk.hall.printing import Ticket, print_hall_ticket, ticket_bytes

pytestmark = pytest.mark.timeout(60)

TICKET = Ticket(
    title="临汾路街道社区事务受理服务中心",
    number="A012",
    service="社会保障卡补换",
    people_ahead=3,
    wait_minutes=15,
    issued_at=datetime(2025, 3, 1, 9, 12),
    qr_payload="https://linfen.example/q/A012?t=7f3a",
    footer=("请留意叫号，过号请重新取号", "服务热线：021-12345678"),
    masked_name="张*明",
)
QUERIES = (b"\x10\x04\x01", b"\x10\x04\x02", b"\x10\x04\x03", b"\x10\x04\x04")


# -- status codec: known answers (Epson ESC/POS DLE EOT tables) -----------------------------
@pytest.mark.unit
def test_all_clear_is_ready():
    s = decode_status(0x12, 0x12, 0x12, 0x12)
    assert (s.online, s.cover_open, s.paper, s.error, s.ready, s.problem()) == (True, False, "ok", False, True, None)


@pytest.mark.unit
@pytest.mark.parametrize(("byte", "paper"), [
    (0x12, "ok"), (0x1E, "near_end"), (0x72, "out"), (0x7E, "out"),
    (0x16, "near_end"), (0x1A, "near_end"), (0x32, "out"), (0x52, "out"),  # one bit of a pair is enough
    (RT_MASK_PAPER, "ok"), (RT_MASK_LOWPAPER, "near_end"), (RT_MASK_NOPAPER, "out"),  # python-escpos's masks
])
def test_paper_sensor_bits(byte, paper):
    assert decode_paper(byte) == paper


@pytest.mark.unit
@pytest.mark.parametrize(("answers", "field"), [
    ((0x1A, 0x12, 0x12, 0x12), "offline"),
    ((0x1A, 0x16, 0x12, 0x12), "cover_open"),
    ((0x1A, 0x32, 0x12, 0x72), "paper_end_stop"),
    ((0x1A, 0x52, 0x1A, 0x12), "cutter_error"),
    ((0x1A, 0x52, 0x32, 0x12), "unrecoverable_error"),
    ((0x1A, 0x52, 0x52, 0x12), "auto_recoverable_error"),
    ((0x12, 0x1A, 0x12, 0x12), "feeding"),
    ((0x32, 0x12, 0x12, 0x12), "waiting_recovery"),
    ((0x16, 0x12, 0x12, 0x12), "drawer_pin_high"),
])
def test_status_bits(answers, field):
    s = decode_answers(bytes(answers))
    if field == "offline":
        assert not s.online and not s.ready and s.problem() == "offline"
    else:
        assert getattr(s, field) is True
    if field.endswith("_error"):
        assert s.error and not s.ready


@pytest.mark.unit
@pytest.mark.parametrize("bad", [0x00, 0x10, 0x02, 0x13, 0x11, 0x92, 0xFF, 0x93])
def test_fixed_bits_wrong_is_a_frame_error(bad):
    with pytest.raises(PrinterFrameError) as err:
        decode_status(0x12, 0x12, bad, 0x12)
    assert isinstance(err.value, FrameError) and err.value.code == 103


@pytest.mark.unit
@given(st.binary(min_size=0, max_size=6))
def test_any_bytes_give_a_status_or_the_codecs_error(data):
    try:
        s = decode_answers(data)
    except PrinterFrameError:
        assert len(data) != 4 or not all(is_status_byte(b) for b in data)
    else:
        assert len(data) == 4 and all(is_status_byte(b) for b in data)
        assert s.ready == (s.online and not s.cover_open and s.paper != "out" and not s.error)
        json.dumps(s.as_dict())


@pytest.mark.unit
@pytest.mark.parametrize("paper", ["ok", "near_end", "out"])
@pytest.mark.parametrize("cover", [False, True])
def test_simulator_status_bytes_decode_to_its_state(tmp_path, paper, cover):
    sim = PrinterSim("printer", tmp_path / "p")  # not started: only its status encoding is used
    sim.set_paper(paper)
    sim.set_cover(cover)
    s = decode_status(*(sim.status_byte(n) for n in (1, 2, 3, 4)))
    assert (s.paper, s.cover_open, s.online) == (paper, cover, paper != "out" and not cover)


# -- layout: bytes sent ----------------------------------------------------------------------
@pytest.mark.unit
def test_receipt_known_bytes():
    assert receipt_bytes(["你好 A1"]) == (b"\x1b@\x1c&" + b"\x1ba\x00" + b"\xc4\xe3\xba\xc3 A1\n"
                                          + b"\x1bd\x06" + b"\x1dV\x00")


@pytest.mark.unit
def test_ticket_bytes_select_chinese_mode_and_never_switch_code_page():
    data = ticket_bytes(TICKET)
    assert data.startswith(b"\x1b@\x1c&")
    assert b"\x1bt" not in data  # no ESC t: python-escpos's text() is not used
    assert b"\x1d!\x33\x41\x30\x31\x32\n" in data  # GS ! 4x4, then "A012"
    assert "前面还有 3 人等候".encode("gb18030") in data
    payload = TICKET.qr_payload.encode()
    assert b"\x1d(k" + bytes([len(payload) + 3, 0]) + b"1P0" + payload in data  # GS ( k store
    assert b"\x1d(k\x03\x001Q0" in data  # GS ( k print
    assert data.endswith(b"\x1bd\x06\x1dV\x00")


@pytest.mark.unit
def test_caller_text_cannot_smuggle_commands():
    t = Ticket("T\x1b@", "B7", "x\x10\x04\x01y", 0, None, datetime(2025, 1, 1), footer=("\x1dV\x00",))
    data = ticket_bytes(t)
    assert b"T\x1b@" not in data and b"\x10\x04" not in data and data.count(b"\x1dV") == 1


@pytest.mark.unit
@given(st.text(max_size=60))
def test_cleaned_text_has_no_control_bytes(text):
    assert all(b >= 0x20 for b in clean(text).encode("gb18030", errors="replace"))


@pytest.mark.unit
@given(st.text(max_size=80), st.integers(2, 48))
def test_wrap_keeps_lines_within_columns(text, columns):
    for balanced in (False, True):
        lines = wrap(text, columns, balanced)
        assert all(columns_of(line) <= columns for line in lines)
        assert "".join("".join(lines).split()) == "".join(clean(text).split())  # nothing lost but spaces


@pytest.mark.unit
@pytest.mark.parametrize("kwargs", [{"number": ""}, {"number": "A\n1"}, {"people_ahead": -1},
                                    {"qr_payload": "a\x00b"}, {"qr_payload": "x" * 600}])
def test_bad_tickets_are_refused_before_printing(kwargs):
    base = {"title": "t", "number": "A1", "service": "s", "people_ahead": 0, "wait_minutes": None,
            "issued_at": datetime(2025, 1, 1)}
    with pytest.raises(ValueError):
        Ticket(**{**base, **kwargs})


# -- against the simulated printer over a pty --------------------------------------------------
@pytest.fixture
def sim(tmp_path):
    dev = PrinterSim("printer", tmp_path / "printer", traffic=TrafficLog())
    dev.start()
    yield dev
    dev.stop()


@pytest.fixture
def printer(sim):
    drv = EscPosPrinter(str(sim.link_path), timeout_s=0.5)
    yield drv
    drv.close()


def _received(sim) -> bytes:
    data = b"".join(e.data for e in sim.traffic.entries("printer", last=2000) if e.direction == "host>dev")
    for q in QUERIES:
        data = data.replace(q, b"")
    return data


def _qr_codes(png: bytes) -> list[str]:
    return [code.data.decode() for code in zbar_decode(Image.open(io.BytesIO(png)))]


@pytest.mark.integration
def test_ticket_prints_with_chinese_number_and_qr(sim, printer, screens_dir):
    result = print_hall_ticket(printer, TICKET)
    assert sim.wait_for_tickets(1, timeout_s=10)
    page = sim.last_ticket()
    assert page.complete
    for text in ("社会保障卡补换", "您的号码", "A012", "前面还有 3 人等候", "预计等候约 15 分钟", "姓名：张*明",
                 "取号时间：2025-03-01 09:12", "请留意叫号，过号请重新取号", "服务热线：021-12345678"):
        assert text in page.text.splitlines(), text
    assert "".join(page.text.splitlines()[:2]) == TICKET.title  # the title wrapped over two lines
    assert f"[QR] {TICKET.qr_payload}" in page.text
    assert _qr_codes(page.png) == [TICKET.qr_payload]
    assert _received(sim) == ticket_bytes(TICKET)
    assert result.bytes_sent == len(ticket_bytes(TICKET)) and result.warnings == ()
    (screens_dir / "printed-ticket.png").write_bytes(page.png)
    (screens_dir / "printed-ticket.txt").write_text(page.text, encoding="utf-8")


@pytest.mark.integration
def test_four_byte_gb18030_characters_print(sim, printer):
    printer.print_receipt(["姓名：𠮷田", ("合计", "￥12.50")], title="食堂消费凭条")
    assert sim.wait_for_tickets(1, timeout_s=10)
    lines = sim.last_ticket().text.splitlines()
    assert "姓名：𠮷田" in lines
    assert "合计" + " " * (48 - 4 - 7) + "￥12.50" in lines


@pytest.mark.integration
def test_connector_sends_exactly_what_python_escpos_dummy_makes(sim, printer):
    def job(p):
        p.set(align="center", bold=True)
        p.set(custom_size=True, width=2, height=2)
        p.textln("B007")
        p.set(normal_textsize=True)
        p.qr("LF-B007", native=True, size=5)
        p.cut()

    expected = Dummy()
    job(expected)
    job(printer.escpos)
    assert sim.wait_for_tickets(1, timeout_s=10)
    assert _received(sim) == expected.output
    assert sim.last_ticket().text.splitlines()[0] == "B007"
    assert _qr_codes(sim.last_ticket().png) == ["LF-B007"]


@pytest.mark.integration
def test_paper_out_refuses_and_sends_nothing_then_recovers(sim, printer):
    sim.set_paper("out")
    assert printer.status().paper == "out"
    with pytest.raises(PaperOut) as err:
        print_hall_ticket(printer, TICKET)
    assert err.value.code == 161 and "not printed" in str(err.value)
    assert _received(sim) == b""  # only status queries went out
    assert printer.health()["status"]["problem"] == "paper out"
    sim.set_paper("ok")
    print_hall_ticket(printer, TICKET)
    assert sim.wait_for_tickets(1, timeout_s=10) and sim.pages_lost == 0


@pytest.mark.integration
def test_cover_open_refuses(sim, printer):
    sim.set_cover(True)
    with pytest.raises(CoverOpen):
        printer.print_receipt(["x"])
    sim.set_cover(False)
    printer.print_receipt(["x"])
    assert sim.wait_for_tickets(1, timeout_s=10)


@pytest.mark.integration
def test_near_end_prints_and_warns(sim, printer, caplog):
    sim.set_paper("near_end")
    with caplog.at_level(logging.WARNING, logger="drivers.printer.driver"):
        result = print_hall_ticket(printer, TICKET)
    assert sim.wait_for_tickets(1, timeout_s=10)
    assert result.warnings == ("paper near end: replace the roll soon",)
    assert "paper near end" in caplog.text


@pytest.mark.integration
def test_paper_running_out_mid_print_is_reported(sim):
    watching = EscPosPrinter(str(sim.link_path), timeout_s=0.5, settle_s=5.0)
    sim.faults.set("paper_out_mid_print", count=1)
    with pytest.raises(PaperOut, match="may be incomplete"):
        print_hall_ticket(watching, TICKET)
    assert sim.wait_for_tickets(1, timeout_s=10)
    short = sim.last_ticket()
    assert not short.complete and short.text.endswith("[paper ran out]\n")
    assert "[QR]" not in short.text and "服务热线" not in short.text and _qr_codes(short.png) == []
    assert watching.status().paper == "out"
    with pytest.raises(PaperOut):
        print_hall_ticket(watching, TICKET)
    sim.set_paper("ok")
    watching.settle_s = 0.0
    print_hall_ticket(watching, TICKET)
    assert sim.wait_for_tickets(2, timeout_s=10) and sim.last_ticket().complete
    watching.close()


@pytest.mark.integration
@pytest.mark.parametrize(("fault", "error"), [
    ("no_answer", PrinterTimeout), ("truncated", PrinterTimeout), ("bad_checksum", PrinterFrameError),
    ("garbage", PrinterFrameError),
])
def test_status_faults_raise_the_drivers_errors_and_clear(sim, printer, fault, error):
    sim._rng.seed(0)  # garbage byte 0xC5: not a status byte, not XON/XOFF
    sim.faults.set(fault)
    with pytest.raises(error) as err:
        printer.status()
    assert isinstance(err.value, PrinterError) and isinstance(err.value, DriverError)
    assert isinstance(err.value, DeviceTimeout if error is PrinterTimeout else FrameError)
    with pytest.raises(error):
        print_hall_ticket(printer, TICKET)  # a job is never sent blind
    assert _received(sim) == b"" and printer.health()["last_error"]
    sim.faults.clear()
    assert printer.status().ready
    print_hall_ticket(printer, TICKET)
    assert sim.wait_for_tickets(1, timeout_s=10)


@pytest.mark.integration
def test_slow_answer_times_out_then_reads_again(sim, printer):
    sim.faults.set("slow", count=1)
    with pytest.raises(PrinterTimeout):
        printer.status()
    for _ in range(20):  # the late answer arrives ~3 s later; the driver drains it
        try:
            status = printer.status()
            break
        except PrinterTimeout:
            continue
    assert status.ready


@pytest.mark.integration
def test_unplug_is_disconnected_and_replug_recovers(sim, printer):
    assert printer.status().ready
    sim.unplug()
    with pytest.raises(PrinterDisconnected) as err:
        print_hall_ticket(printer, TICKET)
    assert isinstance(err.value, DeviceDisconnected)
    assert printer.health()["connected"] is False
    sim.plug()
    printer.retry_now()
    print_hall_ticket(printer, TICKET)
    assert sim.wait_for_tickets(1, timeout_s=10)
    assert printer.health()["connected"] is True and printer.health()["reopens"] == 1


@pytest.mark.integration
def test_unplug_mid_answer_is_disconnected_then_recovers(sim, printer):
    sim.faults.set("unplug_mid_read", count=1)
    with pytest.raises((PrinterDisconnected, PrinterTimeout)):
        printer.status()
    sim.plug()
    printer.retry_now()
    for _ in range(10):
        try:
            assert printer.status().ready
            break
        except PrinterDisconnected:
            printer.retry_now()
    else:
        pytest.fail("printer did not come back")


@pytest.mark.integration
def test_health_is_json(sim, printer):
    printer.status()
    health = printer.health()
    json.dumps(health)
    assert health["connected"] and health["status"]["paper"] == "ok" and health["last_error"] == ""
    assert json.loads(json.dumps(sim.status()))["paper"] == "ok"
    assert sim.config_entry() == {"port": str(sim.link_path), "baud": 9600}
