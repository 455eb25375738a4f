"""What both QR drivers (camera and serial scanner) share: the reading, its checks, the error family.

A code's payload is kept as the exact bytes of the symbol.  It becomes a
:class:`QrReading` only if it is within the size limit and (unless binary payloads are
allowed) valid UTF-8; otherwise the driver reports the matching :class:`QrError`, so the
kiosk never has to guess.  Error codes (shown on screens and by ``linfen doctor``)::

    QrError            150  root of the QR family (a DriverError)
      QrOversized      151  payload over the limit: refused, logged (length only), never passed on
      QrBinaryPayload  152  payload is not UTF-8 text
      QrMultipleCodes  153  more than one code in view: show one code at a time
      QrUndecodable    154  (FrameError) frames that are no image, lines without terminator, bad replies
      QrUnavailable    155  (DeviceDisconnected) camera stream or scanner port not reachable
      QrTimeout        156  (DeviceTimeout) no code within the wait
      QrRefused        157  (DeviceRefused) the scanner answered a command with a failure status

Results reach the kiosk through a :class:`ResultSink`: a callback and/or a small queue
that ``read_once`` waits on.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from drivers.errors import DeviceDisconnected, DeviceRefused, DeviceTimeout, DriverError, FrameError

log = logging.getLogger(__name__)

DEFAULT_MAX_PAYLOAD_BYTES = 2048  # longest payload accepted, in bytes (as kiosk.config's Camera default)
RESULT_QUEUE_SIZE = 32  # results kept for read_once; the oldest is dropped when full


class QrError(DriverError):
    """Root of the QR family."""

    code = 150


class QrOversized(QrError):
    """A payload over the size limit; the payload itself is not kept."""

    code = 151

    def __init__(self, length: int, limit: int, *, device: str = ""):
        super().__init__(f"code too long: {length} bytes, the limit is {limit}", device=device)
        self.length = length
        self.limit = limit


class QrBinaryPayload(QrError):
    """A payload that is not UTF-8 text (kept in ``payload`` for diagnosis)."""

    code = 152

    def __init__(self, payload: bytes, *, device: str = ""):
        super().__init__(f"code holds {len(payload)} bytes of binary data, not text", device=device)
        self.payload = payload


class QrMultipleCodes(QrError):
    """Several different codes in one frame; none is taken."""

    code = 153

    def __init__(self, count: int, *, device: str = ""):
        super().__init__(f"{count} codes in view at once: show one code at a time", device=device)
        self.count = count


class QrUndecodable(QrError, FrameError):
    """Input that cannot be read: a frame that is no image, a line without terminator, a bad reply."""

    code = 154


class QrUnavailable(QrError, DeviceDisconnected):
    """The camera stream or the scanner's port cannot be reached; the driver keeps retrying."""

    code = 155


class QrTimeout(QrError, DeviceTimeout):
    """No code (or no answer) within the wait."""

    code = 156


class QrRefused(QrError, DeviceRefused):
    """The scanner answered a command with a failure status."""

    code = 157


@dataclass(frozen=True)
class QrReading:
    """One code as read: its exact bytes, the text if they are UTF-8, where and when it was seen."""

    payload: bytes
    text: str | None  # None for a binary payload (only when the driver allows those)
    source: str  # the camera source or scanner port it came from
    seen_at: float  # time.time() when the code was seen

    @property
    def binary(self) -> bool:
        """True when the payload is not UTF-8 text."""
        return self.text is None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form for ``linfen read --json``."""
        return {"text": self.text, "payload_hex": self.payload.hex(), "length": len(self.payload),
                "binary": self.binary, "source": self.source, "seen_at": self.seen_at}


QrResult = QrReading | QrError


def payload_text(payload: bytes) -> str | None:
    """The payload as text if it is valid UTF-8 (a leading byte-order mark dropped), else None."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text.removeprefix("\ufeff")


def check_payload(payload: bytes, *, source: str, limit: int = DEFAULT_MAX_PAYLOAD_BYTES,
                  allow_binary: bool = False, device: str = "", seen_at: float | None = None) -> QrReading:
    """The reading for ``payload``, or QrOversized (logged) / QrBinaryPayload."""
    if len(payload) > limit:
        log.warning("%s: refused a code of %d bytes from %s (limit %d)", device or "qr", len(payload), source, limit)
        raise QrOversized(len(payload), limit, device=device)
    text = payload_text(payload)
    if text is None and not allow_binary:
        raise QrBinaryPayload(payload, device=device)
    return QrReading(payload, text, source, time.time() if seen_at is None else seen_at)


def result_for(payload: bytes, **kwargs: Any) -> QrResult:
    """Like :func:`check_payload` but returns the error instead of raising it."""
    try:
        return check_payload(payload, **kwargs)
    except QrError as exc:
        return exc


class Deduplicator:
    """Pass a code once while it stays in view.

    ``observe(signature, now)`` is called for every decoded frame (``None`` when the frame
    holds no code) and says whether to report it.  A code is reported again once it has
    been absent for ``absent_frames`` decoded frames in a row, or ``hold_s`` after it was
    last reported.
    """

    def __init__(self, absent_frames: int = 3, hold_s: float = 5.0):
        self.absent_frames = absent_frames  # decoded frames without the code before it counts as gone
        self.hold_s = hold_s  # seconds after which a code still in view is reported again
        self._current: Hashable | None = None
        self._reported_at = 0.0
        self._absent = 0

    def observe(self, signature: Hashable | None, now: float) -> bool:
        """True if this frame's outcome is to be reported."""
        if signature is None:
            self._absent += 1
            if self._absent >= self.absent_frames:
                self._current = None
            return False
        self._absent = 0
        if signature == self._current and now - self._reported_at < self.hold_s:
            return False
        self._current = signature
        self._reported_at = now
        return True

    def reset(self) -> None:
        """Forget the code in view."""
        self._current = None
        self._absent = 0


class ResultSink:
    """Where a driver's results go: an optional callback (on the driver's thread) and a bounded queue."""

    def __init__(self, name: str, callback: Callable[[QrResult], None] | None = None):
        self.name = name
        self.callback = callback
        self._queue: queue.Queue[QrResult] = queue.Queue(RESULT_QUEUE_SIZE)

    def deliver(self, result: QrResult) -> None:
        """Hand a result to the callback and queue it for ``read_once``."""
        if self.callback is not None:
            try:
                self.callback(result)
            except Exception:  # a consumer's bug must not stop the capture loop
                log.exception("%s: result callback failed", self.name)
        while True:
            try:
                self._queue.put_nowait(result)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    pass

    def get(self, timeout_s: float) -> QrResult | None:
        """The oldest waiting result, waiting up to ``timeout_s``; None if none came."""
        try:
            return self._queue.get(timeout=max(0.0, timeout_s))
        except queue.Empty:
            return None

    def drain(self) -> int:
        """Drop every waiting result; returns how many there were."""
        n = 0
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                return n
            n += 1


def take_result(result: QrResult) -> QrReading:
    """The reading, or raise the error it is."""
    if isinstance(result, QrError):
        raise result
    return result
