"""Locker board and door controller: the codec's known answers and fuzzing, the door monitor, and the
drivers against the simulated boards over real ptys."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.errors import DeviceDisconnected, DeviceTimeout, FrameError
from drivers.relay_board import (
    AllLocksReply,
    BoardStatus,
    DoorClosed,
    DoorController,
    DoorForced,
    DoorHeldOpen,
    DoorMonitor,
    DoorOpened,
    LockDidNotOpen,
    LockReply,
    LockState,
    RelayBoard,
    RelayBoardError,
    RelayDisconnected,
    RelayFrameError,
    RelayTimeout,
    bcc,
    decode_all_reply,
    decode_lock_reply,
    encode_open,
    encode_query,
    encode_query_all,
    pick_all_reply,
)
from hardware_sim.faults import FaultError
from hardware_sim.relay_board import DoorControllerSim, DoorLocked, RelayBoardSim
from hardware_sim.serial_sim import SerialSimDevice
from hardware_sim.timing import Timing
from kiosk.config import RelayBoard as RelayBoardConfig

pytestmark = pytest.mark.timeout(30)
H = bytes.fromhex
AT = datetime(2025, 1, 1, tzinfo=UTC)


# -- codec: known answers from published boards ------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize(("frame", "expected"), [
    (encode_open(1, 1), "8a 01 01 11 9b"),
    (encode_open(2, 1), "8a 02 01 11 98"),
    (encode_open(3, 12), "8a 03 0c 11 94"),
    (encode_query(1, 1), "80 01 01 33 b3"),
    (encode_query_all(1), "80 01 00 33 b2"),
    (encode_query_all(2), "80 02 00 33 b1"),
])
def test_requests_match_published_frames(frame, expected):
    assert frame.hex(" ") == expected


@pytest.mark.unit
def test_replies_decode_as_published():
    assert decode_lock_reply(H("8a 01 01 00 8a")) == LockReply(0x8A, 1, 1, closed=False)  # opened
    assert decode_lock_reply(H("8a 01 01 11 9b")) == LockReply(0x8A, 1, 1, closed=True)  # still locked
    assert decode_lock_reply(H("80 01 02 11 92")) == LockReply(0x80, 1, 2, closed=True)
    captured_8_lock_board = decode_all_reply(H("80 01 00 00 00 33 b2"))
    assert captured_8_lock_board == AllLocksReply(1, (False,) * 24)
    closed = decode_all_reply(H("80 01 01 01 01 33 b3")).closed  # doors 1, 9 and 17 closed
    assert [n + 1 for n, c in enumerate(closed) if c] == [1, 9, 17]
    two_groups = decode_all_reply(bytes([0x80, 0x02, 0b0101, 0b11, 0x33, 0x80 ^ 0x02 ^ 0b0101 ^ 0b11 ^ 0x33]))
    assert [n + 1 for n, c in enumerate(two_groups.closed) if c] == [1, 2, 9, 11]


@pytest.mark.unit
@pytest.mark.parametrize("frame", ["8a 01 01 00 8b", "8a 01 01 22 a8", "81 01 01 00 81", "8a 01 01 00", ""])
def test_bad_lock_replies_are_frame_errors(frame):
    with pytest.raises(RelayFrameError):
        decode_lock_reply(H(frame))


@pytest.mark.unit
def test_pick_all_reply_prefers_what_the_board_sent():
    seven = H("80 01 00 00 05 33 b7")
    assert pick_all_reply(seven, 7) == seven
    assert pick_all_reply(seven + b"\x00", 7) == seven  # trailing noise
    one = H("80 01 05 33 b7")
    assert pick_all_reply(one, 7) == one  # a board that sends one status byte
    assert pick_all_reply(H("80 01 05 33"), 7) is None


@pytest.mark.unit
@given(st.binary(max_size=16))
def test_random_bytes_decode_or_raise_the_parsers_error(data):
    for parse in (decode_lock_reply, decode_all_reply):
        try:
            parse(data)
        except RelayFrameError:
            pass
    assert pick_all_reply(data, 7) in (None, *(data[:n] for n in range(5, 13)))


@pytest.mark.unit
@given(st.integers(0, 255), st.lists(st.booleans(), min_size=1, max_size=64))
def test_bitmaps_round_trip(board, closed):
    k = -(-len(closed) // 8)
    value = sum(1 << i for i, c in enumerate(closed) if c)
    body = bytes([0x80, board]) + value.to_bytes(k, "big") + b"\x33"
    reply = decode_all_reply(body + bytes([bcc(body)]))
    assert reply.board == board
    assert list(reply.closed[:len(closed)]) == closed and not any(reply.closed[len(closed):])


@pytest.mark.unit
@given(st.integers(0, 255), st.integers(1, 255), st.sampled_from([encode_open, encode_query]))
def test_every_request_xors_to_zero(board, lock, encode):
    frame = encode(board, lock)
    assert len(frame) == 5 and bcc(frame) == 0


@pytest.mark.unit
@given(st.integers(0, 4), st.integers(1, 255))
def test_corrupted_replies_never_decode(position, flip):
    frame = bytearray(H("80 01 02 11 92"))
    frame[position] ^= flip
    try:
        reply = decode_lock_reply(bytes(frame))
    except RelayFrameError:
        return
    pytest.fail(f"corrupted frame decoded: {reply}")


@pytest.mark.unit
def test_error_family():
    assert issubclass(RelayTimeout, DeviceTimeout) and issubclass(RelayDisconnected, DeviceDisconnected)
    assert issubclass(RelayFrameError, FrameError) and LockDidNotOpen.code == 181
    with pytest.raises(ValueError):
        encode_open(1, 0)


# -- door monitor: pure, time passed in -----------------------------------------------------
@pytest.mark.unit
def test_granted_opening_then_close():
    m = DoorMonitor(held_open_limit_s=30, pass_window_s=10)
    assert m.observe(True, 0, AT) == []
    m.granted(1)
    assert m.observe(False, 5, AT) == [DoorOpened(AT)]
    assert m.observe(False, 6, AT) == []
    assert m.observe(True, 9, AT) == [DoorClosed(AT, 4)]


@pytest.mark.unit
def test_opening_without_command_or_after_the_window_is_forced():
    m = DoorMonitor(held_open_limit_s=30, pass_window_s=10)
    m.observe(True, 0, AT)
    assert m.observe(False, 1, AT) == [DoorForced(AT)]
    m.observe(True, 2, AT)
    m.granted(3)
    assert m.observe(False, 14, AT) == [DoorForced(AT)]  # the window ended at 13


@pytest.mark.unit
def test_one_command_allows_one_opening():
    m = DoorMonitor(pass_window_s=10)
    m.observe(True, 0, AT)
    m.granted(0)
    assert m.observe(False, 1, AT) == [DoorOpened(AT)]
    m.observe(True, 2, AT)
    assert m.observe(False, 3, AT) == [DoorForced(AT)]


@pytest.mark.unit
def test_held_open_is_reported_once_per_opening():
    m = DoorMonitor(held_open_limit_s=30, pass_window_s=10)
    m.observe(True, 0, AT)
    m.granted(0)
    m.observe(False, 1, AT)
    assert m.observe(False, 30, AT) == []
    assert m.observe(False, 31.5, AT) == [DoorHeldOpen(AT, 30.5)]
    assert m.observe(False, 60, AT) == []
    assert m.observe(True, 61, AT) == [DoorClosed(AT, 60)]
    assert m.open_for(62) == 0


@pytest.mark.unit
def test_door_open_at_start_is_not_forced_but_can_be_held_open():
    m = DoorMonitor(held_open_limit_s=5)
    assert m.observe(False, 100, AT) == []
    assert m.observe(False, 106, AT) == [DoorHeldOpen(AT, 6)]


# -- drivers against the simulated boards -------------------------------------------------
@pytest.fixture
def locker(tmp_path):
    dev = RelayBoardSim("locker", tmp_path / "locker", locks=24)
    dev.start()
    yield dev
    dev.stop()


@pytest.fixture
def board(locker):
    drv = RelayBoard(str(locker.link_path), timeout_s=0.3, locks=24, name="locker")
    yield drv
    drv.close()


@pytest.mark.integration
def test_open_query_and_status(locker, board):
    assert board.query(4) == LockState(4, closed=True)
    assert board.open(4) == LockState(4, closed=False)  # the locker door springs open
    assert locker.door_open(4) and not locker.latched(4)
    assert board.query(4).open
    status = board.status()
    assert isinstance(status, BoardStatus) and status.open_locks == [4] and len(status.locks) == 24
    locker.set_door(4, False)  # a resident takes the document and shuts the door
    assert board.query_all() == tuple(LockState(n, True) for n in range(1, 25))
    sent = [e.data.hex(" ") for e in locker.traffic.entries("locker") if e.direction == "host>dev"]
    assert sent[:2] == ["80 01 04 33 b6", "8a 01 04 11 9e"]


@pytest.mark.integration
def test_jammed_lock_is_reported_then_opens(locker, board):
    locker.faults.set("lock_jammed", count=1)
    with pytest.raises(LockDidNotOpen, match="lock 7 did not open"):
        board.open(7)
    assert "did not open" in board.health()["last_error"]
    assert board.query(7).closed
    assert board.open(7).open


@pytest.mark.integration
def test_forced_locker_shows_open(locker, board):
    locker.force_open(12)
    assert board.status().open_locks == [12]


@pytest.mark.integration
@pytest.mark.parametrize("request_kind", ["query", "query_all"])
@pytest.mark.parametrize(("fault", "error"), [("no_answer", RelayTimeout), ("garbage", RelayFrameError),
                                              ("bad_checksum", RelayFrameError), ("truncated", RelayTimeout),
                                              ("unplug_mid_read", RelayDisconnected)])
def test_serial_faults_give_the_drivers_error_then_it_reads_again(locker, board, fault, error, request_kind):
    ask = (lambda: board.query(2)) if request_kind == "query" else board.query_all
    expected = ask()
    locker.faults.set(fault, count=1)
    with pytest.raises(error) as info:
        ask()
    assert isinstance(info.value, RelayBoardError) and info.value.device == "locker"
    if fault == "unplug_mid_read":
        locker.plug()
        board.link.retry_now()
    assert ask() == expected
    assert board.health()["last_error"] == ""


@pytest.mark.integration
def test_slow_answer_times_out_and_the_board_answers_later(locker, board):
    locker.faults.set("slow", count=1)
    with pytest.raises(RelayTimeout):
        board.query(1)
    locker.faults.clear()
    recovered = None
    for _ in range(40):  # the late answer is discarded before each new request
        try:
            recovered = board.query(1)
            break
        except RelayTimeout:
            continue
    assert recovered == LockState(1, True)


@pytest.mark.integration
def test_unplug_and_replug(locker, board):
    board.query(1)
    locker.unplug()
    with pytest.raises(RelayDisconnected):
        board.query(1)
    assert board.health()["connected"] is False
    locker.plug()
    board.link.retry_now()
    assert board.query(1).closed


@pytest.mark.integration
def test_another_board_address_does_not_answer(locker):
    other = RelayBoard(str(locker.link_path), timeout_s=0.2, board=2, locks=24)
    with pytest.raises(RelayTimeout):
        other.query(1)
    other.close()


@pytest.mark.integration
@pytest.mark.parametrize("status_bytes", [1, 3, 4])
def test_query_all_accepts_boards_sending_other_bitmap_sizes(tmp_path, status_bytes):
    dev = RelayBoardSim("small", tmp_path / "small", locks=8, status_bytes=status_bytes)
    dev.start()
    try:
        drv = RelayBoard(str(dev.link_path), timeout_s=0.3, locks=8)
        dev.force_open(3)
        assert drv.status().open_locks == [3]
        drv.close()
    finally:
        dev.stop()


@pytest.mark.integration
def test_inverted_feedback_wiring(locker):
    drv = RelayBoard(str(locker.link_path), timeout_s=0.3, locks=24, feedback_inverted=True, check_open=False)
    assert drv.query(1).open  # 0x11 read the other way round
    drv.close()


@pytest.mark.integration
def test_lock_numbers_are_checked_before_sending(board):
    with pytest.raises(ValueError, match="locks 1-24"):
        board.open(25)


@pytest.mark.integration
def test_simulator_status_config_and_faults(locker, board):
    board.open(2)
    status = locker.status()
    json.dumps(status)
    json.dumps(board.health())
    assert status["opens"] == 1 and status["locks"][1] == {"lock": 2, "door_open": True, "latched": False}
    cfg = RelayBoardConfig(**locker.config_entry())
    assert (cfg.board, cfg.locks, cfg.port) == (1, 24, str(locker.link_path))
    with pytest.raises(FaultError):
        locker.faults.set("paper_out")


@pytest.mark.integration
def test_realistic_timing_open(tmp_path):
    dev = RelayBoardSim("rt", tmp_path / "rt", timing=Timing.REALISTIC, locks=4)
    dev.start()
    try:
        drv = RelayBoard(str(dev.link_path), timeout_s=2, locks=4)
        assert drv.open(1).open
        drv.close()
    finally:
        dev.stop()


# -- the door controller ------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def door_sim(tmp_path):
    dev = DoorControllerSim("door", tmp_path / "door", release_s=60)
    dev.start()
    yield dev
    dev.stop()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def door(door_sim, clock):
    drv = DoorController(str(door_sim.link_path), timeout_s=0.3, held_open_limit_s=30, pass_window_s=10,
                         clock=clock)
    yield drv
    drv.close()


@pytest.mark.integration
def test_door_opened_with_command_then_closed(door_sim, door, clock):
    assert door.poll() == []
    assert door.open().closed  # the strike is released; the door is still shut: not an error
    clock.now += 2
    door_sim.set_door(1, True)
    events = door.poll()
    assert len(events) == 1 and isinstance(events[0], DoorOpened)
    clock.now += 5
    door_sim.set_door(1, False)
    (closed,) = door.poll()
    assert isinstance(closed, DoorClosed) and closed.open_for_s == 5


@pytest.mark.integration
def test_door_forced_open(door_sim, door):
    door.poll()
    with pytest.raises(DoorLocked):
        door_sim.set_door(1, True)  # a person cannot pull a latched door
    door_sim.force_open(1)
    (event,) = door.poll()
    assert isinstance(event, DoorForced)


@pytest.mark.integration
def test_door_held_open(door_sim, door, clock):
    door.poll()
    door.open()
    door_sim.set_door(1, True)
    door.poll()
    clock.now += 31
    (event,) = door.poll()
    assert isinstance(event, DoorHeldOpen) and event.open_for_s == 31
    assert door.poll() == []
    assert door.health()["door_open_for_s"] == 31


@pytest.mark.integration
def test_door_relocks_after_the_release_window(tmp_path):
    dev = DoorControllerSim("door0", tmp_path / "door0", release_s=0)
    dev.start()
    try:
        drv = DoorController(str(dev.link_path), timeout_s=0.3)
        drv.open()
        with pytest.raises(DoorLocked):
            dev.set_door(1, True)
        assert drv.status().open_locks == []
        drv.close()
    finally:
        dev.stop()


@pytest.mark.integration
def test_door_errors_are_the_drivers(door_sim, door):
    door_sim.faults.set("no_answer", count=1)
    with pytest.raises(RelayTimeout):
        door.poll()
    assert door.poll() == []


# -- fuzzing the driver's handling of replies over the real pty ---------------------------
class CannedReply(SerialSimDevice):
    """Answers every request with ``reply``."""

    kind = "canned"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reply = b""

    def on_bytes(self, data: bytes) -> None:
        if self.reply:
            self.write_raw(self.reply)


@pytest.fixture(scope="module")
def canned(tmp_path_factory):
    dev = CannedReply("canned", Path(tmp_path_factory.mktemp("canned")) / "port")
    dev.start()
    yield dev
    dev.stop()


@pytest.mark.integration
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reply=st.binary(min_size=1, max_size=12), ask_all=st.booleans())
def test_any_reply_yields_a_state_or_the_drivers_error(canned, reply, ask_all):
    canned.reply = reply
    drv = RelayBoard(str(canned.link_path), timeout_s=0.05, locks=8)
    try:
        result = drv.query_all() if ask_all else drv.query(1)
    except RelayBoardError:
        return
    finally:
        drv.close()
    assert (len(result) == 8) if ask_all else isinstance(result, LockState)
