"""Glue between the hall terminal (plain Python, its own threads) and the hall window (GUI thread).

The terminal's callbacks arrive on its threads; a :class:`Bridge` re-emits them as Qt
signals, which Qt queues to the GUI thread, where the window is updated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.config import TerminalConfig
from kiosk.hall.checkin.events import Show
from kiosk.hall.checkin.setup import HallApp, hall_queue_parts, open_hall, read_person_key
from kiosk.status import ComponentStatus, check_terminal
from ui.hall import HallWindow
from ui.qt import QObject, Signal


class Bridge(QObject):
    """Carries the terminal's callbacks to the GUI thread."""

    show = Signal(object)
    say = Signal(str, object)


class HallUi:
    """The hall window driven by a running :class:`~kiosk.hall.checkin.setup.HallApp`."""

    def __init__(self, config: TerminalConfig, observer: Callable[[Show], None] | None = None, **open_kwargs: Any):
        read_person_key(config)  # a missing key stops here, before any window or thread exists
        catalog, _ = hall_queue_parts(config)
        services = [catalog.get(c) for c in catalog.codes]
        self.bridge = Bridge()
        self.app: HallApp | None = None
        self.window = HallWindow(config, services, self._send, checker=self._check)
        self.bridge.show.connect(self.window.apply)
        self.bridge.say.connect(self.window.caption)
        def on_show(show: Show) -> None:
            if observer is not None:
                observer(show)  # on the terminal's thread (the headless demo watches outcomes here)
            self.bridge.show.emit(show)

        self.app = open_hall(config, language=lambda: self.window.language, on_show=on_show,
                             on_say=self.bridge.say.emit, **open_kwargs)
        self.window.speaker_volume_changed = self._volume

    def _check(self, config: TerminalConfig) -> list[ComponentStatus]:
        """Devices as probed; the network entry says what the sync client knows, when it runs."""
        statuses = check_terminal(config, self.app.health if self.app is not None else None)
        sync = self.app.sync if self.app is not None else None
        if sync is None:
            return statuses
        state = sync.status()
        return [ComponentStatus("central", state.up, "ok" if state.up else state.state, state.text)
                if s.key == "central" else s for s in statuses]

    def _send(self, command: str) -> None:
        if self.app is not None:
            self.app.terminal.ui(command)

    def _volume(self, volume: int) -> None:
        if self.app is not None:
            self.app.speaker.volume = volume

    def close(self) -> None:
        """Close the window and stop the terminal."""
        self.window.close()
        if self.app is not None:
            self.app.close()

