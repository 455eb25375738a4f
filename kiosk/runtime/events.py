"""The runtime's own events and the shape of a flow it can drive."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Tick:
    """Time passes (the runtime sends one every few hundred ms)."""

    now: float


@dataclass(frozen=True)
class Failed:
    """Something the flow was waiting on broke: an effect handler raised, or a worker's future failed.

    ``where`` names the effect or handler (``"IssueTicket"``); ``error`` is one line for the log
    and the staff alert (never shown to a resident as is).
    """

    where: str
    error: str


@dataclass(frozen=True)
class CardPresented:
    """An authenticated community card on the reader (``card_no``: its UID in hex)."""

    card_no: str
    at: float  # time.monotonic() the reader saw the card


@dataclass(frozen=True)
class CardFailed:
    """A tap that gave no usable card: ``not_genuine`` (failed authentication) or ``read_failed`` (pulled, bad read)."""

    reason: str


class Flow(Protocol):
    """A role's pure state machine, as the runtime sees it."""

    state: str

    def handle(self, event: Any) -> list[Any]:
        """Feed one event; get the effects to carry out, in order."""

    def fail(self, where: str, error: str) -> list[Any]:
        """Something broke: the effects that put up a worded 'please ask staff' screen (or nothing when idle)."""

    def deadline(self) -> float | None:
        """When (monotonic seconds) the current state ends on its own; None only in the idle state."""
