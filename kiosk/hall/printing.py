"""What the hall prints on a queue ticket: the role decides the words, the printer driver lays them out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from drivers.printer import Ticket as PrintedTicket

FOOTER_ZH = "请留意叫号，过号请到服务台"
PRIORITY_ZH = "优先号"


def ticket_qr_payload(terminal_id: str, number: str, day: dt.date | None = None) -> str:
    """The QR on a ticket: ``LFQ1:<terminal>:<date>:<number>`` (no personal data)."""
    return f"LFQ1:{terminal_id}:{(day or dt.date.today()).isoformat()}:{number}"


def hall_ticket(title: str, terminal_id: str, ticket: Any, service_name: str, masked_name: str = "") -> PrintedTicket:
    """The printer job for an issued ticket (``ticket``: the flow's TicketIssued)."""
    return PrintedTicket(
        title=title, number=ticket.number, service=service_name, people_ahead=ticket.people_ahead,
        wait_minutes=ticket.wait_min, issued_at=dt.datetime.now().astimezone(),
        qr_payload=ticket_qr_payload(terminal_id, ticket.number),
        footer=(FOOTER_ZH, PRIORITY_ZH if ticket.priority else ""), masked_name=masked_name or None)
