"""What both PC/SC drivers (social-security card, community card) share: errors, APDU rules, status words.

The pure part lives here: command-APDU cases and Le rewriting, :func:`exchange` (one command
with its ``61xx`` GET RESPONSE and ``6Cxx`` resend-with-Le follow-ups, over any ``send``
callable), status-word texts, and the mapping of PC/SC result codes to this family's errors.
The thin pyscard layer is :mod:`drivers.pcsc_link`; card presence events are
:mod:`drivers.pcsc_watch`.  Error codes (shown on screens and by ``linfen doctor``)::

    PcscError              190  root of the PC/SC family (a DriverError)
      PcscServiceError     191  (DeviceDisconnected) pcscd is not running / not reachable
      ReaderNotFound       192  (DeviceDisconnected) no reader with that name, or the name is ambiguous
      NoCardError          193  (DeviceTimeout) no card on the reader (within the wait)
      CardRemovedError     194  the card left the reader in the middle of a read
      StatusWordError      195  (DeviceRefused) the card answered with an unexpected status word
        WrongCardError     196  the card has no such application: not the card this reader expects
          CardAuthError    196  the card failed authentication: not a genuine community card (a clone, no application)
      CardDataError        197  (FrameError) the card's data is malformed (TLV, length, field value)
      CardResetError       198  another program reset the card or it lost power: read again
      PcscTransmitError    199  (FrameError) the reader could not carry a command (other PC/SC failure)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drivers.errors import DeviceDisconnected, DeviceRefused, DeviceTimeout, DriverError, FrameError

MAX_RESPONSE_ROUNDS = 32  # GET RESPONSE rounds followed for one command (32 × 256 bytes at most)
MAX_LE_RESENDS = 2  # times one command is resent after a 6Cxx
INS_GET_RESPONSE = 0xC0

SW_OK = 0x9000
SW_END_OF_RECORD = 0x6282  # warning: end of file/record reached before Le bytes
SW_WRONG_LENGTH = 0x6700
SW_SECURITY = 0x6982
SW_NOT_ALLOWED = 0x6986
SW_FILE_NOT_FOUND = 0x6A82
SW_RECORD_NOT_FOUND = 0x6A83
SW_CLA_NOT_SUPPORTED = 0x6E00
SW_INS_NOT_SUPPORTED = 0x6D00

_SW_TEXTS: dict[int, str] = {
    0x9000: "success",
    0x6281: "part of the returned data may be corrupted",
    0x6282: "end of record reached before Le bytes",
    0x6283: "selected file invalidated",
    0x6581: "memory failure",
    0x6700: "wrong length",
    0x6881: "logical channel not supported",
    0x6882: "secure messaging not supported",
    0x6981: "command incompatible with file structure",
    0x6982: "security status not satisfied",
    0x6983: "authentication method blocked",
    0x6985: "conditions of use not satisfied",
    0x6986: "command not allowed (no current EF)",
    0x6A80: "incorrect data field",
    0x6A81: "function not supported",
    0x6A82: "file or application not found",
    0x6A83: "record not found",
    0x6A86: "incorrect P1 P2",
    0x6A88: "referenced data not found",
    0x6B00: "wrong P1 P2",
    0x6D00: "instruction not supported",
    0x6E00: "class not supported",
    0x6F00: "no precise diagnosis",
}


class PcscError(DriverError):
    """Root of the PC/SC family."""

    code = 190


class PcscServiceError(PcscError, DeviceDisconnected):
    """pcscd (the PC/SC service) is not running or cannot be reached."""

    code = 191


class ReaderNotFound(PcscError, DeviceDisconnected):
    """No reader with that name (or part of a name) is connected, or the name fits several readers."""

    code = 192


class NoCardError(PcscError, DeviceTimeout):
    """No card on the reader (within the wait)."""

    code = 193


class CardRemovedError(PcscError):
    """The card left the reader in the middle of a read: present it again."""

    code = 194


class StatusWordError(PcscError, DeviceRefused):
    """The card answered a command with a status word the driver cannot go on with."""

    code = 195

    def __init__(self, what: str, sw: int, *, device: str = "", code: int | None = None):
        super().__init__(f"{what}: card answered {sw:04X} ({sw_text(sw)})", device=device, code=code)
        self.what = what
        self.sw = sw


class WrongCardError(StatusWordError):
    """The card lacks the application this reader expects (e.g. a bank card on the social-security reader)."""

    code = 196


class CardAuthError(WrongCardError):
    """The card failed authentication (docs/community-card.md §1): no community card application, or a wrong
    answer to the challenge (a clone with the right UID and no key).  Code 196 like :class:`WrongCardError`:
    the reader worked, the card is not the one it accepts."""

    def __init__(self, uid: str, reason: str, sw: int = SW_OK, *, device: str = ""):
        PcscError.__init__(self, f"card {uid} failed authentication: not a genuine community card ({reason})",
                           device=device)
        self.what = "authenticating the card"
        self.sw = sw
        self.uid = uid
        self.reason = reason


class CardDataError(PcscError, FrameError):
    """The card answered, but its data is malformed: bad TLV, missing record, unreadable field value."""

    code = 197


class CardResetError(PcscError):
    """The card was reset or powered off under the driver (another program, or pcscd's idle power-off)."""

    code = 198


class PcscTransmitError(PcscError, FrameError):
    """The reader could not carry a command to the card, for a reason PC/SC reports but we do not expect."""

    code = 199


def sw_text(sw: int) -> str:
    """Words for a status word a technician can act on (``6A82`` → ``file or application not found``)."""
    if sw in _SW_TEXTS:
        return _SW_TEXTS[sw]
    sw1, sw2 = sw >> 8, sw & 0xFF
    if sw1 == 0x61:
        return f"{sw2 or 256} more bytes available (GET RESPONSE)"
    if sw1 == 0x6C:
        return f"wrong Le: resend with Le={sw2 or 256}"
    if sw1 == 0x63 and sw2 & 0xF0 == 0xC0:
        return f"verification failed, {sw2 & 0x0F} tries left"
    if sw1 in (0x62, 0x63):
        return "warning"
    if 0x64 <= sw1 <= 0x6F:
        return "error"
    return "not an ISO 7816 status word"


@dataclass(frozen=True)
class Response:
    """A response APDU split into its data and status word."""

    data: bytes
    sw: int

    @property
    def sw1(self) -> int:
        """First status byte."""
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        """Second status byte."""
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        """True for ``90 00``."""
        return self.sw == SW_OK

    @classmethod
    def parse(cls, rapdu: bytes) -> Response:
        """Split a raw response APDU; :class:`CardDataError` if it has no status word."""
        if len(rapdu) < 2:
            raise CardDataError(f"response of {len(rapdu)} bytes has no status word")
        return cls(bytes(rapdu[:-2]), (rapdu[-2] << 8) | rapdu[-1])


def apdu_case(cmd: bytes) -> int:
    """ISO 7816-3 case (1-4) of a short command APDU; ValueError for anything else."""
    n = len(cmd)
    if n < 4:
        raise ValueError(f"a command APDU has at least 4 bytes, not {n}")
    if n == 4:
        return 1
    if n == 5:
        return 2
    lc = cmd[4]
    if lc and n == 5 + lc:
        return 3
    if lc and n == 6 + lc:
        return 4
    raise ValueError(f"command APDU of {n} bytes does not match its Lc {lc}")


def with_le(cmd: bytes, le: int) -> bytes:
    """The same command asking for ``le`` bytes (1-256; 256 is written 00): Le replaced or appended."""
    if not 1 <= le <= 256:
        raise ValueError(f"Le is 1..256, not {le}")
    case = apdu_case(cmd)
    body = cmd[:-1] if case in (2, 4) else cmd
    return bytes(body) + bytes([le & 0xFF])


def build_apdu(cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> bytes:
    """A short command APDU; ``le`` 1-256 (256 written 00) or None for no Le field."""
    if len(data) > 255:
        raise ValueError("short APDUs carry at most 255 data bytes")
    cmd = bytes([cla, ins, p1, p2])
    if data:
        cmd += bytes([len(data)]) + data
    if le is not None:
        cmd = with_le(cmd, le)
    return cmd


def get_response(cla: int, le: int) -> bytes:
    """GET RESPONSE ``00 C0 00 00 Le`` on the command's logical channel (interindustry CLA only)."""
    channel = cla & 0x03 if cla < 0x80 else 0
    return build_apdu(channel, INS_GET_RESPONSE, 0, 0, le=le)


Send = Callable[[bytes], bytes]
"""Carries one command APDU to the card and returns the raw response APDU (data + SW1 SW2)."""


def exchange(send: Send, cmd: bytes, *, follow_61: bool = True) -> Response:
    """Send ``cmd`` and follow the card's transport-level requests; return the final response.

    ``6C xx`` (wrong Le): the command is resent asking for ``xx`` bytes (at most
    :data:`MAX_LE_RESENDS` times).  ``61 xx`` (more data): GET RESPONSE asking for ``xx``
    bytes, repeated while the card says more is waiting; the data of every round is joined
    and the last round's status word returned.  With ``follow_61=False`` a ``61 xx`` is
    returned as is (for SELECT, whose FCI we do not need).  Raises :class:`CardDataError`
    for a response without status word and :class:`StatusWordError` when the card keeps
    asking beyond the bounds.
    """
    response = _send_with_le_fix(send, cmd)
    if not follow_61:
        return response
    data = bytearray()
    rounds = 0
    while response.sw1 == 0x61:
        rounds += 1
        if rounds > MAX_RESPONSE_ROUNDS:
            raise StatusWordError(f"more than {MAX_RESPONSE_ROUNDS} GET RESPONSE rounds", response.sw)
        data += response.data
        response = _send_with_le_fix(send, get_response(cmd[0], response.sw2 or 256))
    return Response(bytes(data + response.data), response.sw)


def _send_with_le_fix(send: Send, cmd: bytes) -> Response:
    """One command, resent with the Le the card names in ``6C xx``."""
    response = Response.parse(send(cmd))
    resends = 0
    while response.sw1 == 0x6C:
        resends += 1
        if resends > MAX_LE_RESENDS:
            raise StatusWordError(f"card asked for another Le {resends} times", response.sw)
        response = Response.parse(send(with_le(cmd, response.sw2 or 256)))
    return response


def require(response: Response, what: str, *accepted: int, device: str = "") -> Response:
    """The response if its status word is one of ``accepted`` (default 9000), else StatusWordError."""
    if response.sw in (accepted or (SW_OK,)):
        return response
    raise StatusWordError(what, response.sw, device=device)
