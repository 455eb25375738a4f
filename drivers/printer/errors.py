"""The ticket printer's exceptions: one root (``PrinterError``) under the drivers' tree.

    PrinterError            (160)  root: anything the printer driver reports
      PaperOut              (161)  roll paper end sensor says no paper (before or during a job)
      CoverOpen             (162)  the cover is open; the printer is offline
      PrinterFault          (163)  cutter error, unrecoverable or auto-recoverable error
      PrinterOffline        (164)  offline for another reason (waiting for recovery, feed button held)
      PrinterDisconnected   (101)  also a DeviceDisconnected: port missing or unplugged
      PrinterTimeout        (102)  also a DeviceTimeout: no status byte in time
      PrinterFrameError     (103)  also a FrameError: an answer that is not a DLE EOT status byte

Catch ``PrinterError`` for everything from this driver; the transport-level ones also
match the generic ``DeviceDisconnected``/``DeviceTimeout``/``FrameError`` and keep their codes.
"""

from __future__ import annotations

from drivers.errors import DeviceDisconnected, DeviceTimeout, DriverError, FrameError


class PrinterError(DriverError):
    """Root of every error of the ticket printer driver."""

    code = 160


class PaperOut(PrinterError):
    """No paper: the job was refused, or the paper ran out while it printed."""

    code = 161


class CoverOpen(PrinterError):
    """The printer cover is open."""

    code = 162


class PrinterFault(PrinterError):
    """The printer reports an error (auto-cutter, unrecoverable or auto-recoverable)."""

    code = 163


class PrinterOffline(PrinterError):
    """The printer is offline for a reason other than paper, cover or an error."""

    code = 164


class PrinterDisconnected(PrinterError, DeviceDisconnected):
    """The printer's port is missing or was unplugged; the link keeps trying to reopen it."""

    code = 101


class PrinterTimeout(PrinterError, DeviceTimeout):
    """No status byte within the timeout."""

    code = 102


class PrinterFrameError(PrinterError, FrameError):
    """Bytes that are not a real-time status answer (fixed bits wrong)."""

    code = 103
