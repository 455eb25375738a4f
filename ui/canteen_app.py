"""Glue between the canteen terminal and the canteen window (on :mod:`ui.terminal_app`, as every role with its own terminal)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.canteen.setup import open_canteen
from kiosk.config import TerminalConfig
from kiosk.runtime.screens import Show
from ui.canteen import CanteenWindow
from ui.terminal_app import Bridge, TerminalDoor, TerminalUi

__all__ = ["Bridge", "CanteenDoor", "CanteenUi"]


class CanteenDoor(TerminalDoor):
    """The canteen window's way to its terminal: resident buttons, the clerk's basket, voids, recent payments."""

    def basket(self, quantities: dict[str, int]) -> None:
        """The clerk's basket."""
        if self.app is not None:
            self.app.terminal.basket(quantities)

    def void(self, entry_id: str, reason: str, staff: str) -> None:
        """The clerk voids a payment."""
        if self.app is not None:
            self.app.terminal.void(entry_id, reason, staff)

    def recent_payments(self, limit: int = 10) -> list[dict[str, Any]]:
        """Today's last payments of this reader (none before the terminal runs)."""
        return self.app.terminal.recent_payments(limit) if self.app is not None else []


class CanteenUi(TerminalUi):
    """The canteen window driven by a running :class:`~kiosk.canteen.setup.CanteenApp`."""

    def __init__(self, config: TerminalConfig, observer: Callable[[Show], None] | None = None,
                 **open_kwargs: Any) -> None:
        """Open the window, then the terminal (store, card reader, sync) speaking in the window's language."""
        super().__init__(config, CanteenWindow, open_canteen, CanteenDoor(), observer, **open_kwargs)
