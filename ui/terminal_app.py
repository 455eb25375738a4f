"""Glue every role window with its own terminal shares: callbacks to the GUI thread, a door, status, volume.

A role terminal (plain Python, its own threads) calls ``on_show``/``on_say`` from its threads; a
:class:`Bridge` re-emits them as Qt signals, which Qt queues to the GUI thread, where the window is
updated.  The window's buttons reach the running terminal through a :class:`TerminalDoor`, which
exists before the terminal does (the terminal needs the window's language at start) and drops every
call until it runs.  :class:`TerminalUi` opens the window, then the terminal, and closes both; the
canteen's and the cinema's glue (:mod:`ui.canteen_app`, :mod:`ui.cinema_app`) are a few lines on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kiosk.config import TerminalConfig
from kiosk.runtime.screens import Show
from kiosk.status import ComponentStatus, check_terminal
from ui.qt import QObject, Signal


class Bridge(QObject):
    """Carries the terminal's callbacks to the GUI thread."""

    show = Signal(object)
    say = Signal(str, object)


class TerminalDoor:
    """The window's way to the terminal: every call is dropped until the terminal runs."""

    def __init__(self) -> None:
        """No terminal yet."""
        self.app: Any = None

    def ui(self, command: str) -> None:
        """A button on the screen, as the role's terminal names them."""
        if self.app is not None:
            self.app.terminal.ui(command)


class TerminalUi:
    """A role's window driven by its running terminal app (``opener(config, language=, on_show=, on_say=, ...)``)."""

    def __init__(self, config: TerminalConfig, window: Callable[..., Any], opener: Callable[..., Any],
                 door: TerminalDoor, observer: Callable[[Show], None] | None = None, **open_kwargs: Any) -> None:
        """Open ``window(config, door, checker=...)``, then the terminal speaking in the window's language.

        ``observer`` sees every screen on the terminal's thread (the headless demos watch outcomes there).
        """
        self.bridge = Bridge()
        self.door = door
        self.app: Any = None
        self.window = window(config, door, checker=self._check)
        self.bridge.show.connect(self.window.apply)
        self.bridge.say.connect(self.window.caption)

        def on_show(show: Show) -> None:
            if observer is not None:
                observer(show)
            self.bridge.show.emit(show)

        self.app = opener(config, language=lambda: self.window.language, on_show=on_show,
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

    def window_screen(self) -> str:
        """The screen the window shows now (``refused-<code>`` for a refusal), for screenshots."""
        show = self.window._last_show
        return f"refused-{show.data.get('code')}" if show.screen == "refused" else show.screen

    def close(self) -> None:
        """Close the window and stop the terminal."""
        self.window.close()
        if self.app is not None:
            self.app.close()
