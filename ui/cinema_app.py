"""Glue between the cinema terminal and the cinema window (on :mod:`ui.terminal_app`, as every role with its own terminal)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.cinema.setup import open_cinema
from kiosk.config import TerminalConfig
from kiosk.runtime.screens import Show
from ui.cinema import CinemaWindow
from ui.terminal_app import Bridge, TerminalDoor, TerminalUi

__all__ = ["Bridge", "CinemaDoor", "CinemaUi"]


class CinemaDoor(TerminalDoor):
    """The cinema window's way to its terminal: buttons and the door's ticket scanner."""

    def scan(self, text: str) -> None:
        """A ticket QR from the door's scanner."""
        if self.app is not None:
            self.app.terminal.scan(text)


class CinemaUi(TerminalUi):
    """The cinema window driven by a running :class:`~kiosk.cinema.setup.CinemaApp`."""

    def __init__(self, config: TerminalConfig, observer: Callable[[Show], None] | None = None,
                 **open_kwargs: Any) -> None:
        """Open the window, then the terminal (store, card reader, printer, sync) speaking in the window's language."""
        super().__init__(config, CinemaWindow, open_cinema, CinemaDoor(), observer, **open_kwargs)
