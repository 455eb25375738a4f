"""The exception tree of every driver, with numbered codes a technician can read off a screen.

    DriverError                 (code 100)  root: anything a driver reports
      DeviceDisconnected        (code 101)  port missing, unplugged, or reopening with backoff
      DeviceTimeout             (code 102)  no (complete) answer within the read timeout
      FrameError                (code 103)  an answer that is not a valid frame (checksum, length, garbage)
      DeviceRefused             (code 104)  a well-formed answer saying the device could not do it

Each driver family subclasses these (``IdCardError``…) and may add its own codes;
``code`` and ``str()`` are what screens and ``linfen doctor`` show.
"""

from __future__ import annotations


class DriverError(Exception):
    """Root of every driver error."""

    code = 100

    def __init__(self, message: str, *, device: str = "", code: int | None = None):
        super().__init__(message)
        self.device = device
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        prefix = f"{self.device}: " if self.device else ""
        return f"{prefix}{self.args[0]} [E{self.code}]"


class DeviceDisconnected(DriverError):
    """The device's port is missing or was unplugged; the driver keeps trying to reopen it."""

    code = 101


class DeviceTimeout(DriverError):
    """No complete answer within the timeout."""

    code = 102


class FrameError(DriverError):
    """The answer is not a valid frame: bad checksum, bad length, garbage."""

    code = 103


class DeviceRefused(DriverError):
    """The device answered properly but could not do what was asked."""

    code = 104
