"""The QR camera driver against the simulated camera, over MJPEG on loopback HTTP."""

from __future__ import annotations

import base64
import json
import queue
import socket
import time
from collections.abc import Callable, Iterator

import pytest

from drivers.qr_camera import QrCamera, QrDecoder
from drivers.qr_common import (
    QrBinaryPayload,
    QrMultipleCodes,
    QrOversized,
    QrReading,
    QrResult,
    QrTimeout,
    QrUnavailable,
    QrUndecodable,
)
from hardware_sim import personas
from hardware_sim.camera import BINARY_PAYLOAD, CameraSim, render_codes
from hardware_sim.code_tokens import SIM_ISSUER
from hardware_sim.faults import FaultError
from hardware_sim.traffic import TrafficLog
from kiosk.config import Camera

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def wait_for(predicate: Callable[[], bool], timeout_s: float = 5.0) -> None:
    """Poll until ``predicate`` holds; fail the test (never hang) after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout_s} s")
        time.sleep(0.01)


def token(persona_id: str) -> str:
    """The persona's signed code token (fixed issue time, so every call gives the same text)."""
    p = personas.by_id(persona_id)
    return SIM_ISSUER.issue(p.id_number, p.code_colour, issued_at=1_790_000_000)


def claims(text: str) -> dict:
    body = text.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


@pytest.fixture
def cam(tmp_path) -> Iterator[CameraSim]:
    sim = CameraSim("qr_camera", traffic=TrafficLog(tmp_path / "traffic"))
    sim.start()
    yield sim
    sim.stop()


class Collector:
    """A driver's callback that keeps every result."""

    def __init__(self) -> None:
        self.results: queue.Queue[QrResult] = queue.Queue()

    def __call__(self, result: QrResult) -> None:
        self.results.put(result)

    def next(self, timeout_s: float = 5.0) -> QrResult:
        try:
            return self.results.get(timeout=timeout_s)
        except queue.Empty:
            pytest.fail(f"no result within {timeout_s} s")

    def left(self) -> list[QrResult]:
        out = []
        while not self.results.empty():
            out.append(self.results.get_nowait())
        return out


@pytest.fixture
def make_driver() -> Iterator[Callable[..., QrCamera]]:
    drivers: list[QrCamera] = []

    def make(source: str, **kw) -> QrCamera:
        drv = QrCamera(source, **kw)
        drivers.append(drv)
        return drv

    yield make
    for drv in drivers:
        drv.close()


def frames_decoded_after(drv: QrCamera, n: int) -> Callable[[], bool]:
    start = drv.health()["frames_decoded"]
    return lambda: drv.health()["frames_decoded"] >= start + n


# -- readings -------------------------------------------------------------------------------
def test_persona_code_is_read_with_its_exact_text(cam, make_driver):
    code = token("P001")
    cam.show(code)
    reading = make_driver(cam.url).read_once(5)
    assert isinstance(reading, QrReading)
    assert reading.text == code and reading.payload == code.encode() and reading.source == cam.url
    assert not reading.binary
    p = personas.by_id("P001")
    assert (claims(reading.text)["sub"], claims(reading.text)["col"]) == (p.id_number, p.code_colour)


def test_chinese_text_payload_round_trips(cam, make_driver):
    cam.show("上海市健康码 绿码 P002")
    assert make_driver(cam.url).read_once(5).text == "上海市健康码 绿码 P002"


def test_a_code_in_view_is_reported_once_until_it_goes_away(cam, make_driver):
    got = Collector()
    drv = make_driver(cam.url, max_fps=25, absent_frames=3, refresh_s=0.05, on_result=got).start()
    cam.show(token("P003"))
    assert got.next().text == token("P003")
    wait_for(frames_decoded_after(drv, 10))
    assert got.left() == []  # still in view: not reported again
    cam.clear()
    wait_for(frames_decoded_after(drv, 4))
    cam.show(token("P003"))
    assert got.next().text == token("P003")


def test_a_code_held_longer_than_the_hold_time_is_reported_again(cam, make_driver):
    got = Collector()
    make_driver(cam.url, max_fps=25, hold_s=0.3, on_result=got).start()
    cam.show("held up for a while")
    assert got.next().text == "held up for a while"
    assert got.next().text == "held up for a while"


def test_a_new_code_replacing_the_old_is_reported_at_once(cam, make_driver):
    got = Collector()
    make_driver(cam.url, max_fps=25, on_result=got).start()
    cam.show("first")
    assert got.next().text == "first"
    cam.show("second")
    assert got.next().text == "second"


# -- refusals -------------------------------------------------------------------------------
def test_two_codes_in_one_frame_give_multiple_codes_not_a_guess(cam, make_driver):
    cam.show_many(["code one", "code two"])
    with pytest.raises(QrMultipleCodes) as info:
        make_driver(cam.url).read_once(5)
    assert info.value.count == 2 and info.value.code == 153


def test_many_codes_fault(cam, make_driver):
    cam.show(token("P004"))
    cam.faults.set("many_codes")
    drv = make_driver(cam.url)
    with pytest.raises(QrMultipleCodes):
        drv.read_once(5)
    cam.faults.clear()
    assert drv.read_once(5).text == token("P004")


def test_oversized_payload_is_refused_logged_and_never_passed_on(cam, make_driver, caplog):
    got = Collector()
    drv = make_driver(cam.url, max_payload_bytes=2048, on_result=got)
    cam.faults.set("oversized", arg="2100")
    with pytest.raises(QrOversized) as info:
        drv.read_once(5)
    assert (info.value.length, info.value.limit) == (2100, 2048)
    assert "2100 bytes" in caplog.text
    assert all(not isinstance(r, QrReading) for r in got.left())
    cam.faults.clear()
    cam.show("fine again")
    assert drv.read_once(5).text == "fine again"


def test_payload_over_a_lower_limit(cam, make_driver):
    cam.show("x" * 100)
    with pytest.raises(QrOversized):
        make_driver(cam.url, max_payload_bytes=64).read_once(5)


def test_binary_payload_is_reported_as_such(cam, make_driver):
    cam.faults.set("binary")
    with pytest.raises(QrBinaryPayload) as info:
        make_driver(cam.url).read_once(5)
    assert info.value.payload == BINARY_PAYLOAD


def test_binary_payload_as_a_reading_when_allowed(cam, make_driver):
    cam.show(b"\x00\x01\xfe\xff raw")
    reading = make_driver(cam.url, allow_binary=True).read_once(5)
    assert reading.binary and reading.payload == b"\x00\x01\xfe\xff raw"


def test_decoder_returns_the_symbols_exact_bytes():
    latin1 = "café".encode("latin-1")  # zbar would otherwise turn this into UTF-8 text
    dec = QrDecoder()
    try:
        assert dec.binary_mode
        assert dec.decode(render_codes((latin1,))) == [latin1]
        assert dec.decode(render_codes(())) == []
    finally:
        dec.close()


# -- faults and recovery --------------------------------------------------------------------
def test_no_code_frames_time_out_then_the_code_is_read(cam, make_driver):
    cam.show(token("P005"))
    cam.faults.set("no_code")
    drv = make_driver(cam.url)
    with pytest.raises(QrTimeout):
        drv.read_once(0.5)
    assert drv.health()["frames_decoded"] > 0
    cam.faults.clear("no_code")
    assert drv.read_once(5).text == token("P005")


def test_garbage_frames_are_undecodable_and_capture_goes_on(cam, make_driver):
    cam.show("after the garbage")
    cam.faults.set("garbage")
    drv = make_driver(cam.url)
    with pytest.raises(QrUndecodable):
        drv.read_once(0.6)
    h = drv.health()
    assert h["bad_frames"] > 0 and h["connected"] and "not an image" in h["last_error"]
    cam.faults.clear()
    assert drv.read_once(5).text == "after the garbage"
    assert drv.health()["last_error"] == ""


def test_stream_drop_reports_disconnected_then_reconnects(cam, make_driver):
    drv = make_driver(cam.url).start()
    wait_for(lambda: drv.health()["frames_read"] > 0)
    cam.faults.set("stream_drop")
    wait_for(lambda: not drv.health()["connected"])
    with pytest.raises(QrUnavailable):
        drv.read_once(0.3)
    assert drv.health()["last_error"]
    cam.faults.clear()
    drv.retry_now()
    cam.show(token("P006"))
    assert drv.read_once(8).text == token("P006")
    assert drv.health()["connected"] and drv.health()["reconnects"] >= 1


def test_timed_stream_drop_recovers_by_itself(cam, make_driver):
    got = Collector()
    drv = make_driver(cam.url, on_result=got).start()
    wait_for(lambda: drv.health()["frames_read"] > 0)
    cam.faults.set("stream_drop", arg="0.3")
    wait_for(lambda: not drv.health()["connected"])
    cam.show("back by itself")
    assert got.next(10).text == "back by itself"


def test_unplug_and_plug(cam, make_driver):
    drv = make_driver(cam.url).start()
    wait_for(lambda: drv.health()["connected"])
    cam.unplug()
    wait_for(lambda: not drv.health()["connected"])
    cam.plug()
    drv.retry_now()
    cam.show("replugged")
    assert drv.read_once(8).text == "replugged"


def test_nothing_listening_is_camera_unavailable(make_driver):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nobody listens there
    drv = make_driver(f"http://127.0.0.1:{port}/stream.mjpg", connect_timeout_s=0.5)
    with pytest.raises(QrUnavailable) as info:
        drv.read_once(0.5)
    assert info.value.code == 155 and "cannot connect" in str(info.value)
    assert drv.health()["connected"] is False


@pytest.mark.parametrize(("path", "why"), [("/snapshot.jpg", "not an MJPEG stream"), ("/nothing", "404")])
def test_a_url_that_is_no_stream_says_why(cam, make_driver, path, why):
    drv = make_driver(cam.url.replace("/stream.mjpg", path))
    with pytest.raises(QrUnavailable, match=why):
        drv.read_once(0.5)


# -- bounded CPU, other backends, contracts -------------------------------------------------
def test_frame_rate_cap_bounds_decoding(cam, make_driver):
    drv = make_driver(cam.url, max_fps=5).start()
    wait_for(lambda: drv.health()["frames_read"] > 0)
    started = time.monotonic()
    before = drv.health()
    wait_for(lambda: drv.health()["frames_read"] >= before["frames_read"] + 30, 10)
    elapsed = time.monotonic() - started
    after = drv.health()
    decoded = after["frames_decoded"] - before["frames_decoded"]
    assert decoded <= 5 * elapsed + 1  # the cap, whatever the camera's 25 fps
    assert decoded < after["frames_read"] - before["frames_read"]


def test_opencv_backend_reads_the_same_stream(cam, make_driver):
    cam.show(token("P007"))
    assert make_driver(cam.url, backend="cv2").read_once(10).text == token("P007")


def test_unknown_backend_is_refused():
    with pytest.raises(ValueError, match="backend"):
        QrCamera("0", backend="gstreamer")


def test_config_entry_is_a_valid_camera_config_and_status_is_json(cam):
    entry = cam.config_entry()
    assert entry == {"source": cam.url} and Camera(**entry).source == cam.url
    cam.show("x")
    status = json.loads(json.dumps(cam.status()))
    assert status["showing"] == ["x"] and status["plugged"] and status["kind"] == "camera"


def test_health_is_json(cam, make_driver):
    drv = make_driver(cam.url).start()
    wait_for(lambda: drv.health()["frames_decoded"] > 0)
    health = json.loads(json.dumps(drv.health()))
    assert health["connected"] is True and health["source"] == cam.url


def test_unknown_fault_is_refused(cam):
    with pytest.raises(FaultError, match="has no fault 'paper_out'"):
        cam.faults.set("paper_out")


def test_realistic_camera_at_the_default_cap(tmp_path, make_driver):
    from hardware_sim.timing import Timing

    sim = CameraSim("qr_camera", timing=Timing.REALISTIC)
    sim.start()
    try:
        assert sim.fps == 10.0
        sim.show(token("P008"))
        assert make_driver(sim.url).read_once(5).text == token("P008")
    finally:
        sim.stop()
