"""ESC/POS ticket and receipt printer over serial (python-escpos on a SerialLink).

``EscPosPrinter(port).print_job(name, build)`` checks real-time status first, sends the job a
role laid out with the ``layout`` primitives (GB18030 text in Chinese mode, sizes, QR, cut) and
checks again; the hall's queue ticket is :mod:`kiosk.hall.printing`.
Modules: ``status`` (DLE EOT codec), ``layout`` (primitives, receipt bytes), ``connector``
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
from drivers.printer.layout import ReceiptLine, receipt_bytes
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
    "decode_answers",
    "decode_status",
    "receipt_bytes",
]
