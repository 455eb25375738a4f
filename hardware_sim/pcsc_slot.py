"""A simulated PC/SC reader slot: present a persona's card into a vpcd reader, remove it, inject card faults.

Gives the PC/SC cards the same control surface as the serial devices (``present``,
``remove``, ``faults``, ``status``, ``config_entry``) so the runner and the control API
treat every device alike.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from hardware_sim.faults import FaultBoard, FaultError
from hardware_sim.pcscd import PcscdHarness
from hardware_sim.personas import Persona
from hardware_sim.sscard import LoggedCard
from hardware_sim.traffic import TrafficLog
from hardware_sim.vpcd import VirtualCard, VpcdCardConnection

CardFactory = Callable[[Persona, FaultBoard], VirtualCard]


class PcscCardSlot:
    """One reader slot of the simulator's pcscd, holding at most one virtual card."""

    kind = "pcsc"

    def __init__(self, name: str, harness: PcscdHarness, reader: str, make_card: CardFactory,
                 faults: frozenset[str], traffic: TrafficLog | None = None, slot: int = 0):
        self.name = name
        self.harness = harness
        self.reader = reader
        self.slot = slot
        self.make_card = make_card
        self.faults = FaultBoard(name, faults)
        self.traffic = traffic or TrafficLog()
        self._lock = threading.Lock()
        self._connection: VpcdCardConnection | None = None
        self.persona_id: str | None = None

    @property
    def pyscard_name(self) -> str:
        """The reader name pyscard lists for this slot."""
        return self.harness.pyscard_name(self.reader, self.slot)

    @property
    def card_present(self) -> bool:
        """True while a card is on the reader (False once it left, e.g. by the card_removed_mid_read fault)."""
        return self._connection is not None and self._connection.inserted

    def start(self) -> None:
        """Nothing to start: pcscd and vpcd are the harness's."""

    def stop(self) -> None:
        """Take any card off the reader."""
        self.remove()

    def present(self, persona: Persona, wait: bool = True) -> None:
        """Put ``persona``'s card on the reader (replacing any card there)."""
        with self._lock:
            if self._connection is None:
                self._connection = self.harness.card_connection(self.reader, self.slot)
            elif self._connection.inserted:  # a different card: the old one leaves first
                self._connection.remove()
                self.harness.wait_card(self.reader, present=False, slot=self.slot)
            card = LoggedCard(self.make_card(persona, self.faults), self.traffic, self.name)
            self._connection.insert(card)
            self.persona_id = persona.persona_id
        self.traffic.event(self.name, f"card of {persona.persona_id} presented")
        if wait:
            self.harness.wait_card(self.reader, present=True, slot=self.slot)

    def remove(self, wait: bool = False) -> None:
        """Take the card off the reader."""
        with self._lock:
            if self._connection is not None and self._connection.inserted:
                self._connection.remove()
                self.traffic.event(self.name, "card removed")
            self.persona_id = None
        if wait:
            self.harness.wait_card(self.reader, present=False, slot=self.slot)

    def plug(self) -> None:
        """A vpcd reader is always plugged into pcscd."""

    def unplug(self) -> None:
        """A vpcd reader cannot leave pcscd; say so rather than pretend."""
        raise FaultError(f"{self.name}: a PC/SC reader cannot be unplugged in the simulator; remove the card")

    def status(self) -> dict[str, Any]:
        """State for the control API."""
        return {"kind": self.kind, "plugged": True, "reader": self.pyscard_name,
                "card": self.persona_id if self.card_present else None, "faults": self.faults.active(),
                "fault_kinds": sorted(self.faults.supported)}

    def config_entry(self) -> dict[str, Any]:
        """The terminal config's ``[devices.<name>]`` table."""
        return {"reader": self.pyscard_name}
