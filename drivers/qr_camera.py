"""The QR camera: frames from any capture source, QR codes decoded with zbar, one result per code shown.

A capture thread reads frames continuously but runs zbar on at most ``max_fps`` of them
per second (always the newest one), so CPU stays bounded whatever the camera sends.
Frames that look like the view zbar saw last (:class:`ChangeGate`, on a quarter-size
preview that costs about a tenth of a zbar pass) are skipped, except every ``refresh_s``:
an idle kiosk's camera costs little, and when a phone comes into view a decoding slot is
free at once instead of up to ``1/max_fps`` later.  Each decoded frame gives one outcome: nothing, one code, or "more than one code"
(:class:`~drivers.qr_common.QrMultipleCodes`: the kiosk must not guess).  A code still in
view in the next frames is reported once (:class:`~drivers.qr_common.Deduplicator`);
payloads over the limit are refused and logged, binary ones reported as such.  When the
stream drops, the driver reports disconnected in :meth:`QrCamera.health` and reopens it
with backoff (0.2 s doubling to 5 s).

Sources (:mod:`drivers.qr_frames`): ``http(s)://`` MJPEG URLs are read by our own small
client (why: see there); a device index (``0`` or ``"0"``), RTSP URLs and files go
through ``cv2.VideoCapture``.
zbar runs in binary mode, so payloads come back as the symbol's exact bytes rather than
zbar's guess at a text encoding.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from pyzbar import wrapper as zbar

from drivers.qr_common import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    Deduplicator,
    QrError,
    QrMultipleCodes,
    QrReading,
    QrResult,
    QrTimeout,
    QrUnavailable,
    QrUndecodable,
    ResultSink,
    result_for,
    take_result,
)
from drivers.qr_frames import FrameSource, make_source

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.2  # first wait before reopening a lost source, in seconds
BACKOFF_MAX_S = 5.0  # longest wait between reopen attempts, in seconds
READ_SLICE_S = 0.1  # longest single wait for a frame, so stop() is seen quickly, in seconds
CHECKS_PER_DECODE = 4  # frames looked at (cheap change check) per decoding slot, at most
_Y800 = 0x30303859  # zbar's fourcc for 8-bit greyscale
_ZBAR_CFG_BINARY = 4  # zbar >= 0.23: return QR payload bytes as they are, without charset conversion


class QrDecoder:
    """zbar set up for QR codes only, in binary mode; one per thread."""

    def __init__(self) -> None:
        self._scanner = zbar.zbar_image_scanner_create()
        zbar.zbar_image_scanner_set_config(self._scanner, zbar.ZBarSymbol.NONE, zbar.ZBarConfig.CFG_ENABLE, 0)
        zbar.zbar_image_scanner_set_config(self._scanner, zbar.ZBarSymbol.QRCODE, zbar.ZBarConfig.CFG_ENABLE, 1)
        failed = zbar.zbar_image_scanner_set_config(self._scanner, zbar.ZBarSymbol.QRCODE, _ZBAR_CFG_BINARY, 1)
        self.binary_mode = failed == 0
        if not self.binary_mode:
            log.warning("this zbar cannot return raw bytes: binary QR payloads will look like Latin-1 text")

    def decode(self, gray: np.ndarray) -> list[bytes]:
        """Payloads of every QR code in a greyscale (H x W, uint8) image."""
        gray = np.ascontiguousarray(gray, dtype=np.uint8)
        height, width = gray.shape[:2]
        pixels = gray.tobytes()
        image = zbar.zbar_image_create()
        try:
            zbar.zbar_image_set_format(image, _Y800)
            zbar.zbar_image_set_size(image, width, height)
            zbar.zbar_image_set_data(image, ctypes.cast(pixels, ctypes.c_void_p), len(pixels), None)
            if zbar.zbar_scan_image(self._scanner, image) < 0:
                raise QrUndecodable("zbar could not scan the image")
            found = []
            symbol = zbar.zbar_image_first_symbol(image)
            while symbol:
                found.append(ctypes.string_at(zbar.zbar_symbol_get_data(symbol),
                                              zbar.zbar_symbol_get_data_length(symbol)))
                symbol = zbar.zbar_symbol_next(symbol)
            return found
        finally:
            zbar.zbar_image_destroy(image)

    def close(self) -> None:
        """Free zbar's scanner."""
        if self._scanner:
            zbar.zbar_image_scanner_destroy(self._scanner)
            self._scanner = None


class ChangeGate:
    """Says whether a frame differs from the last one zbar looked at, on small greyscale previews.

    Sensor noise and JPEG artefacts stay under ``level``; a phone coming into view or one
    code replacing another changes far more than ``fraction`` of the pixels.
    """

    def __init__(self, level: int = 24, fraction: float = 0.005):
        self.level = level  # grey levels (0-255) a pixel must change by to count
        self.fraction = fraction  # share of pixels that must change for the frame to count as new
        self._last: np.ndarray | None = None

    def changed(self, small: np.ndarray | None) -> bool:
        """True if ``small`` is new to zbar (or nothing can be compared)."""
        last = self._last
        if small is None or last is None or small.shape != last.shape:
            return True
        moved = cv2.absdiff(small, last) > self.level
        return bool(np.count_nonzero(moved) > self.fraction * moved.size)

    def remember(self, small: np.ndarray | None) -> None:
        """Note the preview of the frame zbar was given."""
        self._last = small



class QrCamera:
    """The camera driver: ``start()`` the capture thread, get results by callback or ``read_once``."""

    def __init__(self, source: int | str, *, max_fps: float = 10.0,
                 max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES, allow_binary: bool = False,
                 absent_frames: int = 3, hold_s: float = 5.0, refresh_s: float = 0.5, stall_s: float = 3.0,
                 connect_timeout_s: float = 2.0, backend: str = "auto", name: str = "qr_camera",
                 on_result: Callable[[QrResult], None] | None = None):
        if max_fps <= 0:
            raise ValueError("max_fps must be positive")
        self.source = str(source)
        self.name = name
        self.max_fps = max_fps  # most frames decoded per second
        self.max_payload_bytes = max_payload_bytes  # longest payload passed on, in bytes
        self.allow_binary = allow_binary  # pass non-UTF-8 payloads as readings (text=None) instead of errors
        self.refresh_s = refresh_s  # an unchanged view is still decoded this often, in seconds
        self.stall_s = stall_s  # no frame for this long counts as a dropped stream, in seconds
        self.sink = ResultSink(name, on_result)
        self._frames: FrameSource = make_source(source, backend, connect_timeout_s, name)
        self._dedup = Deduplicator(absent_frames, hold_s)
        self._decoder: QrDecoder | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._open = False
        self._backoff = 0.0
        self._next_try = 0.0
        self._next_decode = 0.0
        self._next_check = 0.0
        self._last_decode_at = 0.0
        self._checked = False
        self._small: np.ndarray | None = None
        self._gate = ChangeGate()
        self._last_frame_at = 0.0
        self._have_frame = False
        self._ever_open = False
        self.connected = False
        self.last_error = ""
        self.counters = {"frames_read": 0, "frames_decoded": 0, "frames_unchanged": 0, "bad_frames": 0,
                         "results": 0, "reconnects": 0}

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> QrCamera:
        """Start the capture thread (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._run, name=f"drv-{self.name}", daemon=True)
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop the capture thread and close the source."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=3)
        self._close_source()

    stop = close

    def __enter__(self) -> QrCamera:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def retry_now(self) -> None:
        """Forget the backoff: reopen the source at the next chance."""
        self._next_try = 0.0

    # -- results --------------------------------------------------------------------------
    def read_once(self, timeout_s: float = 10.0) -> QrReading:
        """Wait for one code (starting capture if needed); raise the QR error it is, or why none came."""
        self.start()
        bad_before, decoded_before = self.counters["bad_frames"], self.counters["frames_decoded"]
        result = self.sink.get(timeout_s)
        if result is not None:
            return take_result(result)
        if not self.connected:
            raise QrUnavailable(f"camera not available: {self.last_error or 'not connected yet'}", device=self.name)
        if self.counters["bad_frames"] > bad_before and self.counters["frames_decoded"] == decoded_before:
            raise QrUndecodable("the camera's frames are not images", device=self.name)
        raise QrTimeout(f"no code seen within {timeout_s:g} s", device=self.name)

    def health(self) -> dict[str, Any]:
        """State for status screens and ``linfen doctor``."""
        return {"source": self.source, "connected": self.connected, "last_error": self.last_error,
                "max_fps": self.max_fps, "max_payload_bytes": self.max_payload_bytes, **self.counters}

    # -- the capture loop -----------------------------------------------------------------
    def _run(self) -> None:
        self._decoder = QrDecoder()
        try:
            while not self._stop.is_set():
                if not self._open and not self._try_open():
                    continue
                try:
                    self._step()
                except QrUnavailable as exc:
                    self._lost(exc.args[0])
                except Exception as exc:  # a bug or an odd frame must not end capture
                    log.exception("%s: capture step failed", self.name)
                    self._lost(f"capture failed: {exc}")
        finally:
            self._decoder.close()
            self._close_source()

    def _try_open(self) -> bool:
        wait = self._next_try - time.monotonic()
        if wait > 0:
            self._stop.wait(min(wait, READ_SLICE_S))
            return False
        try:
            self._frames.open()
        except QrUnavailable as exc:
            self._lost(exc.args[0])
            return False
        if self._ever_open:
            self.counters["reconnects"] += 1
        self._open = self._ever_open = self.connected = True
        self._backoff = 0.0
        self.last_error = ""
        self._last_frame_at = time.monotonic()
        self._have_frame = False
        log.info("%s: streaming from %s", self.name, self.source)
        return True

    def _lost(self, why: str) -> None:
        if self.connected:
            log.warning("%s: %s; reopening with backoff", self.name, why)
        self._close_source()
        self.connected = False
        self.last_error = why
        self._backoff = min(BACKOFF_MAX_S, self._backoff * 2 if self._backoff else BACKOFF_FIRST_S)
        self._next_try = time.monotonic() + self._backoff

    def _close_source(self) -> None:
        self._open = False
        try:
            self._frames.close()
        except Exception:  # closing a dead capture may fail; it is gone either way
            pass

    def _step(self) -> None:
        """Read what arrived; look at the newest frame; decode it when it is new and the cap allows."""
        now = time.monotonic()
        if not self._have_frame:
            wait = READ_SLICE_S
        else:
            wait = (self._next_decode if self._checked else self._next_check) - now
        if self._frames.read_latest(min(max(0.0, wait), READ_SLICE_S)):
            self._have_frame, self._checked = True, False
            self._last_frame_at = time.monotonic()
            self.counters["frames_read"] += 1
        elif time.monotonic() - self._last_frame_at > self.stall_s:
            raise QrUnavailable(f"no frame for {self.stall_s:g} s", device=self.name)
        now = time.monotonic()
        if self._have_frame and not self._checked and now >= self._next_check:
            self._next_check = now + 1.0 / (CHECKS_PER_DECODE * self.max_fps)
            self._small = self._frames.preview()
            if self._frames.previews and self._small is None:
                self._bad_frame()
                return
            if not self._gate.changed(self._small) and now - self._last_decode_at < self.refresh_s:
                self._frames.drop()  # the same view zbar saw last time
                self._have_frame = False
                self.counters["frames_unchanged"] += 1
                return
            self._checked = True
        if not (self._have_frame and self._checked) or now < self._next_decode:
            return
        self._next_decode = now + 1.0 / self.max_fps
        self._last_decode_at = now
        self._have_frame = False
        gray = self._frames.gray()
        if gray is None or gray.size == 0:
            self._bad_frame()
            return
        self._gate.remember(self._small)
        assert self._decoder is not None
        try:
            payloads = self._decoder.decode(gray)
        except QrUndecodable:
            self._bad_frame()
            return
        self._outcome(payloads)
        self.counters["frames_decoded"] += 1
        if self.last_error:
            self.last_error = ""  # frames decode again

    def _bad_frame(self) -> None:
        self._frames.drop()
        self._have_frame = False
        self.counters["bad_frames"] += 1
        self.last_error = "a frame was not an image"

    def _outcome(self, payloads: list[bytes]) -> None:
        """Turn one frame's codes into at most one result, de-duplicated."""
        distinct = list(dict.fromkeys(payloads))
        now = time.monotonic()
        if not distinct:
            self._dedup.observe(None, now)
            return
        signature = ("many", frozenset(distinct)) if len(distinct) > 1 else ("code", distinct[0])
        if not self._dedup.observe(signature, now):
            return
        result: QrResult
        if len(distinct) > 1:
            result = QrMultipleCodes(len(distinct), device=self.name)
        else:
            result = result_for(distinct[0], source=self.source, limit=self.max_payload_bytes,
                                allow_binary=self.allow_binary, device=self.name)
        self.counters["results"] += 1
        if isinstance(result, QrError):
            log.info("%s", result)
        self.sink.deliver(result)
