"""The whole simulator: every device over its real transport, personas, faults, and one control surface.

:class:`Simulator` owns the devices (ptys for serial ones, vpcd slots in pcscd for the
cards, an MJPEG server for the camera), carries out the control API's commands, and
writes a terminal config that ``linfen kiosk`` uses as is.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from common.roles import DEVICES, ROLES
from drivers.ccard_auth import KEY_BYTES, MasterKeyError, load_master_key, parse_master_key
from hardware_sim import personas
from hardware_sim.code_tokens import SIM_ISSUER
from hardware_sim.control_api import SimCommandError
from hardware_sim.pcscd import PcscdHarness
from hardware_sim.timing import Timing
from hardware_sim.traffic import TrafficLog

SSCARD_READER = "Linfen SS VPCD"  # vpcd reader FRIENDLYNAMEs of the simulator's PC/SC cards
CCARD_READER = "Linfen CC VPCD"
SIM_READERS = (SSCARD_READER, CCARD_READER)
# Every pcscd this project starts gets the same readers, so the simulator and a test session can
# share the one pcscd a machine can run (Debian's pcscd has one fixed socket).
PCSC_READERS = (*SIM_READERS, "Test VPCD", "Canteen VPCD")

# Roles whose community card moves money: their written config names the card master key ([card_keys]).
CARD_KEY_ROLES = ("canteen", "cinema")
CARD_KEY_FILE = "card-master-key.hex"  # the simulator's card master key in its work folder (made when missing)

# Every device a terminal can have (each role's own come from common.roles), plus the city code service.
ALL_DEVICES = (*DEVICES, "code_service")


class Simulator:
    """Every simulated device, started and stopped together."""

    def __init__(self, workdir: Path | None = None, timing: Timing = Timing.FAST,
                 harness: PcscdHarness | None = None, devices: tuple[str, ...] = ALL_DEVICES,
                 sscard_reader: str = SSCARD_READER, ccard_reader: str = CCARD_READER,
                 population: tuple[personas.Persona, ...] | None = None,
                 card_master_key_file: Path | None = None):
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="linfen-sim-"))
        # The master key the genuine community cards' keys are diversified from (docs/community-card.md §1);
        # terminals of CARD_KEY_ROLES get the same file in their written config.
        self.card_master_key_file = Path(card_master_key_file or self.workdir / CARD_KEY_FILE)
        self.card_master_key = sim_card_master_key(self.card_master_key_file, create=card_master_key_file is None)
        self.timing = timing
        self.traffic = TrafficLog(self.workdir / "traffic")
        self._own_harness = harness is None and any(d in devices for d in ("sscard", "ccard"))
        self.harness = harness
        self.wanted = devices
        self.readers = {"sscard": sscard_reader, "ccard": ccard_reader}
        self.devices: dict[str, Any] = {}
        self.control_url: str | None = None
        self.population = tuple(population) if population is not None else personas.load()
        self._by_id = {p.persona_id: p for p in self.population}

    # -- life cycle -----------------------------------------------------------------------
    def start(self) -> Simulator:
        """Start pcscd (when needed and not given) and every device."""
        if self._own_harness:
            self.harness = PcscdHarness(PCSC_READERS).start()
        from hardware_sim.device_factory import build_device

        for name in self.wanted:
            device = build_device(name, self)
            device.start()
            self.devices[name] = device
        return self

    def stop(self) -> None:
        """Stop every device, then pcscd if this simulator started it."""
        for device in reversed(list(self.devices.values())):
            try:
                device.stop()
            except Exception:  # stopping must reach every device
                pass
        self.devices.clear()
        if self._own_harness and self.harness is not None:
            self.harness.stop()

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- lookups --------------------------------------------------------------------------
    def device(self, name: str) -> Any:
        """A running device by name, or a clear error listing the ones there are."""
        try:
            return self.devices[name]
        except KeyError:
            raise SimCommandError(f"no device {name!r}; devices: {', '.join(self.devices)}") from None

    def persona(self, persona_id: str) -> personas.Persona:
        """A persona of this simulator's population by id, or a clear error."""
        try:
            return self._by_id[persona_id]
        except KeyError:
            raise SimCommandError(f"no persona {persona_id!r} (there are {len(self.population)}, "
                                  f"{self.population[0].persona_id}..{self.population[-1].persona_id})") from None

    # -- commands (the control API calls these) -------------------------------------------
    def status(self) -> dict[str, Any]:
        """Every device's state, the timing mode and the control URL."""
        return {
            "timing": self.timing.value,
            "control_url": self.control_url,
            "workdir": str(self.workdir),
            "personas": len(self.population),
            "card_master_key_file": str(self.card_master_key_file),
            "devices": {name: dev.status() for name, dev in self.devices.items()},
        }

    def persona_list(self) -> list[dict[str, Any]]:
        """Every persona with what staff need to pick one (no ID numbers)."""
        return [
            {"id": p.persona_id, "name": p.name, "age": p.age_on(), "code_colour": p.code_colour,
             "veteran": p.veteran, "special_care": p.special_care, "disabled": p.disabled,
             "lives_alone": p.lives_alone}
            for p in self.population
        ]

    def present(self, device: str, persona_id: str, card: str = "genuine") -> dict[str, Any]:
        """Put a persona's ID card (idcard), social-security card (sscard) or community card (ccard) on a reader.

        ``card`` (ccard only): ``genuine`` (the persona's own), ``clone`` (same UID, no key) or
        ``no_applet`` (same UID, no community card application).
        """
        if device not in ("idcard", "sscard", "ccard"):
            raise SimCommandError(f"present works on idcard, sscard or ccard, not {device!r}")
        if card not in personas.CARD_VARIANTS:
            raise SimCommandError(f"no card {card!r}; cards: {', '.join(personas.CARD_VARIANTS)}")
        if card != "genuine" and device != "ccard":
            raise SimCommandError(f"a {card} card is a community card: present it on ccard, not {device}")
        self.device(device).present(personas.card_variant(self.persona(persona_id), card))
        return self.device(device).status()

    def remove(self, device: str) -> dict[str, Any]:
        """Take the card off a reader, or the code off the camera."""
        dev = self.device(device)
        if hasattr(dev, "remove"):
            dev.remove()
        elif hasattr(dev, "clear_code"):
            dev.clear_code()
        else:
            raise SimCommandError(f"{device} holds no card or code to remove")
        return dev.status()

    def qr_payload(self, persona_id: str) -> str:
        """The signed code token the simulated city service issues for a persona."""
        p = self.persona(persona_id)
        service = self.devices.get("code_service")
        if service is not None:  # the city service's current colour, overrides included
            return service.issue_token(p.persona_id)
        return SIM_ISSUER.issue(p.id_number, p.code_colour)

    def show_qr(self, persona_id: str | None, payload: str | None, device: str = "qr_camera") -> dict[str, Any]:
        """Show a persona's code (or any text) to the camera, or scan it with the serial scanner."""
        text = self.qr_payload(persona_id) if persona_id else (payload or "")
        dev = self.device(device)
        if device == "qr_camera":
            dev.show(text)
        elif device == "qr_scanner":
            dev.scan(text.encode("utf-8"))
        else:
            raise SimCommandError(f"show-qr works on qr_camera or qr_scanner, not {device!r}")
        return {"device": device, "payload": text}

    def set_temperature(self, celsius: float) -> dict[str, Any]:
        """What the thermometer measures next."""
        self.device("thermometer").set_temperature(celsius)
        return self.device("thermometer").status()

    def fault(self, device: str, kind: str, arg: str | None = None, count: int | None = None) -> dict[str, Any]:
        """Put a fault in force on a device."""
        dev = self.device(device)
        dev.faults.set(kind, arg, count)
        self.traffic.event(device, f"fault {kind} set" + (f" ({arg})" if arg else "") + (f" x{count}" if count else ""))
        return dev.status()

    def clear(self, device: str, kind: str | None = None) -> dict[str, Any]:
        """Clear one fault or all faults of a device (``all`` clears every device)."""
        targets = self.devices.values() if device == "all" else [self.device(device)]
        for dev in targets:
            dev.faults.clear(kind)
        return self.status() if device == "all" else self.device(device).status()

    def paper(self, state: str) -> dict[str, Any]:
        """Paper in the printer: ok, near_end or out."""
        self.device("printer").set_paper(state)
        return self.device("printer").status()

    def unplug(self, device: str) -> dict[str, Any]:
        """Pull a device's cable."""
        self.device(device).unplug()
        return self.device(device).status()

    def plug(self, device: str) -> dict[str, Any]:
        """Plug a device back in."""
        self.device(device).plug()
        return self.device(device).status()

    def door(self, device: str, lock: int, is_open: bool) -> dict[str, Any]:
        """Someone physically opens or closes a door (door controller or a locker compartment)."""
        self.device(device).set_door(lock, is_open)
        return self.device(device).status()

    def traffic_lines(self, device: str, last: int = 100) -> list[str]:
        """The device's recent traffic log lines (hex with timestamps)."""
        self.device(device)
        return [e.line() for e in self.traffic.entries(device, last)]

    def last_ticket_png(self) -> bytes | None:
        """The printer's most recently rendered page as PNG."""
        printer = self.devices.get("printer")
        page = printer.last_ticket() if printer is not None else None
        return page.png if page is not None else None

    # -- terminal config ------------------------------------------------------------------
    def set_colour(self, persona_id: str, colour: str) -> dict[str, Any]:
        """Change a persona's code colour at the simulated city service (lookups and new QR tokens)."""
        self.persona(persona_id)
        self.device("code_service").set_colour(persona_id, colour)
        return self.device("code_service").status()

    def trust_list(self) -> dict[str, Any]:
        """The simulated city service's issuer keys, as terminals load them."""
        return self.device("code_service").trust_list()

    def terminal_config(self, role: str = "hall", terminal_id: str | None = None,
                        extra: str = "") -> str:
        """A terminal TOML config (the foundation's format) with this simulator's device endpoints.

        ``extra`` is appended as is (reference-data paths, hall settings the caller adds).
        """
        spec = ROLES[role]
        names = [n for n in spec.devices if n in self.devices]
        code_service = self.devices.get("code_service")
        lines = [
            f"# Written by `linfen sim` ({self.timing.value} timing); control API: {self.control_url}",
            f'role = "{role}"',
            f'terminal_id = "{terminal_id or role + "-sim"}"',
            'site = "linfen-sim"',
            f'store = {{ path = "{self.workdir / "var" / "{terminal_id}" / "terminal.db"}" }}',
        ]
        if not spec.available:
            lines.insert(1, f"# Role {role} is not available yet in this version ({spec.not_built}): "
                            "`linfen kiosk` refuses it; `linfen doctor` and `linfen read` work on this config.")
        if spec.hall_client:
            lines.append('hall_url = "http://127.0.0.1:8710"')
        if code_service is not None and spec.identifies_residents:
            lines += ["", "[codes]", f'service_url = "{code_service.url}"']
        for name in names:
            lines.append("")
            lines.append(f"[devices.{name}]")
            for key, value in self.devices[name].config_entry().items():
                lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        if role in CARD_KEY_ROLES and "ccard" in names:
            lines += ["", "[card_keys]", f"master_key_file = {json.dumps(str(self.card_master_key_file))}"]
        if role == "counter":  # a counter needs its window number; the simulated hall has window 1
            lines += ["", "[counter]", "window = 1"]
        return "\n".join(lines) + "\n" + extra


def sim_card_master_key(path: Path, create: bool = True) -> bytes:
    """The simulator's card master key from ``path`` (hex, mode 0600); with ``create``, a random one is made
    there when the file does not exist yet.  Raises :class:`~drivers.ccard_auth.MasterKeyError` in words."""
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            key = os.urandom(KEY_BYTES)
            try:
                parse_master_key(key.hex())
                break
            except MasterKeyError:  # a key of one repeated byte: draw again
                continue
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another simulator on this folder made it first: use that one
            return load_master_key(path)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(key.hex() + "\n")
    return load_master_key(path)
