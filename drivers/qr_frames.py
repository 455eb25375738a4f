"""Where the QR camera's frames come from: MJPEG over HTTP (a pure multipart parser and a small
client of our own), or anything ``cv2.VideoCapture`` opens.

Why not ``cv2.VideoCapture(url)``?  It works on our stream (opens in a few ms, and
``backend="cv2"`` still selects it), but FFmpeg decodes *every* frame it receives, so CPU
grows with the camera's frame rate and resolution whatever the driver's cap says, and
there is no cheap way to look at a frame before paying for it.  Reading the stream
ourselves keeps frames as JPEG bytes: the driver looks at a quarter-size preview (JPEG's
own scaled decode) and runs a full decode and zbar only on frames that are new.  Measured
here, camera at 25 fps showing a code, driver at its default 10 fps cap: 5.8 % of a core
(640x480) and 13.5 % (1280x720) against 13.6 % and 35 % through OpenCV; a new code is
decoded ~14 ms after its first frame is served against ~52 ms (``bench/bench_qr.py``).
It also tells "the stream ended" from "a part was not an image", reports HTTP answers
(401, 404, a non-MJPEG content type) in words, and gives every wait a deadline.  Other
sources (a device index, RTSP, files) go through OpenCV.

Accepted (liberally): ``multipart/x-mixed-replace`` or any ``multipart/*`` with or
without ``boundary=`` (without one, frames are cut at JPEG SOI/EOI markers), boundaries
written with or without the leading ``--``, parts with or without ``Content-Length``,
CRLF or bare LF line ends, ``user:password@`` in the URL (HTTP Basic), ``https://``.
Sent (strictly): one ``GET`` as HTTP/1.0, so no server may answer with chunked encoding.
"""

from __future__ import annotations

import base64
import re
import select
import socket
import ssl
import time
import urllib.parse
from typing import Protocol

import cv2
import numpy as np

from drivers.qr_common import QrUnavailable, QrUndecodable

MAX_PART_BYTES = 8 * 1024 * 1024  # a part (JPEG) longer than this is garbage, in bytes
MAX_HEAD_BYTES = 16 * 1024  # HTTP response head or part headers longer than this are garbage, in bytes
RECV_BYTES = 256 * 1024  # one recv, in bytes
MAX_DRAIN_BYTES = 16 * 1024 * 1024  # most bytes read in one read_latest before returning, in bytes

_SOI, _EOI = b"\xff\xd8", b"\xff\xd9"
_HEAD_END = re.compile(rb"\r?\n\r?\n")


def boundary_of(content_type: str) -> str | None:
    """The multipart boundary named in a Content-Type header (quotes and leading dashes removed)."""
    m = re.search(r'boundary\s*=\s*"?([^";]+)"?', content_type, re.IGNORECASE)
    if not m:
        return None
    token = m.group(1).strip().lstrip("-")
    return token or None


class MjpegParser:
    """Bytes of a multipart MJPEG body in, complete parts (JPEG files) out; no I/O.

    ``feed`` returns the parts completed by the new bytes.  Junk between parts is
    skipped; a part or header block over the size limits raises :class:`QrUndecodable`
    (and the parser starts afresh at the next boundary).
    """

    def __init__(self, boundary: str | None, max_part_bytes: int = MAX_PART_BYTES):
        self.delimiter = ("--" + boundary).encode("latin-1") if boundary else None
        self.max_part_bytes = max_part_bytes
        self._buf = bytearray()
        self._state = "seek"  # seek -> headers -> body
        self._length: int | None = None

    def feed(self, data: bytes) -> list[bytes]:
        """Parts completed by ``data``, in order."""
        self._buf += data
        parts: list[bytes] = []
        if self.delimiter is None:
            self._cut_markers(parts)
        else:
            while self._step(parts):
                pass
        if len(self._buf) > self.max_part_bytes + MAX_HEAD_BYTES:
            self._buf.clear()
            self._state, self._length = "seek", None
            raise QrUndecodable(f"stream part over {self.max_part_bytes} bytes without a boundary")
        return parts

    def _step(self, parts: list[bytes]) -> bool:
        """Advance one state; False when more bytes are needed."""
        assert self.delimiter is not None
        buf = self._buf
        if self._state == "seek":
            i = buf.find(self.delimiter)
            if i < 0:
                keep = len(self.delimiter) - 1
                del buf[: max(0, len(buf) - keep)]
                return False
            del buf[: i + len(self.delimiter)]
            self._state = "headers"
            return True
        if self._state == "headers":
            # the rest of the delimiter line, then header lines, then an empty line
            m = _HEAD_END.search(buf)
            if m is None:
                if len(buf) > MAX_HEAD_BYTES:
                    self._state = "seek"
                    return True
                return False
            head = bytes(buf[: m.start()]).decode("latin-1")
            del buf[: m.end()]
            if head.lstrip("\r\n").startswith("--"):  # the closing delimiter "--boundary--"
                self._state = "seek"
                return True
            self._length = _content_length(head)
            self._state = "body"
            return True
        # body
        if self._length is not None:
            if len(buf) < self._length:
                return False
            part = bytes(buf[: self._length])
            del buf[: self._length]
        else:
            i = buf.find(self.delimiter)
            if i < 0:
                return False
            part = bytes(buf[:i]).rstrip(b"\r\n")
            del buf[:i]
        self._state, self._length = "seek", None
        if part:
            parts.append(part)
        return True

    def _cut_markers(self, parts: list[bytes]) -> None:
        """Without a boundary: cut complete JPEG images at SOI ... EOI."""
        buf = self._buf
        while True:
            start = buf.find(_SOI)
            if start < 0:
                del buf[: max(0, len(buf) - 1)]
                return
            end = buf.find(_EOI, start + 2)
            if end < 0:
                del buf[:start]
                return
            parts.append(bytes(buf[start: end + 2]))
            del buf[: end + 2]


def _content_length(head: str) -> int | None:
    for line in head.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip().lower() == "content-length":
            try:
                n = int(value.strip())
            except ValueError:
                return None
            return n if 0 <= n <= MAX_PART_BYTES else None
    return None


def parse_response_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    """Status code, reason and headers (lower-case names) of an HTTP response head; QrUndecodable if none."""
    lines = head.decode("latin-1").replace("\r\n", "\n").split("\n")
    m = re.match(r"HTTP/\d(?:\.\d)?\s+(\d{3})\s*(.*)", lines[0].strip())
    if not m:
        raise QrUndecodable(f"not an HTTP answer: {lines[0][:60]!r}")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return int(m.group(1)), m.group(2).strip(), headers


class MjpegHttpSource:
    """One MJPEG stream over HTTP: ``open``, then ``read_latest`` keeps the newest complete JPEG."""

    previews = True  # preview() is a cheap scaled decode

    def __init__(self, url: str, connect_timeout_s: float = 2.0, device: str = "qr_camera"):
        self.url = url
        self.connect_timeout_s = connect_timeout_s  # TCP connect + response head, in seconds
        self.device = device
        self._sock: socket.socket | None = None
        self._parser: MjpegParser | None = None
        self._pending: list[bytes] = []
        self.latest: bytes | None = None  # the newest JPEG not yet taken
        self.skipped = 0  # complete frames replaced by a newer one before anyone took them

    def _fail(self, why: str) -> QrUnavailable:
        self.close()
        return QrUnavailable(why, device=self.device)

    def open(self) -> None:
        """Connect and read the response head; QrUnavailable with the reason if that fails."""
        self.close()
        u = urllib.parse.urlsplit(self.url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise QrUnavailable(f"not an http(s) URL: {self.url}", device=self.device)
        port = u.port or (443 if u.scheme == "https" else 80)
        try:
            sock = socket.create_connection((u.hostname, port), timeout=self.connect_timeout_s)
            if u.scheme == "https":
                sock = ssl.create_default_context().wrap_socket(sock, server_hostname=u.hostname)
        except OSError as exc:
            raise QrUnavailable(f"cannot connect to {u.hostname}:{port}: {exc.strerror or exc}",
                                device=self.device) from None
        self._sock = sock
        path = (u.path or "/") + (f"?{u.query}" if u.query else "")
        host = u.hostname if u.port is None else f"{u.hostname}:{u.port}"
        lines = [f"GET {path} HTTP/1.0", f"Host: {host}", "User-Agent: linfen-qr/1",
                 "Accept: multipart/x-mixed-replace, image/jpeg"]
        if u.username is not None:
            cred = f"{urllib.parse.unquote(u.username)}:{urllib.parse.unquote(u.password or '')}"
            lines.append("Authorization: Basic " + base64.b64encode(cred.encode()).decode("ascii"))
        try:
            sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            head, rest = self._read_head(sock)
        except OSError as exc:
            raise self._fail(f"no answer from the camera: {exc.strerror or exc}") from None
        try:
            status, reason, headers = parse_response_head(head)
        except QrUndecodable as exc:
            raise self._fail(exc.args[0]) from None
        if status != 200:
            hint = {401: " (the camera wants a user and password in the URL)", 404: " (no stream at this path)"}
            raise self._fail(f"camera answered {status} {reason}{hint.get(status, '')}")
        ctype = headers.get("content-type", "")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise self._fail("camera sent chunked encoding to an HTTP/1.0 request")
        if not ctype.lower().startswith("multipart/"):
            raise self._fail(f"not an MJPEG stream (content type {ctype or 'missing'})")
        self._parser = MjpegParser(boundary_of(ctype))
        self._pending = self._feed(rest)

    def _read_head(self, sock: socket.socket) -> tuple[bytes, bytes]:
        deadline = time.monotonic() + self.connect_timeout_s
        buf = b""
        while True:
            m = _HEAD_END.search(buf)
            if m:
                return buf[: m.start()], buf[m.end():]
            if len(buf) > MAX_HEAD_BYTES:
                raise OSError("answer head too long")
            left = deadline - time.monotonic()
            if left <= 0:
                raise OSError("timed out")
            sock.settimeout(left)
            chunk = sock.recv(4096)
            if not chunk:
                raise OSError("connection closed")
            buf += chunk

    def _feed(self, data: bytes) -> list[bytes]:
        assert self._parser is not None
        try:
            return self._parser.feed(data)
        except QrUndecodable:
            return []  # the parser skipped the junk; the stream goes on

    def read_latest(self, timeout_s: float) -> bool:
        """Read what has arrived (waiting up to ``timeout_s`` for a frame); True if a new frame is there."""
        sock = self._sock
        if sock is None:
            raise QrUnavailable("stream not open", device=self.device)
        frames, self._pending = self._pending, []
        deadline = time.monotonic() + max(0.0, timeout_s)
        drained = 0
        while drained < MAX_DRAIN_BYTES:
            wait = 0.0 if frames else max(0.0, deadline - time.monotonic())
            buffered = isinstance(sock, ssl.SSLSocket) and sock.pending() > 0
            if not buffered:
                try:
                    ready, _, _ = select.select([sock], [], [], wait)
                except (OSError, ValueError) as exc:
                    raise self._fail(f"stream lost: {exc}") from None
                if not ready:
                    break
            try:
                sock.settimeout(0)
                chunk = sock.recv(RECV_BYTES)
            except (BlockingIOError, ssl.SSLWantReadError):
                continue
            except OSError as exc:
                raise self._fail(f"stream lost: {exc.strerror or exc}") from None
            if not chunk:
                raise self._fail("the camera closed the stream")
            drained += len(chunk)
            frames += self._feed(chunk)
        if not frames:
            return False
        self.skipped += len(frames) - 1 + (self.latest is not None)
        self.latest = frames[-1]
        return True

    def preview(self) -> np.ndarray | None:
        """The newest frame at a quarter size in greyscale (cheap: JPEG's own scaled decode); None if no image."""
        if not self.latest:
            return None
        return cv2.imdecode(np.frombuffer(self.latest, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_4)

    def gray(self) -> np.ndarray | None:
        """The newest frame in greyscale, taken (None if it is no JPEG image)."""
        jpeg, self.latest = self.latest, None
        if not jpeg:
            return None
        return cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_GRAYSCALE)

    def drop(self) -> None:
        """Forget the newest frame without decoding it."""
        self.latest = None

    def close(self) -> None:
        """Close the connection."""
        sock, self._sock = self._sock, None
        self._parser, self._pending, self.latest = None, [], None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass


class FrameSource(Protocol):
    """What the capture loop needs from a source (:class:`MjpegHttpSource`, :class:`Cv2Source`)."""

    previews: bool  # True if preview() is cheap and None from it means "not an image"

    def open(self) -> None: ...
    def read_latest(self, timeout_s: float) -> bool: ...
    def preview(self) -> np.ndarray | None: ...
    def gray(self) -> np.ndarray | None: ...
    def drop(self) -> None: ...
    def close(self) -> None: ...


class Cv2Source:
    """Anything ``cv2.VideoCapture`` opens: a device index, RTSP, a file."""

    FAILED_GRABS = 3  # grabs failing in a row before the source counts as lost
    previews = False

    def __init__(self, source: int | str, connect_timeout_s: float, device: str):
        self.source = source
        self.connect_timeout_s = connect_timeout_s
        self.device = device
        self._cap: cv2.VideoCapture | None = None
        self._failed = 0

    def open(self) -> None:
        """Open the capture; QrUnavailable if OpenCV cannot."""
        ms = int(self.connect_timeout_s * 1000)
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, ms]
        cap = cv2.VideoCapture(self.source, cv2.CAP_ANY, params)
        if not cap.isOpened():
            cap.release()
            raise QrUnavailable(f"cannot open camera {self.source!r}", device=self.device)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap, self._failed = cap, 0

    def read_latest(self, timeout_s: float) -> bool:
        """Grab the next frame (OpenCV's own timeout bounds the wait)."""
        if self._cap is None:
            raise QrUnavailable("camera not open", device=self.device)
        if self._cap.grab():
            self._failed = 0
            return True
        self._failed += 1
        if self._failed >= self.FAILED_GRABS:
            self.close()
            raise QrUnavailable(f"camera {self.source!r} stopped sending frames", device=self.device)
        return False

    def preview(self) -> np.ndarray | None:
        """No cheap preview here: every grabbed frame counts as changed."""
        return None

    def drop(self) -> None:
        """Nothing to forget: the next grab replaces the frame."""

    def gray(self) -> np.ndarray | None:
        """The grabbed frame in greyscale."""
        if self._cap is None:
            return None
        ok, frame = self._cap.retrieve()
        if not ok or frame is None:
            return None
        return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)

    def close(self) -> None:
        """Release the capture."""
        cap, self._cap = self._cap, None
        if cap is not None:
            cap.release()


def make_source(source: int | str, backend: str, connect_timeout_s: float, device: str) -> FrameSource:
    """The frame source for a ``source`` setting: ``backend`` is auto, mjpeg or cv2."""
    text = str(source).strip()
    if backend == "auto":
        backend = "mjpeg" if text.lower().startswith(("http://", "https://")) else "cv2"
    if backend == "mjpeg":
        return MjpegHttpSource(text, connect_timeout_s, device)
    if backend == "cv2":
        return Cv2Source(int(text) if text.isdigit() else text, connect_timeout_s, device)
    raise ValueError(f"unknown camera backend {backend!r} (auto, mjpeg or cv2)")
