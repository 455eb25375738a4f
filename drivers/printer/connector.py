"""python-escpos's connector seam (``open``/``_raw``/``_read``/``close``) on top of our :class:`SerialLink`.

python-escpos's own ``Serial`` printer opens ``serial.Serial(devfile)`` once and knows
nothing of URLs, unplugs or backoff.  :class:`LinkConnector` keeps all of python-escpos's
command API (``set``, ``qr(native=True)``, ``cut`` …) and sends every byte through a
:class:`~drivers.serial_link.SerialLink`, so the port is opened from a URL, reopened after
an unplug, and link errors come out as this driver's own errors.

Text is not sent through python-escpos's ``text()`` but as GB18030 bytes by
``drivers/printer/layout.py`` (its docstring says why).
"""

from __future__ import annotations

from escpos.escpos import Escpos

from drivers.errors import DeviceDisconnected, DeviceTimeout
from drivers.printer.errors import PrinterDisconnected, PrinterTimeout
from drivers.serial_link import SerialLink


class LinkConnector(Escpos):
    """An ``Escpos`` printer whose bytes go through a SerialLink."""

    def __init__(self, link: SerialLink, read_timeout_s: float | None = None, profile: str | None = None):
        super().__init__(profile=profile)
        self.link = link
        self.read_timeout_s = read_timeout_s  # seconds to wait for a one-byte answer; None = the link's timeout
        self.bytes_sent = 0

    def open(self) -> None:
        """Open the port (or raise PrinterDisconnected while it is missing / backing off)."""
        try:
            self.link.ensure_open()
        except DeviceDisconnected as exc:
            raise PrinterDisconnected(exc.args[0], device=self.link.name) from None
        self._device = self.link

    def _raw(self, msg: bytes) -> None:
        """Write ``msg`` as is."""
        try:
            self.link.write(msg)
        except DeviceDisconnected as exc:
            raise PrinterDisconnected(exc.args[0], device=self.link.name) from None
        self.bytes_sent += len(msg)

    def _read(self) -> bytes:
        """Read one answer byte (real-time status answers are one byte) or raise PrinterTimeout."""
        try:
            return self.link.read(1, self.read_timeout_s)
        except DeviceTimeout as exc:
            raise PrinterTimeout(exc.args[0], device=self.link.name) from None
        except DeviceDisconnected as exc:
            raise PrinterDisconnected(exc.args[0], device=self.link.name) from None

    def discard_input(self) -> None:
        """Drop answer bytes left over from an abandoned exchange."""
        try:
            self.link.discard_input()
        except DeviceDisconnected as exc:
            raise PrinterDisconnected(exc.args[0], device=self.link.name) from None

    def close(self) -> None:
        """Close the port; the next write reopens it."""
        link = getattr(self, "link", None)  # __del__ may run on a half-built object
        if link is not None:
            link.close()
        self._device = False
