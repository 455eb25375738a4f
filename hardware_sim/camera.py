"""A simulated QR camera: an MJPEG stream over HTTP on loopback, showing the code a resident presents.

The driver opens ``url`` exactly as it would open an IP camera's MJPEG stream
(``multipart/x-mixed-replace`` of JPEG frames).  Each frame is a plain grey,
slightly noisy camera view; when a code is shown (:meth:`CameraSim.show`), its QR
symbol (rendered with segno from the payload's exact bytes) sits in the middle, like a
phone screen held up to the lens.  Frames are rendered once per content and noise
variant and then re-served, so serving costs almost nothing.

Faults (``faults.set(kind, arg)``):

- ``no_code``      frames without any code, whatever is shown
- ``many_codes``   the shown code plus another one in the same frame
- ``oversized``    a code whose payload is over the terminal's limit (arg: length, default 2100 bytes)
- ``binary``       a code whose payload is not UTF-8
- ``stream_drop``  open streams are closed and new ones refused (arg: seconds, then it clears itself)
- ``garbage``      parts of the stream that are not JPEG images

``/`` and ``/stream.mjpg`` serve the stream, ``/snapshot.jpg`` one frame.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import cv2
import numpy as np
import segno

from hardware_sim.faults import FaultBoard
from hardware_sim.timing import Timing
from hardware_sim.traffic import TrafficLog

log = logging.getLogger(__name__)

CAMERA_FAULTS = frozenset({"no_code", "many_codes", "oversized", "binary", "stream_drop", "garbage"})
FRAME_RATE_FPS = {Timing.FAST: 25.0, Timing.REALISTIC: 10.0}  # frames per second served
FRAME_W, FRAME_H = 640, 480  # pixels
NOISE_VARIANTS = 2  # noisy backgrounds served in turn, so consecutive frames differ like a real camera's
JPEG_QUALITY = 85  # percent
OVERSIZED_DEFAULT_BYTES = 2100  # payload length of the ``oversized`` fault (the terminal's default limit is 2048)
BINARY_PAYLOAD = b"\x00\xff\xfe\x80BINARY\xc3\x28" + bytes(range(0x80, 0x90))  # never valid UTF-8
OTHER_CODE = b"https://example.invalid/another-code"  # the second code of ``many_codes``
BOUNDARY = "linfenframe"

Frame = tuple[bytes, ...]  # the payloads a frame shows


def render_codes(payloads: Frame, variant: int = 0, size: tuple[int, int] = (FRAME_W, FRAME_H)) -> np.ndarray:
    """A grey camera view (uint8, H x W) with one QR symbol per payload side by side, segno-encoded."""
    width, height = size
    rng = np.random.default_rng(1000 + variant)
    ramp = np.linspace(-18, 18, width, dtype=np.float32)[None, :] + np.linspace(-10, 10, height)[:, None]
    view = np.clip(140 + ramp + rng.normal(0, 4, (height, width)), 0, 255).astype(np.uint8)
    if not payloads:
        return view
    cell_w = width // len(payloads)
    for i, payload in enumerate(payloads):
        qr = segno.make(payload, error="l", micro=False, boost_error=False)
        modules = np.array([list(row) for row in qr.matrix], dtype=np.uint8)
        symbol = np.pad(np.where(modules == 1, 25, 230).astype(np.uint8), 4, constant_values=230)
        scale = max(1, min(cell_w, height) * 9 // 10 // symbol.shape[0])
        symbol = np.kron(symbol, np.ones((scale, scale), np.uint8))
        h, w = symbol.shape
        y, x = (height - h) // 2, i * cell_w + (cell_w - w) // 2
        view[y:y + h, x:x + w] = symbol
    return view


def encode_jpeg(view: np.ndarray) -> bytes:
    """The view as a JPEG file."""
    ok, data = cv2.imencode(".jpg", view, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


def _preview(payload: bytes) -> str:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return "hex:" + payload[:24].hex()
    return text if len(text) <= 60 else text[:57] + "..."


class CameraSim:
    """The simulated camera: control methods for staff and tests, an MJPEG server for the driver."""

    kind: ClassVar[str] = "camera"

    def __init__(self, name: str, timing: Timing = Timing.FAST, traffic: TrafficLog | None = None,
                 host: str = "127.0.0.1", port: int = 0):
        self.name = name
        self.timing = timing
        self.traffic = traffic or TrafficLog()
        self.faults = FaultBoard(name, CAMERA_FAULTS)
        self.fps = FRAME_RATE_FPS[timing]
        self._host, self._port = host, port
        self._lock = threading.Lock()
        self._shown: Frame = ()
        self._version = 0  # bumps on every change of what is shown
        self._first_served: dict[int, float] = {}  # version -> time.perf_counter() its first frame was served
        self._cache: dict[tuple[Frame, int], bytes] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._plugged = False
        self._drop_since: float | None = None
        self._clients: set[socket.socket] = set()
        self.frames_served = 0

    # -- life cycle -----------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The stream's URL (valid once started)."""
        if self._server is None:
            raise RuntimeError(f"{self.name}: not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/stream.mjpg"

    def start(self) -> None:
        """Start serving (binds a free port unless one was given)."""
        if self._server is not None:
            return
        server = ThreadingHTTPServer((self._host, self._port), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._port = server.server_address[1]  # keep the port across unplug/plug
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"sim-{self.name}", daemon=True)
        self._thread.start()
        self._plugged = True
        self.traffic.event(self.name, f"serving {self.url} at {self.fps:g} fps")

    def stop(self) -> None:
        """Close every stream and stop the server."""
        server, self._server = self._server, None
        self._plugged = False
        self._close_clients()
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        self.traffic.event(self.name, "stopped")

    def plug(self) -> None:
        """Serve streams again after :meth:`unplug`."""
        self._plugged = True
        self.traffic.event(self.name, "plugged in")

    def unplug(self) -> None:
        """Close open streams and refuse new ones (the camera's cable is out)."""
        self._plugged = False
        self._close_clients()
        self.traffic.event(self.name, "unplugged")

    # -- what the camera sees -------------------------------------------------------------
    def show(self, payload: bytes | str) -> int:
        """Hold one code in front of the camera (str is sent as UTF-8); returns the content version."""
        return self.show_many([payload])

    def show_many(self, payloads: list[bytes | str] | tuple[bytes | str, ...]) -> int:
        """Hold several codes in front of the camera at once; returns the content version."""
        frame = tuple(p.encode("utf-8") if isinstance(p, str) else bytes(p) for p in payloads)
        for variant in range(NOISE_VARIANTS):
            self._jpeg(frame, variant)  # render now, so the first frame is served without delay
        with self._lock:
            self._shown = frame
            self._version += 1
            version = self._version
        self.traffic.event(self.name, "showing " + (", ".join(_preview(p) for p in frame) or "nothing"))
        return version

    def clear(self) -> int:
        """Take the code away; returns the content version."""
        return self.show_many([])

    def remove(self) -> int:
        """Same as :meth:`clear` (the simulator's generic ``remove DEVICE`` command)."""
        return self.clear()

    def first_served_at(self, version: int) -> float | None:
        """``time.perf_counter()`` when the first frame of a content version was served, if it was."""
        with self._lock:
            return self._first_served.get(version)

    def config_entry(self) -> dict[str, Any]:
        """The ``[devices.qr_camera]`` table of a terminal config."""
        return {"source": self.url}

    def status(self) -> dict[str, Any]:
        """State for the control API."""
        with self._lock:
            shown = [_preview(p) for p in self._shown]
        return {
            "kind": self.kind,
            "plugged": self._plugged and self._server is not None,
            "source": self.url if self._server is not None else None,
            "fps": self.fps,
            "showing": shown,
            "faults": self.faults.active(),
            "clients": len(self._clients),
            "frames_served": self.frames_served,
        }

    # -- frames ---------------------------------------------------------------------------
    def _jpeg(self, frame: Frame, variant: int) -> bytes:
        key = (frame, variant)
        data = self._cache.get(key)
        if data is None:
            data = encode_jpeg(render_codes(frame, variant))
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[key] = data
        return data

    def _dropping(self) -> bool:
        """True while streams must be refused (unplugged, or the ``stream_drop`` fault)."""
        if not self._plugged:
            return True
        fault = self.faults.peek("stream_drop")
        if fault is None:
            self._drop_since = None
            return False
        now = time.monotonic()
        if self._drop_since is None:
            self._drop_since = now
            self.traffic.event(self.name, "fault stream_drop: closing streams")
        if fault.arg and now - self._drop_since >= float(fault.arg):
            self.faults.clear("stream_drop")
            self._drop_since = None
            self.traffic.event(self.name, "fault stream_drop over")
            return False
        return True

    def next_part(self, tick: int) -> tuple[bytes, int, bool]:
        """The next part to serve: (body, content version, whether it is a JPEG)."""
        if self.faults.take("garbage"):
            junk = bytes((tick * 37 + i * 11) % 256 for i in range(512))
            return b"NOT A JPEG " + junk, 0, False
        with self._lock:
            frame, version = self._shown, self._version
        if self.faults.peek("no_code"):
            frame = ()
        elif self.faults.peek("binary"):
            frame = (BINARY_PAYLOAD,)
        elif (fault := self.faults.peek("oversized")) is not None:
            length = int(fault.arg) if fault.arg else OVERSIZED_DEFAULT_BYTES
            frame = ((b"LFHC1." + b"X" * length)[:length],)
        if self.faults.peek("many_codes"):
            frame = (frame[0] if frame else b"first code", OTHER_CODE)
        return self._jpeg(frame, tick % NOISE_VARIANTS), version, True

    def mark_served(self, version: int) -> None:
        """Note when the first frame of a content version went out (before it was written)."""
        with self._lock:
            self._first_served.setdefault(version, time.perf_counter())
            if len(self._first_served) > 1000:
                for old in sorted(self._first_served)[:500]:
                    del self._first_served[old]
        self.frames_served += 1

    def _close_clients(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients), set()
        for sock in clients:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _add_client(self, sock: socket.socket) -> None:
        with self._lock:
            self._clients.add(sock)

    def _remove_client(self, sock: socket.socket) -> None:
        with self._lock:
            self._clients.discard(sock)


def _handler_for(camera: CameraSim) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one camera."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"
        server_version = "LinfenSimCam/1.0"

        def log_message(self, format: str, *args: Any) -> None:  # the base class names it "format"
            log.debug("%s: " + format, camera.name, *args)

        def do_GET(self) -> None:
            if camera._dropping():
                self.close_connection = True  # refuse: close without an answer, like a rebooting camera
                return
            path = self.path.split("?", 1)[0]
            if path == "/snapshot.jpg":
                body, _, _ = camera.next_part(0)
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if path not in ("/", "/stream.mjpg", "/video", "/mjpg/video.mjpg"):
                self.send_error(404, "no such stream; try /stream.mjpg")
                return
            self._stream()

        def _stream(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.flush()
            sock = self.connection
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            camera._add_client(sock)
            camera.traffic.event(camera.name, f"stream opened by {self.client_address[0]}:{self.client_address[1]}")
            period = 1.0 / camera.fps
            tick = 0
            next_at = time.monotonic()
            try:
                while camera._server is not None and not camera._dropping():
                    body, version, _ = camera.next_part(tick)
                    head = (f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(body)}\r\n\r\n").encode("ascii")
                    if version:
                        camera.mark_served(version)
                    self.wfile.write(head + body + b"\r\n")
                    self.wfile.flush()
                    tick += 1
                    next_at += period
                    delay = next_at - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    else:
                        next_at = time.monotonic()
            except OSError:
                pass  # the client went away or the stream was dropped
            finally:
                camera._remove_client(sock)
                camera.traffic.event(camera.name, "stream closed")
            self.close_connection = True

    return Handler
