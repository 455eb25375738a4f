"""Open a configured device's driver: the one place where config meets drivers.

The UI never opens a port; it asks the kiosk, and the kiosk asks here.  Each driver
is built from plain values of the validated config (DESIGN §2: drivers never see
kiosk objects).  Where a role changes how a driver works, :func:`driver_options` says how:
the community card reader of a canteen or cinema terminal (the card moves money) gets the
card master key and authenticates every card (docs/community-card.md §1); the counter's
staff-card reader reads the UID only.
"""

from __future__ import annotations

from typing import Any

from kiosk.config import (
    Camera,
    ConfigError,
    IdCardReader,
    ModbusDevice,
    PcscReader,
    RelayBoard,
    SerialDevice,
    TerminalConfig,
)

INPUT_DEVICES = ("idcard", "sscard", "ccard", "qr_camera", "qr_scanner", "thermometer")
#: Roles whose community card reader authenticates every card (the card moves money: DESIGN §6b).
CARD_AUTH_ROLES = ("canteen", "cinema")
OUTPUT_DEVICES = ("printer", "door", "locker")


def open_driver(name: str, device: Any, **extra: Any) -> Any:
    """A driver for device ``name`` configured as ``device`` (not yet started; ``extra`` goes to its constructor)."""
    if name == "idcard" and isinstance(device, IdCardReader):
        from drivers.idcard.reader import IdCardReader as Driver

        return Driver(device.port, baud=device.baud, timeout_s=device.timeout_s, name=name, **extra)
    if name == "sscard" and isinstance(device, PcscReader):
        from drivers.sscard import SocialSecurityCardReader

        return SocialSecurityCardReader(device.reader, name=name, **extra)
    if name == "ccard" and isinstance(device, PcscReader):
        from drivers.ccard import CommunityCardReader

        return CommunityCardReader(device.reader, name=name, **extra)
    if name == "qr_camera" and isinstance(device, Camera):
        from drivers.qr_camera import QrCamera

        source: int | str = int(device.source) if device.source.isdigit() else device.source
        return QrCamera(source, max_fps=device.max_fps, max_payload_bytes=device.max_payload_bytes, name=name,
                        **extra)
    if name == "qr_scanner" and isinstance(device, SerialDevice):
        from drivers.qr_scanner import QrScanner

        return QrScanner(device.port, device.baud, device.timeout_s, name=name, **extra)
    if name == "thermometer" and isinstance(device, ModbusDevice):
        from drivers.thermometer import Thermometer

        return Thermometer(device.port, device.baud, device.timeout_s, unit=device.unit, name=name, **extra)
    if name == "printer" and isinstance(device, SerialDevice):
        from drivers.printer import EscPosPrinter

        return EscPosPrinter(device.port, baudrate=device.baud, timeout_s=device.timeout_s, name=name, **extra)
    if name == "door" and isinstance(device, RelayBoard):
        from drivers.relay_board import DoorController

        return DoorController(device.port, device.baud, device.timeout_s, board=device.board, locks=device.locks,
                              name=name, **extra)
    if name == "locker" and isinstance(device, RelayBoard):
        from drivers.relay_board import RelayBoard as Board

        return Board(device.port, device.baud, device.timeout_s, board=device.board, locks=device.locks, name=name,
                     **extra)
    raise ValueError(f"device {name!r} ({type(device).__name__}) has no driver")


def card_master_key(config: TerminalConfig) -> bytes | None:
    """The community card master key a role's ccard reader authenticates with; None for roles that read UIDs only.

    Canteen and cinema need ``[card_keys] master_key_file``: without it, or with an unusable file,
    :class:`ConfigError` names the setting (a card that moves money is never trusted by its UID).
    """
    if config.role not in CARD_AUTH_ROLES:
        return None
    path = config.card_keys.master_key_file
    if not path:
        raise ConfigError(f"card_keys.master_key_file: missing; role '{config.role}' authenticates every community "
                          "card with the deployment's card master key (docs/community-card.md)")
    from drivers.ccard_auth import MasterKeyError, load_master_key

    try:
        return load_master_key(path)
    except MasterKeyError as exc:
        raise ConfigError(f"card_keys.master_key_file: {exc}") from None


def driver_options(config: TerminalConfig, name: str) -> dict[str, Any]:
    """Constructor arguments the role adds to device ``name``'s driver (the ccard reader's master key)."""
    if name == "ccard":
        key = card_master_key(config)
        if key is not None:
            return {"master_key": key}
    return {}


def configured_driver(config: TerminalConfig, name: str, **extra: Any) -> Any:
    """The driver of one device of a terminal's config, as the role uses it, or a clear error if it is not
    configured."""
    devices = config.devices.configured()
    if name not in devices:
        have = ", ".join(devices) or "none"
        raise ValueError(f"device {name!r} is not in this config (configured: {have})")
    return open_driver(name, devices[name], **{**driver_options(config, name), **extra})


def close_driver(driver: Any) -> None:
    """Close a driver whatever its kind (stop threads, release ports)."""
    for method in ("close", "stop"):
        fn = getattr(driver, method, None)
        if callable(fn):
            fn()
            return
