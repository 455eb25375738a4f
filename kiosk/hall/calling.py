"""Which waiting ticket a counter calls next: pure rules, no I/O, no clock of their own.

Two rules (DESIGN §5 item 6), chosen in config:

* ``strict``: every waiting priority ticket (veteran, special care, disabled, 80+) goes before
  every normal one; within a kind, the earliest issue time goes first.
* ``ratio`` N:M: calls alternate in runs of N priority then M normal tickets (2:1 gives
  P P N P P N …).  The run is read from the recent "next" call history, so the ratio holds across
  counters and restarts.  When the kind whose turn it is has nobody waiting, the other kind is
  called (a counter never idles while someone waits).

Both rules take an optional ``max_wait_min``.  Once any waiting ticket has waited that long, the
ticket waiting longest of all (earliest original issue time) goes first, whatever its kind.  For a
normal ticket behind a stream of priority tickets that is "after max_wait the longest-waiting
normal ticket goes first"; it also means that when the hall is so overloaded that every ticket is
overdue, calling degrades to first-come-first-served rather than letting the overdue normal tickets
starve the priority ones in turn.  A ticket therefore waits at most ``max_wait`` plus one call per
ticket that was already waiting ahead of it when it was issued.

Transferred tickets keep their original issue time, so they keep their place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from .errors import HallConfigError

Mode = Literal["strict", "ratio"]
#: Why a ticket was picked: ``max_wait`` (someone waited too long), ``strict`` (priority first, or
#: normal when no priority waits), ``ratio`` (its kind's turn), ``only_kind`` (the kind whose turn
#: it was had nobody waiting).
Reason = Literal["max_wait", "strict", "ratio", "only_kind"]


@dataclass(frozen=True)
class Waiting:
    """A waiting ticket as the rules see it."""

    ticket_id: int
    priority: bool
    issued_at: datetime  # original issue time (aware); kept across transfers

    @property
    def order(self) -> tuple[datetime, int]:
        """Queue order: earliest issue time first, then the lower ticket id."""
        return (self.issued_at, self.ticket_id)


@dataclass(frozen=True)
class CallingRule:
    """The configured calling rule of the hall."""

    mode: Mode = "strict"
    priority_n: int = 2  # ratio: priority calls per cycle
    normal_m: int = 1  # ratio: normal calls per cycle
    max_wait_min: float | None = None  # minutes after which the longest-waiting ticket goes first

    def __post_init__(self) -> None:
        if self.mode not in ("strict", "ratio"):
            raise HallConfigError(f"calling.mode: {self.mode!r} is not 'strict' or 'ratio'")
        for name in ("priority_n", "normal_m"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20:
                raise HallConfigError(f"calling.{name}: {value!r} is not a whole number from 1 to 20")
        wait = self.max_wait_min
        if wait is not None and (isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 < wait <= 600):
            raise HallConfigError(f"calling.max_wait_min: {wait!r} is not a number of minutes from 0 to 600")

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> CallingRule:
        """Build from a config table: ``{"mode": "ratio", "priority_n": 2, "normal_m": 1, "max_wait_min": 30}``."""
        unknown = sorted(set(data) - {"mode", "priority_n", "normal_m", "max_wait_min"})
        if unknown:
            raise HallConfigError(f"calling.{unknown[0]}: unknown key (allowed: mode, priority_n, normal_m, max_wait_min)")
        return cls(**data)

    @property
    def history_length(self) -> int:
        """How many recent "next" calls :func:`pick_next` needs to see."""
        return max(self.priority_n, self.normal_m)

    def describe(self) -> str:
        """One line for logs and the counter console, e.g. ``ratio 2:1, max wait 30 min``."""
        text = "strict priority" if self.mode == "strict" else f"ratio {self.priority_n}:{self.normal_m}"
        return text + (f", max wait {self.max_wait_min:g} min" if self.max_wait_min is not None else "")


@dataclass(frozen=True)
class Choice:
    """The ticket to call and why."""

    ticket: Waiting
    reason: Reason


def _oldest(tickets: Sequence[Waiting]) -> Waiting:
    return min(tickets, key=lambda t: t.order)


def ratio_turn(history: Sequence[bool], rule: CallingRule) -> bool:
    """Whose turn it is under the ratio rule: True for priority.

    ``history`` holds the priority flags of the recent "next" calls, oldest first.  The trailing run
    of equal flags decides: after fewer than N priority calls in a row another priority call, after
    N a normal one; after fewer than M normal calls another normal, after M a priority one.  An
    empty history starts with priority.
    """
    if not history:
        return True
    last = history[-1]
    run = 0
    for flag in reversed(history):
        if flag != last:
            break
        run += 1
    limit = rule.priority_n if last else rule.normal_m
    return last if run < limit else not last


def pick_next(waiting: Sequence[Waiting], history: Sequence[bool], rule: CallingRule, now: datetime) -> Choice | None:
    """The ticket a counter should call now, or None when nobody waits.

    ``waiting``: the waiting tickets of the services the counter serves, any order.
    ``history``: priority flags of the recent "next" calls over the same services, oldest first
    (recalls and calls of a specific number are not part of it).  ``now``: aware datetime.
    """
    if not waiting:
        return None
    if rule.max_wait_min is not None:
        limit = timedelta(minutes=rule.max_wait_min)
        if any(now - t.issued_at >= limit for t in waiting):
            return Choice(_oldest(waiting), "max_wait")
    priority = [t for t in waiting if t.priority]
    normal = [t for t in waiting if not t.priority]
    if rule.mode == "strict":
        return Choice(_oldest(priority or normal), "strict")
    want_priority = ratio_turn(history, rule)
    wanted, other = (priority, normal) if want_priority else (normal, priority)
    if wanted:
        return Choice(_oldest(wanted), "ratio")
    return Choice(_oldest(other), "only_kind")


def people_ahead(priority: bool, priority_older: int, normal_older: int, rule: CallingRule) -> int:
    """Estimated tickets called before a waiting ticket if nobody else arrived.

    ``priority_older`` / ``normal_older``: waiting tickets of each kind issued before it in its
    service.  A normal ticket waits for every older ticket (later priority tickets may still pass
    it, so this is a lower bound); a priority ticket under ``strict`` only for the older priority
    ones, under ``ratio`` also for the M normal tickets interleaved after each N priority calls.
    """
    if not priority:
        return priority_older + normal_older
    if rule.mode == "strict":
        return priority_older
    return priority_older + min(normal_older, (priority_older // rule.priority_n) * rule.normal_m)
