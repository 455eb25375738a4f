"""What every resident-facing flow shares: screens, speech, staff alerts, and time on the resident's terms.

DESIGN §8: every timed screen says how long it stays, warns aloud ``warning_s`` before it goes, and
offers more time ("继续", :class:`MoreTime`; "再听一遍" also gives the full time again); "呼叫工作人员"
(:class:`HelpRequested`) alerts staff once per ``help_repeat_s`` and keeps the screen.  A role's pure
flow keeps one :class:`ScreenClock` and asks it for these effects; the hall's check-in, the canteen
and the cinema do, so the rules are written once.

The effects (:class:`Show`, :class:`Say`, :class:`Alert`) and the resident's events
(:class:`MoreTime`, :class:`HelpRequested`, :class:`Dismissed`) are plain data; the UI picks every
word from ``kiosk.prompts``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HELP_REPEAT_S = 30.0  # a second press of "呼叫工作人员" within this many seconds raises no second alert
WARNING_S = 10.0  # a resident's screen warns aloud this many seconds before it goes


@dataclass(frozen=True)
class Show:
    """Put a screen up: ``screen`` names it, ``data`` fills it (all words are chosen by the UI)."""

    screen: str
    data: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Say:
    """Speak a prompt (the UI also shows it in words)."""

    key: str  # prompt key in kiosk.prompts
    params: dict[str, object] = field(default_factory=dict)
    repeat: int = 1


@dataclass(frozen=True)
class Alert:
    """Tell staff; ``identity``: the resident concerned, if any (a role's identity object)."""

    kind: str
    detail: dict[str, object] = field(default_factory=dict)
    identity: Any = None


@dataclass(frozen=True)
class HelpRequested:
    """The resident pressed "呼叫工作人员" on a resident screen."""


@dataclass(frozen=True)
class MoreTime:
    """The resident asked for more time on the current screen."""


@dataclass(frozen=True)
class Dismissed:
    """The resident pressed 'done' / 'cancel', or the screen timed out."""


class ScreenClock:
    """The timing of one resident screen at a time: its start, its warning, more time and help.

    ``limit()`` (the flow's) gives the current state's time in seconds, or None for an untimed state.
    """

    def __init__(self, limit: Callable[[], float | None], warning_s: float = WARNING_S,
                 help_repeat_s: float = HELP_REPEAT_S) -> None:
        """``limit`` is read whenever the clock needs the current screen's time."""
        self.limit = limit
        self.warning_s = warning_s
        self.help_repeat_s = help_repeat_s
        self.now = 0.0
        self.since = 0.0
        self.warned = False
        self.shown = Show("idle")
        self._help_at = float("-inf")

    def restart(self) -> None:
        """A new state (or more time): its clock starts now and it has not warned yet."""
        self.since = self.now
        self.warned = False

    def deadline(self) -> float | None:
        """When the current state ends on its own, or None."""
        limit = self.limit()
        return None if limit is None else self.since + limit

    def age(self) -> float:
        """Seconds the current state has lasted."""
        return self.now - self.since

    def expired(self) -> bool:
        """The current state's time is over."""
        limit = self.limit()
        return limit is not None and self.age() > limit

    def show(self, screen: str, data: dict[str, object], timed: bool = True) -> Show:
        """A Show; a timed resident screen carries ``stays_s`` and is kept to show again."""
        limit = self.limit() if timed else None
        result = Show(screen, {**data, "stays_s": limit} if limit is not None else dict(data))
        if limit is not None:
            self.shown = result
        return result

    def warning(self) -> list[Any]:
        """The spoken warning with the screen shown again, once, ``warning_s`` before the end; else nothing."""
        limit = self.limit()
        if limit is None or self.warned or self.age() <= limit - self.warning_s:
            return []
        self.warned = True
        shown = self.shown
        return [Show(shown.screen, {**shown.data, "warning": True, "stays_s": max(0.0, limit - self.age())}),
                Say("timeout_warning", {"seconds": round(self.warning_s)})]

    def extend(self) -> list[Any]:
        """The full time again, with the kept screen shown afresh (no warning mark)."""
        self.restart()
        shown = self.shown
        return [Show(shown.screen, {**{k: v for k, v in shown.data.items() if k != "warning"},
                                    "stays_s": self.limit()})]

    def help_is_new(self) -> bool:
        """True for a press that should alert staff; False for a repeat within ``help_repeat_s``."""
        if self.now - self._help_at < self.help_repeat_s:
            return False
        self._help_at = self.now
        return True


class CardTapFlow(ABC):
    """What a card-tap flow (the canteen's, the cinema's) shares around its :class:`ScreenClock`.

    A subclass sets :attr:`resident_screens` (the states a resident reads: timed, warned, extendable)
    and :attr:`working_state` (the state waiting on the store: a late answer there is still shown after
    the "ask staff" screen), and gives ``_limit()`` (the current state's time).  Taps are numbered so
    an answer is matched to its own tap.
    """

    resident_screens: frozenset[str] = frozenset()
    working_state = ""

    def __init__(self, warning_s: float = WARNING_S) -> None:
        """Start idle with no tap yet."""
        self.state = "idle"
        self.taps = 0
        self.abandoned_tap = 0  # a tap whose answer timed out: its late answer is still shown
        self.clock = ScreenClock(self._limit, warning_s)

    @abstractmethod
    def _limit(self) -> float | None:
        """The current state's time in seconds, or None for an untimed state (the subclass's table)."""

    @property
    def now(self) -> float:
        """The flow's time: the last Tick's."""
        return self.clock.now

    def deadline(self) -> float | None:
        """When the current state ends on its own (monotonic seconds); None when it does not."""
        return self.clock.deadline()

    def _enter(self, state: str) -> None:
        self.state = state
        self.clock.restart()

    def _show(self, screen: str, data: dict[str, Any]) -> Show:
        return self.clock.show(screen, data, timed=self.state in self.resident_screens)

    def _late(self, tap: int) -> bool:
        """An answer for the tap that timed out into the "ask staff" screen (it is still shown)."""
        return self.state == "error" and tap == self.abandoned_tap

    def _ask_staff(self, kind: str, detail: dict[str, object]) -> list[Any]:
        """The spoken, worded "please ask staff" screen with a staff alert."""
        self.abandoned_tap = self.taps if self.state == self.working_state else 0
        self._enter("error")
        return [self._show("error", {"reason": "ask_staff"}), Say("ask_staff"), Alert(kind, detail)]

    def _help(self) -> list[Any]:
        """"呼叫工作人员": one alert per half minute; the screen keeps its full time."""
        if not self.clock.help_is_new():
            return [Say("help_called")]
        extend = self.clock.extend() if self.state in self.resident_screens else []
        return [*extend, Say("help_called"), Alert("help", {"screen": self.state})]
