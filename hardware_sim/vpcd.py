"""The card side of the vsmartcard vpcd protocol: plays a virtual smart card into a vpcd reader.

The real PC/SC stack is ``pyscard → pcscd → vpcd (libifdvpcd) ← this module``. vpcd listens on one
TCP port per reader slot; a virtual card *connects* to it (= card inserted) and closing the socket
means the card was removed. Every message is a frame: a 2-byte big-endian length, then the payload.
A 1-byte payload is a control message (OFF=0, ON=1, RESET=2: no reply; ATR=4: reply with the ATR);
anything longer is a command APDU answered by one R-APDU frame. vpcd waits for a reply without a
timeout, so every ATR request and every APDU is always answered, even when the card fails.

Latency: Debian's vpcd writes each frame to the card in two TCP writes, so delayed ACKs cost about
40 ms per APDU. Setting ``TCP_NODELAY`` and re-arming ``TCP_QUICKACK`` before every read brings an APDU
through pcscd down to a fraction of a millisecond (DESIGN §4).

The frame codec (:func:`encode_frame`, :func:`respond`) is pure; :class:`VpcdCardConnection` is the
thin socket-and-thread layer. Card callbacks run on the connection's daemon thread.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from abc import ABC, abstractmethod
from types import TracebackType

log = logging.getLogger(__name__)

VPCD_CTRL_OFF = 0
VPCD_CTRL_ON = 1
VPCD_CTRL_RESET = 2
VPCD_CTRL_ATR = 4

MAX_FRAME_PAYLOAD = 0xFFFF  # bytes: the length prefix is 2 bytes
DEFAULT_VPCD_HOST = "127.0.0.1"
DEFAULT_CONNECT_TIMEOUT = 5.0  # seconds to keep retrying while vpcd is not listening yet
DEFAULT_REMOVE_TIMEOUT = 2.0  # seconds to wait for the connection thread to end

SW_OK = b"\x90\x00"
SW_WRONG_LENGTH = b"\x67\x00"
SW_WRONG_P1P2 = b"\x6a\x86"
SW_FUNCTION_NOT_SUPPORTED = b"\x6a\x81"
SW_INS_NOT_SUPPORTED = b"\x6d\x00"
SW_CLA_NOT_SUPPORTED = b"\x6e\x00"
SW_NO_PRECISE_DIAGNOSIS = b"\x6f\x00"

MIFARE_CLASSIC_1K_ATR = bytes.fromhex("3B8F8001804F0CA000000306030001000000006A")
"""ATR a PC/SC contactless reader builds for a MIFARE Classic 1K card (PC/SC part 3)."""


class VpcdError(Exception):
    """Root of the errors raised by the vpcd card side."""


class CardVanished(Exception):
    """Raised by a card's :meth:`VirtualCard.apdu` to leave the reader at once, mid-command.

    The connection closes its socket without answering, exactly as when a card is pulled out
    of the field while the reader waits for its answer; vpcd then reports the card removed.
    """


class VirtualCard(ABC):
    """Base for a simulated card: override :meth:`atr` and :meth:`apdu`, and the power hooks if the
    card keeps state (selected file, security status…) that a power cycle or reset must clear."""

    @abstractmethod
    def atr(self) -> bytes:
        """Return the Answer To Reset the reader reports for this card."""

    def power_on(self) -> None:
        """Called when the reader powers the card (vpcd ON)."""
        return None  # a stateless card has nothing to clear

    def power_off(self) -> None:
        """Called when the reader cuts power (vpcd OFF); pcscd does this to an idle card after ~5 s."""
        return None  # a stateless card has nothing to clear

    def reset(self) -> None:
        """Called on a warm reset (vpcd RESET)."""
        return None  # a stateless card has nothing to clear

    @abstractmethod
    def apdu(self, cmd: bytes) -> bytes:
        """Answer one command APDU with an R-APDU (data followed by SW1 SW2)."""


class UidCard(VirtualCard):
    """A contactless card (by default MIFARE Classic 1K) as seen through a PC/SC reader.

    It answers the PC/SC pseudo-APDU GET DATA ``FF CA 00 00 Le`` with its UID and ``90 00``; everything
    else gets the error a real reader would give (``6E 00`` class, ``6D 00`` instruction, ``6A 81`` no
    ATS historical bytes for MIFARE Classic, ``6A 86`` wrong P1/P2, ``67 00`` malformed length,
    ``6C xx`` when Le is too short for the UID).
    """

    def __init__(self, uid: bytes, atr: bytes = MIFARE_CLASSIC_1K_ATR) -> None:
        if len(uid) not in (4, 7, 10):
            raise ValueError(f"a card UID has 4, 7 or 10 bytes, not {len(uid)}")
        self.uid = bytes(uid)
        self._atr = bytes(atr)

    def atr(self) -> bytes:
        """Return the ATR given at construction (MIFARE Classic 1K by default)."""
        return self._atr

    def apdu(self, cmd: bytes) -> bytes:
        """Answer GET DATA (UID) and refuse the rest with PC/SC part 3 status words."""
        if len(cmd) not in (4, 5):
            return SW_WRONG_LENGTH
        cla, ins, p1, p2 = cmd[0], cmd[1], cmd[2], cmd[3]
        if cla != 0xFF:
            return SW_CLA_NOT_SUPPORTED
        if ins != 0xCA:
            return SW_INS_NOT_SUPPORTED
        if p1 == 0x01:
            return SW_FUNCTION_NOT_SUPPORTED  # ATS historical bytes: MIFARE Classic has no ATS
        if p1 != 0x00 or p2 != 0x00:
            return SW_WRONG_P1P2
        le = cmd[4] if len(cmd) == 5 else 0
        if le and le < len(self.uid):
            return bytes([0x6C, len(self.uid)])
        return self.uid + SW_OK


def encode_frame(payload: bytes) -> bytes:
    """Prefix ``payload`` with its 2-byte big-endian length (the vpcd frame format)."""
    if len(payload) > MAX_FRAME_PAYLOAD:
        raise ValueError(f"vpcd frame payload too long: {len(payload)} bytes")
    return struct.pack(">H", len(payload)) + payload


def respond(card: VirtualCard, payload: bytes) -> bytes | None:
    """Give the card's reply payload to one frame from vpcd, or ``None`` when none is due.

    Never raises because of the card: vpcd blocks until it gets an answer to an ATR request or an
    APDU, so a failing card answers ``6F 00`` to an APDU and an empty frame to an ATR request (vpcd then
    treats the card as removed). Unknown control bytes and empty frames are logged and ignored. The one
    exception is :class:`CardVanished`, passed on so that the connection drops the card.
    """
    if not payload:
        log.warning("vpcd: ignoring an empty frame")
        return None
    if len(payload) == 1:
        return _control(card, payload[0])
    try:
        reply = bytes(card.apdu(payload))
    except CardVanished:
        raise
    except Exception:
        log.exception("vpcd: card %r failed on APDU %s", card, payload.hex(" "))
        return SW_NO_PRECISE_DIAGNOSIS
    if not 2 <= len(reply) <= MAX_FRAME_PAYLOAD:
        log.error("vpcd: card %r gave an invalid R-APDU of %d bytes", card, len(reply))
        return SW_NO_PRECISE_DIAGNOSIS
    return reply


def _control(card: VirtualCard, code: int) -> bytes | None:
    """Apply one vpcd control message to the card; only ATR requests get a reply."""
    if code == VPCD_CTRL_ATR:
        try:
            atr = bytes(card.atr())
        except Exception:
            log.exception("vpcd: card %r failed to give its ATR", card)
            return b""
        if not 2 <= len(atr) <= 33:
            log.error("vpcd: card %r gave an invalid ATR of %d bytes", card, len(atr))
            return b""
        return atr
    hooks = {VPCD_CTRL_OFF: card.power_off, VPCD_CTRL_ON: card.power_on, VPCD_CTRL_RESET: card.reset}
    hook = hooks.get(code)
    if hook is None:
        log.warning("vpcd: ignoring unknown control message 0x%02X", code)
        return None
    try:
        hook()
    except Exception:
        log.exception("vpcd: card %r failed on control message %d", card, code)
    return None


class VpcdCardConnection:
    """One vpcd reader slot seen from the card side: :meth:`insert` a card, :meth:`remove` it.

    ``insert`` connects to vpcd's port (retrying for ``connect_timeout`` seconds while vpcd is not
    listening yet) and serves frames on a daemon thread until the card is removed or vpcd drops it.
    ``low_latency`` sets ``TCP_NODELAY`` and re-arms ``TCP_QUICKACK`` before every read (Linux); turn
    it off only to measure the difference.
    """

    def __init__(
        self,
        port: int,
        host: str = DEFAULT_VPCD_HOST,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        low_latency: bool = True,
    ) -> None:
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout  # seconds
        self.low_latency = low_latency
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._card: VirtualCard | None = None
        self._removing = threading.Event()
        self.frames_served = 0  # frames received from vpcd since the last insert

    def __repr__(self) -> str:
        return f"VpcdCardConnection({self.host}:{self.port}, card={self._card!r})"

    @property
    def card(self) -> VirtualCard | None:
        """The inserted card, or ``None``."""
        return self._card if self.inserted else None

    @property
    def inserted(self) -> bool:
        """True while the card is connected to vpcd and its thread serves frames."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def insert(self, card: VirtualCard) -> None:
        """Connect ``card`` to vpcd (= put it on the reader); raises if a card is already inserted."""
        with self._lock:
            if self.inserted:
                raise VpcdError(f"a card is already inserted on port {self.port}: remove it first")
            self._cleanup()
            sock = self._connect()
            self._sock = sock
            self._card = card
            self._removing.clear()
            self.frames_served = 0
            self._thread = threading.Thread(
                target=self._serve, args=(sock, card), name=f"vpcd-card-{self.port}", daemon=True
            )
            self._thread.start()

    def remove(self, timeout: float = DEFAULT_REMOVE_TIMEOUT) -> None:
        """Close the connection (= take the card off the reader) and wait for the thread to end."""
        with self._lock:
            self._removing.set()
            sock, thread = self._sock, self._thread
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in recv
                except OSError:
                    pass
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout)
                if thread.is_alive():
                    log.warning("vpcd: card thread on port %d did not stop within %.1f s", self.port, timeout)
            self._cleanup()

    close = remove

    def __enter__(self) -> VpcdCardConnection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.remove()

    def _cleanup(self) -> None:
        """Forget the socket and card of a previous insertion."""
        if self._sock is not None:
            self._sock.close()
        self._sock = None
        self._thread = None
        self._card = None

    def _connect(self) -> socket.socket:
        """Connect to vpcd, retrying while the port refuses (pcscd still starting)."""
        deadline = time.monotonic() + self.connect_timeout
        while True:
            try:
                sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
                break
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise VpcdError(
                        f"cannot connect to vpcd at {self.host}:{self.port}: {exc}. "
                        "Is pcscd running with a vpcd reader on this port?"
                    ) from exc
                time.sleep(0.05)
        sock.settimeout(None)
        if self.low_latency:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _recv_exact(self, sock: socket.socket, size: int) -> bytes | None:
        """Read exactly ``size`` bytes; ``None`` if the connection ends first."""
        buf = bytearray(size)
        view = memoryview(buf)
        got = 0
        quickack = self.low_latency and hasattr(socket, "TCP_QUICKACK")
        while got < size:
            if quickack:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            n = sock.recv_into(view[got:])
            if n == 0:
                return None
            got += n
        return bytes(buf)

    def _serve(self, sock: socket.socket, card: VirtualCard) -> None:
        """Connection thread: read frames, let the card answer, until EOF or removal."""
        try:
            while True:
                header = self._recv_exact(sock, 2)
                if header is None:
                    break
                (length,) = struct.unpack(">H", header)
                payload = self._recv_exact(sock, length) if length else b""
                if payload is None:
                    log.warning("vpcd: connection on port %d closed inside a frame", self.port)
                    break
                self.frames_served += 1
                reply = respond(card, payload)
                if reply is not None:
                    sock.sendall(encode_frame(reply))
        except CardVanished:
            log.info("vpcd: card on port %d vanished mid-command", self.port)
            try:
                sock.shutdown(socket.SHUT_RDWR)  # vpcd reads EOF: the card is gone
            except OSError:
                pass
        except OSError as exc:
            if not self._removing.is_set():
                log.warning("vpcd: connection on port %d failed: %s", self.port, exc)
        except Exception:
            log.exception("vpcd: card thread on port %d crashed", self.port)
        finally:
            if not self._removing.is_set():
                log.info("vpcd: card on port %d dropped by vpcd", self.port)
