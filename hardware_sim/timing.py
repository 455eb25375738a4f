"""Device timing: realistic delays (the demo's default) or zero delay (tests)."""

from __future__ import annotations

from enum import StrEnum


class Timing(StrEnum):
    """How long simulated devices take to answer."""

    FAST = "fast"  # zero-delay: answers as soon as the request is parsed
    REALISTIC = "realistic"  # delays measured on real devices, see REALISTIC_DELAYS_S

    def delay(self, action: str) -> float:
        """Seconds a device waits before answering ``action`` in this mode."""
        if self is Timing.FAST:
            return 0.0
        return REALISTIC_DELAYS_S.get(action, 0.02)


REALISTIC_DELAYS_S: dict[str, float] = {
    "idcard.find": 0.05,  # seconds
    "idcard.select": 0.05,
    "idcard.read": 0.7,  # text + photo read, ~0.8 s with find/select
    "idcard.sam": 0.03,  # SAM reset / status / id
    "idcard.error": 0.01,  # answer to a damaged or unknown command
    "thermometer.read": 0.3,
    "printer.print": 1.0,
    "printer.status": 0.01,
    "qr_scanner.scan": 0.15,
    "qr_scanner.reply": 0.02,  # answer to a command (trigger, zone-bit read/write)
    "door.command": 0.03,
    "door.open": 0.5,  # relay boards answer an open command after the coil pulse
    "locker.command": 0.03,
    "locker.open": 0.5,
    "card.apdu": 0.004,
    "ccard.auth": 0.03,  # a smart card's AES-CMAC over the challenge (DESFire EV1 AES auth takes 20-50 ms)
    "sscard.apdu": 0.03,  # contact T=0 card at 9600 bit/s: a full read (16 APDUs) ≈ 0.5 s, as on real cards
}
