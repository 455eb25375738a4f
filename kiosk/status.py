"""What the status strip says: each configured device and the network, up or down, in words.

Plain Python (no Qt): the UI runs :func:`check_terminal` off the GUI thread and shows
the result.  A running terminal passes its :class:`~kiosk.runtime.health.DeviceSupervisor`,
whose snapshot says what each driver reports (SAM failed, out of paper, not answering …);
without one (a terminal that runs no supervisor) each device's transport is only probed for
presence, which is all a port path can say.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from drivers import probe
from kiosk.config import Camera, PcscReader, SerialDevice, TerminalConfig

if TYPE_CHECKING:
    from kiosk.runtime.health import DeviceHealth, DeviceSupervisor


@dataclass(frozen=True)
class ComponentStatus:
    """One line of the status strip: a device or a network link."""

    key: str  # "idcard", "printer", "central", "hall"
    up: bool
    reason: str  # machine word: the supervisor's ("sam_failure", "paper_out" …) or the probe's ("not found" …)
    detail: str = ""
    words_zh: str = ""  # the whole state in words when the supervisor gave them: "打印机：缺纸"
    words_en: str = ""  # "Printer: out of paper"


def from_health(health: DeviceHealth) -> ComponentStatus:
    """A supervisor's device state as a line of the strip, its words included."""
    return ComponentStatus(health.name, health.up, health.reason, health.detail, health.words_zh, health.words_en)


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


def check_terminal(config: TerminalConfig, supervisor: DeviceSupervisor | None = None) -> list[ComponentStatus]:
    """Every configured device, then the central service and (counter, display) the hall service.

    Devices come from ``supervisor``'s snapshot when one is given (a device it does not
    watch is probed); without one each device's transport is probed for presence.
    """
    watched = supervisor.snapshot() if supervisor is not None else {}
    result = [from_health(watched[name]) if name in watched else check_device(name, dev)
              for name, dev in config.devices.configured().items()]
    if config.hall_url:
        p = probe.probe_http(config.hall_url)
        result.append(ComponentStatus("hall", p.up, p.reason, p.detail))
    p = probe.probe_http(config.central_url)
    result.append(ComponentStatus("central", p.up, p.reason, p.detail))
    return result
