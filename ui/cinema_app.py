"""Glue between the cinema terminal (plain Python, its own threads) and the cinema window (GUI thread).

The terminal's callbacks arrive on its threads; a :class:`Bridge` re-emits them as Qt signals,
which Qt queues to the GUI thread, where the window is updated (as :mod:`ui.hall_app` does).
The window's buttons reach the running terminal through :class:`TerminalDoor`, which exists
before the terminal does (the terminal needs the window's language at start).
"""

from __future__ import annotations

from typing import Any

from kiosk.cinema.setup import CinemaApp, open_cinema
from kiosk.config import TerminalConfig
from kiosk.status import ComponentStatus, check_terminal
from ui.cinema import CinemaWindow
from ui.qt import QObject, Signal


class Bridge(QObject):
    """Carries the terminal's callbacks to the GUI thread."""

    show = Signal(object)
    say = Signal(str, object)


class TerminalDoor:
    """The window's way to the terminal: every call is dropped until the terminal runs."""

    def __init__(self) -> None:
        """No terminal yet."""
        self.app: CinemaApp | None = None

    def ui(self, command: str) -> None:
        """A button (``screening:<id>``, ``reprint``, ``dismiss``, ``extend``, ``help``, ``repeat``, ``entry:<id>``…)."""
        if self.app is not None:
            self.app.terminal.ui(command)

    def scan(self, text: str) -> None:
        """A ticket QR from the door's scanner."""
        if self.app is not None:
            self.app.terminal.scan(text)


class CinemaUi:
    """The cinema window driven by a running :class:`~kiosk.cinema.setup.CinemaApp`."""

    def __init__(self, config: TerminalConfig, **open_kwargs: Any) -> None:
        """Open the window, then the terminal (store, card reader, printer, sync) speaking in the window's language."""
        self.bridge = Bridge()
        self.door = TerminalDoor()
        self.app: CinemaApp | None = None
        self.window = CinemaWindow(config, self.door, checker=self._check)
        self.bridge.show.connect(self.window.apply)
        self.bridge.say.connect(self.window.caption)
        self.app = open_cinema(config, language=lambda: self.window.language, on_show=self.bridge.show.emit,
                               on_say=self.bridge.say.emit, **open_kwargs)
        self.door.app = self.app
        self.window.speaker_volume_changed = self._volume
        self._volume(self.window.volume)

    def _check(self, config: TerminalConfig) -> list[ComponentStatus]:
        """Devices as the terminal's supervisor sees them; the network entry from the sync client, when it runs."""
        base = self.app.base if self.app is not None else None
        statuses = check_terminal(config, base.health if base is not None else None)
        sync = base.sync if base is not None else None
        if sync is None:
            return statuses
        state = sync.status()
        return [ComponentStatus("central", state.up, "ok" if state.up else state.state, state.text)
                if s.key == "central" else s for s in statuses]

    def _volume(self, volume: int) -> None:
        if self.app is not None and self.app.base.speaker is not None:
            self.app.base.speaker.volume = volume

    def close(self) -> None:
        """Close the window and stop the terminal."""
        self.window.close()
        if self.app is not None:
            self.app.close()
