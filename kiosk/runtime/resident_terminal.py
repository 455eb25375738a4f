"""The part every resident-facing terminal shares around its flow: screens, voice, "再听一遍", readers, devices.

A role's terminal (the hall's check-in, the canteen reader, the cinema) subclasses
:class:`ResidentTerminal`: it gets a :class:`~kiosk.runtime.TerminalRuntime` around its flow with
:class:`~kiosk.runtime.screens.Show` and :class:`~kiosk.runtime.screens.Say` handled the same way
everywhere — the words go on screen through ``on_say`` even when the voice fails, "再听一遍" cuts
the speech and says the screen's last prompt again with the screen's full time, a screen that
resets for the next resident stops all speech — and card-reader loops whose device faults go to the
device supervisor while a resident's failed read goes to the flow.  The role adds its own effects
(``self.runtime.on(...)``) and its own alert handling (:meth:`raise_alert`).  Nothing here imports Qt.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from drivers.errors import DriverError
from drivers.pcsc_common import CardAuthError
from kiosk.runtime.events import CardFailed, CardPresented, Flow
from kiosk.runtime.loop import TerminalRuntime
from kiosk.runtime.readers import CardLoop, CardLoopCallbacks
from kiosk.runtime.screens import Alert, HelpRequested, MoreTime, Say, Show

#: Prompts "再听一遍" never repeats: they are about the screen's time or help, not what it shows.
NOT_REPEATED = ("help_called", "timeout_warning")


class ResidentTerminal:
    """A flow on the shared runtime with the resident's screen, voice and readers wired the same for every role."""

    #: What "再听一遍" says when nothing was said yet (the idle screen's prompt).
    idle_prompt = "choose_service"

    def __init__(self, name: str, flow: Flow, speaker: Any, language: Callable[[], str], health: Any = None,
                 on_show: Callable[[Show], None] = lambda s: None,
                 on_say: Callable[[str, dict[str, Any]], None] = lambda k, p: None,
                 on_alert: Callable[[Alert], None] = lambda a: None) -> None:
        """``speaker``: a :class:`kiosk.voice.Speaker`; ``language()``: the resident's language now."""
        self.flow = flow
        self.speaker = speaker
        self.language = language
        self.health = health
        self.on_show = on_show
        self.on_say = on_say
        self.on_alert = on_alert
        self.runtime = TerminalRuntime(name, flow)
        self.last_say: Say | None = None  # what "再听一遍" says again
        self.runtime.on(Show, self._show)
        self.runtime.on(Say, self._say)
        self.runtime.on(Alert, self.raise_alert)

    @property
    def errors(self) -> list[str]:
        """Recent failures of effects and handlers, one line each (diagnostics and reports)."""
        return self.runtime.errors

    def submit(self, event: Any) -> None:
        """Feed an event to the flow (any thread)."""
        self.runtime.submit(event)

    def repeat(self) -> None:
        """"再听一遍": the last prompt again, and the screen's full time."""
        self.runtime.call_soon(self._say_again)
        self.submit(MoreTime())

    def common_ui_event(self, command: str) -> Any:
        """The buttons every resident screen has: ``extend`` ("继续") and ``help`` ("呼叫工作人员")."""
        return {"extend": MoreTime(), "help": HelpRequested()}.get(command)

    def device_changed(self, health: Any) -> None:
        """The device supervisor saw a device go down or come back: one alert, no change on screen."""
        kind = "device_up" if health.up else "device_down"
        self.runtime.call_soon(lambda: self.raise_alert(Alert(kind, {
            "device": health.name, "reason": health.reason, "words": health.words_zh})))

    def raise_alert(self, alert: Alert) -> None:
        """Tell staff (the role decides where alerts go); by default only ``on_alert``."""
        self.on_alert(alert)

    # -- screens and voice ------------------------------------------------------------------
    def _show(self, e: Show) -> None:
        if e.data.get("reset"):
            self.last_say = None
            self.speaker.cancel()  # the resident has gone: nothing more is said to them
        self.on_show(e)

    def _say_again(self) -> None:
        self.speaker.cancel()
        self._say(self.last_say or Say(self.idle_prompt))

    def _say(self, e: Say) -> None:
        if e.key not in NOT_REPEATED:
            self.last_say = e
        self.on_say(e.key, e.params)  # the words go on screen even when the voice fails
        lang = self.language()
        for _ in range(max(1, e.repeat)):
            self.speaker.say_prompt(e.key, lang, e.params)

    # -- readers -----------------------------------------------------------------------------
    def start_card_loops(self, readers: dict[str, Any], on_read: Callable[[str, Any], None],
                         on_failed: Callable[[str, DriverError], None]) -> None:
        """One loop per configured card reader: readings and a resident's failed reads to the role, faults to health."""
        callbacks = CardLoopCallbacks(on_read, on_failed, self._device_fault, self._device_ok)
        for name, reader in readers.items():
            if reader is not None:
                self.runtime.spawn(CardLoop(name, reader, callbacks, self.runtime.stopping).run, name)

    def start_community_card_loop(self, reader: Any) -> None:
        """The community-card reader's loop: an authenticated tap → :class:`CardPresented` timed from when the
        reader saw the card; a clone or a card pulled mid-read → :class:`CardFailed` the resident is told about."""

        def read(name: str, tap: Any) -> None:
            detected = getattr(reader, "detected_at", 0.0)
            self.submit(CardPresented(tap.uid, detected if detected > 0 else time.monotonic()))

        def failed(name: str, exc: DriverError) -> None:
            self.submit(CardFailed("not_genuine" if isinstance(exc, CardAuthError) else "read_failed"))

        self.start_card_loops({"ccard": reader}, read, failed)

    def alert_to_central(self, store: Any, terminal_id: str, alert: Alert) -> None:
        """Tell staff through ``on_alert`` and the central through an ``alert.raised`` event (plain fields, no names)."""
        self.on_alert(alert)
        detail = {k: v for k, v in alert.detail.items() if isinstance(v, str | int | float | bool) and k != "words"}
        with store.action() as act:
            act.emit("alert.raised", {"kind": alert.kind, "terminal": terminal_id,
                                      "source": str(alert.detail.get("device") or terminal_id), **detail})

    def _device_fault(self, name: str, exc: DriverError) -> None:
        """The reader itself failed while looking for a card: the supervisor's business, not the resident's."""
        if self.health is not None:
            self.health.observe_failure(name, exc)

    def _device_ok(self, name: str) -> None:
        if self.health is not None:
            self.health.observe_ok(name)
