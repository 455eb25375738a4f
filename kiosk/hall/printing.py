"""The hall's queue ticket on paper: the role decides the words and the layout, the driver sends it.

Laid out with the printer driver's primitives (:mod:`drivers.printer.layout`): GB18030 text in
Chinese mode, the number big, a native QR, a cut.  ``print_hall_ticket(printer, ticket)``
prints it through :meth:`drivers.printer.EscPosPrinter.print_job` (status checked first).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from escpos.constants import QR_ECLEVEL_M
from escpos.escpos import Escpos
from escpos.printer import Dummy

from drivers.printer.layout import (
    COLUMNS,
    CONTROL,
    NUMBER_SIZE,
    QR_MODULE_DOTS,
    check_qr_payload,
    put_line,
    rule,
    size,
    start_job,
    wrap,
)

FOOTER_ZH = "请留意叫号，过号请到服务台"
PRIORITY_ZH = "优先号"


@dataclass(frozen=True)
class Ticket:
    """A queue ticket: what the resident takes away from the hall terminal."""

    title: str  # e.g. "临汾路街道社区事务受理服务中心"
    number: str  # e.g. "A012"
    service: str  # e.g. "社保卡办理"
    people_ahead: int
    wait_minutes: int | None  # estimated wait; None when unknown
    issued_at: datetime
    qr_payload: str = ""  # progress link / token; "" prints no QR
    footer: tuple[str, ...] = field(default_factory=tuple)
    masked_name: str | None = None  # e.g. "张*明"; never the full name

    def __post_init__(self) -> None:
        if not 1 <= len(self.number) <= 8 or CONTROL.search(self.number):
            raise ValueError(f"ticket number {self.number!r} must be 1-8 printable characters")
        if self.people_ahead < 0 or (self.wait_minutes is not None and self.wait_minutes < 0):
            raise ValueError("people ahead and wait minutes cannot be negative")
        check_qr_payload(self.qr_payload)


def ticket_commands(p: Escpos, ticket: Ticket, columns: int = COLUMNS) -> None:
    """Write the ticket's commands to ``p`` (any python-escpos printer), ending with a cut."""
    start_job(p)
    p.set(align="center", bold=True)
    size(p, 2, 2)
    for line in wrap(ticket.title, columns // 2, balanced=True):
        put_line(p, line)
    size(p, 1, 1)
    p.set(bold=False)
    rule(p, columns)
    p.set(align="center")
    size(p, 2, 2)
    for line in wrap(ticket.service, columns // 2, balanced=True):
        put_line(p, line)
    size(p, 1, 1)
    put_line(p, "您的号码")
    p.set(bold=True)
    size(p, NUMBER_SIZE, NUMBER_SIZE)
    put_line(p, ticket.number)
    size(p, 1, 1)
    p.set(bold=False)
    put_line(p, f"前面还有 {ticket.people_ahead} 人等候")
    if ticket.wait_minutes is not None:
        put_line(p, f"预计等候约 {ticket.wait_minutes} 分钟")
    if ticket.masked_name:
        put_line(p, f"姓名：{ticket.masked_name}")
    if ticket.qr_payload:
        p._raw(b"\n")
        p.qr(ticket.qr_payload, native=True, size=QR_MODULE_DOTS, ec=QR_ECLEVEL_M)
    put_line(p, f"取号时间：{ticket.issued_at:%Y-%m-%d %H:%M}")
    rule(p, columns)
    p.set(align="center")
    for text in ticket.footer:
        for line in wrap(text, columns, balanced=True):
            put_line(p, line)
    p.cut()


def ticket_bytes(ticket: Ticket, columns: int = COLUMNS) -> bytes:
    """The whole ticket job as bytes."""
    p = Dummy()
    ticket_commands(p, ticket, columns)
    return p.output


def print_hall_ticket(printer: Any, ticket: Ticket) -> Any:
    """Print ``ticket`` on an :class:`~drivers.printer.EscPosPrinter`; its PrintResult (refuses: PaperOut…)."""
    return printer.print_job(f"ticket {ticket.number}", lambda p: ticket_commands(p, ticket, printer.columns))


def ticket_qr_payload(terminal_id: str, number: str, day: dt.date | None = None) -> str:
    """The QR on a ticket: ``LFQ1:<terminal>:<date>:<number>`` (no personal data)."""
    return f"LFQ1:{terminal_id}:{(day or dt.date.today()).isoformat()}:{number}"


def hall_ticket(title: str, terminal_id: str, ticket: Any, service_name: str, masked_name: str = "") -> Ticket:
    """The paper ticket for an issued ticket (``ticket``: the flow's TicketIssued)."""
    return Ticket(
        title=title, number=ticket.number, service=service_name, people_ahead=ticket.people_ahead,
        wait_minutes=ticket.wait_min, issued_at=dt.datetime.now().astimezone(),
        qr_payload=ticket_qr_payload(terminal_id, ticket.number),
        footer=(FOOTER_ZH, PRIORITY_ZH if ticket.priority else ""), masked_name=masked_name or None)
