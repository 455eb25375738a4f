"""The terminal roles (DESIGN §3), declared once: each role's devices and whether this version runs it.

Config validation (``kiosk.config``), the sync protocol's ``role`` field (``sync.protocol``),
the simulator's written configs (``hardware_sim.runner``), the kiosk command and the UI's
window registry (``ui.role_windows``) all read this table.

A role that is declared but not built yet (``not_built`` says what is missing) keeps its
config schema and example file, can be enrolled on the central and rehearsed with the
simulator, but ``linfen kiosk`` refuses to start it: its screens would invite residents to
tap a card that nothing reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

#: Every role's name; the Literal lets pydantic models (config, protocol) check the field.
RoleName = Literal["hall", "counter", "display", "selfservice", "canteen", "cinema"]

#: Every device a terminal can drive, in the config's order (``[devices.<name>]``).
DEVICES: tuple[str, ...] = (
    "idcard", "sscard", "ccard", "qr_camera", "qr_scanner", "thermometer", "printer", "door", "locker",
)
#: Devices that identify a resident (ID card, social-security card, health code).
IDENTIFICATION_DEVICES: frozenset[str] = frozenset({"idcard", "sscard", "qr_camera", "qr_scanner"})


@dataclass(frozen=True)
class RoleSpec:
    """One role: where it runs, the devices it may and must have, and what it still lacks."""

    name: str
    runs_on: str
    devices: tuple[str, ...]  # the devices it may drive, in DEVICES order
    required: frozenset[str] = frozenset()  # devices it cannot run without
    identifies_residents: bool = False  # needs at least one of IDENTIFICATION_DEVICES; checks health codes
    on_hall_lan: bool = False  # shares the hall's LAN secret ([lan])
    hall_client: bool = False  # a client of the hall's queue service (hall_url)
    not_built: str = ""  # what this version lacks for the role; empty: the role runs

    @property
    def available(self) -> bool:
        """True when ``linfen kiosk`` runs this role in this version."""
        return not self.not_built


def _devices(*names: str) -> tuple[str, ...]:
    unknown = set(names) - set(DEVICES)
    if unknown:
        raise ValueError(f"unknown devices {sorted(unknown)}")
    return tuple(d for d in DEVICES if d in names)


ROLES: dict[str, RoleSpec] = {spec.name: spec for spec in (
    RoleSpec("hall", "service-hall ticket machine; hosts the hall's queue service on the LAN",
             _devices("idcard", "sscard", "ccard", "qr_camera", "qr_scanner", "thermometer", "printer"),
             required=frozenset({"thermometer", "printer"}), identifies_residents=True, on_hall_lan=True),
    RoleSpec("counter", "staff PC at a hall window, with the resident's rating pad",
             _devices("ccard"), on_hall_lan=True, hall_client=True),
    RoleSpec("display", "the hall's calling display (TV with speaker)",
             _devices(), on_hall_lan=True, hall_client=True),
    RoleSpec("selfservice", "24-hour self-service area terminal",
             _devices("idcard", "sscard", "qr_camera", "qr_scanner", "printer", "door", "locker"),
             identifies_residents=True,
             not_built="the door, locker and self-service business flows are not built"),
    RoleSpec("canteen", "cashier / self-pay card reader in a community canteen",
             _devices("ccard", "printer"), required=frozenset({"ccard"})),
    RoleSpec("cinema", "film ticket terminal at the party-mass service centre",
             _devices("ccard", "printer"), required=frozenset({"ccard", "printer"})),
)}

if tuple(ROLES) != get_args(RoleName):  # one declaration: the Literal and the table name the same roles
    raise ImportError(f"common.roles: RoleName {get_args(RoleName)} and ROLES {tuple(ROLES)} differ")

ROLE_NAMES: tuple[str, ...] = tuple(ROLES)
AVAILABLE_ROLES: tuple[str, ...] = tuple(name for name, spec in ROLES.items() if spec.available)


def refusal(name: str) -> str | None:
    """Why ``linfen kiosk`` will not run role ``name`` (one line), or None when it runs."""
    spec = ROLES.get(name)
    if spec is None:
        return f"role '{name}' does not exist; roles you can run: {', '.join(AVAILABLE_ROLES)}"
    if spec.available:
        return None
    return (f"role '{name}' is not available yet in this version ({spec.not_built}); "
            f"roles you can run: {', '.join(AVAILABLE_ROLES)}")
