"""Glue between the canteen terminal (plain Python, its own threads) and the canteen window (GUI thread).

The terminal's callbacks arrive on its threads; a :class:`Bridge` re-emits them as Qt signals,
which Qt queues to the GUI thread, where the window is updated (as :mod:`ui.hall_app` does).
The window's buttons reach the running terminal through :class:`TerminalDoor`, which exists
before the terminal does (the terminal needs the window's language at start).
"""

from __future__ import annotations

from typing import Any

from kiosk.canteen.setup import CanteenApp, open_canteen
from kiosk.config import TerminalConfig
from kiosk.status import ComponentStatus, check_terminal
from ui.canteen import CanteenWindow
from ui.qt import QObject, Signal


class Bridge(QObject):
    """Carries the terminal's callbacks to the GUI thread."""

    show = Signal(object)
    say = Signal(str, object)


class TerminalDoor:
    """The window's way to the terminal: every call is dropped until the terminal runs."""

    def __init__(self) -> None:
        """No terminal yet."""
        self.app: CanteenApp | None = None

    def ui(self, command: str) -> None:
        """A resident's button (``meal:<id>``, ``receipt``, ``dismiss``, ``extend``, ``help``, ``repeat``)."""
        if self.app is not None:
            self.app.terminal.ui(command)

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


class CanteenUi:
    """The canteen window driven by a running :class:`~kiosk.canteen.setup.CanteenApp`."""

    def __init__(self, config: TerminalConfig, **open_kwargs: Any) -> None:
        """Open the window, then the terminal (store, card reader, sync) speaking in the window's language."""
        self.bridge = Bridge()
        self.door = TerminalDoor()
        self.app: CanteenApp | None = None
        self.window = CanteenWindow(config, self.door, checker=self._check)
        self.bridge.show.connect(self.window.apply)
        self.bridge.say.connect(self.window.caption)
        self.app = open_canteen(config, language=lambda: self.window.language, on_show=self.bridge.show.emit,
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
