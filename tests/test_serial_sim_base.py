"""The simulator's serial base and the drivers' serial link, together over a real pty."""

from __future__ import annotations

import pytest

from drivers.errors import DeviceDisconnected, DeviceTimeout
from drivers.serial_link import SerialLink
from hardware_sim.faults import FaultError
from hardware_sim.serial_sim import SerialSimDevice
from hardware_sim.traffic import TrafficLog

pytestmark = [pytest.mark.integration, pytest.mark.timeout(30)]


class EchoLine(SerialSimDevice):
    """Answers every CR-terminated line with 'OK:<line>' and CR."""

    kind = "echo"

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.buf = b""

    def on_bytes(self, data: bytes) -> None:
        self.buf += data
        while b"\r" in self.buf:
            line, self.buf = self.buf.split(b"\r", 1)
            self.send(b"OK:" + line + b"\r", "echo")


@pytest.fixture
def echo(tmp_path):
    dev = EchoLine("echo", tmp_path / "echo", traffic=TrafficLog(tmp_path / "traffic"))
    dev.start()
    yield dev
    dev.stop()


def _ask(link: SerialLink, text: bytes) -> bytes:
    link.write(text + b"\r")
    return link.read_until(b"\r", 64)


def test_request_answer_and_traffic_log(echo, tmp_path):
    link = SerialLink(str(echo.link_path), timeout_s=1, name="echo")
    assert _ask(link, b"hello") == b"OK:hello\r"
    lines = (tmp_path / "traffic" / "echo.log").read_text().splitlines()
    assert any("host>dev 68 65 6c 6c 6f 0d" in ln for ln in lines)
    assert any("dev>host 4f 4b 3a" in ln for ln in lines)


def test_no_answer_is_a_timeout_then_recovers(echo):
    link = SerialLink(str(echo.link_path), timeout_s=0.3, name="echo")
    echo.faults.set("no_answer", count=1)
    with pytest.raises(DeviceTimeout):
        _ask(link, b"a")
    assert _ask(link, b"b") == b"OK:b\r"


def test_unplug_is_seen_and_the_link_reopens_after_replug(echo):
    link = SerialLink(str(echo.link_path), timeout_s=0.5, name="echo")
    assert _ask(link, b"1") == b"OK:1\r"
    echo.unplug()
    with pytest.raises(DeviceDisconnected):
        _ask(link, b"2")
    with pytest.raises(DeviceDisconnected):  # still gone (or backing off)
        _ask(link, b"3")
    echo.plug()
    link.retry_now()  # the test knows the device is back; skip the backoff wait
    assert _ask(link, b"4") == b"OK:4\r"
    assert link.reopens == 1


def test_unknown_fault_is_refused_clearly(echo):
    with pytest.raises(FaultError, match="has no fault 'paper_out'"):
        echo.faults.set("paper_out")
