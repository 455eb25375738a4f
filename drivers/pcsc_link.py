"""The thin pyscard layer under the PC/SC drivers: a context, reader lookup, one card connection.

Uses pyscard's ``smartcard.scard`` module (the PC/SC calls themselves) so that every
failure keeps its PC/SC result code and becomes one of :mod:`drivers.pcsc_common`'s errors.
Facts of the stack that shape it (pcsc-lite 1.9, vpcd; DESIGN §4):

* pcscd powers an idle card off soon after the last connection to it closes (measured here
  with pcsc-lite 1.9.9: under 1 s; DESIGN §4 allows 5 s) and never while a connection is
  open; the next connect powers it on again, fresh: the card's selected files are gone, so a read always
  starts with SELECT (the drivers connect per read and never rely on earlier selections).
* When a card leaves mid-command, vpcd hands back an *empty* response with success, and
  later commands fail with ``SCARD_E_NOT_TRANSACTED``; pcscd itself notices the removal
  at its next presence poll (~0.4 s).  So a missing answer is classified by waiting up to
  :data:`REMOVAL_GRACE_S` for the reader to report the card gone.
* A context must not be shared with a thread blocked in ``SCardGetStatusChange``: the
  watcher (:mod:`drivers.pcsc_watch`) has its own.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from smartcard import scard

from drivers.pcsc_common import (
    CardRemovedError,
    CardResetError,
    NoCardError,
    PcscError,
    PcscServiceError,
    PcscTransmitError,
    ReaderNotFound,
    Response,
    exchange,
)

log = logging.getLogger(__name__)

PROTOCOLS = scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1
CONNECT_ATTEMPTS = 3  # tries of SCardConnect while the card is busy, mute or still powering up
CONNECT_RETRY_S = 0.05  # pause between those tries, in seconds
REMOVAL_GRACE_S = 1.0  # after a command got no answer: how long to wait for pcscd to see the card gone, s
STATE_POLL_MS = 250  # longest single SCardGetStatusChange wait, in milliseconds (keeps waits interruptible)

def _u32(hresult: int) -> int:
    """PC/SC result codes as unsigned 32-bit numbers, whatever sign pyscard gives them."""
    return hresult & 0xFFFFFFFF


def _codes(*hresults: int) -> frozenset[int]:
    return frozenset(_u32(h) for h in hresults)


_SERVICE_GONE = _codes(scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED, scard.SCARD_E_INVALID_HANDLE,
                       scard.SCARD_F_COMM_ERROR)
_READER_GONE = _codes(scard.SCARD_E_UNKNOWN_READER, scard.SCARD_E_READER_UNAVAILABLE,
                      scard.SCARD_E_NO_READERS_AVAILABLE)
_NO_CARD = _codes(scard.SCARD_W_REMOVED_CARD, scard.SCARD_E_NO_SMARTCARD)
_CARD_RESET = _codes(scard.SCARD_W_RESET_CARD, scard.SCARD_W_UNPOWERED_CARD)
_CONNECT_RETRY = _codes(scard.SCARD_E_SHARING_VIOLATION, scard.SCARD_W_UNRESPONSIVE_CARD,
                        scard.SCARD_W_UNPOWERED_CARD, scard.SCARD_W_RESET_CARD, scard.SCARD_E_NOT_TRANSACTED,
                        scard.SCARD_E_PROTO_MISMATCH)
_QUIET = _codes(scard.SCARD_E_TIMEOUT, scard.SCARD_E_CANCELLED)  # a wait that ended without news


def hresult_text(hresult: int) -> str:
    """PC/SC's own words for a result code, with the code."""
    try:
        words = scard.SCardGetErrorMessage(hresult)
    except Exception:  # an unknown code must still be reportable
        words = "unknown PC/SC error"
    return f"{words} (0x{_u32(hresult):08X})"


def error_for_hresult(hresult: int, what: str, *, device: str = "", during_read: bool = False) -> PcscError:
    """The family's error for a failed PC/SC call (``during_read``: a card was connected and in use)."""
    code = _u32(hresult)
    text = f"{what}: {hresult_text(hresult)}"
    if code in _SERVICE_GONE:
        return PcscServiceError(f"{text}: is pcscd running?", device=device)
    if code in _READER_GONE:
        return ReaderNotFound(text, device=device)
    if code in _NO_CARD:
        cls = CardRemovedError if during_read else NoCardError
        return cls(f"{what}: the card was taken away" if during_read else f"{what}: no card on the reader",
                   device=device)
    if code in _CARD_RESET:
        return CardResetError(text, device=device)
    return PcscTransmitError(text, device=device)


def match_reader(names: list[str], part: str) -> str:
    """The reader ``part`` names: an exact name, else the one name containing it (case-insensitively)."""
    if part in names:
        return part
    matches = [n for n in names if part in n] or [n for n in names if part.lower() in n.lower()]
    if len(matches) == 1:
        return matches[0]
    listed = ", ".join(repr(n) for n in names) or "none"
    if not matches:
        raise ReaderNotFound(f"no reader named like {part!r}; readers: {listed}")
    raise ReaderNotFound(f"{part!r} fits several readers ({', '.join(map(repr, matches))}): give more of the name")


class PcscContext:
    """One PC/SC context, established on first use and again after pcscd restarted."""

    def __init__(self, device: str = ""):
        self.device = device
        self._handle: int | None = None

    def handle(self) -> int:
        """The context handle; :class:`PcscServiceError` when pcscd cannot be reached."""
        if self._handle is None:
            hresult, handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
            if hresult != scard.SCARD_S_SUCCESS:
                raise PcscServiceError(f"cannot reach pcscd: {hresult_text(hresult)}: is pcscd running?",
                                       device=self.device)
            self._handle = handle
        return self._handle

    def fail(self, hresult: int, what: str, *, during_read: bool = False) -> PcscError:
        """The error for a failed call; forget the context if pcscd went away (re-established next time)."""
        error = error_for_hresult(hresult, what, device=self.device, during_read=during_read)
        if isinstance(error, PcscServiceError):
            self.release()
        return error

    def cancel(self) -> None:
        """Wake a ``SCardGetStatusChange`` blocked on this context (from another thread); never raises."""
        handle = self._handle
        if handle is not None:
            try:
                scard.SCardCancel(handle)
            except Exception:  # the context may have been released meanwhile
                pass

    def release(self) -> None:
        """Release the context (idempotent)."""
        if self._handle is not None:
            try:
                scard.SCardReleaseContext(self._handle)
            except Exception:  # pcscd may be gone already; nothing left to release then
                pass
            self._handle = None

    def list_readers(self) -> list[str]:
        """Reader names pcscd lists (empty when it has none)."""
        hresult, names = scard.SCardListReaders(self.handle(), [])
        if _u32(hresult) == _u32(scard.SCARD_E_NO_READERS_AVAILABLE):
            return []
        if hresult != scard.SCARD_S_SUCCESS:
            raise self.fail(hresult, "listing readers")
        return list(names)

    def find_reader(self, part: str) -> str:
        """The full name of the reader ``part`` names (see :func:`match_reader`)."""
        try:
            return match_reader(self.list_readers(), part)
        except ReaderNotFound as exc:
            exc.device = self.device
            raise

    def state(self, reader: str, known: int = scard.SCARD_STATE_UNAWARE, timeout_ms: int = 0) -> tuple[int, bytes]:
        """``SCardGetStatusChange`` for one reader: (event state, ATR); (``known``, b"") on a timeout or cancel."""
        hresult, states = scard.SCardGetStatusChange(self.handle(), timeout_ms, [(reader, known)])
        if _u32(hresult) in _QUIET:
            return known, b""
        if hresult != scard.SCARD_S_SUCCESS:
            raise self.fail(hresult, f"watching {reader!r}")
        _, event_state, atr = states[0]
        if event_state & (scard.SCARD_STATE_UNKNOWN | scard.SCARD_STATE_UNAVAILABLE):
            raise ReaderNotFound(f"reader {reader!r} is gone", device=self.device)
        return event_state, bytes(atr)

    def card_present(self, reader: str) -> bool:
        """True if pcscd sees a card in the reader now."""
        return bool(self.state(reader)[0] & scard.SCARD_STATE_PRESENT)

    def wait_card(self, reader: str, present: bool, timeout_s: float) -> bool:
        """Wait until a card is present (or absent); True if it happened within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        known = scard.SCARD_STATE_UNAWARE
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            event_state, _ = self.state(reader, known, min(remaining_ms, STATE_POLL_MS))
            if known == scard.SCARD_STATE_UNAWARE or event_state != known:
                if bool(event_state & scard.SCARD_STATE_PRESENT) == present:
                    return True
                known = event_state & ~scard.SCARD_STATE_CHANGED
            if time.monotonic() >= deadline:
                return False

    def connect(self, reader: str, attempts: int = CONNECT_ATTEMPTS) -> CardLink:
        """Connect (shared, T=0 or T=1) to the card in ``reader``, retrying while it is busy or waking."""
        for attempt in range(1, attempts + 1):
            hresult, hcard, protocol = scard.SCardConnect(self.handle(), reader, scard.SCARD_SHARE_SHARED, PROTOCOLS)
            if hresult == scard.SCARD_S_SUCCESS:
                return CardLink(self, reader, hcard, protocol)
            if _u32(hresult) not in _CONNECT_RETRY or attempt == attempts:
                raise self.fail(hresult, f"connecting to the card in {reader!r}")
            log.debug("connect to %r: %s, retrying", reader, hresult_text(hresult))
            time.sleep(CONNECT_RETRY_S)
        raise AssertionError("unreachable: the loop returns or raises")


class CardLink:
    """One connection to the card in a reader: raw transmit with PC/SC errors mapped, reconnect, close."""

    def __init__(self, context: PcscContext, reader: str, hcard: int, protocol: int):
        self.context = context
        self.reader = reader
        self._hcard: int | None = hcard
        self.protocol = protocol
        self.apdus = 0  # commands carried on this connection

    @property
    def atr(self) -> bytes:
        """The card's ATR as pcscd reports it."""
        hresult, _reader, _state, _protocol, atr = scard.SCardStatus(self._live())
        if hresult != scard.SCARD_S_SUCCESS:
            raise self.context.fail(hresult, "asking the card's status", during_read=True)
        return bytes(atr)

    def _live(self) -> int:
        if self._hcard is None:
            raise PcscTransmitError("the card connection is closed", device=self.context.device)
        return self._hcard

    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU, return the raw response (data + SW1 SW2)."""
        self.apdus += 1
        hresult, response = scard.SCardTransmit(self._live(), self.protocol, list(apdu))
        if hresult == scard.SCARD_S_SUCCESS and len(response) >= 2:
            return bytes(response)
        if hresult == scard.SCARD_S_SUCCESS or _u32(hresult) == _u32(scard.SCARD_E_NOT_TRANSACTED):
            what = "the card gave no answer" if hresult == scard.SCARD_S_SUCCESS else hresult_text(hresult)
            if self.context.wait_card(self.reader, present=False, timeout_s=REMOVAL_GRACE_S):
                raise CardRemovedError(f"the card was taken away during {apdu[:4].hex(' ')}",
                                       device=self.context.device)
            raise PcscTransmitError(f"{apdu[:4].hex(' ')}: {what}", device=self.context.device)
        raise self.context.fail(hresult, f"sending {apdu[:4].hex(' ')}", during_read=True)

    def exchange(self, cmd: bytes, *, follow_61: bool = True) -> Response:
        """One command with its 61xx / 6Cxx follow-ups (:func:`drivers.pcsc_common.exchange`)."""
        return exchange(self.transmit, cmd, follow_61=follow_61)

    def reconnect(self) -> None:
        """Reconnect after the card was reset or powered off (the card's state is fresh afterwards)."""
        hresult, protocol = scard.SCardReconnect(self._live(), scard.SCARD_SHARE_SHARED, PROTOCOLS,
                                                 scard.SCARD_LEAVE_CARD)
        if hresult != scard.SCARD_S_SUCCESS:
            raise self.context.fail(hresult, "reconnecting to the card", during_read=True)
        self.protocol = protocol

    def begin(self) -> None:
        """Start a transaction: no other program's commands come between ours until :meth:`end`."""
        hresult = scard.SCardBeginTransaction(self._live())
        if hresult != scard.SCARD_S_SUCCESS:
            raise self.context.fail(hresult, "starting a transaction", during_read=True)

    def end(self) -> None:
        """End the transaction, leaving the card as it is (failures ignored: the card may be gone)."""
        if self._hcard is not None:
            scard.SCardEndTransaction(self._hcard, scard.SCARD_LEAVE_CARD)

    def close(self) -> None:
        """Disconnect, leaving the card powered (pcscd powers it off when idle); idempotent."""
        if self._hcard is not None:
            try:
                scard.SCardDisconnect(self._hcard, scard.SCARD_LEAVE_CARD)
            except Exception:  # pcscd may be gone; the handle dies with it
                pass
            self._hcard = None

    def __enter__(self) -> CardLink:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
