"""Door controller and locker board: the common serial lock-control board protocol (5-byte XOR frames).

Wire protocol implemented (RS-485/RS-232, 9600 8N1, the host asks, the board answers; board
addresses come from its DIP switches, locks are numbered from 1; BCC = XOR of all bytes
before it)::

    open lock L        host  8A B L 11 BCC      e.g. 8A 01 01 11 9B
                       board 8A B L S  BCC      after the coil pulse (~0.5 s); S = lock feedback
    query lock L       host  80 B L 33 BCC      e.g. 80 01 01 33 B3
                       board 80 B L S  BCC
    query all locks    host  80 B 00 33 BCC     e.g. 80 01 00 33 B2
                       board 80 B Sk … S1 33 BCC
                             k status bytes, highest group first: S1 = locks 1–8 (bit 0 = lock 1),
                             S2 = locks 9–16, S3 = 17–24 …; boards up to 24 locks send k = 3
                             (captured from an 8-lock board: 80 01 00 00 00 33 B2)

Feedback S: 0x11 = closed (door shut, lock latched), 0x00 = open; in the query-all bitmap
1 = closed, 0 = open.  Boards wired with "open-short" feedback report the inverse
(``feedback_inverted=True``).  An open reply that still says closed means the lock did not
release (jammed, no power) on a locker: :class:`LockDidNotOpen`.  The door controller is the
same board with the electric strike on lock 1 and the door contact as its feedback, so right
after an open command its door is still shut and that is not an error; :class:`DoorController`
polls the contact and reports :class:`DoorForced` (opened while no opening was granted) and
:class:`DoorHeldOpen` (open longer than the limit).  Open-all (``8A B 00 11``) is not used.

Accepted liberally: leading bytes before a reply header, any k from 1 to 8 in a query-all reply
(the expected k is tried first, then whatever the board sent before falling silent).

Errors (one root, ``RelayBoardError``; transport ones keep the generic codes)::

    RelayBoardError         (180)  root
      LockDidNotOpen        (181)  the board answered the open command but the lock stayed closed
      RelayDisconnected     (101)  also DeviceDisconnected
      RelayTimeout          (102)  also DeviceTimeout
      RelayFrameError       (103)  also FrameError: bad BCC, wrong header, board or lock
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from drivers.errors import DeviceDisconnected, DeviceTimeout, DriverError, FrameError
from drivers.serial_link import SerialLink

OPEN_CMD, QUERY_CMD = 0x8A, 0x80  # frame headers
OPEN_FN, QUERY_FN = 0x11, 0x33  # function bytes of the requests
CLOSED, OPENED = 0x11, 0x00  # feedback bytes in single-lock replies
FRAME_LEN = 5
MAX_STATUS_BYTES = 8  # query-all replies up to 64 locks
REPLY_GAP_S = 0.05  # silence after which a query-all reply is taken as complete, in seconds


class RelayBoardError(DriverError):
    """Root of every error of the door controller and locker board drivers."""

    code = 180


class LockDidNotOpen(RelayBoardError):
    """The board acknowledged the open command but reports the lock still closed."""

    code = 181


class RelayDisconnected(RelayBoardError, DeviceDisconnected):
    """The board's port is missing or was unplugged; the link reopens it after a backoff."""

    code = 101


class RelayTimeout(RelayBoardError, DeviceTimeout):
    """No complete answer within the timeout."""

    code = 102


class RelayFrameError(RelayBoardError, FrameError):
    """An answer that is not a valid frame (BCC, header, board, lock, status byte)."""

    code = 103


# -- codec: pure functions ---------------------------------------------------------------
def bcc(data: bytes) -> int:
    """XOR of all bytes: the check byte of every frame."""
    value = 0
    for byte in data:
        value ^= byte
    return value


def _frame(head: int, board: int, lock: int, function: int, *, first_lock: int = 1) -> bytes:
    if not (0 <= board <= 0xFF and first_lock <= lock <= 0xFF):
        raise ValueError(f"board must be 0-255 and lock {first_lock}-255 (got board {board}, lock {lock})")
    body = bytes([head, board, lock, function])
    return body + bytes([bcc(body)])


def encode_open(board: int, lock: int) -> bytes:
    """The open-lock request (lock ≥ 1; lock 0 would open every lock)."""
    return _frame(OPEN_CMD, board, lock, OPEN_FN)


def encode_query(board: int, lock: int) -> bytes:
    """The query-one-lock request (lock ≥ 1; lock 0 is the query-all request)."""
    return _frame(QUERY_CMD, board, lock, QUERY_FN)


def encode_query_all(board: int) -> bytes:
    """The query-all-locks request."""
    return _frame(QUERY_CMD, board, 0x00, QUERY_FN, first_lock=0)


@dataclass(frozen=True)
class LockReply:
    """A decoded single-lock reply (to open or query)."""

    command: int  # OPEN_CMD or QUERY_CMD
    board: int
    lock: int
    closed: bool  # feedback as sent (before any inversion)


@dataclass(frozen=True)
class AllLocksReply:
    """A decoded query-all reply: ``closed[0]`` is lock 1."""

    board: int
    closed: tuple[bool, ...]


def _check(frame: bytes, min_len: int) -> None:
    if len(frame) < min_len:
        raise RelayFrameError(f"short frame ({len(frame)} bytes): {frame.hex(' ')}")
    if bcc(frame[:-1]) != frame[-1]:
        raise RelayFrameError(f"bad BCC in {frame.hex(' ')}")


def decode_lock_reply(frame: bytes) -> LockReply:
    """Decode ``8A|80 B L S BCC``; raise RelayFrameError for anything else."""
    _check(frame, FRAME_LEN)
    if len(frame) != FRAME_LEN or frame[0] not in (OPEN_CMD, QUERY_CMD):
        raise RelayFrameError(f"not a lock reply: {frame.hex(' ')}")
    if frame[3] not in (CLOSED, OPENED):
        raise RelayFrameError(f"unknown lock state 0x{frame[3]:02X} in {frame.hex(' ')}")
    return LockReply(frame[0], frame[1], frame[2], frame[3] == CLOSED)


def decode_all_reply(frame: bytes) -> AllLocksReply:
    """Decode ``80 B Sk … S1 33 BCC`` (1 ≤ k ≤ 8); raise RelayFrameError for anything else."""
    _check(frame, FRAME_LEN)
    k = len(frame) - 4
    if frame[0] != QUERY_CMD or frame[-2] != QUERY_FN or not 1 <= k <= MAX_STATUS_BYTES:
        raise RelayFrameError(f"not a query-all reply: {frame.hex(' ')}")
    groups = frame[2:-2][::-1]  # S1 first
    return AllLocksReply(frame[1], tuple(bool(g >> bit & 1) for g in groups for bit in range(8)))


def is_all_reply(frame: bytes) -> bool:
    """True when ``frame`` is, as a whole, a well-formed query-all reply."""
    return (FRAME_LEN <= len(frame) <= 4 + MAX_STATUS_BYTES and frame[0] == QUERY_CMD
            and frame[-2] == QUERY_FN and bcc(frame[:-1]) == frame[-1])


def pick_all_reply(data: bytes, expected_len: int) -> bytes | None:
    """The query-all frame at the start of ``data``: ending where the board stopped, else the expected length."""
    for n in (len(data), expected_len, *range(FRAME_LEN, 4 + MAX_STATUS_BYTES + 1)):
        if n <= len(data) and is_all_reply(data[:n]):
            return data[:n]
    return None


# -- driver ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LockState:
    """One lock's feedback."""

    lock: int
    closed: bool  # door shut and latched (door controller: door contact shut)

    @property
    def open(self) -> bool:
        """True when the lock reports open."""
        return not self.closed


@dataclass(frozen=True)
class BoardStatus:
    """Every lock of a board at one moment."""

    board: int
    locks: tuple[LockState, ...]
    read_at: datetime  # UTC

    @property
    def open_locks(self) -> list[int]:
        """Numbers of the locks reporting open."""
        return [s.lock for s in self.locks if s.open]


class RelayBoard:
    """A lock-control board (locker bank) on a serial port."""

    def __init__(self, port: str, baud: int = 9600, timeout_s: float = 1.0, *, board: int = 1, locks: int = 1,
                 feedback_inverted: bool = False, check_open: bool = True, name: str = "locker",
                 link: SerialLink | None = None):
        if not 0 <= board <= 0xFF or not 1 <= locks <= 8 * MAX_STATUS_BYTES:
            raise ValueError("board must be 0-255 and locks 1-64")
        self.board = board
        self.locks = locks
        self.feedback_inverted = feedback_inverted
        self.check_open = check_open  # a locker's door springs open: "still closed" after opening is a fault
        self.name = name
        self.link = link or SerialLink(port, baudrate=baud, timeout_s=timeout_s, name=name)
        self.status_bytes = max(3, -(-locks // 8))  # what boards of this family send
        self._lock = threading.Lock()
        self.exchanges = 0
        self.last_error = ""
        self.problem = ""  # what the last health check ran into ("" when the board answered)
        self.problem_code = 0

    def _lock_no(self, lock: int) -> int:
        if not 1 <= lock <= self.locks:
            raise ValueError(f"{self.name} has locks 1-{self.locks}, not {lock}")
        return lock

    def _state(self, lock: int, closed_as_sent: bool) -> LockState:
        return LockState(lock, closed_as_sent != self.feedback_inverted)

    def open(self, lock: int) -> LockState:
        """Pulse lock ``lock`` open; the feedback the board reports after the pulse."""
        reply = self._single(encode_open(self.board, self._lock_no(lock)), OPEN_CMD, lock)
        state = self._state(lock, reply.closed)
        if self.check_open and state.closed:
            self.last_error = f"lock {lock} did not open"
            raise LockDidNotOpen(f"lock {lock} did not open (jammed or no power)", device=self.name)
        return state

    def query(self, lock: int) -> LockState:
        """The feedback of one lock."""
        reply = self._single(encode_query(self.board, self._lock_no(lock)), QUERY_CMD, lock)
        return self._state(lock, reply.closed)

    def query_all(self) -> tuple[LockState, ...]:
        """The feedback of every lock of the board, lock 1 first."""
        expected = 4 + self.status_bytes
        with self._recording(), self._lock:
            data = self._ask(encode_query_all(self.board), FRAME_LEN)
            while not (is_all_reply(data[:expected]) or len(data) > expected and is_all_reply(data)) \
                    and len(data) < 4 + MAX_STATUS_BYTES:
                try:
                    data += self.link.read(1, REPLY_GAP_S)
                except DeviceTimeout:
                    break  # the board fell silent: take what it sent
                except DeviceDisconnected as exc:
                    raise RelayDisconnected(str(exc.args[0]), device=self.name) from None
            frame = pick_all_reply(data, expected)
            if frame is None:
                raise RelayFrameError(f"no valid query-all reply in {data.hex(' ')}", device=self.name)
            reply = decode_all_reply(frame)
            self._expect_board(reply.board, frame)
            if len(reply.closed) < self.locks:
                raise RelayFrameError(f"reply covers {len(reply.closed)} locks, board has {self.locks}",
                                      device=self.name)
        return tuple(self._state(n, reply.closed[n - 1]) for n in range(1, self.locks + 1))

    def status(self) -> BoardStatus:
        """Every lock's feedback, timestamped (what ``linfen read`` shows)."""
        return BoardStatus(self.board, self.query_all(), datetime.now(UTC))

    def health(self, *, check: bool = False) -> dict[str, Any]:
        """Connection state for status screens and ``linfen doctor``.

        With ``check`` every lock is queried first (one query-all exchange) unless an exchange
        is in progress on another thread (``busy``: the last known state is reported then);
        ``problem``/``problem_code`` are that query's error.
        """
        busy = False
        if check:
            busy = self._lock.locked()
            if not busy:
                try:
                    self.query_all()
                    self.problem, self.problem_code = "", 0
                except RelayBoardError as exc:
                    self.problem, self.problem_code = str(exc), exc.code
        link = self.link.health()
        return {**link, "busy": busy, "problem": self.problem, "problem_code": self.problem_code, "device": self.name, "board": self.board, "locks": self.locks, "exchanges": self.exchanges,
                "last_error": self.last_error or link["last_error"]}

    def close(self) -> None:
        """Close the port; the next request reopens it."""
        self.link.close()

    # -- one exchange -------------------------------------------------------------------
    @contextmanager
    def _recording(self) -> Iterator[None]:
        """Note the outcome of one request for ``health()``; frame errors get the device name."""
        try:
            yield
        except RelayBoardError as exc:
            if not exc.device:
                exc.device = self.name
            self.last_error = str(exc)
            raise
        self.last_error = ""

    def _single(self, request: bytes, command: int, lock: int) -> LockReply:
        with self._recording(), self._lock:
            frame = self._ask(request, FRAME_LEN)
            reply = decode_lock_reply(frame)
            self._expect_board(reply.board, frame)
            if reply.command != command or reply.lock != lock:
                raise RelayFrameError(f"reply {frame.hex(' ')} does not answer {request.hex(' ')}")
        return reply

    def _expect_board(self, board: int, frame: bytes) -> None:
        if board != self.board:
            raise RelayFrameError(f"reply from board {board}, asked board {self.board}: {frame.hex(' ')}")

    def _ask(self, request: bytes, n: int) -> bytes:
        """Send ``request`` and read ``n`` bytes starting at the reply's header (leading noise skipped)."""
        try:
            self.link.discard_input()
            self.link.write(request)
            self.exchanges += 1
            data = self.link.read(n)
        except DeviceDisconnected as exc:
            raise RelayDisconnected(str(exc.args[0]), device=self.name) from None
        except DeviceTimeout as exc:
            raise RelayTimeout(str(exc.args[0]), device=self.name) from None
        skip = data.find(request[0])
        if skip > 0:  # noise before the header: read what is missing
            try:
                data = data[skip:] + self.link.read(skip)
            except (DeviceTimeout, DeviceDisconnected):
                raise RelayFrameError(f"no reply header in {data.hex(' ')}", device=self.name) from None
        return data


# -- door controller ---------------------------------------------------------------------
@dataclass(frozen=True)
class DoorOpened:
    """The door opened after an open command."""

    at: datetime


@dataclass(frozen=True)
class DoorClosed:
    """The door closed again."""

    at: datetime
    open_for_s: float


@dataclass(frozen=True)
class DoorHeldOpen:
    """The door has stayed open longer than the limit (reported once per opening)."""

    at: datetime
    open_for_s: float


@dataclass(frozen=True)
class DoorForced:
    """The door opened while locked, with no open command: forced or badly latched."""

    at: datetime


DoorEvent = DoorOpened | DoorClosed | DoorHeldOpen | DoorForced


class DoorMonitor:
    """Turns door-contact samples into events; pure (time is passed in), so it is tested without a clock."""

    def __init__(self, held_open_limit_s: float = 30.0, pass_window_s: float = 10.0):
        self.held_open_limit_s = held_open_limit_s  # open longer than this is "held open", in seconds
        self.pass_window_s = pass_window_s  # after an open command the door may open within this, in seconds
        self._granted_until = float("-inf")
        self._closed: bool | None = None  # last sample; None before the first
        self._opened_at = 0.0
        self._held_reported = False

    def granted(self, now: float) -> None:
        """An open command went out at ``now`` (monotonic seconds)."""
        self._granted_until = now + self.pass_window_s

    def observe(self, closed: bool, now: float, at: datetime) -> list[DoorEvent]:
        """One sample of the contact at ``now`` (monotonic s, wall time ``at``); the events it causes."""
        events: list[DoorEvent] = []
        was = self._closed
        self._closed = closed
        if not closed and was is not False:  # opened (or open at the first sample)
            self._opened_at, self._held_reported = now, False
            if was is True:
                events.append(DoorOpened(at) if now <= self._granted_until else DoorForced(at))
                self._granted_until = float("-inf")  # one opening per command
        elif closed and was is False:
            events.append(DoorClosed(at, round(now - self._opened_at, 3)))
        if not closed and not self._held_reported and now - self._opened_at > self.held_open_limit_s:
            self._held_reported = True
            events.append(DoorHeldOpen(at, round(now - self._opened_at, 3)))
        return events

    def open_for(self, now: float) -> float:
        """Seconds the door has been open (0 when shut or unknown)."""
        return now - self._opened_at if self._closed is False else 0.0


class DoorController(RelayBoard):
    """The self-service area's door: strike on ``door_lock``, door contact as its feedback; ``poll()`` for events."""

    def __init__(self, port: str, baud: int = 9600, timeout_s: float = 1.0, *, board: int = 1, locks: int = 1,
                 door_lock: int = 1, held_open_limit_s: float = 30.0, pass_window_s: float = 10.0,
                 feedback_inverted: bool = False, name: str = "door", link: SerialLink | None = None,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(port, baud, timeout_s, board=board, locks=locks, feedback_inverted=feedback_inverted,
                         check_open=False, name=name, link=link)
        self.door_lock = self._lock_no(door_lock)
        self.monitor = DoorMonitor(held_open_limit_s, pass_window_s)
        self._clock = clock

    def open(self, lock: int | None = None) -> LockState:
        """Release the strike; the door may then be opened within the pass window."""
        lock = self.door_lock if lock is None else lock
        state = super().open(lock)
        if lock == self.door_lock:
            self.monitor.granted(self._clock())
        return state

    def poll(self) -> list[DoorEvent]:
        """Read the door contact once; DoorOpened/DoorClosed/DoorForced/DoorHeldOpen events since the last poll."""
        state = self.query(self.door_lock)
        return self.monitor.observe(state.closed, self._clock(), datetime.now(UTC))

    def health(self, *, check: bool = False) -> dict[str, Any]:
        """Connection state plus how long the door has been open (``check``: see RelayBoard.health)."""
        return {**super().health(check=check), "door_open_for_s": round(self.monitor.open_for(self._clock()), 1)}
