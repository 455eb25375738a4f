"""The one exception root of the kiosk package.

Everything the terminal's own code refuses derives from :class:`KioskError`, so the
runtime can tell "a refusal we understand" from "a bug" and both end on a worded screen:

    KioskError
    ├── ConfigError           kiosk.config: a config file that cannot be used
    ├── StoreError            kiosk.store: the local database refused a write or read
    ├── HallError             kiosk.hall: queue refusals, LAN-service errors and their client's
    ├── VoiceError            kiosk.voice: espeak-ng missing or failed
    ├── PriorityRegisterError kiosk.priority: a register or key that cannot be used
    └── TrustListError        kiosk.codes.tokens: a trust list that cannot be used

Drivers keep their own root (:class:`drivers.errors.DriverError`): they never import kiosk.
"""

from __future__ import annotations


class KioskError(Exception):
    """Root of every error the kiosk package raises on purpose."""
