"""Build each simulated device by name for the :class:`~hardware_sim.runner.Simulator`.

Serial devices get a stable path ``<workdir>/dev/<name>`` (a symlink to their pty);
the PC/SC cards get a slot on the simulator's pcscd (community cards keyed from the simulator's
card master key); the camera gets an MJPEG server.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hardware_sim.runner import Simulator

LOCKER_COUNT = 24  # compartments on the simulated locker board


def build_device(name: str, sim: Simulator) -> Any:
    """A new (not yet started) simulated device called ``name``."""
    link = sim.workdir / "dev" / name
    common = {"timing": sim.timing, "traffic": sim.traffic}
    if name == "idcard":
        from hardware_sim.idcard import IdCardSim

        return IdCardSim(name, link, **common)
    if name == "qr_scanner":
        from hardware_sim.qr_scanner import QrScannerSim

        return QrScannerSim(name, link, **common)
    if name == "thermometer":
        from hardware_sim.thermometer import ThermometerSim

        return ThermometerSim(name, link, **common)
    if name == "printer":
        from hardware_sim.printer import PrinterSim

        return PrinterSim(name, link, **common)
    if name == "door":
        from hardware_sim.relay_board import DoorControllerSim

        return DoorControllerSim(name, link, **common)
    if name == "locker":
        from hardware_sim.relay_board import RelayBoardSim

        return RelayBoardSim(name, link, locks=LOCKER_COUNT, **common)
    if name == "qr_camera":
        from hardware_sim.camera import CameraSim

        return CameraSim(name, **common)
    if name == "code_service":
        from hardware_sim.code_service import CodeServiceSim

        return CodeServiceSim(name, people=sim.population, **common)
    if name in ("sscard", "ccard"):
        from hardware_sim.pcsc_slot import PcscCardSlot
        from hardware_sim.sscard import CCARD_FAULTS, SSCARD_FAULTS, make_ccard, make_sscard

        if name == "sscard":
            make = functools.partial(make_sscard, timing=sim.timing)  # realistic mode: real cards' APDU pace
            faults = SSCARD_FAULTS
        else:  # genuine community cards carry keys diversified from the simulator's master key
            make = functools.partial(make_ccard, timing=sim.timing, master_key=sim.card_master_key)
            faults = CCARD_FAULTS
        assert sim.harness is not None, "PC/SC devices need the simulator's pcscd"
        return PcscCardSlot(name, sim.harness, sim.readers[name], make, faults, sim.traffic)
    raise ValueError(f"no simulated device called {name!r}")
