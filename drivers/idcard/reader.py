"""Driver of the resident ID card reader (serial SAM module, DESIGN §4): find → select → read.

One request, one answer, over a :class:`~drivers.serial_link.SerialLink` opened from a URL
(``/dev/ttyUSB0``, a simulator's pty path, ``socket://…``).  Every answer has two deadlines:
``timeout_s`` for the reader to *start* answering (its thinking time: ~0.7 s for a real
card read), then the answer's own wire time at the line's baud with a margin
(:func:`~drivers.idcard.codec.reply_budget_s`: the 1295-byte read reply needs 1.35 s at
9600 baud, 0.11 s at 115200).  So a real reader at 9600 gets the time it needs, and on a
pty a truncated frame is noticed in a fraction of a second.

Junk before a frame is skipped, a late answer to an abandoned request is recognised and
dropped (:func:`~drivers.idcard.codec.belongs_to`), and an unplugged reader is reported as
:class:`~drivers.idcard.codec.IdCardDisconnected` while the link reopens with backoff.
"""

from __future__ import annotations

import datetime as dt
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from drivers.errors import DeviceDisconnected, DeviceTimeout
from drivers.idcard.codec import (
    HEADER_LEN,
    SW3_FOUND,
    SW3_NO_CARD,
    SW3_OK,
    Command,
    IdCardDisconnected,
    IdCardError,
    IdCardTimeout,
    IdFrameError,
    NoCardError,
    Reply,
    belongs_to,
    build_command,
    error_for,
    parse_read_data,
    parse_reply,
    reply_budget_s,
    scan,
)
from drivers.idcard.fields import (
    CardText,
    id_number_valid,
    mask_id,
    mask_name,
    nation_name,
    parse_text,
    sex_name,
)
from drivers.serial_link import SerialLink

DEFAULT_BAUD = 115200  # the SAM module's factory setting, bit/s
DEFAULT_TIMEOUT_S = 1.0  # longest the reader may think before it starts answering, in seconds
POLL_INTERVAL_S = 0.1  # wait between find-card polls in read_once, in seconds
MAX_JUNK_BYTES = 4096  # junk skipped while looking for a frame before giving up, in bytes
HEALTH_LOCK_WAIT_S = 0.1  # health(check=True) waits this long for an exchange in progress, then reports, s


@dataclass(frozen=True, repr=False)
class IdCardReading:
    """What one ID card says.  ``repr`` shows only masked name and ID number (DESIGN §7)."""

    name: str
    sex: str  # "1" male, "2" female
    nation_code: str  # "01".."56"
    nation_name: str  # "汉"…
    birth: dt.date
    address: str
    id_number: str
    id_valid: bool  # GB 11643 check digit right
    authority: str
    valid_from: dt.date
    valid_to: dt.date | None  # None: long-term (长期)
    photo: bytes = field(default=b"")  # WLT, vendor-encoded, 1024 bytes
    fingerprint: bytes = field(default=b"")  # empty unless read with fingerprint and the card has one

    @classmethod
    def from_parts(cls, text: CardText, photo: bytes, fingerprint: bytes = b"") -> IdCardReading:
        """Combine a parsed text block and the photo (and fingerprint) blocks."""
        return cls(
            name=text.name, sex=text.sex, nation_code=text.nation_code, nation_name=nation_name(text.nation_code),
            birth=text.birth, address=text.address, id_number=text.id_number,
            id_valid=id_number_valid(text.id_number), authority=text.authority,
            valid_from=text.valid_from, valid_to=text.valid_to, photo=photo, fingerprint=fingerprint,
        )

    @property
    def sex_name(self) -> str:
        """男 / 女."""
        return sex_name(self.sex)

    @property
    def long_term(self) -> bool:
        """True for a card valid 长期 (no expiry)."""
        return self.valid_to is None

    @property
    def masked_id(self) -> str:
        """ID number as screens show it: ``310***********6877``."""
        return mask_id(self.id_number)

    @property
    def masked_name(self) -> str:
        """Name as screens show it: ``张*明``."""
        return mask_name(self.name)

    def expired_on(self, day: dt.date) -> bool:
        """True when the card is past its validity on ``day`` (never for 长期)."""
        return self.valid_to is not None and day > self.valid_to

    def as_dict(self, masked: bool = True) -> dict[str, Any]:
        """JSON-serialisable view (for ``linfen read --json``); masked unless asked otherwise."""
        return {
            "name": self.masked_name if masked else self.name,
            "sex": self.sex, "sex_name": self.sex_name,
            "nation_code": self.nation_code, "nation_name": self.nation_name,
            "birth": self.birth.isoformat(), "address": self.address,
            "id_number": self.masked_id if masked else self.id_number, "id_valid": self.id_valid,
            "authority": self.authority, "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else "长期",
            "photo_bytes": len(self.photo), "fingerprint_bytes": len(self.fingerprint),
        }

    def __repr__(self) -> str:
        return (f"IdCardReading(name={self.masked_name!r}, id_number={self.masked_id!r}, id_valid={self.id_valid}, "
                f"valid_to={self.valid_to}, photo={len(self.photo)} bytes)")


@dataclass(frozen=True)
class SamStatus:
    """The SAM module's answer to a status query."""

    ok: bool
    sw3: int
    text: str  # "success", "SAM not authorised"…
    text_zh: str


@dataclass(frozen=True)
class SamId:
    """The SAM module's identity: 16 raw bytes and the usual printed form."""

    raw: bytes
    text: str  # e.g. "05.01-20101029-000123456-000987654"


def format_sam_id(raw: bytes) -> str:
    """The printed form of a SAM id (two LE words, three LE double words)."""
    a, b, c, d, e = struct.unpack("<HHIII", raw[:16])
    return f"{a:02d}.{b:02d}-{c}-{d:09d}-{e:09d}"


class IdCardReader:
    """The ID card reader on one serial line."""

    def __init__(self, port: str, baud: int = DEFAULT_BAUD, timeout_s: float = DEFAULT_TIMEOUT_S,
                 name: str = "idcard", poll_interval_s: float = POLL_INTERVAL_S):
        self.name = name
        self.baud = baud
        self.timeout_s = timeout_s
        self.poll_interval_s = poll_interval_s
        self.link = SerialLink(port, baud, timeout_s, name)
        self.reads = 0  # cards read
        self.errors = 0  # exchanges that ended in an error
        self.stale_replies = 0  # late answers to abandoned requests, dropped
        self.last_error = ""
        self.last_error_code = 0
        self.sam_ok: bool | None = None  # the SAM's answer at the last health check (None: not checked yet)
        self.sam_text = ""
        self.problem = ""  # what the last health check ran into ("" when the reader answered)
        self.problem_code = 0

    # -- state ----------------------------------------------------------------------------
    def health(self, *, check: bool = False) -> dict[str, Any]:
        """Connection and error state for status screens and ``linfen doctor``.

        Without ``check`` only what is known is reported (``last_error`` is the last error
        ever, not necessarily current).  With ``check`` the SAM is asked for its status
        (``11 FF``) first, when the line is free within :data:`HEALTH_LOCK_WAIT_S`: the query
        waits for the port lock, so it never cuts into a read in progress on another thread;
        if the line stays busy, ``busy`` is True and the last check's result is reported.
        ``sam_ok``/``sam_text`` and ``problem``/``problem_code`` are that check's result.
        """
        busy = False
        if check:
            if self.link.lock.acquire(timeout=HEALTH_LOCK_WAIT_S):
                try:
                    self._check_sam()
                finally:
                    self.link.lock.release()
            else:
                busy = True
        return {
            **self.link.health(),
            "device": self.name, "kind": "idcard", "baud": self.baud,
            "last_error": self.last_error or self.link.last_error, "last_error_code": self.last_error_code,
            "reads": self.reads, "errors": self.errors, "stale_replies": self.stale_replies,
            "sam_ok": self.sam_ok, "sam_text": self.sam_text, "problem": self.problem,
            "problem_code": self.problem_code, "busy": busy,
        }

    def _check_sam(self) -> None:
        """Ask the SAM's status for :meth:`health`; remember the answer or the error."""
        try:
            status = self.sam_status()
        except IdCardError as exc:
            self.problem, self.problem_code = str(exc), exc.code
            return
        self.problem, self.problem_code = "", 0
        self.sam_ok, self.sam_text = status.ok, f"SAM {status.text}" if status.ok else status.text

    def retry_now(self) -> None:
        """Reopen at once on the next request (the reader is known to be back)."""
        self.link.retry_now()

    def close(self) -> None:
        """Close the port; the next request reopens it."""
        self.link.close()

    def __enter__(self) -> IdCardReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- SAM ------------------------------------------------------------------------------
    def reset_sam(self) -> None:
        """Reset the SAM module (10 FF)."""
        self._expect_ok(self._exchange(Command.RESET_SAM), "reset SAM")

    def sam_status(self) -> SamStatus:
        """The SAM's self-check (11 FF): ok, or why not (60 self-test failed, 66 not authorised)."""
        reply = self._exchange(Command.SAM_STATUS)
        return SamStatus(reply.sw3 == SW3_OK, reply.sw3, reply.status.text, reply.status.text_zh)

    def sam_id(self) -> SamId:
        """The SAM module's id (12 FF)."""
        reply = self._expect_ok(self._exchange(Command.SAM_ID), "SAM id")
        if len(reply.data) < 16:
            raise self._noted(IdFrameError(f"SAM id has {len(reply.data)} bytes, need 16", device=self.name))
        return SamId(reply.data[:16], format_sam_id(reply.data))

    # -- card -----------------------------------------------------------------------------
    def find_card(self) -> bool:
        """Is a card on the reader (20 01)?  True on 9F, False on 80, an error otherwise."""
        reply = self._exchange(Command.FIND_CARD)
        if reply.sw3 == SW3_FOUND:
            return True
        if reply.sw3 == SW3_NO_CARD:
            return False
        raise self._noted(error_for(reply, "find card", self.name))

    def select_card(self) -> None:
        """Select the found card (20 02)."""
        self._expect_ok(self._exchange(Command.SELECT_CARD), "select card")

    def read_card(self, with_fingerprint: bool = False) -> IdCardReading:
        """Find, select and read the card on the reader; NoCardError when there is none."""
        with self.link.lock:  # find, select and read together: no other request in between
            if not self.find_card():
                raise self._noted(NoCardError("no ID card on the reader", device=self.name))
            self.select_card()
            return self.read_selected(with_fingerprint)

    def read_once(self, timeout_s: float, with_fingerprint: bool = False) -> IdCardReading:
        """Poll for a card until one is placed and read it; NoCardError if none within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not self.find_card():
            left = deadline - time.monotonic()
            if left <= 0:
                raise self._noted(NoCardError(f"no ID card placed within {timeout_s:g} s", device=self.name))
            time.sleep(min(self.poll_interval_s, left))
        with self.link.lock:
            self.select_card()
            return self.read_selected(with_fingerprint)

    def read_selected(self, with_fingerprint: bool = False) -> IdCardReading:
        """Read the card already found and selected (30 01, or 30 10 with fingerprint)."""
        command = Command.READ_WITH_FINGERPRINT if with_fingerprint else Command.READ_TEXT_PHOTO
        reply = self._expect_ok(self._exchange(command), "read card")
        try:
            payload = parse_read_data(reply.data)
            reading = IdCardReading.from_parts(parse_text(payload.text), payload.photo, payload.fingerprint)
        except IdCardError as exc:
            exc.device = self.name
            raise self._noted(exc) from None
        self.reads += 1
        return reading

    # -- one exchange ---------------------------------------------------------------------
    def _expect_ok(self, reply: Reply, action: str) -> Reply:
        if reply.sw3 != SW3_OK:
            raise self._noted(error_for(reply, action, self.name))
        return reply

    def _noted(self, exc: IdCardError) -> IdCardError:
        self.errors += 1
        self.last_error = str(exc)
        self.last_error_code = exc.code
        return exc

    def _exchange(self, command: Command) -> Reply:
        """Send ``command`` and return its answer (any SW3); errors are the driver's own."""
        with self.link.lock:
            try:
                self.link.discard_input()
                self.link.write(build_command(command))
                return self._receive(command, time.monotonic() + self.timeout_s)
            except IdCardError as exc:
                exc.device = self.name
                raise self._noted(exc) from None
            except DeviceDisconnected as exc:
                raise self._noted(IdCardDisconnected(str(exc.args[0]), device=self.name)) from None

    def _receive(self, command: Command, first_byte_deadline: float) -> Reply:
        while True:
            reply = parse_reply(self._receive_frame(command, first_byte_deadline))
            if belongs_to(command, reply):
                return reply
            self.stale_replies += 1  # a late answer to an earlier request: wait for ours

    def _receive_frame(self, command: Command, first_byte_deadline: float) -> bytes:
        wait = first_byte_deadline - time.monotonic()
        buf = bytearray(self._read(1, wait, IdCardTimeout, f"no answer to {command.name.lower()} in time"))
        junk = 0
        while True:
            found = scan(bytes(buf))
            if found.skip:
                del buf[:found.skip]
                junk += found.skip
                if junk > MAX_JUNK_BYTES:
                    raise IdFrameError(f"{junk} bytes of garbage and no frame")
            if found.total is not None:
                break
            need = HEADER_LEN - len(buf)
            what = f"garbage on the line ({junk} bytes) and no frame" if junk else "truncated frame header"
            buf += self._read(need, reply_budget_s(need, self.baud), IdFrameError, what)
        need = found.total - len(buf)
        if need > 0:
            buf += self._read(need, reply_budget_s(need, self.baud), IdFrameError,
                              f"truncated reply: {found.total}-byte frame did not complete")
        return bytes(buf[:found.total])

    def _read(self, n: int, timeout_s: float, on_timeout: type[IdCardError], message: str) -> bytes:
        if timeout_s <= 0:
            raise on_timeout(message)
        try:
            return self.link.read(n, timeout_s)
        except DeviceTimeout:
            raise on_timeout(message) from None
