"""The QR drivers' pure parts: payload checks, de-duplication, the GM65 framing, the MJPEG parser."""

from __future__ import annotations

import json

import cv2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.errors import DeviceDisconnected, DeviceRefused, DeviceTimeout, DriverError, FrameError
from drivers.qr_common import (
    Deduplicator,
    QrBinaryPayload,
    QrError,
    QrMultipleCodes,
    QrOversized,
    QrReading,
    QrRefused,
    QrTimeout,
    QrUnavailable,
    QrUndecodable,
    ResultSink,
    check_payload,
    payload_text,
)
from drivers.qr_frames import MjpegParser, boundary_of, parse_response_head
from drivers.qr_scanner import (
    ACK_REPLY,
    TRIGGER_COMMAND,
    Line,
    Overflow,
    Reply,
    ScannerStream,
    Unterminated,
    build_command,
    crc16_xmodem,
    parse_reply,
)

pytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]


# -- payload checks and errors --------------------------------------------------------------
def test_payload_at_the_limit_is_taken_one_byte_more_is_refused_and_logged(caplog):
    ok = check_payload(b"A" * 16, source="cam", limit=16)
    assert ok.text == "A" * 16 and ok.payload == b"A" * 16 and ok.source == "cam" and not ok.binary
    with pytest.raises(QrOversized) as info:
        check_payload(b"SECRET" + b"A" * 11, source="cam", limit=16, device="qr_camera")
    assert (info.value.length, info.value.limit, info.value.code) == (17, 16, 151)
    assert "SECRET" not in str(info.value) and not hasattr(info.value, "payload")
    assert "17 bytes" in caplog.text and "SECRET" not in caplog.text


def test_binary_payload_is_an_error_unless_allowed():
    data = b"\xff\xfe\x00\x80"
    with pytest.raises(QrBinaryPayload) as info:
        check_payload(data, source="cam")
    assert info.value.payload == data and info.value.code == 152
    reading = check_payload(data, source="cam", allow_binary=True)
    assert reading.binary and reading.text is None and reading.payload == data


def test_utf8_text_and_byte_order_mark():
    assert payload_text("健康码 绿".encode()) == "健康码 绿"
    assert payload_text(b"\xef\xbb\xbfLFHC1.x") == "LFHC1.x"
    assert payload_text("caf\xe9".encode("latin-1")) is None


def test_error_family_codes_and_bases():
    cases = [(QrOversized(3, 2), 151, DriverError), (QrBinaryPayload(b"\xff"), 152, DriverError),
             (QrMultipleCodes(2), 153, DriverError), (QrUndecodable("x"), 154, FrameError),
             (QrUnavailable("x"), 155, DeviceDisconnected), (QrTimeout("x"), 156, DeviceTimeout),
             (QrRefused("x"), 157, DeviceRefused), (QrError("x"), 150, DriverError)]
    for exc, code, base in cases:
        assert isinstance(exc, QrError) and isinstance(exc, base) and exc.code == code
    assert str(QrMultipleCodes(2, device="qr_camera")).startswith("qr_camera: 2 codes in view")
    assert str(QrMultipleCodes(2)).endswith("[E153]")


def test_reading_to_dict_is_json():
    r = QrReading(b"\xe7\xbb\xbf", "绿", "/dev/ttyUSB0", 1.5)
    assert json.loads(json.dumps(r.to_dict())) == {"text": "绿", "payload_hex": "e7bbbf", "length": 3,
                                                   "binary": False, "source": "/dev/ttyUSB0", "seen_at": 1.5}


def test_result_sink_keeps_the_newest_and_survives_a_bad_callback():
    def boom(_: object) -> None:
        raise RuntimeError("consumer bug")

    sink = ResultSink("t", boom)
    for i in range(40):
        sink.deliver(QrReading(bytes([i]), None, "s", 0.0))
    first = sink.get(0)
    assert isinstance(first, QrReading) and first.payload == bytes([8])  # 32 kept: 8..39
    assert sink.drain() == 31 and sink.get(0) is None


# -- de-duplication -------------------------------------------------------------------------
def test_dedup_reports_a_code_once_while_it_stays():
    d = Deduplicator(absent_frames=3, hold_s=5.0)
    assert d.observe("A", 0.0)
    assert not any(d.observe("A", t / 10) for t in range(1, 30))


def test_dedup_reports_again_after_absence_of_n_frames_not_before():
    d = Deduplicator(absent_frames=3, hold_s=100.0)
    assert d.observe("A", 0.0)
    d.observe(None, 0.1)
    d.observe(None, 0.2)  # two misses: a flicker
    assert not d.observe("A", 0.3)
    for t in (0.4, 0.5, 0.6):
        d.observe(None, t)
    assert d.observe("A", 0.7)


def test_dedup_reports_again_after_hold_time_and_on_another_code():
    d = Deduplicator(absent_frames=3, hold_s=1.0)
    assert d.observe("A", 0.0)
    assert not d.observe("A", 0.9)
    assert d.observe("A", 1.0)
    assert d.observe("B", 1.1)
    assert d.observe("A", 1.2)


def test_change_gate_ignores_noise_and_sees_a_code():
    from drivers.qr_camera import ChangeGate
    from hardware_sim.camera import render_codes

    def small(view):
        return cv2.resize(view, (160, 120), interpolation=cv2.INTER_AREA)

    gate = ChangeGate()
    empty_a, empty_b = small(render_codes((), 0)), small(render_codes((), 1))
    assert gate.changed(None) and gate.changed(empty_a)  # nothing to compare with
    gate.remember(empty_a)
    assert not gate.changed(empty_b)  # sensor noise only
    assert gate.changed(small(render_codes((b"LFHC1.code",), 1)))
    gate.remember(small(render_codes((b"LFHC1.code-a",), 0)))
    assert gate.changed(small(render_codes((b"LFHC1.code-b",), 0)))  # another code in the same place


# -- GM65 framing ---------------------------------------------------------------------------
def test_crc_and_command_frames_match_the_manuals():
    assert crc16_xmodem(b"\x00\x01\x00") == 0x3331  # the documented reply 02 00 00 01 00 33 31
    assert build_command(0x08, 0x0002, b"\x01") == TRIGGER_COMMAND == bytes.fromhex("7E0008010002 01ABCD")
    assert build_command(0x09, 0x0000, b"\x00", with_crc=True) == bytes.fromhex("7E 00 09 01 00 00 00 DE C8")
    assert build_command(0x07, 0x002A, b"\x02", with_crc=True) == bytes.fromhex("7E000701002A02D80F")
    assert build_command(0x08, 0x002A, b"\x39\x01", with_crc=True) == bytes.fromhex("7E000802002A3901A7EA")


def test_reply_parsing_is_liberal_about_crc_and_length():
    assert parse_reply(ACK_REPLY) == Reply(0, b"\x00", True)
    assert parse_reply(bytes.fromhex("02 00 00 01 00 AB CD")).crc_ok
    assert not parse_reply(bytes.fromhex("02 00 00 01 00 33 30")).crc_ok
    body = bytes([0x00, 0x02, 0x12, 0x34])
    assert parse_reply(b"\x02\x00" + body + crc16_xmodem(body).to_bytes(2, "big")) == Reply(0, b"\x12\x34", True)
    with pytest.raises(QrUndecodable):
        parse_reply(bytes.fromhex("02 00 00 05 00 33 31"))


@pytest.mark.parametrize("ending", [b"\r", b"\n", b"\r\n"])
def test_lines_with_any_ending_are_stripped(ending):
    s = ScannerStream()
    data = b"LFHC1.one" + ending + b"two" + ending
    assert s.feed(data, 0.0) == [Line(b"LFHC1.one"), Line(b"two")]
    s2 = ScannerStream()
    events = [e for b in data for e in s2.feed(bytes([b]), 0.0)]
    assert events == [Line(b"LFHC1.one"), Line(b"two")]


def test_over_long_line_is_skipped_to_its_end_and_the_next_is_read():
    s = ScannerStream(max_payload_bytes=8)
    assert s.feed(b"0123456", 0.0) == []
    assert s.feed(b"789ABC", 0.0) == []
    assert s.feed(b"DEF\rok\r", 0.0) == [Overflow(16), Line(b"ok")]
    assert s.feed(b"0123456789\r", 0.0) == [Overflow(10)]


def test_unterminated_line_is_given_up_after_silence_only():
    s = ScannerStream(idle_end_s=0.3)
    assert s.feed(b"half a code", 10.0) == []
    assert s.poll(10.2) == []
    assert s.poll(10.31) == [Unterminated(11)]
    assert s.poll(20.0) == []
    assert s.feed(b"next\r", 21.0) == [Line(b"next")]


def test_reply_is_recognised_only_when_awaited_and_split_anywhere():
    s = ScannerStream()
    assert s.feed(ACK_REPLY + b"\r", 0.0) == [Line(ACK_REPLY)]  # unasked: just bytes of a line
    stream = ACK_REPLY + b"LFHC1.after\r"
    for cut in range(len(stream) + 1):
        s = ScannerStream()
        s.expect_reply = True
        events = s.feed(stream[:cut], 0.0) + s.feed(stream[cut:], 0.0)
        assert events == [Reply(0, b"\x00", True), Line(b"LFHC1.after")], cut
        assert not s.expect_reply


def test_a_code_before_the_reply_is_still_a_code():
    s = ScannerStream()
    s.expect_reply = True
    assert s.feed(b"code\r\n" + ACK_REPLY, 0.0) == [Line(b"code"), Reply(0, b"\x00", True)]


payload_bytes = st.binary(min_size=1, max_size=64).filter(lambda b: b"\r" not in b and b"\n" not in b)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(payload_bytes, st.sampled_from([b"\r", b"\n", b"\r\n"])), max_size=8), st.data())
def test_lines_survive_any_chunking(lines, data):
    stream = b"".join(p + end for p, end in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    s = ScannerStream(max_payload_bytes=64)
    events = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        events += s.feed(stream[a:b], 0.0)
    assert events == [Line(p) for p, _ in lines]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=80), max_size=10), st.booleans(), st.integers(1, 100))
def test_random_scanner_bytes_only_give_events(chunks, expect, limit):
    s = ScannerStream(max_payload_bytes=limit)
    s.expect_reply = expect
    t = 0.0
    for chunk in chunks:
        t += 0.1
        for e in s.feed(chunk, t):
            assert isinstance(e, (Line, Reply, Overflow, Unterminated))
            if isinstance(e, Line):
                assert e.payload and b"\r" not in e.payload and b"\n" not in e.payload
                assert len(e.payload) <= limit
    for e in s.poll(t + 1.0):
        assert isinstance(e, (Overflow, Unterminated))
    assert s.poll(t + 2.0) == []


# -- MJPEG ----------------------------------------------------------------------------------
JPEG_A = b"\xff\xd8\xff\xe0 first image \xff\xd9"
JPEG_B = b"\xff\xd8\xff\xe0 second\r\n--not-a-boundary \xff\xd9"


def _part(body: bytes, boundary: bytes = b"--frame", length: bool = True, nl: bytes = b"\r\n") -> bytes:
    head = boundary + nl + b"Content-Type: image/jpeg" + nl
    if length:
        head += b"Content-Length: " + str(len(body)).encode() + nl
    return head + nl + body + nl


def test_boundary_header_forms():
    assert boundary_of("multipart/x-mixed-replace; boundary=frame") == "frame"
    assert boundary_of('multipart/x-mixed-replace;boundary="--frame"') == "frame"
    assert boundary_of("multipart/x-mixed-replace") is None


def test_parts_with_and_without_length_and_with_bare_lf():
    p = MjpegParser("frame")
    assert p.feed(b"preamble junk\r\n" + _part(JPEG_A) + _part(JPEG_B)) == [JPEG_A, JPEG_B]
    p = MjpegParser("frame")
    stream = _part(JPEG_A, length=False, nl=b"\n") + _part(JPEG_A, length=False) + b"--frame--\r\n"
    assert p.feed(stream) == [JPEG_A, JPEG_A]


def test_server_writing_extra_dashes_and_junk_between_parts():
    p = MjpegParser(boundary_of("multipart/x-mixed-replace; boundary=--myboundary"))
    stream = _part(JPEG_A, b"----myboundary") + b"\x00\x01 junk \r\n" + _part(JPEG_B, b"--myboundary")
    assert p.feed(stream) == [JPEG_A, JPEG_B]


def test_no_boundary_cuts_at_jpeg_markers():
    p = MjpegParser(None)
    assert p.feed(b"xx" + JPEG_A + b"yy" + JPEG_A[:5]) == [JPEG_A]
    assert p.feed(JPEG_A[5:]) == [JPEG_A]


def test_a_part_over_the_limit_is_the_parsers_error_and_it_recovers():
    p = MjpegParser("frame", max_part_bytes=100)
    with pytest.raises(QrUndecodable):
        p.feed(b"--frame\r\n\r\n" + b"x" * 20000)
    assert p.feed(_part(JPEG_A)) == [JPEG_A]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=200), max_size=6), st.booleans(), st.data())
def test_parts_survive_any_chunking(bodies, length, data):
    bodies = [b for b in bodies if length or (b"--frame" not in b and not b.endswith((b"\r", b"\n")))]
    stream = b"".join(_part(b, length=length) for b in bodies) + b"--frame\r\n"
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    p = MjpegParser("frame")
    got = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += p.feed(stream[a:b])
    assert got == bodies


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=8), st.sampled_from(["frame", None]))
def test_random_stream_bytes_only_give_parts_or_the_parsers_error(chunks, boundary):
    p = MjpegParser(boundary, max_part_bytes=256)
    for chunk in chunks:
        try:
            parts = p.feed(chunk)
        except QrUndecodable:
            continue
        assert all(isinstance(part, bytes) and part for part in parts)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 399))
def test_truncated_or_corrupted_stream_gives_parts_or_the_parsers_error(noise, at):
    stream = bytearray(_part(JPEG_A) + _part(JPEG_B) + _part(JPEG_A))
    stream[at % len(stream): at % len(stream) + len(noise)] = noise
    p = MjpegParser("frame", max_part_bytes=1024)
    try:
        parts = p.feed(bytes(stream[: at + 50]))
    except QrUndecodable:
        return
    assert all(isinstance(part, bytes) and part for part in parts)


def test_http_response_head():
    status, reason, headers = parse_response_head(
        b"HTTP/1.0 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=x\r\nServer: cam")
    assert (status, reason, headers["content-type"]) == (200, "OK", "multipart/x-mixed-replace; boundary=x")
    assert parse_response_head(b"HTTP/1.1 401 Unauthorized\nWWW-Authenticate: Basic")[0] == 401
    with pytest.raises(QrUndecodable):
        parse_response_head(b"\xff\xd8 not http")
