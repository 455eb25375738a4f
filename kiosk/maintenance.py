"""Maintenance tools behind ``linfen read`` and ``linfen doctor``: what the terminal sees, in words.

``read_device`` opens one configured device, waits for one reading (or, for printer,
door and locker, asks its status) and returns it as JSON-ready data with personal
data masked.  ``diagnose`` checks every configured device and says what is wrong
(not found, no answer, SAM not authorised, paper out…): first that its transport is
there, then the driver's own live health check, classified and worded exactly as the
running terminal's device supervisor does (:func:`kiosk.runtime.health.check_driver`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from drivers import probe
from drivers.errors import DriverError
from kiosk.config import Camera, PcscReader, SerialDevice, TerminalConfig
from kiosk.devices import INPUT_DEVICES, close_driver, configured_driver
from kiosk.masking import mask_id, mask_name
from kiosk.runtime.health import check_driver, device_health

DOCTOR_READ_TIMEOUT_S = 3.0  # how long doctor waits for a thermometer reading or a camera frame, in seconds
PAYLOAD_SHOWN = 24  # characters of a QR payload shown (tokens carry identity)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def reading_to_dict(reading: Any) -> dict[str, Any]:
    """A driver reading as JSON-ready data, ID numbers and names masked, long payloads cut."""
    if hasattr(reading, "as_dict"):
        data = reading.as_dict(masked=True)
    elif dataclasses.is_dataclass(reading):
        data = {f.name: getattr(reading, f.name) for f in dataclasses.fields(reading)}
    else:
        data = {"value": reading}
    for key in list(data):
        value = data[key]
        if key in ("id_number", "social_security_number") and isinstance(value, str) and "*" not in value:
            data[key] = mask_id(value)
        elif key == "name" and isinstance(value, str) and "*" not in value and value:
            data[key] = mask_name(value)
        elif key in ("payload", "text") and isinstance(value, str | bytes) and len(value) > PAYLOAD_SHOWN:
            shown = value if isinstance(value, str) else value.decode("utf-8", "replace")
            data[key] = f"{shown[:PAYLOAD_SHOWN]}… ({len(value)} {'chars' if isinstance(value, str) else 'bytes'})"
    return _plain(data)


def read_device(config: TerminalConfig, name: str, timeout_s: float = 10.0) -> dict[str, Any]:
    """One reading (input devices) or the status (printer, door, locker) of a configured device."""
    driver = configured_driver(config, name)
    try:
        if hasattr(driver, "start") and name in ("qr_camera", "qr_scanner"):
            driver.start()
        if name in INPUT_DEVICES:
            return reading_to_dict(driver.read_once(timeout_s))
        return reading_to_dict(driver.status())
    finally:
        close_driver(driver)


@dataclass(frozen=True)
class Diagnosis:
    """One device's check: up or not, and why in words."""

    device: str
    ok: bool
    words: str  # e.g. "ok: SAM 05.01-20261201", "not found: /dev/ttyUSB0", "缺纸 / out of paper (paper out)"
    code: int | None = None  # the driver's error code, when an error was raised
    reason: str = ""  # the supervisor's machine word when the driver's health check said it ("paper_out" …)


def _presence(device: Any) -> probe.Presence:
    if isinstance(device, SerialDevice):
        return probe.probe_serial(device.port)
    if isinstance(device, PcscReader):
        return probe.probe_pcsc_reader(device.reader)
    if isinstance(device, Camera):
        return probe.probe_camera(device.source)
    return probe.Presence(False, "unknown device kind")


def _protocol_check(name: str, driver: Any) -> tuple[bool, str]:
    if name == "idcard":
        status = driver.sam_status()
        return status.ok, f"SAM {status.text}" if status.ok else status.text
    if name == "thermometer":
        return True, f"reads {driver.read_once(DOCTOR_READ_TIMEOUT_S).celsius:.1f} °C"
    if name == "printer":
        status = driver.status()
        problem = status.problem()
        if problem:
            return False, problem
        return True, "paper near end" if status.paper == "near_end" else "ready"
    if name in ("door", "locker"):
        status = driver.status()
        return True, f"{len(status.locks)} locks answer, open: {status.open_locks or 'none'}"
    if name == "qr_camera":
        driver.start()
        deadline = time.monotonic() + DOCTOR_READ_TIMEOUT_S
        while time.monotonic() < deadline and not driver.health().get("connected"):
            time.sleep(0.05)
        health = driver.health()
        return bool(health.get("connected")), "frames arrive" if health.get("connected") else (
            health.get("last_error") or "no frames")
    if name == "qr_scanner":
        driver.start()
        driver.trigger()
        return True, "answers the trigger command"
    return True, "reader present"  # sscard / ccard: the reader is there; no card is needed


def diagnose(config: TerminalConfig) -> list[Diagnosis]:
    """Check every configured device: first that it is there, then that it answers its protocol."""
    results = []
    for name, device in config.devices.configured().items():
        presence = _presence(device)
        if not presence.up:
            results.append(Diagnosis(name, False, f"{presence.reason}: {presence.detail}"))
            continue
        try:
            driver = configured_driver(config, name)
        except Exception as exc:  # a driver that cannot even be built is a finding, not a crash
            results.append(Diagnosis(name, False, f"driver error: {exc}"))
            continue
        try:
            _start_and_wait(name, driver)
            reason, detail = check_driver(name, driver)
            health = device_health(name, reason, detail)
            if not health.up:
                words = f"{health.state_zh} / {health.state_en}" + (f" ({detail})" if detail else "")
                results.append(Diagnosis(name, False, words, reason=reason))
                continue
            ok, words = _protocol_check(name, driver)
            results.append(Diagnosis(name, ok, words, reason=reason))
        except DriverError as exc:
            results.append(Diagnosis(name, False, str(exc), exc.code))
        finally:
            close_driver(driver)
    return results


def _start_and_wait(name: str, driver: Any) -> None:
    """Start a driver that reads on its own thread (QR camera, scanner) and give it time to connect."""
    if name not in ("qr_camera", "qr_scanner"):
        return
    driver.start()
    deadline = time.monotonic() + DOCTOR_READ_TIMEOUT_S
    while time.monotonic() < deadline and not driver.health().get("connected"):
        time.sleep(0.05)
