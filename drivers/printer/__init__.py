"""ESC/POS ticket and receipt printer over serial (python-escpos on a SerialLink).

``EscPosPrinter(port).print_ticket(Ticket(...))`` checks real-time status first, sends the
ticket (GB18030 text in Chinese mode, big number, native QR, cut) and checks again.
Modules: ``status`` (DLE EOT codec), ``layout`` (ticket/receipt bytes), ``connector``
(python-escpos seam on SerialLink), ``driver`` (the printer), ``errors``.
"""

from drivers.printer.driver import EscPosPrinter, PrintResult
from drivers.printer.errors import (
    CoverOpen,
    PaperOut,
    PrinterDisconnected,
    PrinterError,
    PrinterFault,
    PrinterFrameError,
    PrinterOffline,
    PrinterTimeout,
)
from drivers.printer.layout import ReceiptLine, Ticket, receipt_bytes, ticket_bytes
from drivers.printer.status import PrinterStatus, decode_answers, decode_status

__all__ = [
    "CoverOpen",
    "EscPosPrinter",
    "PaperOut",
    "PrintResult",
    "PrinterDisconnected",
    "PrinterError",
    "PrinterFault",
    "PrinterFrameError",
    "PrinterOffline",
    "PrinterStatus",
    "PrinterTimeout",
    "ReceiptLine",
    "Ticket",
    "decode_answers",
    "decode_status",
    "receipt_bytes",
    "ticket_bytes",
]
