"""What the status strip says: each configured device and the network, up or down, in words.

Plain Python (no Qt): the UI runs :func:`check_terminal` off the GUI thread and shows
the result; ``linfen doctor`` prints the same list.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers import probe
from kiosk.config import Camera, PcscReader, SerialDevice, TerminalConfig


@dataclass(frozen=True)
class ComponentStatus:
    """One line of the status strip: a device or a network link."""

    key: str  # "idcard", "printer", "central", "hall"
    up: bool
    reason: str  # short machine-readable reason from the probe: "ok", "not found", ...
    detail: str = ""


def check_device(name: str, device: object) -> ComponentStatus:
    """Probe one configured device's transport."""
    if isinstance(device, SerialDevice):
        p = probe.probe_serial(device.port)
    elif isinstance(device, PcscReader):
        p = probe.probe_pcsc_reader(device.reader)
    elif isinstance(device, Camera):
        p = probe.probe_camera(device.source)
    else:
        raise TypeError(f"no probe for device {name!r} of type {type(device).__name__}")
    return ComponentStatus(name, p.up, p.reason, p.detail)


def check_terminal(config: TerminalConfig) -> list[ComponentStatus]:
    """Probe every configured device, then the central service and (counter, display) the hall service."""
    result = [check_device(name, dev) for name, dev in config.devices.configured().items()]
    if config.hall_url:
        p = probe.probe_http(config.hall_url)
        result.append(ComponentStatus("hall", p.up, p.reason, p.detail))
    p = probe.probe_http(config.central_url)
    result.append(ComponentStatus("central", p.up, p.reason, p.detail))
    return result
