"""The ticket / receipt printer driver: status first, then the job, then status again.

An ESC/POS printer never says "printed".  What the driver can know is (1) that the
bytes were accepted by the line (``write`` + ``flush`` returned; on a real port, sent
out of the UART), and (2) what the real-time status (``DLE EOT 1..4``) says before and
after.  So every job is:

1. query status; refuse with :class:`PaperOut`, :class:`CoverOpen`, :class:`PrinterFault`
   or :class:`PrinterOffline` when it cannot print (nothing is sent then);
2. send the job (built completely first, so a bad argument never leaves half a job);
3. query status again, and keep watching for ``settle_s`` seconds if asked: a printer
   prints a ticket in about a second after the bytes arrive, so paper running out
   *during* the print is only seen if the watch lasts that long.  A problem seen then
   raises the same errors, saying the ticket may be incomplete — never silent.

Paper near its end prints, with a warning in the result and the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from escpos.escpos import Escpos
from escpos.printer import Dummy

from drivers.printer.connector import LinkConnector
from drivers.printer.errors import (
    CoverOpen,
    PaperOut,
    PrinterError,
    PrinterFault,
    PrinterFrameError,
    PrinterOffline,
    PrinterTimeout,
)
from drivers.printer.layout import COLUMNS, ReceiptLine, receipt_commands
from drivers.printer.status import QUERIES, XOFF, XON, PrinterStatus, decode_answers, is_status_byte
from drivers.serial_link import SerialLink

log = logging.getLogger(__name__)

MAX_SKIPPED = 8  # flow-control bytes tolerated before one status answer
DRAIN_QUIET_S = 0.1  # after a failed exchange: the line must be quiet this long (seconds) before a new one
SETTLE_POLL_S = 0.1  # how often status is polled while watching a job, in seconds
HEALTH_LOCK_WAIT_S = 0.1  # health(check=True) waits this long for a job or query in progress, in seconds
NEAR_END_WARNING = "paper near end: replace the roll soon"


@dataclass(frozen=True)
class PrintResult:
    """What is known after a job: bytes accepted by the line, and the status before and after."""

    job: str  # "ticket A012", "receipt"
    bytes_sent: int
    before: PrinterStatus
    after: PrinterStatus
    warnings: tuple[str, ...] = ()


class EscPosPrinter:
    """An ESC/POS ticket printer on a serial line (``/dev/ttyUSB0``, a pty path, ``socket://``)."""

    def __init__(self, port: str, baudrate: int = 9600, timeout_s: float = 1.0, name: str = "printer",
                 columns: int = COLUMNS, settle_s: float = 0.0):
        self.name = name
        self.columns = columns  # font-A columns of the paper (48 on 80 mm, 32 on 58 mm)
        self.settle_s = settle_s  # seconds to keep watching status after a job is sent
        self.timeout_s = timeout_s  # seconds to wait for each status byte
        self.link = SerialLink(port, baudrate=baudrate, timeout_s=timeout_s, name=name)
        self.escpos = LinkConnector(self.link)
        # bytes per write: half of what the line carries in one write timeout (8N1: 10 bits per byte)
        self._chunk = max(64, int(baudrate / 10 * timeout_s / 2))
        self._resync = False
        self.last_status: PrinterStatus | None = None
        self.last_error = ""
        self.jobs_printed = 0
        self.problem = ""  # what the last health check ran into ("" when the printer answered)
        self.problem_code = 0

    # -- status ---------------------------------------------------------------------------
    def status(self) -> PrinterStatus:
        """Ask DLE EOT 1..4 and decode the answers; PrinterTimeout / PrinterFrameError / PrinterDisconnected."""
        with self.link.lock:
            try:
                status = self._query()
            except PrinterError as exc:
                self.last_error = str(exc)
                raise
        self.last_status = status
        self.last_error = ""
        return status

    def _query(self) -> PrinterStatus:
        if self._resync:
            self._drain()
        self.escpos.discard_input()
        answers = bytearray()
        for n, request in QUERIES.items():
            self.escpos._raw(request)
            answers.append(self._answer(n))
        try:
            return decode_answers(bytes(answers))
        except PrinterFrameError as exc:
            self._resync = True
            raise PrinterFrameError(exc.args[0], device=self.name) from None

    def _answer(self, n: int) -> int:
        deadline = time.monotonic() + self.timeout_s
        for _ in range(MAX_SKIPPED + 1):
            self.escpos.read_timeout_s = max(0.0, deadline - time.monotonic())
            try:
                value = self.escpos._read()[0]
            except PrinterTimeout:
                self._resync = True
                raise PrinterTimeout(f"no answer to DLE EOT {n} within {self.timeout_s:.1f} s",
                                     device=self.name) from None
            if value in (XON, XOFF):
                continue
            if not is_status_byte(value):
                self._resync = True
                raise PrinterFrameError(f"answer to DLE EOT {n} is 0x{value:02X}, not a status byte",
                                        device=self.name)
            return value
        self._resync = True
        raise PrinterFrameError(f"only flow-control bytes in answer to DLE EOT {n}", device=self.name)

    def _drain(self) -> None:
        """Swallow late answers of an abandoned exchange: read until the line is quiet (at most timeout_s)."""
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            self.escpos.read_timeout_s = DRAIN_QUIET_S
            try:
                self.escpos._read()
            except PrinterTimeout:
                break
        self._resync = False

    # -- printing -------------------------------------------------------------------------
    def print_job(self, job: str, build: Callable[[Escpos], None]) -> PrintResult:
        """Print what ``build`` writes on a python-escpos printer (a role's layout); refuses (PaperOut…) first.

        ``job`` names it in logs and errors ("ticket A012").  The whole job is built before
        anything is sent, so a bad argument raises with nothing printed.
        """
        return self._print(job, build)

    def print_receipt(self, lines: Sequence[ReceiptLine], title: str | None = None) -> PrintResult:
        """Print a receipt (canteen, self-service): lines of text or (left, right) pairs."""
        return self._print("receipt", lambda p: receipt_commands(p, lines, title, self.columns))

    def _print(self, job: str, build: Callable[[Escpos], None]) -> PrintResult:
        buffer = Dummy()
        build(buffer)  # the whole job first: a bad argument raises before anything is sent
        data = buffer.output
        with self.link.lock:
            before = self.status()
            self._refuse(before, job, sent=False)
            try:
                for i in range(0, len(data), self._chunk):
                    self.escpos._raw(data[i:i + self._chunk])
            except PrinterError as exc:
                self.last_error = str(exc)
                raise
            after = self._watch(job)
        warnings = tuple(dict.fromkeys(
            NEAR_END_WARNING for s in (before, after) if s.paper == "near_end"))
        for text in warnings:
            log.warning("%s: %s (%s)", self.name, text, job)
        self.jobs_printed += 1
        return PrintResult(job, len(data), before, after, warnings)

    def _watch(self, job: str) -> PrinterStatus:
        end = time.monotonic() + self.settle_s
        while True:
            status = self.status()
            self._refuse(status, job, sent=True)
            if time.monotonic() >= end:
                return status
            time.sleep(min(SETTLE_POLL_S, max(0.0, end - time.monotonic())))

    def _refuse(self, status: PrinterStatus, job: str, sent: bool) -> None:
        """Raise the error matching what stops ``status`` from printing ``job``."""
        problem = status.problem()
        if problem is None:
            return
        what = (f"{problem} while printing {job}: it may be incomplete, print it again"
                if sent else f"{problem}: {job} not printed")
        if status.paper == "out":
            error: PrinterError = PaperOut(what, device=self.name)
        elif status.cover_open:
            error = CoverOpen(what, device=self.name)
        elif status.error or status.recoverable_error:
            error = PrinterFault(what, device=self.name)
        else:
            error = PrinterOffline(what, device=self.name)
        self.last_error = str(error)
        raise error

    # -- upkeep ---------------------------------------------------------------------------
    def retry_now(self) -> None:
        """Skip the reopen backoff (the device is known to be back)."""
        self.link.retry_now()

    def close(self) -> None:
        """Close the port."""
        self.link.close()

    def health(self, *, check: bool = False) -> dict[str, Any]:
        """Connection, last error and last known status, for status screens and ``linfen doctor``.

        With ``check`` the printer's real-time status (``DLE EOT 1..4``: paper sensors, cover,
        errors) is asked first, when the line is free within :data:`HEALTH_LOCK_WAIT_S`; a job
        in progress holds the line, so the check never cuts into it (``busy`` is then True and
        the last known status is reported).  ``problem``/``problem_code`` are the check's error.
        """
        busy = False
        if check:
            if self.link.lock.acquire(timeout=HEALTH_LOCK_WAIT_S):
                try:
                    self.status()
                    self.problem, self.problem_code = "", 0
                except PrinterError as exc:
                    self.problem, self.problem_code = str(exc), exc.code
                finally:
                    self.link.lock.release()
            else:
                busy = True
        link = self.link.health()
        return {
            "busy": busy,
            "problem": self.problem,
            "problem_code": self.problem_code,
            "device": self.name,
            "port": link["port"],
            "connected": link["connected"],
            "reopens": link["reopens"],
            "last_error": self.last_error or link["last_error"],
            "jobs_printed": self.jobs_printed,
            "status": self.last_status.as_dict() if self.last_status else None,
        }
