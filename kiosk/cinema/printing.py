"""The film ticket on paper: title, time, hall, the seat big, the price, and a QR for the door.

Laid out with the printer driver's primitives (:mod:`drivers.printer.layout`), as the hall's queue
ticket is: GB18030 text, a native QR, a cut.  The QR holds ``LFC1:<terminal>:<screening>:<ticket>``
— no name, no card number — and :func:`parse_ticket_qr` reads it back at the door, refusing
anything else (the scanner's text is untrusted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from escpos.constants import QR_ECLEVEL_M
from escpos.escpos import Escpos
from escpos.printer import Dummy

from drivers.printer.layout import (
    COLUMNS,
    NUMBER_SIZE,
    QR_MODULE_DOTS,
    check_qr_payload,
    put_line,
    rule,
    size,
    start_job,
    wrap,
)

QR_PREFIX = "LFC1"
_PART = re.compile(r"^[A-Za-z0-9_.:-]{1,80}$")
_TICKET = re.compile(r"^[0-9A-F]{12}$")
MAX_QR_CHARS = 300  # longer scanner input is not one of our tickets


@dataclass(frozen=True)
class PaperTicket:
    """What a printed film ticket says."""

    title: str  # the terminal's heading, e.g. "临汾路街道党群服务中心 社区电影"
    film: str
    when: str  # "12月5日 周六 14:00"
    hall: str
    seat: str  # in words: "3排1号"
    price: str  # "免费" / "5 元"
    qr_payload: str
    footer: tuple[str, ...] = ("凭票或刷一卡通入场，一票一人一次", "请提前 10 分钟入场")

    def __post_init__(self) -> None:
        check_qr_payload(self.qr_payload)


def ticket_qr_payload(terminal_id: str, screening_id: str, ticket_id: str) -> str:
    """``LFC1:<terminal>:<screening>:<ticket>`` (no personal data)."""
    return f"{QR_PREFIX}:{terminal_id}:{screening_id}:{ticket_id}"


def parse_ticket_qr(text: str) -> tuple[str, str, str] | None:
    """``(terminal, screening, ticket)`` of a scanned ticket QR, or None for anything that is not one."""
    text = text.strip()
    if len(text) > MAX_QR_CHARS or not text.startswith(QR_PREFIX + ":"):
        return None
    terminal, sep, rest = text[len(QR_PREFIX) + 1:].partition(":")
    screening, sep2, ticket = rest.rpartition(":")
    if not (sep and sep2) or not _PART.match(terminal) or not _PART.match(screening) or not _TICKET.match(ticket):
        return None
    return terminal, screening, ticket


def ticket_commands(p: Escpos, ticket: PaperTicket, columns: int = COLUMNS) -> None:
    """Write the ticket's commands to ``p`` (any python-escpos printer), ending with a cut."""
    start_job(p)
    p.set(align="center", bold=True)
    for line in wrap(ticket.title, columns, balanced=True):
        put_line(p, line)
    p.set(bold=False)
    rule(p, columns)
    p.set(align="center", bold=True)
    size(p, 2, 2)
    for line in wrap(ticket.film, columns // 2, balanced=True):
        put_line(p, line)
    size(p, 1, 1)
    p.set(bold=False)
    put_line(p, ticket.when)
    if ticket.hall:
        put_line(p, ticket.hall)
    put_line(p, "座位")
    p.set(bold=True)
    size(p, NUMBER_SIZE - 1, NUMBER_SIZE - 1)
    put_line(p, ticket.seat)
    size(p, 1, 1)
    p.set(bold=False)
    put_line(p, f"票价：{ticket.price}")
    p._raw(b"\n")
    p.qr(ticket.qr_payload, native=True, size=QR_MODULE_DOTS, ec=QR_ECLEVEL_M)
    rule(p, columns)
    for text in ticket.footer:
        for line in wrap(text, columns, balanced=True):
            put_line(p, line)
    p.cut()


def ticket_bytes(ticket: PaperTicket, columns: int = COLUMNS) -> bytes:
    """The whole ticket job as bytes."""
    p = Dummy()
    ticket_commands(p, ticket, columns)
    return p.output


def print_film_ticket(printer: Any, ticket: PaperTicket, reprint: bool = False) -> Any:
    """Print on an :class:`~drivers.printer.EscPosPrinter`; its PrintResult (refuses PaperOut… before sending)."""
    job = f"film ticket {ticket.qr_payload.rsplit(':', 1)[-1]}" + (" (reprint)" if reprint else "")
    return printer.print_job(job, lambda p: ticket_commands(p, ticket, printer.columns))
