"""pytest fixtures for the real PC/SC stack: pcscd with our vpcd readers, and virtual cards in them.

``pcscd`` (session) starts :class:`~hardware_sim.pcscd.PcscdHarness` with :data:`PCSC_TEST_READERS`
(or reuses a pcscd that already has them) and stops what it started. ``virtual_cards`` (function)
inserts and removes virtual cards and takes every card it inserted off its reader at the end of the
test, waiting until pcscd sees the reader empty so the next test starts clean.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hardware_sim.pcscd import PcscdHarness
from hardware_sim.runner import PCSC_READERS
from hardware_sim.vpcd import VirtualCard, VpcdCardConnection

__all__ = ["PCSC_TEST_READERS", "VirtualCardSlots", "pcscd", "virtual_cards"]

PCSC_TEST_READERS: tuple[str, ...] = PCSC_READERS
"""Reader FRIENDLYNAMEs the session's pcscd gets (at most 8); pyscard shows "<name> 00 00"/"… 00 01"."""

CARD_SEEN_TIMEOUT = 5.0  # seconds for pcscd (polling every ~0.4 s) to see a card arrive or leave


class VirtualCardSlots:
    """Puts virtual cards on the harness's readers and takes them off again."""

    def __init__(self, harness: PcscdHarness) -> None:
        self.harness = harness
        self._slots: dict[tuple[str, int], VpcdCardConnection] = {}

    def insert(
        self, reader: str, card: VirtualCard, *, slot: int = 0, wait: bool = True, low_latency: bool = True
    ) -> VpcdCardConnection:
        """Put ``card`` on ``reader`` (a FRIENDLYNAME); with ``wait``, return once pcscd sees it."""
        key = (reader, slot)
        connection = self._slots.get(key)
        if connection is None or connection.low_latency != low_latency:
            if connection is not None:
                connection.remove()
            connection = self.harness.card_connection(reader, slot, low_latency=low_latency)
            self._slots[key] = connection
        connection.insert(card)
        if wait:
            self.harness.wait_card(reader, present=True, timeout=CARD_SEEN_TIMEOUT, slot=slot)
        return connection

    def remove(self, reader: str, *, slot: int = 0, wait: bool = True) -> None:
        """Take the card off ``reader``; with ``wait``, return once pcscd sees the reader empty."""
        connection = self._slots.get((reader, slot))
        if connection is not None:
            connection.remove()
        if wait:
            self.harness.wait_card(reader, present=False, timeout=CARD_SEEN_TIMEOUT, slot=slot)

    def remove_all(self) -> None:
        """Take every inserted card off and wait until pcscd sees those readers empty."""
        inserted = [key for key, connection in self._slots.items() if connection.inserted]
        for connection in self._slots.values():
            connection.remove()
        for reader, slot in inserted:
            self.harness.wait_card(reader, present=False, timeout=CARD_SEEN_TIMEOUT, slot=slot)


@pytest.fixture(scope="session")
def pcscd() -> Iterator[PcscdHarness]:
    """pcscd with the test readers for the whole session; stopped at the end only if we started it."""
    harness = PcscdHarness(PCSC_TEST_READERS)
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()


@pytest.fixture
def virtual_cards(pcscd: PcscdHarness) -> Iterator[VirtualCardSlots]:
    """Insert/remove virtual cards in the session's readers; all are removed after the test."""
    slots = VirtualCardSlots(pcscd)
    try:
        yield slots
    finally:
        slots.remove_all()
